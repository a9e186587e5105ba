/** Tiers from scores: fixed thresholds (default [0.3, 0.7]) or quantiles of a set of scores. */
import { LoraRouteError } from '../errors.js';

export const DEFAULT_THRESHOLDS: readonly number[] = [0.3, 0.7];
export const TIER_NAMES: readonly string[] = ['simple', 'medium', 'complex'];

/** Throws unless `t` is a strictly increasing list of finite numbers in [0, 1]. */
export function checkThresholds(t: readonly number[], what = 'thresholds'): void {
  for (let i = 0; i < t.length; i++) {
    const v = t[i]!;
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new LoraRouteError(`${what}: ${JSON.stringify(t)} has ${v}; expected numbers in [0, 1]`);
    if (i > 0 && v <= t[i - 1]!) throw new LoraRouteError(`${what}: ${JSON.stringify(t)} must be strictly increasing`);
  }
}

/**
 * Tier of a score: the number of thresholds it is strictly above, so K = thresholds.length + 1 tiers;
 * with the default [0.3, 0.7]: 0 (simple) for s <= 0.3, 1 (medium) for 0.3 < s <= 0.7, 2 (complex) above.
 */
export function stratify(score: number, thresholds: readonly number[] = DEFAULT_THRESHOLDS): number {
  let tier = 0;
  for (const t of thresholds) if (score > t) tier++;
  return tier;
}

/** Name of tier `tier` of `count`: simple/medium/complex for three tiers, `tier<k>` otherwise. */
export function tierName(tier: number, count: number): string {
  return count === TIER_NAMES.length ? TIER_NAMES[tier]! : `tier${tier}`;
}

/**
 * Thresholds that cut `scores` into `tiers` groups of (nearly) equal size: the j/tiers quantiles
 * (lower empirical quantile, so `stratify` puts at most ⌈j·n/tiers⌉ scores at or below the j-th).
 */
export function quantileThresholds(scores: ArrayLike<number>, tiers = 3): number[] {
  if (!Number.isInteger(tiers) || tiers < 1) throw new LoraRouteError(`quantile tiers: expected an integer >= 1, got ${tiers}`);
  if (scores.length === 0) throw new LoraRouteError('quantile tiers: no scores to take quantiles of');
  const sorted = Float64Array.from(scores).sort();
  const out: number[] = [];
  for (let j = 1; j < tiers; j++) {
    const k = Math.max(0, Math.ceil((j * sorted.length) / tiers) - 1);
    const v = sorted[k]!;
    // Ties can make two quantiles equal; nudge so thresholds stay strictly increasing.
    out.push(out.length > 0 && v <= out[out.length - 1]! ? out[out.length - 1]! + 1e-9 : v);
  }
  return out;
}

/** Parses "0.3,0.7" into checked thresholds. */
export function parseThresholds(text: string, what = '--thresholds'): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const t = parts.map(Number);
  if (parts.some((s) => s === '') || t.some((v) => !Number.isFinite(v))) {
    throw new LoraRouteError(`${what}: expected comma-separated numbers like 0.3,0.7, got '${text}'`);
  }
  checkThresholds(t, what);
  return t;
}
