// Hostile data files: devices, invalid UTF-8 (a counted warning), a BOM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraRouteError } from '../../src/errors.js';
import { loadAlpaca, loadField } from '../../src/data/alpaca.js';
import { ALPACA_ROWS, jsonl } from '../fuzz/fixtures.js';
import { tempDir } from '../io/helpers.js';

const dir = tempDir('loraroute-hostile-data-');
const isErr = (re: RegExp) => (e: unknown) => e instanceof LoraRouteError && re.test(e.message) && e.code === 'E_DATA';

test('/dev/zero as a data file is refused at once, naming it', () => {
  const t0 = Date.now();
  assert.throws(() => loadAlpaca(['/dev/zero']), isErr(/data file \/dev\/zero is a character device, expected a regular file/));
  assert.throws(() => loadField(['/dev/zero'], 'instruction'), isErr(/\/dev\/zero/));
  assert.ok(Date.now() - t0 < 2000);
});

test('non-UTF-8 bytes in data give a counted warning naming the file', () => {
  const f = join(dir, 'latin1.jsonl');
  const text = Buffer.from(jsonl(ALPACA_ROWS).replace('Blue.', 'Bleu\u0000'), 'utf8');
  const at = text.indexOf(0);
  text[at] = 0xe9; // "é" in Latin-1: not UTF-8
  writeFileSync(f, Buffer.concat([text, Buffer.from('{"instruction": "caf'), Buffer.from([0xe9]), Buffer.from('", "output": "x"}\n')]));
  const warnings: string[] = [];
  const r = loadAlpaca([f], { warn: (m) => warnings.push(m) });
  assert.equal(r.records.length, 4);
  assert.equal(r.records[0]!.output, 'Bleu\uFFFD');
  assert.deepEqual(warnings, [`loraroute: data file ${f}: 2 invalid UTF-8 byte sequence(s) replaced by U+FFFD`]);
  const clean: string[] = [];
  writeFileSync(f, jsonl(ALPACA_ROWS));
  loadAlpaca([f], { warn: (m) => clean.push(m) });
  assert.deepEqual(clean, []);
});

test('a JSON data file with a BOM loads', () => {
  const f = join(dir, 'bom.json');
  writeFileSync(f, '\uFEFF' + JSON.stringify(ALPACA_ROWS));
  assert.equal(loadAlpaca([f]).records.length, 3);
});
