import type { GPT2 } from '../model/gpt2.js';
import type { LoraMixture } from '../lora/mixture.js';
import { collate } from './batches.js';
import { lossTokens, type Example } from './examples.js';
import type { TrainingTask } from './loop.js';
import { meanLoss, scoreExamples } from './score.js';

/**
 * Trains adapter `k` of a mixture alone on `train` (every row routed to it), validating on `validation`:
 * fine-tuning one LoRA, and phase 1 (each expert on its tier).
 */
export function adapterTask(
  name: string, model: GPT2, mixture: LoraMixture, k: number, train: Example[], validation: Example[],
  opts: { evalBatchSize: number; padId: number; onBest?: (valLoss: number, step: number) => void },
): TrainingTask<Example> {
  const adapter = mixture.adapters[k];
  return {
    name,
    items: train,
    groups: [{ name: `${name}.lora`, params: adapter.params, grads: adapter.grads }],
    weight: batchLossTokens,
    step(items, seed, scale) {
      const eb = collate(items, opts.padId);
      mixture.trainable = mixture.adapters.map((_, i) => i === k);
      mixture.trackGateGrads = false;
      mixture.useOnly(k, eb.batch.B);
      const res = model.forward(eb.batch, { hook: mixture, train: true, seed, targets: eb.targets });
      model.backward(scale);
      return { lossSum: res.loss * res.count, tokens: res.count };
    },
    evaluate() {
      return meanLoss(scoreExamples(model, validation, opts.evalBatchSize, opts.padId, (eb) => {
        mixture.useOnly(k, eb.batch.B);
        return mixture;
      }));
    },
    onBest: opts.onBest,
  };
}

/** Loss tokens of a micro-batch: its weight in an accumulated optimiser step. */
export function batchLossTokens(items: Example[]): number {
  return items.reduce((n, e) => n + lossTokens(e), 0);
}
