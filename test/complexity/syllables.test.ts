import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCmuDictionary, ruleSyllables, SyllableCounter, syllablesFromPhones } from '../../src/complexity/syllables.js';
import { commonWords } from '../../src/complexity/frequency.js';

test('the CMU dictionary loads and counts vowel phones', () => {
  const dict = loadCmuDictionary();
  assert.ok(dict, 'cmu-pronouncing-dictionary should be installed');
  assert.equal(syllablesFromPhones('AH0 B AW1 T'), 2);
  const c = new SyllableCounter();
  assert.equal(c.source, 'cmu');
  const expected: Record<string, number> = { cat: 1, table: 2, photosynthesis: 5, algorithm: 4, people: 2, business: 2, create: 2, the: 1, everything: 3 };
  for (const [w, n] of Object.entries(expected)) assert.equal(c.count(w), n, w);
  assert.equal(c.count('Table'), 2);
});

test('rule-based fallback handles silent e, -es/-ed and hiatus', () => {
  const expected: Record<string, number> = { make: 1, table: 2, free: 1, makes: 1, boxes: 2, named: 1, wanted: 2, ratio: 3, video: 3, nation: 2, special: 2, quick: 1, rhythm: 1, syzygy: 3, a: 1 };
  for (const [w, n] of Object.entries(expected)) assert.equal(ruleSyllables(w), n, w);
  assert.equal(ruleSyllables('123'), 0);
  const rulesOnly = new SyllableCounter(null);
  assert.equal(rulesOnly.source, 'rules');
  assert.equal(rulesOnly.count('zorblaxian'), ruleSyllables('zorblaxian'));
});

test('the common-word list holds frequent words and leaves out rare ones', () => {
  const common = commonWords();
  assert.ok(common);
  assert.equal(common.size, 20000);
  for (const w of ['the', 'explain', 'sentence', 'healthy', 'i']) assert.ok(common.has(w), w);
  for (const w of ['photosynthesis', 'adjective', 'synonym', 'algorithm']) assert.ok(!common.has(w), w);
});
