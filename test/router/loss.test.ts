import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  argmaxRows, IGNORE_LABEL, loadBalanceLoss, routerLoss, routingCrossEntropy, scoreRegressionLoss, softmaxBackward, softmaxRows,
} from '../../src/router/loss.js';
import { RouterMLP } from '../../src/router/mlp.js';
import { AdamW } from '../../src/train/optimizer.js';
import { ReferenceBackend } from '../../src/tensor/reference.js';
import { fdAt, randn, worstRatio } from './helpers.js';

const close = (a: number, b: number, tol = 1e-6): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('routing cross-entropy: hand values, ignored rows, gradient', () => {
  // Uniform logits: -log(1/3).
  const r = routingCrossEntropy(new Float32Array([0, 0, 0, 2, 0, 0]), [1, IGNORE_LABEL], 2, 3);
  close(r.loss, Math.log(3));
  assert.equal(r.count, 1);
  assert.deepEqual(Array.from(r.dLogits).map((v) => +v.toFixed(6)), [0.333333, -0.666667, 0.333333, 0, 0, 0]);
  // Row [2, 0, 0] with label 0: log(e^2 + 2) - 2.
  close(routingCrossEntropy(new Float32Array([2, 0, 0]), [0], 1, 3).loss, Math.log(Math.exp(2) + 2) - 2, 1e-6);
  assert.equal(routingCrossEntropy(new Float32Array(3), [IGNORE_LABEL], 1, 3).loss, 0);
  assert.throws(() => routingCrossEntropy(new Float32Array(3), [3], 1, 3), /label 3 at row 0/);
  // FD of the mean CE.
  const logits = randn(5 * 4, 3, 2);
  const labels = [0, 3, 2, IGNORE_LABEL, 1];
  const an = routingCrossEntropy(logits, labels, 5, 4).dLogits;
  const fd = Array.from(logits, (_, i) => fdAt(logits, i, () => routingCrossEntropy(logits, labels, 5, 4).loss, 1e-3));
  assert.ok(worstRatio(fd, an, 1e-4, 1e-2).ratio <= 1);
});

test('softmax backward (external dL/dprobs) matches finite differences', () => {
  const B = 3;
  const K = 4;
  const logits = randn(B * K, 5, 1.5);
  const c = randn(B * K, 6); // L = Σ c · probs, so dL/dprobs = c (a mixture of per-expert losses)
  const L = (): number => softmaxRows(logits, B, K).reduce((s, p, i) => s + p * c[i], 0);
  const an = softmaxBackward(softmaxRows(logits, B, K), c, B, K);
  const fd = Array.from(logits, (_, i) => fdAt(logits, i, L, 1e-3));
  assert.ok(worstRatio(fd, an, 1e-4, 1e-2).ratio <= 1);
  // Each row of dL/dlogits sums to zero (softmax is shift-invariant).
  for (let b = 0; b < B; b++) close(an[b * K] + an[b * K + 1] + an[b * K + 2] + an[b * K + 3], 0, 1e-6);
});

test('load-balance loss: hand value, uniform = 1, collapse = K', () => {
  // B=2, K=2: rows [0.8, 0.2] and [0.4, 0.6] → f = (0.5, 0.5), P = (0.6, 0.4) → 2·(0.5·0.6 + 0.5·0.4) = 1.
  close(loadBalanceLoss(new Float32Array([0.8, 0.2, 0.4, 0.6]), 2, 2).loss, 1);
  // Rows [0.8, 0.2], [0.7, 0.3] → f = (1, 0), P = (0.75, 0.25) → 2·0.75 = 1.5.
  const r = loadBalanceLoss(new Float32Array([0.8, 0.2, 0.7, 0.3]), 2, 2);
  close(r.loss, 1.5);
  assert.deepEqual(Array.from(r.fractions), [1, 0]);
  close(r.meanProbs[0], 0.75);
  // dL/dprobs = K f_k / B.
  assert.deepEqual(Array.from(r.dProbs), [1, 0, 1, 0]);
  const K = 3;
  close(loadBalanceLoss(new Float32Array(6 * K).fill(1 / K), 6, K).loss, 1);
  const collapsed = new Float32Array(6 * K);
  for (let b = 0; b < 6; b++) collapsed.set([0.999, 0.0005, 0.0005], b * K);
  close(loadBalanceLoss(collapsed, 6, K).loss, K * 0.999, 1e-6);
});

test('load-balance loss is minimised by uniform routing (confident routing: every assignment of 6 rows to 3 experts)', () => {
  const K = 3;
  const B = 6;
  let best = Infinity;
  let bestCounts: number[] = [];
  for (let code = 0; code < K ** B; code++) {
    const probs = new Float32Array(B * K);
    const counts = [0, 0, 0];
    for (let b = 0, c = code; b < B; b++, c = Math.floor(c / K)) {
      const k = c % K;
      counts[k]++;
      for (let j = 0; j < K; j++) probs[b * K + j] = j === k ? 0.9 : 0.05;
    }
    const l = loadBalanceLoss(probs, B, K).loss;
    if (l < best - 1e-9) {
      best = l;
      bestCounts = counts;
    }
  }
  assert.deepEqual(bestCounts, [2, 2, 2]);
  close(best, 1, 1e-6);
});

test('load-balance gradient w.r.t. logits matches finite differences (argmax fractions held fixed, as in Switch)', () => {
  const B = 6;
  const K = 3;
  const logits = randn(B * K, 8, 2);
  const L = (): number => loadBalanceLoss(softmaxRows(logits, B, K), B, K).loss;
  const an = loadBalanceLoss(softmaxRows(logits, B, K), B, K).dLogits;
  const fd = Array.from(logits, (_, i) => fdAt(logits, i, L, 1e-3));
  assert.ok(worstRatio(fd, an, 1e-4, 1e-2).ratio <= 1);
  assert.ok(an.some((v) => Math.abs(v) > 1e-3));
});

test('score regression MSE: hand value and gradient', () => {
  const r = scoreRegressionLoss(new Float32Array([0.5, 1]), [0, 2], 2);
  close(r.loss, (0.25 + 1) / 2);
  assert.deepEqual(Array.from(r.dPred), [0.5, -1]);
});

test('combined router loss = CE + 0.1·balance + score, with the summed gradient', () => {
  const net = new RouterMLP({ inputDim: 4, hiddenDim: 8, numExperts: 3, dropout: 0, scoreHead: true }, 2);
  const B = 5;
  const x = randn(B * 4, 4);
  const c = net.forward(x, B, false);
  const labels = [0, 1, 2, 1, 0];
  const targets = [0.1, 0.5, 0.9, 0.4, 0.2];
  const r = routerLoss(c, { labels, scoreTargets: targets });
  const ce = routingCrossEntropy(c.logits, labels, B, 3);
  const bal = loadBalanceLoss(c.probs, B, 3);
  const sc = scoreRegressionLoss(c.score!, targets, B);
  close(r.ce, ce.loss, 1e-9);
  close(r.balance, bal.loss, 1e-9);
  close(r.score, sc.loss, 1e-9);
  close(r.total, ce.loss + 0.1 * bal.loss + sc.loss, 1e-9);
  for (let i = 0; i < r.dLogits.length; i++) close(r.dLogits[i], ce.dLogits[i] + 0.1 * bal.dLogits[i], 1e-7);
  assert.deepEqual(r.dScore, sc.dPred);
  // Weights apply; omitted terms contribute nothing.
  const r2 = routerLoss(c, { labels }, { ceWeight: 2, balanceWeight: 0.5 });
  close(r2.total, 2 * ce.loss + 0.5 * bal.loss, 1e-9);
  assert.equal(r2.dScore, null);
  // End to end: FD of the total w.r.t. every parameter through the MLP.
  // The balance term's argmax fractions are piecewise constant: skip the (rare) coordinates whose step
  // flips an argmax, where the finite difference measures the jump, not the gradient.
  const base = argmaxRows(c.probs, B, 3).join();
  let flipped = false;
  const total = (): number => {
    const o = net.forward(x, B, false);
    if (argmaxRows(o.probs, B, 3).join() !== base) flipped = true;
    return routerLoss(o, { labels, scoreTargets: targets }).total;
  };
  net.zeroGrad();
  net.backward(c, r.dLogits, { dScore: r.dScore! });
  const fd: number[] = [];
  const an: number[] = [];
  for (let i = 0; i < net.params.length; i++) {
    flipped = false;
    const v = fdAt(net.params, i, total, 1e-2);
    if (flipped) continue;
    fd.push(v);
    an.push(net.grads[i]);
  }
  assert.ok(fd.length >= 0.9 * net.params.length, `only ${fd.length} of ${net.params.length} coordinates checked`);
  const w = worstRatio(fd, an, 2e-3, 3e-2);
  assert.ok(w.ratio <= 1, `mismatch: ${fd[w.at]} vs ${an[w.at]}`);
  assert.throws(() => routerLoss({ ...c, score: null }, { scoreTargets: targets }), /score head/);
});

test('joint-training path: LM-style dL/dprobs flows through softmax and the MLP to the input', () => {
  const B = 3;
  const K = 3;
  const net = new RouterMLP({ inputDim: 5, hiddenDim: 6, numExperts: K, dropout: 0 }, 9);
  const x = randn(B * 5, 10);
  const expertLoss = randn(B * K, 11); // per-row loss of each expert; mixture loss = Σ p·loss
  const L = (): number => net.forward(x, B, false).probs.reduce((s, p, i) => s + p * expertLoss[i], 0);
  const c = net.forward(x, B, false);
  net.zeroGrad();
  const dx = net.backward(c, softmaxBackward(c.probs, expertLoss, B, K), { needDx: true })!;
  const fd = Array.from(x, (_, i) => fdAt(x, i, L, 1e-2));
  assert.ok(worstRatio(fd, dx, 1e-3, 2e-2).ratio <= 1);
});

test('the router learns a separable routing task with AdamW', () => {
  const B = 60;
  const F = 3;
  const K = 3;
  const x = randn(B * F, 12);
  const labels = Array.from({ length: B }, (_, b) => (x[b * F] > 0.5 ? 2 : x[b * F] < -0.5 ? 0 : 1));
  const net = new RouterMLP({ inputDim: F, hiddenDim: 32, numExperts: K, dropout: 0.1 }, 1);
  // the training optimiser, as the router phases use it
  const opt = new AdamW([{ name: 'router', params: net.params, grads: net.grads }], new ReferenceBackend(), { weightDecay: 0.01 });
  let first = 0;
  let last = 0;
  for (let step = 0; step < 300; step++) {
    const c = net.forward(x, B, true);
    const r = routerLoss(c, { labels });
    if (step === 0) first = r.ce;
    last = r.ce;
    net.zeroGrad();
    net.backward(c, r.dLogits);
    opt.update(1e-2);
  }
  const probs = net.predict(x, B);
  let correct = 0;
  for (let b = 0; b < B; b++) {
    const row = Array.from(probs.subarray(b * K, b * K + K));
    if (row.indexOf(Math.max(...row)) === labels[b]) correct++;
  }
  assert.ok(last < first / 3, `CE ${first} → ${last}`);
  assert.ok(correct / B >= 0.9, `accuracy ${correct / B}`);
});
