import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';

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
 * (a checkpoint) never needs to exist as one buffer in memory.
 */
export function writeFileAtomicChunks(path: string, chunks: Iterable<Uint8Array>): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fd: number | null = openSync(tmp, 'w', 0o644);
  try {
    for (const chunk of chunks) writeAll(fd, chunk);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== null) {
      try { closeSync(fd); } catch { /* already failing */ }
    }
    rmSync(tmp, { force: true });
    throw err;
  }
  syncDir(dir);
}

function writeAll(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off);
}

/** fsync the directory so the rename itself is durable; not possible on every platform, so best effort. */
function syncDir(dir: string): void {
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
