import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { LoraRouteError } from '../../src/errors.js';
import { bundledModelDir } from '../../src/config/paths.js';
import { tempDir } from './helpers.js';

test('a dir without tokenizer files: the error names the dir and the files looked for', () => {
  const dir = tempDir();
  assert.throws(() => GPT2Tokenizer.fromDir(dir), (e: Error) =>
    e instanceof LoraRouteError && e.message === `${dir}: no tokenizer found: looked for tokenizer.json, or vocab.json + merges.txt`);
  copyFileSync(join(bundledModelDir(), 'vocab.json'), join(dir, 'vocab.json'));
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /vocab\.json is there but merges\.txt is missing/);
});

test('small hand-made tokenizer.json: merges as strings or pairs, added tokens, bad files', () => {
  const dir = tempDir();
  const bytes: Record<string, number> = {};
  // The byte-level alphabet is required; build it from the real vocab's first 256 ids.
  const real = GPT2Tokenizer.fromDir(bundledModelDir());
  for (let id = 0; id < 256; id++) bytes[real.idToToken(id)!] = id;
  const vocab = { ...bytes, 'Ġt': 256, he: 257, 'Ġthe': 258, '<|endoftext|>': 259 };
  const write = (merges: unknown[], extra: Record<string, unknown> = {}) =>
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({
      added_tokens: [{ id: 259, content: '<|endoftext|>', special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
      model: { type: 'BPE', vocab, merges },
      ...extra,
    }));
  write(['Ġ t', 'h e', 'Ġt he']);
  const a = GPT2Tokenizer.fromDir(dir);
  assert.deepEqual(a.encode(' the the'), [258, 258]);
  assert.equal(a.eosTokenId, 259);
  assert.equal(a.vocabSize, 260);
  write([['Ġ', 't'], ['h', 'e'], ['Ġt', 'he']]);
  assert.deepEqual(GPT2Tokenizer.fromDir(dir).encode(' the'), [258]);
  write([['Ġ', 't'], ['h', 'e']]);
  assert.deepEqual(GPT2Tokenizer.fromDir(dir).encode(' the'), [256, 257]);

  write(['Ġ t', 'h e', 'Ġt he'], { pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, use_regex: true } });
  assert.deepEqual(GPT2Tokenizer.fromDir(dir).encode('the'), [258], 'add_prefix_space adds a space before the text');
  assert.deepEqual(GPT2Tokenizer.fromDir(dir).encode(' the'), [258], 'but not a second one');

  write(['Ġ t', 'bad']);
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /tokenizer\.json model\.merges: merge 1 must be "a b" or \["a", "b"\], got "bad"/);
  write([], { model: { type: 'WordPiece', vocab } });
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /model\.type is 'WordPiece'; only GPT-2 byte-level BPE is supported/);
  write([], { pre_tokenizer: { type: 'Whitespace' } });
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /pre_tokenizer must be GPT-2's ByteLevel/);
  write([], { normalizer: { type: 'NFC' } });
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /a normalizer .* is not supported/);
  writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /tokenizer\.json: not valid JSON/);
});

test('vocab.json + merges.txt: #version line and CRLF tolerated; bad merge lines named', () => {
  const dir = tempDir();
  copyFileSync(join(bundledModelDir(), 'vocab.json'), join(dir, 'vocab.json'));
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\r\nĠ t\r\nh e\r\n\r\n');
  const tok = GPT2Tokenizer.fromDir(dir);
  assert.equal(tok.eosTokenId, 50256);
  assert.ok(tok.isSpecial(50256));
  assert.deepEqual(tok.encode('<|endoftext|>', { allowSpecial: true }), [50256]);
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\nĠ t\nh e x\n');
  assert.throws(() => GPT2Tokenizer.fromDir(dir), /merges\.txt line: merge 3 must be "a b"/);
});
