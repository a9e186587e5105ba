import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmax, isGreedy, makeRng, sampleToken, type SamplingOptions } from '../../src/model/sampling.js';

/** Frequencies of each token over n draws. */
function frequencies(logits: number[], o: SamplingOptions, n = 20000, seed = 1): number[] {
  const rng = makeRng(seed);
  const x = Float32Array.from(logits);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[sampleToken(x, o, rng)]++;
  return counts.map((c) => c / n);
}

function softmax(x: number[], T = 1): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp((v - m) / T));
  const s = e.reduce((a, b) => a + b);
  return e.map((v) => v / s);
}

const close = (got: number[], want: number[], tol = 0.015) =>
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < tol, `token ${i}: frequency ${g}, expected ${want[i]} (all: ${got})`));

test('greedy is the argmax (first of ties); temperature 0 or unset is greedy', () => {
  assert.equal(argmax(Float32Array.of(1, 3, 3, 2)), 1);
  assert.ok(isGreedy({}));
  assert.ok(isGreedy({ temperature: 0 }));
  assert.ok(isGreedy({ temperature: 1, greedy: true }));
  assert.ok(!isGreedy({ temperature: 0.7 }));
  const rng = makeRng(1);
  assert.equal(sampleToken(Float32Array.of(0, 5, 1), { temperature: 0 }, rng), 1);
});

test('temperature sampling follows softmax(logits / T)', () => {
  const logits = [1.0, 0.2, -0.5, 0.6];
  close(frequencies(logits, { temperature: 1 }), softmax(logits));
  close(frequencies(logits, { temperature: 0.5 }), softmax(logits, 0.5));
  close(frequencies(logits, { temperature: 2 }), softmax(logits, 2));
});

test('top-k keeps the k most likely tokens, renormalised', () => {
  const logits = [0.1, 1.0, -2, 0.8, 0.5];
  const p = softmax(logits);
  const z = p[1] + p[3];
  close(frequencies(logits, { temperature: 1, topK: 2 }), [0, p[1] / z, 0, p[3] / z, 0]);
});

test('top-p keeps the smallest set reaching p, renormalised', () => {
  const probs = [0.15, 0.5, 0.05, 0.3];
  const logits = probs.map(Math.log);
  // sorted: 0.5, 0.3 (0.8 >= 0.7) -> tokens 1 and 3
  close(frequencies(logits, { temperature: 1, topP: 0.7 }), [0, 0.5 / 0.8, 0, 0.3 / 0.8]);
  // 0.5 alone is below 0.55, so 1, 3 again; 0.4 is reached by token 1 alone
  close(frequencies(logits, { temperature: 1, topP: 0.55 }), [0, 0.5 / 0.8, 0, 0.3 / 0.8]);
  close(frequencies(logits, { temperature: 1, topP: 0.4 }), [0, 1, 0, 0]);
  close(frequencies(logits, { temperature: 1, topP: 1 }), probs);
});

test('makeRng: same seed same stream, uniform in [0, 1)', () => {
  const a = makeRng(42), b = makeRng(42), c = makeRng(43);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(Array.from({ length: 1000 }, () => b()), xs);
  assert.notDeepEqual(Array.from({ length: 1000 }, () => c()), xs);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05);
});
