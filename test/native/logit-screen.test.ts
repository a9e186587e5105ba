/**
 * argmaxLogits on the native backend over an LM head read from fp16 panels (inside withHalfWeights), where
 * it screens the logits at int8 (AVX-512 VNNI) and computes exactly only the columns the screen cannot rule
 * out: its tokens must be exactly the argmax of the logits matmul gives there — on logit-like rows, on exact
 * ties (the first of equal maxima), on near-ties one fp16 step apart, with the argmax in the last V % 16
 * columns, and on rows the bound does not cover (NaN, infinities, subnormals, huge values, all zeros), which
 * get their whole logits. Counters show which rows the screen decided. Skipped without the addon or F16C; the
 * screen itself needs AVX-512 VNNI (elsewhere every row is computed whole, and the same equalities hold). Where
 * its sums run on AMX, the file runs once more in a child process with LORAROUTE_AMX=0 (the VNNI kernel).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { detectCpu, loadNativeBackend } from '../../src/tensor/native.js';
import { Rng } from '../backend/util.js';

const native = loadNativeBackend();
const hasHalf = native !== null && native.halfWeights(new Float32Array(8)) !== null;

describe('argmaxLogits over fp16 panels (the int8 screen)', { skip: hasHalf ? false : 'no native addon, or no F16C on this CPU' }, () => {
  const be = native as NonNullable<typeof native>;
  const screens = be.info().logitScreen === 'int8';
  const counts = () => ({ screened: be.info().logitScreenRows, exact: be.info().logitExactRows });

  /** W [V, C] at float offset 3 of a buffer, its fp16 copy packed as an LM head */
  function head(w: Float32Array, V: number, C: number) {
    const buffer = new Float32Array(3 + V * C);
    buffer.set(w, 3);
    const W = buffer.subarray(3);
    const half = be.halfWeights(buffer, [{ offset: 3, K: C, N: V, transposed: true }]);
    assert.ok(half);
    return { W, half };
  }

  /** argmaxLogits and the matmul's argmax, both inside withHalfWeights */
  function both(h: ReturnType<typeof head>, x: Float32Array, M: number, V: number, C: number) {
    const got = new Int32Array(M).fill(-1);
    const want = new Int32Array(M).fill(-2);
    const logits = new Float32Array(M * V);
    be.withHalfWeights(h.half, () => {
      be.argmaxLogits(got, x, h.W, M, V, C);
      be.matmul(logits, x, h.W, M, V, C, { transB: true });
      be.argmaxRows(want, logits, M, V);
    });
    return { got, want, logits };
  }

  test('logit-like rows (1 to 40 of them, the argmax anywhere, also in the tail): the matmul\'s argmax', () => {
    const rng = new Rng(5);
    const [V, C] = [2000 + 7, 128];
    const w = rng.randn(V * C, 0.1);
    const h = head(w, V, C);
    const before = counts();
    let screenedRows = 0;
    for (const M of [1, 2, 3, 16, 17, 40]) {
      const x = rng.randn(M * C, 1);
      // some rows lean to one column: a tail column, the first, the last panel's last
      for (let r = 0; r < M; r++) {
        const col = [V - 1, V - 4, 0, V - 8, rng.int(V)][r % 5];
        for (let k = 0; k < C; k++) x[r * C + k] += (r % 2 ? 30 : 3) * w[col * C + k];
      }
      const { got, want } = both(h, x, M, V, C);
      assert.deepEqual([...got], [...want], `M=${M}`);
      if (M >= 2) screenedRows += M;
    }
    if (screens) {
      const after = counts();
      assert.equal(after.screened - before.screened, screenedRows, 'every row of M >= 2 was decided by the screen');
      assert.equal(after.exact, before.exact, 'no row needed its whole logits');
    }
    h.half.release();
  });

  test('widths that end in a part of a 64-byte step and panel counts that are not a multiple of 4 (every row screened): the matmul\'s argmax', () => {
    // AMX takes the sums 64 bytes of a row (16 quads) at a time and four panels at a time; the widths here
    // leave 1 to 15 quads in the last step, and V leaves 1 to 3 panels after the last group of four
    const rng = new Rng(31);
    for (const [V, C] of [[16 * 5 + 3, 4], [16 * 6, 60], [16 * 7 + 1, 64], [16 * 9 + 15, 68], [16 * 13, 132], [16 * 4, 200], [16 * 2, 1024]] as const) {
      const w = rng.randn(V * C, 0.1);
      const h = head(w, V, C);
      for (const M of [2, 7, 16]) {
        const x = rng.randn(M * C, 1);
        for (let r = 0; r < M; r++) {
          const col = rng.int(V);
          for (let k = 0; k < C; k++) x[r * C + k] += 4 * w[col * C + k];
        }
        const before = counts();
        const { got, want } = both(h, x, M, V, C);
        assert.deepEqual([...got], [...want], `V=${V} C=${C} M=${M}`);
        if (screens) assert.equal(counts().screened - before.screened, M, `V=${V} C=${C} M=${M}: the screen decided every row`);
      }
      h.half.release();
    }
  });

  test('its sums run on AMX where the CPU has AMX-INT8 (unless LORAROUTE_AMX=0), else on AVX-512 VNNI', () => {
    const info = be.info();
    if (!screens) return assert.equal(info.logitScreenKernel, 'none');
    const amx = process.env.LORAROUTE_AMX !== '0' && (detectCpu()?.amxInt8 ?? false);
    assert.equal(info.logitScreenKernel, amx ? 'amx' : 'avx512vnni');
  });

  test('where the sums run on AMX, this file passes on the VNNI kernel too (a child process with LORAROUTE_AMX=0)', { timeout: 120_000 }, (t) => {
    if (be.info().logitScreenKernel !== 'amx') return t.skip('the screen does not run on AMX here');
    const env: NodeJS.ProcessEnv = { ...process.env, LORAROUTE_AMX: '0' };
    delete env.NODE_TEST_CONTEXT; // inherited from this run, it makes the child's `node --test` skip its file
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', fileURLToPath(import.meta.url)], { encoding: 'utf8', env, timeout: 110_000 });
    assert.equal(r.status, 0, `the VNNI kernel failed:\n${r.stdout.slice(-3000)}`);
    const pass = /ℹ pass (\d+)/.exec(r.stdout), fail = /ℹ fail (\d+)/.exec(r.stdout);
    assert.ok(pass && Number(pass[1]) >= 10 && fail?.[1] === '0', `child summary: pass ${pass?.[1]}, fail ${fail?.[1]}`);
  });

  test('exact ties give the first of equal maxima; near-ties one fp16 step apart are decided exactly', () => {
    const rng = new Rng(9);
    const [V, C] = [1000 + 3, 64];
    const w = rng.randn(V * C, 0.1);
    const copy = (from: number, to: number) => w.copyWithin(to * C, from * C, (from + 1) * C);
    copy(100, 101); // same panel
    copy(100, 517); // a later panel
    copy(100, V - 1); // the tail
    copy(700, 40); // the later column is copied first: the tie goes to 40
    copy(300, 301);
    w[301 * C + 5] += 2 ** -10 * Math.sign(w[301 * C + 5]); // a few fp16 steps away from column 300
    copy(800, 801);
    w[801 * C + 7] = Math.fround(w[801 * C + 7] * (1 + 2 ** -10));
    const h = head(w, V, C);
    const M = 16;
    const x = rng.randn(M * C, 0.2);
    const lean = [100, 700, 300, 301, 800, 801, 40, 517];
    for (let r = 0; r < M; r++) for (let k = 0; k < C; k++) x[r * C + k] += 20 * w[lean[r % lean.length] * C + k];
    const before = counts();
    const { got, want, logits } = both(h, x, M, V, C);
    assert.deepEqual([...got], [...want]);
    if (screens) assert.equal(counts().screened - before.screened, M, 'the screen decided every row');
    assert.equal(got[0], 100, 'a tie between 100, 101, 517 and the tail goes to 100');
    assert.equal(logits[0 * V + 100], logits[0 * V + 517]);
    assert.equal(got[1], 40, 'a tie between 40 and 700 goes to 40');
    h.half.release();
  });

  test('int8 copies that rank two columns the wrong way round: the bound keeps the exact argmax', () => {
    // Row 0 hides the deciding values in its own quantisation (0.07 next to 20 rounds to 0): its int8 copy
    // sees column 40 ahead of column 5 by 0.16, the exact logits put 5 ahead by 0.06 (the row's residual
    // term of the bound). Row 1 is exact in int8, but column 7's small weights (1/32 next to 8) round to 0:
    // its copy sees column 50 ahead by 0.5, the exact logits put 7 ahead by 0.38 (the columns' residual term).
    const rng = new Rng(29);
    const [V, C] = [64 + 3, 32];
    const w = rng.randn(V * C, 0.01);
    const sign = Array.from({ length: C }, () => (rng.int(2) ? 1 : -1));
    const x = new Float32Array(2 * C);
    for (const col of [5, 40, 7, 50]) w.fill(0, col * C, col * C + C);
    w[5 * C] = 127 / 128;
    w[40 * C] = 1;
    w[7 * C + 1] = 8;
    w[50 * C + 1] = 8.25;
    x[0] = 20;
    x[C + 1] = 127 / 64;
    for (let k = 2; k < C; k++) {
      w[5 * C + k] = (13 / 128) * sign[k];
      w[7 * C + k] = (1 / 32) * (k % 3 ? 1 : -1);
      x[k] = 0.07 * sign[k];
      x[C + k] = (60 / 64) * (k % 3 ? 1 : -1);
    }
    const h = head(w, V, C);
    const before = counts();
    const { got, want } = both(h, x, 2, V, C);
    assert.deepEqual([...want], [5, 7], 'the exact argmaxes');
    assert.deepEqual([...got], [...want]);
    if (screens) assert.equal(counts().screened - before.screened, 2, 'the screen decided both rows');
    h.half.release();
  });

  test('rows the bound does not cover get their whole logits: NaN, infinities, subnormals, huge values, zeros', () => {
    const rng = new Rng(13);
    const [V, C] = [512 + 5, 32];
    const w = rng.randn(V * C, 0.1);
    const h = head(w, V, C);
    const M = 8;
    const x = rng.randn(M * C, 1);
    x[0 * C] = NaN; // a NaN first: every logit NaN, argmax 0
    x[1 * C + 3] = Infinity;
    x[2 * C + 4] = -Infinity;
    x[3 * C + 5] = 1e-40; // subnormal
    x[4 * C + 6] = 3e37; // huge
    x.fill(0, 5 * C, 6 * C); // every logit 0: a tie over all columns, argmax 0
    const before = counts();
    const { got, want } = both(h, x, M, V, C);
    assert.deepEqual([...got], [...want]);
    assert.equal(got[0], 0);
    assert.equal(got[5], 0);
    if (screens) {
      const after = counts();
      assert.equal(after.exact - before.exact, 6, 'six rows computed whole');
      assert.equal(after.screened - before.screened, 2, 'two rows screened');
    }
    h.half.release();
  });

  test('a weight that is infinite in fp16, a C that is not a multiple of 4, a V below one panel: every row computed whole, same argmax', () => {
    const rng = new Rng(17);
    for (const [V, C, big] of [[300, 16, true], [300, 15, false], [300, 18, false], [9, 16, false]] as const) {
      const w = rng.randn(V * C, 0.1);
      if (big) w[37 * C + 2] = 1e6; // past fp16's range: an infinite fp16 weight, the bound cannot hold
      const h = head(w, V, C);
      const M = 5;
      const x = rng.randn(M * C, 1);
      const before = counts();
      const { got, want } = both(h, x, M, V, C);
      assert.deepEqual([...got], [...want], `V=${V} C=${C}`);
      assert.equal(counts().screened, before.screened, 'nothing screened');
      h.half.release();
    }
  });

  test('without fp16 panels (outside withHalfWeights, or a released copy) it is the fp32 matmul\'s argmax', () => {
    const rng = new Rng(23);
    const [V, C] = [777, 48];
    const h = head(rng.randn(V * C, 0.1), V, C);
    const M = 12;
    const x = rng.randn(M * C, 1);
    const logits = new Float32Array(M * V);
    const want = new Int32Array(M);
    be.matmul(logits, x, h.W, M, V, C, { transB: true });
    be.argmaxRows(want, logits, M, V);
    const got = new Int32Array(M);
    be.argmaxLogits(got, x, h.W, M, V, C);
    assert.deepEqual([...got], [...want], 'outside withHalfWeights');
    h.half.release();
    got.fill(-1);
    be.withHalfWeights(h.half, () => be.argmaxLogits(got, x, h.W, M, V, C));
    assert.deepEqual([...got], [...want], 'a released copy');
  });

  test('argmaxLogitsBegin/End: the same tokens, from a copy of the rows, whatever runs in between', () => {
    const rng = new Rng(31);
    const [V, C] = [1500 + 9, 64];
    const w = rng.randn(V * C, 0.1);
    const h = head(w, V, C);
    const M = 16;
    const x = rng.randn(M * C, 1);
    for (let r = 0; r < M; r++) for (let k = 0; k < C; k++) x[r * C + k] += 5 * w[((r * 97) % V) * C + k];
    x[3 * C + 1] = NaN; // a row the bound does not cover
    const { want } = both(h, x, M, V, C);
    const y = rng.randn(4 * C, 1), yWant = both(h, y, 4, V, C).want;
    const a = rng.randn(16 * C, 1), b = rng.randn(C * 256, 1), got = new Float32Array(16 * 256), ref = new Float32Array(16 * 256);
    be.matmul(ref, a, b, 16, 256, C);
    be.withHalfWeights(h.half, () => {
      const before = counts();
      const started = be.argmaxLogitsBegin(x, h.W, M, V, C);
      assert.equal(started, screens, 'it starts where the CPU screens');
      if (!started) return;
      const kept = Float32Array.from(x);
      x.set(rng.randn(M * C, 50)); // the rows were copied
      // meanwhile: a pool job, and a second, synchronous argmaxLogits (which finishes the pending one first)
      be.matmul(got, a, b, 16, 256, C);
      const yGot = new Int32Array(4);
      be.argmaxLogits(yGot, y, h.W, 4, V, C);
      assert.deepEqual([...yGot], [...yWant], 'the synchronous call in between');
      const out = new Int32Array(M).fill(-1);
      be.argmaxLogitsEnd(out, M);
      assert.deepEqual([...out], [...want], 'the pending tokens');
      assert.equal(counts().screened - before.screened, M - 1 + 4, 'the screen decided the covered rows');
      x.set(kept);
      assert.deepEqual(got, ref, 'the pool job in between (inline on this thread: the same kernels, the same bits)');
      assert.throws(() => be.argmaxLogitsEnd(out, M), /no argmaxLogitsBegin of 16 rows is pending/, 'each begin ends once');
      // a second begin drops the first one's tokens; releasing the fp16 copy finishes a pending one first
      assert.ok(be.argmaxLogitsBegin(y, h.W, 4, V, C));
      assert.ok(be.argmaxLogitsBegin(x, h.W, M, V, C));
      assert.throws(() => be.argmaxLogitsEnd(new Int32Array(4), 4), /no argmaxLogitsBegin of 4 rows/, 'the pending one has M rows');
      assert.throws(() => be.argmaxLogitsEnd(new Int32Array(4), M), RangeError, 'out is shorter than its rows');
      h.half.release();
      be.argmaxLogitsEnd(out.fill(-1), M);
      assert.deepEqual([...out], [...want], 'after the release');
    });
    // the pool resized while a screen is pending: its workers finish their part first
    const h2 = head(w, V, C), threads = be.info().threads;
    be.withHalfWeights(h2.half, () => {
      if (!be.argmaxLogitsBegin(x, h2.W, M, V, C)) return;
      be.setThreads(1);
      const out = new Int32Array(M).fill(-1);
      be.argmaxLogitsEnd(out, M);
      be.setThreads(threads);
      assert.deepEqual([...out], [...want], 'after a resize of the pool');
    });
    h2.half.release();
    h.half.release();
  });

  test('argmaxLogitsBegin declines what it would not screen: no fp16 panels, one row, more than 16 rows', () => {
    const rng = new Rng(37);
    const [V, C] = [300, 32];
    const h = head(rng.randn(V * C, 0.1), V, C);
    const x = rng.randn(20 * C, 1);
    assert.equal(be.argmaxLogitsBegin(x, h.W, 4, V, C), false, 'outside withHalfWeights');
    be.withHalfWeights(h.half, () => {
      assert.equal(be.argmaxLogitsBegin(x, h.W, 1, V, C), false, 'one row');
      assert.equal(be.argmaxLogitsBegin(x, h.W, 17, V, C), false, '17 rows');
    });
    assert.throws(() => be.argmaxLogitsBegin(x.subarray(1), h.W, 20, V, C), RangeError);
    h.half.release();
  });

  test('wrong lengths are refused before anything runs', () => {
    const [V, C, M] = [40, 8, 3];
    const w = new Float32Array(V * C);
    assert.throws(() => be.argmaxLogits(new Int32Array(M), new Float32Array(M * C - 1), w, M, V, C), (e: Error) => e instanceof RangeError && /\bx\b/.test(e.message));
    assert.throws(() => be.argmaxLogits(new Int32Array(M), new Float32Array(M * C), w.subarray(1), M, V, C), (e: Error) => e instanceof RangeError && /\bw\b/.test(e.message));
    assert.throws(() => be.argmaxLogits(new Int32Array(M - 1), new Float32Array(M * C), w, M, V, C), (e: Error) => e instanceof RangeError && /\bout\b/.test(e.message));
    assert.throws(() => be.argmaxLogits(new Int32Array(M), new Float32Array(M * C), w, M, 0, C), RangeError);
  });
});
