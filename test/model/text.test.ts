import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadGPT2 } from '../../src/model/load.js';
import { generateText } from '../../src/model/text.js';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { bundledModelDir } from '../../src/config/paths.js';
import { availableBackends } from '../helpers/golden.js';

// The bundled model and its tokenizer, on the fastest backend here (text needs the real vocabulary).
const backend = availableBackends().at(-1);
const model = loadGPT2(undefined, { backend });
const tokenizer = GPT2Tokenizer.fromDir(bundledModelDir());
const PROMPTS = ['Below is an instruction. Write a list of three colors.\n\n', 'The best way to learn is'];
const N = 24;

describe(`generateText on the bundled model [${model.backend.name}]`, () => {
  const free = generateText(model, tokenizer, PROMPTS, { maxNewTokens: N, stopAtEos: false });

  test('text is the decoding of the generated ids', () => {
    for (const r of free) {
      assert.equal(r.tokenIds.length, N);
      assert.equal(r.finishReason, 'length');
      assert.equal(r.text, tokenizer.decode(r.tokenIds));
      assert.ok(r.text.length > 10);
    }
  });

  test('a stop string cuts the text before it and stops generating early', () => {
    const full = free[0].text;
    // a stop string from the middle of the free text, at its first occurrence
    let at = Math.floor(full.length / 2);
    const stop = full.slice(at, at + 3);
    at = full.indexOf(stop);
    assert.ok(at > 0 && stop.length === 3);
    const pieces: string[] = [];
    const [r] = generateText(model, tokenizer, [PROMPTS[0]], { maxNewTokens: N, stopAtEos: false, stopStrings: ['never appears 123', stop], onText: (_row, t) => pieces.push(t) });
    assert.equal(r.text, full.slice(0, at));
    assert.equal(r.finishReason, 'stop');
    assert.ok(r.tokenIds.length < N, `stopped after ${r.tokenIds.length} tokens`);
    assert.deepEqual(r.tokenIds, free[0].tokenIds.slice(0, r.tokenIds.length));
    assert.ok(tokenizer.decode(r.tokenIds).includes(stop), 'the ids include those of the stop string');
    assert.ok(!tokenizer.decode(r.tokenIds.slice(0, -1)).includes(stop), 'it stopped at the first token completing the stop string');
    assert.equal(pieces.join(''), r.text, 'streamed pieces never include the stop string');
  });

  test('a stop string that never appears changes nothing', () => {
    const [r] = generateText(model, tokenizer, [PROMPTS[1]], { maxNewTokens: N, stopAtEos: false, stopStrings: ['\u0000zz', ''] });
    assert.deepEqual(r, free[1]);
  });

  test('onText pieces of each row concatenate to its final text (batched)', () => {
    const pieces = PROMPTS.map(() => [] as string[]);
    const res = generateText(model, tokenizer, PROMPTS, { maxNewTokens: N, stopAtEos: false, onText: (row, t) => pieces[row].push(t) });
    res.forEach((r, i) => {
      assert.equal(pieces[i].join(''), r.text);
      assert.ok(pieces[i].length > 1, 'text arrives in several pieces');
      assert.ok(pieces[i].every((p) => p.length > 0));
    });
    assert.deepEqual(res.map((r) => r.text), free.map((r) => r.text));
  });
});
