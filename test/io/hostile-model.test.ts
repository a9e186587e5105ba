// Hostile model and adapter folders: each case names the file and the key or tensor, and fails before any
// large allocation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraRouteError } from '../../src/errors.js';
import { openCheckpoint, openSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { loadPeftAdapter } from '../../src/lora/peft.js';
import { loadGPT2 } from '../../src/model/load.js';
import { loadRouter, saveRouter } from '../../src/router/io.js';
import { FeatureNormalizer } from '../../src/router/normalizer.js';
import { Router } from '../../src/router/router.js';
import { ReferenceBackend } from '../../src/tensor/reference.js';
import { adapterConfig, adapterTensors, MICRO_CONFIG, microCfg, microTensors, writeAdapterDir, writeModelDir } from '../fuzz/fixtures.js';
import { tempDir } from './helpers.js';

const root = tempDir('loraroute-hostile-model-');
const backend = new ReferenceBackend();
const isErr = (re: RegExp) => (e: unknown) => e instanceof LoraRouteError && re.test(e.message);
let n = 0;
const fresh = (): string => join(root, `m${n++}`);

test('the micro fixtures load (so the failures below come from the hostile change)', () => {
  const dir = writeModelDir(fresh());
  assert.equal(loadGPT2(dir, { backend }).config.nLayer, 2);
  assert.equal(loadPeftAdapter(writeAdapterDir(fresh()), microCfg()).sites.length, 2);
});

test('config.json n_layer 1e8 is refused naming the key, before anything is allocated', () => {
  const dir = writeModelDir(fresh(), { config: { ...MICRO_CONFIG, n_layer: 1e8 } });
  assert.throws(() => loadGPT2(dir, { backend }), isErr(/config\.json: "n_layer" = 100000000 is above the limit of 1024/));
  const wide = writeModelDir(fresh(), { config: { ...MICRO_CONFIG, n_layer: 1000, n_embd: 4096, n_head: 16 } });
  assert.throws(() => loadGPT2(wide, { backend }), isErr(/config\.json: n_layer 1000, n_embd 4096, .* parameters, above the limit of 2000000000/));
});

test('config.json sizes are checked against the tensors present before the weights are allocated', () => {
  const dir = writeModelDir(fresh(), { config: { ...MICRO_CONFIG, n_layer: 40 } });
  assert.throws(() => loadGPT2(dir, { backend }), isErr(/model\.safetensors: missing tensor "transformer\.h\.2\.ln_1\.weight"/));
});

test('a checkpoint with more layers than config.json is an error naming the extra tensor', () => {
  const three = microTensors({ ...microCfg(), nLayer: 3 });
  const dir = writeModelDir(fresh(), { tensors: three });
  assert.throws(() => loadGPT2(dir, { backend }), isErr(/tensor "transformer\.h\.2\.[a-z_.12]+" belongs to layer 2, but config\.json has n_layer = 2/));
});

test('NaN or Inf model weights are refused, naming the file and tensor', () => {
  for (const bad of [NaN, Infinity]) {
    const tensors = microTensors();
    (tensors['transformer.h.1.mlp.c_fc.weight']!.data as Float32Array)[5] = bad;
    const dir = writeModelDir(fresh(), { tensors });
    assert.throws(() => loadGPT2(dir, { backend }), isErr(/model\.safetensors: tensor 'transformer\.h\.1\.mlp\.c_fc\.weight' is not finite: 1 of \d+ values are NaN or Inf \(first at element 5/));
  }
});

test('a FIFO as model.safetensors is refused without blocking', () => {
  const dir = writeModelDir(fresh());
  rmSync(join(dir, 'model.safetensors'));
  execFileSync('mkfifo', [join(dir, 'model.safetensors')]);
  assert.throws(() => loadGPT2(dir, { backend }), isErr(/model\.safetensors is a FIFO \(named pipe\), expected a regular file/));
});

test('a dangling model.safetensors link is named as one (not "pass the file path itself")', () => {
  const dir = writeModelDir(fresh());
  rmSync(join(dir, 'model.safetensors'));
  symlinkSync(join(dir, 'gone.safetensors'), join(dir, 'model.safetensors'));
  assert.throws(() => openCheckpoint(dir), isErr(/model\.safetensors is a dangling symbolic link \(to .*gone\.safetensors/));
});

test('a shard index entry outside the model folder is refused, not opened', () => {
  const dir = fresh();
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'part1.safetensors'), { 'wte.weight': { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
  for (const shard of ['../../../../etc/passwd', '/etc/passwd', 'sub/../../x.safetensors']) {
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'wte.weight': 'part1.safetensors', 'wpe.weight': shard } }));
    assert.throws(() => openCheckpoint(dir), isErr(/model\.safetensors\.index\.json: weight_map\['wpe\.weight'\] = ".*" is outside the model folder/), shard);
  }
});

test('adapter values that are NaN or Inf are refused, naming the file and tensor', () => {
  const tensors = adapterTensors();
  (tensors['base_model.model.transformer.h.0.attn.c_attn.lora_B.weight']!.data as Float32Array)[3] = NaN;
  const dir = writeAdapterDir(fresh(), adapterConfig(), tensors);
  assert.throws(() => loadPeftAdapter(dir, microCfg()), isErr(/adapter_model\.safetensors: tensor 'base_model\.model\.transformer\.h\.0\.attn\.c_attn\.lora_B\.weight' is not finite/));
});

test('adapter r of 1e8 is bounded by the layer widths (no "Invalid typed array length")', () => {
  const dir = writeAdapterDir(fresh(), adapterConfig({ r: 1e8 }));
  assert.throws(() => loadPeftAdapter(dir, microCfg()), isErr(/adapter_config\.json: .*r = 100000000 exceeds the layer widths of this model \(at most min\(n_embd 16, n_inner 64\) = 16\)/));
  const pat = writeAdapterDir(fresh(), adapterConfig({ rank_pattern: { c_attn: 5000 } }));
  assert.throws(() => loadPeftAdapter(pat, microCfg()), isErr(/rank_pattern\["c_attn"\] = 5000 exceeds the layer widths/));
});

test('a string in alpha_pattern or rank_pattern is refused, naming the key', () => {
  const a = writeAdapterDir(fresh(), adapterConfig({ alpha_pattern: { c_attn: 'big' } }));
  assert.throws(() => loadPeftAdapter(a, microCfg()), isErr(/adapter_config\.json: alpha_pattern\["c_attn"\] must be a positive number, got "big"/));
  const r = writeAdapterDir(fresh(), adapterConfig({ rank_pattern: { c_attn: '4' } }));
  assert.throws(() => loadPeftAdapter(r, microCfg()), isErr(/adapter_config\.json: rank_pattern\["c_attn"\] must be a positive integer, got "4"/));
  const l = writeAdapterDir(fresh(), adapterConfig({ layers_to_transform: ['0'] }));
  assert.throws(() => loadPeftAdapter(l, microCfg()), isErr(/adapter_config\.json: layers_to_transform must be a list of layer indices/));
});

test('a bad target_modules regex names the key and the pattern', () => {
  const dir = writeAdapterDir(fresh(), adapterConfig({ target_modules: '.*c_attn(' }));
  assert.throws(() => loadPeftAdapter(dir, microCfg()), isErr(/adapter_config\.json: target_modules \(a regex\) "\.\*c_attn\(" is not a valid regular expression/));
  const p = writeAdapterDir(fresh(), adapterConfig({ alpha_pattern: { '[c_attn': 2 } }));
  assert.throws(() => loadPeftAdapter(p, microCfg()), isErr(/alpha_pattern key "\[c_attn" is not a valid regular expression/));
});

test('adapter_config.json with a BOM loads', () => {
  const dir = writeAdapterDir(fresh());
  writeFileSync(join(dir, 'adapter_config.json'), '\uFEFF' + JSON.stringify(adapterConfig()));
  assert.equal(loadPeftAdapter(dir, microCfg()).config.r, 2);
});

function savedRouter(): string {
  const r = Router.create(
    { featureNames: ['a', 'b'], pooledDim: 0, labelMode: 'tier', numExperts: 3, hiddenDim: 4, dropout: 0, activation: 'gelu', scoreHead: false },
    1,
  );
  r.normalizer = FeatureNormalizer.fit(new Float32Array([0, 1, 2, 3, 4, 5]), 3, 2);
  const dir = fresh();
  saveRouter(dir, r);
  return dir;
}

test('router.json sizes are checked against router.safetensors before the MLP is allocated', () => {
  const dir = savedRouter();
  const j = JSON.parse(readFileSync(join(dir, 'router.json'), 'utf8'));
  j.config.hiddenDim = 2e9;
  writeFileSync(join(dir, 'router.json'), '\uFEFF' + JSON.stringify(j));
  assert.throws(() => loadRouter(dir), isErr(/router\.safetensors: tensor 'fc1\.weight' has shape \[4, 2\], but router\.json implies \[2000000000, 2\]/));
});

test('NaN router weights are refused naming the tensor; router.json with a BOM loads', () => {
  const dir = savedRouter();
  writeFileSync(join(dir, 'router.json'), '\uFEFF' + readFileSync(join(dir, 'router.json'), 'utf8'));
  assert.equal(loadRouter(dir).numExperts, 3);
  const st = openSafetensors(join(dir, 'router.safetensors'));
  const tensors = Object.fromEntries(st.names().map((name) => [name, { dtype: 'F32' as const, shape: st.info(name).shape, data: st.getF32(name) }]));
  tensors['fc2.bias']!.data[1] = NaN;
  writeSafetensors(join(dir, 'router.safetensors'), tensors);
  assert.throws(() => loadRouter(dir), isErr(/router\.safetensors: tensor 'fc2\.bias' is not finite/));
});
