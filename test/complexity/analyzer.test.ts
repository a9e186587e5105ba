import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComplexityAnalyzer } from '../../src/complexity/analyzer.js';
import { FEATURE_NAMES } from '../../src/complexity/features.js';
import { defaultDataPaths, loadAlpaca } from '../../src/data/alpaca.js';
import { LoraRouteError } from '../../src/errors.js';

const analyzer = new ComplexityAnalyzer();
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} != ${b}`);

test('features have fixed names; vector is a Float32Array in [0, 1] of the same length', () => {
  const a = analyzer.analyze('Write a haiku about autumn leaves.');
  assert.deepEqual(Object.keys(a.features), [...FEATURE_NAMES]);
  assert.ok(a.vector instanceof Float32Array);
  assert.equal(a.vector.length, FEATURE_NAMES.length);
  for (const v of a.vector) assert.ok(v >= 0 && v <= 1);
  assert.ok(a.score >= 0 && a.score <= 1);
  assert.deepEqual(analyzer.analyze('Write a haiku about autumn leaves.'), a, 'deterministic');
  assert.equal(analyzer.syllableSource, 'cmu');
});

test('hand-checked: a plain question', () => {
  const { features: f, tier } = analyzer.analyze('What are the three primary colors?');
  assert.equal(f.words, 6);
  assert.equal(f.sentences, 1);
  assert.equal(f.mean_sentence_words, 6);
  assert.equal(f.question, 1);
  assert.equal(f.imperative, 0);
  close(f.number_density, 1 / 6, 'number_density'); // "three"
  assert.equal(f.entity_density, 0);
  assert.equal(f.rare_word_share, 0);
  assert.equal(f.code_markers + f.math_markers + f.multi_step_markers + f.constraint_markers, 0);
  assert.equal(f.has_input, 0);
  assert.equal(tier, 0);
});

test('hand-checked: an imperative with a counted output', () => {
  const { features: f, tier } = analyzer.analyze('Give three tips for staying healthy.');
  assert.equal(f.words, 6);
  assert.equal(f.imperative, 1);
  assert.equal(f.question, 0);
  assert.equal(f.constraint_markers, 1); // "three tips"
  assert.equal(f.syllables_per_word, 8 / 6); // give three tips for stay-ing health-y
  close(f.flesch_reading_ease, 206.835 - 1.015 * 6 - 84.6 * (8 / 6), 'flesch_reading_ease');
  close(f.flesch_kincaid_grade, 0.39 * 6 + 11.8 * (8 / 6) - 15.59, 'flesch_kincaid_grade');
  assert.equal(tier, 0);
});

test('hand-checked: math, code, entities, rare words, lemma TTR', () => {
  const math = analyzer.analyze('Calculate the area of a circle with a radius of 5 cm.').features;
  assert.equal(math.words, 12);
  assert.equal(math.math_markers, 3); // calculate, area, radius
  close(math.number_density, 1 / 12, 'number_density');
  const code = analyzer.analyze('Write a Python function that returns the sum of a list of integers.').features;
  assert.equal(code.code_markers, 2); // python, function
  close(code.entity_density, 1 / 13, 'entity_density'); // Python
  const ents = analyzer.analyze('Barack Obama visited Paris on July 4, 2015. Describe the visit.').features;
  assert.equal(ents.sentences, 2);
  assert.equal(ents.words, 11);
  close(ents.entity_density, 3 / 11, 'entity_density'); // Barack Obama, Paris, July 4, 2015
  assert.equal(ents.imperative, 1);
  assert.equal(analyzer.analyze('Explain photosynthesis.').features.rare_word_share, 0.5);
  close(analyzer.analyze('Write a poem and a song.').features.lemma_ttr, 5 / 6, 'lemma_ttr');
});

test('hand-checked: input, multi-step, syntax estimates', () => {
  const withInput = analyzer.analyze('Translate the following sentence into Spanish.', 'The cat is sleeping on the sofa.').features;
  assert.equal(withInput.has_input, 1);
  assert.equal(withInput.input_words, 7);
  assert.equal(withInput.words, 13);
  assert.equal(withInput.sentences, 2);
  const steps = analyzer.analyze('First, list the planets of the solar system. Then, sort them by size and explain why Jupiter is the largest.').features;
  assert.equal(steps.imperative, 1);
  assert.ok(steps.multi_step_markers >= 3, `multi_step_markers ${steps.multi_step_markers}`);
  const short = analyzer.analyze('Name a fruit.').features;
  const long = analyzer.analyze('Explain why the committee, which had argued for months about the budget that the mayor proposed, finally agreed when the auditors who reviewed it said that it was sound.').features;
  assert.ok(short.syntactic_depth >= 1 && short.syntactic_depth < long.syntactic_depth);
  assert.ok(short.clauses >= 1 && short.clauses < long.clauses);
  assert.ok(long.subordination > short.subordination);
});

test('hand-checked tiers: short factual requests are simple, long constrained multi-step ones complex', () => {
  for (const s of ['Hi', 'What is the capital of France?', 'Name a color.', 'What are the three primary colors?']) {
    assert.equal(analyzer.analyze(s).tier, 0, s);
  }
  const complex = [
    'Write a Python function that parses a CSV file, removes duplicate rows, and returns the result as a JSON array; the code must not use external libraries and should run in linear time.',
    'First, summarize the article in exactly three sentences. Then, identify the two main arguments the author makes and explain which of them is better supported by evidence, citing specific passages.',
  ];
  for (const s of complex) assert.equal(analyzer.analyze(s).tier, 2, s);
});

test('monotonic: the same request with more clauses and constraints scores higher', () => {
  const pairs: Array<[string, string]> = [
    ['Write a poem.', 'Write a poem about the ocean that rhymes, has exactly four stanzas, and does not use the word blue.'],
    ['Summarize the article.', 'Summarize the article in three sentences, then list the two main arguments and explain which one is stronger.'],
    ['Translate the sentence into French.', 'Translate the sentence into French, keeping the formal tone, and make sure that the verbs agree with the subject.'],
    ['Give three tips for staying healthy.', 'Give three tips for staying healthy that a busy student who works at night can follow without spending money.'],
    ['Sort the list.', 'Sort the list in descending order, remove duplicates, and return the result as a JSON array.'],
    ['Describe a cat.', 'Describe a cat, but only using words with one syllable.'],
  ];
  for (const [plain, richer] of pairs) {
    const a = analyzer.analyze(plain).score;
    const b = analyzer.analyze(richer).score;
    assert.ok(b > a, `"${richer}" (${b.toFixed(3)}) should score above "${plain}" (${a.toFixed(3)})`);
  }
  // a chain: each step adds one clause or constraint
  const chain = [
    'Write an email to my manager.',
    'Write an email to my manager asking for a day off.',
    'Write an email to my manager asking for a day off because my daughter is sick.',
    'Write an email to my manager asking for a day off because my daughter is sick, and keep it under 100 words.',
    'Write an email to my manager asking for a day off because my daughter is sick, and keep it under 100 words; it must be polite and must not mention her illness in detail.',
  ];
  const scores = chain.map((s) => analyzer.analyze(s).score);
  for (let i = 1; i < scores.length; i++) assert.ok(scores[i]! > scores[i - 1]!, `step ${i}: ${scores.map((s) => s.toFixed(3)).join(' → ')}`);
});

test('thresholds: custom thresholds change the tier, bad ones are rejected', () => {
  const s = 'Describe the water cycle in a few sentences.';
  const score = analyzer.analyze(s).score;
  const low = new ComplexityAnalyzer({ thresholds: [score / 2] });
  assert.equal(low.analyze(s).tier, 1);
  assert.throws(() => new ComplexityAnalyzer({ thresholds: [0.8, 0.2] }), LoraRouteError);
});

test('calibration: the default thresholds give ~30/40/30 on (a tenth of) the train split', () => {
  const train = loadAlpaca(defaultDataPaths()).records.filter((r, i) => r.split === 'train' && i % 10 === 3);
  const counts = [0, 0, 0];
  for (const r of train) counts[analyzer.analyze(r.instruction, r.input).tier]!++;
  const shares = counts.map((c) => c / train.length);
  assert.ok(Math.abs(shares[0]! - 0.3) < 0.025 && Math.abs(shares[1]! - 0.4) < 0.025 && Math.abs(shares[2]! - 0.3) < 0.025, `shares ${shares.map((s) => s.toFixed(3))}`);
});
