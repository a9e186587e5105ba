import { test } from 'node:test';
import { loadNativeBackend } from '../../src/tensor/native.js';
import { backendSuite } from './suite.js';

const native = loadNativeBackend();
if (native) backendSuite(() => native, { name: 'native' });
else test('native backend suite', { skip: 'the native addon is not built (loadNativeBackend() returned null)' }, () => {});
