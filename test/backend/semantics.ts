/**
 * (c) What the ops mean, checked on the backend under test by itself: the KV-cache attention equals full
 * causal attention, dropout masks are the shared hash's, AdamW is PyTorch's, the reductions are exact enough.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/tensor/backend.js';
import { hashUniform } from '../../src/tensor/hash.js';
import { adamw64 } from './oracle.js';
import { cacheMask, DECODE_STEPS, decodeRowsInit, LORA_STEPS, loraRowsInit, longDecodeRows, padMask, runDecodeRows, runLoraRows, type DecodeRow } from './cases.js';
import { assertClose, assertExact, clone, Rng } from './util.js';
import { halfCacheTests } from './half-cache.js';

/** rows t0..t1-1 of every sequence of x [B, T, W] -> [B, t1 - t0, W] */
function rows(x: Float32Array, B: number, T: number, W: number, t0: number, t1: number): Float32Array {
  const out = new Float32Array(B * (t1 - t0) * W);
  for (let b = 0; b < B; b++) out.set(x.subarray((b * T + t0) * W, (b * T + t1) * W), b * (t1 - t0) * W);
  return out;
}

function attentionNanTests(be: () => Backend): void {
  // heads of 16, 32 and 64 (the native AVX-512 path) and of 4 (the small-matmul kernels)
  for (const [C, NH] of [[32, 2], [64, 2], [128, 2], [8, 2]]) {
    test(`a decode query whose head holds a NaN key gives that head NaN, the other head numbers (C=${C}, NH=${NH})`, () => {
      const r = new Rng(1500 + C);
      const S = 40, past = 37, hs = C / NH;
      const k = r.randn(NH * S * hs), v = r.randn(NH * S * hs), out = new Float32Array(C);
      k[5 * hs + 1] = NaN; // head 0, key 5
      be().attentionRows(out, r.randn(3 * C), [k], [v], [null], Int32Array.of(past), 1, C, NH);
      assert.ok(out.subarray(0, hs).every(Number.isNaN), `head 0: ${Array.from(out.subarray(0, 4)).join(', ')}`);
      assert.ok(out.subarray(hs).every(Number.isFinite), 'head 1');
    });
  }
}

function attentionCachedTests(be: () => Backend, tol: number): void {
  const [B, T, C, NH] = [3, 6, 8, 2];
  const hs = C / NH;
  const SENTINEL = 4242.5;
  // split of the T positions into successive calls
  const schedules: [string, number[]][] = [
    ['prefill of all T at past=0', [T]],
    ['token-by-token decode', [1, 1, 1, 1, 1, 1]],
    ['prefill of 2, a chunk of 3, then one token', [2, 3, 1]],
  ];
  for (const extra of [0, 3]) {
    for (const masked of [false, true]) {
      for (const [what, chunks] of schedules) {
        const S = T + extra;
        test(`attentionCached equals attentionForward: ${what}, S=${S}, ${masked ? 'key mask with a fully padded row' : 'no mask'}`, () => {
          const b = be();
          const rng = new Rng(900 + extra * 10 + (masked ? 1 : 0));
          const qkv = rng.randn(B * T * 3 * C); // [B, T, 3C]
          const fwdMask = masked ? padMask(B, T) : null; // [B, T]
          let cMask: Int32Array | null = null; // [B, S]; slots past T are never reached (causal)
          if (fwdMask) {
            cMask = new Int32Array(B * S);
            for (let i = 0; i < B; i++) cMask.set(fwdMask.subarray(i * T, (i + 1) * T), i * S);
          }
          const full = new Float32Array(B * T * C);
          b.attentionForward(full, new Float32Array(B * NH * T * T), qkv, fwdMask, B, T, C, NH);

          const kCache = new Float32Array(B * NH * S * hs).fill(SENTINEL); // [B, NH, S, hs]
          const vCache = new Float32Array(B * NH * S * hs).fill(SENTINEL);
          let past = 0;
          for (const Tq of chunks) {
            const out = new Float32Array(B * Tq * C).fill(NaN);
            b.attentionCached(out, rows(qkv, B, T, 3 * C, past, past + Tq), kCache, vCache, cMask, past, B, Tq, C, NH, S);
            assertClose(out, rows(full, B, T, C, past, past + Tq), tol, `out of positions ${past}..${past + Tq - 1}`);
            past += Tq;
          }
          // caches hold k and v in [B, NH, S, hs]; slots S >= T were never written
          for (let i = 0; i < B; i++) {
            for (let h = 0; h < NH; h++) {
              for (let s = 0; s < S; s++) {
                for (let e = 0; e < hs; e++) {
                  const at = ((i * NH + h) * S + s) * hs + e;
                  const src = (i * T + s) * 3 * C + h * hs + e;
                  assert.equal(kCache[at], s < T ? qkv[src + C] : SENTINEL, `kCache[${i}, ${h}, ${s}, ${e}]`);
                  assert.equal(vCache[at], s < T ? qkv[src + 2 * C] : SENTINEL, `vCache[${i}, ${h}, ${s}, ${e}]`);
                }
              }
            }
          }
        });
      }
    }
  }

  test('attentionCached with a mask over the cache: keys masked later in the cache are ignored', () => {
    // a cache slot that was written but is masked must not contribute, whatever it holds
    const b = be();
    const S = 5;
    const rng = new Rng(950);
    const qkv = rng.randn(B * 1 * 3 * C);
    const kCache = rng.randn(B * NH * S * hs);
    const vCache = rng.randn(B * NH * S * hs);
    const mask = cacheMask(B, S, 2);
    const out = new Float32Array(B * C);
    b.attentionCached(out, qkv, kCache, vCache, mask, 4, B, 1, C, NH, S);
    const k2 = kCache.slice();
    const v2 = vCache.slice();
    // scramble the masked slots 0..1 of row 0 and the old slots of row 2 (fully masked)
    const scramble = (i: number, s: number): void => {
      for (let h = 0; h < NH; h++) {
        for (let e = 0; e < hs; e++) {
          k2[((i * NH + h) * S + s) * hs + e] = 1e3;
          v2[((i * NH + h) * S + s) * hs + e] = -1e3;
        }
      }
    };
    for (let s = 0; s < 2; s++) scramble(0, s);
    for (let s = 0; s < 4; s++) scramble(2, s);
    const out2 = new Float32Array(B * C);
    b.attentionCached(out2, qkv, k2, v2, mask, 4, B, 1, C, NH, S);
    assertClose(out2, out, tol, 'out with masked slots scrambled');
    for (let i = 2 * C; i < 3 * C; i++) assert.equal(out[i], 0, 'a fully masked row gives zeros');
  });
}

function attentionRowsTests(be: () => Backend): void {
  const steps: [string, number, number, DecodeRow[]][] = [
    ...DECODE_STEPS, ["sixteen rows of the bundled model's shape (C = 128, NH = 4)", 128, 4, longDecodeRows(16, 60)],
  ];
  steps.forEach(([what, C, NH, rows], i) => {
    test(`attentionRows: every row is bit for bit attentionCached of that row alone (${what}, B=${rows.length})`, () => {
      const b = be();
      const init = decodeRowsInit(new Rng(1300 + i), rows, C);
      const got = clone(init);
      runDecodeRows(b, got, rows, C, NH);
      const want = clone(init);
      rows.forEach((r, row) => {
        // row alone: out [1, C], qkv [1, 3C], its caches [1, NH, S, hs]
        b.attentionCached(
          (want.out as Float32Array).subarray(row * C, (row + 1) * C), (want.qkv as Float32Array).subarray(row * 3 * C, (row + 1) * 3 * C),
          want[`k${row}`] as Float32Array, want[`v${row}`] as Float32Array, (want[`m${row}`] as Int32Array | undefined) ?? null, r.past, 1, 1, C, NH, r.S,
        );
      });
      assertExact(got.out, want.out, 'out');
      rows.forEach((_, row) => {
        assertExact(got[`k${row}`], want[`k${row}`], `kCaches[${row}]`);
        assertExact(got[`v${row}`], want[`v${row}`], `vCaches[${row}]`);
      });
    });
  });
}

function attentionForwardTests(be: () => Backend, tol: number): void {
  test('attentionForward: att rows are causal probabilities; fully padded rows give zeros', () => {
    const b = be();
    const [B, T, C, NH] = [3, 5, 8, 2];
    const rng = new Rng(960);
    const qkv = rng.randn(B * T * 3 * C);
    const mask = padMask(B, T);
    const out = new Float32Array(B * T * C).fill(NaN);
    const att = new Float32Array(B * NH * T * T).fill(NaN);
    b.attentionForward(out, att, qkv, mask, B, T, C, NH);
    for (let i = 0; i < B; i++) {
      for (let h = 0; h < NH; h++) {
        for (let t = 0; t < T; t++) {
          const row = att.subarray(((i * NH + h) * T + t) * T, ((i * NH + h) * T + t + 1) * T);
          let anyLive = false;
          let sum = 0;
          for (let s = 0; s < T; s++) {
            const live = s <= t && mask[i * T + s] === 1;
            anyLive ||= live;
            if (!live) assert.equal(row[s], 0, `att[${i}, ${h}, ${t}, ${s}] (future or masked key) must be 0`);
            else assert.ok(row[s] >= 0 && row[s] <= 1, `att[${i}, ${h}, ${t}, ${s}] = ${row[s]} is a probability`);
            sum += row[s];
          }
          if (anyLive) assert.ok(Math.abs(sum - 1) <= 10 * tol + 1e-6, `att row ${i}, ${h}, ${t} sums to ${sum}`);
          else {
            assert.equal(sum, 0, `att row ${i}, ${h}, ${t} with every key masked is all zeros`);
            for (let e = 0; e < hs(C, NH); e++) assert.equal(out[(i * T + t) * C + h * hs(C, NH) + e], 0, 'out of a fully masked row is 0');
          }
        }
      }
    }
  });
}

function attentionDropoutTests(be: () => Backend, tol: number): void {
  test('attentionForward with dropout: att is unchanged, out = sum of (att * dropoutMask) v', () => {
    const b = be();
    const [B, T, C, NH, p, seed] = [3, 5, 8, 2, 0.3, 0x9e3779b9];
    const h = hs(C, NH);
    const rng = new Rng(970);
    const qkv = rng.randn(B * T * 3 * C);
    const mask = padMask(B, T);
    const [out0, att0] = [new Float32Array(B * T * C), new Float32Array(B * NH * T * T)];
    const [out1, att1] = [new Float32Array(B * T * C), new Float32Array(B * NH * T * T)];
    const [outP0, attP0] = [new Float32Array(B * T * C), new Float32Array(B * NH * T * T)];
    b.attentionForward(out0, att0, qkv, mask, B, T, C, NH);
    b.attentionForward(outP0, attP0, qkv, mask, B, T, C, NH, 0, seed);
    b.attentionForward(out1, att1, qkv, mask, B, T, C, NH, p, seed);
    assertExact(outP0, out0, 'dropoutP = 0 is no dropout: out');
    assertExact(attP0, att0, 'dropoutP = 0 is no dropout: att');
    assertClose(att1, att0, tol, 'att keeps the probabilities before dropout');
    const drop = new Float32Array(B * NH * T * T);
    b.dropoutMask(drop, drop.length, p, seed, 0);
    const want = new Float64Array(B * T * C);
    for (let i = 0; i < B; i++) {
      for (let hh = 0; hh < NH; hh++) {
        for (let t = 0; t < T; t++) {
          const a = ((i * NH + hh) * T + t) * T;
          for (let s = 0; s <= t; s++) {
            for (let e = 0; e < h; e++) want[(i * T + t) * C + hh * h + e] += att0[a + s] * drop[a + s] * qkv[(i * T + s) * 3 * C + 2 * C + hh * h + e];
          }
        }
      }
    }
    assertClose(out1, want, tol, 'out with dropout');
    let differs = false;
    for (let i = 0; i < out1.length; i++) differs ||= Math.abs(out1[i] - out0[i]) > 1e-3;
    assert.ok(differs, 'dropout changed the output');
  });
}

function hs(C: number, NH: number): number {
  return C / NH;
}

/** bits of the mask: '0' dropped, '1' kept */
function bits(mask: Float32Array): string {
  return Array.from(mask, (v) => (v === 0 ? '0' : '1')).join('');
}

function dropoutTests(be: () => Backend): void {
  describe('dropoutMask', () => {
    // offset + i is taken modulo 2^32 (the last case crosses it), as hashUniform and uint32 C arithmetic do
    test('is the shared hash of (seed, offset + i): 0 where u < p, else exactly fround(1/(1-p))', () => {
      const b = be();
      for (const [n, p, seed, offset] of [[300, 0.1, 5, 0], [300, 0.5, 0xdeadbeef, 2 ** 31 + 5], [100, 0.9, 0xffffffff, 0xffffffc0]]) {
        const mask = new Float32Array(n).fill(NaN);
        b.dropoutMask(mask, n, p, seed, offset);
        const keep = Math.fround(1 / (1 - p));
        for (let i = 0; i < n; i++) {
          const want = hashUniform(seed, offset + i) < p ? 0 : keep;
          assert.ok(Object.is(mask[i], want), `p=${p} seed=${seed} offset=${offset}: mask[${i}] is ${mask[i]}, expected ${want}`);
        }
      }
    });

    test('matches pinned bits (the C and WGSL hashes must give these too)', () => {
      const b = be();
      const m1 = new Float32Array(64);
      b.dropoutMask(m1, 64, 0.5, 1234, 0);
      assert.equal(bits(m1), '0100001100001011101001111011110011000101111000111101010001110000');
      const m2 = new Float32Array(64);
      b.dropoutMask(m2, 64, 0.25, 0xdeadbeef, 2 ** 31 + 5);
      assert.equal(bits(m2), '1100111011111111011111101110111110100111101110101111110010101111');
    });

    test('is deterministic, shifts with offset, and changes with seed', () => {
      const b = be();
      const n = 500;
      const [m1, m2, m3, m4] = [new Float32Array(n), new Float32Array(n), new Float32Array(n + 37), new Float32Array(n)];
      b.dropoutMask(m1, n, 0.3, 77, 37);
      b.dropoutMask(m2, n, 0.3, 77, 37);
      b.dropoutMask(m3, n + 37, 0.3, 77, 0);
      b.dropoutMask(m4, n, 0.3, 78, 37);
      assertExact(m2, m1, 'same seed and offset');
      assertExact(m3.subarray(37), m1, 'offset 37 equals the tail of offset 0');
      assert.notEqual(bits(m4), bits(m1), 'another seed gives another mask');
    });

    test('drops about p of the entries', () => {
      const b = be();
      const n = 20000;
      const mask = new Float32Array(n);
      for (const p of [0.1, 0.5, 0.9]) {
        b.dropoutMask(mask, n, p, 31337, 0);
        let dropped = 0;
        for (let i = 0; i < n; i++) if (mask[i] === 0) dropped++;
        assert.ok(Math.abs(dropped / n - p) < 0.02, `p=${p}: dropped ${dropped / n}`);
      }
    });

    test('p = 0 gives all ones', () => {
      const b = be();
      const mask = new Float32Array(77).fill(NaN);
      b.dropoutMask(mask, 77, 0, 12, 34);
      assertExact(mask, new Float32Array(77).fill(1), 'mask');
    });
  });
}

function adamwTests(be: () => Backend, tol: number): void {
  for (const [wd, b2] of [[0.1, 0.999], [0, 0.95]]) {
    test(`adamw equals PyTorch AdamW in float64 over 6 steps (weightDecay=${wd}, beta2=${b2})`, () => {
      const b = be();
      const n = 29;
      const rng = new Rng(1000 + wd * 10);
      const params = rng.randn(n);
      const p0 = Float64Array.from(params);
      const [m, v] = [new Float32Array(n), new Float32Array(n)];
      const [p64, m64, v64] = [Float64Array.from(params), new Float64Array(n), new Float64Array(n)];
      for (let step = 1; step <= 6; step++) {
        const grads = rng.randn(n, 0.1);
        grads[0] = 0; // only weight decay moves it
        const lr = 1e-2 * (1 - step / 10); // a decaying schedule
        b.adamw(params, grads, m, v, n, lr, 0.9, b2, 1e-8, wd, step);
        adamw64(p64, grads, m64, v64, lr, 0.9, b2, 1e-8, wd, step);
        assertClose(params, p64, tol, `params after step ${step}`);
        assertClose(m, m64, tol, `m after step ${step}`);
        assertClose(v, v64, tol, `v after step ${step}`);
      }
      // the updates themselves (not just the parameters) agree, within float32 storage of the parameters
      const moved = new Float64Array(n);
      const want = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        moved[i] = params[i] - p0[i];
        want[i] = p64[i] - p0[i];
      }
      assertClose(moved, want, 1e-4 + tol, 'parameter change over 6 steps');
    });
  }
}

function reductionTests(be: () => Backend, tol: number): void {
  test('sumSquares accumulates in double precision', () => {
    const b = be();
    const n = 100000;
    const x = new Rng(1100).randn(n);
    let want = 0;
    for (let i = 0; i < n; i++) want += x[i] * x[i];
    const got = b.sumSquares(x, n);
    assert.ok(Math.abs(got - want) <= 1e-6 * want, `sumSquares = ${got}, expected ${want}`);
    assert.equal(b.sumSquares(x, 0), 0, 'sumSquares of nothing is 0');
    const one = b.sumSquares(x.subarray(5), 1);
    assert.ok(Math.abs(one - x[5] * x[5]) <= 1e-7 * x[5] * x[5], `sumSquares of one element: ${one}`);
  });

  test('scale and axpy', () => {
    const b = be();
    const n = 41;
    const rng = new Rng(1200);
    const x = rng.randn(n);
    const y = rng.randn(n);
    const s = x.slice();
    b.scale(s, 1, n);
    assertExact(s, x, 'scale by 1');
    b.scale(s, 0.1, n);
    assertClose(s, Float64Array.from(x, (v) => v * 0.1), tol, 'scale by 0.1');
    b.scale(s, 0, n);
    assert.ok(s.every((v) => v === 0), 'scale by 0 gives zeros');
    const y2 = y.slice();
    b.axpy(y2, x, 0, n);
    assertExact(y2, y, 'axpy with alpha 0');
    b.axpy(y2, x, -2.5, n);
    assertClose(y2, Float64Array.from(y, (v, i) => v - 2.5 * x[i]), tol, 'axpy with alpha -2.5');
  });
}

function loraRowsTests(be: () => Backend): void {
  LORA_STEPS.forEach(([what, B, inDim, outDim, ranks, weights], i) => {
    test(`loraRows: every row is bit for bit its two one-row matmuls per adapter, in order (${what})`, () => {
      const b = be();
      const init = loraRowsInit(new Rng(1400 + i), B, inDim, outDim, ranks, weights);
      const got = clone(init);
      runLoraRows(b, got, B, inDim, outDim, ranks);
      const want = (init.y as Float32Array).slice();
      const K = ranks.length;
      for (let row = 0; row < B; row++) {
        const x = (init.x as Float32Array).subarray(row * inDim, (row + 1) * inDim), y = want.subarray(row * outDim, (row + 1) * outDim);
        ranks.forEach((r, k) => {
          const w = (init.weights as Float32Array)[row * K + k];
          if (r === 0 || w === 0) return;
          const xa = new Float32Array(r); // [r] = x A^T
          b.matmul(xa, x, init[`A${k}`] as Float32Array, 1, r, inDim, { transB: true });
          b.matmul(y, xa, init[`B${k}`] as Float32Array, 1, outDim, r, { transB: true, alpha: w, beta: 1 });
        });
      }
      assertExact(got.y as Float32Array, want, `loraRows, ${what}`);
    });
  });
}

export function semanticsTests(be: () => Backend, tol: number): void {
  describe('semantics', () => {
    attentionForwardTests(be, tol);
    attentionDropoutTests(be, tol);
    attentionCachedTests(be, tol);
    attentionRowsTests(be);
    halfCacheTests(be, tol);
    attentionNanTests(be);
    loraRowsTests(be);
    dropoutTests(be);
    adamwTests(be, tol);
    reductionTests(be, tol);
  });
}
