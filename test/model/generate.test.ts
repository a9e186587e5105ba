import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT2 } from '../../src/model/gpt2.js';
import { generateIds } from '../../src/model/generate.js';
import { LoraRouteError } from '../../src/errors.js';
import { availableBackends } from '../helpers/golden.js';
import { microConfig, microModel, randomIds } from '../helpers/micro.js';

const noWarn = (m: string) => assert.fail(`unexpected warning: ${m}`);

for (const backend of availableBackends()) {
  describe(`generateIds on the micro model [${backend.name}]`, () => {
    const model = microModel({ backend, std: 0.1 });

    test('a right-padded batch of prompts of different lengths gives each prompt its solo tokens', () => {
      const prompts = [randomIds(3, 1), randomIds(9, 2), randomIds(1, 3), randomIds(6, 4)];
      const alone = prompts.map((p) => generateIds(model, [p], { maxNewTokens: 12, stopAtEos: false, warn: noWarn })[0]);
      const batched = generateIds(model, prompts, { maxNewTokens: 12, stopAtEos: false, warn: noWarn });
      assert.deepEqual(batched.map((r) => r.tokenIds), alone.map((r) => r.tokenIds));
      batched.forEach((r, i) => {
        assert.equal(r.tokenIds.length, 12);
        assert.equal(r.finishReason, 'length');
        assert.equal(r.promptTokens, prompts[i].length);
      });
      // the tokens differ between prompts (else the check above proves little)
      assert.ok(new Set(batched.map((r) => r.tokenIds.join(','))).size > 1);
    });

    test('greedy tokens equal the argmax of a full forward pass over prompt + generated tokens', () => {
      const prompt = randomIds(5, 9);
      const [r] = generateIds(model, [prompt], { maxNewTokens: 8, stopAtEos: false });
      const all = [...prompt, ...r.tokenIds];
      const logits = model.forward({ ids: Int32Array.from(all), B: 1, T: all.length }, { logits: 'all' }).logits as Float32Array;
      const V = model.config.vocabSize;
      for (let i = 0; i < r.tokenIds.length; i++) {
        const row = logits.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V);
        let best = 0;
        for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
        assert.equal(r.tokenIds[i], best, `token ${i}`);
      }
    });
  });
}

describe('generateIds: limits, end of text, sampling', () => {
  const model = microModel({ std: 0.1 });

  test('a prompt longer than n_positions - maxNewTokens is cut from the left, with a warning', () => {
    const long = randomIds(60, 5);
    const warnings: string[] = [];
    const [r] = generateIds(model, [long], { maxNewTokens: 10, stopAtEos: false, warn: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /prompt 0 has 60 tokens; keeping the last 54/);
    assert.equal(r.promptTokens, 54);
    const [cut] = generateIds(model, [long.slice(6)], { maxNewTokens: 10, stopAtEos: false, warn: noWarn });
    assert.deepEqual(r.tokenIds, cut.tokenIds);
    // exactly at the budget: no warning
    generateIds(model, [long.slice(6)], { maxNewTokens: 10, warn: noWarn });
  });

  test('argument errors are LoraRouteErrors', () => {
    const isErr = (re: RegExp) => (e: unknown) => e instanceof LoraRouteError && re.test(e.message);
    assert.throws(() => generateIds(model, [[1]], { maxNewTokens: -1 }), isErr(/maxNewTokens must be a non-negative integer, got -1/));
    assert.throws(() => generateIds(model, [[1]], { maxNewTokens: 1.5 }), isErr(/maxNewTokens must be a non-negative integer/));
    assert.throws(() => generateIds(model, [[1]], { maxNewTokens: 64 }), isErr(/maxNewTokens \(64\) must be below n_positions \(64\)/));
    assert.throws(() => generateIds(model, [[1], [2, 97]], { maxNewTokens: 4 }), isErr(/prompt 1: token id 97 is outside the vocabulary \[0, 97\)/));
    assert.throws(() => generateIds(model, [[1.5]], { maxNewTokens: 4 }), isErr(/prompt 0: token id 1.5/));
  });

  test('maxNewTokens 0 and no prompts', () => {
    assert.deepEqual(generateIds(model, [], { maxNewTokens: 4 }), []);
    const [r] = generateIds(model, [[1, 2]], { maxNewTokens: 0 });
    assert.deepEqual(r, { tokenIds: [], finishReason: 'length', promptTokens: 2 });
  });

  test('by default a row stops at end-of-text and leaves it out; stopAtEos false continues', () => {
    const prompt = randomIds(4, 77);
    const [free] = generateIds(model, [prompt], { maxNewTokens: 12, stopAtEos: false });
    // make a token that greedy decoding first produces at step j >= 2 the end-of-text token of a twin model
    const j = free.tokenIds.findIndex((t, i) => i >= 2 && free.tokenIds.indexOf(t) === i);
    assert.ok(j >= 2, `greedy output too repetitive for this test: ${free.tokenIds}`);
    const eos = free.tokenIds[j];
    const twin = new GPT2({ ...model.config, eosTokenId: eos }, model.weights, model.backend);
    const seen: number[] = [];
    const [stopped] = generateIds(twin, [prompt], { maxNewTokens: 12, onToken: (_row, id) => seen.push(id) });
    assert.deepEqual(stopped.tokenIds, free.tokenIds.slice(0, j));
    assert.equal(stopped.finishReason, 'eos');
    assert.deepEqual(seen, stopped.tokenIds, 'the end-of-text token is not streamed either');
    const [cont] = generateIds(twin, [prompt], { maxNewTokens: 12, stopAtEos: false });
    assert.deepEqual(cont.tokenIds, free.tokenIds);
    assert.ok(cont.tokenIds.includes(eos));
    // in a batch, the row that stops does not disturb the one that goes on
    const other = randomIds(7, 78);
    const [otherAlone] = generateIds(twin, [other], { maxNewTokens: 12 });
    const batch = generateIds(twin, [prompt, other], { maxNewTokens: 12 });
    assert.deepEqual(batch, [stopped, otherAlone]);
  });

  test('shouldStop ends a row after the token that triggers it', () => {
    const prompt = randomIds(3, 99);
    const [free] = generateIds(model, [prompt], { maxNewTokens: 10, stopAtEos: false });
    const [r] = generateIds(model, [prompt], { maxNewTokens: 10, stopAtEos: false, shouldStop: (_b, ids) => ids.length === 4 });
    assert.deepEqual(r.tokenIds, free.tokenIds.slice(0, 4));
    assert.equal(r.finishReason, 'stop');
  });

  test('sampling with a seed is reproducible, and different seeds differ', () => {
    const prompts = [randomIds(4, 1), randomIds(2, 2)];
    const o = { maxNewTokens: 20, temperature: 1, stopAtEos: false };
    const a = generateIds(model, prompts, { ...o, seed: 5 });
    const b = generateIds(model, prompts, { ...o, seed: 5 });
    const c = generateIds(model, prompts, { ...o, seed: 6 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.map((r) => r.tokenIds), c.map((r) => r.tokenIds));
    const greedy = generateIds(model, prompts, { maxNewTokens: 20, stopAtEos: false });
    assert.notDeepEqual(a.map((r) => r.tokenIds), greedy.map((r) => r.tokenIds), 'temperature 1 should not be greedy');
  });

  test('top-k = 1 and a tiny top-p both equal greedy decoding', () => {
    const prompts = [randomIds(4, 3), randomIds(8, 4)];
    const greedy = generateIds(model, prompts, { maxNewTokens: 15, stopAtEos: false });
    for (const seed of [1, 2, 3]) {
      assert.deepEqual(generateIds(model, prompts, { maxNewTokens: 15, stopAtEos: false, temperature: 1.5, topK: 1, seed }), greedy);
      assert.deepEqual(generateIds(model, prompts, { maxNewTokens: 15, stopAtEos: false, temperature: 1.5, topP: 1e-6, seed }), greedy);
    }
    assert.deepEqual(generateIds(model, prompts, { maxNewTokens: 15, stopAtEos: false, temperature: 1.5, greedy: true, seed: 9 }), greedy);
  });

  test('an empty prompt starts from the end-of-text token', () => {
    const eos = microConfig().eosTokenId;
    const [a] = generateIds(model, [[]], { maxNewTokens: 5, stopAtEos: false });
    const [b] = generateIds(model, [[eos]], { maxNewTokens: 5, stopAtEos: false });
    assert.deepEqual(a, b);
  });
});
