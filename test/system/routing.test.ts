import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hardChoices, policyGates, topProbability } from '../../src/system/policy.js';
import { averageGapRecovered, gapRecovered, routingCurve } from '../../src/system/routing-curve.js';
import { fallbackThresholds } from '../../src/system/selection.js';
import { assembleLosses, oracleChoices } from '../../src/system/oracle.js';
import { crossFitSets, foldOf } from '../../src/system/phases.js';
import { fitClusters, nearestCluster } from '../../src/system/clusters.js';
import { mulberry32 } from '../../src/eval/stats.js';
import type { ExampleLoss } from '../../src/train/score.js';

const K = 3;
// [B=4, K=3] probabilities; row maxima 0.5, 0.9, 0.4, 0.7
const probs = Float32Array.from([0.5, 0.3, 0.2, 0.05, 0.9, 0.05, 0.3, 0.3, 0.4, 0.1, 0.2, 0.7]);

test('fallback policy: τ = 0 routes every prompt to its top expert (= top-1), τ = 1 sends all to the shared LoRA', () => {
  const top1 = hardChoices(probs, 4, K, { kind: 'top1' });
  assert.deepEqual(Array.from(top1), [0, 1, 2, 2]);
  assert.deepEqual(Array.from(hardChoices(probs, 4, K, { kind: 'fallback', tau: 0 })), Array.from(top1));
  assert.deepEqual(Array.from(hardChoices(probs, 4, K, { kind: 'fallback', tau: 1 })), [3, 3, 3, 3]);
  assert.deepEqual(Array.from(hardChoices(probs, 4, K, { kind: 'fallback', tau: 0.6 })), [3, 1, 3, 2]);
  const g = policyGates(probs, 4, K, { kind: 'fallback', tau: 1 }, true);
  for (let b = 0; b < 4; b++) assert.deepEqual(Array.from(g.subarray(b * 4, b * 4 + 4)), [0, 0, 0, 1]);
  assert.throws(() => policyGates(probs, 4, K, { kind: 'fallback', tau: 0.5 }, false), /needs a shared warm-start LoRA/);
});

test('soft and top-k gates: probabilities as they are, and the top two renormalised', () => {
  const soft = policyGates(probs, 4, K, { kind: 'soft' }, false);
  assert.deepEqual(Array.from(soft), Array.from(probs));
  const top2 = policyGates(probs, 4, K, { kind: 'topk', k: 2 }, true);
  assert.deepEqual(Array.from(top2.subarray(0, 4)).map((v) => +v.toFixed(6)), [0.625, 0.375, 0, 0]);
  assert.deepEqual(Array.from(topProbability(probs, 4, K)).map((v) => +v.toFixed(6)), [0.5, 0.9, 0.4, 0.7]);
});

/** Per-adapter losses where adapter k has loss lossOf(k, i) on example i (one token each). */
function lossTable(A: number, N: number, lossOf: (k: number, i: number) => number): ExampleLoss[][] {
  return Array.from({ length: A }, (_, k) => Array.from({ length: N }, (_, i) => ({ index: i, lossSum: lossOf(k, i), tokens: 1 })));
}

test('routing curve: share 0 is the fallback\'s loss, share 1 the rule\'s, and the most confident prompts go first', () => {
  const N = 10;
  const per = lossTable(K, N, (k, i) => 2 + ((k + i) % 3) * 0.1);
  const fallback = Array.from({ length: N }, (_, i) => ({ index: i, lossSum: 2.05, tokens: 1 }));
  const choice = Int32Array.from({ length: N }, (_, i) => i % K);
  const conf = Float32Array.from({ length: N }, (_, i) => i / N);
  const curve = routingCurve(per, fallback, choice, conf, 10);
  assert.equal(curve.length, 11);
  assert.equal(curve[0].share, 0);
  assert.ok(Math.abs(curve[0].loss - 2.05) < 1e-12);
  assert.equal(curve[10].share, 1);
  const all = assembleLosses(per, choice);
  assert.ok(Math.abs(curve[10].loss - all.reduce((s, x) => s + x.lossSum, 0) / N) < 1e-12);
  // at share 0.1 only example 9 (highest confidence) uses its expert
  const expect = (2.05 * 9 + per[choice[9]][9].lossSum) / 10;
  assert.ok(Math.abs(curve[1].loss - expect) < 1e-12);
  assert.equal(gapRecovered(3.0, 3.0, 2.0), 0);
  assert.equal(gapRecovered(2.0, 3.0, 2.0), 1);
  assert.equal(gapRecovered(2.5, 2.0, 2.5), null);
  assert.ok(Math.abs((averageGapRecovered([{ share: 0, loss: 3 }, { share: 1, loss: 2 }], 3, 2) ?? NaN) - 0.5) < 1e-12);
});

test('fallback thresholds send about the asked-for shares of prompts to experts', () => {
  const rand = mulberry32(5);
  const conf = Float32Array.from({ length: 200 }, () => 0.34 + 0.6 * rand());
  for (const tau of fallbackThresholds(conf, [0.25, 0.5, 0.75])) {
    const share = conf.filter((c) => c > tau).length / conf.length;
    assert.ok([0.25, 0.5, 0.75].some((s) => Math.abs(share - s) < 0.02), `τ ${tau} routes ${share}`);
  }
});

test('oracle: the lowest mean loss per example, ties to the lower index', () => {
  const per = [[{ index: 0, lossSum: 4, tokens: 2 }, { index: 1, lossSum: 1, tokens: 1 }], [{ index: 0, lossSum: 3, tokens: 2 }, { index: 1, lossSum: 1, tokens: 1 }]];
  assert.deepEqual(Array.from(oracleChoices(per)), [1, 0]);
});

test('cross-fitting: no example is labelled by a copy that trained on it, and each copy trains on its group only', () => {
  const N = 300, F = 3;
  const rand = mulberry32(11);
  const groups = Int32Array.from({ length: N }, () => Math.floor(rand() * K));
  const index = Array.from({ length: N }, (_, i) => 2 + i * 3);
  const fold = Int32Array.from(index, (ix) => foldOf(ix, F));
  const sets = crossFitSets(groups, fold, F, K);
  const labelledBy = new Int32Array(N).fill(-1);
  for (let f = 0; f < F; f++) {
    for (const i of sets.labelled[f]) { assert.equal(labelledBy[i], -1, `example ${i} labelled once`); labelledBy[i] = f; }
    for (let k = 0; k < K; k++) {
      const trained = new Set(sets.train[f][k]);
      for (const i of sets.labelled[f]) assert.ok(!trained.has(i), `fold ${f}, expert ${k}: example ${i} is both trained on and labelled`);
      for (const i of trained) assert.equal(groups[i], k);
      // everything of group k outside fold f is used
      assert.equal(trained.size, Array.from(groups).filter((g, i) => g === k && fold[i] !== f).length);
    }
  }
  assert.ok(labelledBy.every((f) => f >= 0), 'every training example gets a label');
  assert.ok(new Set(fold).size === F, 'every fold is used');
});

test('balanced k-means: clusters hold at most ceil(N/K) rows and separate well-separated blobs; nearest centroid agrees', () => {
  const D = 8, N = 90;
  const rand = mulberry32(3);
  const truth = Int32Array.from({ length: N }, (_, i) => i % K);
  const x = new Float32Array(N * D);
  for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) x[i * D + d] = (d === truth[i] ? 5 : 0) + 0.3 * (rand() - 0.5);
  const { clusters, labels } = fitClusters(x, N, D, K, 1);
  const sizes = [0, 0, 0];
  for (const l of labels) sizes[l]++;
  assert.deepEqual(sizes, [30, 30, 30]);
  // each found cluster is one true blob (up to renaming)
  for (let k = 0; k < K; k++) assert.equal(new Set(Array.from(truth).filter((_, i) => labels[i] === k)).size, 1);
  assert.deepEqual(Array.from(nearestCluster(clusters, x, N)), Array.from(labels));
  assert.throws(() => fitClusters(x, 2, D, K, 1), /2 training examples for 3 clusters/);
});
