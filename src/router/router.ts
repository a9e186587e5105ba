import { check } from '../errors.js';
import type { RouterActivation } from './config.js';
import { argmaxRows } from './loss.js';
import { RouterMLP } from './mlp.js';
import { concatRouterInput, FeatureNormalizer } from './normalizer.js';

/** What the router's training labels were: the analyzer's tier, the expert's training group, or the cross-fitted oracle (lowest-loss) expert. */
export type LabelMode = 'tier' | 'group' | 'oracle';
export const LABEL_MODES: readonly LabelMode[] = ['tier', 'group', 'oracle'];

/** Everything besides the weights that a saved router needs to be used again (kept in router.json). */
export interface RouterMeta {
  /** Names of the F analyzer features, in input order. */
  featureNames: string[];
  /** H, the length of the pooled hidden state appended to the features (0 when not used). */
  pooledDim: number;
  labelMode: LabelMode;
  /** Optional expert names, index = expert id. */
  expertNames?: string[];
}

export interface CreateRouterOptions extends RouterMeta {
  numExperts: number;
  hiddenDim?: number; // default 256
  dropout?: number; // default 0.1
  activation?: RouterActivation;
  scoreHead?: boolean;
  /** Fitted normaliser; default identity (fit one with FeatureNormalizer.fit on training inputs). */
  normalizer?: FeatureNormalizer;
}

export interface RouteResult {
  /** [B, K] softmax probabilities. */
  probs: Float32Array;
  /** [B] top-1 expert. */
  choice: Int32Array;
  /** [B] score-head prediction, or null. */
  score: Float32Array | null;
}

/** A router ready for use: the MLP, its input normaliser and its metadata. */
export class Router {
  constructor(readonly mlp: RouterMLP, public normalizer: FeatureNormalizer, readonly meta: RouterMeta) {
    const F = meta.featureNames.length;
    check(mlp.config.inputDim === F + meta.pooledDim, `router: inputDim ${mlp.config.inputDim} != ${F} features + pooledDim ${meta.pooledDim}`);
    check(normalizer.dim === mlp.config.inputDim, `router: normaliser has ${normalizer.dim} columns, expected inputDim ${mlp.config.inputDim}`);
    if (meta.expertNames) check(meta.expertNames.length === mlp.config.numExperts, `router: ${meta.expertNames.length} expert names for ${mlp.config.numExperts} experts`);
  }

  static create(opts: CreateRouterOptions, seed = 0): Router {
    const inputDim = opts.featureNames.length + opts.pooledDim;
    const mlp = new RouterMLP(
      { inputDim, hiddenDim: opts.hiddenDim ?? 256, numExperts: opts.numExperts, dropout: opts.dropout ?? 0.1, activation: opts.activation, scoreHead: opts.scoreHead },
      seed,
    );
    const meta: RouterMeta = { featureNames: [...opts.featureNames], pooledDim: opts.pooledDim, labelMode: opts.labelMode };
    if (opts.expertNames) meta.expertNames = [...opts.expertNames];
    return new Router(mlp, opts.normalizer ?? FeatureNormalizer.identity(inputDim), meta);
  }

  get numExperts(): number {
    return this.mlp.config.numExperts;
  }

  /** Raw features [B, F] (+ pooled [B, H]) → normalised router input [B, F+H]. */
  input(features: Float32Array, pooled: Float32Array | null, B: number): Float32Array {
    check(this.meta.pooledDim === 0 || pooled, `router: this router expects a pooled hidden state of ${this.meta.pooledDim} values per row`);
    const x = concatRouterInput(features, this.meta.featureNames.length, pooled, this.meta.pooledDim, B);
    this.normalizer.applyInto(x, x, B);
    return x;
  }

  /** Eval-mode routing of a batch. */
  route(features: Float32Array, pooled: Float32Array | null, B: number): RouteResult {
    const cache = this.mlp.forward(this.input(features, pooled, B), B, false);
    return { probs: cache.probs, choice: argmaxRows(cache.probs, B, this.numExperts), score: cache.score };
  }
}

/**
 * Top-k experts of each row of probs [B, K], weights renormalised to sum to 1: experts [B, k], weights [B, k],
 * ordered by decreasing probability.
 */
export function topKRenormalised(probs: Float32Array, B: number, K: number, k: number): { experts: Int32Array; weights: Float32Array } {
  check(Number.isInteger(k) && k >= 1 && k <= K, `top-k: k must be an integer in [1, ${K}], got ${k}`);
  const experts = new Int32Array(B * k);
  const weights = new Float32Array(B * k);
  const idx = Array.from({ length: K }, (_, i) => i);
  for (let b = 0; b < B; b++) {
    const row = probs.subarray(b * K, (b + 1) * K);
    const order = idx.slice().sort((i, j) => row[j] - row[i] || i - j);
    let z = 0;
    for (let t = 0; t < k; t++) z += row[order[t]];
    for (let t = 0; t < k; t++) {
      experts[b * k + t] = order[t];
      weights[b * k + t] = z > 0 ? row[order[t]] / z : 1 / k;
    }
  }
  return { experts, weights };
}
