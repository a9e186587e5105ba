/**
 * Reading a file a user named, safely: the path is checked with `stat` BEFORE it is opened (a FIFO, a device
 * such as /dev/zero, a folder or a dangling link is refused without blocking or reading), it is opened
 * non-blocking (so a file swapped for a FIFO after the check cannot hang), and it is read with a size cap
 * (a file that grows while read, or a gzip bomb, stops at the cap). Every failure is a LoraRouteError naming
 * the file and the limit.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync, statSync, type Stats } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { LoraRouteError } from '../errors.js';

const MiB = 1024 * 1024;

/** A run config (YAML). */
export const MAX_CONFIG_FILE_BYTES = 4 * MiB;
/** A small JSON file: config.json, adapter_config.json, router.json, loraroute.json, tokenizer_config.json, a shard index. */
export const MAX_JSON_FILE_BYTES = 16 * MiB;
/** tokenizer.json, vocab.json, merges.txt (GPT-2's tokenizer.json is 1.4 MB). */
export const MAX_TOKENIZER_FILE_BYTES = 64 * MiB;
/** A data file, on disk and after gzip decompression (JavaScript strings stop at 512 MiB). */
export const MAX_DATA_FILE_BYTES = 256 * MiB;

const formatBytes = (n: number): string => (n >= MiB ? `${(n / MiB).toFixed(n % MiB === 0 ? 0 : 1)} MiB` : `${n} bytes`);

/** What a path is, without following it into a read: a dangling symbolic link is told apart from a missing path. */
export function describeMissing(path: string): string {
  const l = lstatSync(path, { throwIfNoEntry: false });
  if (l?.isSymbolicLink()) {
    let target = '?';
    try {
      target = readlinkSync(path);
    } catch { /* unreadable link: keep '?' */ }
    return `${path} is a dangling symbolic link (to ${target}, which does not exist)`;
  }
  return `${path} does not exist`;
}

/** Is there a directory entry at `path` (a dangling link counts)? */
export function entryExists(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Checks, without opening it, that `path` is a regular file (links followed) of at most `maxBytes`; returns
 * its size. `what` names the file's role in messages ("data file", "tokenizer file").
 */
export function checkUserFile(path: string, what: string, maxBytes = Infinity): number {
  let st: Stats | undefined;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch (err) {
    throw new LoraRouteError(`${what} ${path}: cannot stat it (${(err as Error).message})`);
  }
  if (!st) throw new LoraRouteError(`${what} ${describeMissing(path)}`);
  if (!st.isFile()) throw new LoraRouteError(`${what} ${path} is ${kindOf(st)}, expected a regular file`);
  if (st.size > maxBytes) {
    throw new LoraRouteError(`${what} ${path} has ${formatBytes(st.size)}, above the limit of ${formatBytes(maxBytes)} for such a file`);
  }
  return st.size;
}

/**
 * Opens a file already checked by checkUserFile, non-blocking, and checks the descriptor is still a regular
 * file. The caller closes it.
 */
export function openUserFile(path: string, what: string): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new LoraRouteError(`cannot open ${what} ${path}: ${(err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new LoraRouteError(`${what} ${path} is ${kindOf(st)}, expected a regular file`);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** The bytes of a user file, at most `maxBytes` of them (a file that grows past the cap while read is refused). */
export function readUserBytes(path: string, what: string, maxBytes: number): Buffer {
  const size = checkUserFile(path, what, maxBytes);
  const fd = openUserFile(path, what);
  try {
    // one byte more than expected, to see growth past the stat size
    const buf = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1);
    let done = 0;
    for (;;) {
      const n = readSync(fd, buf, done, buf.byteLength - done, null);
      if (n === 0) break;
      done += n;
      if (done === buf.byteLength) {
        throw new LoraRouteError(`${what} ${path} grew while it was read (it had ${formatBytes(size)}); refusing a file that changes`);
      }
    }
    return buf.subarray(0, done);
  } catch (err) {
    if (err instanceof LoraRouteError) throw err;
    throw new LoraRouteError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** Is `buf` gzip (by its magic bytes)? */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Decompresses gzip, refusing output past `maxBytes` (a gzip bomb) with a message naming the file. */
export function gunzipCapped(buf: Uint8Array, path: string, what: string, maxBytes: number): Buffer {
  try {
    return gunzipSync(buf, { maxOutputLength: maxBytes });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new LoraRouteError(`${what} ${path} decompresses to more than the limit of ${formatBytes(maxBytes)}`);
    }
    throw new LoraRouteError(`${what} ${path} is not valid gzip: ${(err as Error).message}`);
  }
}

const BOM = '\uFEFF';

/** UTF-8 text of `buf`; a leading BOM is dropped. Invalid UTF-8 is an error naming the file and the byte. */
export function decodeUtf8Strict(buf: Uint8Array, path: string, what: string): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf);
  } catch {
    throw new LoraRouteError(`${what} ${path} is not valid UTF-8 (at byte ${firstInvalidUtf8(buf)})`);
  }
  return text.startsWith(BOM) ? text.slice(1) : text;
}

/**
 * UTF-8 text of `buf` with invalid sequences replaced by U+FFFD (as browsers do), and how many were replaced;
 * a leading BOM is dropped.
 */
export function decodeUtf8Lossy(buf: Uint8Array): { text: string; replaced: number } {
  let text = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(buf);
  if (text.startsWith(BOM)) text = text.slice(1);
  let replaced = 0;
  for (let i = text.indexOf('\uFFFD'); i !== -1; i = text.indexOf('\uFFFD', i + 1)) replaced++;
  // U+FFFD written in the file itself (EF BF BD) is not a replacement
  for (let i = buf.indexOf(0xef); i !== -1 && i + 2 < buf.length; i = buf.indexOf(0xef, i + 1)) {
    if (buf[i + 1] === 0xbf && buf[i + 2] === 0xbd) replaced--;
  }
  return { text, replaced };
}

/** Offset of the first byte where `buf` stops being valid UTF-8 (for messages). */
function firstInvalidUtf8(buf: Uint8Array): number {
  let lo = 0;
  let hi = buf.length;
  const ok = (n: number) => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n), { stream: true });
      return true;
    } catch {
      return false;
    }
  };
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A user text file (UTF-8, BOM dropped), at most `maxBytes`. */
export function readUserText(path: string, what: string, maxBytes: number): string {
  return decodeUtf8Strict(readUserBytes(path, what, maxBytes), path, what);
}

/** A user JSON file (UTF-8, BOM accepted), at most `maxBytes`; a syntax error names the file. */
export function readUserJson(path: string, what: string, maxBytes = MAX_JSON_FILE_BYTES): unknown {
  const text = readUserText(path, what, maxBytes);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new LoraRouteError(`${what} ${path}: not valid JSON (${quoteText((err as Error).message, 200)})`);
  }
}

/** `s` cut to at most `max` characters for a message, saying how long it was. */
export function quoteText(s: string, max = 120): string {
  if (s.length <= max) return s;
  return `${s.slice(0, max)}… (${s.length} characters)`;
}

/** A value as JSON for a message, cut to `max` characters (a 50 MB string is not echoed whole). */
export function quoteValue(v: unknown, max = 120): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return quoteText(s ?? String(v), max);
}
