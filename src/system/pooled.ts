import type { GPT2 } from '../model/gpt2.js';
import { collate } from '../train/batches.js';
import type { Example } from '../train/examples.js';

/**
 * The base model's masked mean-pooled final hidden state over each example's prompt tokens (no adapter):
 * an optional router input. Returns [N, C] in the order of `examples`.
 */
export function pooledPromptStates(model: GPT2, examples: Array<Pick<Example, 'ids' | 'promptLength'>>, batchSize: number, padId: number): Float32Array {
  const C = model.config.nEmbd;
  const out = new Float32Array(examples.length * C);
  for (let i0 = 0; i0 < examples.length; i0 += batchSize) {
    const group = examples.slice(i0, i0 + batchSize).map((e) => {
      const ids = e.ids.slice(0, e.promptLength);
      return { index: 0, ids, labels: ids.map(() => -100), promptLength: ids.length };
    });
    const eb = collate(group, padId);
    const { hidden } = model.forward(eb.batch, { logits: 'none' });
    const T = eb.batch.T;
    group.forEach((e, b) => {
      const dst = out.subarray((i0 + b) * C, (i0 + b + 1) * C);
      for (let t = 0; t < e.ids.length; t++) for (let c = 0; c < C; c++) dst[c] += hidden[(b * T + t) * C + c];
      for (let c = 0; c < C; c++) dst[c] /= e.ids.length;
    });
  }
  return out;
}
