import type { GPT2 } from '../model/gpt2.js';
import type { LinearHook } from '../model/hooks.js';
import { collate, evalBatches, type ExampleBatch } from './batches.js';
import type { Example } from './examples.js';

/** Language-model loss of one example: summed over its loss tokens, and how many there were. */
export interface ExampleLoss {
  index: number;
  lossSum: number;
  tokens: number;
}

/**
 * Scores examples in eval mode (no dropout). `prepare` sets up the hook for each batch (e.g. routes
 * each row to an expert) and returns the hook to use, or null for the bare base model.
 * Results come back in the order of `examples`.
 */
export function scoreExamples(
  model: GPT2, examples: Example[], batchSize: number, padId: number,
  prepare: (batch: ExampleBatch) => LinearHook | null = () => null,
): ExampleLoss[] {
  const byIndex = new Map<Example, ExampleLoss>();
  for (const group of evalBatches(examples, batchSize)) {
    const eb = collate(group, padId);
    const hook = prepare(eb);
    const res = model.forward(eb.batch, { hook, targets: eb.targets });
    group.forEach((e, b) => byIndex.set(e, { index: e.index, lossSum: res.rowLoss[b], tokens: res.rowCount[b] }));
  }
  return examples.map((e) => byIndex.get(e) as ExampleLoss);
}

/** Token-weighted mean loss of scored examples. */
export function meanLoss(scores: ExampleLoss[]): number {
  let s = 0, n = 0;
  for (const x of scores) { s += x.lossSum; n += x.tokens; }
  return n > 0 ? s / n : 0;
}
