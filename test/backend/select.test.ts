import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoraRouteError } from '../../src/errors.js';
import { loadNativeBackend } from '../../src/tensor/native.js';
import { ReferenceBackend } from '../../src/tensor/reference.js';
import { getBackend, type BackendName } from '../../src/tensor/select.js';

const hasNative = loadNativeBackend() !== null;

test('getBackend("reference") gives the reference backend, silently', () => {
  const warnings: string[] = [];
  const be = getBackend('reference', (m) => warnings.push(m));
  assert.ok(be instanceof ReferenceBackend);
  assert.equal(be.name, 'reference');
  assert.deepEqual(warnings, []);
});

test('getBackend("native") without the addon throws a LoraRouteError that says how to fix it', { skip: hasNative && 'the addon is built' }, () => {
  assert.throws(() => getBackend('native', () => {}), (e: unknown) => {
    assert.ok(e instanceof LoraRouteError);
    assert.match(e.message, /native/);
    assert.match(e.message, /reference/); // names the way out
    return true;
  });
});

test('getBackend("native") with the addon gives the native backend', { skip: !hasNative && 'the addon is not built' }, () => {
  assert.equal(getBackend('native', () => {}).name, 'native');
});

test('getBackend with an unknown name throws a LoraRouteError naming it and the choices', () => {
  for (const name of ['gpu', 'Reference', '']) {
    assert.throws(() => getBackend(name as BackendName, () => {}), (e: unknown) => {
      assert.ok(e instanceof LoraRouteError, `"${name}": ${String(e)}`);
      assert.ok(e.message.includes(`"${name}"`), e.message);
      assert.match(e.message, /auto.*native.*reference/);
      return true;
    }, `getBackend("${name}") returned a backend instead of throwing (it must reject the name before trying the addon)`);
  }
});

// Keep last: the once-only warning is process-wide state.
test('getBackend("auto") falls back to the reference backend and warns once', () => {
  const warnings: string[] = [];
  const warn = (m: string): number => warnings.push(m);
  const a = getBackend('auto', warn);
  const b = getBackend(undefined, warn);
  if (hasNative) {
    assert.equal(a.name, 'native');
    assert.deepEqual(warnings, []);
  } else {
    assert.equal(a.name, 'reference');
    assert.equal(b.name, 'reference');
    assert.equal(warnings.length, 1, `warnings: ${JSON.stringify(warnings)}`);
    assert.match(warnings[0], /reference/);
  }
});
