/**
 * Normalisation and score: what turns raw features into the router's vector and the score in [0, 1].
 *
 *   vector_i = clamp((t_i(x_i) − lo_i) / (hi_i − lo_i), 0, 1)      t_i = log1p for counts, identity else;
 *                                                                   lo_i, hi_i = 1st / 99th percentile of
 *                                                                   t_i on the Alpaca train split
 *   s        = Σ_i w_i · vector_i                                   (weights below; reading ease negative)
 *   score    = F(s)                                                 F = empirical CDF of s on the train split,
 *                                                                   piecewise linear between 201 quantile knots
 *
 * so the score is the share of train instructions that are no more complex, and the default thresholds
 * [0.3, 0.7] give ~30/40/30 tiers on train. `calibrate()` rebuilds all of it from raw feature rows
 * (scripts/calibrate-complexity.mjs writes calibration.generated.ts with it).
 */
import { LoraRouteError } from '../errors.js';
import { FEATURE_NAMES, type FeatureName } from './features.js';

export type Transform = 'identity' | 'log1p';

export interface Calibration {
  version: 1;
  /** Must equal FEATURE_NAMES. */
  features: readonly string[];
  transforms: readonly Transform[];
  lo: readonly number[];
  hi: readonly number[];
  weights: readonly number[];
  /** Quantiles of the weighted sum at probabilities k / (knots.length − 1), non-decreasing. */
  knots: readonly number[];
  /** Where it came from (data, records, date), for reports. */
  source: Readonly<Record<string, string | number>>;
}

/** Count features are log-compressed before scaling (a 200-word instruction is not 20× a 10-word one). */
export const DEFAULT_TRANSFORMS: Readonly<Record<FeatureName, Transform>> = {
  words: 'log1p',
  sentences: 'log1p',
  mean_sentence_words: 'log1p',
  syntactic_depth: 'identity',
  clauses: 'log1p',
  subordination: 'identity',
  entity_density: 'identity',
  number_density: 'identity',
  lemma_ttr: 'identity',
  rare_word_share: 'identity',
  syllables_per_word: 'identity',
  flesch_reading_ease: 'identity',
  flesch_kincaid_grade: 'identity',
  question: 'identity',
  imperative: 'identity',
  code_markers: 'log1p',
  math_markers: 'log1p',
  multi_step_markers: 'log1p',
  constraint_markers: 'log1p',
  has_input: 'identity',
  input_words: 'log1p',
};

/**
 * Weights of the normalised features in the score (they sum to 1 in absolute value; only their ratios
 * matter, the CDF absorbs the scale). Length and structure carry half; vocabulary and readability a
 * quarter; what is asked for (code, math, steps, constraints) the rest. Reading ease counts against
 * complexity. Lexical diversity, question and imperative form are features for the router but not in
 * the score: they do not say on their own that a request is harder.
 */
export const DEFAULT_WEIGHTS: Readonly<Record<FeatureName, number>> = {
  words: 0.14,
  sentences: 0.02,
  mean_sentence_words: 0.04,
  syntactic_depth: 0.1,
  clauses: 0.08,
  subordination: 0.05,
  entity_density: 0.03,
  number_density: 0.02,
  lemma_ttr: 0,
  rare_word_share: 0.08,
  syllables_per_word: 0.04,
  flesch_reading_ease: -0.04,
  flesch_kincaid_grade: 0.05,
  question: 0,
  imperative: 0,
  code_markers: 0.05,
  math_markers: 0.04,
  multi_step_markers: 0.07,
  constraint_markers: 0.07,
  has_input: 0.02,
  input_words: 0.04,
};

/** Throws unless `c` fits FEATURE_NAMES and is internally consistent. */
export function checkCalibration(c: Calibration): void {
  const n = FEATURE_NAMES.length;
  const bad = (why: string): never => {
    throw new LoraRouteError(`complexity calibration: ${why}`, 'E_CALIBRATION');
  };
  if (c.features.length !== n || c.features.some((f, i) => f !== FEATURE_NAMES[i])) {
    bad(`features ${JSON.stringify(c.features)} do not match FEATURE_NAMES ${JSON.stringify(FEATURE_NAMES)}; rerun scripts/calibrate-complexity.mjs`);
  }
  for (const key of ['transforms', 'lo', 'hi', 'weights'] as const) {
    if (c[key].length !== n) bad(`${key} has ${c[key].length} entries, expected ${n}`);
  }
  if (c.knots.length < 2) bad(`needs at least 2 CDF knots, got ${c.knots.length}`);
  for (let i = 1; i < c.knots.length; i++) if (!(c.knots[i]! >= c.knots[i - 1]!)) bad(`CDF knots must be non-decreasing (knot ${i})`);
  for (let i = 0; i < n; i++) if (!(c.hi[i]! > c.lo[i]!)) bad(`feature ${FEATURE_NAMES[i]}: hi (${c.hi[i]}) must exceed lo (${c.lo[i]})`);
}

/** vector_i = clamp((t_i(x_i) − lo_i) / (hi_i − lo_i), 0, 1), written into `out`. */
export function normalise(raw: ArrayLike<number>, c: Calibration, out = new Float32Array(raw.length)): Float32Array {
  for (let i = 0; i < raw.length; i++) {
    const x = c.transforms[i] === 'log1p' ? Math.log1p(Math.max(0, raw[i]!)) : raw[i]!;
    const v = (x - c.lo[i]!) / (c.hi[i]! - c.lo[i]!);
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

/** Σ w_i · vector_i. */
export function weightedSum(vector: ArrayLike<number>, c: Calibration): number {
  let s = 0;
  for (let i = 0; i < vector.length; i++) s += c.weights[i]! * vector[i]!;
  return s;
}

/** Right-continuous empirical CDF through the knots, linear in between: P(S <= s). */
export function cdf(s: number, knots: readonly number[]): number {
  const last = knots.length - 1;
  if (s < knots[0]!) return 0;
  if (s >= knots[last]!) return 1;
  // largest k with knots[k] <= s (then k < last)
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (knots[mid]! <= s) lo = mid;
    else hi = mid;
  }
  const a = knots[lo]!;
  const b = knots[lo + 1]!;
  return (lo + (b > a ? (s - a) / (b - a) : 0)) / last;
}

function quantile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  return i + 1 < sorted.length ? sorted[i]! * (1 - f) + sorted[i + 1]! * f : sorted[i]!;
}

export interface CalibrateOptions {
  weights?: Readonly<Record<FeatureName, number>>;
  transforms?: Readonly<Record<FeatureName, Transform>>;
  /** Number of CDF knots. Default 201. */
  knots?: number;
  /** Quantiles used as lo / hi of each feature. Default 0.01 / 0.99. */
  loQuantile?: number;
  hiQuantile?: number;
  source?: Record<string, string | number>;
}

/** Builds a calibration from raw feature rows (FEATURE_NAMES order) of a reference set (the train split). */
export function calibrate(rows: readonly ArrayLike<number>[], opts: CalibrateOptions = {}): Calibration {
  if (rows.length < 2) throw new LoraRouteError(`complexity calibration needs at least 2 rows, got ${rows.length}`);
  const weightsBy = opts.weights ?? DEFAULT_WEIGHTS;
  const transformsBy = opts.transforms ?? DEFAULT_TRANSFORMS;
  const n = FEATURE_NAMES.length;
  const transforms = FEATURE_NAMES.map((f) => transformsBy[f]);
  const weights = FEATURE_NAMES.map((f) => weightsBy[f]);
  const lo: number[] = [];
  const hi: number[] = [];
  const col = new Float64Array(rows.length);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < rows.length; r++) {
      const x = rows[r]![i]!;
      col[r] = transforms[i] === 'log1p' ? Math.log1p(Math.max(0, x)) : x;
    }
    col.sort();
    let a = quantile(col, opts.loQuantile ?? 0.01);
    let b = quantile(col, opts.hiQuantile ?? 0.99);
    // Rare markers (0 for 99% of rows) and binary features: fall back to the full range, then to [a, a+1].
    if (!(b > a)) {
      a = col[0]!;
      b = col[col.length - 1]!;
    }
    if (!(b > a)) b = a + 1;
    lo.push(a);
    hi.push(b);
  }
  const partial: Calibration = { version: 1, features: [...FEATURE_NAMES], transforms, lo, hi, weights, knots: [0, 1], source: {} };
  const sums = new Float64Array(rows.length);
  const vec = new Float32Array(n);
  rows.forEach((row, r) => {
    sums[r] = weightedSum(normalise(row, partial, vec), partial);
  });
  sums.sort();
  const k = opts.knots ?? 201;
  const knots: number[] = [];
  for (let j = 0; j < k; j++) knots.push(quantile(sums, j / (k - 1)));
  return { ...partial, knots, source: { rows: rows.length, ...(opts.source ?? {}) } };
}
