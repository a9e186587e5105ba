/** `loraroute doctor` names the CPU, its instruction sets, the kernels, the BLAS core and the threads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNativeBackend } from '../../src/tensor/native.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'loraroute.js');
const native = loadNativeBackend();

function doctor(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const clean = { ...process.env, ...env };
  delete clean.OPENBLAS_CORETYPE;
  delete clean.LORAROUTE_BLAS_CORETYPE;
  delete clean.LORAROUTE_ISA; // a forced level in the test run's own environment (e.g. LORAROUTE_ISA=avx2 npm test)
  Object.assign(clean, env);
  const r = spawnSync(process.execPath, [bin, 'doctor', ...args], { encoding: 'utf8', env: clean, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('doctor prints the CPU, kernels, BLAS core and threads', { skip: native ? false : 'the native addon is not built' }, () => {
  const text = doctor([]);
  for (const re of [/^cpu: +\S/m, /^kernels: +(avx512|avx2|baseline)/m, /^blas: +OpenBLAS .*; core \S+ \(/m, /^threads: +\d+ \(the engine's pool; OpenBLAS runs 1\)/m]) {
    assert.match(text, re);
  }
  const j = JSON.parse(doctor(['--json'])) as { native: { isa: string; blasCore: string; blasCoreSource: string; threads: number }; features: { level: string } };
  assert.equal(j.native.isa, j.features.level);
  assert.ok(j.native.threads >= 1);
  const forced = JSON.parse(doctor(['--json'], { LORAROUTE_ISA: 'baseline', OPENBLAS_CORETYPE: 'Prescott' })) as typeof j;
  assert.equal(forced.native.isa, 'baseline');
  assert.equal(forced.native.blasCore.toLowerCase(), 'prescott');
  assert.equal(forced.native.blasCoreSource, 'user');
  assert.match(doctor([], { LORAROUTE_ISA: 'baseline' }), /kernels: baseline \(forced; the CPU has.*decode attention: small-matmul kernels/);
});

test('doctor without the addon says the reference backend is used', () => {
  assert.match(doctor([], { LORAROUTE_NATIVE: '0' }), /native addon not available/);
});
