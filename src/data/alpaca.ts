/**
 * Alpaca data: `{instruction, input?, output}` records from JSON arrays or JSONL files (optionally .gz),
 * one file or many, numbered by position over the files in the given order; that number fixes the split.
 */
import { LoraRouteError } from '../errors.js';
import { bundledDataFiles } from '../config/paths.js';
import { readRows, rowWhere, warnToStderr, type Warn } from './read.js';
import { splitOf, type Split } from './split.js';

export interface AlpacaRecord {
  /** Position over all rows of the files, in order, from 0 (rows skipped as invalid still take their number). */
  index: number;
  instruction: string;
  /** '' when the record has no input. */
  input: string;
  output: string;
  split: Split;
}

export interface LoadAlpacaOptions {
  /** Skip and count malformed rows instead of throwing. Default false. */
  skipInvalid?: boolean;
  /** Require an `output` string. Default true (training data); analysis of instructions alone sets false. */
  requireOutput?: boolean;
  /** Split rule modulus: i % m == 0 test, == 1 validation, else train. Default 20. */
  splitModulus?: number;
  /** Where warnings about a file (invalid UTF-8 replaced) go; default stderr. */
  warn?: Warn;
}

export interface LoadedAlpaca {
  records: AlpacaRecord[];
  /** Rows skipped as malformed (only with skipInvalid). */
  skipped: number;
  /** Messages of the first skipped rows (at most 20), each naming file and record. */
  problems: string[];
}

/** The six Alpaca shards shipped in the package (data/alpaca/alpaca_data_part{0..5}.json.gz), in order. */
export function defaultDataPaths(): string[] {
  return bundledDataFiles();
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** What is wrong with one row, or null when it is a valid record. */
export function recordProblem(value: unknown, requireOutput = true): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `expected an object, got ${typeName(value)}`;
  const r = value as Record<string, unknown>;
  if (r.instruction === undefined) return 'missing "instruction"';
  if (typeof r.instruction !== 'string') return `"instruction" must be a string, got ${typeName(r.instruction)}`;
  if (r.instruction.trim() === '') return '"instruction" is empty';
  if (r.input !== undefined && r.input !== null && typeof r.input !== 'string') return `"input" must be a string, got ${typeName(r.input)}`;
  if (requireOutput && r.output === undefined) return 'missing "output"';
  if (r.output !== undefined && typeof r.output !== 'string') return `"output" must be a string, got ${typeName(r.output)}`;
  return null;
}

/**
 * Loads Alpaca records from `paths` in order. A malformed row (not an object; missing, non-string or
 * empty `instruction`; missing or non-string `output`; non-string `input`; a JSONL line that is not JSON)
 * throws a LoraRouteError naming the file and record, or with `skipInvalid` is skipped and counted.
 */
export function loadAlpaca(paths: string[], opts: LoadAlpacaOptions = {}): LoadedAlpaca {
  const requireOutput = opts.requireOutput ?? true;
  const records: AlpacaRecord[] = [];
  const problems: string[] = [];
  let skipped = 0;
  let index = 0;
  for (const file of paths) {
    for (const row of readRows(file, opts.warn ?? warnToStderr)) {
      const i = index++;
      const problem = row.error ?? recordProblem(row.value, requireOutput);
      if (problem !== null) {
        const msg = `${rowWhere(file, row)}: ${problem}`;
        if (!opts.skipInvalid) throw new LoraRouteError(`invalid Alpaca record: ${msg} (skipInvalid / --skip-invalid skips such rows)`, 'E_DATA');
        skipped++;
        if (problems.length < 20) problems.push(msg);
        continue;
      }
      const r = row.value as { instruction: string; input?: string | null; output?: string };
      records.push({ index: i, instruction: r.instruction, input: r.input ?? '', output: r.output ?? '', split: splitOf(i, opts.splitModulus) });
    }
  }
  return { records, skipped, problems };
}

export interface TextRecord {
  index: number;
  split: Split;
  text: string;
}

/**
 * The string field `field` of every record of `paths` (for analysing files that are not Alpaca-shaped).
 * A row that is not an object or whose field is not a non-empty string is an error naming file and
 * record, or skipped and counted with `skipInvalid`.
 */
export function loadField(paths: string[], field: string, opts: { skipInvalid?: boolean; warn?: Warn } = {}): { records: TextRecord[]; skipped: number; problems: string[] } {
  const records: TextRecord[] = [];
  const problems: string[] = [];
  let skipped = 0;
  let index = 0;
  for (const file of paths) {
    for (const row of readRows(file, opts.warn ?? warnToStderr)) {
      const i = index++;
      const v = row.value as Record<string, unknown> | null;
      let problem = row.error ?? null;
      if (problem === null) {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) problem = `expected an object, got ${typeName(v)}`;
        else if (v[field] === undefined) problem = `missing "${field}"`;
        else if (typeof v[field] !== 'string') problem = `"${field}" must be a string, got ${typeName(v[field])}`;
        else if ((v[field] as string).trim() === '') problem = `"${field}" is empty`;
      }
      if (problem !== null) {
        const msg = `${rowWhere(file, row)}: ${problem}`;
        if (!opts.skipInvalid) throw new LoraRouteError(`invalid record: ${msg} (skipInvalid / --skip-invalid skips such rows)`, 'E_DATA');
        skipped++;
        if (problems.length < 20) problems.push(msg);
        continue;
      }
      records.push({ index: i, split: splitOf(i), text: (v as Record<string, string>)[field]! });
    }
  }
  return { records, skipped, problems };
}
