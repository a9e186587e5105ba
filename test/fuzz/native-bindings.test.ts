/**
 * Fuzz of the native addon's arguments: every binding it exports, called with hostile sizes (huge, negative,
 * NaN, fractional, non-numbers), hostile buffers (empty, one short, detached, wrong types) and hostile ids,
 * must throw a RangeError or TypeError naming the argument — never crash, never return. The calls run in a
 * child process (test/fuzz/native-bindings-cases.ts) so that a crash is reported here as a failure with its
 * signal. Fixed seed, a bounded time (about 2 s of random cases). Skipped when the addon is not built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNativeBackend, nativeAddonPath } from '../../src/tensor/native.js';
import type { FuzzReport } from './native-bindings-cases.js';

const addonPath = nativeAddonPath();
// the addon itself, whether or not LORAROUTE_NATIVE switches the backend off
const built = addonPath !== null && existsSync(addonPath) && loadNativeBackend({ env: {} }) !== null;
const SEED = 20240611;
const RANDOM_MILLIS = 2000;

test('every native binding throws RangeError / TypeError on hostile arguments, never crashes', {
  skip: built ? false : 'the native addon is not built (build/Release/loraroute_native.node) or cannot be loaded here: nothing to fuzz',
  timeout: 60_000,
}, () => {
  const runner = join(dirname(fileURLToPath(import.meta.url)), 'native-bindings-cases.js');
  const r = spawnSync(process.execPath, [runner, addonPath as string, String(SEED), String(RANDOM_MILLIS)], {
    encoding: 'utf8', timeout: 50_000, maxBuffer: 16 << 20,
  });
  assert.equal(r.signal, null, `the fuzz process died of ${r.signal} (a crash in the addon):\n${r.stderr.slice(-2000)}`);
  assert.equal(r.status, 0, `the fuzz process exited ${r.status}:\n${r.stderr.slice(-2000)}`);
  const report = JSON.parse(r.stdout.trim().split('\n').pop() as string) as FuzzReport;
  assert.deepEqual(report.undescribed, [], 'bindings the fuzz does not describe (add them to native-bindings-cases.ts)');
  assert.ok(report.bindings.length >= 26, `the addon exports ${report.bindings.length} bindings`);
  assert.ok(report.cases > 1000 && report.randomCases > 100, `only ${report.cases} cases (${report.randomCases} random) ran`);
  const lines = report.failures.map((f) => `${f.binding}(${f.what}): ${f.got}`);
  assert.deepEqual(lines, [], `hostile calls that did not throw as they should:\n${lines.join('\n')}`);
});
