import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FeatureNormalizer, concatRouterInput } from '../../src/router/normalizer.js';
import { Router, topKRenormalised } from '../../src/router/router.js';
import { randn } from './helpers.js';

test('normaliser: fitted mean/std by hand, constant column, apply, backward, JSON round trip', () => {
  // Column 0: 1, 3 → mean 2, std 1. Column 1: constant 5 → std stored as 1.
  const n = FeatureNormalizer.fit(new Float32Array([1, 5, 3, 5]), 2, 2);
  assert.deepEqual(Array.from(n.mean), [2, 5]);
  assert.deepEqual(Array.from(n.std), [1, 1]);
  const n2 = FeatureNormalizer.fit(new Float32Array([0, 4]), 2, 1); // mean 2, std 2
  assert.deepEqual(Array.from(n2.apply(new Float32Array([6]), 1)), [2]);
  assert.deepEqual(Array.from(n2.backward(new Float32Array([1]), 1)), [0.5]);
  assert.deepEqual(FeatureNormalizer.fromJSON(n2.toJSON()).toJSON(), { mean: [2], std: [2] });
  assert.throws(() => FeatureNormalizer.fromJSON({ mean: [1], std: [0] }), /std/);
  assert.throws(() => n2.apply(new Float32Array(3), 2), /expected N\*dim/);
});

test('router input: features and pooled state concatenated per row', () => {
  const x = concatRouterInput(new Float32Array([1, 2, 3, 4]), 2, new Float32Array([9, 8]), 1, 2);
  assert.deepEqual(Array.from(x), [1, 2, 9, 3, 4, 8]);
  assert.deepEqual(Array.from(concatRouterInput(new Float32Array([1, 2]), 2, null, 0, 1)), [1, 2]);
});

test('Router: normalises, routes, checks its pooled-state contract', () => {
  const features = randn(4 * 3, 1);
  const pooled = randn(4 * 2, 2);
  const r = Router.create({ featureNames: ['a', 'b', 'c'], pooledDim: 2, labelMode: 'oracle', numExperts: 3, hiddenDim: 16 }, 7);
  r.normalizer = FeatureNormalizer.fit(concatRouterInput(features, 3, pooled, 2, 4), 4, 5);
  const out = r.route(features, pooled, 4);
  assert.equal(out.probs.length, 12);
  assert.equal(out.choice.length, 4);
  for (let b = 0; b < 4; b++) {
    const row = Array.from(out.probs.subarray(b * 3, b * 3 + 3));
    assert.equal(out.choice[b], row.indexOf(Math.max(...row)));
  }
  // Normalised input has mean 0 per column over the fitted rows.
  const x = r.input(features, pooled, 4);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(x[i] + x[5 + i] + x[10 + i] + x[15 + i]) < 1e-5);
  assert.throws(() => r.route(features, null, 4), /pooled hidden state/);
  assert.throws(() => Router.create({ featureNames: ['a'], pooledDim: 0, labelMode: 'tier', numExperts: 2, expertNames: ['x'] }), /expert names/);
});

test('top-k renormalised', () => {
  const t = topKRenormalised(new Float32Array([0.2, 0.5, 0.3, 0.6, 0.1, 0.3]), 2, 3, 2);
  assert.deepEqual(Array.from(t.experts), [1, 2, 0, 2]);
  assert.ok(Math.abs(t.weights[0] - 0.625) < 1e-6 && Math.abs(t.weights[1] - 0.375) < 1e-6);
  assert.ok(Math.abs(t.weights[2] - 2 / 3) < 1e-6);
  assert.deepEqual(Array.from(topKRenormalised(new Float32Array([0.2, 0.5, 0.3]), 1, 3, 1).weights), [1]);
  assert.throws(() => topKRenormalised(new Float32Array(3), 1, 3, 4), /top-k/);
});
