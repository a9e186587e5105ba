import { existsSync } from 'node:fs';
import { readUserJson } from '../io/user-file.js';
import { join } from 'node:path';
import { LoraRouteError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { meanLoss } from '../train/score.js';
import type { RunContext } from './context.js';
import { assembleLosses } from './oracle.js';
import { adapterLosses, splitProbabilities, systemValidationLoss } from './phases.js';
import { describePolicy, hardChoices, isHard, topProbability, type RoutingPolicy } from './policy.js';

/** What was chosen on the validation split after training, and from what (kept as selection.json in a model folder). */
export interface Selection {
  /** The policy the model serves. */
  policy: RoutingPolicy;
  /** Every candidate with its validation loss, in the order tried. */
  candidates: Array<{ policy: RoutingPolicy; label: string; loss: number }>;
  /** Validation loss of each expert alone, and the best of them (the evaluation's "best single expert"). */
  expertLosses: number[];
  bestSingleExpert: number;
  /** Validation loss of the shared warm-start LoRA alone, or null. */
  sharedLoss: number | null;
  examples: number;
}

export const SELECTION_FILE = 'selection.json';

/** Shares of prompts routed to an expert that the fallback policy's τ is tried at. */
const FALLBACK_SHARES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/** τ values that send (about) each share of the validation prompts to an expert: conf > τ for the top share. */
export function fallbackThresholds(conf: Float32Array, shares = FALLBACK_SHARES): number[] {
  const sorted = Array.from(conf).sort((a, b) => b - a);
  const taus = shares.map((s) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(s * sorted.length)))]);
  return [...new Set(taus)].filter((t) => t > 0 && t < 1);
}

/**
 * Scores the validation split under each candidate policy and picks the lowest loss (ties: the earlier,
 * simpler one). `requested` other than `auto` is kept as it is (only scored). The test split is never used.
 */
export function chooseOnValidation(ctx: RunContext, requested: RoutingPolicy | 'auto'): Selection {
  const K = ctx.experts.length;
  const N = ctx.validation.length;
  const examples = ctx.validation.map((p) => p.example);
  const perAdapter = adapterLosses(ctx, ctx.mixture, examples); // [W][N]: experts, then the shared LoRA
  const probs = splitProbabilities(ctx, 'validation');
  const score = (p: RoutingPolicy): number => (isHard(p) ? meanLoss(assembleLosses(perAdapter, hardChoices(probs, N, K, p))) : systemValidationLoss(ctx, p));
  const tried: RoutingPolicy[] = [];
  if (requested !== 'auto') tried.push(requested);
  else {
    tried.push({ kind: 'top1' }, { kind: 'soft' });
    if (K > 2) tried.push({ kind: 'topk', k: 2 });
    if (ctx.shared) for (const tau of fallbackThresholds(topProbability(probs, N, K))) tried.push({ kind: 'fallback', tau });
  }
  const candidates = tried.map((policy) => ({ policy, label: describePolicy(policy), loss: score(policy) }));
  // a later (less simple) candidate must beat the best so far by more than float noise
  const best = candidates.reduce((a, b) => (b.loss < a.loss - 1e-6 ? b : a));
  const expertLosses = perAdapter.slice(0, K).map(meanLoss);
  const bestSingleExpert = expertLosses.reduce((bi, l, k) => (l < expertLosses[bi] ? k : bi), 0);
  return { policy: best.policy, candidates, expertLosses, bestSingleExpert, sharedLoss: ctx.shared ? meanLoss(perAdapter[K]) : null, examples: N };
}

export function saveSelection(dir: string, s: Selection): void {
  writeFileAtomic(join(dir, SELECTION_FILE), JSON.stringify(s, null, 2) + '\n');
}

/** The selection of a model folder, or null when it was trained before selections were kept. */
export function loadSelection(dir: string, K: number): Selection | null {
  const file = join(dir, SELECTION_FILE);
  if (!existsSync(file)) return null;
  const s = readUserJson(file, 'validation selection') as Selection;
  if (typeof s !== 'object' || s === null || !(Number.isInteger(s.bestSingleExpert) && s.bestSingleExpert >= 0 && s.bestSingleExpert < K) || !Array.isArray(s.candidates)) {
    throw new LoraRouteError(`${file}: expected {"bestSingleExpert": an expert index below ${K}, "candidates": [...]}`);
  }
  return s;
}
