import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { barChartSvg, heatmapSvg, linePlotSvg, parseMetricsJsonl, seriesFromMetrics, type MetricsSeriesOptions } from './plots.js';
import type { AccuracySummary, LatencySummary, LossSummary, PairedDiff, UsageSummary } from './stats.js';
import type { Budget } from '../system/budget.js';
import type { CurvePoint } from '../system/routing-curve.js';

/**
 * The typed result of an evaluation run. Everything in it is language-model loss only (no routing loss),
 * token-weighted over response tokens. report.json is this object as JSON.
 */
export interface EvalReport {
  version: 1;
  createdAt: string;
  /** Which examples were scored. */
  split: { name: string; examples: number; tokens: number; subsetSeed?: number; note?: string };
  /** Expert names, index = expert id. */
  experts: string[];
  /**
   * One entry per baseline, keyed by a short id. Well-known ids (see BASELINE_LABELS): base, one_lora,
   * expert_<k>, random, tier, learned, oracle. Others are allowed.
   */
  baselines: Record<string, BaselineEntry>;
  /** Baselines that could not be evaluated, by id, with the reason (e.g. no one-LoRA adapter was trained). */
  missing?: Record<string, string>;
  /** Paired-bootstrap differences loss(a) − loss(b) on the same examples. */
  comparisons: ComparisonEntry[];
  /** Routing accuracy of a policy against a target labelling, next to the majority-class rate. */
  routing: RoutingEntry[];
  /** Expert usage per routing policy (e.g. learned, tier, oracle, random). */
  usage: Record<string, UsageSummary>;
  /** MSE of the router's score head against the analyzer score, when there is one. */
  complexityMse?: number | null;
  /** Latency summaries per stage, in milliseconds (e.g. "analyze", "route", "analyze+route"). */
  latency?: Record<string, LatencySummary>;
  /** Free-form lines carried into the Markdown (settings, caveats). */
  notes?: string[];
  /** The routing policy the system serves (the `learned` baseline), in words. */
  policy?: string;
  /** Training budgets in loss tokens (system, one LoRA, labelling), from the model folder. */
  budget?: Budget;
  /** Routing curves by rule: share of prompts sent to an expert (the rest to the shared LoRA) against loss. */
  curves?: Record<string, CurvePoint[]>;
  /** Share of the one-LoRA → oracle gap recovered: by the served policy, and averaged over each curve (APGR). */
  gapRecovered?: Record<string, number | null>;
}

export interface BaselineEntry extends LossSummary {
  /** Human label; defaults from BASELINE_LABELS. */
  label?: string;
}

export interface ComparisonEntry extends PairedDiff {
  /** Baseline ids compared: Δ = loss(a) − loss(b). */
  a: string;
  b: string;
  /** Defaults to "<label a> vs <label b>". */
  label?: string;
}

export interface RoutingEntry extends AccuracySummary {
  /** The routing policy evaluated (e.g. "learned"). */
  policy: string;
  /** What it is scored against. */
  target: 'tier' | 'oracle';
  /** K×K counts, row = target label, column = chosen expert. */
  confusion: number[][];
}

/** Human names of the well-known baseline ids. */
export const BASELINE_LABELS: Record<string, string> = {
  base: 'base model',
  one_lora: 'one LoRA',
  random: 'random routing',
  tier: 'tier rule',
  learned: 'learned router',
  learned_top1: 'learned router (top-1)',
  learned_soft: 'learned router (soft mix)',
  shared: 'shared warm-start LoRA',
  cluster: 'cluster rule (nearest centroid)',
  oracle: 'oracle',
};

/** Human label of a baseline id (expert_2 → "expert 2 alone"). */
export function baselineLabel(report: Pick<EvalReport, 'baselines' | 'experts'>, id: string): string {
  const given = report.baselines[id]?.label;
  if (given) return given;
  if (BASELINE_LABELS[id]) return BASELINE_LABELS[id];
  const m = /^expert_(\d+)$/.exec(id);
  if (m) return `${report.experts[Number(m[1])] ?? `expert ${m[1]}`} alone`;
  return id;
}

/** Builds a comparison entry, checking both ids exist. */
export function makeComparison(report: Pick<EvalReport, 'baselines'>, a: string, b: string, diff: PairedDiff, label?: string): ComparisonEntry {
  check(report.baselines[a] && report.baselines[b], `comparison ${a} vs ${b}: both must be baselines (have ${Object.keys(report.baselines).join(', ')})`);
  const e: ComparisonEntry = { a, b, ...diff };
  if (label) e.label = label;
  return e;
}

/** Decimals that show a difference at the resolution of its interval (3 at least, 6 at most). */
function decimalsFor(c: Pick<PairedDiff, 'lo' | 'hi'>): number {
  const w = Math.abs(c.hi - c.lo);
  if (!(w > 0)) return 3;
  return Math.min(6, Math.max(3, Math.ceil(-Math.log10(w)) + 1));
}

function signed(v: number, d: number): string {
  const s = v.toFixed(d);
  if (Number(s) === 0) return (0).toFixed(d); // no "-0.000"
  return v > 0 ? `+${s}` : s;
}

/** "better" when the whole interval is below 0 (a has lower loss), "worse" when above, else "no clear difference". */
export function verdictWord(c: Pick<PairedDiff, 'lo' | 'hi'>): 'better' | 'worse' | 'no clear difference' {
  if (c.hi < 0) return 'better';
  if (c.lo > 0) return 'worse';
  return 'no clear difference';
}

/** e.g. "learned router vs one LoRA: Δloss = -0.012 [95% CI -0.020, -0.004] — better". */
export function verdictLine(report: Pick<EvalReport, 'baselines' | 'experts'>, c: ComparisonEntry): string {
  const d = decimalsFor(c);
  const label = c.label ?? `${baselineLabel(report, c.a)} vs ${baselineLabel(report, c.b)}`;
  const pct = Math.round(c.level * 100);
  return `${label}: Δloss = ${signed(c.diff, d)} [${pct}% CI ${signed(c.lo, d)}, ${signed(c.hi, d)}] — ${verdictWord(c)}`;
}

const f4 = (v: number): string => (Number.isFinite(v) ? v.toFixed(4) : String(v));
const pc = (v: number): string => `${(v * 100).toFixed(1)}%`;

function table(head: string[], rows: string[][]): string[] {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return [`| ${head.map(esc).join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)];
}

/** Plot files written next to the report, by role (relative names). */
export interface ReportPlots {
  lossCurves?: string;
  routingCurve?: string;
  usage?: string;
  confusion: Record<string, string>;
}

export function confusionPlotName(r: Pick<RoutingEntry, 'policy' | 'target'>): string {
  return `confusion_${r.policy.replace(/[^A-Za-z0-9_-]/g, '_')}_vs_${r.target}.svg`;
}

/** The Markdown report: loss table, verdicts, routing accuracy, confusion matrices, usage, MSE, latency. */
export function renderMarkdown(report: EvalReport, plots: ReportPlots = { confusion: {} }): string {
  const L: string[] = [];
  const s = report.split;
  L.push('# Evaluation report', '');
  L.push(
    `Split **${s.name}**: ${s.examples} examples, ${s.tokens} scored response tokens` +
      (s.subsetSeed !== undefined ? ` (seeded subset, seed ${s.subsetSeed})` : '') + `. Created ${report.createdAt}.`,
  );
  if (s.note) L.push('', s.note);
  L.push('', 'Loss is the language-model cross-entropy only (no routing or balance terms), averaged over response tokens; perplexity = exp(loss).', '');

  L.push('## Language-model loss by baseline', '');
  const ids = Object.keys(report.baselines);
  const missingIds = Object.keys(report.missing ?? {}).filter((id) => !report.baselines[id]);
  const bestId = ids.reduce<string | null>((best, id) => (best === null || report.baselines[id].loss < report.baselines[best].loss ? id : best), null);
  L.push(
    ...table(
      ['baseline', 'loss', 'perplexity', 'tokens', 'examples'],
      [
        ...ids.map((id) => {
          const b = report.baselines[id];
          const name = baselineLabel(report, id) + (id === bestId && ids.length > 1 ? ' (lowest)' : '');
          return [name, f4(b.loss), b.perplexity.toFixed(3), String(b.tokens), String(b.examples)];
        }),
        ...missingIds.map((id) => [`${baselineLabel(report, id)} (absent)`, '—', '—', '—', '—']),
      ],
    ),
  );
  for (const id of missingIds) L.push('', `${baselineLabel(report, id)}: not evaluated — ${(report.missing ?? {})[id]}.`);

  if (report.comparisons.length) {
    const c0 = report.comparisons[0];
    L.push('', '## Comparisons', '');
    L.push(`Δloss = loss(first) − loss(second) on the same examples; negative means the first is better. Paired bootstrap over examples (${c0.samples} resamples, seed ${c0.seed}), percentile intervals.`, '');
    L.push(...report.comparisons.map((c) => `- ${verdictLine(report, c)}`), '');
    L.push(
      ...table(
        ['comparison', 'Δloss', `${Math.round(c0.level * 100)}% CI`, 'P(Δ > 0)', 'verdict'],
        report.comparisons.map((c) => {
          const d = decimalsFor(c);
          return [c.label ?? `${baselineLabel(report, c.a)} vs ${baselineLabel(report, c.b)}`, signed(c.diff, d), `[${signed(c.lo, d)}, ${signed(c.hi, d)}]`, c.pGreater.toFixed(3), verdictWord(c)];
        }),
      ),
    );
    const b = report.baselines;
    if (b.one_lora && b.learned && b.oracle && b.one_lora.loss > b.oracle.loss) {
      const closed = (b.one_lora.loss - b.learned.loss) / (b.one_lora.loss - b.oracle.loss);
      L.push('', closed >= 0
        ? `The learned router closes ${pc(closed)} of the loss gap between one LoRA (${f4(b.one_lora.loss)}) and the oracle (${f4(b.oracle.loss)}).`
        : `The learned router (${f4(b.learned.loss)}) is worse than one LoRA (${f4(b.one_lora.loss)}), so it closes none of the gap to the oracle (${f4(b.oracle.loss)}); ` +
          `it would have to recover ${f4(b.one_lora.loss - b.oracle.loss)} nats per token to match the oracle.`);
    } else if (b.one_lora && b.oracle) {
      L.push('', `One LoRA (${f4(b.one_lora.loss)}) is already at or below the oracle (${f4(b.oracle.loss)}): no routing among these experts can beat it on this split.`);
    }
  }

  if (report.budget) {
    const bu = report.budget;
    L.push('', '## Training budget', '');
    L.push(`Loss tokens of optimiser steps. System: ${bu.system_tokens} (shared warm start ${bu.phases.shared}, experts ${bu.phases.experts.join(' + ')}, joint ${bu.phases.joint}).` +
      (bu.one_lora_tokens !== null ? ` One LoRA: ${bu.one_lora_tokens} (${pc(bu.mismatch ?? 0)} from the system's), keeping its best validation checkpoint at ${bu.one_lora_best_tokens ?? '—'} tokens.` : ' No one-LoRA baseline was trained.') +
      ` Labelling only (cross-fitted copies): ${bu.labelling_tokens}.`);
  }

  if (report.curves && Object.keys(report.curves).length) {
    L.push('', '## Routing curve', '');
    L.push('Prompts the rule is most confident about go to its expert, the rest to the shared warm-start LoRA: share sent to experts against test loss (RouteLLM-style).', '');
    const names = Object.keys(report.curves);
    const first = report.curves[names[0]];
    L.push(...table(['share to experts', ...names], first.map((pt, j) => [pc(pt.share), ...names.map((n) => f4(report.curves?.[n][j]?.loss ?? NaN))])));
    const g = report.gapRecovered ?? {};
    const parts = Object.entries(g).filter(([, v]) => v !== null).map(([k, v]) => `${k} ${pc(v as number)}`);
    if (parts.length) L.push('', `Share of the one-LoRA → oracle gap recovered: ${parts.join('; ')}.`);
    if (plots.routingCurve) L.push('', `![routing curve](${plots.routingCurve})`);
  }

  if (report.routing.length) {
    L.push('', '## Routing accuracy', '');
    L.push('Accuracy means little on its own when one class dominates: each row shows the rate of always choosing the most common label.', '');
    L.push(
      ...table(
        ['policy', 'scored against', 'accuracy', 'majority-class rate', 'majority class', 'examples'],
        report.routing.map((r) => [r.policy, r.target, pc(r.accuracy), pc(r.majorityRate), report.experts[r.majorityClass] ?? String(r.majorityClass), String(r.n)]),
      ),
    );
    for (const r of report.routing) {
      L.push('', `### Confusion: ${r.policy} vs ${r.target} (rows = ${r.target} label, columns = chosen expert)`, '');
      const names = r.confusion.map((_, k) => report.experts[k] ?? String(k));
      L.push(...table([`${r.target} \\ chosen`, ...names], r.confusion.map((row, i) => [names[i], ...row.map(String)])));
      const plot = plots.confusion[`${r.policy}/${r.target}`];
      if (plot) L.push('', `![confusion ${r.policy} vs ${r.target}](${plot})`);
    }
  }

  const policies = Object.keys(report.usage);
  if (policies.length) {
    L.push('', '## Expert usage', '');
    L.push(
      ...table(
        ['policy', ...report.experts, 'evenness (entropy / log K)'],
        policies.map((p) => {
          const u = report.usage[p];
          return [p, ...u.counts.map((c, k) => `${c} (${pc(u.fractions[k])})`), u.normalizedEntropy.toFixed(3)];
        }),
      ),
    );
    if (plots.usage) L.push('', `![expert usage](${plots.usage})`);
  }

  if (report.complexityMse !== undefined && report.complexityMse !== null) {
    L.push('', '## Complexity score', '', `MSE of the router's score head against the analyzer score: ${report.complexityMse.toPrecision(4)}.`);
  }

  if (report.latency && Object.keys(report.latency).length) {
    L.push('', '## Latency (ms)', '');
    L.push(
      ...table(
        ['stage', 'p50', 'p99', 'mean', 'max', 'n'],
        Object.entries(report.latency).map(([k, v]) => [k, v.p50.toFixed(3), v.p99.toFixed(3), v.mean.toFixed(3), v.max.toFixed(3), String(v.n)]),
      ),
    );
  }

  if (plots.lossCurves) L.push('', '## Training curves', '', `![loss curves](${plots.lossCurves})`);
  if (report.notes?.length) L.push('', '## Notes', '', ...report.notes.map((n) => `- ${n}`));
  L.push('');
  return L.join('\n');
}

export interface WriteReportOptions {
  /** Path of a training metrics JSONL; when given and present, loss_curves.svg is drawn from it. */
  metricsPath?: string;
  metricsSeries?: MetricsSeriesOptions;
  /** Write SVG plots (default true). */
  plots?: boolean;
}

/** Writes report.json, report.md and the SVG plots into dir (created if needed). Returns the paths written. */
export function writeReport(dir: string, report: EvalReport, opts: WriteReportOptions = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const put = (name: string, data: string): void => {
    const p = join(dir, name);
    writeFileAtomic(p, data);
    written.push(p);
  };
  const plots: ReportPlots = { confusion: {} };
  if (opts.plots !== false) {
    for (const r of report.routing) {
      const name = confusionPlotName(r);
      const labels = r.confusion.map((_, k) => report.experts[k] ?? String(k));
      put(name, heatmapSvg(r.confusion, { title: `${r.policy} vs ${r.target}`, rowLabels: labels, colLabels: labels, yLabel: `${r.target} label`, xLabel: 'chosen expert' }));
      plots.confusion[`${r.policy}/${r.target}`] = name;
    }
    const policies = Object.keys(report.usage);
    if (policies.length && report.experts.length) {
      put('usage.svg', barChartSvg(report.experts, policies.map((p) => ({ name: p, values: report.usage[p].fractions })), {
        title: 'Expert usage (share of examples)', yLabel: 'share', format: (v) => `${(v * 100).toFixed(0)}%`,
      }));
      plots.usage = 'usage.svg';
    }
    if (report.curves && Object.keys(report.curves).length) {
      const b = report.baselines;
      const series = Object.entries(report.curves).map(([name, pts]) => ({ name, points: pts.map((p): [number, number] => [p.share, p.loss]) }));
      for (const id of ['one_lora', 'oracle']) if (b[id]) series.push({ name: baselineLabel(report, id), points: [[0, b[id].loss], [1, b[id].loss]] });
      put('routing_curve.svg', linePlotSvg(series, { title: 'Routing curve (rest → shared LoRA)', xLabel: 'share of prompts sent to an expert', yLabel: 'test loss' }));
      plots.routingCurve = 'routing_curve.svg';
    }
    if (opts.metricsPath && existsSync(opts.metricsPath)) {
      // loraroute's metrics: one line per logged step of each training run ("run"); the router's loss is a
      // routing loss, not a language-model loss, so it is left out of this plot
      const records = parseMetricsJsonl(readFileSync(opts.metricsPath, 'utf8'), opts.metricsPath).filter((r) => r.run !== 'router');
      const series = seriesFromMetrics(records, { groupBy: 'run', keys: ['loss', 'val_loss'], ...opts.metricsSeries });
      put('loss_curves.svg', linePlotSvg(series, { title: 'Training and validation loss', xLabel: opts.metricsSeries?.x ?? 'step', yLabel: 'loss' }));
      plots.lossCurves = 'loss_curves.svg';
    }
  }
  put('report.json', JSON.stringify(report, null, 2) + '\n');
  put('report.md', renderMarkdown(report, plots));
  return written;
}
