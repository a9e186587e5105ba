/**
 * fp16 KV caches (KVBuffer = Uint16Array): attention over one is, by definition, fp32 attention over the
 * values it stores, with each new key and value rounded to fp16 (src/io/float16.ts) as it is written.
 * Checked against the float64 oracle given those values as fp32 caches, and the stored bits exactly.
 */
import { test } from 'node:test';
import type { Backend, KVBuffer } from '../../src/tensor/backend.js';
import { f16ToF32, f32ToF16 } from '../../src/io/float16.js';
import { cacheMask, DECODE_STEPS, decodeRowsInit, longDecodeRows, runDecodeRows, type DecodeRow } from './cases.js';
import { Float64Oracle } from './oracle.js';
import { assertClose, assertExact, clone, Rng, type Bufs } from './util.js';

const oracle = new Float64Oracle();

/** qkv [N, 3C] with its keys and values rounded to fp16 values (the queries as they are) */
function roundKV(qkv: Float32Array, C: number): Float32Array {
  const out = qkv.slice();
  for (let r = 0; r < out.length / (3 * C); r++) {
    const kv = out.subarray(r * 3 * C + C, (r + 1) * 3 * C);
    f16ToF32(f32ToF16(kv), kv);
  }
  return out;
}

/** attentionCached over fp16 caches on `be`, and what it must give: out, and the caches' bits after */
function cachedCase(be: Backend, r: Rng, o: { past: number; Tq: number; S: number; B: number; C: number; NH: number; masked: boolean; qkv?: Float32Array }) {
  const { past, Tq, S, B, C, NH } = o;
  const qkv = o.qkv ?? r.randn(B * Tq * 3 * C);
  const k = f32ToF16(r.randn(B * S * C)), v = f32ToF16(r.randn(B * S * C));
  const mask = o.masked ? cacheMask(B, S, Math.min(2, S - 1)) : null;
  // the definition: fp32 caches holding the stored values, the new keys and values rounded
  const kWant = f16ToF32(k), vWant = f16ToF32(v), outWant = new Float32Array(B * Tq * C);
  oracle.attentionCached(outWant, roundKV(qkv, C), kWant, vWant, mask, past, B, Tq, C, NH, S);
  const out = new Float32Array(B * Tq * C).fill(NaN);
  be.attentionCached(out, qkv, k, v, mask, past, B, Tq, C, NH, S);
  return { out, outWant, k, v, kWant: f32ToF16(kWant), vWant: f32ToF16(vWant) };
}

export function halfCacheTests(be: () => Backend, tol: number): void {
  // heads of 4 and 24 (kernels without an fp16 path: widened first), 16, 32, 64 (the native AVX-512 kernel);
  // prefills of 4 or more positions (the native sgemm path), and one long enough for the pool
  const cases: [string, { past: number; Tq: number; S: number; B: number; C: number; NH: number; masked: boolean }][] = [
    ['decode step (hs = 4)', { past: 4, Tq: 1, S: 8, B: 3, C: 8, NH: 2, masked: true }],
    ['prefill (hs = 4)', { past: 0, Tq: 5, S: 8, B: 3, C: 8, NH: 2, masked: false }],
    ['chunk after a prefix (hs = 4)', { past: 2, Tq: 3, S: 6, B: 3, C: 8, NH: 2, masked: true }],
    ['decode step (hs = 24)', { past: 30, Tq: 1, S: 33, B: 2, C: 48, NH: 2, masked: false }],
    ['decode step (hs = 16)', { past: 40, Tq: 1, S: 44, B: 3, C: 48, NH: 3, masked: true }],
    ['decode step (hs = 32)', { past: 37, Tq: 1, S: 40, B: 2, C: 128, NH: 4, masked: false }],
    ['decode step (hs = 64)', { past: 19, Tq: 1, S: 21, B: 1, C: 128, NH: 2, masked: false }],
    ['prefill after a prefix (hs = 32)', { past: 10, Tq: 6, S: 20, B: 2, C: 64, NH: 2, masked: true }],
    ['prefill of 40 positions (hs = 32)', { past: 0, Tq: 40, S: 48, B: 1, C: 128, NH: 4, masked: false }],
  ];
  cases.forEach(([what, o], i) => {
    test(`attentionCached with fp16 caches: fp32 attention over the stored values, new keys and values rounded to fp16 (${what})`, () => {
      const c = cachedCase(be(), new Rng(1700 + i), o);
      assertClose(c.out, c.outWant, tol, 'out');
      assertExact(c.k, c.kWant, 'kCache (fp16 bits)');
      assertExact(c.v, c.vWant, 'vCache (fp16 bits)');
    });
  });

  test('an fp16 cache stores each new key and value as src/io/float16.ts rounds it (ties to even, subnormals, overflow, -0)', () => {
    const specials = [2049, 2051, -2051, 1e-6, -3e-7, 5.960464477539063e-8, 2.9e-8, 1e-9, 65519, 65520, -1e6, -0, 0.1, 1 / 3];
    for (const [Tq, C, NH] of [[1, 16, 1], [5, 16, 1], [1, 32, 2]]) {
      const r = new Rng(1750 + Tq + C);
      const qkv = r.randn(Tq * 3 * C);
      for (let t = 0; t < Tq; t++) for (let e = 0; e < 2 * C; e++) qkv[t * 3 * C + C + e] = specials[(e + t) % specials.length];
      const S = Tq + 2, k = new Uint16Array(S * C), v = new Uint16Array(S * C);
      be().attentionCached(new Float32Array(Tq * C), qkv, k, v, null, 1, 1, Tq, C, NH, S);
      const want = (part: number): Uint16Array => {
        const w = new Uint16Array(S * C); // [NH, S, hs]: slots 1 .. Tq
        const hs = C / NH;
        for (let t = 0; t < Tq; t++) for (let h = 0; h < NH; h++) w.set(f32ToF16(qkv.subarray(t * 3 * C + part * C + h * hs, t * 3 * C + part * C + (h + 1) * hs)), (h * S + 1 + t) * hs);
        return w;
      };
      assertExact(k, want(1), `kCache bits (Tq=${Tq}, C=${C})`);
      assertExact(v, want(2), `vCache bits (Tq=${Tq}, C=${C})`);
    }
  });

  // attentionRows over a step whose rows are fp16 but for every third (a batch may mix the two)
  const steps: [string, number, number, DecodeRow[]][] = [...DECODE_STEPS, ["sixteen rows of the bundled model's shape (C = 128, NH = 4)", 128, 4, longDecodeRows(16, 60)]];
  steps.forEach(([what, C, NH, rows], i) => {
    test(`attentionRows with fp16 caches: every row bit for bit attentionCached of that row alone, and the oracle's over its values (${what}, B=${rows.length})`, () => {
      const b = be();
      const init = decodeRowsInit(new Rng(1800 + i), rows, C);
      const half = (row: number): boolean => row % 3 !== 2;
      const start: Record<string, KVBuffer> = {};
      rows.forEach((_, row) => {
        for (const p of ['k', 'v']) start[`${p}${row}`] = half(row) ? f32ToF16(init[`${p}${row}`] as Float32Array) : (init[`${p}${row}`] as Float32Array).slice();
      });
      const caches = () => Object.fromEntries(Object.entries(start).map(([name, a]) => [name, a.slice()])) as Record<string, KVBuffer>;
      const got = caches();
      const out = new Float32Array(rows.length * C).fill(NaN);
      b.attentionRows(out, init.qkv as Float32Array, rows.map((_, r) => got[`k${r}`]), rows.map((_, r) => got[`v${r}`]),
        rows.map((_, r) => (init[`m${r}`] as Int32Array | undefined) ?? null), init.pasts as Int32Array, rows.length, C, NH);
      const alone = caches(), aloneOut = new Float32Array(rows.length * C);
      const fp32: Bufs = clone(init); // the oracle's fp32 caches of the same values
      rows.forEach((r, row) => {
        const m = (init[`m${row}`] as Int32Array | undefined) ?? null;
        const qkv = (init.qkv as Float32Array).subarray(row * 3 * C, (row + 1) * 3 * C);
        b.attentionCached(aloneOut.subarray(row * C, (row + 1) * C), qkv, alone[`k${row}`], alone[`v${row}`], m, r.past, 1, 1, C, NH, r.S);
        if (!half(row)) return;
        fp32[`k${row}`] = f16ToF32(start[`k${row}`] as Uint16Array);
        fp32[`v${row}`] = f16ToF32(start[`v${row}`] as Uint16Array);
        (fp32.qkv as Float32Array).set(roundKV(qkv, C), row * 3 * C);
      });
      assertExact(out, aloneOut, 'out');
      rows.forEach((_, row) => {
        assertExact(got[`k${row}`], alone[`k${row}`], `kCaches[${row}]`);
        assertExact(got[`v${row}`], alone[`v${row}`], `vCaches[${row}]`);
      });
      runDecodeRows(oracle, fp32, rows, C, NH);
      assertClose(out, fp32.out, tol, 'out against the oracle');
      rows.forEach((_, row) => {
        if (!half(row)) return;
        assertExact(got[`k${row}`], f32ToF16(fp32[`k${row}`] as Float32Array), `kCaches[${row}] against the oracle`);
      });
    });
  });
}
