import { makeRng as mulberry32 } from '../model/sampling.js';
import { check } from '../errors.js';
import type { ExampleLoss as ScoredExample } from '../train/score.js';

/** One evaluated example's LM loss: the sum of per-token losses over its scored (response) tokens, and their count. */
export type ExampleLoss = Pick<ScoredExample, 'lossSum' | 'tokens'>;

/** Token-weighted mean loss over a set of examples, and exp of it. */
export interface LossSummary {
  loss: number;
  perplexity: number;
  tokens: number;
  examples: number;
}

function checkExamples(ex: readonly ExampleLoss[], what: string): void {
  for (let i = 0; i < ex.length; i++) {
    const e = ex[i];
    check(
      Number.isFinite(e.lossSum) && Number.isInteger(e.tokens) && e.tokens >= 0,
      () => `${what}: example ${i} has lossSum ${e.lossSum}, tokens ${e.tokens} (need a finite sum and a count >= 0)`,
    );
  }
}

/** Σ lossSum / Σ tokens (every token counts once, so long answers weigh more), and perplexity = exp(loss). */
export function tokenWeightedLoss(examples: readonly ExampleLoss[]): LossSummary {
  checkExamples(examples, 'token-weighted loss');
  let s = 0;
  let t = 0;
  for (const e of examples) {
    s += e.lossSum;
    t += e.tokens;
  }
  check(t > 0, `token-weighted loss: ${examples.length} examples with no scored tokens`);
  const loss = s / t;
  return { loss, perplexity: Math.exp(loss), tokens: t, examples: examples.length };
}

/** A small seeded PRNG (mulberry32): uniform in [0, 1). The one shared by sampling and evaluation. */
export { mulberry32 };

/**
 * The p-th percentile (p in [0, 100]) by linear interpolation between closest ranks (numpy's default):
 * position p/100·(n-1) in the sorted values.
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  check(values.length > 0, 'percentile of an empty list');
  check(p >= 0 && p <= 100, `percentile: p must be in [0, 100], got ${p}`);
  const s = Float64Array.from(values).sort();
  return percentileSorted(s, p);
}

function percentileSorted(s: Float64Array, p: number): number {
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (pos - lo) * (s[hi] - s[lo]);
}

export interface BootstrapOptions {
  /** Number of bootstrap resamples. Default 2000. */
  samples?: number;
  /** PRNG seed. Default 0. */
  seed?: number;
  /** Confidence level of the percentile interval. Default 0.95. */
  level?: number;
}

/** Difference of two token-weighted mean losses on the same examples (a − b; negative = a has lower loss). */
export interface PairedDiff {
  /** Point estimate on the full set: loss(a) − loss(b). */
  diff: number;
  lossA: number;
  lossB: number;
  /** Percentile interval of the bootstrap differences at `level`. */
  lo: number;
  hi: number;
  level: number;
  /** Fraction of bootstrap differences > 0 (≈ how often a comes out worse than b). */
  pGreater: number;
  samples: number;
  seed: number;
  /** Examples resampled (those with at least one scored token). */
  n: number;
}

/**
 * Paired bootstrap of loss(a) − loss(b) over the same examples: each resample draws n example indices with
 * replacement and recomputes both token-weighted means on that same draw, so per-example difficulty cancels.
 * Examples with no scored tokens carry no weight in either mean and are left out of the draws.
 */
export function pairedBootstrap(a: readonly ExampleLoss[], b: readonly ExampleLoss[], opts: BootstrapOptions = {}): PairedDiff {
  check(a.length === b.length, `paired bootstrap: ${a.length} vs ${b.length} examples (must be the same examples, in the same order)`);
  checkExamples(a, 'paired bootstrap (a)');
  checkExamples(b, 'paired bootstrap (b)');
  const samples = opts.samples ?? 2000;
  const seed = opts.seed ?? 0;
  const level = opts.level ?? 0.95;
  check(Number.isInteger(samples) && samples > 0, `paired bootstrap: samples must be a positive integer, got ${samples}`);
  check(level > 0 && level < 1, `paired bootstrap: level must be in (0, 1), got ${level}`);
  const keep: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i].tokens > 0 || b[i].tokens > 0) keep.push(i);
  const n = keep.length;
  check(n > 0, 'paired bootstrap: no example has scored tokens');
  const sa = Float64Array.from(keep, (i) => a[i].lossSum);
  const ta = Float64Array.from(keep, (i) => a[i].tokens);
  const sb = Float64Array.from(keep, (i) => b[i].lossSum);
  const tb = Float64Array.from(keep, (i) => b[i].tokens);
  const lossA = tokenWeightedLoss(a).loss;
  const lossB = tokenWeightedLoss(b).loss;
  const rand = mulberry32(seed);
  const diffs = new Float64Array(samples);
  let greater = 0;
  for (let s = 0; s < samples; s++) {
    let xa = 0;
    let ya = 0;
    let xb = 0;
    let yb = 0;
    for (let j = 0; j < n; j++) {
      const i = Math.floor(rand() * n);
      xa += sa[i];
      ya += ta[i];
      xb += sb[i];
      yb += tb[i];
    }
    // A draw where one side has no tokens has no mean; count it as no difference (only possible with tiny n).
    const d = ya > 0 && yb > 0 ? xa / ya - xb / yb : 0;
    diffs[s] = d;
    if (d > 0) greater++;
  }
  diffs.sort();
  const tail = ((1 - level) / 2) * 100;
  return {
    diff: lossA - lossB, lossA, lossB,
    lo: percentileSorted(diffs, tail), hi: percentileSorted(diffs, 100 - tail),
    level, pGreater: greater / samples, samples, seed, n,
  };
}

function checkLabels(labels: ArrayLike<number>, K: number, what: string): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    check(Number.isInteger(y) && y >= 0 && y < K, () => `${what}: value ${y} at index ${i} is not a class in [0, ${K})`);
  }
}

/** K×K counts; row = true class, column = predicted class. */
export function confusionMatrix(truth: ArrayLike<number>, pred: ArrayLike<number>, K: number): number[][] {
  check(truth.length === pred.length, `confusion matrix: ${truth.length} true labels vs ${pred.length} predictions`);
  checkLabels(truth, K, 'confusion matrix (true labels)');
  checkLabels(pred, K, 'confusion matrix (predictions)');
  const m = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]][pred[i]]++;
  return m;
}

/** Accuracy next to the rate of always predicting the most frequent true class of the same set. */
export interface AccuracySummary {
  accuracy: number;
  /** The most frequent true class (lowest index on ties). */
  majorityClass: number;
  /** Accuracy of always predicting majorityClass on these labels. */
  majorityRate: number;
  n: number;
}

export function accuracyVsMajority(truth: ArrayLike<number>, pred: ArrayLike<number>, K: number): AccuracySummary {
  const m = confusionMatrix(truth, pred, K);
  const n = truth.length;
  check(n > 0, 'accuracy: no labels');
  let correct = 0;
  let majorityClass = 0;
  let best = -1;
  for (let k = 0; k < K; k++) {
    correct += m[k][k];
    const rowSum = m[k].reduce((x, y) => x + y, 0);
    if (rowSum > best) {
      best = rowSum;
      majorityClass = k;
    }
  }
  return { accuracy: correct / n, majorityClass, majorityRate: best / n, n };
}

export interface UsageSummary {
  counts: number[];
  fractions: number[];
  /** Entropy of the usage fractions divided by log K: 1 = perfectly even, 0 = one expert only. */
  normalizedEntropy: number;
}

/** How often each of K experts was chosen. */
export function expertUsage(choices: ArrayLike<number>, K: number): UsageSummary {
  checkLabels(choices, K, 'expert usage');
  const counts = new Array<number>(K).fill(0);
  for (let i = 0; i < choices.length; i++) counts[choices[i]]++;
  const n = choices.length;
  const fractions = counts.map((c) => (n > 0 ? c / n : 0));
  let h = 0;
  for (const f of fractions) if (f > 0) h -= f * Math.log(f);
  return { counts, fractions, normalizedEntropy: K > 1 ? h / Math.log(K) : 0 };
}

/** Mean of (pred − target)². */
export function meanSquaredError(pred: ArrayLike<number>, target: ArrayLike<number>): number {
  check(pred.length === target.length && pred.length > 0, `MSE: ${pred.length} predictions vs ${target.length} targets (need equal, non-zero)`);
  let s = 0;
  for (let i = 0; i < pred.length; i++) {
    const d = pred[i] - target[i];
    s += d * d;
  }
  return s / pred.length;
}

export interface LatencySummary {
  p50: number;
  p99: number;
  mean: number;
  max: number;
  n: number;
}

/** Summary of a list of latencies (any unit; ms by convention). */
export function latencySummary(values: ArrayLike<number>): LatencySummary {
  check(values.length > 0, 'latency summary of an empty list');
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of s) sum += v;
  return { p50: percentileSorted(s, 50), p99: percentileSorted(s, 99), mean: sum / s.length, max: s[s.length - 1], n: s.length };
}
