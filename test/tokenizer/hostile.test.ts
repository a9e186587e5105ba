// Hostile tokenizer files: every id is bounded before anything is allocated; inconsistent files are errors
// naming the file and key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraRouteError } from '../../src/errors.js';
import { GPT2Tokenizer } from '../../src/tokenizer/gpt2.js';
import { byteVocab, tokenizerJson, type TokenizerJson } from '../fuzz/fixtures.js';
import { tempDir } from '../io/helpers.js';

const root = tempDir('loraroute-hostile-tok-');
const isErr = (re: RegExp) => (e: unknown) => e instanceof LoraRouteError && re.test(e.message);
let n = 0;

/** A folder with tokenizer.json = `mutate(valid object)`. */
function tokDir(mutate: (j: TokenizerJson) => void = () => {}, text?: string): string {
  const dir = join(root, `t${n++}`);
  mkdirSync(dir);
  const j = tokenizerJson();
  mutate(j);
  writeFileSync(join(dir, 'tokenizer.json'), text ?? JSON.stringify(j));
  return dir;
}

/** A folder with vocab.json + merges.txt (+ tokenizer_config.json). */
function filesDir(vocab: Record<string, unknown>, merges: string, config?: unknown): string {
  const dir = join(root, `f${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), merges);
  if (config !== undefined) writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return dir;
}

test('the fixture tokenizer loads', () => {
  const tok = GPT2Tokenizer.fromDir(tokDir());
  assert.equal(tok.vocabSize, 257);
  assert.equal(tok.decode(tok.encode('héllo')), 'héllo');
});

test('a vocab id of 4,000,000,000 is refused at once, naming tokenizer.json and the token', () => {
  const t0 = Date.now();
  const dir = tokDir((j) => { j.model.vocab['a'] = 4_000_000_000; });
  assert.throws(() => GPT2Tokenizer.fromDir(dir), isErr(/tokenizer\.json model\.vocab: vocab id of 'a' must be an integer in \[0, 257\) \(the vocabulary size\), got 4000000000/));
  assert.ok(Date.now() - t0 < 2000);
});

test('an added_tokens id of 3e9, negative or fractional, is refused naming the token', () => {
  for (const id of [3e9, -1, 2.5]) {
    const dir = tokDir((j) => { j.added_tokens.push({ id, content: '<|pad|>', special: true }); });
    assert.throws(() => GPT2Tokenizer.fromDir(dir), isErr(/tokenizer\.json added_tokens: id of added token '<\|pad\|>' must be an integer in \[0, 259\)/), String(id));
  }
  // and one that takes the id of another token
  const clash = tokDir((j) => { j.added_tokens.push({ id: 65, content: '<|pad|>', special: true }); });
  assert.throws(() => GPT2Tokenizer.fromDir(clash), isErr(/added token '<\|pad\|>' has id 65, which is the vocabulary's token 'A'/));
});

test('duplicate vocab ids are refused naming both tokens', () => {
  const dir = tokDir((j) => { j.model.vocab['a'] = 66; });
  assert.throws(() => GPT2Tokenizer.fromDir(dir), isErr(/vocab id 66 is given to both '.' and '.'/));
});

test('an empty merges.txt is refused (a byte-level tokenizer with no merges keeps its #version line)', () => {
  assert.throws(() => GPT2Tokenizer.fromDir(filesDir(byteVocab(), '')), isErr(/merges\.txt is empty: expected a '#version' line/));
  assert.equal(GPT2Tokenizer.fromDir(filesDir(byteVocab(), '#version: 0.2\n')).vocabSize, 257);
});

test('tokenizer_config.json added_tokens_decoder ids are checked', () => {
  const bad = filesDir(byteVocab(), '#version: 0.2\n', { added_tokens_decoder: { '3000000000': { content: '<|x|>', special: true } } });
  assert.throws(() => GPT2Tokenizer.fromDir(bad), isErr(/tokenizer_config\.json added_tokens_decoder: id of added token '<\|x\|>' must be an integer in \[0, 258\)/));
  const notId = filesDir(byteVocab(), '#version: 0.2\n', { added_tokens_decoder: { '-4': { content: '<|x|>' } } });
  assert.throws(() => GPT2Tokenizer.fromDir(notId), isErr(/added_tokens_decoder key "-4" must be a token id/));
});

test('tokenizer.json with a UTF-8 BOM loads; invalid UTF-8 is named', () => {
  assert.equal(GPT2Tokenizer.fromDir(tokDir(undefined, '\uFEFF' + JSON.stringify(tokenizerJson()))).vocabSize, 257);
  const dir = tokDir();
  writeFileSync(join(dir, 'tokenizer.json'), Buffer.from([0x7b, 0xff, 0x7d]));
  assert.throws(() => GPT2Tokenizer.fromDir(dir), isErr(/tokenizer file .*tokenizer\.json is not valid UTF-8 \(at byte 1\)/));
});
