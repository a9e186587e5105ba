import type { Config } from '../config/index.js';
import { defaultDataPaths, loadAlpaca, type AlpacaRecord } from '../data/alpaca.js';
import type { Split } from '../data/split.js';
import { shuffledOrder } from './batches.js';

/** The records of one split, or a seeded random subset of n of them (0 = all), kept in index order. */
export function splitRecords(records: AlpacaRecord[], split: Split, n: number, seed: number): AlpacaRecord[] {
  const all = records.filter((r) => r.split === split);
  if (n <= 0 || n >= all.length) return all;
  const order = shuffledOrder(all.length, (seed ^ hashSplit(split)) >>> 0);
  return order.slice(0, n).sort((a, b) => a - b).map((i) => all[i]);
}

function hashSplit(split: Split): number {
  return split === 'train' ? 0x1234567 : split === 'validation' ? 0x2345678 : 0x3456789;
}

export interface RunData {
  paths: string[];
  records: AlpacaRecord[];
  skippedInvalid: number;
}

/** The data files of a config (bundled Alpaca when data.paths is empty), loaded once. */
export function loadRunData(config: Config, override?: string[]): RunData {
  const paths = override ?? (config.data.paths.length ? config.data.paths : defaultDataPaths());
  const loaded = loadAlpaca(paths, { skipInvalid: config.data.skip_invalid, splitModulus: config.data.split_modulus });
  return { paths, records: loaded.records, skippedInvalid: loaded.skipped };
}

