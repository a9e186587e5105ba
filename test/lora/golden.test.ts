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
import { availableBackends, loadGolden, maxAbsDiff, relativeError, strided } from '../helpers/golden.js';

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
        const ids = golden.tensors.getI32('batch.input_ids');
        const mask = golden.tensors.getI32('batch.attention_mask');
        const [B, T] = golden.tensors.info('batch.input_ids').shape;
        const labels = ids.map((id, i) => (mask[i] ? id : -100));
        mix.useOnly(0, B);
        mix.trainable[0] = true;
        adapter.zeroGrads();
        const res = model.forward({ ids, B, T, keyMask: mask }, { hook: mix, train: true, dropout: false, targets: shiftTargets(labels, B, T), logits });
        assert.ok(Math.abs(res.loss - golden.meta.batch_loss) < 1e-4, `batch loss ${res.loss} vs PEFT ${golden.meta.batch_loss}`);
        model.backward();
        let checked = 0;
        for (const s of adapter.sites) {
          for (const which of ['A', 'B'] as const) {
            const name = `grad.base_model.model.${s.name}.lora_${which}.default.weight`;
            const err = relativeError(which === 'A' ? s.gradA : s.gradB, golden.tensors.getF32(name));
            assert.ok(err < 1e-4, `${name}: relative error ${err}`);
            checked++;
          }
        }
        assert.equal(checked, golden.tensors.names().filter((n) => n.startsWith('grad.')).length);
        mix.trainable[0] = false;
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
