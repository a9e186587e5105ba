import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LoraRouteError } from '../errors.js';

/**
 * The one pattern of loraroute's temporaries: `<name>.tmp-<pid>-<12 hex>` (files and folders being written),
 * plus the hidden `.<name>.tmp-<pid>` and `.<name>.tmp-<pid>.old` folders of earlier versions. Only names matching it
 * are ever removed as stale (`cleanStaleTemps`), so a user's own files are never touched.
 */
export const TEMP_NAME = /\.tmp-\d+-[0-9a-f]{12}$|^\..+\.tmp-\d+(?:\.old)?$/;

/** A fresh temporary name next to `path`, matching TEMP_NAME. */
export function tempPath(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/**
 * Test hook: with `LORAROUTE_TEST_KILL_AT=<label>[:<n>]` the process kills itself (SIGKILL) the n-th time (default
 * the first) it reaches `label`, so a crash test can stop it at an exact point of the real code path.
 */
export function testKillPoint(label: string): void {
  const want = process.env.LORAROUTE_TEST_KILL_AT;
  if (!want) return;
  const [name, nth] = want.split(':');
  if (name !== label) return;
  const seen = (killCounts.get(label) ?? 0) + 1;
  killCounts.set(label, seen);
  if (seen >= Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}
const killCounts = new Map<string, number>();

/**
 * A failed write as a user can act on it: a full disk or a read-only place becomes a LoraRouteError naming
 * `path`; any other error is returned unchanged.
 */
export function writeError(path: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (err instanceof LoraRouteError) return err;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new LoraRouteError(`${path}: cannot write: the disk is full (${code}); nothing was replaced, the previous version is kept — free some space and run again`, 'E_IO');
  }
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
    return new LoraRouteError(`${path}: cannot write there (${code}: read-only or no permission)`, 'E_IO');
  }
  return err;
}

/**
 * Writes `data` to `path` so that a reader sees either the old file or the complete new one, never a
 * half-written file: write `path.tmp-<pid>-<rand>`, fsync, rename over `path`. Parent dirs are created.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  writeFileAtomicChunks(path, [bytes]);
}

/**
 * Like writeFileAtomic, but the content is given as a sequence of chunks (consumed lazily), so a large file
 * (a checkpoint) never needs to exist as one buffer in memory. A failure (a full disk included) removes the
 * temporary and leaves `path` as it was.
 */
export function writeFileAtomicChunks(path: string, chunks: Iterable<Uint8Array>): void {
  const dir = dirname(path);
  const tmp = tempPath(path);
  let fd: number | null = null;
  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(tmp, 'w', 0o644);
    let first = true;
    for (const chunk of chunks) {
      writeAll(fd, chunk);
      if (first) testKillPoint('write-file'); // mid-file: the temporary holds part of the content
      first = false;
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== null) {
      try { closeSync(fd); } catch { /* already failing */ }
    }
    rmSync(tmp, { force: true });
    throw writeError(path, err);
  }
  syncDir(dir);
}

function writeAll(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off);
}

/** fsync the directory so a rename into it is durable; not possible on every platform, so best effort. */
export function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // e.g. Windows cannot open a directory; the rename is still atomic there.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
