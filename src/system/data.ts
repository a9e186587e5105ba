import type { Config } from '../config/index.js';
import { defaultDataPaths, loadAlpaca, type AlpacaRecord } from '../data/alpaca.js';
import type { Split } from '../data/split.js';
import type { ComplexityAnalyzer } from '../complexity/analyzer.js';
import type { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import { makeExamples, type ExampleStats } from '../train/examples.js';
import { splitRecords } from '../train/data.js';
import { prepareExamples, type PreparedExample } from './prepared.js';

export interface RunData {
  paths: string[];
  records: AlpacaRecord[];
  skippedInvalid: number;
}

/** The data files of a config (bundled Alpaca when data.paths is empty), loaded once. */
export function loadRunData(config: Config, override?: string[]): RunData {
  const paths = override ?? (config.data.paths.length ? config.data.paths : defaultDataPaths());
  const loaded = loadAlpaca(paths, { skipInvalid: config.data.skip_invalid });
  return { paths, records: loaded.records, skippedInvalid: loaded.skipped };
}

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
