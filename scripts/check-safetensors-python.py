#!/usr/bin/env python3
"""Interop check of src/io/safetensors against the Python `safetensors` library (reference only; the test
suite does not need Python).

    npm run build && pip install safetensors numpy && python3 scripts/check-safetensors-python.py

1. Node writes F32/F16/I32/I64/U8/BOOL tensors + metadata; Python's safetensors.numpy loads them and compares
   with numpy (F16 rounding compared with numpy's float32 -> float16 cast).
2. Node writes BF16; checked against round-to-nearest-even computed here in float64.
3. Python writes a file; Node reads every tensor; values compared.
4. The same tensors written by both are byte-identical.
Prints PASS or the failures, exit code 0 / 1.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

np.seterr(all="ignore")  # overflow to inf in the float16 cast is intended
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "dist", "src", "io", "safetensors.js")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def node(script, *args):
    """Runs an ES module snippet with the compiled library imported as `st`."""
    code = f"import * as st from {json.dumps('file://' + LIB)};\nconst args = {json.dumps(list(args))};\n{script}"
    out = subprocess.run(["node", "--input-type=module", "-e", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"node failed:\n{out.stderr}")
    return out.stdout


if not os.path.exists(LIB):
    sys.exit(f"{LIB} not found: run `npm run build` first")

rng = np.random.default_rng(0)
edge = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 65519.0, 65520.0, 1e6, -1e6, 2**-24, 2**-25, 3 * 2**-25, 2**-14,
                 1 + 2**-11, 1 + 3 * 2**-11, np.inf, -np.inf, 1e-8, 0.1, 3.14159], dtype=np.float32)
rand = (rng.standard_normal(5000) * np.exp2(rng.integers(-30, 18, 5000))).astype(np.float32)
f32 = np.concatenate([edge, rand]).astype(np.float32)
tensors = {
    "f32": f32.reshape(-1),
    "w.f16": f32.copy(),
    "ids.i32": rng.integers(-2**31, 2**31 - 1, size=(3, 7), dtype=np.int32),
    "ids.i64": rng.integers(-2**40, 2**40, size=(11,), dtype=np.int64),
    "bytes.u8": rng.integers(0, 256, size=(2, 2, 3), dtype=np.uint8),
    "mask": rng.integers(0, 2, size=(9,)).astype(np.bool_),
    "empty": np.zeros((0, 3), dtype=np.float32),
}

with tempfile.TemporaryDirectory() as tmp:
    spec = os.path.join(tmp, "spec.json")
    with open(spec, "w") as f:
        json.dump({
            "f32": [float(x) if np.isfinite(x) else ("Infinity" if x > 0 else "-Infinity") for x in tensors["f32"]],
            "i32": tensors["ids.i32"].reshape(-1).tolist(),
            "i64": [str(x) for x in tensors["ids.i64"]],
            "u8": tensors["bytes.u8"].reshape(-1).tolist(),
            "mask": tensors["mask"].astype(int).tolist(),
        }, f)
    node_file = os.path.join(tmp, "from_node.safetensors")
    bf16_file = os.path.join(tmp, "bf16_from_node.safetensors")
    node("""
import { readFileSync } from 'node:fs';
const s = JSON.parse(readFileSync(args[0], 'utf8'));
const f32 = Float32Array.from(s.f32, (x) => (typeof x === 'string' ? Number(x) : x));
st.writeSafetensors(args[1], {
  'f32': { dtype: 'F32', shape: [f32.length], data: f32 },
  'w.f16': { dtype: 'F16', shape: [f32.length], data: f32 },
  'ids.i32': { dtype: 'I32', shape: [3, 7], data: Int32Array.from(s.i32) },
  'ids.i64': { dtype: 'I64', shape: [11], data: BigInt64Array.from(s.i64, BigInt) },
  'bytes.u8': { dtype: 'U8', shape: [2, 2, 3], data: Uint8Array.from(s.u8) },
  'mask': { dtype: 'BOOL', shape: [9], data: Uint8Array.from(s.mask) },
  'empty': { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
}, { format: 'pt', note: 'written by loraroute' });
st.writeSafetensors(args[2], { 'b': { dtype: 'BF16', shape: [f32.length], data: f32 } });
""", spec, node_file, bf16_file)

    # 1. Python reads what Node wrote.
    got = load_file(node_file)
    check(sorted(got) == sorted(tensors), "names: " + ", ".join(sorted(got)))
    check(np.array_equal(got["f32"], tensors["f32"]), "F32 values identical")
    want16 = tensors["w.f16"].astype(np.float16)
    check(got["w.f16"].dtype == np.float16 and np.array_equal(got["w.f16"].view(np.uint16), want16.view(np.uint16)),
          f"F16 bits identical to numpy's float32->float16 cast ({len(want16)} values incl. subnormals, ties, overflow)")
    check(np.array_equal(got["ids.i32"], tensors["ids.i32"]) and got["ids.i32"].shape == (3, 7), "I32 values and shape")
    check(np.array_equal(got["ids.i64"], tensors["ids.i64"]), "I64 values")
    check(np.array_equal(got["bytes.u8"], tensors["bytes.u8"]) and got["bytes.u8"].shape == (2, 2, 3), "U8 values and shape")
    check(got["mask"].dtype == np.bool_ and np.array_equal(got["mask"], tensors["mask"]), "BOOL values")
    check(got["empty"].shape == (0, 3), "empty tensor shape")
    with safe_open(node_file, framework="numpy") as f:
        check(f.metadata() == {"format": "pt", "note": "written by loraroute"}, f"metadata {f.metadata()}")

    # 2. BF16: parse by hand (numpy has no bfloat16) and compare with round-to-nearest-even done in float64.
    with open(bf16_file, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    check(n % 8 == 0 and header["__metadata__"] == {"format": "pt"}, "BF16 file header padded, format pt")
    b0, b1 = header["b"]["data_offsets"]
    bits = np.frombuffer(raw[8 + n + b0:8 + n + b1], dtype="<u2").astype(np.uint32)
    bits32 = tensors["f32"].view(np.uint32)
    lo = bits32 & 0xFFFF0000
    down = lo.view(np.float32).astype(np.float64)
    up_bits = (lo.astype(np.uint64) + 0x10000).astype(np.uint32)
    up = up_bits.view(np.float32).astype(np.float64)
    up = np.where(np.isinf(up) & np.isfinite(tensors["f32"]), np.sign(tensors["f32"]) * 2.0**128, up)
    x = tensors["f32"].astype(np.float64)
    dl, du = np.abs(x - down), np.abs(up - x)
    pick_up = (du < dl) | ((du == dl) & (((lo >> 16) & 1) == 1))
    want_bf = np.where(pick_up, up_bits >> 16, lo >> 16).astype(np.uint32)
    finite = np.isfinite(tensors["f32"])
    check(np.array_equal(bits[finite], want_bf[finite]), "BF16 bits equal round-to-nearest-even (float64 reference)")
    check(np.array_equal(bits[~finite], (bits32[~finite] >> 16)), "BF16 of +-inf")

    # 3. Node reads what Python wrote.
    py_file = os.path.join(tmp, "from_python.safetensors")
    save_file({
        "a.f16": tensors["w.f16"].astype(np.float16),
        "b.f64": np.array([1 / 3, -2.5e-7], dtype=np.float64),
        "c.i64": np.array([0, -2**31, 2**31 - 1], dtype=np.int64),
        "big.i64": np.array([2**31], dtype=np.int64),
        "d.u8": tensors["bytes.u8"],
        "e.f32": tensors["f32"][:50].reshape(5, 10),
    }, py_file, metadata={"k": "v"})
    out = json.loads(node("""
const f = st.openSafetensors(args[0]);
const num = (a) => Array.from(a, (x) => (Number.isFinite(x) ? x : String(x)));
console.log(JSON.stringify({
  names: f.names(), metadata: f.metadata, shape: f.info('e.f32').shape,
  f16: num(f.getF32('a.f16')), f64: num(f.getF32('b.f64')), i64: Array.from(f.getI32('c.i64')),
  u8: Array.from(f.getI32('d.u8')), f32: num(f.getF32('e.f32')),
  big: (() => { try { f.getI32('big.i64'); return 'no error'; } catch (e) { return e.message; } })(),
}));
""", py_file))
    tofloat = lambda xs: np.array([float(v) for v in xs], dtype=np.float64)
    check(out["names"] == ["a.f16", "b.f64", "big.i64", "c.i64", "d.u8", "e.f32"] and out["metadata"] == {"k": "v"}, "Node sees names and metadata")
    check(np.array_equal(tofloat(out["f16"]), tensors["w.f16"].astype(np.float16).astype(np.float64)), "Node widens Python's F16 exactly")
    check(np.array_equal(tofloat(out["f64"]), np.array([1 / 3, -2.5e-7]).astype(np.float32).astype(np.float64)), "Node narrows F64 to f32")
    check(out["i64"] == [0, -2**31, 2**31 - 1], "I64 narrowed to int32 at the range limits")
    check("'big.i64' (I64) element 0 = 2147483648 does not fit in int32" in out["big"], "I64 out of int32 range is refused")
    check(out["u8"] == tensors["bytes.u8"].reshape(-1).tolist(), "U8 widened")
    check(out["shape"] == [5, 10] and np.array_equal(tofloat(out["f32"]), tensors["f32"][:50].astype(np.float64)), "F32 values and shape")

    # 4. Byte-identical files for the same tensors.
    same = {"z": np.arange(6, dtype=np.float32).reshape(2, 3), "a": np.array([1, 2], dtype=np.int64),
            "h": np.array([0.5, -1], dtype=np.float16), "0": np.array([1, 0], dtype=np.bool_),
            "m": np.array([7], dtype=np.int32), "u": np.array([255], dtype=np.uint8)}
    py_same = os.path.join(tmp, "same_py.safetensors")
    node_same = os.path.join(tmp, "same_node.safetensors")
    save_file(same, py_same, metadata={"format": "pt"})
    node("""
st.writeSafetensors(args[0], {
  z: { dtype: 'F32', shape: [2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) },
  a: { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, 2n]) },
  h: { dtype: 'F16', shape: [2], data: new Float32Array([0.5, -1]) },
  0: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
  m: { dtype: 'I32', shape: [1], data: new Int32Array([7]) },
  u: { dtype: 'U8', shape: [1], data: new Uint8Array([255]) },
});
""", node_same)
    check(open(py_same, "rb").read() == open(node_same, "rb").read(), "byte-identical to safetensors.numpy.save_file")

import safetensors
print(f"safetensors {safetensors.__version__}, numpy {np.__version__}")
print("PASS" if not failures else f"FAILED: {len(failures)} checks")
sys.exit(1 if failures else 0)
