import { LoraRouteError } from '../errors.js';
import { makeComparison, type ComparisonEntry, type EvalReport, type RoutingEntry } from '../eval/report.js';
import {
  accuracyVsMajority, confusionMatrix, expertUsage, latencySummary, meanSquaredError, mulberry32, pairedBootstrap,
  tokenWeightedLoss, type ExampleLoss as StatLoss, type LatencySummary, type UsageSummary,
} from '../eval/stats.js';
import type { LoraAdapter } from '../lora/adapter.js';
import { LoraMixture } from '../lora/mixture.js';
import { topKRenormalised } from '../router/router.js';
import type { ExampleBatch } from '../train/batches.js';
import type { Example } from '../train/examples.js';
import { scoreExamples, type ExampleLoss } from '../train/score.js';
import { pooledPromptStates } from './pooled.js';
import { featureMatrix, type PreparedExample } from './prepared.js';
import type { LoraRouteModel } from './routed-model.js';

export interface EvaluateOptions {
  /** The one-LoRA baseline (one adapter trained on all the training data), or null when there is none. */
  baseline: LoraAdapter | null;
  /** Why there is no baseline (carried into the report when `baseline` is null). */
  baselineMissing?: string;
  /** Examples per forward pass. */
  batchSize: number;
  /** Paired-bootstrap resamples; 0 = no confidence intervals. */
  bootstrapSamples: number;
  /** Seeds random routing and the bootstrap. */
  seed: number;
  /** Single prompts timed through analyze + route (default 200; 0 = no latency). */
  latencySamples?: number;
  log?: (s: string) => void;
  /** What `test` is, for the report header (name defaults to "test"). */
  split?: { name?: string; subsetSeed?: number; note?: string };
  /** Extra lines for the report's notes. */
  notes?: string[];
}

/** The routing policies whose choices are one expert per example. */
export type RoutingPolicy = 'random' | 'tier' | 'learned' | 'oracle';

/** Everything per example behind the report (test order), for checks and further analysis. */
export interface EvalDetails {
  /** Per-example LM loss of every baseline in the report. */
  losses: Record<string, StatLoss[]>;
  /** The expert each policy picked per example (learned = the router's top-1). */
  choices: Record<RoutingPolicy, Int32Array>;
  /** Router probabilities [N, K]. */
  probs: Float32Array;
  /** Gates [N, K] of the learned top-k mix when generation.top_k_experts > 1, else null. */
  learnedGates: Float32Array | null;
  /** Seconds per scoring pass, by baseline id. */
  passSeconds: Record<string, number>;
}

const toStat = (x: ExampleLoss): StatLoss => ({ sumLoss: x.lossSum, nTokens: x.tokens });

/** Uniform random expert per example from a seed (a stream separate from the bootstrap's). */
export function randomChoices(n: number, K: number, seed: number): Int32Array {
  const rand = mulberry32((seed ^ 0x5eed0a11) >>> 0);
  return Int32Array.from({ length: n }, () => Math.min(K - 1, Math.floor(rand() * K)));
}

/** The analyzer tier of each example, read as the expert with the same index. */
export function tierChoices(test: PreparedExample[], K: number): Int32Array {
  return Int32Array.from(test, (p) => {
    if (!(Number.isInteger(p.tier) && p.tier >= 0 && p.tier < K)) {
      throw new LoraRouteError(`record ${p.record.index}: analyzer tier ${p.tier} has no expert (there are ${K}); model.complexity_thresholds must give num_experts tiers`);
    }
    return p.tier;
  });
}

/**
 * The oracle expert of each example: the lowest mean loss over its response tokens (ties: lowest index).
 * perExpert[k][i] is expert k's loss on example i; every expert scores the same tokens of an example.
 */
export function oracleChoices(perExpert: ExampleLoss[][]): Int32Array {
  const n = perExpert[0]?.length ?? 0;
  const mean = (x: ExampleLoss): number => (x.tokens > 0 ? x.lossSum / x.tokens : 0);
  return Int32Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let k = 1; k < perExpert.length; k++) if (mean(perExpert[k][i]) < mean(perExpert[best][i])) best = k;
    return best;
  });
}

/**
 * The loss of a one-expert-per-example policy, taken from the per-expert passes: in eval mode a row's loss
 * depends only on its own tokens and adapter, so this equals a routed pass (bit for bit on the reference
 * backend; to float32 rounding on the native one, whose BLAS kernels depend on matrix height) at no cost.
 */
export function assembleLosses(perExpert: ExampleLoss[][], choice: ArrayLike<number>): ExampleLoss[] {
  return Array.from({ length: choice.length }, (_, i) => perExpert[choice[i]][i]);
}

/** Router decisions on prepared examples, in batch (the same inputs `LoraRouteModel.route` builds). */
export function routeExamples(sys: LoraRouteModel, test: PreparedExample[], batchSize: number): { probs: Float32Array; choice: Int32Array; score: Float32Array | null } {
  const N = test.length;
  const pooled = sys.router.meta.pooledDim > 0
    ? pooledPromptStates(sys.model, test.map((p) => p.example), batchSize, sys.tokenizer.eosTokenId)
    : null;
  return sys.router.route(featureMatrix(test), pooled, N);
}

/** A scoring pass whose hook for each batch is chosen per example (looked up by the batch's examples). */
function scorePass(sys: LoraRouteModel, examples: Example[], batchSize: number, prepare: (eb: ExampleBatch) => LoraMixture | null): ExampleLoss[] {
  return scoreExamples(sys.model, examples, batchSize, sys.tokenizer.eosTokenId, prepare);
}

function timeIt<T>(f: () => T): { value: T; seconds: number } {
  const t0 = performance.now();
  const value = f();
  return { value, seconds: (performance.now() - t0) / 1000 };
}

/** Analyze + route latency of single prompts (ms), after a short warm-up. */
function measureLatency(sys: LoraRouteModel, test: PreparedExample[], samples: number): Record<string, LatencySummary> {
  const prompts = test.map((p) => ({ instruction: p.record.instruction, input: p.record.input }));
  for (let i = 0; i < Math.min(5, samples); i++) sys.route([prompts[i % prompts.length]]);
  const analyze: number[] = [];
  const full: number[] = [];
  for (let i = 0; i < samples; i++) {
    const p = prompts[i % prompts.length];
    let t0 = performance.now();
    sys.analyzer.analyze(p.instruction, p.input ?? '');
    analyze.push(performance.now() - t0);
    t0 = performance.now();
    sys.route([p]);
    full.push(performance.now() - t0);
  }
  return { analyze: latencySummary(analyze), 'analyze+route': latencySummary(full) };
}

/**
 * Evaluates a trained system on prepared test examples, language-model loss only (token-weighted over
 * response tokens), for the base model, the one-LoRA baseline, each expert alone, random / tier / learned /
 * oracle routing; paired-bootstrap intervals, routing accuracy against tier and oracle labels next to the
 * majority-class rate, confusion, usage, complexity MSE and analyze+route latency.
 *
 * Cost: K + 2 scoring passes (base, one LoRA, each expert), plus one when the learned router mixes top-k.
 * Random, tier, oracle and top-1 learned losses are assembled from the per-expert passes (exact).
 */
export function evaluateSystemDetailed(sys: LoraRouteModel, test: PreparedExample[], opts: EvaluateOptions): { report: EvalReport; details: EvalDetails } {
  const log = opts.log ?? (() => {});
  const N = test.length;
  const K = sys.experts.length;
  if (N === 0) throw new LoraRouteError('evaluation: no test examples (check data.test_subset / eval.subset and data.max_length)');
  if (opts.batchSize < 1) throw new LoraRouteError(`evaluation: batch size must be >= 1, got ${opts.batchSize}`);
  const examples = test.map((p) => p.example);
  const row = new Map<Example, number>(examples.map((e, i) => [e, i]));
  const pos = (eb: ExampleBatch): number[] => eb.examples.map((e) => row.get(e) as number);
  const passSeconds: Record<string, number> = {};
  const losses: Record<string, ExampleLoss[]> = {};
  const pass = (id: string, prepare: (eb: ExampleBatch) => LoraMixture | null): ExampleLoss[] => {
    const r = timeIt(() => scorePass(sys, examples, opts.batchSize, prepare));
    passSeconds[id] = r.seconds;
    log(`evaluate: ${id} scored ${N} examples in ${r.seconds.toFixed(1)} s`);
    return r.value;
  };

  // Router decisions first (cheap), so a mismatch surfaces before the long passes.
  const routed = routeExamples(sys, test, opts.batchSize);
  const topK = Math.max(1, Math.min(sys.config.generation.top_k_experts, K));
  let learnedGates: Float32Array | null = null;
  if (topK > 1) {
    const top = topKRenormalised(routed.probs, N, K, topK);
    learnedGates = new Float32Array(N * K);
    for (let i = 0; i < N; i++) for (let j = 0; j < topK; j++) learnedGates[i * K + top.experts[i * topK + j]] = top.weights[i * topK + j];
  }

  losses.base = pass('base', () => null);
  if (opts.baseline) {
    const one = new LoraMixture([opts.baseline], sys.model.backend);
    losses.one_lora = pass('one_lora', (eb) => { one.useOnly(0, eb.batch.B); return one; });
  }
  const perExpert: ExampleLoss[][] = [];
  for (let k = 0; k < K; k++) {
    perExpert.push(pass(`expert_${k}`, (eb) => { sys.mixture.useOnly(k, eb.batch.B); return sys.mixture; }));
    losses[`expert_${k}`] = perExpert[k];
  }
  const choices: Record<RoutingPolicy, Int32Array> = {
    random: randomChoices(N, K, opts.seed),
    tier: tierChoices(test, K),
    learned: routed.choice,
    oracle: oracleChoices(perExpert),
  };
  losses.random = assembleLosses(perExpert, choices.random);
  losses.tier = assembleLosses(perExpert, choices.tier);
  if (learnedGates) {
    const gates = learnedGates;
    losses.learned = pass('learned', (eb) => {
      const rows = pos(eb);
      const g = new Float32Array(rows.length * K);
      rows.forEach((i, b) => g.set(gates.subarray(i * K, (i + 1) * K), b * K));
      sys.mixture.setGates(g, rows.length);
      return sys.mixture;
    });
    losses.learned_top1 = assembleLosses(perExpert, choices.learned);
  } else {
    losses.learned = assembleLosses(perExpert, choices.learned);
  }
  losses.oracle = assembleLosses(perExpert, choices.oracle);

  const stat: Record<string, StatLoss[]> = Object.fromEntries(Object.entries(losses).map(([id, l]) => [id, l.map(toStat)]));
  const report: EvalReport = {
    version: 1,
    createdAt: new Date().toISOString(),
    split: { name: opts.split?.name ?? 'test', examples: N, tokens: 0 },
    experts: sys.expertNames,
    baselines: {},
    comparisons: [],
    routing: [],
    usage: {},
  };
  if (opts.split?.subsetSeed !== undefined) report.split.subsetSeed = opts.split.subsetSeed;
  if (opts.split?.note) report.split.note = opts.split.note;
  for (const [id, l] of Object.entries(stat)) report.baselines[id] = tokenWeightedLoss(l);
  report.split.tokens = report.baselines.base.tokens;
  if (topK > 1) report.baselines.learned.label = `learned router (top-${topK} mix)`;
  if (!opts.baseline) {
    report.missing = { one_lora: opts.baselineMissing ?? 'no one-LoRA baseline adapter was given' };
  }

  report.comparisons = comparisons(report, stat, opts);
  report.routing = routingEntries(choices, K);
  const usage: Record<string, UsageSummary> = {};
  for (const p of ['learned', 'tier', 'random', 'oracle'] as const) usage[p] = expertUsage(choices[p], K);
  report.usage = usage;
  report.complexityMse = routed.score ? meanSquaredError(routed.score, test.map((p) => p.score)) : null;
  const latencySamples = opts.latencySamples ?? 200;
  if (latencySamples > 0) report.latency = measureLatency(sys, test, latencySamples);
  report.notes = notesOf(sys, opts, topK, passSeconds);
  return { report, details: { losses: stat, choices, probs: routed.probs, learnedGates, passSeconds } };
}

/** evaluateSystemDetailed without the per-example details. */
export function evaluateSystem(sys: LoraRouteModel, test: PreparedExample[], opts: EvaluateOptions): EvalReport {
  return evaluateSystemDetailed(sys, test, opts).report;
}

/** The differences that matter, each as loss(a) − loss(b) with a paired-bootstrap interval. */
function comparisons(report: EvalReport, stat: Record<string, StatLoss[]>, opts: EvaluateOptions): ComparisonEntry[] {
  if (opts.bootstrapSamples <= 0) return [];
  const b = report.baselines;
  const experts = Object.keys(b).filter((id) => /^expert_\d+$/.test(id));
  const best = experts.reduce((x, y) => (b[y].loss < b[x].loss ? y : x));
  const pairs: Array<[string, string, string?]> = [
    ['learned', 'one_lora'],
    ['learned', 'random'],
    ['learned', 'tier'],
    ['learned', 'base'],
    ['learned', best, `learned router vs the best single expert (${report.experts[Number(best.slice(7))]})`],
    ['oracle', 'learned'],
  ];
  return pairs
    .filter(([x, y]) => stat[x] && stat[y])
    .map(([x, y, label]) => makeComparison(report, x, y, pairedBootstrap(stat[x], stat[y], { samples: opts.bootstrapSamples, seed: opts.seed }), label));
}

/** Routing accuracy (with majority rate and confusion) of the learned router vs tier and oracle, and of the tier rule vs oracle. */
function routingEntries(choices: Record<RoutingPolicy, Int32Array>, K: number): RoutingEntry[] {
  const entry = (policy: RoutingPolicy, target: 'tier' | 'oracle'): RoutingEntry => ({
    policy, target, ...accuracyVsMajority(choices[target], choices[policy], K), confusion: confusionMatrix(choices[target], choices[policy], K),
  });
  return [entry('learned', 'tier'), entry('learned', 'oracle'), entry('tier', 'oracle')];
}

function notesOf(sys: LoraRouteModel, opts: EvaluateOptions, topK: number, passSeconds: Record<string, number>): string[] {
  const notes = [
    `The oracle picks, per example, the expert with the lowest loss on that example's own response: a bound no router can reach from the instruction alone, not a policy.`,
    `Random, tier and oracle losses${topK === 1 ? ' and the learned router\'s' : ', and the learned router\'s top-1'} are assembled from the per-expert passes (eval mode: each row's loss depends only on its own adapter, so this equals a routed pass up to float32 rounding).`,
    topK > 1
      ? `learned = top-${topK} renormalised mix of the router's probabilities (generation.top_k_experts = ${topK}), scored in its own pass; learned_top1 = its top-1 choice.`
      : 'learned = the router\'s top-1 expert (generation.top_k_experts = 1).',
    `The router was trained on ${sys.router.meta.labelMode} labels${sys.router.meta.pooledDim > 0 ? ' and also sees the pooled base hidden state' : ''}; routing accuracy is scored against both tier and oracle labels.`,
    opts.bootstrapSamples > 0
      ? `Paired bootstrap: ${opts.bootstrapSamples} resamples of the test examples, seed ${opts.seed}; random routing seed ${opts.seed}.`
      : `No confidence intervals (bootstrap_samples = 0); random routing seed ${opts.seed}.`,
    `Scored on the ${sys.model.backend.name} backend, batch ${opts.batchSize}; ${Object.values(passSeconds).reduce((a, b) => a + b, 0).toFixed(1)} s of scoring passes.`,
  ];
  return [...notes, ...(opts.notes ?? [])];
}
