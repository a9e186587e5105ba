import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeBackend } from '../../src/tensor/native.js';
import { backendSuite } from './suite.js';

const native = loadNativeBackend();
// LORAROUTE_ISA forces a kernel variant (test/native/addon.test.ts runs this file once per variant)
const isa = process.env.LORAROUTE_ISA;
if (native && isa) {
  test(`the ${isa} kernels were loaded`, () => assert.equal(native.info().isa, isa));
}
if (native) backendSuite(() => native, { name: `native (${native.info().isa} kernels)` });
else test('native backend suite', { skip: 'the native addon is not built (loadNativeBackend() returned null)' }, () => {});
