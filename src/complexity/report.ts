/**
 * The stratification report: tier counts per split, the score histogram, and per-feature summaries
 * (overall and mean per tier), as a JSON-able object and as Markdown.
 */
import { SPLITS, type Split } from '../data/split.js';
import { FEATURE_NAMES } from './features.js';
import { tierName } from './tiers.js';

export interface ScoredRow {
  split: Split;
  score: number;
  tier: number;
  /** Weighted sum of the normalised features (the score before the CDF). */
  weightedSum: number;
  /** Raw features, FEATURE_NAMES order. */
  features: ArrayLike<number>;
}

export interface FeatureSummary {
  mean: number;
  std: number;
  min: number;
  p10: number;
  p50: number;
  p90: number;
  max: number;
  /** Mean of the feature in each tier. */
  tierMeans: number[];
}

export type SplitKey = Split | 'all';

export interface StratifyReport {
  data: string[];
  records: number;
  skipped: number;
  thresholds: number[];
  /** 'given' thresholds, or quantiles of the train split's scores. */
  thresholdSource: 'given' | 'quantiles';
  tiers: string[];
  /** Records per tier, per split and overall. */
  counts: Record<SplitKey, number[]>;
  histogram: { edges: number[]; counts: Record<SplitKey, number[]> };
  /** Histogram of the weighted sum (all records) and the thresholds mapped onto it through the CDF. */
  weightedSum: { edges: number[]; counts: number[]; thresholds: number[] };
  features: Record<string, FeatureSummary>;
  /** What made the scores: calibration source and syllable source. */
  analyzer: Record<string, string | number>;
  seconds: number;
}

const KEYS: readonly SplitKey[] = [...SPLITS, 'all'];

function round(v: number, digits = 4): number {
  return Number(v.toFixed(digits));
}

function quantileSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = q * (sorted.length - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  return i + 1 < sorted.length ? sorted[i]! * (1 - f) + sorted[i + 1]! * f : sorted[i]!;
}

export interface BuildReportArgs {
  rows: readonly ScoredRow[];
  thresholds: number[];
  thresholdSource: 'given' | 'quantiles';
  data: string[];
  skipped: number;
  analyzer: Record<string, string | number>;
  seconds: number;
  /** The calibration's CDF knots, to map thresholds onto the weighted sum. */
  knots: readonly number[];
  bins?: number;
}

/** Inverse of the piecewise-linear CDF: the weighted sum whose score is p. */
function inverseCdf(p: number, knots: readonly number[]): number {
  const pos = Math.min(1, Math.max(0, p)) * (knots.length - 1);
  const i = Math.floor(pos);
  return i + 1 < knots.length ? knots[i]! + (pos - i) * (knots[i + 1]! - knots[i]!) : knots[i]!;
}

export function buildReport(a: BuildReportArgs): StratifyReport {
  const k = a.thresholds.length + 1;
  const bins = a.bins ?? 50;
  const counts = Object.fromEntries(KEYS.map((s) => [s, new Array<number>(k).fill(0)])) as Record<SplitKey, number[]>;
  const hist = Object.fromEntries(KEYS.map((s) => [s, new Array<number>(bins).fill(0)])) as Record<SplitKey, number[]>;
  for (const r of a.rows) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(r.score * bins)));
    for (const key of [r.split, 'all'] as const) {
      counts[key][r.tier]!++;
      hist[key][b]!++;
    }
  }
  let wMin = Infinity;
  let wMax = -Infinity;
  for (const r of a.rows) {
    wMin = Math.min(wMin, r.weightedSum);
    wMax = Math.max(wMax, r.weightedSum);
  }
  if (!(wMax > wMin)) wMax = wMin + 1;
  const wCounts = new Array<number>(bins).fill(0);
  for (const r of a.rows) wCounts[Math.min(bins - 1, Math.floor(((r.weightedSum - wMin) / (wMax - wMin)) * bins))]!++;
  const weighted = {
    edges: Array.from({ length: bins + 1 }, (_, i) => round(wMin + ((wMax - wMin) * i) / bins, 6)),
    counts: wCounts,
    thresholds: a.thresholds.map((t) => round(inverseCdf(t, a.knots), 6)),
  };
  const features: Record<string, FeatureSummary> = {};
  const col = new Float64Array(a.rows.length);
  FEATURE_NAMES.forEach((name, f) => {
    let sum = 0;
    let sq = 0;
    const tierSum = new Array<number>(k).fill(0);
    a.rows.forEach((r, i) => {
      const v = r.features[f]!;
      col[i] = v;
      sum += v;
      sq += v * v;
      tierSum[r.tier]! += v;
    });
    const n = a.rows.length;
    const mean = n ? sum / n : NaN;
    const sorted = col.slice(0, n).sort();
    features[name] = {
      mean: round(mean),
      std: round(n ? Math.sqrt(Math.max(0, sq / n - mean * mean)) : NaN),
      min: round(sorted[0] ?? NaN),
      p10: round(quantileSorted(sorted, 0.1)),
      p50: round(quantileSorted(sorted, 0.5)),
      p90: round(quantileSorted(sorted, 0.9)),
      max: round(sorted[n - 1] ?? NaN),
      tierMeans: tierSum.map((s, t) => round(counts.all[t]! ? s / counts.all[t]! : NaN)),
    };
  });
  return {
    data: a.data,
    records: a.rows.length,
    skipped: a.skipped,
    thresholds: a.thresholds.map((t) => round(t, 6)),
    thresholdSource: a.thresholdSource,
    tiers: Array.from({ length: k }, (_, t) => tierName(t, k)),
    counts,
    histogram: { edges: Array.from({ length: bins + 1 }, (_, i) => round(i / bins, 6)), counts: hist },
    weightedSum: weighted,
    features,
    analyzer: a.analyzer,
    seconds: round(a.seconds, 2),
  };
}

function pct(n: number, total: number): string {
  return total ? `${((100 * n) / total).toFixed(1)}%` : '–';
}

/** The report as Markdown (counts table, thresholds, feature table), pointing at the plot. */
export function reportMarkdown(r: StratifyReport, plotFile = 'scores.svg'): string {
  const lines: string[] = [];
  lines.push('# Complexity stratification', '');
  lines.push(`${r.records} records from ${r.data.length} file(s)${r.skipped ? `, ${r.skipped} malformed rows skipped` : ''}; ` +
    `thresholds ${r.thresholds.join(', ')} (${r.thresholdSource === 'quantiles' ? 'quantiles of the train split' : 'given'}); ` +
    `analysed in ${r.seconds} s.`, '');
  lines.push(`| split | ${r.tiers.join(' | ')} | total |`, `| --- | ${r.tiers.map(() => '---:').join(' | ')} | ---: |`);
  for (const key of KEYS) {
    const c = r.counts[key];
    const total = c.reduce((s, v) => s + v, 0);
    lines.push(`| ${key} | ${c.map((v) => `${v} (${pct(v, total)})`).join(' | ')} | ${total} |`);
  }
  lines.push('', `![score histogram](${plotFile})`, '');
  lines.push('## Features', '', `| feature | mean | std | p10 | p50 | p90 | ${r.tiers.map((t) => `mean ${t}`).join(' | ')} |`);
  lines.push(`| --- | ---: | ---: | ---: | ---: | ---: | ${r.tiers.map(() => '---:').join(' | ')} |`);
  for (const [name, s] of Object.entries(r.features)) {
    lines.push(`| ${name} | ${s.mean} | ${s.std} | ${s.p10} | ${s.p50} | ${s.p90} | ${s.tierMeans.join(' | ')} |`);
  }
  lines.push('', `Analyzer: ${Object.entries(r.analyzer).map(([k, v]) => `${k} ${v}`).join('; ')}.`, '');
  return lines.join('\n');
}
