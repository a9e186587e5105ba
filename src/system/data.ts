import type { Config } from '../config/index.js';
export { loadRunData, type RunData } from '../train/data.js';
import type { Split } from '../data/split.js';
import type { ComplexityAnalyzer } from '../complexity/analyzer.js';
import type { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import { makeExamples, type ExampleStats } from '../train/examples.js';
import { splitRecords, type RunData } from '../train/data.js';
import { prepareExamples, type PreparedExample } from './prepared.js';

const SUBSET: Record<Split, 'train_subset' | 'validation_subset' | 'test_subset'> = {
  train: 'train_subset', validation: 'validation_subset', test: 'test_subset',
};

/** One split (seeded subset per the config), tokenized with the Alpaca template and analyzed. */
export function prepareSplit(
  data: RunData, split: Split, config: Config, tokenizer: GPT2Tokenizer, analyzer: ComplexityAnalyzer, subset?: number,
): { items: PreparedExample[]; stats: ExampleStats } {
  const n = subset ?? config.data[SUBSET[split]];
  const records = splitRecords(data.records, split, n, config.training.seed);
  const { examples, stats } = makeExamples(records, tokenizer, config.data.max_length, config.data.loss_on);
  return { items: prepareExamples(examples, records, analyzer), stats };
}
