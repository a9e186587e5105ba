import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracyVsMajority, confusionMatrix, expertUsage, latencySummary, meanSquaredError, pairedBootstrap, percentile,
  tokenWeightedLoss, type ExampleLoss,
} from '../../src/eval/stats.js';
import { mulberry32 } from '../../src/eval/stats.js';

const close = (a: number, b: number, tol = 1e-9): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('token-weighted mean loss and perplexity', () => {
  // (6 + 2) / (3 + 1) = 2, not the example mean (2 + 2) / 2 — here equal; next case differs.
  const s = tokenWeightedLoss([{ lossSum: 6, tokens: 3 }, { lossSum: 2, tokens: 1 }]);
  assert.deepEqual(s, { loss: 2, perplexity: Math.exp(2), tokens: 4, examples: 2 });
  // Example means 1 and 3 (mean 2); token-weighted (1·1 + 3·3) / 4 = 2.5.
  close(tokenWeightedLoss([{ lossSum: 1, tokens: 1 }, { lossSum: 9, tokens: 3 }]).loss, 2.5);
  assert.throws(() => tokenWeightedLoss([{ lossSum: 1, tokens: 0 }]), /no scored tokens/);
  assert.throws(() => tokenWeightedLoss([{ lossSum: NaN, tokens: 1 }]), /example 0/);
});

test('percentiles interpolate linearly between ranks', () => {
  close(percentile([4, 1, 3, 2], 50), 2.5);
  close(percentile([1, 2, 3, 4], 99), 3.97);
  close(percentile([7], 99), 7);
  const l = latencySummary([5, 1, 3, 2, 4]);
  close(l.p50, 3);
  close(l.p99, 4.96);
  close(l.mean, 3);
  assert.equal(l.max, 5);
  assert.equal(l.n, 5);
});

test('paired bootstrap: two-example case has a hand-computable distribution', () => {
  // a − b per draw of 2: {0,0} → −1 (p 1/4), mixed → 0 (p 1/2), {1,1} → +1 (p 1/4).
  const a: ExampleLoss[] = [{ lossSum: 1, tokens: 1 }, { lossSum: 3, tokens: 1 }];
  const b: ExampleLoss[] = [{ lossSum: 2, tokens: 1 }, { lossSum: 2, tokens: 1 }];
  const r = pairedBootstrap(a, b, { samples: 4000, seed: 1 });
  close(r.diff, 0);
  assert.equal(r.lo, -1);
  assert.equal(r.hi, 1);
  assert.ok(Math.abs(r.pGreater - 0.25) < 0.03, String(r.pGreater));
  assert.equal(r.samples, 4000);
  assert.equal(r.level, 0.95);
});

test('paired bootstrap: a constant per-token shift gives a zero-width interval; identical inputs give zero', () => {
  const rand = mulberry32(3);
  const b: ExampleLoss[] = Array.from({ length: 50 }, () => {
    const n = 1 + Math.floor(rand() * 30);
    return { lossSum: n * (1 + 3 * rand()), tokens: n };
  });
  const a = b.map((e) => ({ lossSum: e.lossSum + 0.1 * e.tokens, tokens: e.tokens }));
  const r = pairedBootstrap(a, b, { samples: 500 });
  close(r.diff, 0.1, 1e-12);
  close(r.lo, 0.1, 1e-9);
  close(r.hi, 0.1, 1e-9);
  assert.equal(r.pGreater, 1);
  const same = pairedBootstrap(b, b, { samples: 200 });
  assert.deepEqual([same.diff, same.lo, same.hi, same.pGreater], [0, 0, 0, 0]);
});

test('paired bootstrap: seeded, finds a real effect, and pairs examples', () => {
  const rand = mulberry32(7);
  const base: ExampleLoss[] = [];
  const better: ExampleLoss[] = [];
  for (let i = 0; i < 400; i++) {
    const n = 5 + Math.floor(rand() * 50);
    const difficulty = 0.5 + 4 * rand(); // large between-example spread
    base.push({ lossSum: n * difficulty, tokens: n });
    better.push({ lossSum: n * (difficulty - 0.02 + 0.05 * (rand() - 0.5)), tokens: n });
  }
  const r = pairedBootstrap(better, base, { samples: 1000, seed: 5 });
  assert.ok(r.hi < 0 && r.lo < r.diff && r.diff < r.hi, JSON.stringify(r));
  assert.ok(r.lo < -0.02 && r.hi > -0.02 - 0.01);
  assert.equal(r.pGreater, 0);
  assert.deepEqual(pairedBootstrap(better, base, { samples: 1000, seed: 5 }), r);
  assert.notEqual(pairedBootstrap(better, base, { samples: 1000, seed: 6 }).lo, r.lo);
  // Pairing matters: the unpaired spread of difficulty would swamp a 0.02 effect; paired it is resolved.
  assert.ok(r.hi - r.lo < 0.01, `width ${r.hi - r.lo}`);
  assert.throws(() => pairedBootstrap(better, base.slice(1)), /same examples/);
});

test('confusion matrix, accuracy next to the majority-class rate', () => {
  const truth = [0, 0, 1, 2, 2, 2];
  const pred = [0, 1, 1, 2, 2, 0];
  assert.deepEqual(confusionMatrix(truth, pred, 3), [[1, 1, 0], [0, 1, 0], [1, 0, 2]]);
  const a = accuracyVsMajority(truth, pred, 3);
  close(a.accuracy, 4 / 6);
  assert.equal(a.majorityClass, 2);
  close(a.majorityRate, 0.5);
  assert.equal(a.n, 6);
  assert.throws(() => confusionMatrix([0, 3], [0, 0], 3), /value 3 at index 1/);
});

test('expert usage and MSE', () => {
  const u = expertUsage([0, 0, 1, 1], 2);
  assert.deepEqual(u.counts, [2, 2]);
  assert.deepEqual(u.fractions, [0.5, 0.5]);
  close(u.normalizedEntropy, 1);
  close(expertUsage([0, 0, 1, 1], 3).normalizedEntropy, Math.log(2) / Math.log(3));
  assert.equal(expertUsage([1, 1], 3).normalizedEntropy, 0);
  close(meanSquaredError([1, 2], [0, 4]), 2.5);
});
