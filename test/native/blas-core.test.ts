/**
 * OpenBLAS's core type: loraroute sets OPENBLAS_CORETYPE from the CPU's ISA before libopenblas loads (unless
 * the user set it), and every core this CPU can run gives products that agree with the reference backend.
 * Each core is forced in a child process (OpenBLAS reads the variable once, when it initialises).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { blasCoreFor, loadNativeBackend } from '../../src/tensor/native.js';

const native = loadNativeBackend();
const skip = native ? false : 'the native addon is not built';
const src = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'tensor');
const url = (f: string) => JSON.stringify(pathToFileURL(join(src, f)).href);

/** In a child with `env`: the info and the worst relative error of a few products against the reference. */
function probe(env: Record<string, string | undefined>): { info: { blasCore: string; blasCoreSource: string }; err: number } {
  const code = `
    const { loadNativeBackend } = await import(${url('native.js')});
    const { ReferenceBackend } = await import(${url('reference.js')});
    const be = loadNativeBackend(), ref = new ReferenceBackend();
    let s = 1, err = 0;
    const rand = (n) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5);
    for (const [M, N, K, tA, tB] of [[64, 96, 80, false, false], [33, 70, 129, true, false], [128, 64, 64, false, true], [9, 300, 77, true, true]]) {
      const a = rand(M * K), b = rand(K * N), x = new Float32Array(M * N), y = new Float32Array(M * N);
      be.matmul(x, a, b, M, N, K, { transA: tA, transB: tB });
      ref.matmul(y, a, b, M, N, K, { transA: tA, transB: tB });
      const scale = y.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < x.length; i++) err = Math.max(err, Math.abs(x[i] - y[i]) / scale);
    }
    console.log(JSON.stringify({ info: be.info(), err }));`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', env: childEnv, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as ReturnType<typeof probe>;
}

describe('OpenBLAS core type', { skip }, () => {
  const cpuIsa = native ? native.info().cpuIsa : 'baseline';

  test('unset, loraroute chooses the core for the CPU\'s ISA before OpenBLAS loads', () => {
    const r = probe({ OPENBLAS_CORETYPE: undefined, LORAROUTE_BLAS_CORETYPE: undefined });
    const want = blasCoreFor(cpuIsa);
    if (want) {
      assert.equal(r.info.blasCore.toLowerCase(), want.toLowerCase());
      assert.equal(r.info.blasCoreSource, 'loraroute');
    } else {
      assert.equal(r.info.blasCoreSource, 'openblas');
    }
    assert.ok(r.err < 1e-5, `max relative error ${r.err}`);
  });

  const cores = ['Prescott', ...(cpuIsa !== 'baseline' ? ['Haswell'] : []), ...(cpuIsa === 'avx512' ? ['SkylakeX'] : [])];
  for (const core of cores) {
    test(`OPENBLAS_CORETYPE=${core} (the user's choice) is kept, and its products agree with the reference`, () => {
      const r = probe({ OPENBLAS_CORETYPE: core, LORAROUTE_BLAS_CORETYPE: undefined });
      assert.equal(r.info.blasCore.toLowerCase(), core.toLowerCase());
      assert.equal(r.info.blasCoreSource, 'user');
      assert.ok(r.err < 1e-5, `${core}: max relative error ${r.err}`);
    });
  }
});
