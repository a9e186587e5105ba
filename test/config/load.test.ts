import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { defaultConfig, loadConfig, packageRoot, parseOverride, validateConfig } from '../../src/config/index.js';
import { errorOf, tmpYaml } from './helpers.js';

const configsDir = join(packageRoot(), 'configs');

test('loading no file gives the defaults', () => {
  const { config, source } = loadConfig();
  assert.deepEqual(config, defaultConfig());
  assert.equal(source, '<defaults>');
});

test('an empty file and empty sections give the defaults', () => {
  assert.deepEqual(loadConfig(tmpYaml('')).config, defaultConfig());
  assert.deepEqual(loadConfig(tmpYaml('# nothing\nmodel:\ntraining:\n')).config, defaultConfig());
});

test('a file sets keys over the defaults and keeps the rest', () => {
  const p = tmpYaml('model:\n  lora_rank: 8\ntraining:\n  learning_rate: 1e-3\n  schedule: linear\n');
  const { config, source } = loadConfig(p);
  assert.equal(source, p);
  assert.equal(config.model.lora_rank, 8);
  assert.equal(config.training.learning_rate, 1e-3);
  assert.equal(config.training.schedule, 'linear');
  assert.equal(config.model.lora_alpha, 32);
});

for (const name of readdirSync(configsDir).filter((f) => f.endsWith('.yaml'))) {
  test(`configs/${name} loads`, () => {
    const { config } = loadConfig(join(configsDir, name));
    assert.equal(config.model.num_experts - 1, config.model.complexity_thresholds.length);
  });
}

test('the shipped configs are what their comments promise', () => {
  const demo = loadConfig(join(configsDir, 'demo.yaml')).config;
  assert.equal(demo.model.base_model_name, 'bundled');
  assert.ok(demo.data.train_subset > 0 && demo.data.train_subset <= 2000, 'demo trains on a subset');
  assert.ok(demo.data.test_subset > 0 && demo.data.validation_subset > 0);
  assert.ok(demo.training.learning_rate >= 5e-4, 'demo learning rate moves a small model');
  const full = loadConfig(join(configsDir, 'full.yaml')).config;
  assert.equal(full.model.base_model_name, 'bundled');
  assert.equal(full.data.train_subset, 0);
  assert.ok(full.training.save_every > 0, 'full run checkpoints between epochs (resumable)');
  const def = loadConfig(join(configsDir, 'default.yaml')).config;
  assert.notEqual(def.model.base_model_name, 'bundled', 'default.yaml names a GPT-2 124M folder');
  assert.equal(def.model.base_model_name, join(packageRoot(), 'models', 'gpt2'));
  assert.equal(def.model.lora_rank, 16);
  assert.equal(def.training.learning_rate, 2e-4);
});

test('configs/default.yaml lists every key of the schema', () => {
  const doc = parse(readFileSync(join(configsDir, 'default.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
  const defaults = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
  for (const s of Object.keys(defaults)) {
    for (const k of Object.keys(defaults[s])) assert.ok(doc[s] && k in doc[s], `configs/default.yaml lacks ${s}.${k}`);
  }
});

test('every key in configs/*.yaml carries a comment', () => {
  for (const name of readdirSync(configsDir).filter((f) => f.endsWith('.yaml'))) {
    const lines = readFileSync(join(configsDir, name), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!/^\s+\w+:/.test(line)) return; // keys inside sections
      const commented = line.includes('#') || /^\s*#/.test(lines[i - 1] ?? '');
      assert.ok(commented, `configs/${name}:${i + 1} has no comment: ${line.trim()}`);
    });
  }
});

test('unknown keys name the full path, the file and line, and suggest the right key', () => {
  const p = tmpYaml('model:\n  num_experts: 3\n  lora_rnak: 8\n');
  const msg = errorOf(() => loadConfig(p));
  assert.match(msg, /unknown key 'model\.lora_rnak'/);
  assert.ok(msg.includes(`${p}:3:3`), msg);
  assert.match(msg, /did you mean 'model\.lora_rank'\?/);
});

test('unknown sections and top-level keys are errors with suggestions', () => {
  assert.match(errorOf(() => loadConfig(tmpYaml('modle:\n  lora_rank: 8\n'))), /unknown section 'modle'; did you mean 'model'\?/);
  assert.match(errorOf(() => loadConfig(tmpYaml('lora_rank: 8\n'))), /unknown section 'lora_rank'; did you mean 'model\.lora_rank'\?/);
  assert.match(
    errorOf(() => loadConfig(tmpYaml('training:\n  lora_rank: 8\n'))),
    /unknown key 'training\.lora_rank'; did you mean 'model\.lora_rank'\?/,
  );
  assert.match(errorOf(() => loadConfig(tmpYaml('data:\n  seed: 1\n'))), /'training\.seed', 'eval\.seed' or 'generation\.seed'/);
});

test('a value nested below a key is a type error, not silently ignored', () => {
  const msg = errorOf(() => loadConfig(tmpYaml('model:\n  lora_rank:\n    value: 8\n')));
  assert.match(msg, /model\.lora_rank: expected an integer >= 1, got a mapping \{"value":8\}/);
  assert.match(errorOf(() => loadConfig(tmpYaml('model: 3\n'))), /section 'model' must be a mapping of keys, got number 3/);
  assert.match(errorOf(() => loadConfig(tmpYaml('- a\n- b\n'))), /expected a mapping of sections/);
});

test('wrong types name the key, the expected type and the value given', () => {
  const cases: Array<[string, RegExp]> = [
    ['model:\n  lora_rank: sixteen\n', /model\.lora_rank: expected an integer >= 1, got string "sixteen"/],
    ['model:\n  lora_rank: 16.5\n', /model\.lora_rank: expected an integer >= 1, got number 16\.5/],
    ['training:\n  learning_rate: "2e-4"\n', /training\.learning_rate: expected a number > 0, got string "2e-4"/],
    ['model:\n  use_rslora: yes\n', /model\.use_rslora: expected a boolean \(true or false\), got string "yes"/],
    ['model:\n  target_modules: c_attn\n', /model\.target_modules: expected a non-empty list of strings, got string "c_attn" \(write a list: \[c_attn\]\)/],
    ['model:\n  complexity_thresholds: [0.3, high]\n', /model\.complexity_thresholds: .*item 1 is string "high"/],
    ['model:\n  base_model_name: 12\n', /model\.base_model_name: expected a string, got number 12/],
    ['training:\n  schedule: cosin\n', /training\.schedule: expected one of cosine, linear, constant, got string "cosin" \(did you mean 'cosine'\?\)/],
    ['model:\n  lora_rank:\n', /model\.lora_rank: expected an integer >= 1, got an empty value/],
  ];
  for (const [yaml, re] of cases) assert.match(errorOf(() => loadConfig(tmpYaml(yaml))), re, yaml);
});

test('out-of-range values name the range and the value', () => {
  const cases: Array<[string, RegExp]> = [
    ['model:\n  num_experts: 0\n', /model\.num_experts: expected an integer in \[1, 64\], got 0/],
    ['model:\n  lora_dropout: 1.5\n', /model\.lora_dropout: expected a number in \[0, 1\), got 1\.5/],
    ['training:\n  min_lr_ratio: -0.1\n', /training\.min_lr_ratio: expected a number in \[0, 1\], got -0\.1/],
    ['training:\n  learning_rate: 0\n', /training\.learning_rate: expected a number > 0, got 0/],
    ['model:\n  complexity_thresholds: [0.7, 0.3]\n', /strictly ascending.*item 1 is not above item 0/],
    ['model:\n  complexity_thresholds: [0.3, 1.0]\n', /each in \(0, 1\)|numbers in \(0, 1\)/],
    ['model:\n  target_modules: [c_attn, q_proj]\n', /item 1 "q_proj": not a GPT-2 module LoRA can target/],
    ['data:\n  max_length: 4\n', /data\.max_length: expected an integer >= 8, got 4/],
    ['generation:\n  top_p: 0\n', /generation\.top_p: expected a number in \(0, 1\], got 0/],
  ];
  for (const [yaml, re] of cases) assert.match(errorOf(() => loadConfig(tmpYaml(yaml))), re, yaml);
});

test('every problem is reported at once', () => {
  const msg = errorOf(() => loadConfig(tmpYaml('model:\n  lora_rank: 0\n  lora_rnak: 1\ntraining:\n  schedule: step\n')));
  assert.match(msg, /3 problems/);
  assert.match(msg, /lora_rank: expected/);
  assert.match(msg, /lora_rnak/);
  assert.match(msg, /schedule/);
});

test('YAML syntax errors and duplicate keys name the file and line', () => {
  const p = tmpYaml('model:\n  lora_rank: 8\n  lora_rank: 4\n');
  const msg = errorOf(() => loadConfig(p));
  assert.ok(msg.includes(`${p}:3:3`), msg);
  assert.match(msg, /unique/);
  const q = tmpYaml('model:\n  target_modules: [c_attn\n');
  assert.ok(errorOf(() => loadConfig(q)).includes(q));
});

test('a missing config file is a clear error', () => {
  assert.match(errorOf(() => loadConfig('/nonexistent/dir/x.yaml')), /config file \/nonexistent\/dir\/x\.yaml: not found/);
  assert.match(errorOf(() => loadConfig(configsDir)), /is a folder/);
});

test('--set overrides scalars, nested keys and arrays over the file', () => {
  const p = tmpYaml('model:\n  lora_rank: 8\n');
  const { config } = loadConfig(p, [
    'model.lora_rank=4',
    'training.learning_rate=1e-3',
    'model.complexity_thresholds=[0.2,0.8]',
    'model.target_modules=[c_attn, c_proj, c_fc]',
    'model.use_rslora=true',
    'training.schedule=linear',
    'data.train_subset=100',
  ]);
  assert.equal(config.model.lora_rank, 4);
  assert.equal(config.training.learning_rate, 1e-3);
  assert.deepEqual(config.model.complexity_thresholds, [0.2, 0.8]);
  assert.deepEqual(config.model.target_modules, ['c_attn', 'c_proj', 'c_fc']);
  assert.equal(config.model.use_rslora, true);
  assert.equal(config.training.schedule, 'linear');
  assert.equal(config.data.train_subset, 100);
  // The later override wins.
  assert.equal(loadConfig(undefined, ['model.lora_rank=4', 'model.lora_rank=2']).config.model.lora_rank, 2);
});

test('--set with a bad path or value is an error naming the override', () => {
  assert.match(errorOf(() => loadConfig(undefined, ['model.lora_rnak=4'])), /--set model\.lora_rnak=4: unknown key 'model\.lora_rnak'; did you mean 'model\.lora_rank'\?/);
  assert.match(errorOf(() => loadConfig(undefined, ['lora_rank=4'])), /keys are section\.key.*did you mean 'model\.lora_rank'/);
  assert.match(errorOf(() => loadConfig(undefined, ['model.lora.rank=4'])), /'model\.lora\.rank' is not a config key/);
  assert.match(errorOf(() => loadConfig(undefined, ['model.lora_rank'])), /expected section\.key=value/);
  assert.match(errorOf(() => loadConfig(undefined, ['model.lora_rank=abc'])), /--set model\.lora_rank=abc: model\.lora_rank: expected an integer >= 1, got string "abc"/);
  assert.match(errorOf(() => loadConfig(undefined, ['model.complexity_thresholds=[0.2,'])), /not valid YAML/);
  assert.match(errorOf(() => loadConfig(undefined, ['training.schedule=cosin'])), /did you mean 'cosine'/);
});

test('parseOverride keeps an unquoted scalar as written for string keys', () => {
  assert.deepEqual(parseOverride('model.base_model_name=2024'), { section: 'model', key: 'base_model_name', value: '2024' });
  assert.deepEqual(parseOverride('model.lora_alpha=16'), { section: 'model', key: 'lora_alpha', value: 16 });
  assert.deepEqual(parseOverride('data.paths=[a.json, b.json.gz]'), { section: 'data', key: 'paths', value: ['a.json', 'b.json.gz'] });
  assert.deepEqual(parseOverride('model.base_model_name="x=y"'), { section: 'model', key: 'base_model_name', value: 'x=y' });
});

test('cross-field: thresholds need num_experts - 1 values, wherever each was set', () => {
  const p = tmpYaml('model:\n  complexity_thresholds: [0.2, 0.5, 0.8]\n');
  const msg = errorOf(() => loadConfig(p));
  assert.match(msg, /model\.complexity_thresholds has 3 value\(s\) \[0\.2,0\.5,0\.8\] but model\.num_experts = 3 needs 2/);
  assert.ok(msg.includes(`model.complexity_thresholds set at ${p}:2:3`), msg);
  assert.match(msg, /model\.num_experts default/);
  const msg2 = errorOf(() => loadConfig(undefined, ['model.num_experts=2', 'model.complexity_thresholds=[0.3,0.7]']));
  assert.match(msg2, /num_experts = 2 needs 1/);
  assert.match(msg2, /set at --set model\.num_experts=2/);
  // Fixed in the same invocation: fine.
  assert.deepEqual(loadConfig(p, ['model.num_experts=4']).config.model.complexity_thresholds, [0.2, 0.5, 0.8]);
});

test('cross-field: thresholds default to even cut points when only num_experts changes', () => {
  assert.deepEqual(loadConfig(undefined, ['model.num_experts=2']).config.model.complexity_thresholds, [0.5]);
  assert.deepEqual(loadConfig(undefined, ['model.num_experts=1']).config.model.complexity_thresholds, []);
  assert.deepEqual(loadConfig(tmpYaml('model:\n  num_experts: 3\n')).config.model.complexity_thresholds, [0.3, 0.7]);
});

test('cross-field: top_k_experts, warm-up against the step cap, eval subset against test subset', () => {
  assert.match(errorOf(() => loadConfig(undefined, ['generation.top_k_experts=4'])), /top_k_experts = 4 exceeds model\.num_experts = 3/);
  assert.match(errorOf(() => loadConfig(undefined, ['training.max_steps=50'])), /warmup_steps = 100 is not below training\.max_steps = 50/);
  assert.equal(loadConfig(undefined, ['training.max_steps=500']).config.training.max_steps, 500);
  assert.match(errorOf(() => loadConfig(undefined, ['data.test_subset=100', 'eval.subset=200'])), /eval\.subset = 200 exceeds data\.test_subset = 100/);
});

test('cross-field: shared-A and phase-1-less experts need a joint phase', () => {
  assert.match(errorOf(() => loadConfig(undefined, ['training.share_expert_a=true', 'training.joint_epochs=0'])), /share_expert_a = true needs training\.joint_epochs ≥ 1/);
  assert.match(errorOf(() => loadConfig(undefined, ['training.num_epochs=0', 'training.joint_epochs=0'])), /num_epochs = 0 and training\.joint_epochs = 0: the experts would never train/);
  const c = loadConfig(undefined, ['training.num_epochs=0', 'training.joint_epochs=1', 'training.share_expert_a=true', 'model.expert_assignment=oracle_em']).config;
  assert.equal(c.training.share_expert_a, true);
  assert.equal(c.model.expert_assignment, 'oracle_em');
  assert.match(errorOf(() => loadConfig(undefined, ['training.em_rounds=9'])), /em_rounds/);
});

test('validateConfig checks objects built in code', () => {
  const c = defaultConfig();
  c.model.lora_rank = -1;
  assert.match(errorOf(() => validateConfig(c, 'my object')), /my object: model\.lora_rank: expected an integer >= 1, got -1/);
  assert.equal(validateConfig({ model: { lora_rank: 4 } }).model.lora_rank, 4);
});
