import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, loadPeftAdapter, peftKey, readAdapterConfig, savePeftAdapter } from '../../src/lora/peft.js';
import { toAdapterConfigJson } from '../../src/lora/config.js';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { LoraRouteError } from '../../src/errors.js';
import { microAdapter, microConfig, tempDir } from '../helpers/micro.js';

const cfg = microConfig();
const tmp = tempDir();
after(() => tmp.cleanup());
let n = 0;
const isErr = (re: RegExp) => (e: unknown) => e instanceof LoraRouteError && re.test(e.message);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Writes an adapter folder with this config object and these tensors. */
function folder(config: Record<string, unknown>, tensors: Record<string, TensorToWrite>): string {
  const dir = join(tmp.dir, `a${n++}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, ADAPTER_CONFIG), JSON.stringify(config));
  writeSafetensors(join(dir, ADAPTER_WEIGHTS), tensors);
  return dir;
}

const f32 = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5) });
const baseConfig = { peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['c_attn'], layers_to_transform: [0] };
const goodTensors = () => ({
  [peftKey('transformer.h.0.attn.c_attn', 'A')]: f32([2, 16]),
  [peftKey('transformer.h.0.attn.c_attn', 'B')]: f32([48, 2]),
});

describe('PEFT adapter folders', () => {
  test('save -> load round trip is exact (weights and config), with PEFT key names and metadata', () => {
    const a = microAdapter(cfg, { targetModules: ['c_attn', 'c_proj'], r: 3, loraAlpha: 6, useRslora: true, loraDropout: 0.1, baseModelNameOrPath: 'micro' }, 5, 0.4);
    const dir = join(tmp.dir, 'roundtrip');
    savePeftAdapter(a, dir);
    const b = loadPeftAdapter(dir, cfg);
    assert.deepEqual(b.params, a.params);
    assert.deepEqual(b.config, a.config);
    assert.deepEqual(b.sites.map((s) => [s.name, s.r, s.scaling]), a.sites.map((s) => [s.name, s.r, s.scaling]));
    const file = openSafetensors(join(dir, ADAPTER_WEIGHTS));
    assert.equal(file.metadata.format, 'pt');
    assert.deepEqual(file.names().sort(), a.sites.flatMap((s) => [peftKey(s.name, 'A'), peftKey(s.name, 'B')]).sort());
    assert.ok(file.names().includes('base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight'));
    assert.deepEqual(file.info('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight').shape, [3, 16]);
    assert.deepEqual(file.info('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight').shape, [48, 3]);
    const json = JSON.parse(readFileSync(join(dir, ADAPTER_CONFIG), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(json, toAdapterConfigJson(a.config));
    assert.equal(json.peft_type, 'LORA');
    assert.equal(json.use_rslora, true);
    assert.equal(json.fan_in_fan_out, true);
    assert.deepEqual(json.target_modules, ['c_attn', 'c_proj']);
  });

  test('keys carrying an adapter name (state-dict style) are read too', () => {
    const dir = folder(baseConfig, {
      'base_model.model.transformer.h.0.attn.c_attn.lora_A.default.weight': f32([2, 16]),
      'base_model.model.transformer.h.0.attn.c_attn.lora_B.default.weight': f32([48, 2]),
    });
    const a = loadPeftAdapter(dir, cfg);
    assert.equal(a.sites.length, 1);
    assert.ok(a.sites[0].A.every((x) => x === 0.5));
  });

  test('a tensor for a module the config does not target, or this model lacks, is refused naming file and tensor', () => {
    const key = peftKey('transformer.h.0.mlp.c_fc', 'A');
    const dir = folder(baseConfig, { ...goodTensors(), [key]: f32([2, 16]) });
    assert.throws(() => loadPeftAdapter(dir, cfg), isErr(new RegExp(`${esc(join(dir, ADAPTER_WEIGHTS))}: tensor "${esc(key)}" targets transformer\\.h\\.0\\.mlp\\.c_fc`)));
    const deep = peftKey('transformer.h.5.attn.c_attn', 'A');
    const dir2 = folder({ ...baseConfig, layers_to_transform: null }, { ...goodTensors(), [deep]: f32([2, 16]) });
    assert.throws(() => loadPeftAdapter(dir2, cfg), isErr(/tensor "base_model\.model\.transformer\.h\.5\.attn\.c_attn\.lora_A\.weight" targets .*this model \(2 layers\) lacks/));
    const odd = peftKey('transformer.h.0.attn.q_proj', 'A');
    const dir3 = folder({ ...baseConfig, target_modules: ['c_attn', 'q_proj'] }, { ...goodTensors(), [odd]: f32([2, 16]) });
    assert.throws(() => loadPeftAdapter(dir3, cfg), isErr(/tensor ".*q_proj\.lora_A\.weight" targets "transformer\.h\.0\.attn\.q_proj", which is not a linear module of GPT-2/));
    const dir4 = folder(baseConfig, { ...goodTensors(), 'base_model.model.lm_head.weight': f32([97, 16]) });
    assert.throws(() => loadPeftAdapter(dir4, cfg), isErr(/tensor "base_model\.model\.lm_head\.weight" is not a LoRA weight/));
  });

  test('a target that matches no module of the base is refused naming the config file', () => {
    const dir = folder({ ...baseConfig, target_modules: ['q_proj'] }, {});
    assert.throws(() => loadPeftAdapter(dir, cfg), isErr(new RegExp(`${esc(join(dir, ADAPTER_CONFIG))}: adapter "default": target_modules \\["q_proj"\\] match no module`)));
  });

  test('a tensor of the wrong shape is refused naming file, tensor and both shapes', () => {
    const key = peftKey('transformer.h.0.attn.c_attn', 'B');
    const dir = folder(baseConfig, { ...goodTensors(), [key]: f32([48, 4]) });
    assert.throws(() => loadPeftAdapter(dir, cfg), isErr(new RegExp(`${esc(join(dir, ADAPTER_WEIGHTS))}: tensor "${esc(key)}" has shape \\[48,4\\], expected \\[48,2\\] for r=2`)));
    // an adapter made for a wider model
    const dir2 = folder(baseConfig, { ...goodTensors(), [peftKey('transformer.h.0.attn.c_attn', 'A')]: f32([2, 768]) });
    assert.throws(() => loadPeftAdapter(dir2, cfg), isErr(/lora_A\.weight" has shape \[2,768\], expected \[2,16\]/));
  });

  test('a missing tensor, weights file or config is refused by name', () => {
    const dir = folder(baseConfig, { [peftKey('transformer.h.0.attn.c_attn', 'A')]: f32([2, 16]) });
    assert.throws(() => loadPeftAdapter(dir, cfg), isErr(/missing tensor "base_model\.model\.transformer\.h\.0\.attn\.c_attn\.lora_B\.weight"/));
    const empty = join(tmp.dir, 'empty');
    mkdirSync(empty);
    assert.throws(() => loadPeftAdapter(empty, cfg), isErr(/adapter_config\.json not found/));
    writeFileSync(join(empty, ADAPTER_CONFIG), JSON.stringify(baseConfig));
    assert.throws(() => loadPeftAdapter(empty, cfg), isErr(/adapter_model\.safetensors not found/));
    writeFileSync(join(empty, 'adapter_model.bin'), 'x');
    assert.throws(() => loadPeftAdapter(empty, cfg), isErr(/adapter_model\.bin: PyTorch pickle adapters are not supported/));
    writeFileSync(join(empty, ADAPTER_CONFIG), '{ not json');
    assert.throws(() => readAdapterConfig(empty), isErr(/adapter_config\.json: not valid JSON/));
  });

  test('PEFT features loraroute does not implement are refused, naming the key', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ use_dora: true }, /use_dora = true is not supported \(DoRA adapters\)/],
      [{ bias: 'all' }, /bias = "all" is not supported/],
      [{ bias: 'lora_only' }, /bias = "lora_only" is not supported/],
      [{ modules_to_save: ['lm_head'] }, /modules_to_save = \["lm_head"\] is not supported/],
      [{ peft_type: 'IA3' }, /peft_type "IA3" is not supported/],
      [{ lora_bias: true }, /lora_bias = true is not supported/],
      [{ r: 0 }, /r must be a positive integer, got 0/],
      [{ r: '8' }, /"r" must be a number/],
      [{ target_modules: 5 }, /"target_modules" must be a list of module names or a regex string/],
      [{ lora_dropout: 1 }, /lora_dropout must be in \[0, 1\)/],
    ];
    for (const [over, re] of cases) {
      const dir = folder({ ...baseConfig, ...over }, goodTensors());
      assert.throws(() => readAdapterConfig(dir), isErr(new RegExp(`${esc(join(dir, ADAPTER_CONFIG))}: .*${re.source}`)), JSON.stringify(over));
    }
    // what PEFT writes by default for these keys is accepted
    const ok = folder({ ...baseConfig, use_dora: false, bias: 'none', modules_to_save: null, lora_bias: false, layers_pattern: null }, goodTensors());
    assert.equal(loadPeftAdapter(ok, cfg).sites.length, 1);
  });
});
