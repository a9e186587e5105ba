/**
 * The one test suite every compute backend must pass (tfjs-core / hono style). A backend's test file is
 * one call:
 *
 *   backendSuite(() => new MyBackend(), { name: 'mine' });
 *
 * It registers node:test tests for every op of the contract in src/tensor/backend.ts:
 *   (a) agreement with a float64 oracle (oracle.ts, independent of every backend) on awkward shapes,
 *       within `tolerance` × the tensor's scale;
 *   (b) backward ops against finite differences of the forward ops (on the backend under test alone);
 *   (c) semantics: KV-cache attention = full attention, dropout = the shared hash, AdamW = PyTorch's, ...;
 *   (d) no writes outside documented ranges, no reads past a buffer, inputs left unchanged.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/tensor/backend.js';
import { agreementTests } from './agreement.js';
import { gradientTests } from './gradcheck.js';
import { semanticsTests } from './semantics.js';

export interface BackendSuiteOptions {
  /** shown in the test names */
  name: string;
  /** relative tolerance against the oracle, as a fraction of each tensor's largest value (default 1e-5) */
  tolerance?: number;
  /** relative tolerance of the finite-difference gradient checks (default 1e-2) */
  gradTolerance?: number;
}

export function backendSuite(makeBackend: () => Backend, opts: BackendSuiteOptions): void {
  const tol = opts.tolerance ?? 1e-5;
  const gradTol = opts.gradTolerance ?? 1e-2;
  // made once, on first use, and shared by the tests (a backend may be costly to set up)
  let instance: Backend | undefined;
  const backend = (): Backend => (instance ??= makeBackend());

  describe(`backend suite: ${opts.name}`, () => {
    test('has a short name', () => {
      const name = backend().name;
      assert.equal(typeof name, 'string');
      assert.ok(/^[a-z][a-z0-9-]*$/.test(name), `backend name "${name}"`);
    });
    agreementTests(backend, tol);
    gradientTests(backend, gradTol);
    semanticsTests(backend, tol);
  });
}
