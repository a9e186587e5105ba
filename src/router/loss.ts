import { check } from '../errors.js';

/** A label equal to this is skipped by the routing cross-entropy (same convention as the LM loss). */
export const IGNORE_LABEL = -100;

/** Row-wise softmax of logits [B, K] into a new [B, K] array (max-subtracted, in doubles). */
export function softmaxRows(logits: Float32Array, B: number, K: number): Float32Array {
  check(logits.length === B * K, `softmax: got ${logits.length} values, expected B*K = ${B}*${K}`);
  const out = new Float32Array(B * K);
  for (let b = 0; b < B; b++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, logits[b * K + k]);
    let z = 0;
    for (let k = 0; k < K; k++) z += Math.exp(logits[b * K + k] - max);
    for (let k = 0; k < K; k++) out[b * K + k] = Math.exp(logits[b * K + k] - max) / z;
  }
  return out;
}

/**
 * Gradient through the softmax: given probs [B, K] and an external dL/dprobs [B, K] (e.g. from the LM loss
 * when the probabilities mix the experts in joint training), returns dL/dlogits [B, K]:
 * dz_k = p_k (g_k - Σ_j p_j g_j).
 */
export function softmaxBackward(probs: Float32Array, dProbs: Float32Array, B: number, K: number): Float32Array {
  check(probs.length === B * K && dProbs.length === B * K, `softmax backward: probs ${probs.length} / dProbs ${dProbs.length} values, expected B*K = ${B * K}`);
  const out = new Float32Array(B * K);
  for (let b = 0; b < B; b++) {
    let dot = 0;
    for (let k = 0; k < K; k++) dot += probs[b * K + k] * dProbs[b * K + k];
    for (let k = 0; k < K; k++) out[b * K + k] = probs[b * K + k] * (dProbs[b * K + k] - dot);
  }
  return out;
}

/** Index of the largest value in each row of x [B, K] (first on ties). */
export function argmaxRows(x: Float32Array, B: number, K: number): Int32Array {
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (x[b * K + k] > x[b * K + best]) best = k;
    out[b] = best;
  }
  return out;
}

export interface LossWithLogitGrad {
  loss: number;
  /** dLoss/dlogits [B, K]. */
  dLogits: Float32Array;
}

/**
 * Mean cross-entropy of logits [B, K] against integer labels [B] (tier or oracle expert); rows labelled
 * IGNORE_LABEL are skipped. Returns loss 0 and zero gradient when every row is ignored.
 */
export function routingCrossEntropy(logits: Float32Array, labels: ArrayLike<number>, B: number, K: number): LossWithLogitGrad & { count: number } {
  check(logits.length === B * K, `routing cross-entropy: logits have ${logits.length} values, expected B*K = ${B * K}`);
  check(labels.length === B, `routing cross-entropy: ${labels.length} labels for a batch of ${B}`);
  let count = 0;
  for (let b = 0; b < B; b++) {
    const y = labels[b];
    if (y === IGNORE_LABEL) continue;
    check(Number.isInteger(y) && y >= 0 && y < K, `routing cross-entropy: label ${y} at row ${b} is not an expert index in [0, ${K})`);
    count++;
  }
  const dLogits = new Float32Array(B * K);
  if (count === 0) return { loss: 0, dLogits, count };
  const probs = softmaxRows(logits, B, K);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const y = labels[b];
    if (y === IGNORE_LABEL) continue;
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, logits[b * K + k]);
    let z = 0;
    for (let k = 0; k < K; k++) z += Math.exp(logits[b * K + k] - max);
    loss += Math.log(z) + max - logits[b * K + y]; // -log softmax(logits)[y]
    for (let k = 0; k < K; k++) dLogits[b * K + k] = (probs[b * K + k] - (k === y ? 1 : 0)) / count;
  }
  return { loss: loss / count, dLogits, count };
}

export interface BalanceLoss extends LossWithLogitGrad {
  /** dLoss/dprobs [B, K] (before the softmax). */
  dProbs: Float32Array;
  /** f_k: fraction of rows whose argmax is k. */
  fractions: Float64Array;
  /** P_k: mean probability of expert k over the batch. */
  meanProbs: Float64Array;
}

/**
 * Switch-Transformer load-balance loss `K · Σ_k f_k · P_k` (unweighted; the caller applies the weight, 0.1
 * by default). f_k counts argmax choices and is a constant for the gradient (as in Switch); P_k carries it:
 * dL/dp[b,k] = K f_k / B. Equals 1 when routing is uniform and K when every row goes, confidently, to one expert.
 * For confident routing it is K·Σ f_k² ≥ 1, least at an even split; with soft, near-tied probabilities it can
 * dip a little below 1 (measured ≥ 0.93 at K = 3), which is harmless for a regulariser.
 */
export function loadBalanceLoss(probs: Float32Array, B: number, K: number): BalanceLoss {
  check(probs.length === B * K && B > 0, `load-balance loss: probs have ${probs.length} values, expected B*K = ${B}*${K}`);
  const choice = argmaxRows(probs, B, K);
  const fractions = new Float64Array(K);
  const meanProbs = new Float64Array(K);
  for (let b = 0; b < B; b++) {
    fractions[choice[b]] += 1 / B;
    for (let k = 0; k < K; k++) meanProbs[k] += probs[b * K + k] / B;
  }
  let loss = 0;
  for (let k = 0; k < K; k++) loss += fractions[k] * meanProbs[k];
  loss *= K;
  const dProbs = new Float32Array(B * K);
  for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) dProbs[b * K + k] = (K * fractions[k]) / B;
  return { loss, dLogits: softmaxBackward(probs, dProbs, B, K), dProbs, fractions, meanProbs };
}

/** Mean squared error of the score head pred [B] against target [B], with dLoss/dpred [B]. */
export function scoreRegressionLoss(pred: Float32Array, target: ArrayLike<number>, B: number): { loss: number; dPred: Float32Array } {
  check(pred.length === B && target.length === B, `score regression: ${pred.length} predictions and ${target.length} targets for a batch of ${B}`);
  let loss = 0;
  const dPred = new Float32Array(B);
  for (let b = 0; b < B; b++) {
    const d = pred[b] - target[b];
    loss += d * d;
    dPred[b] = (2 * d) / B;
  }
  return { loss: loss / B, dPred };
}

export interface RouterLossTargets {
  /** Integer routing labels [B] (tier or oracle expert; IGNORE_LABEL skips a row). Omit for no CE term. */
  labels?: ArrayLike<number>;
  /** Complexity-score targets [B] for the side head. Omit (or no score output) for no MSE term. */
  scoreTargets?: ArrayLike<number>;
}

export interface RouterLossWeights {
  /** Weight of the routing cross-entropy. Default 1. */
  ceWeight?: number;
  /** Weight of the load-balance term. Default 0.1. */
  balanceWeight?: number;
  /** Weight of the score MSE. Default 1. */
  scoreWeight?: number;
}

export interface RouterLoss {
  /** ceWeight·ce + balanceWeight·balance + scoreWeight·score. */
  total: number;
  /** Each term unweighted (0 when absent). */
  ce: number;
  balance: number;
  score: number;
  /** dTotal/dlogits [B, K]. */
  dLogits: Float32Array;
  /** dTotal/dscore [B], or null without a score term. */
  dScore: Float32Array | null;
  /** Balance statistics of the batch. */
  fractions: Float64Array;
  meanProbs: Float64Array;
}

/** The router's whole loss on one batch, each term reported separately, gradients combined. */
export function routerLoss(
  out: { B: number; logits: Float32Array; probs: Float32Array; score: Float32Array | null },
  targets: RouterLossTargets,
  weights: RouterLossWeights = {},
): RouterLoss {
  const { B } = out;
  const K = out.logits.length / B;
  const ceW = weights.ceWeight ?? 1;
  const balW = weights.balanceWeight ?? 0.1;
  const scW = weights.scoreWeight ?? 1;
  const dLogits = new Float32Array(B * K);
  let ce = 0;
  if (targets.labels) {
    const r = routingCrossEntropy(out.logits, targets.labels, B, K);
    ce = r.loss;
    for (let i = 0; i < dLogits.length; i++) dLogits[i] += ceW * r.dLogits[i];
  }
  const bal = loadBalanceLoss(out.probs, B, K);
  if (balW !== 0) for (let i = 0; i < dLogits.length; i++) dLogits[i] += balW * bal.dLogits[i];
  let score = 0;
  let dScore: Float32Array | null = null;
  if (targets.scoreTargets) {
    check(out.score, 'router loss: score targets were given but the router has no score head (set scoreHead: true)');
    const r = scoreRegressionLoss(out.score, targets.scoreTargets, B);
    score = r.loss;
    dScore = r.dPred.map((v) => v * scW);
  }
  const total = (targets.labels ? ceW * ce : 0) + balW * bal.loss + (dScore ? scW * score : 0);
  return { total, ce, balance: bal.loss, score, dLogits, dScore, fractions: bal.fractions, meanProbs: bal.meanProbs };
}
