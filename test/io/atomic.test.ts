import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicChunks } from '../../src/io/atomic.js';
import { tempDir } from './helpers.js';

test('writeFileAtomic writes strings and bytes, creates parent dirs, leaves no temp file', () => {
  const dir = tempDir();
  const p = join(dir, 'a', 'b', 'c.txt');
  writeFileAtomic(p, 'héllo');
  assert.equal(readFileSync(p, 'utf8'), 'héllo');
  writeFileAtomic(p, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...readFileSync(p)], [1, 2, 3]);
  assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['c.txt']);
});

test('writeFileAtomic replaces an existing file whole', () => {
  const dir = tempDir();
  const p = join(dir, 'x.bin');
  writeFileSync(p, 'old content that is longer');
  writeFileAtomic(p, 'new');
  assert.equal(readFileSync(p, 'utf8'), 'new');
});

test('writeFileAtomicChunks concatenates chunks, including views into larger buffers', () => {
  const dir = tempDir();
  const p = join(dir, 'chunks.bin');
  const big = new Uint8Array([9, 9, 4, 5, 9]);
  writeFileAtomicChunks(p, [new Uint8Array([1, 2]), new Uint8Array(0), big.subarray(2, 4), new Uint8Array([6])]);
  assert.deepEqual([...readFileSync(p)], [1, 2, 4, 5, 6]);
});

test('a failed write removes its temp file and keeps the old file', () => {
  const dir = tempDir();
  const target = join(dir, 'isdir');
  mkdirSync(join(target, 'inner'), { recursive: true }); // rename onto a non-empty dir fails
  assert.throws(() => writeFileAtomic(target, 'data'));
  assert.deepEqual(readdirSync(dir), ['isdir']);

  const p = join(dir, 'keep.txt');
  writeFileAtomic(p, 'old');
  function* failing(): Generator<Uint8Array> {
    yield new Uint8Array([1]);
    throw new Error('boom');
  }
  assert.throws(() => writeFileAtomicChunks(p, failing()), /boom/);
  assert.equal(readFileSync(p, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir).sort(), ['isdir', 'keep.txt']);
});
