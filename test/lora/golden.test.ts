import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadGPT2 } from '../../src/model/load.js';
import { shiftTargets } from '../../src/model/gpt2.js';
import { generateIds } from '../../src/model/generate.js';
import { viewWeights } from '../../src/model/weights.js';
import { loadPeftAdapter } from '../../src/lora/peft.js';
import { LoraMixture } from '../../src/lora/mixture.js';
import { mergeAdapter, unmergeAdapter } from '../../src/lora/merge.js';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { bundledModelDir } from '../../src/config/paths.js';
import { availableBackends, checkBatchGradients, loadGolden, maxAbsDiff, strided } from '../helpers/golden.js';

const golden = loadGolden();
const tokenizer = GPT2Tokenizer.fromDir(bundledModelDir());

for (const backend of availableBackends()) {
  describe(`LoRA parity with PEFT [${backend.name}]`, () => {
    const model = loadGPT2(undefined, { backend });
    const V = model.config.vocabSize;
    const adapter = loadPeftAdapter(golden.adapterDir, model.config);
    const mix = new LoraMixture([adapter], backend);

    golden.meta.input_ids.forEach((ids, k) => {
      test(`prompt ${k}: adapter logits and loss within 1e-4`, () => {
        const T = ids.length;
        const batch = { ids: Int32Array.from(ids), B: 1, T };
        mix.useOnly(0, 1);
        const res = model.forward(batch, { hook: mix, targets: shiftTargets(batch.ids, 1, T), logits: 'all' });
        const diff = maxAbsDiff(strided(res.logits as Float32Array, T, V, golden.stride), golden.tensors.getF32(`adapter.logits_strided.${k}`));
        assert.ok(diff < 1e-4, `max |logits - PEFT| = ${diff}`);
        assert.ok(Math.abs(res.loss - golden.meta.adapter_loss[k]) < 1e-4, `loss ${res.loss} vs PEFT ${golden.meta.adapter_loss[k]}`);
      });
    });

    for (const logits of ['targets', 'all'] as const) {
      test(`padded batch (logits at ${logits} rows): loss within 1e-4 and every LoRA gradient within 1e-4 relative`, () => {
        checkBatchGradients(model, mix, golden.tensors, golden.meta.batch_loss, logits);
      });
    }

    test('merge equals PEFT merge_and_unload within 1e-5, and unmerge restores the base', () => {
      const w = viewWeights(model.config, Float32Array.from(model.weights.buffer));
      const before = Float32Array.from(w.blocks[0].qkvW);
      mergeAdapter(w, adapter, backend);
      const diff = maxAbsDiff(w.blocks[0].qkvW, golden.tensors.getF32('merged.transformer.h.0.attn.c_attn.weight'));
      assert.ok(diff < 1e-5, `merged c_attn max diff ${diff}`);
      unmergeAdapter(w, adapter, backend);
      assert.ok(maxAbsDiff(w.blocks[0].qkvW, before) < 1e-6);
    });

    test('greedy continuations with the adapter equal PEFT token for token', () => {
      const prompts = golden.meta.gen_prompts.map((p) => tokenizer.encode(p));
      mix.useOnly(0, prompts.length);
      const out = generateIds(model, prompts, { maxNewTokens: 24, stopAtEos: false, hook: mix });
      assert.deepEqual(out.map((r) => r.tokenIds), golden.meta.adapter_greedy);
    });
  });
}
