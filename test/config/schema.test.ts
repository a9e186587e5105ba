import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CROSS_CHECKS,
  SCHEMA,
  SECTIONS,
  allKeys,
  defaultConfig,
  evenThresholds,
  validateConfig,
  type Config,
  type Field,
} from '../../src/config/index.js';

test('every default passes its own field check', () => {
  for (const s of SECTIONS) {
    for (const [k, f] of Object.entries(SCHEMA[s] as Record<string, Field<unknown>>)) {
      const r = f.parse(f.default);
      assert.ok(r.ok, `${s}.${k}: default ${JSON.stringify(f.default)} rejected: ${r.ok ? '' : r.problem}`);
      assert.ok(f.doc.length > 10 && !f.doc.includes('\n'), `${s}.${k} needs a one-line doc`);
    }
  }
});

test('the defaults form a valid config and pass every cross-field rule', () => {
  const c = defaultConfig();
  assert.deepEqual(validateConfig(c), c);
  for (const r of CROSS_CHECKS) assert.equal(r.check(c), undefined, r.doc);
});

test('defaults are the documented values of the original system', () => {
  const c = defaultConfig();
  assert.equal(c.model.base_model_name, 'bundled');
  assert.equal(c.model.num_experts, 3);
  assert.deepEqual(c.model.complexity_thresholds, [0.3, 0.7]);
  assert.equal(c.model.lora_rank, 16);
  assert.equal(c.model.lora_alpha, 32);
  assert.deepEqual(c.model.target_modules, ['c_attn', 'c_proj']);
  assert.equal(c.model.router_hidden_dim, 256);
  assert.equal(c.training.learning_rate, 2e-4);
  assert.equal(c.training.min_lr_ratio, 0.1);
  assert.equal(c.training.load_balance_weight, 0.1);
  assert.deepEqual(c.data.paths, []);
  assert.equal(c.data.max_length, 256);
  assert.equal(c.generation.top_k_experts, 1);
});

test('defaultConfig returns independent copies', () => {
  const a = defaultConfig();
  a.model.target_modules.push('c_fc');
  assert.deepEqual(defaultConfig().model.target_modules, ['c_attn', 'c_proj']);
});

test('the Config type is derived from the schema', () => {
  const c: Config = defaultConfig();
  // Literal unions come from the enum fields; a wrong literal or an unknown key does not compile.
  const schedule: 'cosine' | 'linear' | 'constant' = c.training.schedule;
  const backend: 'auto' | 'native' | 'reference' = c.model.backend;
  // @ts-expect-error not a key of the schema
  void c.model.lora_rnak;
  // @ts-expect-error not one of the enum values
  c.training.router_label = 'majority';
  c.training.router_label = 'tier';
  assert.equal(schedule, 'cosine');
  assert.equal(backend, 'auto');
  assert.deepEqual(Object.keys(c), SECTIONS);
  assert.equal(allKeys().length, SECTIONS.reduce((n, s) => n + Object.keys(SCHEMA[s]).length, 0));
});

test('field checks: integers, exclusive bounds, enums, lists', () => {
  const m = SCHEMA.model;
  assert.equal(m.lora_rank.parse(8.5).ok, false);
  assert.equal(m.lora_rank.parse(0).ok, false);
  assert.equal(m.lora_rank.parse('16').ok, false);
  assert.equal(m.lora_dropout.parse(1).ok, false, 'dropout 1 is excluded');
  assert.equal(m.lora_dropout.parse(0).ok, true);
  assert.equal(m.lora_alpha.parse(0).ok, false, 'alpha must be > 0');
  assert.equal(m.lora_alpha.parse(Number.NaN).ok, false);
  assert.equal(m.backend.parse('cuda').ok, false);
  assert.equal(m.complexity_thresholds.parse([0.7, 0.3]).ok, false, 'must ascend');
  assert.equal(m.complexity_thresholds.parse([0.3, 0.3]).ok, false, 'strictly');
  assert.equal(m.complexity_thresholds.parse([0, 0.5]).ok, false, '0 is outside (0, 1)');
  assert.equal(m.complexity_thresholds.parse([]).ok, true);
  assert.equal(m.target_modules.parse([]).ok, false);
  assert.equal(m.target_modules.parse(['c_attn', 'c_attn']).ok, false);
  assert.equal(m.target_modules.parse(['attn.c_proj', 'transformer.h.0.mlp.c_fc']).ok, true);
  assert.equal(m.target_modules.parse(['q_proj']).ok, false);
  assert.equal(SCHEMA.generation.top_p.parse(0).ok, false);
  assert.equal(SCHEMA.generation.top_p.parse(1).ok, true);
});

test('evenThresholds', () => {
  assert.deepEqual(evenThresholds(1), []);
  assert.deepEqual(evenThresholds(2), [0.5]);
  assert.deepEqual(evenThresholds(4), [0.25, 0.5, 0.75]);
  assert.deepEqual(evenThresholds(3), [0.3333, 0.6667]);
});
