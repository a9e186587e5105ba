/**
 * scripts/install-native.js (the npm "install" hook) never fails the install: a build that cannot
 * succeed still exits 0 and prints one line that says the slower backend will be used and how to fix it.
 * Runs the script in a scratch copy of the package whose C source cannot compile (a few seconds of node-gyp).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/tensor/native.js';

const root = packageRoot() as string;

function scratchPackage(): string {
  const dir = mkdtempSync(join(tmpdir(), 'loraroute-install-'));
  mkdirSync(join(dir, 'scripts'));
  cpSync(join(root, 'scripts', 'install-native.js'), join(dir, 'scripts', 'install-native.js'));
  cpSync(join(root, 'native'), join(dir, 'native'), { recursive: true });
  cpSync(join(root, 'binding.gyp'), join(dir, 'binding.gyp'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'loraroute', type: 'module', private: true }));
  return dir;
}

test('a failing native build still exits 0 with one line naming the fallback and the fix', { timeout: 180_000 }, () => {
  const dir = scratchPackage();
  try {
    appendFileSync(join(dir, 'native', 'ops.c'), '\n#error "deliberately broken for the install test"\n');
    const r = spawnSync(process.execPath, [join(dir, 'scripts', 'install-native.js')], { cwd: dir, encoding: 'utf8', timeout: 170_000 });
    assert.equal(r.status, 0, `exit status (stderr: ${r.stderr})`);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, `one line: ${r.stdout}`);
    assert.match(lines[0], /^loraroute: native backend not built \(/);
    assert.match(lines[0], /slower TypeScript backend/);
    assert.match(lines[0], /libopenblas-dev/);
    assert.ok(!existsSync(join(dir, 'build', 'Release', 'loraroute_native.node')), 'no addon left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LORAROUTE_SKIP_NATIVE=1 skips the build and says so', () => {
  const dir = scratchPackage();
  try {
    const r = spawnSync(process.execPath, [join(dir, 'scripts', 'install-native.js')], {
      cwd: dir, encoding: 'utf8', env: { ...process.env, LORAROUTE_SKIP_NATIVE: '1' },
    });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /LORAROUTE_SKIP_NATIVE=1/);
    assert.ok(!existsSync(join(dir, 'build')), 'nothing was built');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
