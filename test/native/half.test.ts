/**
 * NativeBackend.halfWeights / withHalfWeights (fp16 copy of frozen weights for decode-sized matmuls): inside
 * withHalfWeights, products of at most 8 rows (16 for A @ B^T) whose B lies inside the copied buffer equal
 * fp32 products with B rounded to fp16; everything else (outside withHalfWeights, more rows, other buffers, a
 * released copy) is untouched fp32. Skipped without the addon or F16C.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeBackend } from '../../src/tensor/native.js';
import { ReferenceBackend } from '../../src/tensor/reference.js';
import { f16ToF32, f32ToF16 } from '../../src/io/float16.js';
import { assertClose, assertExact, Rng } from '../backend/util.js';

const native = loadNativeBackend();
const hasHalf = native !== null && native.halfWeights(new Float32Array(8)) !== null;
const ref = new ReferenceBackend();

describe('fp16 weights for decode', { skip: hasHalf ? false : 'no native addon, or no F16C on this CPU' }, () => {
  const be = native as NonNullable<typeof native>;
  const rng = new Rng(21);
  // one buffer with two "weights" inside it at odd offsets: W1 [K, N] and W2 [N, K]
  const [K, N] = [37, 1100];
  const buffer = rng.randn(3 + 2 * K * N, 0.5);
  const W1 = buffer.subarray(3, 3 + K * N);
  const W2 = buffer.subarray(3 + K * N, 3 + 2 * K * N);
  const rounded = (w: Float32Array): Float32Array => f16ToF32(f32ToF16(w));

  test('few-row products inside withHalfWeights read the fp16 copy (= fp32 math on fp16-rounded weights)', () => {
    const half = be.halfWeights(buffer);
    assert.ok(half);
    try {
      for (const M of [1, 3, 8, 13, 16]) {
        for (const [transB, W] of [[false, W1], [true, W2]] as const) {
          if (M > 8 && !transB) continue; // A @ B streams up to 8 rows
          const a = rng.randn(M * K);
          const init = rng.randn(M * N);
          const opts = { transB, alpha: 1.25, beta: 0.5 };
          const got = init.slice();
          const want = init.slice();
          be.withHalfWeights(half, () => be.matmul(got, a, W, M, N, K, opts));
          ref.matmul(want, a, rounded(W), M, N, K, opts);
          assertClose(got, want, 1e-5, `M=${M} transB=${transB}`);
          // and it is really not the fp32 result
          const fp32 = init.slice();
          ref.matmul(fp32, a, W, M, N, K, opts);
          assert.ok(got.some((v, i) => v !== fp32[i]), 'fp16 weights change the result');
        }
      }
    } finally {
      half.release();
    }
  });

  test('outside withHalfWeights, more rows, other buffers and released copies stay fp32', () => {
    const a9 = rng.randn(9 * K);
    const other = W1.slice(); // same values, another buffer
    const a1 = rng.randn(K);
    const plain = (M: number, a: Float32Array, W: Float32Array): Float32Array => {
      const out = new Float32Array(M * N);
      be.matmul(out, a, W, M, N, K);
      return out;
    };
    const a17 = rng.randn(17 * K);
    const plainNT = (M: number, a: Float32Array): Float32Array => {
      const out = new Float32Array(M * N);
      be.matmul(out, a, W2, M, N, K, { transB: true });
      return out;
    };
    const before17 = plainNT(17, a17);
    const before9 = plain(9, a9, W1);
    const beforeOther = plain(1, a1, other);
    const before1 = plain(1, a1, W1);
    const half = be.halfWeights(buffer);
    assert.ok(half);
    assertExact(plain(1, a1, W1), before1, 'a copy that exists is not read outside withHalfWeights');
    be.withHalfWeights(half, () => {
      assertExact(plain(9, a9, W1), before9, '9 rows of A @ B: sgemm on fp32');
      assertExact(plainNT(17, a17), before17, '17 rows of A @ B^T: sgemm on fp32');
      assertExact(plain(1, a1, other), beforeOther, 'a B outside the copied buffer');
      assert.ok(plain(1, a1, W1).some((v, i) => v !== before1[i]), 'one row inside the buffer uses fp16');
    });
    assertExact(plain(1, a1, W1), before1, 'after withHalfWeights returned');
    half.release();
    be.withHalfWeights(half, () => assertExact(plain(1, a1, W1), before1, 'a released copy'));
  });

  test('withHalfWeights restores fp32 when its function throws', () => {
    const half = be.halfWeights(buffer);
    assert.ok(half);
    const a1 = rng.randn(K);
    const out = new Float32Array(N);
    be.matmul(out, a1, W1, 1, N, K);
    const before = out.slice();
    assert.throws(() => be.withHalfWeights(half, () => { throw new Error('step failed'); }), /step failed/);
    be.matmul(out, a1, W1, 1, N, K);
    assertExact(out, before, 'fp32 again');
    half.release();
  });
});
