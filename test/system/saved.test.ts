/**
 * A trained folder is replaced as one atomic step (a crash at any step of saveSystem leaves the previous
 * complete model), a full disk is reported with the path and leaves nothing behind, and expert names can
 * not leave experts/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/index.js';
import { LoraRouteError } from '../../src/errors.js';
import { savePeftAdapter } from '../../src/lora/peft.js';
import { Router } from '../../src/router/router.js';
import { ROUTER_FEATURE_NAMES } from '../../src/system/prepared.js';
import { loadSystemParts, MANIFEST, saveSystem } from '../../src/system/saved.js';
import { microAdapter, microConfig, tempDir } from '../helpers/micro.js';

const EXPERTS = ['simple', 'medium', 'complex'];
const cfg = microConfig();
const config = defaultConfig();
const experts = (seed: number) => EXPERTS.map((name, k) => microAdapter(cfg, { r: 2, loraAlpha: 4 }, seed + k, 0.3, name));
const router = (seed: number) =>
  Router.create({ featureNames: [...ROUTER_FEATURE_NAMES], pooledDim: 0, labelMode: 'tier', numExperts: 3, hiddenDim: 4, scoreHead: false, expertNames: EXPERTS }, seed);
const paramsOf = (dir: string) => loadSystemParts(dir, cfg).experts.map((e) => Array.from(e.params.slice(0, 16)));
const temps = (dir: string) => readdirSync(dir).filter((f) => f.includes('.tmp-'));

/** Replaces fs[name] for the duration of `body` (named ESM imports of node:fs follow via syncBuiltinESMExports). */
function withFsFault<K extends 'renameSync' | 'writeSync' | 'symlinkSync'>(name: K, fault: (orig: (typeof fs)[K]) => (typeof fs)[K], body: () => void): void {
  const orig = fs[name];
  fs[name] = fault(orig);
  syncBuiltinESMExports();
  try {
    body();
  } finally {
    fs[name] = orig;
    syncBuiltinESMExports();
  }
}

test('saveSystem publishes a link to a complete version; a new save replaces it in one step, keeping the previous version only', () => {
  const tmp = tempDir();
  try {
    const dir = join(tmp.dir, 'best_model');
    saveSystem(dir, config, experts(1), router(1));
    assert.ok(lstatSync(dir).isSymbolicLink());
    const first = paramsOf(dir);
    for (let i = 0; i < 3; i++) saveSystem(dir, config, experts(10 + i), router(2));
    assert.notDeepEqual(paramsOf(dir), first);
    assert.deepEqual(paramsOf(dir), EXPERTS.map((_, k) => Array.from(microAdapter(cfg, { r: 2, loraAlpha: 4 }, 12 + k, 0.3).params.slice(0, 16))));
    assert.deepEqual(readdirSync(tmp.dir).sort(), ['.best_model.v3', '.best_model.v4', 'best_model']);
  } finally {
    tmp.cleanup();
  }
});

test('a crash at any rename of saveSystem leaves the previous complete model under the published name', () => {
  const tmp = tempDir();
  try {
    const dir = join(tmp.dir, 'best_model');
    saveSystem(dir, config, experts(1), router(1));
    const before = paramsOf(dir);
    let renames = 0;
    withFsFault('renameSync', (orig) => ((a: fs.PathLike, b: fs.PathLike) => { renames++; orig(a, b); }) as typeof fs.renameSync, () => {
      saveSystem(join(tmp.dir, 'count'), config, experts(1), router(1));
    });
    assert.ok(renames >= 2);
    for (let failAt = 1; failAt <= renames; failAt++) {
      let n = 0;
      withFsFault('renameSync', (orig) => ((a: fs.PathLike, b: fs.PathLike) => {
        if (++n === failAt) throw Object.assign(new Error(`EIO: simulated crash at rename ${failAt}`), { code: 'EIO' });
        orig(a, b);
      }) as typeof fs.renameSync, () => {
        assert.throws(() => saveSystem(dir, config, experts(50), router(50)), /simulated crash/);
      });
      assert.ok(existsSync(join(dir, MANIFEST)), `rename ${failAt} of ${renames}: ${dir} still resolves to a model`);
      assert.deepEqual(paramsOf(dir), before, `rename ${failAt}: the previous model`);
      assert.deepEqual(temps(tmp.dir), []);
    }
  } finally {
    tmp.cleanup();
  }
});

test('a full disk names the file being written, keeps the previous model and leaves no partial copy, retry after retry', () => {
  const tmp = tempDir();
  try {
    const dir = join(tmp.dir, 'final_model');
    saveSystem(dir, config, experts(1), router(1));
    const before = paramsOf(dir);
    for (let retry = 0; retry < 3; retry++) {
      let writes = 0;
      withFsFault('writeSync', (orig) => ((...a: Parameters<typeof fs.writeSync>) => {
        if (++writes > 2 + retry) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
        return (orig as (...x: unknown[]) => number)(...a);
      }) as typeof fs.writeSync, () => {
        assert.throws(() => saveSystem(dir, config, experts(9), router(9)), (e: unknown) =>
          e instanceof LoraRouteError && /disk is full/.test(e.message) && e.message.includes(tmp.dir) && /\.(safetensors|json|yaml)/.test(e.message));
      });
      assert.deepEqual(paramsOf(dir), before);
      assert.deepEqual(temps(tmp.dir), [], `retry ${retry}: no partial copy left`);
      assert.deepEqual(readdirSync(tmp.dir).sort(), ['.final_model.v1', 'final_model']);
    }
  } finally {
    tmp.cleanup();
  }
});

test('expert names must be plain folder names inside experts/, on save and on load', () => {
  const tmp = tempDir();
  try {
    const model = join(tmp.dir, 'run', 'best_model');
    assert.throws(() => saveSystem(model, config, [microAdapter(cfg, {}, 1, 0.3, '../evil')], router(1)), (e: unknown) =>
      e instanceof LoraRouteError && /"\.\.\/evil" is not a plain folder name/.test(e.message));
    assert.ok(!existsSync(model));
    saveSystem(model, config, experts(1), router(1));
    // an adapter outside the model folder, and a manifest pointing at it
    savePeftAdapter(microAdapter(cfg, { r: 2, loraAlpha: 4 }, 99, 0.3), join(tmp.dir, 'outside', 'evil'));
    const manifestPath = join(model, MANIFEST);
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { experts: string[] };
    mkdirSync(join(model, 'experts', 'x'), { recursive: true });
    for (const bad of ['../../../outside/evil', '../../outside/evil', '/etc', '..', '.', 'a/b', '', 7]) {
      writeFileSync(manifestPath, JSON.stringify({ ...m, experts: [bad, 'medium', 'complex'] }));
      assert.throws(() => loadSystemParts(model, cfg), (e: unknown) =>
        e instanceof LoraRouteError && e.message.includes(MANIFEST) && e.message.includes(JSON.stringify(bad)) && /plain folder name/.test(e.message), String(bad));
    }
  } finally {
    tmp.cleanup();
  }
});
