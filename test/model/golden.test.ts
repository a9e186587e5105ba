import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadGPT2, useHalfWeightsForDecode } from '../../src/model/load.js';
import { shiftTargets } from '../../src/model/gpt2.js';
import { generateIds } from '../../src/model/generate.js';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { bundledModelDir } from '../../src/config/paths.js';
import { availableBackends, loadGolden, maxAbsDiff, strided } from '../helpers/golden.js';

const golden = loadGolden();
const tokenizer = GPT2Tokenizer.fromDir(bundledModelDir());

for (const backend of availableBackends()) {
  describe(`GPT-2 parity with HF transformers [${backend.name}]`, () => {
    const model = loadGPT2(undefined, { backend });
    const V = model.config.vocabSize;

    golden.meta.input_ids.forEach((ids, k) => {
      test(`prompt ${k}: logits within 1e-4 and loss within 1e-4`, () => {
        const T = ids.length;
        const batch = { ids: Int32Array.from(ids), B: 1, T };
        const res = model.forward(batch, { targets: shiftTargets(batch.ids, 1, T), logits: 'all' });
        const want = golden.tensors.getF32(`base.logits_strided.${k}`);
        const diff = maxAbsDiff(strided(res.logits as Float32Array, T, V, golden.stride), want);
        assert.ok(diff < 1e-4, `max |logits - HF| = ${diff}`);
        assert.ok(Math.abs(res.loss - golden.meta.base_loss[k]) < 1e-4, `loss ${res.loss} vs HF ${golden.meta.base_loss[k]}`);
      });
    });

    test('greedy continuations equal HF token for token (no stop at end-of-text)', () => {
      const prompts = golden.meta.gen_prompts.map((p) => tokenizer.encode(p));
      for (let i = 0; i < prompts.length; i++) {
        const [out] = generateIds(model, [prompts[i]], { maxNewTokens: 24, stopAtEos: false });
        assert.deepEqual(out.tokenIds, golden.meta.base_greedy[i]);
      }
      // the same prompts as one right-padded batch give the same tokens
      const batched = generateIds(model, prompts, { maxNewTokens: 24, stopAtEos: false });
      assert.deepEqual(batched.map((r) => r.tokenIds), golden.meta.base_greedy);
    });

    // `loraroute generate` decodes with an fp16 copy of the weights by default: its greedy tokens must still be HF's
    test('greedy continuations with the fp16 decode weights (generate\'s default) equal HF too', { skip: backend.name !== 'native' ? 'fp16 decode weights are a native-backend feature' : false }, (t) => {
      const half = loadGPT2(undefined, { backend });
      if (!useHalfWeightsForDecode(half)) {
        t.skip('no fp16 decode weights on these kernels (they need AVX2 + F16C); generate decodes with fp32 here');
        return;
      }
      const prompts = golden.meta.gen_prompts.map((p) => tokenizer.encode(p));
      for (let i = 0; i < prompts.length; i++) {
        const [out] = generateIds(half, [prompts[i]], { maxNewTokens: 24, stopAtEos: false });
        assert.deepEqual(out.tokenIds, golden.meta.base_greedy[i], `prompt ${i}`);
      }
    });
  });
}

test('prompt token ids equal HF', () => {
  golden.meta.prompts.forEach((p, k) => assert.deepEqual(tokenizer.encode(p), golden.meta.input_ids[k]));
});
