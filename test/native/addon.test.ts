/**
 * The native backend beyond the shared suite: argument checking in the binding, the paths the suite's
 * small shapes do not reach (column blocks of the streaming matmul, query tiles of attention, attention
 * dropout on larger heads), scratch memory reused between calls, and every kernel variant the CPU has
 * (baseline, AVX2, AVX-512, forced by LORAROUTE_ISA) passing the whole shared suite.
 * Skipped when the addon is not built.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNativeBackend } from '../../src/tensor/native.js';
import { ReferenceBackend } from '../../src/tensor/reference.js';
import type { KVBuffer } from '../../src/tensor/backend.js';
import { assertClose, Rng } from '../backend/util.js';
import { padMask } from '../backend/cases.js';

const native = loadNativeBackend();
const skip = native ? false : 'the native addon is not built';
const ref = new ReferenceBackend();
const TOL = 1e-5;
const ISAS = ['baseline', 'avx2', 'avx512'];

describe('native backend', { skip }, () => {
  const be = native as NonNullable<typeof native>;

  test('reports its kernels and BLAS', () => {
    const info = be.info();
    assert.ok(['avx512', 'avx2', 'baseline'].includes(info.isa), info.isa);
    assert.ok(ISAS.indexOf(info.isa) <= ISAS.indexOf(info.cpuIsa), `${info.isa} within the CPU's ${info.cpuIsa}`);
    assert.match(info.blasConfig, /OpenBLAS/);
    assert.ok(info.blasCore.length > 0);
    assert.equal(info.blasThreads, 1, "OpenBLAS runs one thread: the addon's pool does the threading");
    assert.ok(info.threads >= 1 && info.threads <= Math.max(info.cpusAvailable, 64));
    assert.equal(info.decodeAttention, info.isa === 'avx512' ? 'avx512' : 'generic', 'a decode query runs the AVX-512 attention exactly with the AVX-512 kernels');
  });

  test('adviseHugePages is only a hint: it answers a boolean and leaves the data alone', () => {
    const buf = new Rng(5).randn(3 << 20); // 12 MB: holds whole 2 MB pages
    const copy = buf.slice();
    for (const collapse of [false, true]) assert.equal(typeof be.adviseHugePages(buf, { collapse }), 'boolean');
    assert.equal(be.adviseHugePages(new Float32Array(4)), false, 'too small for a 2 MB page');
    assertClose(buf, copy, 0, 'contents');
  });

  test('rejects buffers shorter than the shapes, naming the buffer (RangeError)', () => {
    const a = new Float32Array(6);
    assert.throws(() => be.matmul(new Float32Array(3), a, a, 2, 2, 3), (e: unknown) => e instanceof RangeError && /out has 3 elements, the shapes \[M, N\] = \[2, 2\] need 4/.test(e.message));
    assert.throws(() => be.add(new Float32Array(4), a, new Float32Array(2), 4), (e: unknown) => e instanceof RangeError && /\bb\b/.test(e.message));
    assert.throws(() => be.attentionCached(new Float32Array(8), new Float32Array(24), new Float32Array(8), new Float32Array(8), null, 1, 1, 1, 8, 2, 1),
      (e: unknown) => e instanceof RangeError && /exceeds the cache/.test(e.message));
  });

  test('attentionCached takes fp32 or fp16 caches, both of one type, and names what is wrong', () => {
    const [C, NH, S] = [8, 2, 3];
    const run = (k: KVBuffer, v: KVBuffer) => be.attentionCached(new Float32Array(C), new Float32Array(3 * C), k, v, null, 1, 1, 1, C, NH, S);
    run(new Uint16Array(S * C), new Uint16Array(S * C));
    assert.throws(() => run(new Uint16Array(S * C), new Float32Array(S * C)), (e: unknown) => e instanceof TypeError && /kCache and vCache must be of one type/.test(e.message));
    assert.throws(() => run(new Float64Array(S * C) as unknown as Float32Array, new Float32Array(S * C)), (e: unknown) => e instanceof TypeError && /kCache must be a Float32Array \(fp32 cache\) or a Uint16Array/.test(e.message));
    assert.throws(() => run(new Uint16Array(S * C - 1), new Uint16Array(S * C)), (e: unknown) => e instanceof RangeError && /kCache has 23 elements/.test(e.message));
    assert.throws(() => run(new Float32Array(S * C), undefined as unknown as Float32Array), (e: unknown) => e instanceof TypeError && /vCache must be a Float32Array \(fp32 cache\) or a Uint16Array/.test(e.message));
  });

  test('rejects the wrong typed array type and non-integer sizes (TypeError / RangeError)', () => {
    const f = new Float32Array(4);
    assert.throws(() => be.add(f, f, new Float64Array(4) as unknown as Float32Array, 4), TypeError);
    assert.throws(() => be.embeddingForward(f, new Float32Array(1) as unknown as Int32Array, new Int32Array(1), f, f, 1, 4), TypeError);
    assert.throws(() => be.scale(f, 2, 1.5), RangeError);
    assert.throws(() => be.scale(f, 2, -1), RangeError);
  });

  test('rejects token ids and targets outside their tables instead of reading past them', () => {
    const C = 4;
    const wte = new Float32Array(3 * C);
    const wpe = new Float32Array(2 * C);
    assert.throws(() => be.embeddingForward(new Float32Array(C), Int32Array.of(3), Int32Array.of(0), wte, wpe, 1, C), /ids holds 3/);
    assert.throws(() => be.embeddingForward(new Float32Array(C), Int32Array.of(0), Int32Array.of(-1), wte, wpe, 1, C), /positions holds -1/);
    assert.throws(() => be.crossEntropyForward(new Float32Array(1), new Float32Array(5), Int32Array.of(5), 1, 5), /targets holds 5/);
  });

  test('attentionRows checks every row before computing any, and names what is wrong', () => {
    const [C, NH] = [4, 2];
    const f = (n: number) => new Float32Array(n);
    // two rows: caches of 3 and 5 slots ([NH, S, hs] = S * C floats), new tokens at their last slots
    const call = (o: { k?: Float32Array[]; v?: Float32Array[]; m?: (Int32Array | null)[]; pasts?: Int32Array } = {}) => {
      const k = o.k ?? [f(3 * C), f(5 * C)];
      be.attentionRows(f(2 * C), new Rng(3).randn(2 * 3 * C), k, o.v ?? [f(3 * C), f(5 * C)], o.m ?? [null, null], o.pasts ?? Int32Array.of(2, 4), 2, C, NH);
      return k;
    };
    const rejects = (what: string, fn: () => unknown, kind: typeof RangeError | typeof TypeError, message: RegExp): void => {
      assert.throws(fn, (e: unknown) => e instanceof kind && message.test(e.message), what);
    };
    call();
    rejects('a cache not a whole number of slots', () => call({ k: [f(3 * C), f(5 * C - 1)] }), RangeError, /kCaches\[1\] has 19 elements, not a multiple of C/);
    rejects('a new position past the cache', () => call({ pasts: Int32Array.of(2, 5) }), RangeError, /kCaches\[1\] holds 5 slots .*pasts\[1\] = 5/);
    rejects('a negative position', () => call({ pasts: Int32Array.of(-1, 4) }), RangeError, /pasts\[0\] is -1/);
    rejects('a cache that is not a Float32Array', () => call({ v: [f(3 * C), new Float64Array(5 * C) as unknown as Float32Array] }), TypeError, /vCaches\[1\] must be a Float32Array/);
    rejects('caches of a row that differ in size', () => call({ v: [f(3 * C), f(6 * C)] }), RangeError, /vCaches\[1\] has 24 elements, but kCaches\[1\] has 20/);
    rejects('a mask of the wrong length', () => call({ m: [null, new Int32Array(4)] }), RangeError, /keyMasks\[1\] has 4 elements, but kCaches\[1\] holds 5 slots/);
    rejects('one cache per row', () => call({ k: [f(3 * C)] }), RangeError, /kCaches has length 1, but B is 2/);
    rejects('not an array', () => call({ k: f(8 * C) as unknown as Float32Array[] }), TypeError, /kCaches must be an array/);
    const shared = f(7 * C); // row 0's slots 0..2 and row 1's 0..4 overlap by one slot
    rejects('two rows in one buffer', () => call({ k: [shared.subarray(0, 3 * C), shared.subarray(2 * C)] }), RangeError, /kCaches\[0\] and kCaches\[1\] share memory/);
    // fp16 caches (Uint16Array): a row's keys and values of one type, overlap measured in 2-byte elements
    const h = (n: number) => new Uint16Array(n) as unknown as Float32Array;
    call({ k: [h(3 * C), f(5 * C)], v: [h(3 * C), f(5 * C)] });
    rejects('fp16 keys, fp32 values', () => call({ k: [f(3 * C), h(5 * C)] }), TypeError, /vCaches\[1\] must be a Uint16Array, as kCaches\[1\] is/);
    rejects('a cache neither fp32 nor fp16', () => call({ k: [f(3 * C), new Float64Array(5 * C) as unknown as Float32Array] }), TypeError, /kCaches\[1\] must be a Float32Array \(fp32 cache\) or a Uint16Array \(fp16 cache\)/);
    const halves = new Uint16Array(8 * C); // row 0 slots [0, 3), row 1 [3, 8): side by side, not shared
    call({ k: [halves.subarray(0, 3 * C), halves.subarray(3 * C)] as unknown as Float32Array[], v: [h(3 * C), h(5 * C)] });
    rejects('two fp16 rows in one buffer', () => call({ k: [halves.subarray(0, 3 * C), halves.subarray(2 * C, 7 * C)] as unknown as Float32Array[], v: [h(3 * C), h(5 * C)] }),
      RangeError, /kCaches\[0\] and kCaches\[1\] share memory/);
    // a bad row 1 leaves row 0's cache as it was: nothing runs before every row is checked
    const k0 = f(3 * C).fill(7);
    assert.throws(() => call({ k: [k0, f(5 * C)], pasts: Int32Array.of(2, 9) }), RangeError);
    assert.ok(k0.every((x) => x === 7), "row 0's cache is untouched");
  });

  test('loraRows checks every factor before computing any row, and names what is wrong', () => {
    const [B, inDim, outDim, r] = [2, 3, 4, 2];
    const f = (n: number) => new Float32Array(n).fill(0.5);
    // two adapters of rank 2: A [r, in], B [out, r]
    const call = (o: { y?: Float32Array; x?: Float32Array; As?: (Float32Array | null)[]; Bs?: (Float32Array | null)[]; w?: Float32Array } = {}) => {
      const y = o.y ?? new Float32Array(B * outDim);
      be.loraRows(y, o.x ?? f(B * inDim), o.As ?? [f(r * inDim), f(r * inDim)], o.Bs ?? [f(outDim * r), f(outDim * r)], o.w ?? f(B * 2), B, inDim, outDim);
      return y;
    };
    const rejects = (what: string, fn: () => unknown, kind: typeof RangeError | typeof TypeError, message: RegExp): void => {
      assert.throws(fn, (e: unknown) => e instanceof kind && message.test(e.message), what);
    };
    // x, A, B, w all 0.5: x A^T = 3 * 0.25 per rank; each adapter adds 0.5 * 2 * 0.75 * 0.5 = 0.375
    assert.ok(call().every((v) => v === 0.75), 'y = the sum over both adapters of w (x A^T) B^T');
    rejects('A not a whole number of rows', () => call({ As: [f(r * inDim), f(5)] }), RangeError, /As\[1\] has 5 elements, not a positive multiple of inDim \(3\)/);
    rejects('B not [outDim, r]', () => call({ Bs: [f(outDim * r + 1), f(outDim * r)] }), RangeError, /Bs\[0\] has 9 elements, but B is \[outDim, r\] = \[4, 2\]/);
    rejects('one factor without the other', () => call({ As: [f(r * inDim), null] }), TypeError, /As\[1\] is null but Bs\[1\] is not/);
    rejects('As and Bs of different lengths', () => call({ Bs: [f(outDim * r)] }), RangeError, /As has 2 entries but Bs has 1/);
    rejects('a factor that is not a Float32Array', () => call({ As: [f(r * inDim), new Float64Array(r * inDim) as unknown as Float32Array] }), TypeError, /As\[1\] must be a Float32Array/);
    rejects('weights for fewer rows', () => call({ w: f(3) }), RangeError, /weights has 3 elements/);
    const buf = f(64);
    rejects('y over x', () => call({ y: buf.subarray(0, B * outDim), x: buf.subarray(4, 4 + B * inDim) }), RangeError, /y and x share memory/);
    rejects('y over a factor', () => call({ y: buf.subarray(0, B * outDim), As: [buf.subarray(2, 2 + r * inDim), f(r * inDim)] }), RangeError, /y shares memory with adapter 0's factors/);
    // a bad adapter 1 leaves y as it was: nothing runs before every factor is checked
    const y = new Float32Array(B * outDim).fill(7);
    assert.throws(() => call({ y, Bs: [f(outDim * r), f(3)] }), RangeError);
    assert.ok(y.every((v) => v === 7), 'y is untouched');
  });

  test('argmaxRows over GPT-2-sized rows (one row, and 16 on the pool) agrees with the reference', () => {
    const V = 50257;
    for (const rows of [1, 16]) {
      const x = new Rng(rows).randn(rows * V);
      x[V - 1] = 99; // row 0: the largest at its very end
      if (rows > 1) {
        x[V] = NaN; // row 1: NaN first gives 0
        x.fill(5, 2 * V + 100, 2 * V + 40000); // row 2: a long tie, the first wins
      }
      const got = new Int32Array(rows).fill(-1), want = new Int32Array(rows).fill(-1);
      be.argmaxRows(got, x, rows, V);
      ref.argmaxRows(want, x, rows, V);
      assert.deepEqual(got, want, `rows = ${rows}`);
      assert.equal(got[0], V - 1);
    }
  });

  test('streaming matmul for few rows (column blocks, odd K, transposes) agrees with the reference', () => {
    const rng = new Rng(7);
    for (const M of [1, 2, 5, 8, 9]) {
      for (const [N, K] of [[1100, 37], [513, 768]]) {
        for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
          const a = rng.randn(M * K);
          const b = rng.randn(K * N);
          const opts = { transA, transB, alpha: 0.75, beta: 0.5 };
          const init = rng.randn(M * N);
          const got = init.slice();
          const want = init.slice();
          be.matmul(got, a, b, M, N, K, opts);
          ref.matmul(want, a, b, M, N, K, opts);
          assertClose(got, want, TOL, `M=${M} N=${N} K=${K} transA=${transA} transB=${transB}`);
        }
      }
    }
  });

  test('attention over more positions than one query tile (T = 300), with a key mask and dropout', () => {
    const [B, T, C, NH] = [2, 300, 16, 2];
    const rng = new Rng(11);
    const qkv = rng.randn(B * T * 3 * C);
    const mask = padMask(B, T);
    for (const [p, seed] of [[0, 0], [0.25, 99]]) {
      const out = [new Float32Array(B * T * C), new Float32Array(B * T * C)];
      const att = [new Float32Array(B * NH * T * T), new Float32Array(B * NH * T * T)];
      be.attentionForward(out[0], att[0], qkv, mask, B, T, C, NH, p, seed);
      ref.attentionForward(out[1], att[1], qkv, mask, B, T, C, NH, p, seed);
      assertClose(out[0], out[1], TOL, `out (dropout ${p})`);
      assertClose(att[0], att[1], TOL, `att (dropout ${p})`);
      const dout = rng.randn(B * T * C);
      const dqkv = [new Float32Array(B * T * 3 * C), new Float32Array(B * T * 3 * C)];
      be.attentionBackward(dqkv[0], dout, qkv, att[1], B, T, C, NH, p, seed);
      ref.attentionBackward(dqkv[1], dout, qkv, att[1], B, T, C, NH, p, seed);
      assertClose(dqkv[0], dqkv[1], TOL, `dqkv (dropout ${p})`);
    }
  });

  test('attention keeps OpenBLAS at one thread and reuses its scratch memory (no allocation per call)', () => {
    const [B, T, C, NH] = [2, 40, 16, 2];
    const qkv = new Rng(3).randn(B * T * 3 * C);
    const att = new Float32Array(B * NH * T * T);
    const run = () => {
      be.attentionForward(new Float32Array(B * T * C), att, qkv, null, B, T, C, NH, 0.1, 5);
      be.attentionBackward(new Float32Array(B * T * 3 * C), new Float32Array(B * T * C), qkv, att, B, T, C, NH, 0.1, 5);
    };
    run();
    const held = be.info().scratchBytes;
    assert.ok(held >= 3 * T * T * 4, `scratch holds at least one head's tiles (${held} bytes)`);
    for (let i = 0; i < 3; i++) run();
    assert.equal(be.info().scratchBytes, held, 'the same shapes take no new scratch');
    assert.equal(be.info().blasThreads, 1);
  });

  test('cached attention: prefill of many positions, then decode steps, equals the reference', () => {
    const [B, C, NH, S] = [2, 32, 4, 80];
    const hs = C / NH;
    const rng = new Rng(13);
    const caches = [0, 1].map(() => ({ k: new Float32Array(B * NH * S * hs), v: new Float32Array(B * NH * S * hs) }));
    const mask = new Int32Array(B * S).fill(1);
    for (let s = 0; s < 5; s++) mask[s] = 0; // row 0 left-padded
    let past = 0;
    for (const Tq of [70, 1, 1, 3]) {
      const qkv = rng.randn(B * Tq * 3 * C);
      const out = [new Float32Array(B * Tq * C), new Float32Array(B * Tq * C)];
      be.attentionCached(out[0], qkv, caches[0].k, caches[0].v, mask, past, B, Tq, C, NH, S);
      ref.attentionCached(out[1], qkv, caches[1].k, caches[1].v, mask, past, B, Tq, C, NH, S);
      assertClose(out[0], out[1], TOL, `out at past=${past} Tq=${Tq}`);
      past += Tq;
    }
    assertClose(caches[0].k, caches[1].k, 0, 'k cache');
  });

  test('cross-entropy over a GPT-2-sized vocabulary agrees with the reference', () => {
    const [N, V] = [3, 50257];
    const rng = new Rng(17);
    const logits = rng.randn(N * V, 3);
    const targets = Int32Array.of(5, -100, 50256);
    const l = [new Float32Array(N), new Float32Array(N)];
    be.crossEntropyForward(l[0], logits, targets, N, V);
    ref.crossEntropyForward(l[1], logits, targets, N, V);
    assertClose(l[0], l[1], TOL, 'losses');
    const d = [new Float32Array(N * V), new Float32Array(N * V)];
    const dloss = Float32Array.of(0.5, 1, 2);
    be.crossEntropyBackward(d[0], logits, targets, dloss, N, V);
    ref.crossEntropyBackward(d[1], logits, targets, dloss, N, V);
    assertClose(d[0], d[1], TOL, 'dlogits');
  });

  // every kernel variant this CPU can run, forced by LORAROUTE_ISA in a child process
  const cpuIsa = native ? native.info().cpuIsa : 'baseline';
  for (const isa of ISAS.slice(0, ISAS.indexOf(cpuIsa) + 1)) {
    test(`the ${isa} kernels pass the shared backend suite and the PyTorch/PEFT parity tests (LORAROUTE_ISA=${isa})`, { timeout: 120_000 }, () => {
      const here = dirname(fileURLToPath(import.meta.url));
      const suite = join(here, '..', 'backend', 'native.test.js');
      // and the PyTorch/PEFT parity tests (logits, losses, gradients, greedy tokens) on the same forced kernels
      const golden = [join(here, '..', 'model', 'golden.test.js'), join(here, '..', 'lora', 'golden.test.js')];
      // without NODE_TEST_CONTEXT: inherited from this run, it makes the child's `node --test` skip its files
      const env: NodeJS.ProcessEnv = { ...process.env, LORAROUTE_ISA: isa };
      delete env.NODE_TEST_CONTEXT;
      const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', suite, ...golden], { encoding: 'utf8', env, timeout: 110_000 });
      assert.equal(r.status, 0, `suite on the ${isa} kernels failed:\n${r.stdout.slice(-3000)}`);
      assert.match(r.stdout, new RegExp(`the ${isa} kernels were loaded`), 'the child ran the suite on the forced kernels');
      const pass = /ℹ pass (\d+)/.exec(r.stdout), fail = /ℹ fail (\d+)/.exec(r.stdout);
      assert.ok(pass && Number(pass[1]) > 200 && fail && fail[1] === '0', `child summary: pass ${pass?.[1]}, fail ${fail?.[1]}`);
    });
  }
});
