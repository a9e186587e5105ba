import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkThresholds, parseThresholds, quantileThresholds, stratify, tierName } from '../../src/complexity/tiers.js';
import { LoraRouteError } from '../../src/errors.js';

test('stratify: strictly above a threshold moves up a tier', () => {
  assert.equal(stratify(0), 0);
  assert.equal(stratify(0.3), 0);
  assert.equal(stratify(0.3000001), 1);
  assert.equal(stratify(0.7), 1);
  assert.equal(stratify(0.71), 2);
  assert.equal(stratify(1), 2);
  assert.equal(stratify(0.5, [0.25, 0.5, 0.75]), 1);
  assert.equal(stratify(0.9, [0.25, 0.5, 0.75]), 3);
  assert.equal(stratify(0.9, []), 0);
});

test('tier names: simple / medium / complex for three tiers, tierK otherwise', () => {
  assert.deepEqual([0, 1, 2].map((t) => tierName(t, 3)), ['simple', 'medium', 'complex']);
  assert.equal(tierName(3, 4), 'tier3');
});

test('quantileThresholds cuts scores into equal-size tiers', () => {
  const scores = Array.from({ length: 300 }, (_, i) => (i * 7919) % 300 / 300);
  const t = quantileThresholds(scores, 3);
  assert.equal(t.length, 2);
  const counts = [0, 0, 0];
  for (const s of scores) counts[stratify(s, t)]!++;
  assert.deepEqual(counts, [100, 100, 100]);
  const t4 = quantileThresholds(scores, 4);
  const c4 = [0, 0, 0, 0];
  for (const s of scores) c4[stratify(s, t4)]!++;
  assert.deepEqual(c4, [75, 75, 75, 75]);
  assert.deepEqual(quantileThresholds(scores, 1), []);
});

test('quantileThresholds stays strictly increasing under ties', () => {
  const t = quantileThresholds([0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 3);
  assert.ok(t[1]! > t[0]!);
  assert.throws(() => quantileThresholds([], 3), LoraRouteError);
  assert.throws(() => quantileThresholds([0.1], 0), LoraRouteError);
});

test('parseThresholds and checkThresholds reject bad lists', () => {
  assert.deepEqual(parseThresholds('0.3,0.7'), [0.3, 0.7]);
  assert.deepEqual(parseThresholds(' 0.2 , 0.5,0.8 '), [0.2, 0.5, 0.8]);
  assert.throws(() => parseThresholds('0.7,0.3'), /strictly increasing/);
  assert.throws(() => parseThresholds('0.3,,0.7'), /comma-separated numbers/);
  assert.throws(() => parseThresholds('a,b'), LoraRouteError);
  assert.throws(() => parseThresholds('0.3,1.5'), /in \[0, 1\]/);
  assert.throws(() => checkThresholds([0.5, 0.5]), LoraRouteError);
});
