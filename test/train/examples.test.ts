import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lossTokens, makeExamples } from '../../src/train/examples.js';
import type { AlpacaRecord } from '../../src/data/alpaca.js';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { bundledModelDir } from '../../src/config/paths.js';

const tok = GPT2Tokenizer.fromDir(bundledModelDir());
const EOS = tok.eosTokenId;
const rec = (index: number, instruction: string, input: string, output: string): AlpacaRecord => ({ index, instruction, input, output, split: 'train' });

// The Stanford Alpaca templates, spelled out here independently of src/data/template.ts.
const WITH_INPUT = (i: string, x: string) =>
  'Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n' +
  `### Instruction:\n${i}\n\n### Input:\n${x}\n\n### Response:\n`;
const WITHOUT_INPUT = (i: string) =>
  'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
  `### Instruction:\n${i}\n\n### Response:\n`;

test('template text verbatim (with and without input), then the output and <|endoftext|>; loss on the response only', () => {
  const records = [rec(4, 'Translate to French.', 'Good morning', 'Bonjour'), rec(9, 'Name a primary color.', '', 'Red is a primary color.')];
  const { examples, stats } = makeExamples(records, tok, 256);
  assert.equal(examples.length, 2);
  assert.deepEqual(stats, { examples: 2, skippedEmpty: 0, truncated: 0, skippedLongPrompt: 0 });
  const prompts = [WITH_INPUT('Translate to French.', 'Good morning'), WITHOUT_INPUT('Name a primary color.')];
  examples.forEach((e, k) => {
    assert.equal(e.index, records[k].index);
    assert.equal(tok.decode(e.ids.slice(0, e.promptLength)), prompts[k]);
    assert.deepEqual(e.ids.slice(0, e.promptLength), tok.encode(prompts[k]));
    assert.equal(tok.decode(e.ids.slice(e.promptLength, -1)), records[k].output);
    assert.equal(e.ids.at(-1), EOS);
    assert.equal(e.labels.length, e.ids.length);
    e.labels.forEach((l, t) => assert.equal(l, t < e.promptLength ? -100 : e.ids[t], `label ${t}`));
    // every response token and the end token carry loss (after the shift, all labels from promptLength on)
    assert.equal(lossTokens(e), e.ids.length - e.promptLength);
  });
  assert.equal(tok.decode(examples[0].ids), prompts[0] + 'Bonjour<|endoftext|>');
});

test('loss_on all: labels equal the ids everywhere', () => {
  const { examples } = makeExamples([rec(0, 'Say hi.', '', 'Hi!')], tok, 256, 'all');
  assert.deepEqual(examples[0].labels, examples[0].ids);
});

test('too long: the prompt is kept whole and the response loses its end (end token included)', () => {
  const output = 'one two three four five six seven eight nine ten eleven twelve';
  const prompt = tok.encode(WITHOUT_INPUT('Count.'));
  const response = tok.encode(output);
  const maxLength = prompt.length + 5;
  const { examples, stats } = makeExamples([rec(0, 'Count.', '', output)], tok, maxLength);
  assert.equal(stats.truncated, 1);
  const e = examples[0];
  assert.equal(e.ids.length, maxLength);
  assert.equal(e.promptLength, prompt.length);
  assert.deepEqual(e.ids, [...prompt, ...response.slice(0, 5)]);
  assert.ok(!e.ids.includes(EOS));
  assert.equal(e.labels.filter((l) => l !== -100).length, 5);
  // exactly fitting (prompt + response + end token = maxLength) is not truncated
  const fit = makeExamples([rec(0, 'Count.', '', output)], tok, prompt.length + response.length + 1);
  assert.equal(fit.stats.truncated, 0);
  assert.equal(fit.examples[0].ids.at(-1), EOS);
  // one token short: the end token goes
  const short = makeExamples([rec(0, 'Count.', '', output)], tok, prompt.length + response.length);
  assert.equal(short.stats.truncated, 1);
  assert.deepEqual(short.examples[0].ids, [...prompt, ...response]);
});

test('empty outputs and over-long prompts are skipped and counted; the rest keep their record index', () => {
  const records = [
    rec(0, 'A.', '', ''),
    rec(1, 'B.', '', '   \n'),
    rec(2, 'C.', '', 'ok'),
    rec(3, 'word '.repeat(80), '', 'fine'),
    rec(4, 'E.', 'x', 'yes'),
  ];
  const { examples, stats } = makeExamples(records, tok, 64);
  assert.deepEqual(stats, { examples: 2, skippedEmpty: 2, truncated: 0, skippedLongPrompt: 1 });
  assert.deepEqual(examples.map((e) => e.index), [2, 4]);
  // a prompt of exactly max_length leaves no room for a response: skipped too
  const p = tok.encode(WITHOUT_INPUT('C.')).length;
  assert.equal(makeExamples([rec(0, 'C.', '', 'ok')], tok, p).stats.skippedLongPrompt, 1);
  assert.equal(makeExamples([rec(0, 'C.', '', 'ok')], tok, p + 1).examples[0].ids.length, p + 1);
});
