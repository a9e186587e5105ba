/**
 * Stratify a data set: analyse every record, assign tiers (given thresholds, or quantiles of the train
 * split's scores), write one JSONL file per tier plus report.json, report.md and scores.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAlpaca } from '../data/alpaca.js';
import type { ComplexityAnalyzer } from './analyzer.js';
import { histogramSvg } from './plot.js';
import { buildReport, reportMarkdown, type ScoredRow, type StratifyReport } from './report.js';
import { checkThresholds, quantileThresholds, stratify, tierName } from './tiers.js';

export interface StratifyOptions {
  paths: string[];
  outDir: string;
  /** Fixed thresholds (default [0.3, 0.7]); ignored when `quantiles` is set. */
  thresholds?: number[];
  /** Cut into this many equal-size tiers by the train split's score quantiles (all records if no train). */
  quantiles?: number;
  skipInvalid?: boolean;
  analyzer: ComplexityAnalyzer;
}

export interface StratifyResult {
  report: StratifyReport;
  /** Files written, tier files first. */
  files: string[];
  /** First skipped-row messages. */
  problems: string[];
}

export function stratifyData(o: StratifyOptions): StratifyResult {
  const { records, skipped, problems } = loadAlpaca(o.paths, { skipInvalid: o.skipInvalid });
  const t0 = performance.now();
  const rows: Array<ScoredRow & { index: number }> = records.map((r) => {
    const a = o.analyzer.analyze(r.instruction, r.input);
    return { index: r.index, split: r.split, score: a.score, weightedSum: a.weightedSum, tier: 0, features: Object.values(a.features) };
  });
  const seconds = (performance.now() - t0) / 1000;
  let thresholds: number[];
  if (o.quantiles !== undefined) {
    const train = rows.filter((r) => r.split === 'train');
    thresholds = quantileThresholds((train.length ? train : rows).map((r) => r.score), o.quantiles);
  } else {
    thresholds = o.thresholds ?? [...o.analyzer.thresholds];
    checkThresholds(thresholds);
  }
  for (const r of rows) r.tier = stratify(r.score, thresholds);

  mkdirSync(o.outDir, { recursive: true });
  const k = thresholds.length + 1;
  const lines: string[][] = Array.from({ length: k }, () => []);
  records.forEach((rec, i) => {
    const r = rows[i]!;
    lines[r.tier]!.push(JSON.stringify({ ...rec, score: Number(r.score.toFixed(6)), tier: r.tier }));
  });
  const files: string[] = [];
  lines.forEach((l, t) => {
    const f = join(o.outDir, `${tierName(t, k)}.jsonl`);
    writeFileSync(f, l.length ? l.join('\n') + '\n' : '');
    files.push(f);
  });
  const report = buildReport({
    rows,
    thresholds,
    thresholdSource: o.quantiles !== undefined ? 'quantiles' : 'given',
    data: o.paths,
    skipped,
    analyzer: { calibration: JSON.stringify(o.analyzer.calibration.source), syllables: o.analyzer.syllableSource },
    seconds,
    knots: o.analyzer.calibration.knots,
  });
  const extra: Array<[string, string]> = [
    ['report.json', JSON.stringify(report, null, 2) + '\n'],
    ['report.md', reportMarkdown(report, 'scores.svg')],
    ['scores.svg', histogramSvg(report)],
  ];
  for (const [name, body] of extra) {
    writeFileSync(join(o.outDir, name), body);
    files.push(join(o.outDir, name));
  }
  return { report, files, problems };
}
