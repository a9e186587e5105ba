/**
 * Raw rows of a data file: a JSON array, or JSONL (one JSON value per non-blank line), either one
 * optionally gzip-compressed (by the `.gz` suffix or the gzip magic bytes). The format is told by the
 * first non-blank character: `[` → JSON array, anything else → JSONL.
 */
import { LoraRouteError } from '../errors.js';
import { decodeUtf8Lossy, gunzipCapped, isGzip, MAX_DATA_FILE_BYTES, quoteText, readUserBytes } from '../io/user-file.js';

/** Where warnings about a data file go (default: stderr). */
export type Warn = (message: string) => void;
export const warnToStderr: Warn = (m) => console.warn(m);

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

/** Data files are user files: checked before opening and read with a cap (after decompression too). */
function readText(file: string, warn: Warn): string {
  let buf: Buffer;
  try {
    buf = readUserBytes(file, 'data file', MAX_DATA_FILE_BYTES);
    if (file.endsWith('.gz') || isGzip(buf)) buf = gunzipCapped(buf, file, 'data file', MAX_DATA_FILE_BYTES);
  } catch (err) {
    if (err instanceof LoraRouteError) throw new LoraRouteError(err.message, 'E_DATA');
    throw err;
  }
  const { text, replaced } = decodeUtf8Lossy(buf);
  if (replaced > 0) warn(`loraroute: data file ${file}: ${replaced} invalid UTF-8 byte sequence(s) replaced by U+FFFD`);
  return text;
}

/** Reads every row of `file`. A JSON array that does not parse is an error; a bad JSONL line is returned with `error`. */
export function readRows(file: string, warn: Warn = warnToStderr): RawRow[] {
  const text = readText(file, warn);
  const first = /\S/.exec(text);
  if (!first) return [];
  if (first[0] === '[') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new LoraRouteError(`data file ${file} is not a valid JSON array: ${quoteText((err as Error).message, 200)}`, 'E_DATA');
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
      row.error = `not valid JSON (${quoteText((err as Error).message, 200)})`;
    }
    rows.push(row);
  }
  return rows;
}
