import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraRouteError } from '../errors.js';
import { baselineLabel, verdictWord, type EvalReport } from '../eval/report.js';
import { writeFileAtomic } from '../io/atomic.js';
import { trainSystem, type TrainSystemOptions } from './pipeline.js';
import { runEvaluate } from './evaluate-command.js';

/** One comparison across seeds: Δ per seed with its interval and verdict, their mean and spread, and whether all agree. */
export interface SweepComparison {
  a: string;
  b: string;
  label: string;
  perSeed: Array<{ seed: number; diff: number; lo: number; hi: number; verdict: string }>;
  mean: number;
  /** Sample standard deviation of Δ over seeds (0 for one seed). */
  sd: number;
  /** The verdict every seed gives, or "mixed" when they disagree. */
  verdict: string;
}

export interface SweepResult {
  seeds: number[];
  runs: string[];
  comparisons: SweepComparison[];
  /** Loss of each baseline per seed. */
  losses: Record<string, number[]>;
  budgets: Array<EvalReport['budget'] | null>;
}

/** Parses "42,7,123" into distinct non-negative integer seeds. */
export function parseSeeds(s: string): number[] {
  const seeds = s.split(',').map((x) => x.trim()).filter((x) => x.length > 0).map(Number);
  if (seeds.length === 0 || seeds.some((v) => !Number.isInteger(v) || v < 0) || new Set(seeds).size !== seeds.length) {
    throw new LoraRouteError(`--seeds: expected distinct non-negative integers separated by commas (e.g. 42,7,123), got ${JSON.stringify(s.slice(0, 80))}`);
  }
  return seeds;
}

/** Across-seed summary of the comparisons every report has. */
export function summarizeSweep(seeds: number[], reports: EvalReport[], runs: string[]): SweepResult {
  const keys = reports[0].comparisons.map((c) => `${c.a}|${c.b}`).filter((k) => reports.every((r) => r.comparisons.some((c) => `${c.a}|${c.b}` === k)));
  const comparisons = keys.map((key) => {
    const [a, b] = key.split('|');
    const perSeed = reports.map((r, i) => {
      const c = r.comparisons.find((x) => x.a === a && x.b === b) as EvalReport['comparisons'][number];
      return { seed: seeds[i], diff: c.diff, lo: c.lo, hi: c.hi, verdict: verdictWord(c) };
    });
    const mean = perSeed.reduce((s, x) => s + x.diff, 0) / perSeed.length;
    const sd = perSeed.length > 1 ? Math.sqrt(perSeed.reduce((s, x) => s + (x.diff - mean) ** 2, 0) / (perSeed.length - 1)) : 0;
    const verdicts = new Set(perSeed.map((x) => x.verdict));
    // generic names: a seed's own label (e.g. its τ) does not describe the others
    const plain = { baselines: {}, experts: reports[0].experts };
    const label = `${baselineLabel(plain, a)} vs ${baselineLabel(plain, b)}`;
    return { a, b, label, perSeed, mean, sd, verdict: verdicts.size === 1 ? perSeed[0].verdict : 'mixed' };
  });
  const ids = Object.keys(reports[0].baselines).filter((id) => reports.every((r) => r.baselines[id]));
  const losses = Object.fromEntries(ids.map((id) => [id, reports.map((r) => r.baselines[id].loss)]));
  return { seeds, runs, comparisons, losses, budgets: reports.map((r) => r.budget ?? null) };
}

const sgn = (v: number, d = 4): string => (v > 0 ? '+' : '') + v.toFixed(d);

export function renderSweepMarkdown(s: SweepResult): string {
  const L = ['# Seed sweep', '', `Seeds ${s.seeds.join(', ')}; one complete run folder per seed (${s.runs.join(', ')}). Δloss = loss(a) − loss(b) on the test split, 95% paired-bootstrap CI per seed. A verdict stands only when every seed gives it.`, ''];
  L.push(`| comparison | ${s.seeds.map((x) => `seed ${x}`).join(' | ')} | mean ± sd | verdict |`);
  L.push(`| --- | ${s.seeds.map(() => '---').join(' | ')} | --- | --- |`);
  for (const c of s.comparisons) {
    L.push(`| ${c.label} | ${c.perSeed.map((p) => `${sgn(p.diff)} [${sgn(p.lo)}, ${sgn(p.hi)}]`).join(' | ')} | ${sgn(c.mean)} ± ${c.sd.toFixed(4)} | ${c.verdict} |`);
  }
  L.push('', '| baseline | ' + s.seeds.map((x) => `seed ${x}`).join(' | ') + ' |', '| --- | ' + s.seeds.map(() => '---:').join(' | ') + ' |');
  for (const [id, v] of Object.entries(s.losses)) L.push(`| ${id} | ${v.map((x) => x.toFixed(4)).join(' | ')} |`);
  const b = s.budgets.map((x, i) => (x ? `seed ${s.seeds[i]}: system ${x.system_tokens}, one LoRA ${x.one_lora_tokens ?? '—'}, labelling ${x.labelling_tokens}` : `seed ${s.seeds[i]}: —`));
  L.push('', `Budgets (loss tokens): ${b.join('; ')}.`, '');
  return L.join('\n');
}

/**
 * `loraroute sweep`: the same run once per seed (OUT/seed-S, each a complete run folder resumable on its own),
 * each evaluated on its test split, then every comparison per seed and as mean ± spread (OUT/sweep.json, sweep.md).
 */
export async function runSweep(o: Omit<TrainSystemOptions, 'out'> & { out: string; seeds: number[]; log?: (s: string) => void }): Promise<SweepResult | null> {
  const log = o.log ?? (() => {});
  const reports: EvalReport[] = [];
  const runs: string[] = [];
  for (const seed of o.seeds) {
    const out = join(o.out, `seed-${seed}`);
    runs.push(out);
    const done = join(out, 'report', 'report.json');
    if (existsSync(done) && existsSync(join(out, 'budget.json'))) {
      // a seed whose run and evaluation both finished is read back, not trained or evaluated again
      log(`sweep: seed ${seed} already finished (${done})`);
      reports.push(JSON.parse(readFileSync(done, 'utf8')) as EvalReport);
      continue;
    }
    const sets = [...(o.sets ?? []), `training.seed=${seed}`];
    const resume = existsSync(join(out, 'config.yaml'));
    log(`sweep: seed ${seed} → ${out}${resume ? ' (resuming)' : ''}`);
    const r = await trainSystem({ ...o, out, sets: resume ? undefined : sets, configPath: resume ? undefined : o.configPath, debug: resume ? undefined : o.debug, resume });
    if (r.status === 'interrupted') return null;
    reports.push(runEvaluate({ modelDir: r.bestModel, model: o.modelDir, data: o.data, out: join(out, 'report'), log }).report);
  }
  const s = summarizeSweep(o.seeds, reports, runs);
  writeFileAtomic(join(o.out, 'sweep.json'), JSON.stringify(s, null, 2) + '\n');
  writeFileAtomic(join(o.out, 'sweep.md'), renderSweepMarkdown(s));
  return s;
}
