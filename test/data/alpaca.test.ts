import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defaultDataPaths, loadAlpaca, loadField } from '../../src/data/alpaca.js';
import { splitOf } from '../../src/data/split.js';
import { LoraRouteError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'loraroute-data-'));
let n = 0;
function file(name: string, content: string | Buffer): string {
  const p = join(dir, `${n++}-${name}`);
  writeFileSync(p, content);
  return p;
}
const rec = (i: number, extra: Record<string, unknown> = {}) => ({ instruction: `Do task ${i}.`, input: i % 2 ? `x${i}` : '', output: `out ${i}`, ...extra });
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

test('split rule: i % 20 == 0 test, == 1 validation, else train', () => {
  assert.equal(splitOf(0), 'test');
  assert.equal(splitOf(1), 'validation');
  assert.equal(splitOf(2), 'train');
  assert.equal(splitOf(19), 'train');
  assert.equal(splitOf(20), 'test');
  assert.equal(splitOf(41), 'validation');
  assert.equal(splitOf(52001), 'validation');
});

test('loads JSON arrays, JSONL and gzip, numbering records across files in order', () => {
  const a = file('a.json', JSON.stringify([rec(0), rec(1), rec(2)]));
  const b = file('b.jsonl.gz', gzipSync(jsonl([rec(3), rec(4)])));
  const c = file('c.jsonl', '\n' + jsonl(Array.from({ length: 18 }, (_, i) => rec(5 + i))) + '\n\n');
  const d = file('d.json.gz', gzipSync(JSON.stringify([rec(23)])));
  const { records, skipped } = loadAlpaca([a, b, c, d]);
  assert.equal(skipped, 0);
  assert.equal(records.length, 24);
  assert.deepEqual(records.map((r) => r.index), Array.from({ length: 24 }, (_, i) => i));
  assert.deepEqual(records.map((r) => r.instruction), Array.from({ length: 24 }, (_, i) => `Do task ${i}.`));
  assert.equal(records[3]!.input, 'x3');
  assert.equal(records[4]!.input, '');
  assert.equal(records[23]!.output, 'out 23');
  assert.equal(records[0]!.split, 'test');
  assert.equal(records[1]!.split, 'validation');
  assert.equal(records[2]!.split, 'train');
  assert.equal(records[20]!.split, 'test');
  assert.equal(records[21]!.split, 'validation');
  // order of files decides the numbering
  const swapped = loadAlpaca([b, a]).records;
  assert.equal(swapped[0]!.instruction, 'Do task 3.');
  assert.equal(swapped[2]!.instruction, 'Do task 0.');
  assert.equal(swapped[2]!.index, 2);
});

test('a missing input (or null) becomes the empty string', () => {
  const p = file('noinput.jsonl', jsonl([{ instruction: 'A', output: 'b' }, { instruction: 'C', input: null, output: 'd' }]));
  const { records } = loadAlpaca([p]);
  assert.equal(records[0]!.input, '');
  assert.equal(records[1]!.input, '');
});

const BAD_ROWS: Array<[string, unknown, RegExp]> = [
  ['missing instruction', { input: '', output: 'x' }, /missing "instruction"/],
  ['missing output', { instruction: 'Do it.', input: '' }, /missing "output"/],
  ['instruction of the wrong type', { instruction: 42, output: 'x' }, /"instruction" must be a string, got number/],
  ['output of the wrong type', { instruction: 'Do it.', output: ['x'] }, /"output" must be a string, got array/],
  ['input of the wrong type', { instruction: 'Do it.', input: 3, output: 'x' }, /"input" must be a string, got number/],
  ['empty instruction', { instruction: '   ', output: 'x' }, /"instruction" is empty/],
  ['not an object', 'just a string', /expected an object, got string/],
];

for (const [what, row, why] of BAD_ROWS) {
  test(`a row with ${what} is an error naming file and record`, () => {
    const p = file('bad.jsonl', jsonl([rec(0), rec(1), row, rec(3)]));
    assert.throws(
      () => loadAlpaca([p]),
      (err: unknown) => {
        assert.ok(err instanceof LoraRouteError);
        assert.match(err.message, new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} record 2 \\(line 3\\)`));
        assert.match(err.message, why);
        return true;
      },
    );
  });
}

test('a bad row in a JSON array names file and record (no line)', () => {
  const p = file('bad.json', JSON.stringify([rec(0), { instruction: '', output: 'x' }]));
  assert.throws(() => loadAlpaca([p]), (err: unknown) => err instanceof LoraRouteError && err.message.includes(`${p} record 1:`) && /is empty/.test(err.message));
});

test('a JSONL line that is not JSON names file, record and line', () => {
  const p = file('broken.jsonl', `${JSON.stringify(rec(0))}\n\n{"instruction": "oops"\n`);
  assert.throws(() => loadAlpaca([p]), (err: unknown) => err instanceof LoraRouteError && err.message.includes(`${p} record 1 (line 3)`) && /not valid JSON/.test(err.message));
});

test('a JSON array that does not parse, or a missing file, is an error naming the file', () => {
  const p = file('broken.json', '[{"instruction": "a", "output": "b"},');
  assert.throws(() => loadAlpaca([p]), (err: unknown) => err instanceof LoraRouteError && err.message.includes(p));
  assert.throws(() => loadAlpaca([join(dir, 'nope.json')]), (err: unknown) => err instanceof LoraRouteError && err.message.includes('nope.json'));
  const g = file('fake.json.gz', 'not gzip');
  assert.throws(() => loadAlpaca([g]), (err: unknown) => err instanceof LoraRouteError && /gzip/.test(err.message));
});

test('skipInvalid skips and counts bad rows, which keep their index (the split stays fixed)', () => {
  const rows = [rec(0), { instruction: '' , output: 'x' }, rec(2), { output: 'x' }, 'nope', rec(5), { instruction: 'a', output: 7 }];
  const p = file('mixed.jsonl', jsonl(rows) + '{broken\n' + JSON.stringify(rec(8)) + '\n');
  const { records, skipped, problems } = loadAlpaca([p], { skipInvalid: true });
  assert.equal(skipped, 5);
  assert.equal(problems.length, 5);
  assert.ok(problems.every((m) => m.startsWith(`${p} record `)));
  assert.deepEqual(records.map((r) => r.index), [0, 2, 5, 8]);
  assert.deepEqual(records.map((r) => r.split), ['test', 'train', 'train', 'train']);
});

test('requireOutput: false accepts rows without output', () => {
  const p = file('noout.jsonl', jsonl([{ instruction: 'A' }]));
  assert.throws(() => loadAlpaca([p]), /missing "output"/);
  assert.equal(loadAlpaca([p], { requireOutput: false }).records[0]!.output, '');
});

test('loadField reads one string field and checks it', () => {
  const p = file('field.jsonl', jsonl([{ text: 'Hello there.' }, { text: 3 }, { other: 'x' }, { text: 'Bye.' }]));
  assert.throws(() => loadField([p], 'text'), (err: unknown) => err instanceof LoraRouteError && err.message.includes(`${p} record 1 (line 2)`) && /"text" must be a string/.test(err.message));
  const r = loadField([p], 'text', { skipInvalid: true });
  assert.equal(r.skipped, 2);
  assert.deepEqual(r.records.map((x) => [x.index, x.text]), [[0, 'Hello there.'], [3, 'Bye.']]);
});

test('the bundled data: six shards, 52,002 records, 46,800 / 2,601 / 2,601', () => {
  const paths = defaultDataPaths();
  assert.equal(paths.length, 6);
  paths.forEach((p, i) => {
    assert.ok(p.endsWith(`alpaca_data_part${i}.json.gz`), p);
    assert.ok(existsSync(p));
  });
  const { records, skipped } = loadAlpaca(paths);
  assert.equal(skipped, 0);
  assert.equal(records.length, 52002);
  const count = (s: string) => records.filter((r) => r.split === s).length;
  assert.deepEqual([count('train'), count('validation'), count('test')], [46800, 2601, 2601]);
  assert.equal(records[0]!.instruction, 'Give three tips for staying healthy.');
  assert.equal(records[8667]!.index, 8667);
});
