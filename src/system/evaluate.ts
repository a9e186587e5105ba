import { LoraRouteError } from '../errors.js';
import { makeComparison, type ComparisonEntry, type EvalReport, type RoutingEntry } from '../eval/report.js';
import {
  accuracyVsMajority, confusionMatrix, expertUsage, latencySummary, meanSquaredError, mulberry32, pairedBootstrap,
  tokenWeightedLoss, type ExampleLoss as StatLoss, type LatencySummary, type UsageSummary,
} from '../eval/stats.js';
import type { LoraAdapter } from '../lora/adapter.js';
import { LoraMixture } from '../lora/mixture.js';
import { argmaxRows } from '../router/loss.js';
import type { ExampleBatch } from '../train/batches.js';
import type { Example } from '../train/examples.js';
import { scoreExamples, type ExampleLoss } from '../train/score.js';
import { pooledPromptStates } from './pooled.js';
import { featureMatrix, type PreparedExample } from './prepared.js';
import type { LoraRouteModel } from './routed-model.js';
import { assembleLosses, oracleChoices } from './oracle.js';
import { describePolicy, hardChoices, isHard, policyGates, topProbability } from './policy.js';
import { nearestCluster } from './clusters.js';
import { averageGapRecovered, gapRecovered, routingCurve } from './routing-curve.js';
import type { Budget } from './budget.js';

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
  /** The training budget of the system and the baseline (from the model folder), carried into the report. */
  budget?: Budget | null;
}

/** The routing rules whose choices are one expert per example (learned = the router's top-1). */
export type ChoiceRule = 'random' | 'tier' | 'learned' | 'oracle';

/** Everything per example behind the report (test order), for checks and further analysis. */
export interface EvalDetails {
  /** Per-example LM loss of every baseline in the report. */
  losses: Record<string, StatLoss[]>;
  /** The expert each policy picked per example (learned = the router's top-1). */
  choices: Record<ChoiceRule, Int32Array> & { cluster?: Int32Array };
  /** Router probabilities [N, K]. */
  probs: Float32Array;
  /** Gates [N, W] of the served policy when it is not plain top-1 (W = K, + 1 for the shared LoRA), else null. */
  learnedGates: Float32Array | null;
  /** Seconds per scoring pass, by baseline id. */
  passSeconds: Record<string, number>;
}

const toStat = (x: ExampleLoss): StatLoss => ({ lossSum: x.lossSum, tokens: x.tokens });

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
 * response tokens), for the base model, the one-LoRA baseline, the shared warm-start LoRA, each expert alone,
 * random / tier / cluster / learned / oracle routing; paired-bootstrap intervals, routing curves (share sent to
 * experts against loss, with the shared LoRA as fallback), the share of the one-LoRA → oracle gap recovered,
 * routing accuracy against tier and oracle labels next to the majority-class rate, confusion, usage, budget,
 * complexity MSE and analyze+route latency. Nothing here is chosen on the test split: the best single expert
 * comes from the model's validation selection.
 *
 * Cost: one scoring pass per adapter (experts, shared) plus base and one LoRA, and one more per mixing policy.
 * Hard policies (random, tier, cluster, top-1, fallback, oracle) are assembled from the per-adapter passes (exact).
 */
export function evaluateSystemDetailed(sys: LoraRouteModel, test: PreparedExample[], opts: EvaluateOptions): { report: EvalReport; details: EvalDetails } {
  const log = opts.log ?? (() => {});
  const N = test.length;
  const K = sys.experts.length;
  const W = sys.mixture.K;
  const hasShared = W > K;
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
  const gatedPass = (id: string, gates: Float32Array): ExampleLoss[] => pass(id, (eb) => {
    const rows = pos(eb);
    const g = new Float32Array(rows.length * W);
    rows.forEach((i, b) => g.set(gates.subarray(i * W, (i + 1) * W), b * W));
    sys.mixture.setGates(g, rows.length);
    return sys.mixture;
  });

  // Router decisions first (cheap), so a mismatch surfaces before the long passes.
  const routed = routeExamples(sys, test, opts.batchSize);
  const policy = sys.policy;
  const top1 = argmaxRows(routed.probs, N, K);

  losses.base = pass('base', () => null);
  if (opts.baseline) {
    const one = new LoraMixture([opts.baseline], sys.model.backend);
    losses.one_lora = pass('one_lora', (eb) => { one.useOnly(0, eb.batch.B); return one; });
  }
  const perAdapter: ExampleLoss[][] = [];
  for (let k = 0; k < W; k++) {
    const id = k < K ? `expert_${k}` : 'shared';
    perAdapter.push(pass(id, (eb) => { sys.mixture.useOnly(k, eb.batch.B); return sys.mixture; }));
    losses[id] = perAdapter[k];
  }
  const perExpert = perAdapter.slice(0, K);
  const choices: EvalDetails['choices'] = {
    random: randomChoices(N, K, opts.seed),
    tier: tierChoices(test, K),
    learned: top1,
    oracle: oracleChoices(perExpert),
  };
  losses.random = assembleLosses(perExpert, choices.random);
  losses.tier = assembleLosses(perExpert, choices.tier);
  const clusters = sys.parts.clusters ?? null;
  if (clusters) {
    const pooled = pooledPromptStates(sys.model, examples, opts.batchSize, sys.tokenizer.eosTokenId);
    choices.cluster = nearestCluster(clusters, pooled, N);
    losses.cluster = assembleLosses(perExpert, choices.cluster);
  }
  let learnedGates: Float32Array | null = null;
  if (policy.kind === 'top1') {
    losses.learned = assembleLosses(perExpert, top1);
  } else if (isHard(policy)) {
    learnedGates = policyGates(routed.probs, N, K, policy, hasShared);
    losses.learned = assembleLosses(perAdapter, hardChoices(routed.probs, N, K, policy));
  } else {
    learnedGates = policyGates(routed.probs, N, K, policy, hasShared);
    losses.learned = gatedPass('learned', learnedGates);
  }
  if (policy.kind !== 'top1') losses.learned_top1 = assembleLosses(perExpert, top1);
  if (policy.kind !== 'soft' && K > 1) losses.learned_soft = gatedPass('learned_soft', policyGates(routed.probs, N, K, { kind: 'soft' }, hasShared));
  losses.oracle = assembleLosses(perExpert, choices.oracle);

  const stat: Record<string, StatLoss[]> = Object.fromEntries(Object.entries(losses).map(([id, l]) => [id, l.map(toStat)]));
  const report: EvalReport = {
    version: 1,
    createdAt: new Date().toISOString(),
    split: { name: opts.split?.name ?? 'test', examples: N, tokens: 0 },
    experts: sys.expertNames,
    policy: describePolicy(policy),
    baselines: {},
    comparisons: [],
    routing: [],
    usage: {},
  };
  if (opts.split?.subsetSeed !== undefined) report.split.subsetSeed = opts.split.subsetSeed;
  if (opts.split?.note) report.split.note = opts.split.note;
  for (const [id, l] of Object.entries(stat)) report.baselines[id] = tokenWeightedLoss(l);
  report.split.tokens = report.baselines.base.tokens;
  report.baselines.learned.label = `learned router (${describePolicy(policy)})`;
  if (!opts.baseline) {
    report.missing = { one_lora: opts.baselineMissing ?? 'no one-LoRA baseline adapter was given' };
  }
  if (opts.budget) report.budget = opts.budget;
  const selection = sys.parts.selection ?? null;
  report.comparisons = comparisons(report, stat, opts, selection?.bestSingleExpert ?? null);
  if (hasShared) {
    const thresholds = sys.config.model.complexity_thresholds;
    const tierMargin = Float32Array.from(test, (p) => Math.min(...thresholds.map((t) => Math.abs(p.score - t))));
    const rand = mulberry32((opts.seed ^ 0x0c0ffee) >>> 0);
    report.curves = {
      learned: routingCurve(perExpert, perAdapter[K], top1, topProbability(routed.probs, N, K)),
      tier: routingCurve(perExpert, perAdapter[K], choices.tier, tierMargin),
      random: routingCurve(perExpert, perAdapter[K], choices.random, Float32Array.from({ length: N }, () => rand())),
    };
  }
  const b = report.baselines;
  if (b.one_lora) {
    const weak = b.one_lora.loss, oracle = b.oracle.loss;
    report.gapRecovered = { learned: gapRecovered(b.learned.loss, weak, oracle) };
    for (const [name, pts] of Object.entries(report.curves ?? {})) report.gapRecovered[`${name}_curve_average`] = averageGapRecovered(pts, weak, oracle);
  }
  report.routing = routingEntries(choices, K);
  const usage: Record<string, UsageSummary> = {};
  for (const p of ['learned', 'tier', 'random', 'oracle'] as const) usage[p] = expertUsage(choices[p], K);
  if (choices.cluster) usage.cluster = expertUsage(choices.cluster, K);
  report.usage = usage;
  report.complexityMse = routed.score ? meanSquaredError(routed.score, test.map((p) => p.score)) : null;
  const latencySamples = opts.latencySamples ?? 200;
  if (latencySamples > 0) report.latency = measureLatency(sys, test, latencySamples);
  report.notes = notesOf(sys, opts, passSeconds, selection !== null);
  return { report, details: { losses: stat, choices, probs: routed.probs, learnedGates, passSeconds } };
}

/** evaluateSystemDetailed without the per-example details. */
export function evaluateSystem(sys: LoraRouteModel, test: PreparedExample[], opts: EvaluateOptions): EvalReport {
  return evaluateSystemDetailed(sys, test, opts).report;
}

/** The differences that matter, each as loss(a) − loss(b) with a paired-bootstrap interval. */
function comparisons(report: EvalReport, stat: Record<string, StatLoss[]>, opts: EvaluateOptions, bestExpert: number | null): ComparisonEntry[] {
  if (opts.bootstrapSamples <= 0) return [];
  const pairs: Array<[string, string, string?]> = [
    ['learned', 'one_lora'],
    ['learned', 'random'],
    ['learned', 'tier'],
    ['learned', 'cluster'],
    ['learned', 'shared'],
    ['learned', 'base'],
  ];
  // the best single expert is the one with the lowest *validation* loss (never chosen on this split)
  if (bestExpert !== null) pairs.push(['learned', `expert_${bestExpert}`, `learned router vs the best single expert on validation (${report.experts[bestExpert]})`]);
  pairs.push(['oracle', 'learned']);
  return pairs
    .filter(([x, y]) => stat[x] && stat[y])
    .map(([x, y, label]) => makeComparison(report, x, y, pairedBootstrap(stat[x], stat[y], { samples: opts.bootstrapSamples, seed: opts.seed }), label));
}

/** Routing accuracy (with majority rate and confusion) of the learned router vs tier and oracle, and of the tier rule vs oracle. */
function routingEntries(choices: Record<ChoiceRule, Int32Array>, K: number): RoutingEntry[] {
  const entry = (policy: ChoiceRule, target: 'tier' | 'oracle'): RoutingEntry => ({
    policy, target, ...accuracyVsMajority(choices[target], choices[policy], K), confusion: confusionMatrix(choices[target], choices[policy], K),
  });
  return [entry('learned', 'tier'), entry('learned', 'oracle'), entry('tier', 'oracle')];
}

function notesOf(sys: LoraRouteModel, opts: EvaluateOptions, passSeconds: Record<string, number>, hasSelection: boolean): string[] {
  const notes = [
    `The oracle picks, per example, the expert with the lowest loss on that example's own response: a bound no router can reach from the instruction alone, not a policy.`,
    `learned = the served policy: ${describePolicy(sys.policy)}${sys.config.generation.routing_policy === 'auto' ? '' : ' (generation.routing_policy in the model\'s config, chosen on validation when training ran with auto)'}; learned_top1 and learned_soft are the same router's other policies, for the ablation.`,
    `Random, tier, cluster, oracle and every single-adapter policy are assembled from the per-adapter passes (eval mode: each row's loss depends only on its own adapter, so this equals a routed pass up to float32 rounding).`,
    `The router was trained on ${sys.router.meta.labelMode} labels${sys.router.meta.pooledDim > 0 ? ' and also sees the pooled base hidden state' : ''}; routing accuracy is scored against both tier and oracle labels.`,
    hasSelection ? 'The best single expert is the one with the lowest validation loss (selection.json); the test split chose nothing.' : 'This model folder has no selection.json, so no best single expert is named (choosing it on the test split would be a leak).',
    opts.bootstrapSamples > 0
      ? `Paired bootstrap: ${opts.bootstrapSamples} resamples of the test examples, seed ${opts.seed}; random routing seed ${opts.seed}.`
      : `No confidence intervals (bootstrap_samples = 0); random routing seed ${opts.seed}.`,
    `Scored on the ${sys.model.backend.name} backend, batch ${opts.batchSize}; ${Object.values(passSeconds).reduce((a, b) => a + b, 0).toFixed(1)} s of scoring passes.`,
  ];
  return [...notes, ...(opts.notes ?? [])];
}
