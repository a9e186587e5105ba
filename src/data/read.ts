/**
 * Raw rows of a data file: a JSON array, or JSONL (one JSON value per non-blank line), either one
 * optionally gzip-compressed (by the `.gz` suffix or the gzip magic bytes). The format is told by the
 * first non-blank character: `[` → JSON array, anything else → JSONL.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { LoraRouteError } from '../errors.js';

export interface RawRow {
  /** The parsed value, or undefined when the line was not valid JSON (see `error`). */
  value: unknown;
  /** Position of the row in its file, from 0. */
  record: number;
  /** 1-based line of the row for JSONL files; undefined for JSON arrays. */
  line?: number;
  /** JSON syntax error of a JSONL line. */
  error?: string;
}

/** Where a row is, for messages: `data.jsonl record 3 (line 4)`. */
export function rowWhere(file: string, row: Pick<RawRow, 'record' | 'line'>): string {
  return `${file} record ${row.record}${row.line !== undefined ? ` (line ${row.line})` : ''}`;
}

function readText(file: string): string {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new LoraRouteError(`cannot read data file ${file}: ${(err as Error).message}`, 'E_DATA');
  }
  if (file.endsWith('.gz') || (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b)) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw new LoraRouteError(`data file ${file} is not valid gzip: ${(err as Error).message}`, 'E_DATA');
    }
  }
  return buf.toString('utf8');
}

/** Reads every row of `file`. A JSON array that does not parse is an error; a bad JSONL line is returned with `error`. */
export function readRows(file: string): RawRow[] {
  const text = readText(file);
  const first = /\S/.exec(text);
  if (!first) return [];
  if (first[0] === '[') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new LoraRouteError(`data file ${file} is not a valid JSON array: ${(err as Error).message}`, 'E_DATA');
    }
    if (!Array.isArray(value)) throw new LoraRouteError(`data file ${file}: expected a JSON array of records`, 'E_DATA');
    return value.map((v, record) => ({ value: v, record }));
  }
  const rows: RawRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const row: RawRow = { value: undefined, record: rows.length, line: i + 1 };
    try {
      row.value = JSON.parse(line);
    } catch (err) {
      row.error = `not valid JSON (${(err as Error).message})`;
    }
    rows.push(row);
  }
  return rows;
}
