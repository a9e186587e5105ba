import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveModelDir, serializeConfig, type Config } from '../config/index.js';
import { ComplexityAnalyzer } from '../complexity/analyzer.js';
import { tierName } from '../complexity/tiers.js';
import { loadGPT2 } from '../model/load.js';
import { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import { LoraAdapter } from '../lora/adapter.js';
import { LoraMixture } from '../lora/mixture.js';
import { Router } from '../router/router.js';
import { FeatureNormalizer, concatRouterInput } from '../router/normalizer.js';
import { writeFileAtomic } from '../io/atomic.js';
import { MetricsLog } from '../train/metrics.js';
import { createProgress, type Progress } from '../train/progress.js';
import { checkMaxLength, checkOutDir, loraConfigOf, runConfig } from '../train/finetune.js';
import { LoraRouteError } from '../errors.js';
import type { RunContext } from './context.js';
import { loadRunData, prepareSplit } from './data.js';
import { featureMatrix, ROUTER_FEATURE_NAMES, type PreparedExample } from './prepared.js';
import { pooledPromptStates } from './pooled.js';
import { adapterLosses, crossFittedLabels, emRound, Interrupted, trainBaseline, trainExperts, trainJoint, trainRouter, trainShared } from './phases.js';
import { saveSystem, SHARED_DIR } from './saved.js';
import { fitClusters, nearestCluster, type Clusters } from './clusters.js';
import { chooseOnValidation, type Selection } from './selection.js';
import { describePolicy, policyOfConfig, type RoutingPolicy } from './policy.js';
import { oracleChoices } from './oracle.js';
import { makeBudget, saveBudget } from './budget.js';

export interface TrainSystemOptions {
  configPath?: string;
  sets?: string[];
  out: string;
  modelDir?: string;
  data?: string[];
  resume?: boolean;
  debug?: boolean;
  quiet?: boolean;
  signal?: { interrupted: boolean };
}

export interface TrainSystemResult {
  status: 'finished' | 'interrupted';
  out: string;
  bestModel: string;
  finalModel: string;
  bestValidationLoss: number | null;
  seconds: number;
}

/** In RUN/state once `train` has finished everything (written last): `train --resume` then leaves the run untouched. */
export const FINISHED_FILE = 'finished.json';

/** Expert names: tier names for complexity groups (simple / medium / complex for three), cluster0.. for clusters, expert0.. for EM groups. */
export function expertNames(K: number, assignment: Config['model']['expert_assignment'] = 'complexity'): string[] {
  const prefix = { complexity: null, cluster: 'cluster', oracle_em: 'expert' }[assignment];
  return Array.from({ length: K }, (_, k) => (prefix ? `${prefix}${k}` : tierName(k, K)));
}

function tierCounts(items: PreparedExample[], K: number): number[] {
  return countsOf(Int32Array.from(items, (p) => p.tier), K);
}

/**
 * `loraroute train`: the whole system on one shared frozen base — an optional warm start (one shared LoRA on
 * all data), phase 1 experts (each on its group: tier or cluster, branched from the shared LoRA when there is
 * one), phase 2 router (tier, group or cross-fitted oracle labels), the serving policy chosen on validation,
 * phase 3 joint, then the one-LoRA baseline at the same counted token budget — keeping RUN/best_model (best
 * validation LM loss of the routed system) and RUN/final_model. Every phase resumes from RUN/state with --resume.
 */
export async function trainSystem(o: TrainSystemOptions, progress: Progress = createProgress(process.stderr, o.quiet)): Promise<TrainSystemResult> {
  const t0 = Date.now();
  let config = runConfig(o);
  checkOutDir(o.out, join(o.out, 'state'), o.resume ?? false);
  const bestDir = join(o.out, 'best_model');
  const finalDir = join(o.out, 'final_model');
  const bestFile = join(o.out, 'state', 'best.json');
  const finishedFile = join(o.out, 'state', FINISHED_FILE);
  if (o.resume && existsSync(finishedFile)) {
    // a finished run is left as it is: nothing retrained, nothing rewritten (best_model, final_model, metrics)
    const done = JSON.parse(readFileSync(finishedFile, 'utf8')) as { best_val_loss: number | null };
    progress.log(`train: ${o.out} already finished (${finishedFile}); nothing to resume — best model in ${bestDir}`);
    return { status: 'finished', out: o.out, bestModel: bestDir, finalModel: finalDir, bestValidationLoss: done.best_val_loss, seconds: (Date.now() - t0) / 1000 };
  }
  const modelDir = o.modelDir ?? resolveModelDir(config);
  if (o.modelDir) config = { ...config, model: { ...config.model, base_model_name: o.modelDir } };
  const model = loadGPT2(modelDir, { backend: config.model.backend });
  checkMaxLength(config, model.config);
  const tokenizer = GPT2Tokenizer.fromDir(modelDir);
  const K = config.model.num_experts;
  const analyzer = new ComplexityAnalyzer({ thresholds: config.model.complexity_thresholds });
  progress.log(`model: ${modelDir} (${model.config.nLayer} layers, width ${model.config.nEmbd}) on the ${model.backend.name} backend`);

  const data = loadRunData(config, o.data);
  const train = prepareSplit(data, 'train', config, tokenizer, analyzer);
  const validation = prepareSplit(data, 'validation', config, tokenizer, analyzer);
  if (train.items.length === 0 || validation.items.length === 0) {
    throw new LoraRouteError(`not enough data in ${data.paths.join(', ')}: ${train.items.length} train and ${validation.items.length} validation examples`);
  }
  progress.log(
    `data: ${train.items.length} train / ${validation.items.length} validation examples; tiers (train) ${tierCounts(train.items, K).join(' / ')}, ` +
      `(validation) ${tierCounts(validation.items, K).join(' / ')}; ${train.stats.truncated} responses truncated at ${config.data.max_length} tokens`,
  );
  checkExpertsFillable(K, train.items.length);

  writeFileAtomic(join(o.out, 'config.yaml'), serializeConfig(config, o.out));
  const metrics = new MetricsLog(join(o.out, 'metrics.jsonl'));
  metrics.write({ event: 'start', train: train.items.length, validation: validation.items.length, tiers_train: tierCounts(train.items, K), resume: o.resume ?? false });

  const pad = tokenizer.eosTokenId;
  const cluster = config.model.expert_assignment !== 'complexity'; // EM starts from the clusters
  const pooled = config.model.router_use_hidden_state || cluster
    ? {
        train: pooledPromptStates(model, train.items.map((p) => p.example), config.eval.batch_size, pad),
        validation: pooledPromptStates(model, validation.items.map((p) => p.example), config.eval.batch_size, pad),
      }
    : null;
  const C = model.config.nEmbd;
  let clusters: Clusters | null = null;
  let groups: RunContext['groups'] = { train: Int32Array.from(train.items, (p) => p.tier), validation: Int32Array.from(validation.items, (p) => p.tier) };
  if (cluster && pooled) {
    const fit = fitClusters(pooled.train, train.items.length, C, K, config.training.seed);
    clusters = fit.clusters;
    groups = { train: fit.labels, validation: nearestCluster(fit.clusters, pooled.validation, validation.items.length) };
    progress.log(`groups: balanced k-means on pooled prompt states, sizes (train) ${countsOf(groups.train, K).join(' / ')}, (validation) ${countsOf(groups.validation, K).join(' / ')}`);
  }
  const names = expertNames(K, config.model.expert_assignment);
  const unfilled = emptyGroupsWarning(names, countsOf(groups.train, K), cluster ? 'clusters' : 'complexity tiers', config.training.shared_epochs > 0);
  if (unfilled) {
    metrics.write({ event: 'warning', message: unfilled });
    progress.warn(unfilled);
  }
  const loraCfg = loraConfigOf(config, config.model.base_model_name);
  const experts = names.map((name, k) => {
    const a = new LoraAdapter(loraCfg, model.config, name);
    a.initialize(config.training.seed + k);
    return a;
  });
  let shared: LoraAdapter | null = null;
  if (config.training.shared_epochs > 0) {
    shared = new LoraAdapter(loraCfg, model.config, SHARED_DIR);
    shared.initialize(config.training.seed + 1000);
  }
  const router = createRouter(config, train.items, config.model.router_use_hidden_state ? pooled?.train ?? null : null, C, names);
  const ctx: RunContext = {
    config, out: o.out, modelDir, model, tokenizer, analyzer, train: train.items, validation: validation.items, pooled, groups,
    experts, shared, mixture: new LoraMixture(shared ? [...experts, shared] : experts, model.backend), router, progress, metrics,
    resume: o.resume ?? false, signal: o.signal,
  };

  let bestVal: number | null = ctx.resume && existsSync(bestFile) ? (JSON.parse(readFileSync(bestFile, 'utf8')) as { loss: number }).loss : null;
  const served = (policy: RoutingPolicy): Config => ({ ...config, generation: { ...config.generation, ...policyConfig(policy) } });
  const keepIfBest = (val: number, phase: string, policy: RoutingPolicy, selection: Selection) => {
    metrics.write({ event: 'system_validation', phase, val_loss: val, policy });
    if (bestVal !== null && val >= bestVal) return;
    bestVal = val;
    saveSystem(bestDir, served(policy), experts, router, { shared, clusters, selection });
    writeFileAtomic(bestFile, JSON.stringify({ loss: val, phase }) + '\n');
    progress.log(`best model so far (${phase}, ${describePolicy(policy)}): validation loss ${val.toFixed(4)} → ${bestDir}`);
  };

  try {
    const sharedRun = shared ? await trainShared(ctx) : null;
    const emTokens = config.model.expert_assignment === 'oracle_em' ? await reassignByEm(ctx) : 0;
    const expertRuns = await trainExperts(ctx);
    const labels = await routerLabels(ctx);
    metrics.write({ event: 'router_labels', mode: config.training.router_label, ...labels.agreement });
    progress.log(`phase 2 labels (${config.training.router_label}): equal to the tier on ${pct(labels.agreement.train_equal_tier)} of train and ${pct(labels.agreement.validation_equal_tier)} of validation examples`);
    const r2 = await trainRouter(ctx, labels.train, labels.validation);
    metrics.write({ event: 'router', labels: config.training.router_label, train_accuracy: r2.trainAccuracy });
    const requested = config.generation.routing_policy === 'auto' ? 'auto' : policyOfConfig(config.generation, K);
    let selection = chooseOnValidation(ctx, requested);
    for (const cnd of selection.candidates) progress.log(`validation: ${cnd.label}: ${cnd.loss.toFixed(4)}`);
    progress.log(`validation: serving ${describePolicy(selection.policy)}`);
    metrics.write({ event: 'selection', policy: selection.policy, candidates: selection.candidates });
    keepIfBest(selection.candidates.find((cnd) => cnd.policy === selection.policy)?.loss ?? Infinity, 'router', selection.policy, selection);
    let jointTokens = 0;
    let finalPolicy = selection.policy;
    if (config.training.joint_epochs > 0) {
      const soft: RoutingPolicy = { kind: 'soft' };
      const joint = await trainJoint(ctx, (v) => keepIfBest(v, 'joint', soft, { ...selection, policy: soft }));
      jointTokens = joint.tokens;
      finalPolicy = soft;
      selection = { ...selection, policy: soft };
    }
    saveSystem(finalDir, served(finalPolicy), experts, router, { shared, clusters, selection });
    const phasesTokens = { shared: sharedRun?.tokens ?? 0, experts: expertRuns.map((r) => r.tokens), joint: jointTokens };
    let oneLora: { tokens: number; bestTokens: number | null } | null = null;
    if (config.training.baseline_lora) {
      const baseline = new LoraAdapter(loraCfg, model.config, 'one_lora');
      baseline.initialize(config.training.seed + 1000);
      const system = phasesTokens.experts.reduce((a, b) => a + b, 0) + phasesTokens.joint;
      const r = await trainBaseline(ctx, baseline, system);
      oneLora = { tokens: phasesTokens.shared + r.tokens, bestTokens: r.bestTokens === null ? null : phasesTokens.shared + r.bestTokens };
    }
    const budget = makeBudget(phasesTokens, labels.tokens + emTokens, oneLora);
    for (const d of [o.out, bestDir, finalDir]) saveBudget(d, budget);
    progress.log(`budget: system ${budget.system_tokens} loss tokens${oneLora ? `, one LoRA ${oneLora.tokens} (mismatch ${pct(budget.mismatch ?? 0)})` : ''}, labelling ${budget.labelling_tokens}`);
    metrics.write({ event: 'budget', ...budget });
  } catch (e) {
    if (e instanceof Interrupted) {
      progress.stop();
      progress.log(`train: interrupted; run again with --resume --out ${o.out} to continue`);
      return { status: 'interrupted', out: o.out, bestModel: bestDir, finalModel: finalDir, bestValidationLoss: bestVal, seconds: (Date.now() - t0) / 1000 };
    }
    throw e;
  }
  metrics.write({ event: 'end', best_val_loss: bestVal, seconds: (Date.now() - t0) / 1000 });
  // written last: a run killed before this point redoes its tail on --resume; one that has it is never touched again
  writeFileAtomic(finishedFile, JSON.stringify({ best_val_loss: bestVal, finished: new Date().toISOString() }) + '\n');
  return { status: 'finished', out: o.out, bestModel: bestDir, finalModel: finalDir, bestValidationLoss: bestVal, seconds: (Date.now() - t0) / 1000 };
}

/** `oracle_em`: the configured rounds of cross-fitted reassignment; the groups change in place. Returns the copies' tokens. */
async function reassignByEm(ctx: RunContext): Promise<number> {
  const K = ctx.experts.length;
  let tokens = 0;
  for (let r = 0; r < ctx.config.training.em_rounds; r++) {
    const before = ctx.groups.train;
    const round = await emRound(ctx, r);
    ctx.groups = round.groups;
    tokens += round.tokens;
    const moved = before.filter((g, i) => g !== round.groups.train[i]).length;
    ctx.progress.log(`EM round ${r + 1}: ${pct(moved / Math.max(1, before.length))} of training examples moved; sizes (train) ${countsOf(ctx.groups.train, K).join(' / ')}, (validation) ${countsOf(ctx.groups.validation, K).join(' / ')}`);
    ctx.metrics.write({ event: 'em_round', round: r, moved, train_sizes: countsOf(ctx.groups.train, K), validation_sizes: countsOf(ctx.groups.validation, K), tokens: round.tokens });
  }
  return tokens;
}

/**
 * Refuses, before any training, a run whose training split cannot give every expert a single example
 * (model.num_experts above the number of training examples): such experts could never train, and the
 * clustering could not even place them.
 */
export function checkExpertsFillable(numExperts: number, trainExamples: number): void {
  if (trainExamples >= numExperts) return;
  throw new LoraRouteError(
    `model.num_experts = ${numExperts}, but the training split has only ${trainExamples} example${trainExamples === 1 ? '' : 's'}: ` +
      `every expert needs at least one to train on; set model.num_experts to at most ${trainExamples} or use more training data (data.train_subset, data.paths)`,
    'E_CONFIG',
  );
}

/**
 * The warning for experts whose group holds no training example (complexity tiers the data does not reach):
 * they stay at their branch point or initialisation through phase 1. Null when every expert has data.
 */
export function emptyGroupsWarning(names: string[], counts: number[], what: string, warmStart: boolean): string | null {
  const empty = names.filter((_, k) => counts[k] === 0);
  if (empty.length === 0) return null;
  return (
    `model.num_experts = ${names.length}, but the ${what} of the training split hold ${counts.join(' / ')} examples: ` +
    `no training examples for ${empty.join(', ')}, so phase 1 leaves ${empty.length === 1 ? 'it' : 'them'} at ${warmStart ? 'the shared LoRA' : 'initialisation (= the base model)'}; ` +
    'lower model.num_experts, adjust model.complexity_thresholds, or use model.expert_assignment=cluster'
  );
}

const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;

function countsOf(labels: Int32Array, K: number): number[] {
  const n = new Array<number>(K).fill(0);
  for (const k of labels) n[k]++;
  return n;
}

/** The generation keys that make a config serve `policy`. */
function policyConfig(p: RoutingPolicy): Partial<Config['generation']> {
  if (p.kind === 'fallback') return { routing_policy: 'fallback', fallback_threshold: p.tau ?? 0 };
  if (p.kind === 'topk') return { routing_policy: 'topk', top_k_experts: p.k ?? 1 };
  return { routing_policy: p.kind };
}

/** Share of labels equal to the tier, on each split: far apart when labels leak (experts scoring their own training data). */
function agreement(train: Int32Array, validation: Int32Array, ctx: RunContext): { train_equal_tier: number; validation_equal_tier: number } {
  const share = (l: Int32Array, items: PreparedExample[]) => (items.length ? items.filter((p, i) => p.tier === l[i]).length / items.length : 0);
  return { train_equal_tier: share(train, ctx.train), validation_equal_tier: share(validation, ctx.validation) };
}

/** Phase-2 targets per config: tiers, groups, or cross-fitted oracle labels (train) and the experts' own oracle on validation. */
async function routerLabels(ctx: RunContext): Promise<{ train: Int32Array; validation: Int32Array; tokens: number; agreement: ReturnType<typeof agreement> }> {
  const mode = ctx.config.training.router_label;
  let train: Int32Array, validation: Int32Array, tokens = 0;
  if (mode === 'tier') {
    train = Int32Array.from(ctx.train, (p) => p.tier);
    validation = Int32Array.from(ctx.validation, (p) => p.tier);
  } else if (mode === 'group') {
    train = ctx.groups.train;
    validation = ctx.groups.validation;
  } else {
    const cf = await crossFittedLabels(ctx);
    train = cf.labels;
    tokens = cf.tokens;
    // the shipped experts never trained on validation: their own oracle is a clean label there
    validation = oracleChoices(adapterLosses(ctx, ctx.mixture, ctx.validation.map((p) => p.example), ctx.experts.map((_, k) => k)));
  }
  return { train, validation, tokens, agreement: agreement(train, validation, ctx) };
}

/** A fresh router whose input normaliser is fitted on the training inputs. */
function createRouter(config: Config, train: PreparedExample[], pooled: Float32Array | null, C: number, names: string[]): Router {
  const F = ROUTER_FEATURE_NAMES.length;
  const H = pooled ? C : 0;
  const x = concatRouterInput(featureMatrix(train), F, pooled, H, train.length);
  return Router.create({
    featureNames: [...ROUTER_FEATURE_NAMES], pooledDim: H, labelMode: config.training.router_label, numExperts: names.length,
    hiddenDim: config.model.router_hidden_dim, dropout: config.model.router_dropout, scoreHead: config.training.score_regression_weight > 0,
    normalizer: FeatureNormalizer.fit(x, train.length, F + H), expertNames: names,
  }, config.training.seed);
}
