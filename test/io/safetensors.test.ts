import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  openSafetensors, parseSafetensors, serializeSafetensors, writeSafetensors, type TensorToWrite,
} from '../../src/io/safetensors.js';
import { LoraRouteError } from '../../src/errors.js';
import { rawSafetensors, tempDir } from './helpers.js';

function headerOf(bytes: Uint8Array): { length: number; text: string } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, text: Buffer.from(bytes.subarray(8, 8 + length)).toString('utf8') };
}

test('round trip of every writable dtype through a file', () => {
  const dir = tempDir();
  const p = join(dir, 'all.safetensors');
  const f32 = new Float32Array([1.5, -2.25, 0, 3.4e38, -1e-40, Infinity]);
  const tensors: Record<string, TensorToWrite> = {
    f32: { dtype: 'F32', shape: [2, 3], data: f32 },
    f16: { dtype: 'F16', shape: [4], data: new Float32Array([1, -0.5, 65504, 2 ** -24]) },
    bf16: { dtype: 'BF16', shape: [2, 2], data: new Float32Array([1, -3, 256, 2 ** -130]) },
    i32: { dtype: 'I32', shape: [3], data: new Int32Array([0, -2147483648, 2147483647]) },
    i64: { dtype: 'I64', shape: [3], data: new BigInt64Array([0n, -5n, 2147483647n]) },
    i64from32: { dtype: 'I64', shape: [2], data: new Int32Array([-1, 50256]) },
    u8: { dtype: 'U8', shape: [3], data: new Uint8Array([0, 128, 255]) },
    bool: { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    scalar: { dtype: 'F32', shape: [], data: new Float32Array([7]) },
  };
  writeSafetensors(p, tensors, { note: 'hello' });
  const f = openSafetensors(p);
  assert.deepEqual(f.names(), Object.keys(tensors).sort());
  assert.deepEqual(f.metadata, { format: 'pt', note: 'hello' });
  assert.deepEqual([...f.getF32('f32')], [...f32]);
  assert.deepEqual(f.info('f32'), { dtype: 'F32', shape: [2, 3], byteLength: 24 });
  assert.deepEqual([...f.getF32('f16')], [1, -0.5, 65504, 2 ** -24]);
  assert.deepEqual(f.info('f16'), { dtype: 'F16', shape: [4], byteLength: 8 });
  assert.deepEqual([...f.getF32('bf16')], [1, -3, 256, 2 ** -130]); // bf16 has f32's exponent range
  assert.deepEqual([...f.getI32('i32')], [0, -2147483648, 2147483647]);
  assert.deepEqual([...f.getI32('i64')], [0, -5, 2147483647]);
  assert.deepEqual([...f.getI32('i64from32')], [-1, 50256]);
  assert.equal(f.info('i64').byteLength, 24);
  assert.deepEqual([...f.getI32('u8')], [0, 128, 255]);
  assert.deepEqual([...f.getI32('bool')], [1, 0, 1]);
  assert.deepEqual([...f.getRaw('u8')], [0, 128, 255]);
  assert.equal(f.getF32('empty').length, 0);
  assert.deepEqual(f.info('scalar').shape, []);
  assert.deepEqual([...f.getF32('scalar')], [7]);
  assert.ok(f.has('f16') && !f.has('nope'));
  // Raw bytes written back give the same tensor.
  const again = parseSafetensors(serializeSafetensors({ r: { dtype: 'F16', shape: [4], data: f.getRaw('f16') } }));
  assert.deepEqual([...again.getF32('r')], [1, -0.5, 65504, 2 ** -24]);
});

test('output is byte-identical to Python safetensors (dtype-width then name order, padded header)', () => {
  // Made by: safetensors.numpy.save({...the tensors below...}, metadata={'format': 'pt'}), safetensors 0.8.0.
  const python = Buffer.from(
    'oAEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCJ9LCJjIjp7ImR0eXBlIjoiSTY0Iiwic2hhcGUiOlsxXSwiZGF0YV9vZmZzZXRzIjpbMCw4XX0sImEiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzFdLCJkYXRhX29mZnNldHMiOls4LDEyXX0sImkiOnsiZHR5cGUiOiJJMzIiLCJzaGFwZSI6WzIsMl0sImRhdGFfb2Zmc2V0cyI6WzEyLDI4XX0sImIiOnsiZHR5cGUiOiJGMTYiLCJzaGFwZSI6WzNdLCJkYXRhX29mZnNldHMiOlsyOCwzNF19LCJkIjp7ImR0eXBlIjoiRjE2Iiwic2hhcGUiOlszXSwiZGF0YV9vZmZzZXRzIjpbMzQsNDBdfSwiMCI6eyJkdHlwZSI6IlU4Iiwic2hhcGUiOlsxXSwiZGF0YV9vZmZzZXRzIjpbNDAsNDFdfSwibSI6eyJkdHlwZSI6IkJPT0wiLCJzaGFwZSI6WzJdLCJkYXRhX29mZnNldHMiOls0MSw0M119ffv/////////AABQQAEAAAACAAAAAwAAAPz///8APADAADj/ewCAAHwHAQA=',
    'base64',
  );
  const ours = serializeSafetensors({
    b: { dtype: 'F16', shape: [3], data: new Float32Array([1, -2, 0.5]) },
    a: { dtype: 'F32', shape: [1], data: new Float32Array([3.25]) },
    c: { dtype: 'I64', shape: [1], data: new BigInt64Array([-5n]) },
    0: { dtype: 'U8', shape: [1], data: new Uint8Array([7]) },
    d: { dtype: 'F16', shape: [3], data: new Float32Array([65504, -0, Infinity]) },
    i: { dtype: 'I32', shape: [2, 2], data: new Int32Array([1, 2, 3, -4]) },
    m: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
  });
  assert.equal(Buffer.from(ours).toString('base64'), python.toString('base64'));
  const { length, text } = headerOf(ours);
  assert.equal(length % 8, 0);
  assert.match(text, /^\{"__metadata__":\{"format":"pt"\},"c":/);
});

test('metadata: format pt is always written; user keys kept; a user format wins', () => {
  const t = { x: { dtype: 'F32' as const, shape: [1], data: new Float32Array([1]) } };
  assert.deepEqual(parseSafetensors(serializeSafetensors(t)).metadata, { format: 'pt' });
  assert.deepEqual(parseSafetensors(serializeSafetensors(t, { a: '1', 'ü ': 'ß"\n' })).metadata, { format: 'pt', a: '1', 'ü ': 'ß"\n' });
  assert.deepEqual(parseSafetensors(serializeSafetensors(t, { format: 'np' })).metadata, { format: 'np' });
  // A file without __metadata__ reads as {}.
  const bare = rawSafetensors({ x: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, 1);
  assert.deepEqual(parseSafetensors(bare).metadata, {});
});

test('header padding: every header length is a multiple of 8 and tensors stay aligned', () => {
  for (let n = 1; n <= 12; n++) {
    const name = 'n'.repeat(n);
    const bytes = serializeSafetensors({
      [name]: { dtype: 'F16', shape: [3], data: new Float32Array(3) },
      big: { dtype: 'F32', shape: [5], data: new Float32Array(5) },
    });
    const { length, text } = headerOf(bytes);
    assert.equal(length % 8, 0);
    assert.ok(text.length - text.trimEnd().length < 8 && text.trimEnd().endsWith('}'), 'padded with fewer than 8 spaces');
    const f = parseSafetensors(bytes);
    assert.equal(f.getF32('big').length, 5);
  }
});

test('writing rejects bad input with the tensor named', () => {
  const p = join(tempDir(), 'bad.safetensors');
  assert.throws(() => writeSafetensors(p, { w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }), (e: Error) => e instanceof LoraRouteError && /'w'.*\[2,2\].*4 elements.*3/.test(e.message));
  assert.throws(() => writeSafetensors(p, { w: { dtype: 'I32', shape: [1], data: new Float32Array(1) } }), /'w': I32 cannot be written from a Float32Array/);
  assert.throws(() => writeSafetensors(p, { w: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 2]) } }), /BOOL element 1 is 2/);
  assert.throws(() => writeSafetensors(p, { w: { dtype: 'F64' as 'F32', shape: [1], data: new Float32Array(1) } }), /cannot write dtype 'F64'/);
  assert.throws(() => writeSafetensors(p, { w: { dtype: 'F32', shape: [-1], data: new Float32Array(1) } }), /shape must be non-negative integers/);
  assert.throws(() => writeSafetensors(p, { __metadata__: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }), /invalid tensor name/);
});

test('views into larger buffers are written correctly', () => {
  const backing = new Float32Array([9, 1, 2, 3, 9]);
  const ints = new Int32Array([9, 9, 4, 5]);
  const f = parseSafetensors(serializeSafetensors({
    a: { dtype: 'F32', shape: [3], data: backing.subarray(1, 4) },
    b: { dtype: 'F16', shape: [3], data: backing.subarray(1, 4) },
    c: { dtype: 'I32', shape: [2], data: ints.subarray(2) },
  }));
  assert.deepEqual([...f.getF32('a')], [1, 2, 3]);
  assert.deepEqual([...f.getF32('b')], [1, 2, 3]);
  assert.deepEqual([...f.getI32('c')], [4, 5]);
});

test('getF32 narrows F64; getI32 range-checks I64/U64/U32 and widens small ints', () => {
  const f64 = new Float64Array([1 / 3, -1e300, 2.5]);
  const i64 = new BigInt64Array([1n, -2147483648n]);
  const big = new BigInt64Array([2147483648n]);
  const neg = new BigInt64Array([-2147483649n]);
  const u32 = new Uint32Array([5, 2 ** 31]);
  const i16 = new Int16Array([-300, 300]);
  const raw = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const data = Buffer.concat([raw(f64), raw(i64), raw(big), raw(neg), raw(u32), raw(i16)]);
  let o = 0;
  const at = (n: number): [number, number] => [o, (o += n)];
  const header = {
    f64: { dtype: 'F64', shape: [3], data_offsets: at(24) },
    i64: { dtype: 'I64', shape: [2], data_offsets: at(16) },
    big: { dtype: 'I64', shape: [1], data_offsets: at(8) },
    neg: { dtype: 'I64', shape: [1], data_offsets: at(8) },
    u32: { dtype: 'U32', shape: [2], data_offsets: at(8) },
    i16: { dtype: 'I16', shape: [2], data_offsets: at(4) },
  };
  const f = parseSafetensors(rawSafetensors(header, data), 'mixed.safetensors');
  assert.deepEqual([...f.getF32('f64')], [Math.fround(1 / 3), -Infinity, 2.5]);
  assert.deepEqual([...f.getI32('i64')], [1, -2147483648]);
  assert.throws(() => f.getI32('big'), /mixed\.safetensors: tensor 'big' \(I64\) element 0 = 2147483648 does not fit in int32/);
  assert.throws(() => f.getI32('neg'), /element 0 = -2147483649 does not fit/);
  assert.throws(() => f.getI32('u32'), /'u32' \(U32\) element 1 = 2147483648/);
  assert.deepEqual([...f.getI32('i16')], [-300, 300]);
  assert.throws(() => f.getF32('i64'), /tensor 'i64' has dtype I64; getF32 reads F32, F16, BF16 or F64 \(use getI32/);
  assert.throws(() => f.getI32('f64'), /has dtype F64; getI32 reads integer or BOOL tensors \(use getF32/);
});

test('a missing tensor error names the file and lists similar names', () => {
  const f = parseSafetensors(serializeSafetensors({
    'h.0.attn.c_attn.weight': { dtype: 'F32', shape: [1], data: new Float32Array(1) },
    'h.0.mlp.c_fc.weight': { dtype: 'F32', shape: [1], data: new Float32Array(1) },
    'wte.weight': { dtype: 'F32', shape: [1], data: new Float32Array(1) },
  }), 'model.safetensors');
  for (const call of [() => f.getF32('transformer.h.0.attn.c_attn.weight'), () => f.info('transformer.h.0.attn.c_attn.weight'), () => f.getRaw('transformer.h.0.attn.c_attn.weight')]) {
    assert.throws(call, (e: Error) => {
      assert.ok(e instanceof LoraRouteError);
      assert.match(e.message, /^model\.safetensors: no tensor 'transformer\.h\.0\.attn\.c_attn\.weight' \(3 tensors, e\.g\. h\.0\.attn\.c_attn\.weight, /);
      return true;
    });
  }
  const empty = parseSafetensors(serializeSafetensors({}), 'e.safetensors');
  assert.deepEqual(empty.names(), []);
  assert.throws(() => empty.getF32('x'), /e\.safetensors: no tensor 'x' \(it has no tensors\)/);
});

test('an unknown dtype is an error only when that tensor is read', () => {
  const header = {
    q: { dtype: 'Q4_K', shape: [7], data_offsets: [0, 5] },
    x: { dtype: 'F32', shape: [1], data_offsets: [5, 9] },
  };
  const data = new Uint8Array(9);
  new DataView(data.buffer).setFloat32(5, 2.5, true);
  const f = parseSafetensors(rawSafetensors(header, data), 'q.safetensors');
  assert.deepEqual(f.names(), ['q', 'x']);
  assert.deepEqual(f.info('q'), { dtype: 'Q4_K', shape: [7], byteLength: 5 });
  assert.deepEqual([...f.getF32('x')], [2.5]);
  assert.equal(f.getRaw('q').byteLength, 5);
  assert.throws(() => f.getF32('q'), /q\.safetensors: tensor 'q' has unknown dtype 'Q4_K'/);
  assert.throws(() => f.getI32('q'), /unknown dtype 'Q4_K'/);
});

function expectCorrupt(bytes: Uint8Array, pattern: RegExp): void {
  const dir = tempDir();
  const p = join(dir, 'corrupt.safetensors');
  writeFileSync(p, bytes);
  assert.throws(() => openSafetensors(p), (e: Error) => {
    assert.ok(e instanceof LoraRouteError, `not a LoraRouteError: ${e.message}`);
    assert.ok(e.message.includes(p), `message does not name the file: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('corrupt files: each problem gets its own message naming the file (and tensor)', () => {
  const good = serializeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }, b: { dtype: 'F16', shape: [2], data: new Float32Array([3, 4]) } });
  expectCorrupt(new Uint8Array(0), /0 bytes, shorter than the 8-byte header length/);
  expectCorrupt(new Uint8Array(5), /5 bytes, shorter than the 8-byte header length/);
  expectCorrupt(good.subarray(0, 20), /header length \d+ goes past the end of the file \(20 bytes\)/);
  expectCorrupt(rawSafetensors({}, 0, { lengthField: 2n ** 60n }), /header length 1152921504606846976 goes past the end/);
  // Truncated in the data section: the last tensor's offsets now lie outside it.
  expectCorrupt(good.subarray(0, good.byteLength - 1), /tensor 'b': data_offsets \[8, 12\] lie outside the data section \(11 bytes\)/);
  expectCorrupt(rawSafetensors(null, 0, { headerText: '{"a": {"dtype": "F32",' }), /header is not valid JSON/);
  expectCorrupt(rawSafetensors(null, 0, { headerText: '[1, 2]' }), /header is JSON but not an object/);
  expectCorrupt(rawSafetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12),
    /tensor 'b': data_offsets \[4, 12\] overlap tensor 'a' \(which ends at 8\)/);
  expectCorrupt(rawSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, 12),
    /data_offsets do not cover the data section: bytes 4\.\.8 belong to no tensor \(before tensor 'b'\)/);
  expectCorrupt(rawSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 10),
    /data_offsets do not cover the data section: tensors end at 4 but the data section has 10 bytes/);
  expectCorrupt(rawSafetensors({ a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 16] } }, 16),
    /tensor 'a': shape \[2,3\] of F32 needs 24 bytes but data_offsets \[0, 16\] give 16/);
  expectCorrupt(rawSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, 4), /tensor 'a': data_offsets must be \[begin, end\]/);
  expectCorrupt(rawSafetensors({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /tensor 'a': shape must be an array of non-negative integers/);
  expectCorrupt(rawSafetensors({ a: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor 'a': dtype must be a string/);
  expectCorrupt(rawSafetensors({ __metadata__: { n: 1 } }, 0), /__metadata__\.n must be a string/);
});

test('openSafetensors on a missing path names it', () => {
  assert.throws(() => openSafetensors('/nonexistent/dir/x.safetensors'), (e: Error) => e instanceof LoraRouteError && e.message.includes('/nonexistent/dir/x.safetensors'));
});

test('tensor bytes are read lazily: a file changed after opening is detected', () => {
  const p = join(tempDir(), 'lazy.safetensors');
  writeSafetensors(p, { a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
  const f = openSafetensors(p);
  assert.deepEqual([...f.getF32('a')], [1, 2]);
  writeFileSync(p, Buffer.concat([readFileSync(p), Buffer.from([0])]));
  assert.throws(() => f.getF32('a'), /changed size since it was opened/);
});

test('every getter returns a fresh array the caller owns', () => {
  const f = parseSafetensors(serializeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } }));
  const x = f.getF32('a');
  x[0] = 99;
  assert.deepEqual([...f.getF32('a')], [1, 2]);
  const info = f.info('a');
  info.shape[0] = 5;
  assert.deepEqual(f.info('a').shape, [2]);
});
