// PEFT parity on the fixture variants test/fixtures/golden-<name>/ (other ranks, alphas, target subsets,
// rsLoRA, layers_to_transform, a regex target, rank/alpha patterns), made by scripts/gen-fixture-variants.sh.
// The same checks as golden.test.ts, so that parity is not tuned to one configuration.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadGPT2 } from '../../src/model/load.js';
import { moduleWeights, shiftTargets } from '../../src/model/gpt2.js';
import { generateIds } from '../../src/model/generate.js';
import { LINEAR_MODULES, viewWeights, type LinearModule } from '../../src/model/weights.js';
import { loadPeftAdapter } from '../../src/lora/peft.js';
import { LoraAdapter } from '../../src/lora/adapter.js';
import { defaultLoraConfig, parseAdapterConfig, type LoraConfig } from '../../src/lora/config.js';
import { LoraRouteError } from '../../src/errors.js';
import { LoraMixture } from '../../src/lora/mixture.js';
import { mergeAdapter, unmergeAdapter } from '../../src/lora/merge.js';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { bundledModelDir, packageRoot } from '../../src/config/paths.js';
import { availableBackends, checkBatchGradients, loadGolden, maxAbsDiff, strided } from '../helpers/golden.js';
import { microConfig } from '../helpers/micro.js';

interface VariantMeta {
  /** Module names PEFT put LoRA on, in model order. */
  adapted_modules: string[];
  /** Row stride of the `merged_strided.*` tensors. */
  merged_row_stride: number;
}

const variants = readdirSync(join(packageRoot(), 'test', 'fixtures')).filter((n) => n.startsWith('golden-')).sort();
const tokenizer = GPT2Tokenizer.fromDir(bundledModelDir());

/** `transformer.h.3.mlp.c_fc` -> { layer: 3, module: 'mlp.c_fc' } */
function parseModule(name: string): { layer: number; module: LinearModule } {
  const m = /^transformer\.h\.(\d+)\.(.+)$/.exec(name);
  const module = m?.[2] as LinearModule | undefined;
  if (!m || !module || !LINEAR_MODULES.includes(module)) throw new Error(`not a GPT-2 linear module: ${name}`);
  return { layer: Number(m[1]), module };
}

/** Rows 0, stride, 2*stride, ... of a [rows, cols] matrix. */
function stridedRows(x: Float32Array, rows: number, cols: number, stride: number): Float32Array {
  const n = Math.ceil(rows / stride);
  const out = new Float32Array(n * cols);
  for (let i = 0; i < n; i++) out.set(x.subarray(i * stride * cols, (i * stride + 1) * cols), i * cols);
  return out;
}

// Target matching where PEFT 0.21 (check_target_module_exists, LoraConfig) has rules of its own; each
// expectation was read off PEFT on GPT2LMHeadModel (the golden-names-exclude fixture checks them end to end).
describe('target matching follows PEFT', () => {
  const micro = microConfig(); // 2 blocks
  const sitesOf = (over: Partial<LoraConfig>) => new LoraAdapter(defaultLoraConfig(over), micro).sites.map((s) => s.name);
  const refused = (over: Partial<LoraConfig>, re: RegExp) =>
    assert.throws(() => sitesOf(over), (e: unknown) => e instanceof LoraRouteError && re.test(e.message));

  test('a full module name is adapted whatever layers_to_transform says; suffixes only in those layers', () => {
    assert.deepEqual(sitesOf({ targetModules: ['transformer.h.1.mlp.c_fc', 'c_attn'], layersToTransform: [0] }), [
      'transformer.h.0.attn.c_attn', 'transformer.h.1.mlp.c_fc',
    ]);
  });

  test('an empty layers_to_transform means every layer', () => {
    assert.deepEqual(sitesOf({ targetModules: ['c_fc'], layersToTransform: [] }), ['transformer.h.0.mlp.c_fc', 'transformer.h.1.mlp.c_fc']);
  });

  test('exclude_modules (suffixes or a regex) removes targets, and round-trips through adapter_config.json', () => {
    assert.deepEqual(sitesOf({ targetModules: ['c_attn', 'c_fc'], excludeModules: ['h.0.attn.c_attn'] }), [
      'transformer.h.0.mlp.c_fc', 'transformer.h.1.attn.c_attn', 'transformer.h.1.mlp.c_fc',
    ]);
    assert.deepEqual(sitesOf({ targetModules: ['c_proj'], excludeModules: '.*\\.mlp\\..*' }), ['transformer.h.0.attn.c_proj', 'transformer.h.1.attn.c_proj']);
    const cfg = parseAdapterConfig({ r: 2, lora_alpha: 4, target_modules: ['c_attn', 'c_fc'], exclude_modules: ['h.1.mlp.c_fc'] }, 'f.json');
    assert.deepEqual(cfg.excludeModules, ['h.1.mlp.c_fc']);
    assert.deepEqual(new LoraAdapter(cfg, micro).sites.map((s) => s.name), ['transformer.h.0.attn.c_attn', 'transformer.h.0.mlp.c_fc', 'transformer.h.1.attn.c_attn']);
  });

  test('configs PEFT refuses are refused, naming the reason', () => {
    // LoraConfig: "`layers_to_transform` cannot be used when `target_modules` is a str"
    refused({ targetModules: '.*c_attn', layersToTransform: [1] }, /layers_to_transform cannot be used when target_modules is a regex/);
    // a regex that also matches a dropout / norm / block: PEFT raises "Target module Dropout(...) is not supported"
    refused({ targetModules: 'transformer\\.h\\.0\\.attn\\..*' }, /also matches transformer\.h\.0\.attn\.attn_dropout/);
    refused({ targetModules: ['c_attn', 'ln_f'] }, /also matches transformer\.ln_f/);
    // wte / lm_head would get LoRA in PEFT, which loraroute does not put there
    refused({ targetModules: ['c_attn', 'lm_head'] }, /also matches lm_head/);
    // ... but a suffix that names no block-level module is fine when layers_to_transform filters it away
    assert.deepEqual(sitesOf({ targetModules: ['c_attn', 'wte'], layersToTransform: [1] }), ['transformer.h.1.attn.c_attn']);
  });
});

test('there are fixture variants to check', () => {
  assert.ok(variants.length >= 4, `expected >= 4 test/fixtures/golden-* variants, found ${variants.join(', ')}`);
});

for (const backend of availableBackends()) {
  describe(`LoRA parity with PEFT on fixture variants [${backend.name}]`, () => {
    const model = loadGPT2(undefined, { backend });
    const V = model.config.vocabSize;

    for (const name of variants) {
      describe(name, () => {
        const golden = loadGolden(name);
        const meta = golden.meta as typeof golden.meta & VariantMeta;
        const adapter = loadPeftAdapter(golden.adapterDir, model.config);
        const mix = new LoraMixture([adapter], backend);

        test('adapts exactly the modules PEFT adapted', () => {
          assert.deepEqual(adapter.sites.map((s) => s.name), meta.adapted_modules);
        });

        meta.input_ids.forEach((ids, k) => {
          test(`prompt ${k}: adapter logits and loss within 1e-4`, () => {
            const T = ids.length;
            const batch = { ids: Int32Array.from(ids), B: 1, T };
            mix.useOnly(0, 1);
            const res = model.forward(batch, { hook: mix, targets: shiftTargets(batch.ids, 1, T), logits: 'all' });
            const want = golden.tensors.getF32(`adapter.logits_strided.${k}`);
            const diff = maxAbsDiff(strided(res.logits as Float32Array, T, V, golden.stride), want);
            assert.ok(diff < 1e-4, `max |logits - PEFT| = ${diff}`);
            assert.ok(Math.abs(res.loss - meta.adapter_loss[k]) < 1e-4, `loss ${res.loss} vs PEFT ${meta.adapter_loss[k]}`);
            // the adapter must matter, or the comparison above proves little
            const base = golden.tensors.getF32(`base.logits_strided.${k}`);
            assert.ok(maxAbsDiff(want, base) > 1e-3, 'fixture adapter barely changes the logits');
          });
        });

        test('padded batch: loss within 1e-4 and every LoRA gradient within 1e-4 relative', () => {
          checkBatchGradients(model, mix, golden.tensors, meta.batch_loss);
        });

        test('merge equals PEFT merge_and_unload within 1e-5, and unmerge restores the base', () => {
          const w = viewWeights(model.config, Float32Array.from(model.weights.buffer));
          const before = Float32Array.from(w.buffer);
          mergeAdapter(w, adapter, backend);
          let checked = 0;
          for (const key of golden.tensors.names()) {
            const m = /^(merged|merged_strided)\.(.+)\.weight$/.exec(key);
            if (!m) continue;
            const { layer, module } = parseModule(m[2]);
            const { W } = moduleWeights(w.blocks[layer], module);
            const [inDim, outDim] = golden.tensors.info(key).shape;
            const got = m[1] === 'merged' ? W : stridedRows(W, W.length / outDim, outDim, meta.merged_row_stride);
            assert.equal(got.length, inDim * outDim, `${key}: shape`);
            const diff = maxAbsDiff(got, golden.tensors.getF32(key));
            assert.ok(diff < 1e-5, `${key}: max diff ${diff}`);
            checked++;
          }
          assert.ok(checked >= 2, `only ${checked} merged tensors in the fixture`);
          unmergeAdapter(w, adapter, backend);
          assert.ok(maxAbsDiff(w.buffer, before) < 1e-6, 'unmerge did not restore the base');
        });

        test('greedy continuations with the adapter equal PEFT token for token', () => {
          const prompts = meta.gen_prompts.map((p) => tokenizer.encode(p));
          mix.useOnly(0, prompts.length);
          const n = meta.adapter_greedy[0].length;
          const out = generateIds(model, prompts, { maxNewTokens: n, stopAtEos: false, hook: mix });
          assert.deepEqual(out.map((r) => r.tokenIds), meta.adapter_greedy);
        });
      });
    }
  });
}
