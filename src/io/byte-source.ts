import { closeSync, fstatSync, readSync } from 'node:fs';
import { LoraRouteError } from '../errors.js';
import { checkUserFile, openUserFile } from './user-file.js';

/** Random-access bytes: a file on disk (read on demand) or a buffer in memory. */
export interface ByteSource {
  readonly size: number;
  /** Fills `dst` with the bytes at [pos, pos + dst.byteLength). */
  readInto(pos: number, dst: Uint8Array): void;
}

export class MemoryBytes implements ByteSource {
  constructor(private readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.byteLength;
  }
  readInto(pos: number, dst: Uint8Array): void {
    dst.set(this.bytes.subarray(pos, pos + dst.byteLength));
  }
}

/**
 * A file read lazily: each read opens it, checks it still has the size it had when first opened, reads straight
 * into the caller's buffer and closes it again (no descriptor is held between reads, so nothing needs closing).
 */
export class FileBytes implements ByteSource {
  readonly size: number;
  /** `what` names the file's role in messages. The path is checked with stat before it is opened (no FIFO hang). */
  constructor(readonly path: string, private readonly what = 'file') {
    checkUserFile(path, what);
    const fd = openUserFile(path, what);
    try {
      this.size = fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  }

  readInto(pos: number, dst: Uint8Array): void {
    const fd = openUserFile(this.path, this.what);
    try {
      if (fstatSync(fd).size !== this.size) {
        throw new LoraRouteError(`${this.path} changed size since it was opened (was ${this.size} bytes)`);
      }
      let done = 0;
      while (done < dst.byteLength) {
        const n = readSync(fd, dst, done, Math.min(dst.byteLength - done, 1 << 30), pos + done);
        if (n === 0) throw new LoraRouteError(`${this.path}: unexpected end of file at byte ${pos + done}`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
  }
}
