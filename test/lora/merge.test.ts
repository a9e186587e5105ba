import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT2 } from '../../src/model/gpt2.js';
import { viewWeights } from '../../src/model/weights.js';
import { LoraMixture } from '../../src/lora/mixture.js';
import { mergeAdapter, unmergeAdapter } from '../../src/lora/merge.js';
import { availableBackends } from '../helpers/golden.js';
import { maxAbs, maxDiff, microAdapter, microModel, randomIds } from '../helpers/micro.js';

for (const backend of availableBackends()) {
  describe(`merge / unmerge [${backend.name}]`, () => {
    const base = microModel({ backend, std: 0.1 });
    const cfg = base.config;
    const ids = Int32Array.from(randomIds(2 * 9, 4));
    const batch = { ids, B: 2, T: 9 };

    for (const over of [
      { targetModules: ['c_attn', 'c_proj', 'c_fc'] },
      { targetModules: ['c_proj'], r: 3, loraAlpha: 5, useRslora: true, layersToTransform: [1] },
    ]) {
      test(`merged forward equals the unmerged forward with the adapter (${JSON.stringify(over)})`, () => {
        const adapter = microAdapter(cfg, over, 9, 0.3);
        const mix = new LoraMixture([adapter], backend);
        mix.useOnly(0, 2);
        const withAdapter = Float32Array.from(base.forward(batch, { hook: mix, logits: 'all' }).logits as Float32Array);
        const plain = Float32Array.from(base.forward(batch, { logits: 'all' }).logits as Float32Array);
        // merge into a private copy of the base
        const copy = new GPT2(cfg, viewWeights(cfg, base.weights.buffer.slice()), backend);
        mergeAdapter(copy.weights, adapter, backend);
        const merged = Float32Array.from(copy.forward(batch, { logits: 'all' }).logits as Float32Array);
        const scale = Math.max(1, maxAbs(withAdapter));
        assert.ok(maxDiff(merged, withAdapter) < 1e-5 * scale, `max |merged - adapter| = ${maxDiff(merged, withAdapter)}`);
        assert.ok(maxDiff(plain, withAdapter) > 1e-3 * scale, 'the adapter changes the output');
        // only the targeted weights changed
        for (let l = 0; l < cfg.nLayer; l++) {
          const bw = base.weights.blocks[l], cw = copy.weights.blocks[l];
          assert.deepEqual(cw.fcProjW.length, bw.fcProjW.length);
          assert.deepEqual(cw.ln1W, bw.ln1W);
          assert.deepEqual(cw.qkvB, bw.qkvB);
          if (!adapter.site(l, 'mlp.c_fc')) assert.deepEqual(cw.fcW, bw.fcW);
          if (!adapter.site(l, 'attn.c_attn')) assert.deepEqual(cw.qkvW, bw.qkvW);
        }
        unmergeAdapter(copy.weights, adapter, backend);
        assert.ok(maxDiff(copy.weights.buffer, base.weights.buffer) < 1e-6, 'unmerge restores the base');
      });
    }
  });
}
