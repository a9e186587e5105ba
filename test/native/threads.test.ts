/**
 * The addon's threading: its pool (OpenBLAS kept at one thread) gives the reference's results at shapes
 * large enough to be split, the same results for one thread and for several, and the addon refuses a
 * second JS thread (worker) with a clear error instead of sharing its process-wide state. Also the checks
 * on LORAROUTE_ISA. Skipped where the addon is not built.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadNativeBackend, type NativeBackend } from '../../src/tensor/native.js';
import { ReferenceBackend } from '../../src/tensor/reference.js';
import type { Backend } from '../../src/tensor/backend.js';
import { assertClose, assertExact, Rng } from '../backend/util.js';
import { padMask } from '../backend/cases.js';

const native = loadNativeBackend();
const skip = native ? false : 'the native addon is not built';
const nativeUrl = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'tensor', 'native.js')).href;

/** Every op that the pool splits, at shapes that are split; returns the outputs by name. */
function splitOps(be: Backend): Record<string, Float32Array> {
  const rng = new Rng(21);
  const out: Record<string, Float32Array> = {};
  const n = 300_001; // odd: the last chunk is short
  const x = rng.randn(n), y = rng.randn(n);
  out.gelu = new Float32Array(n);
  be.geluForward(out.gelu, x, n);
  out.geluBack = new Float32Array(n);
  be.geluBackward(out.geluBack, x, y, n);
  out.add = new Float32Array(n);
  be.add(out.add, x, y, n);
  out.mul = new Float32Array(n);
  be.mul(out.mul, x, y, n);
  out.axpy = y.slice();
  be.axpy(out.axpy, x, 0.5, n);
  out.scale = x.slice();
  be.scale(out.scale, 1.5, n);
  out.dropout = new Float32Array(n);
  be.dropoutMask(out.dropout, n, 0.1, 7, 4_294_000_000); // the hash index wraps past 2^32
  out.sumSquares = Float32Array.of(be.sumSquares(x, n));
  const p = rng.randn(n), g = rng.randn(n), m = rng.randn(n, 0.1), v = rng.rand(n, 0, 0.1);
  be.adamw(p, g, m, v, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3);
  Object.assign(out, { adamP: p, adamM: m, adamV: v });
  const [N, C] = [300, 768];
  const xs = rng.randn(N * C, 2), w = rng.randn(C), b = rng.randn(C);
  out.ln = new Float32Array(N * C);
  out.lnMean = new Float32Array(N);
  out.lnRstd = new Float32Array(N);
  be.layernormForward(out.ln, out.lnMean, out.lnRstd, xs, w, b, N, C, 1e-5);
  out.lnBack = new Float32Array(N * C);
  be.layernormBackward(out.lnBack, null, null, rng.randn(N * C), xs, w, out.lnMean, out.lnRstd, N, C, false);
  out.bias = rng.randn(N * C);
  be.addBias(out.bias, b, N, C);
  const [R, V] = [6, 50257];
  const logits = rng.randn(R * V, 3), targets = Int32Array.of(1, 50256, -100, 7, 3, 9);
  out.xent = new Float32Array(R);
  be.crossEntropyForward(out.xent, logits, targets, R, V);
  out.xentBack = new Float32Array(R * V);
  be.crossEntropyBackward(out.xentBack, logits, targets, rng.rand(R, 0.5, 2), R, V);
  const ids = rng.ints(256, 1000), pos = rng.ints(256, 64), wte = rng.randn(1000 * C), wpe = rng.randn(64 * C);
  out.emb = new Float32Array(256 * C);
  be.embeddingForward(out.emb, ids, pos, wte, wpe, 256, C);
  // matmuls: split by columns, by rows, few-row streaming split by columns
  for (const [M, Nn, K, tA, tB] of [[128, 1536, 256, false, false], [2000, 64, 256, false, true], [256, 1536, 128, true, false], [1, 50257, 768, false, true], [4, 3072, 768, false, false]] as const) {
    const a = rng.randn(M * K), bm = rng.randn(K * Nn);
    const o = rng.randn(M * Nn);
    be.matmul(o, a, bm, M, Nn, K, { transA: tA, transB: tB, beta: 0.5 });
    out[`matmul ${M}x${Nn}x${K}${tA ? ' tA' : ''}${tB ? ' tB' : ''}`] = o;
  }
  const [Bb, T, Ca, NH] = [2, 96, 64, 4];
  const qkv = rng.randn(Bb * T * 3 * Ca);
  out.att = new Float32Array(Bb * NH * T * T);
  out.attOut = new Float32Array(Bb * T * Ca);
  be.attentionForward(out.attOut, out.att, qkv, padMask(Bb, T), Bb, T, Ca, NH, 0.1, 3);
  out.attBack = new Float32Array(Bb * T * 3 * Ca);
  be.attentionBackward(out.attBack, rng.randn(Bb * T * Ca), qkv, out.att, Bb, T, Ca, NH, 0.1, 3);
  return out;
}

describe('native threading', { skip }, () => {
  const be = native as NativeBackend;

  test('ops split over the pool agree with the reference backend', () => {
    const want = splitOps(new ReferenceBackend());
    const got = splitOps(be);
    for (const k of Object.keys(want)) assertClose(got[k], want[k], 1e-5, k);
  });

  test('one thread and several give the same results (bit for bit outside sgemm blocks)', () => {
    const threads = be.info().threads;
    try {
      be.setThreads(1);
      assert.equal(be.info().threads, 1);
      const one = splitOps(be);
      be.setThreads(3);
      assert.equal(be.info().threads, 3);
      const three = splitOps(be);
      for (const k of Object.keys(one)) {
        if (k.startsWith('matmul')) assertClose(three[k], one[k], 1e-6, k);
        else assertExact(three[k], one[k], k);
      }
    } finally {
      be.setThreads(threads);
    }
  });

  test('a second JS thread (worker) is refused with an error that says why', () => {
    const code = `
      import { Worker } from 'node:worker_threads';
      const { loadNativeBackend } = await import(${JSON.stringify(nativeUrl)});
      const main = loadNativeBackend();
      const w = new Worker(\`
        const { parentPort } = require('node:worker_threads');
        import(\${JSON.stringify(${JSON.stringify(nativeUrl)})}).then((m) => {
          try { m.loadNativeBackend(); parentPort.postMessage({ ok: true }); }
          catch (e) { parentPort.postMessage({ name: e.name, message: e.message }); }
        });\`, { eval: true, execArgv: [] });
      w.on('message', (m) => { console.log(JSON.stringify({ main: main !== null, worker: m })); w.terminate(); });`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { main: boolean; worker: { name?: string; message?: string; ok?: boolean } };
    assert.equal(res.main, true);
    assert.equal(res.worker.name, 'LoraRouteError', JSON.stringify(res.worker));
    assert.match(res.worker.message ?? '', /another JS thread/);
  });

  test('LORAROUTE_AMX must be 0 or 1: anything else is a LoraRouteError before the addon loads', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e',
      `const { loadNativeBackend } = await import(${JSON.stringify(nativeUrl)});
       try { console.log(JSON.stringify({ kernel: loadNativeBackend().info().logitScreenKernel })); }
       catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }`],
    { encoding: 'utf8', env: { ...process.env, LORAROUTE_AMX: 'yes' }, timeout: 60_000 });
    const res = JSON.parse(r.stdout.trim()) as { kernel?: string; name?: string; message?: string };
    assert.equal(res.name, 'LoraRouteError', r.stdout);
    assert.match(res.message ?? '', /LORAROUTE_AMX is "yes": expected 0 .* or 1/);
  });

  test('LORAROUTE_ISA must name a level, and one this CPU has', () => {
    const run = (isa: string) => spawnSync(process.execPath, ['--input-type=module', '-e',
      `const { loadNativeBackend } = await import(${JSON.stringify(nativeUrl)});
       try { console.log(JSON.stringify({ isa: loadNativeBackend().info().isa })); }
       catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }`],
    { encoding: 'utf8', env: { ...process.env, LORAROUTE_ISA: isa }, timeout: 60_000 });
    const parse = (isa: string) => JSON.parse(run(isa).stdout.trim()) as { isa?: string; name?: string; message?: string };
    const bad = parse('sse9');
    assert.equal(bad.name, 'LoraRouteError');
    assert.match(bad.message ?? '', /LORAROUTE_ISA is "sse9": expected baseline, avx2 or avx512/);
    assert.equal(parse('baseline').isa, 'baseline');
    if (be.info().cpuIsa !== 'avx512') {
      const above = parse('avx512');
      assert.equal(above.name, 'LoraRouteError');
      assert.match(above.message ?? '', /only has/);
    }
  });
});
