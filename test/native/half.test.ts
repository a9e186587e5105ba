/**
 * NativeBackend.halfWeights / withHalfWeights (fp16 copy of frozen weights for decode-sized matmuls): inside
 * withHalfWeights, products of at most 16 rows whose B lies inside the copied buffer equal fp32 products with
 * B rounded to fp16, from the flat copy or from weights packed in panels (`regions`); everything else
 * (outside withHalfWeights, more rows, other buffers, a released copy, a B that is only part of a packed
 * weight) is untouched fp32. Bad regions are refused before anything is copied. Skipped without the addon
 * or F16C.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
    const a17 = rng.randn(17 * K);
    const other = W1.slice(); // same values, another buffer
    const a1 = rng.randn(K);
    const plain = (M: number, a: Float32Array, W: Float32Array): Float32Array => {
      const out = new Float32Array(M * N);
      be.matmul(out, a, W, M, N, K);
      return out;
    };
    const plainNT = (M: number, a: Float32Array): Float32Array => {
      const out = new Float32Array(M * N);
      be.matmul(out, a, W2, M, N, K, { transB: true });
      return out;
    };
    const before17 = plainNT(17, a17);
    const before17NN = plain(17, a17, W1);
    const beforeOther = plain(1, a1, other);
    const before1 = plain(1, a1, W1);
    const half = be.halfWeights(buffer);
    assert.ok(half);
    assertExact(plain(1, a1, W1), before1, 'a copy that exists is not read outside withHalfWeights');
    be.withHalfWeights(half, () => {
      assertExact(plain(17, a17, W1), before17NN, '17 rows of A @ B: sgemm on fp32');
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

  describe('weights packed in panels', () => {
    // W [K, Np] at offset 5 packed (Np a multiple of 16); V [Np, K] after it stays flat; then H [Nt, K]
    // packed as the B of A @ B^T (Nt = 16 * 65 + 5: a flat tail of 5 rows)
    const Np = 1104;
    const Nt = 1045;
    const buf = rng.randn(5 + 2 * K * Np + Nt * K, 0.5);
    const W = buf.subarray(5, 5 + K * Np);
    const V = buf.subarray(5 + K * Np, 5 + 2 * K * Np);
    const H = buf.subarray(5 + 2 * K * Np);
    const regions = [{ offset: 5, K, N: Np }, { offset: 5 + 2 * K * Np, K, N: Nt, transposed: true }];

    test('A @ B reads the panels (past 16 rows in passes of up to 16, one pool job): fp32 math on fp16-rounded weights, each row as alone', () => {
      const half = be.halfWeights(buf, regions);
      assert.ok(half);
      try {
        for (const M of [1, 2, 3, 5, 6, 7, 12, 16, 17, 35, 64]) {
          const a = rng.randn(M * K);
          const init = rng.randn(M * Np);
          const opts = { alpha: 0.75, beta: M % 2 ? 0 : 0.5 };
          const got = init.slice();
          be.withHalfWeights(half, () => be.matmul(got, a, W, M, Np, K, opts));
          const want = init.slice();
          ref.matmul(want, a, rounded(W), M, Np, K, opts);
          assertClose(got, want, 1e-5, `M=${M}`);
          for (let m = 0; m < M; m++) {
            const alone = init.slice(m * Np, (m + 1) * Np);
            be.withHalfWeights(half, () => be.matmul(alone, a.subarray(m * K, (m + 1) * K), W, 1, Np, K, opts));
            assertExact(got.subarray(m * Np, (m + 1) * Np), alone, `M=${M}: row ${m} alone`);
          }
        }
        // A @ H^T reads H's panels (and its flat tail), past 16 rows in passes too
        for (const M of [1, 3, 8, 9, 16, 17, 35]) {
          const a = rng.randn(M * K);
          const init = rng.randn(M * Nt);
          const opts = { transB: true, alpha: 1.5, beta: M % 2 ? 0.25 : 0 };
          const got = init.slice();
          be.withHalfWeights(half, () => be.matmul(got, a, H, M, Nt, K, opts));
          const want = init.slice();
          ref.matmul(want, a, rounded(H), M, Nt, K, opts);
          assertClose(got, want, 1e-5, `A @ H^T, M=${M}`);
          for (let m = 0; m < M; m++) {
            const alone = init.slice(m * Nt, (m + 1) * Nt);
            be.withHalfWeights(half, () => be.matmul(alone, a.subarray(m * K, (m + 1) * K), H, 1, Nt, K, opts));
            assertExact(got.subarray(m * Nt, (m + 1) * Nt), alone, `A @ H^T, M=${M}: row ${m} alone`);
          }
        }
        // the flat weight between the regions still reads its fp16 copy
        const a = rng.randn(3 * K);
        const got = new Float32Array(3 * Np);
        be.withHalfWeights(half, () => be.matmul(got, a, V, 3, Np, K, { transB: true }));
        const want = new Float32Array(3 * Np);
        ref.matmul(want, a, rounded(V), 3, Np, K, { transB: true });
        assertClose(got, want, 1e-5, 'the flat weight after the region');
      } finally {
        half.release();
      }
    });

    test('a product over part of a packed weight, or over it transposed, stays fp32', () => {
      const half = be.halfWeights(buf, regions);
      assert.ok(half);
      const a = rng.randn(2 * Np);
      const part = W.subarray(0, (K - 1) * Np); // the first K - 1 rows of W: not the packed weight itself
      const plain = (b: Float32Array, N: number, k: number, transB: boolean): Float32Array => {
        const out = new Float32Array(2 * N);
        be.matmul(out, a.subarray(0, 2 * k), b, 2, N, k, { transB });
        return out;
      };
      const cases: Array<[string, Float32Array, number, number, boolean]> = [
        ['part of a packed weight', part, Np, K - 1, false],
        ['a packed weight as B^T', W, K, Np, true],
        ['a weight packed for A @ B^T, as B', H, K, Nt, false],
      ];
      for (const [what, b, N, k, transB] of cases) {
        const before = plain(b, N, k, transB);
        be.withHalfWeights(half, () => assertExact(plain(b, N, k, transB), before, what));
      }
      half.release();
    });

    test('the AVX2 and the AVX-512 panel kernels give the same bits', { skip: native?.info().cpuIsa === 'avx512' ? false : 'no AVX-512 on this CPU' }, () => {
      // each kernel level in its own process (LORAROUTE_ISA picks it at load): the bits of A @ W and A @ H^T
      // for 1..16 rows, as hex
      const nativeJs = fileURLToPath(new URL('../../src/tensor/native.js', import.meta.url));
      const code = `
        const { loadNativeBackend } = await import(${JSON.stringify(nativeJs)});
        const be = loadNativeBackend();
        let x = 7; const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
        const [K, Np, Nt] = [${K}, ${Np}, ${Nt}];
        const buf = Float32Array.from({ length: K * Np + Nt * K }, rnd);
        const W = buf.subarray(0, K * Np), H = buf.subarray(K * Np);
        const half = be.halfWeights(buf, [{ offset: 0, K, N: Np }, { offset: K * Np, K, N: Nt, transposed: true }]);
        const parts = [be.info().isa];
        for (const M of [1, 2, 3, 5, 8, 11, 16]) {
          const a = Float32Array.from({ length: M * K }, rnd);
          const o1 = new Float32Array(M * Np), o2 = new Float32Array(M * Nt);
          be.withHalfWeights(half, () => { be.matmul(o1, a, W, M, Np, K); be.matmul(o2, a, H, M, Nt, K, { transB: true }); });
          parts.push(Buffer.from(o1.buffer).toString('hex'), Buffer.from(o2.buffer).toString('hex'));
        }
        process.stdout.write(parts.join(' '));`;
      const run = (isa: string): string[] => {
        const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, LORAROUTE_ISA: isa }, encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout.split(' ');
      };
      const [isa2, ...avx2] = run('avx2');
      const [isa5, ...avx512] = run('avx512');
      assert.deepEqual([isa2, isa5], ['avx2', 'avx512']);
      assert.ok(avx2.length === 14 && avx2.every((h, i) => h === avx512[i]), 'the same bits from both kernels');
    });

    test('bad regions are refused with a message naming them', () => {
      const bad: Array<[string, Array<{ offset: number; K: number; N: number }>, RegExp]> = [
        ['width not a multiple of 16', [{ offset: 5, K, N: 1100 }], /region 0: N = 1100 must be a multiple of 16/],
        ['past the buffer', [{ offset: buf.length - 16, K: 2, N: 16 }], /region 0: .* must lie in the/],
        ['overlapping', [{ offset: 5, K, N: Np }, { offset: 5 + K * Np - 16, K: 1, N: 16 }], /region 1: .* after the region before it/],
        ['not an integer', [{ offset: 0.5, K, N: Np }], /region 0: offset 0.5/],
        ['no rows', [{ offset: 0, K: 0, N: 16 }], /K and N in 1\.\./],
        ['NaN', [{ offset: NaN, K, N: Np }], /region 0: offset nan/i],
        ['infinite', [{ offset: 0, K: Infinity, N: Np }], /K and N in 1\.\./],
        ['huge', [{ offset: 0, K: 1, N: 1e300 }], /K and N in 1\.\./],
      ];
      for (const [what, r, re] of bad) assert.throws(() => be.halfWeights(buf, r), (e: unknown) => e instanceof RangeError && re.test(e.message), what);
      // the addon itself: the list must be [offset, K, N, transposed] quadruples of a Float64Array, transposed 0 or 1
      const addon = (be as unknown as { addon: { halfWeights(w: Float32Array, r?: unknown): unknown } }).addon;
      assert.throws(() => addon.halfWeights(buf, new Float64Array(5)), /regions has 5 numbers; expected \[offset, K, N, transposed\] quadruples/);
      assert.throws(() => addon.halfWeights(buf, Float64Array.of(0, 1, 16, 2)), /region 0: transposed must be 0 or 1, got 2/);
      assert.throws(() => addon.halfWeights(buf, new Float32Array(4)), (e: unknown) => e instanceof TypeError && /regions must be a Float64Array/.test(e.message));
    });
  });
});
