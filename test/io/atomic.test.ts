import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicChunks } from '../../src/io/atomic.js';
import { cleanStaleTemps, replaceDirAtomic } from '../../src/io/atomic-dir.js';
import { LoraRouteError } from '../../src/errors.js';
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

/** Runs a script (ESM, the compiled modules importable by URL) in a child and returns how it ended. */
function child(script: string, env: Record<string, string>): { status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}
const moduleUrl = (name: string) => JSON.stringify(new URL(`../../src/io/${name}`, import.meta.url).href);

test('writeFileAtomic on a full disk names the file and says so; the old file stays, no temporary is left', () => {
  const dir = tempDir();
  const p = join(dir, 'state.safetensors');
  writeFileAtomic(p, 'old');
  const orig = fs.writeSync;
  fs.writeSync = (() => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' }); }) as typeof fs.writeSync;
  syncBuiltinESMExports();
  try {
    assert.throws(() => writeFileAtomic(p, 'new'), (e: unknown) =>
      e instanceof LoraRouteError && e.message.startsWith(`${p}: `) && /disk is full \(ENOSPC\)/.test(e.message) && /previous version is kept/.test(e.message));
  } finally {
    fs.writeSync = orig;
    syncBuiltinESMExports();
  }
  assert.equal(readFileSync(p, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['state.safetensors']);
});

test('replaceDirAtomic: the name is a link to a complete version; a failing writer leaves the previous one; a legacy plain folder is taken over', () => {
  const dir = tempDir();
  const d = join(dir, 'adapter');
  replaceDirAtomic(d, (t) => writeFileSync(join(t, 'a.json'), '1'));
  assert.equal(readlinkSync(d), '.adapter.v1');
  replaceDirAtomic(d, (t) => writeFileSync(join(t, 'a.json'), '2'));
  assert.equal(readFileSync(join(d, 'a.json'), 'utf8'), '2');
  assert.throws(() => replaceDirAtomic(d, (t) => { writeFileSync(join(t, 'a.json'), 'half'); throw new Error('writer failed'); }), /writer failed/);
  assert.equal(readFileSync(join(d, 'a.json'), 'utf8'), '2');
  assert.deepEqual(readdirSync(dir).sort(), ['.adapter.v1', '.adapter.v2', 'adapter']);
  replaceDirAtomic(d, (t) => writeFileSync(join(t, 'a.json'), '3'));
  assert.deepEqual(readdirSync(dir).sort(), ['.adapter.v2', '.adapter.v3', 'adapter'], 'the previous version is kept, older ones removed');

  const legacy = join(dir, 'final_adapter');
  mkdirSync(legacy);
  writeFileSync(join(legacy, 'a.json'), 'old');
  replaceDirAtomic(legacy, (t) => writeFileSync(join(t, 'a.json'), 'new'));
  assert.ok(lstatSync(legacy).isSymbolicLink());
  assert.equal(readFileSync(join(legacy, 'a.json'), 'utf8'), 'new');
  assert.equal(readFileSync(join(dir, '.final_adapter.v1', 'a.json'), 'utf8'), 'old');
  writeFileSync(join(dir, 'plain-file'), 'x');
  assert.throws(() => replaceDirAtomic(join(dir, 'plain-file'), () => {}), /is not a folder/);
});

test('killed (SIGKILL) mid-file or between a complete version and its publication: the name still resolves to the previous version; cleanStaleTemps removes the leftovers only', () => {
  for (const [killAt, leftover] of [['write-file:2', /^\.x\.v2\.tmp-\d+-[0-9a-f]{12}$/], ['replace-dir:2', /^\.x\.v2$/]] as const) {
    const dir = tempDir();
    const d = join(dir, 'x');
    const r = child(
      `import { replaceDirAtomic } from ${moduleUrl('atomic-dir.js')}; import { writeFileAtomic } from ${moduleUrl('atomic.js')};
       for (const v of ['one', 'two']) replaceDirAtomic(${JSON.stringify(d)}, (t) => writeFileAtomic(t + '/f.txt', v));`,
      { LORAROUTE_TEST_KILL_AT: killAt },
    );
    assert.equal(r.signal, 'SIGKILL', `${killAt}: ${r.stderr}`);
    assert.equal(readFileSync(join(d, 'f.txt'), 'utf8'), 'one', killAt);
    const left = readdirSync(dir).filter((f) => f !== 'x' && f !== '.x.v1');
    assert.equal(left.length, 1, `${killAt}: ${left.join(', ')}`);
    assert.match(left[0], leftover);
    // user files that only look alike are kept
    const user = ['notes.tmp', 'my.tmp-file', 'x.tmp-12-notHex', 'data.tmp-12', '.x.v9-file'];
    for (const f of user) writeFileSync(join(dir, f), 'mine');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'deep.json.tmp-77-0123456789ab'), 'stale');
    const removed = cleanStaleTemps(dir).map((p) => p.slice(dir.length + 1)).sort();
    assert.deepEqual(removed, [left[0], join('sub', 'deep.json.tmp-77-0123456789ab')].sort());
    assert.deepEqual(readdirSync(dir).sort(), ['.x.v1', ...user, 'sub', 'x'].sort());
    assert.equal(readFileSync(join(d, 'f.txt'), 'utf8'), 'one');
  }
});

test('cleanStaleTemps removes the temporaries of earlier versions (.NAME.tmp-PID and .NAME.tmp-PID.old folders)', () => {
  const dir = tempDir();
  for (const f of ['.best_model.tmp-4242', '.best_model.tmp-4242.old']) mkdirSync(join(dir, f, 'experts'), { recursive: true });
  mkdirSync(join(dir, 'best_model'));
  assert.deepEqual(cleanStaleTemps(dir).map((p) => p.slice(dir.length + 1)).sort(), ['.best_model.tmp-4242', '.best_model.tmp-4242.old']);
  assert.deepEqual(readdirSync(dir), ['best_model']);
});
