import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config/index.js';
import type { ComplexityAnalyzer } from '../complexity/analyzer.js';
import { LoraRouteError } from '../errors.js';
import { renderMarkdown, writeReport, type EvalReport } from '../eval/report.js';
import { writeFileAtomic } from '../io/atomic.js';
import { checkWritableDir } from '../io/writable.js';
import type { LoraAdapter } from '../lora/adapter.js';
import { loadPeftAdapter } from '../lora/peft.js';
import type { GPT2Config } from '../model/config.js';
import type { BackendName } from '../tensor/select.js';
import type { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import { shuffledOrder } from '../train/batches.js';
import { splitRecords } from '../train/data.js';
import { makeExamples } from '../train/examples.js';
import { loadRunData } from './data.js';
import { evaluateSystemDetailed, type EvalDetails } from './evaluate.js';
import { prepareExamples, type PreparedExample } from './prepared.js';
import { LoraRouteModel } from './routed-model.js';
import { loadBudget } from './budget.js';

export interface RunEvaluateOptions {
  /** A trained folder (RUN/best_model, RUN/final_model). */
  modelDir: string;
  /** Base GPT-2 folder; default: the one the saved config names. */
  model?: string;
  /** Alpaca files; default: the saved config's data.paths (else the bundled Alpaca). */
  data?: string[];
  /** Seeded subset of the loaded test records; default eval.subset of the saved config (0 = all). */
  subset?: number;
  /** Score every record of `data` (an outside instruction set), not only its i % split_modulus == 0 test split. */
  allRecords?: boolean;
  /** Report folder; default `<modelDir>/../report` when writable (else nothing is written). */
  out?: string;
  /** What `print` receives: the report as one JSON object (true) or the Markdown report (false). */
  json?: boolean;
  /** The one-LoRA baseline's PEFT folder; default `<modelDir>/../baseline_lora` when present. */
  baselineDir?: string;
  backend?: BackendName;
  /** Default eval.bootstrap_samples of the saved config. */
  bootstrapSamples?: number;
  /** Single prompts timed through analyze + route (default 200). */
  latencySamples?: number;
  /** Progress lines (default: none). */
  log?: (s: string) => void;
  /** Receives the finished report as text (JSON or Markdown per `json`). */
  print?: (s: string) => void;
}

/** The test examples of a config: data.test_subset records (seed training.seed), then eval.subset of those (seed eval.seed). */
export function loadEvalSplit(
  config: Config, tokenizer: GPT2Tokenizer, analyzer: ComplexityAnalyzer, opts: { data?: string[]; subset?: number; allRecords?: boolean } = {},
): { items: PreparedExample[]; subsetSeed?: number; note: string } {
  if (opts.allRecords && !opts.data) throw new LoraRouteError('--all-records needs --data FILE (an instruction set other than the training data)');
  const data = loadRunData(config, opts.data);
  let records = opts.allRecords ? data.records : splitRecords(data.records, 'test', config.data.test_subset, config.training.seed);
  const loaded = records.length;
  const n = opts.subset ?? config.eval.subset;
  const subsetted = n > 0 && n < records.length;
  if (subsetted) {
    const order = shuffledOrder(records.length, config.eval.seed);
    records = order.slice(0, n).sort((a, b) => a - b).map((i) => records[i]);
  }
  const { examples, stats } = makeExamples(records, tokenizer, config.data.max_length, config.data.loss_on);
  const items = prepareExamples(examples, records, analyzer);
  const parts = [
    `${items.length} examples from ${records.length} test records` +
      (subsetted ? ` (a seeded subset, seed ${config.eval.seed}, of ${loaded} loaded)` : '') +
      (opts.allRecords ? ' (every record of the given data, no split)' : config.data.test_subset > 0 ? `; data.test_subset = ${config.data.test_subset} (seed ${config.training.seed})` : '') +
      ` of ${data.paths.length} data file(s), split modulus ${config.data.split_modulus}.`,
  ];
  const dropped = stats.skippedEmpty + stats.skippedLongPrompt;
  if (dropped) parts.push(`${stats.skippedEmpty} records with an empty response and ${stats.skippedLongPrompt} with a prompt of ${config.data.max_length}+ tokens are left out.`);
  if (stats.truncated) parts.push(`${stats.truncated} responses are cut at data.max_length = ${config.data.max_length} tokens.`);
  return { items, subsetSeed: subsetted ? config.eval.seed : undefined, note: parts.join(' ') };
}

/** The one-LoRA baseline: an explicit folder (must exist), else `<modelDir>/../baseline_lora` if present. */
export function findBaseline(modelDir: string, model: GPT2Config, baselineDir?: string): { adapter: LoraAdapter | null; dir: string | null; why?: string } {
  if (baselineDir) {
    if (!existsSync(join(baselineDir, 'adapter_config.json'))) {
      throw new LoraRouteError(`baseline adapter ${baselineDir}: no adapter_config.json there (expected a PEFT LoRA folder such as RUN/baseline_lora)`);
    }
    return { adapter: loadPeftAdapter(baselineDir, model, 'one_lora'), dir: baselineDir };
  }
  const guess = join(modelDir, '..', 'baseline_lora');
  if (existsSync(join(guess, 'adapter_config.json'))) return { adapter: loadPeftAdapter(guess, model, 'one_lora'), dir: guess };
  return { adapter: null, dir: null, why: `no one-LoRA adapter at ${guess} (train with training.baseline_lora: true, or pass --baseline DIR)` };
}

function writable(dir: string): boolean {
  let d = resolve(dir);
  while (!existsSync(d)) {
    const up = dirname(d);
    if (up === d) return false;
    d = up;
  }
  try {
    accessSync(d, constants.W_OK);
    return statSync(d).isDirectory();
  } catch {
    return false;
  }
}

/** One JSON line per test example: record index, tokens, tier / oracle / learned / random expert, mean loss per baseline. */
function perExampleJsonl(items: PreparedExample[], d: EvalDetails): string {
  const ids = Object.keys(d.losses);
  return items.map((p, i) => {
    const loss: Record<string, number> = {};
    for (const id of ids) {
      const l = d.losses[id][i];
      loss[id] = l.tokens > 0 ? l.lossSum / l.tokens : 0;
    }
    return JSON.stringify({
      index: p.record.index, tokens: d.losses.base[i].tokens, score: p.score,
      tier: d.choices.tier[i], oracle: d.choices.oracle[i], learned: d.choices.learned[i], random: d.choices.random[i], loss,
    });
  }).join('\n') + '\n';
}

/**
 * `loraroute evaluate`: loads a trained folder, its one-LoRA baseline and the test split of its saved config,
 * evaluates every baseline, and writes report.json, report.md, per_example.jsonl and plots.
 */
export interface EvaluateResult {
  report: EvalReport;
  /** The Markdown report (report.md without its plot links). */
  markdown: string;
  /** Where the report was written, or null when nowhere writable was given or found. */
  out: string | null;
  written: string[];
}

export function runEvaluate(o: RunEvaluateOptions): EvaluateResult {
  const log = o.log ?? (() => {});
  if (o.out) checkWritableDir(o.out, '--out', false); // before the evaluation, not after it
  const sys = LoraRouteModel.fromPretrained(o.modelDir, { model: o.model, backend: o.backend });
  const c = sys.config;
  log(`evaluate: ${sys.experts.length} experts (${sys.expertNames.join(', ')}) on the ${sys.model.backend.name} backend`);
  const base = findBaseline(o.modelDir, sys.model.config, o.baselineDir);
  log(base.dir ? `evaluate: one-LoRA baseline from ${base.dir}` : `evaluate: ${base.why}`);
  const split = loadEvalSplit(c, sys.tokenizer, sys.analyzer, { data: o.data, subset: o.subset, allRecords: o.allRecords });
  log(`evaluate: ${split.note}`);
  const { report, details } = evaluateSystemDetailed(sys, split.items, {
    baseline: base.adapter, baselineMissing: base.why, batchSize: c.eval.batch_size,
    bootstrapSamples: o.bootstrapSamples ?? c.eval.bootstrap_samples, seed: c.eval.seed, latencySamples: o.latencySamples, log,
    split: { name: o.allRecords ? 'all records of --data' : 'test', subsetSeed: split.subsetSeed, note: split.note }, budget: loadBudget(o.modelDir),
    notes: [`Model folder: ${o.modelDir}${base.dir ? `; one-LoRA baseline: ${base.dir}` : ''}.`],
  });

  const out = o.out ?? join(o.modelDir, '..', 'report');
  let written: string[] = [];
  let where: string | null = null;
  if (writable(out)) {
    written = writeReport(out, report, { metricsPath: join(o.modelDir, '..', 'metrics.jsonl') });
    const perExample = join(out, 'per_example.jsonl');
    writeFileAtomic(perExample, perExampleJsonl(split.items, details));
    written.push(perExample);
    where = out;
    log(`evaluate: wrote ${written.join(', ')}`);
  } else {
    log(`evaluate: ${out} is not writable; no report files written (pass --out DIR)`);
  }
  const markdown = renderMarkdown(report);
  o.print?.(o.json ? JSON.stringify(report) + '\n' : markdown);
  return { report, markdown, out: where, written };
}
