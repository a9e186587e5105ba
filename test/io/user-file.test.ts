import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { LoraRouteError } from '../../src/errors.js';
import {
  checkUserFile,
  decodeUtf8Lossy,
  gunzipCapped,
  quoteValue,
  readUserBytes,
  readUserJson,
  readUserText,
} from '../../src/io/user-file.js';
import { tempDir } from './helpers.js';

const dir = tempDir('loraroute-userfile-');
const isErr = (re: RegExp) => (e: unknown) => e instanceof LoraRouteError && re.test(e.message);

test('a FIFO is refused from stat, before it is opened (opening one would block)', () => {
  const fifo = join(dir, 'pipe.jsonl');
  execFileSync('mkfifo', [fifo]);
  assert.throws(() => checkUserFile(fifo, 'data file'), isErr(/data file .*pipe\.jsonl is a FIFO \(named pipe\), expected a regular file/));
  assert.throws(() => readUserBytes(fifo, 'data file', 1024), isErr(/pipe\.jsonl is a FIFO/));
});

test('/dev/zero and folders are refused without reading', () => {
  assert.throws(() => readUserBytes('/dev/zero', 'config file', 1024), isErr(/config file \/dev\/zero is a character device, expected a regular file/));
  assert.throws(() => readUserBytes(dir, 'data file', 1024), isErr(/is a folder, expected a regular file/));
});

test('a file above the size cap is refused naming the file and the limit', () => {
  const f = join(dir, 'big.json');
  writeFileSync(f, 'x'.repeat(3000));
  assert.throws(() => readUserBytes(f, 'model config', 2048), isErr(/model config .*big\.json has 3000 bytes, above the limit of 2048 bytes/));
  assert.equal(readUserBytes(f, 'model config', 4096).byteLength, 3000);
});

test('a dangling symbolic link is named as one', () => {
  const link = join(dir, 'dangling.json');
  symlinkSync(join(dir, 'nowhere.json'), link);
  assert.throws(() => readUserJson(link, 'model config'), isErr(/dangling\.json is a dangling symbolic link \(to .*nowhere\.json/));
  assert.throws(() => checkUserFile(join(dir, 'absent'), 'data file'), isErr(/data file .*absent does not exist/));
});

test('JSON with a UTF-8 byte-order mark is read (not "Unexpected token")', () => {
  const f = join(dir, 'bom.json');
  writeFileSync(f, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a": 1}')]));
  assert.deepEqual(readUserJson(f, 'model config'), { a: 1 });
  writeFileSync(f, '{"a": ');
  assert.throws(() => readUserJson(f, 'model config'), isErr(/model config .*bom\.json: not valid JSON/));
});

test('invalid UTF-8 in a text file is an error naming the file and byte; lossy decoding counts replacements', () => {
  const f = join(dir, 'bad.txt');
  writeFileSync(f, Buffer.from([0x61, 0x62, 0xff, 0x63]));
  assert.throws(() => readUserText(f, 'tokenizer file', 1024), isErr(/tokenizer file .*bad\.txt is not valid UTF-8 \(at byte 2\)/));
  // two invalid bytes, and one real U+FFFD written in the file, which is not counted
  const mixed = Buffer.concat([Buffer.from([0xff]), Buffer.from('a\uFFFDb'), Buffer.from([0xc3])]);
  const { text, replaced } = decodeUtf8Lossy(mixed);
  assert.equal(replaced, 2);
  assert.equal(text, '\uFFFDa\uFFFDb\uFFFD');
});

test('a gzip bomb stops at the stated limit with a message naming the file', () => {
  const member = gzipSync(Buffer.alloc(1 << 20)); // 1 MiB of zeros in ~1 KB; members concatenate
  const bomb = Buffer.concat(Array.from({ length: 64 }, () => member));
  assert.ok(bomb.byteLength < 100_000);
  assert.throws(() => gunzipCapped(bomb, 'x.jsonl.gz', 'data file', 8 << 20), isErr(/data file x\.jsonl\.gz decompresses to more than the limit of 8 MiB/));
  assert.equal(gunzipCapped(member, 'x.gz', 'data file', 8 << 20).byteLength, 1 << 20);
  assert.throws(() => gunzipCapped(Buffer.from([0x1f, 0x8b, 1, 2, 3]), 'y.gz', 'data file', 1024), isErr(/data file y\.gz is not valid gzip/));
});

test('values quoted in messages are cut short', () => {
  const q = quoteValue('x'.repeat(50_000_000));
  assert.ok(q.length < 200, `${q.length} characters`);
  assert.match(q, /… \(50000002 characters\)$/);
  assert.equal(quoteValue({ a: 1 }), '{"a":1}');
});
