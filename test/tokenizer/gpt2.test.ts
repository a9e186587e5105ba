import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonTokenizer, reference, vocabTokenizer } from './helpers.js';

// The prompts and input_ids of ../shared/fixtures/golden/meta.json (HF GPT2TokenizerFast).
const GOLDEN: Array<[string, number[]]> = [
  ['Give three tips for staying healthy.', [23318, 1115, 9040, 329, 10589, 5448, 13]],
  [
    'Explain how neural networks work in simple terms, and give an example of where they are used today.',
    [18438, 391, 703, 17019, 7686, 670, 287, 2829, 2846, 11, 290, 1577, 281, 1672, 286, 810, 484, 389, 973, 1909, 13],
  ],
];

test('golden prompts encode to the reference ids, from both file layouts', () => {
  for (const tok of [jsonTokenizer(), vocabTokenizer()]) {
    for (const [text, ids] of GOLDEN) {
      assert.deepEqual(tok.encode(text), ids);
      assert.equal(tok.decode(ids), text);
    }
  }
});

test('vocab facts: size, eos, specials', () => {
  for (const tok of [jsonTokenizer(), vocabTokenizer()]) {
    assert.equal(tok.vocabSize, 50257);
    assert.equal(tok.eosTokenId, 50256);
    assert.equal(tok.idToToken(50256), '<|endoftext|>');
    assert.equal(tok.tokenToId('Ġthe'), 262);
    assert.equal(tok.idToToken(198), 'Ċ');
    assert.ok(tok.isSpecial(50256) && !tok.isSpecial(262));
  }
});

test('matches HF tokenizers on 247 texts (unicode, whitespace, long words, Alpaca records)', () => {
  const ref = reference();
  assert.ok(ref.cases.length > 200);
  const tok = jsonTokenizer();
  for (const c of ref.cases) {
    assert.deepEqual(tok.encode(c.text), c.plain_ids ?? c.ids, `text ${JSON.stringify(c.text).slice(0, 80)}`);
    assert.deepEqual(tok.encode(c.text, { allowSpecial: true }), c.ids, `allowSpecial ${JSON.stringify(c.text).slice(0, 80)}`);
  }
  for (const c of ref.special_cases) assert.deepEqual(tok.encode(c.text, { allowSpecial: true }), c.ids);
  for (const c of ref.decode_cases) assert.equal(tok.decode(c.ids), c.text, `decode ${c.ids}`);
});

test('both loading paths give identical encodings and decodings', () => {
  const a = jsonTokenizer();
  const b = vocabTokenizer();
  for (const c of reference().cases) {
    const ids = a.encode(c.text);
    assert.deepEqual(b.encode(c.text), ids);
    assert.deepEqual(b.encode(c.text, { allowSpecial: true }), a.encode(c.text, { allowSpecial: true }));
    assert.equal(b.decode(ids), a.decode(ids));
  }
  for (let id = 0; id < a.vocabSize; id += 97) assert.equal(b.idToToken(id), a.idToToken(id));
});

test('special tokens: plain text by default, id 50256 with allowSpecial', () => {
  const tok = jsonTokenizer();
  const text = 'Hello<|endoftext|>World';
  const plain = tok.encode(text);
  assert.ok(!plain.includes(50256));
  assert.equal(tok.decode(plain), text);
  assert.deepEqual(tok.encode(text, { allowSpecial: true }), [15496, 50256, 10603]);
  assert.deepEqual(tok.encode('<|endoftext|>', { allowSpecial: true }), [50256]);
  assert.deepEqual(tok.encode('<|endoftext|>', { allowSpecial: false }), [27, 91, 437, 1659, 5239, 91, 29]);
  assert.equal(tok.decode([15496, 50256, 10603]), 'Hello<|endoftext|>World');
  assert.equal(tok.decode([15496, 50256, 10603], { skipSpecialTokens: true }), 'HelloWorld');
  // Near misses stay text even with allowSpecial.
  assert.ok(!tok.encode('<|endoftext|', { allowSpecial: true }).includes(50256));
});

test('decode rejects ids outside the vocabulary', () => {
  const tok = jsonTokenizer();
  assert.throws(() => tok.decode([1, 50257]), /token id 50257 is not in the vocabulary of .*tokenizer\.json \(0\.\.50256\)/);
  assert.throws(() => tok.decode([-1]), /token id -1/);
  assert.throws(() => tok.decode([1.5]), /token id 1\.5/);
});
