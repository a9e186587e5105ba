import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import {
  DEBUG_SHRINK,
  bundledDataFiles,
  bundledModelDir,
  debugShrink,
  defaultConfig,
  loadConfig,
  packageRoot,
  relativizeConfig,
  resolveConfig,
  resolveModelDir,
  serializeConfig,
  validateConfig,
} from '../../src/config/index.js';
import { errorOf, tmpDir, tmpYaml } from './helpers.js';

test('relative paths in a file resolve against the file, in --set against the working directory', () => {
  const p = tmpYaml('model:\n  base_model_name: ../models/gpt2\ndata:\n  paths: [data/a.json, /abs/b.json.gz]\n');
  const dir = dirname(p);
  const { config } = loadConfig(p);
  assert.equal(config.model.base_model_name, join(dir, '..', 'models', 'gpt2'));
  assert.deepEqual(config.data.paths, [join(dir, 'data', 'a.json'), '/abs/b.json.gz']);
  const o = loadConfig(p, ['model.base_model_name=m/gpt2', 'data.paths=[x.jsonl]'], { cwd: '/work/somewhere' }).config;
  assert.equal(o.model.base_model_name, '/work/somewhere/m/gpt2');
  assert.deepEqual(o.data.paths, ['/work/somewhere/x.jsonl']);
  assert.equal(loadConfig(undefined, ['model.base_model_name=~/gpt2']).config.model.base_model_name, join(homedir(), 'gpt2'));
});

test('`bundled` is kept as a word and resolves to the package model', () => {
  const { config } = loadConfig(tmpYaml('model:\n  base_model_name: bundled\n'));
  assert.equal(config.model.base_model_name, 'bundled');
  assert.equal(resolveModelDir(config), bundledModelDir());
  assert.ok(existsSync(join(bundledModelDir(), 'config.json')));
  const shards = bundledDataFiles();
  assert.ok(shards.length >= 1 && shards.every((f) => f.startsWith(join(packageRoot(), 'data', 'alpaca'))));
  assert.match(shards[0], /part0\.json/);
});

test('resolveModelDir explains how to point at a model when the folder is missing', () => {
  const { config } = loadConfig(join(packageRoot(), 'configs', 'default.yaml'));
  if (existsSync(join(config.model.base_model_name, 'config.json'))) return; // someone downloaded GPT-2
  const msg = errorOf(() => resolveModelDir(config, 'configs/default.yaml'));
  assert.match(msg, /model\.base_model_name in configs\/default\.yaml: .*models\/gpt2 is not a Hugging Face GPT-2 folder/);
  assert.match(msg, /--set model\.base_model_name=DIR/);
});

test('resolveConfig is idempotent and relativizeConfig inverts it', () => {
  const c = defaultConfig();
  c.model.base_model_name = 'models/gpt2';
  c.data.paths = ['d/a.json', '/abs/b.json'];
  const r = resolveConfig(c, '/repo/configs');
  assert.equal(r.model.base_model_name, '/repo/configs/models/gpt2');
  assert.deepEqual(r.data.paths, ['/repo/configs/d/a.json', '/abs/b.json']);
  assert.deepEqual(resolveConfig(r, '/elsewhere'), r);
  assert.equal(c.model.base_model_name, 'models/gpt2', 'the input is not modified');
  const rel = relativizeConfig(r, '/repo/runs/demo');
  assert.equal(rel.model.base_model_name, '../../configs/models/gpt2');
  assert.deepEqual(resolveConfig(rel, '/repo/runs/demo'), r);
  assert.equal(relativizeConfig(defaultConfig(), '/x').model.base_model_name, 'bundled');
});

test('serializeConfig writes commented YAML that loads back to the same config from the run folder', () => {
  const root = tmpDir();
  mkdirSync(join(root, 'models', 'gpt2'), { recursive: true });
  mkdirSync(join(root, 'runs', 'r1'), { recursive: true });
  // The config sits in root/configs, so its relative model path points into `root`.
  const cfgPath = join(root, 'configs', 'c.yaml');
  mkdirSync(dirname(cfgPath), { recursive: true });
  writeFileSync(cfgPath, 'model:\n  base_model_name: ../models/gpt2\n  num_experts: 2\ntraining:\n  learning_rate: 3e-5\n');
  const { config } = loadConfig(cfgPath, ['training.schedule=linear']);
  const runDir = join(root, 'runs', 'r1');
  const text = serializeConfig(config, runDir);
  const raw = parse(text) as { model: { base_model_name: string; complexity_thresholds: number[] } };
  assert.equal(raw.model.base_model_name, '../../models/gpt2', 'written relative to the run folder');
  assert.deepEqual(raw.model.complexity_thresholds, [0.5]);
  assert.match(text, /# LoRA rank r of every expert\n {2}lora_rank: 16/);
  writeFileSync(join(runDir, 'config.yaml'), text);
  const back = loadConfig(join(runDir, 'config.yaml')).config;
  assert.deepEqual(back, config);
  // Without a folder, paths stay absolute.
  assert.equal((parse(serializeConfig(config)) as typeof raw).model.base_model_name, join(root, 'models', 'gpt2'));
});

test('serializeConfig round-trips every shipped config and the defaults', () => {
  const runDir = tmpDir();
  for (const name of ['default.yaml', 'full.yaml', 'demo.yaml']) {
    const { config } = loadConfig(join(packageRoot(), 'configs', name));
    writeFileSync(join(runDir, 'config.yaml'), serializeConfig(config, runDir));
    assert.deepEqual(loadConfig(join(runDir, 'config.yaml')).config, config, name);
  }
});

test('debugShrink shrinks every run to a valid smoke test and leaves the input alone', () => {
  for (const name of ['default.yaml', 'full.yaml', 'demo.yaml']) {
    const { config } = loadConfig(join(packageRoot(), 'configs', name));
    const before = structuredClone(config);
    const d = debugShrink(config);
    assert.deepEqual(config, before);
    assert.deepEqual(validateConfig(d), d, `${name} shrunk is valid`);
    assert.ok(d.data.train_subset > 0 && d.data.train_subset <= 64);
    assert.ok(d.data.test_subset > 0 && d.data.test_subset <= 16);
    assert.equal(d.training.num_epochs, 1);
    assert.ok(d.training.max_steps > 0 && d.training.max_steps <= 8);
    assert.ok(d.training.warmup_steps < d.training.max_steps);
    assert.ok(d.generation.max_new_tokens <= 16);
    assert.equal(d.model.base_model_name, config.model.base_model_name, 'the model is kept');
  }
  // Subsets already below the caps stay; a skipped phase stays skipped.
  const c = loadConfig(undefined, ['data.test_subset=5', 'eval.subset=5', 'training.joint_epochs=0']).config;
  const d = debugShrink(c);
  assert.equal(d.data.test_subset, 5);
  assert.equal(d.eval.subset, 5);
  assert.equal(d.training.joint_epochs, 0);
  assert.ok(DEBUG_SHRINK.length > 5);
});
