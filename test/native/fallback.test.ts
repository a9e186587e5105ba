/**
 * The package works without the addon: loadNativeBackend() gives null (never throws) when the addon is
 * missing, unloadable or switched off, and getBackend('auto') then falls back to the reference backend
 * with one warning. Run in child processes where the once-only warning (process state) is involved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadNativeBackend, nativeAddonPath, packageRoot, ADDON_FILE } from '../../src/tensor/native.js';

const distSrc = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

test('packageRoot finds the loraroute package root from the compiled module', () => {
  const root = packageRoot();
  assert.ok(root, 'a root was found');
  assert.ok(existsSync(join(root, 'package.json')));
  assert.equal(nativeAddonPath(), join(root, 'build', 'Release', ADDON_FILE));
});

test('loadNativeBackend gives null for a missing addon file', () => {
  assert.equal(loadNativeBackend({ addonPath: join(tmpdir(), 'no-such-dir', ADDON_FILE) }), null);
});

test('loadNativeBackend gives null, without throwing, for a file that is not a loadable addon', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loraroute-native-'));
  try {
    const bad = join(dir, ADDON_FILE);
    writeFileSync(bad, 'this is not an ELF shared object');
    assert.equal(loadNativeBackend({ addonPath: bad }), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LORAROUTE_NATIVE=0 switches the addon off', () => {
  for (const v of ['0', 'off', 'false', ' OFF ']) assert.equal(loadNativeBackend({ env: { LORAROUTE_NATIVE: v } }), null, v);
});

/** runs an ES module snippet against the compiled sources in a fresh process */
function runModule(code: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const selectUrl = pathToFileURL(join(distSrc, 'tensor', 'select.js')).href;
  const src = `import { getBackend } from ${JSON.stringify(selectUrl)};\n${code}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('without the addon, getBackend("auto") falls back to the reference backend and warns once', () => {
  const r = runModule(
    `const w = [];
     const a = getBackend('auto', (m) => w.push(m));
     const b = getBackend('auto', (m) => w.push(m));
     console.log(JSON.stringify({ a: a.name, b: b.name, w }));`,
    { LORAROUTE_NATIVE: '0' },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { a: string; b: string; w: string[] };
  assert.equal(out.a, 'reference');
  assert.equal(out.b, 'reference');
  assert.equal(out.w.length, 1, `one warning: ${JSON.stringify(out.w)}`);
  assert.match(out.w[0], /slower/);
});

test('without the addon, getBackend("native") throws a LoraRouteError that names the fix', () => {
  const r = runModule(
    `try { getBackend('native', () => {}); console.log('no error'); }
     catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }`,
    { LORAROUTE_NATIVE: '0' },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { name: string; message: string };
  assert.equal(out.name, 'LoraRouteError');
  assert.match(out.message, /libopenblas-dev/);
});
