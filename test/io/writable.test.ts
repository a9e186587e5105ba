/**
 * A read-only --out is reported as such, naming it, before any work: for `train` / `finetune` (checkOutDir)
 * and for `evaluate --out` (before the model is even loaded).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraRouteError } from '../../src/errors.js';
import { checkWritableDir } from '../../src/io/writable.js';
import { checkOutDir } from '../../src/train/finetune.js';
import { runEvaluate } from '../../src/system/evaluate-command.js';
import { tempDir } from './helpers.js';

const root = process.getuid?.() === 0;
const base = tempDir();
/** A folder nobody may write into, and a path below it: chmod for a user; procfs/sysfs for root (chmod does not stop root). */
const readOnlyDir = root ? '/sys' : join(base, 'ro');
const belowReadOnly = root ? '/proc/loraroute-no-such-dir/run' : join(base, 'ro', 'run');
if (!root) {
  mkdirSync(readOnlyDir);
  chmodSync(readOnlyDir, 0o555);
}
const clearly = (label: RegExp) => (e: unknown) => e instanceof LoraRouteError && label.test(e.message) && !/^ENOENT/.test(e.message);

test('checkWritableDir: a read-only folder, or a path below one, is named as not writable', () => {
  assert.throws(() => checkWritableDir(readOnlyDir, '--out', true), clearly(new RegExp(`^--out: ${readOnlyDir} is not writable \\(E[A-Z]+; a read-only place or no permission\\)`)));
  assert.throws(() => checkWritableDir(belowReadOnly, '--out', true), clearly(/^--out: cannot create .*run: .* is not writable/));
  const ok = join(base, 'a', 'b', 'c');
  checkWritableDir(ok, '--out', false);
  assert.ok(!existsSync(join(base, 'a')), 'without create nothing is made');
  checkWritableDir(ok, '--out', true);
  assert.ok(existsSync(ok));
  writeFileSync(join(base, 'file'), 'x');
  assert.throws(() => checkWritableDir(join(base, 'file', 'x'), '--out', true), /is a file, not a folder/);
});

test('train/finetune --out on a read-only place: refused up front with its name, with or without --resume', () => {
  for (const resume of [false, true]) {
    assert.throws(() => checkOutDir(belowReadOnly, join(belowReadOnly, 'state'), resume), clearly(/--out: cannot create .* is not writable/));
    assert.throws(() => checkOutDir(readOnlyDir, join(readOnlyDir, 'state'), resume), clearly(/--out: .* is not writable/));
  }
});

test('evaluate --out on a read-only place is refused before the evaluation (before the model is loaded)', () => {
  assert.throws(() => runEvaluate({ modelDir: join(base, 'no-such-model'), out: belowReadOnly }), clearly(/--out: cannot create .* is not writable/));
});
