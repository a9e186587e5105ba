/**
 * The native backend's few-row products compute every output with the same arithmetic whatever the other
 * rows are: a row of A @ B^T (up to 16 rows) or of A @ B (up to 8 with fp32 weights, 16 with fp16 ones),
 * with fp16 weights flat or packed in panels, gets the same bits alone as in any batch, K with and without a
 * tail of K % 8, N with a partial last tile, K short (LoRA's factors) or long; over packed panels also
 * 35 rows (a prefill, in passes of at most 16). And a short-K A @ B^T (its
 * own loop in native/gemv_avx2.c) gets the bits of the long-K one.
 * The server's decode steps (src/server/decode-backend.ts) rely on it: batching must change no token.
 * Skipped without the addon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeBackend } from '../../src/tensor/native.js';
import { assertExact, Rng } from '../backend/util.js';

const native = loadNativeBackend();

test('few-row products: each row gets alone the bits it gets in a batch (fp32 and fp16 weights)', { skip: native ? false : 'the native addon is not built' }, () => {
  const be = native as NonNullable<typeof native>;
  const rng = new Rng(5);
  let compared = 0;
  for (const [N, K] of [[37, 133], [203, 128], [9, 5], [208, 133], [384, 16], [37, 33]] as const) {
    const W = rng.randn(N * K, 0.5); // [N, K] for A @ B^T, [K, N] for A @ B
    const half = be.halfWeights(W);
    // W packed in panels: as A @ B's [K, N] where N allows, and as A @ B^T's [N, K] (a flat tail of N % 16 rows)
    const packed = N % 16 === 0 ? be.halfWeights(W, [{ offset: 0, K, N }]) : null;
    const packedT = be.halfWeights(W, [{ offset: 0, K, N, transposed: true }]);
    for (const transB of [true, false]) {
      for (const M of [2, 3, 4, 5, 6, 7, 8, 13, 16, 35]) {
        const a = rng.randn(M * K);
        const opts = { transB, alpha: 0.75, beta: 0.5 };
        const init = rng.randn(M * N);
        const copies = [null, half, transB ? packedT : packed].filter((h, i) => i === 0 || h !== null);
        for (const copy of copies) {
          if (!transB && M > 8 && copy === null) continue; // fp32 A @ B streams up to 8 rows
          if (M > 16 && (copy === null || (copy !== packed && copy !== packedT))) continue; // more rows: only packed panels (a prefill, in passes of 16)
          const useHalf = copy !== null;
          const kind = copy !== null && (copy === packed || copy === packedT) ? 'fp16 panels' : useHalf ? 'fp16' : 'fp32';
          const run = (f: () => void): void => (copy ? be.withHalfWeights(copy, f) : f());
          const batched = init.slice();
          run(() => be.matmul(batched, a, W, M, N, K, opts));
          for (let m = 0; m < M; m++) {
            const alone = init.slice(m * N, (m + 1) * N);
            run(() => be.matmul(alone, a.subarray(m * K, (m + 1) * K), W, 1, N, K, opts));
            assertExact(batched.subarray(m * N, (m + 1) * N), alone, `N=${N} K=${K} transB=${transB} M=${M} ${kind}: row ${m}`);
            compared++;
          }
        }
      }
    }
    half?.release();
    packed?.release();
    packedT?.release();
  }
  assert.ok(compared > 100, `compared ${compared} rows`);
});

test('A @ B^T with a short K (up to 64: LoRA\'s factors) gets the bits of the long-K path (K zero-padded past 64)', {
  skip: !native ? 'the native addon is not built' : native.info().isa === 'baseline' ? 'the baseline kernels (no AVX2) have no short-K path' : false,
}, () => {
  const be = native as NonNullable<typeof native>;
  const rng = new Rng(6);
  const KP = 72; // past the short-K loop: the same products plus multiply-adds of zeros
  for (const [M, N, K] of [[1, 2304, 16], [4, 384, 16], [16, 37, 16], [3, 23, 5], [8, 17, 64], [5, 9, 33]] as const) {
    const a = rng.randn(M * K), w = rng.randn(N * K);
    const ap = new Float32Array(M * KP), wp = new Float32Array(N * KP);
    for (let m = 0; m < M; m++) ap.set(a.subarray(m * K, (m + 1) * K), m * KP);
    for (let n = 0; n < N; n++) wp.set(w.subarray(n * K, (n + 1) * K), n * KP);
    const init = rng.randn(M * N);
    for (const [alpha, beta] of [[1, 0], [2, 1], [0.75, 0.5]]) {
      const short = init.slice(), long = init.slice();
      be.matmul(short, a, w, M, N, K, { transB: true, alpha, beta });
      be.matmul(long, ap, wp, M, N, KP, { transB: true, alpha, beta });
      // bit for bit, but for the sign of a zero (multiply-adds of zeros turn a -0 sum into +0)
      assertExact(short.map((x) => x + 0), long.map((x) => x + 0), `M=${M} N=${N} K=${K} alpha=${alpha} beta=${beta}`);
    }
  }
});
