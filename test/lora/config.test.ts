import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoraAdapter } from '../../src/lora/adapter.js';
import { defaultLoraConfig, moduleRankScaling, parseAdapterConfig, targetsModule, toAdapterConfigJson } from '../../src/lora/config.js';
import { LoraRouteError } from '../../src/errors.js';
import { microConfig } from '../helpers/micro.js';

const cfg = microConfig();
const sitesOf = (over: Parameters<typeof defaultLoraConfig>[0]) => new LoraAdapter(defaultLoraConfig(over), cfg).sites.map((s) => s.name);

test('scaling: alpha / r, or alpha / sqrt(r) with rslora', () => {
  assert.equal(moduleRankScaling(defaultLoraConfig({ r: 16, loraAlpha: 32 }), 'transformer.h.0.attn.c_attn').scaling, 2);
  assert.equal(moduleRankScaling(defaultLoraConfig({ r: 16, loraAlpha: 32, useRslora: true }), 'transformer.h.0.attn.c_attn').scaling, 8);
  assert.equal(moduleRankScaling(defaultLoraConfig({ r: 8, loraAlpha: 8, useRslora: true }), 'x.c_attn').scaling, 8 / Math.sqrt(8));
  const a = new LoraAdapter(defaultLoraConfig({ r: 4, loraAlpha: 6, useRslora: true }), cfg);
  assert.ok(a.sites.every((s) => s.scaling === 3 && s.r === 4));
});

test('rank_pattern / alpha_pattern override matching modules (suffix at a dot boundary)', () => {
  const c = defaultLoraConfig({ r: 4, loraAlpha: 8, rankPattern: { 'attn.c_proj': 2 }, alphaPattern: { 'h.1.attn.c_attn': 32 } });
  assert.deepEqual(moduleRankScaling(c, 'transformer.h.0.attn.c_proj'), { r: 2, scaling: 4 });
  assert.deepEqual(moduleRankScaling(c, 'transformer.h.0.mlp.c_proj'), { r: 4, scaling: 2 });
  assert.deepEqual(moduleRankScaling(c, 'transformer.h.1.attn.c_attn'), { r: 4, scaling: 8 });
  assert.deepEqual(moduleRankScaling(c, 'transformer.h.11.attn.c_attn'), { r: 4, scaling: 2 }, 'h.1 must not match h.11');
  const a = new LoraAdapter(c, cfg);
  assert.equal(a.site(0, 'attn.c_proj')?.A.length, 2 * 16);
  assert.equal(a.site(0, 'attn.c_proj')?.B.length, 16 * 2);
});

test('target_modules match by suffix: c_proj means attn.c_proj and mlp.c_proj', () => {
  assert.deepEqual(sitesOf({ targetModules: ['c_proj'] }), [
    'transformer.h.0.attn.c_proj', 'transformer.h.0.mlp.c_proj', 'transformer.h.1.attn.c_proj', 'transformer.h.1.mlp.c_proj',
  ]);
  assert.deepEqual(sitesOf({ targetModules: ['attn.c_proj'] }), ['transformer.h.0.attn.c_proj', 'transformer.h.1.attn.c_proj']);
  assert.deepEqual(sitesOf({ targetModules: ['c_fc', 'c_attn'] }), [
    'transformer.h.0.attn.c_attn', 'transformer.h.0.mlp.c_fc', 'transformer.h.1.attn.c_attn', 'transformer.h.1.mlp.c_fc',
  ]);
  // a suffix must start at a dot: "proj" is not "c_proj"
  assert.ok(!targetsModule(defaultLoraConfig({ targetModules: ['proj'] }), 'transformer.h.0.attn.c_proj', 0));
  assert.throws(() => sitesOf({ targetModules: ['proj'] }), (e: unknown) => e instanceof LoraRouteError && /match no module/.test(e.message));
  // a string is a regex over the full name
  assert.deepEqual(sitesOf({ targetModules: '.*\\.1\\.mlp\\.c_(fc|proj)' }), ['transformer.h.1.mlp.c_fc', 'transformer.h.1.mlp.c_proj']);
});

test('layers_to_transform restricts the blocks', () => {
  assert.deepEqual(sitesOf({ targetModules: ['c_attn', 'c_fc'], layersToTransform: [1] }), ['transformer.h.1.attn.c_attn', 'transformer.h.1.mlp.c_fc']);
  const parsed = parseAdapterConfig({ r: 2, lora_alpha: 2, target_modules: ['c_attn'], layers_to_transform: 0 }, 'f.json');
  assert.deepEqual(parsed.layersToTransform, [0]);
  assert.deepEqual(new LoraAdapter(parsed, cfg).sites.map((s) => s.name), ['transformer.h.0.attn.c_attn']);
});

test('PEFT initialisation: A uniform in +-1/sqrt(in), B zero, seeded; parameters laid out per site', () => {
  const a = new LoraAdapter(defaultLoraConfig({ r: 4, targetModules: ['c_attn', 'mlp.c_proj'] }), cfg);
  a.initialize(3);
  let max = 0;
  for (const s of a.sites) {
    const bound = 1 / Math.sqrt(s.inDim);
    for (const x of s.A) { assert.ok(Math.abs(x) <= bound); max = Math.max(max, Math.abs(x) / bound); }
    assert.ok(s.B.every((x) => x === 0));
    assert.equal(s.A.length, s.r * s.inDim);
    assert.equal(s.B.length, s.outDim * s.r);
  }
  assert.ok(max > 0.9, 'A fills its range');
  assert.equal(a.parameterCount, 2 * 4 * (16 + 48) + 2 * 4 * (64 + 16));
  const b = new LoraAdapter(a.config, cfg);
  b.initialize(3);
  assert.deepEqual(b.params, a.params);
  b.initialize(4);
  assert.notDeepEqual(b.params, a.params);
  a.grads.fill(1);
  a.zeroGrads();
  assert.ok(a.grads.every((x) => x === 0));
});

test('adapter_config.json: what we write parses back to the same config; PEFT defaults fill gaps', () => {
  const c = defaultLoraConfig({ r: 3, loraAlpha: 5, loraDropout: 0.2, targetModules: ['c_attn'], useRslora: true, layersToTransform: [1], rankPattern: { c_attn: 2 }, baseModelNameOrPath: 'gpt2' });
  assert.deepEqual(parseAdapterConfig(JSON.parse(JSON.stringify(toAdapterConfigJson(c))), 'x'), c);
  const minimal = parseAdapterConfig({ target_modules: ['c_attn'] }, 'x');
  assert.equal(minimal.r, 8);
  assert.equal(minimal.loraAlpha, 8);
  assert.equal(minimal.loraDropout, 0);
  assert.equal(minimal.useRslora, false);
  assert.throws(() => parseAdapterConfig([], 'f.json'), (e: unknown) => e instanceof LoraRouteError && /f\.json: expected a JSON object/.test(e.message));
  assert.throws(() => parseAdapterConfig({ target_modules: ['c_attn'], rank_pattern: { c_attn: 0 } }, 'f.json'), /rank_pattern\["c_attn"\] must be a positive integer/);
});
