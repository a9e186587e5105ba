import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPeftAdapter, savePeftAdapter } from '../lora/peft.js';
import { LoraAdapter } from '../lora/adapter.js';
import { LoraMixture } from '../lora/mixture.js';
import { SharedA } from '../lora/shared-a.js';
import { saveRouter, loadRouter } from '../router/io.js';
import { argmaxRows, loadBalanceLoss, routerLoss, softmaxBackward } from '../router/loss.js';
import { collate } from '../train/batches.js';
import { adapterTask, batchLossTokens } from '../train/adapter-task.js';
import { loopOptionsOf, loraConfigOf } from '../train/finetune.js';
import { runTraining, type LoopOptions, type LoopResult, type TrainingTask } from '../train/loop.js';
import { meanLoss, scoreExamples, type ExampleLoss } from '../train/score.js';
import { lossTokens, type Example } from '../train/examples.js';
import { writeFileAtomic } from '../io/atomic.js';
import { replaceDirAtomic } from '../io/atomic-dir.js';
import { gatherRows, type RunContext } from './context.js';
import { featureMatrix } from './prepared.js';
import { balancedOracleChoices, oracleChoices } from './oracle.js';
import { policyGates, type RoutingPolicy } from './policy.js';

const stateDir = (ctx: RunContext, name: string) => join(ctx.out, 'state', name);

/** Interrupted runs stop the pipeline; the caller reports it. */
export class Interrupted extends Error {}

function finishedOrThrow(r: LoopResult): LoopResult {
  if (r.status === 'interrupted') throw new Interrupted('interrupted');
  return r;
}

/** Copies the best parameters a run saved (PEFT folder) back into the adapter. */
function restoreBest(adapter: LoraAdapter, dir: string, ctx: RunContext): void {
  if (!existsSync(join(dir, 'adapter_model.safetensors'))) return;
  adapter.params.set(loadPeftAdapter(dir, ctx.model.config, adapter.name).params);
}

function loopOptions(ctx: RunContext, name: string, peak: number, epochs: number): LoopOptions {
  return loopOptionsOf(ctx.config, peak, epochs, {
    backend: ctx.model.backend, stateDir: stateDir(ctx, name), resume: ctx.resume, metrics: ctx.metrics, progress: ctx.progress, signal: ctx.signal,
  });
}

/** Peak rate of a run that continues from the shared LoRA (experts, their copies, the baseline's continuation), else of a cold start. */
function branchRate(ctx: RunContext): number {
  const t = ctx.config.training;
  return ctx.shared && t.branch_learning_rate > 0 ? t.branch_learning_rate : t.learning_rate;
}

/**
 * Trains adapter `k` of `mixture` on `train`, validating on `val`, keeping its best checkpoint in `bestDir`
 * (restored into the adapter at the end). A warm-started adapter is validated before its first step, so
 * "no extra steps" is a candidate checkpoint too.
 */
async function trainOne(
  ctx: RunContext, run: string, mixture: LoraMixture, k: number, train: Example[], val: Example[], bestDir: string,
  opts: LoopOptions,
): Promise<LoopResult> {
  const adapter = mixture.adapters[k];
  const task = adapterTask(run, ctx.model, mixture, k, train, val, {
    evalBatchSize: ctx.config.eval.batch_size, padId: ctx.tokenizer.eosTokenId, onBest: () => replaceDirAtomic(bestDir, (d) => savePeftAdapter(adapter, d)),
  });
  const r = finishedOrThrow(await runTraining(task, opts));
  restoreBest(adapter, bestDir, ctx);
  return r;
}

/** Warm start: one shared LoRA on all training data (validated on all of validation). */
export async function trainShared(ctx: RunContext): Promise<LoopResult> {
  const c = ctx.config;
  const shared = ctx.shared as LoraAdapter;
  const k = ctx.mixture.adapters.indexOf(shared);
  ctx.progress.log(`warm start: shared LoRA on all ${ctx.train.length} training examples, ${c.training.shared_epochs} epoch(s)`);
  return trainOne(ctx, 'shared', ctx.mixture, k, ctx.train.map((p) => p.example), ctx.validation.map((p) => p.example),
    join(ctx.out, 'shared_lora'), loopOptions(ctx, 'shared', c.training.learning_rate, c.training.shared_epochs));
}

/** The training (and validation) examples of group k; validation falls back to all of it when the group has none. */
function groupExamples(ctx: RunContext, k: number): { train: Example[]; val: Example[] } {
  const train = ctx.train.filter((_, i) => ctx.groups.train[i] === k).map((p) => p.example);
  let val = ctx.validation.filter((_, i) => ctx.groups.validation[i] === k).map((p) => p.example);
  if (val.length === 0) val = ctx.validation.map((p) => p.example);
  return { train, val };
}

/**
 * Phase 1: expert k trains on the training examples of group k (validated on group k of the validation
 * split). With a warm start each expert starts as a copy of the shared LoRA (branch–train–mix).
 */
export async function trainExperts(ctx: RunContext): Promise<LoopResult[]> {
  const c = ctx.config;
  const results: LoopResult[] = [];
  for (let k = 0; k < ctx.experts.length; k++) {
    const expert = ctx.experts[k];
    const { train, val } = groupExamples(ctx, k);
    if (ctx.shared) expert.params.set(ctx.shared.params);
    if (c.training.num_epochs === 0) {
      ctx.progress.log(`phase 1: skipped (num_epochs 0); expert ${expert.name} stays at its ${ctx.shared ? 'branch point (the shared LoRA)' : 'initialisation'} until phase 3`);
      results.push({ status: 'finished', steps: 0, bestValLoss: null, lastTrainLoss: null, tokens: 0, bestTokens: null, seconds: 0 });
      continue;
    }
    if (train.length === 0) {
      ctx.progress.log(`phase 1: no training examples in group ${k} (${expert.name}); the expert stays at its ${ctx.shared ? 'branch point' : 'initialisation (= the base model)'}`);
      results.push({ status: 'finished', steps: 0, bestValLoss: null, lastTrainLoss: null, tokens: 0, bestTokens: null, seconds: 0 });
      continue;
    }
    ctx.progress.log(`phase 1: expert ${expert.name} on ${train.length} group-${k} examples (${val.length} validation)${ctx.shared ? ', branched from the shared LoRA' : ''}`);
    const opts = loopOptions(ctx, `expert-${expert.name}`, branchRate(ctx), c.training.num_epochs);
    opts.validateAtStart = ctx.shared !== null;
    results.push(await trainOne(ctx, `expert-${expert.name}`, ctx.mixture, k, train, val, join(ctx.out, 'phase1', expert.name), opts));
  }
  return results;
}

/**
 * The one-LoRA baseline at a matched budget: one adapter on all training data until it has consumed
 * `tokens` loss tokens (the system's count less the shared phase it continues from), keeping its best
 * validation checkpoint. With a warm start it is the shared LoRA continued, and "no extra steps" is a candidate.
 */
export async function trainBaseline(ctx: RunContext, baseline: LoraAdapter, tokens: number): Promise<LoopResult> {
  const c = ctx.config;
  const mix = new LoraMixture([baseline], ctx.model.backend);
  if (ctx.shared) baseline.params.set(ctx.shared.params);
  const train = ctx.train.map((p) => p.example);
  const perEpoch = train.reduce((n, e) => n + lossTokens(e), 0);
  const epochsNeeded = perEpoch > 0 ? tokens / perEpoch : 0;
  const opts = loopOptions(ctx, 'one-lora', branchRate(ctx), Math.max(1, Math.ceil(epochsNeeded - 1e-9)));
  opts.maxSteps = 0;
  opts.maxTokens = Math.max(1, tokens);
  const stepsPerEpoch = Math.ceil(Math.ceil(train.length / c.training.batch_size) / c.training.gradient_accumulation_steps);
  opts.scheduleSteps = Math.max(1, Math.round(epochsNeeded * stepsPerEpoch));
  opts.validateAtStart = ctx.shared !== null;
  ctx.progress.log(`baseline: one LoRA on all ${train.length} training examples for ${tokens} loss tokens (${epochsNeeded.toFixed(2)} epochs)${ctx.shared ? ', continuing the shared LoRA' : ''}`);
  return trainOne(ctx, 'one-lora', mix, 0, train, ctx.validation.map((p) => p.example), join(ctx.out, 'baseline_lora'), opts);
}

/** Per-example LM loss of each adapter of a mixture alone: [A][N] (eval mode). */
export function adapterLosses(ctx: RunContext, mixture: LoraMixture, examples: Example[], which = mixture.adapters.map((_, k) => k)): ExampleLoss[][] {
  return which.map((k) => scoreExamples(ctx.model, examples, ctx.config.eval.batch_size, ctx.tokenizer.eosTokenId, (eb) => {
    mixture.useOnly(k, eb.batch.B);
    return mixture;
  }));
}

/** Where a cross-fitting run keeps its copies, their state and its result (resumable). */
interface CrossFitPlace {
  /** The result file (labels, folds, tokens). */
  file: string;
  /** Run name of the fold-f copy of an expert (its state folder and log name). */
  run: (f: number, expert: string) => string;
  /** Best-checkpoint folder of that copy. */
  dir: (f: number, expert: string) => string;
}

interface CrossFit {
  /** A label per training example. */
  train: Int32Array;
  /** A label per validation example (the fold copies' mean loss), when asked for. */
  validation: Int32Array | null;
  /** Loss tokens spent training the copies. */
  tokens: number;
}

/**
 * Cross-fitted labels of the training split: the split is cut into F folds; for each fold, copies of every
 * expert (branched like the experts, from the shared LoRA or a fresh start) train on their current group
 * *outside* the fold, then score the fold's examples. No example is labelled by an adapter that trained on it.
 * `assign` turns the scores into labels: `oracle` = the lowest-loss copy; `balanced` = the lowest loss relative
 * to the example's mean over copies, every expert holding at most ceil(N / K) examples (EM reassignment, where
 * a plain argmin would hand most examples to whichever copy is best overall).
 */
async function crossFit(ctx: RunContext, place: CrossFitPlace, assign: 'oracle' | 'balanced', withValidation: boolean): Promise<CrossFit> {
  const c = ctx.config;
  const F = c.training.crossfit_folds;
  const K = ctx.experts.length;
  const N = ctx.train.length;
  const fold = Int32Array.from({ length: N }, (_, i) => foldOf(ctx.train[i].example.index, F));
  if (ctx.resume && existsSync(place.file)) {
    const saved = JSON.parse(readFileSync(place.file, 'utf8')) as { index: number[]; label: number[]; validation?: number[]; tokens: number };
    if (saved.index.length === N && saved.index.every((v, i) => v === ctx.train[i].example.index) && (!withValidation || saved.validation?.length === ctx.validation.length)) {
      return { train: Int32Array.from(saved.label), validation: saved.validation ? Int32Array.from(saved.validation) : null, tokens: saved.tokens };
    }
  }
  const trainLoss: ExampleLoss[][] = Array.from({ length: K }, () => new Array<ExampleLoss>(N)); // [K][N]: each from its fold's copy
  const valExamples = ctx.validation.map((p) => p.example);
  const valLoss: ExampleLoss[][] = Array.from({ length: K }, () => valExamples.map((e) => ({ index: e.index, lossSum: 0, tokens: 0 }))); // [K][Nv]: summed over folds
  let tokens = 0;
  const loraCfg = loraConfigOf(c, c.model.base_model_name);
  const sets = crossFitSets(ctx.groups.train, fold, F, K);
  for (let f = 0; f < F; f++) {
    const copies = ctx.experts.map((e, k) => {
      const a = new LoraAdapter(loraCfg, ctx.model.config, `${e.name}-fold${f}`);
      a.initialize(c.training.seed + 100 * (f + 1) + k);
      if (ctx.shared) a.params.set(ctx.shared.params);
      return a;
    });
    const mix = new LoraMixture(copies, ctx.model.backend);
    for (let k = 0; k < K; k++) {
      const train = sets.train[f][k].map((i) => ctx.train[i].example);
      const { val } = groupExamples(ctx, k);
      if (train.length === 0) continue;
      const name = ctx.experts[k].name;
      ctx.progress.log(`cross-fitting: fold ${f + 1}/${F}, copy of ${name} on ${train.length} examples outside the fold`);
      const opts = loopOptions(ctx, place.run(f, name), branchRate(ctx), Math.max(1, c.training.num_epochs));
      opts.validateAtStart = ctx.shared !== null;
      const r = await trainOne(ctx, place.run(f, name), mix, k, train, val, place.dir(f, name), opts);
      tokens += r.tokens;
    }
    const rows = sets.labelled[f];
    const scores = adapterLosses(ctx, mix, rows.map((i) => ctx.train[i].example));
    rows.forEach((i, j) => { for (let k = 0; k < K; k++) trainLoss[k][i] = scores[k][j]; });
    if (withValidation) {
      adapterLosses(ctx, mix, valExamples).forEach((byExample, k) => byExample.forEach((x, i) => {
        valLoss[k][i].lossSum += x.lossSum / F;
        valLoss[k][i].tokens = x.tokens;
      }));
    }
  }
  const choose = assign === 'oracle' ? oracleChoices : balancedOracleChoices;
  const labels = choose(trainLoss);
  const validation = withValidation ? choose(valLoss) : null;
  writeFileAtomic(place.file, JSON.stringify({
    index: ctx.train.map((p) => p.example.index), label: Array.from(labels), fold: Array.from(fold), tokens, ...(validation ? { validation: Array.from(validation) } : {}),
  }));
  return { train: labels, validation, tokens };
}

/**
 * Cross-fitted oracle labels of the training split for the router (`router_label: oracle`): fold copies of the
 * experts trained on their groups outside each fold label the fold with the lowest-loss copy.
 */
export async function crossFittedLabels(ctx: RunContext): Promise<{ labels: Int32Array; tokens: number }> {
  const r = await crossFit(ctx, {
    file: join(ctx.out, 'phase2', 'oracle_train.json'),
    run: (f, name) => `crossfit-${f}-${name}`,
    dir: (f, name) => join(ctx.out, 'crossfit', `fold${f}`, name),
  }, 'oracle', false);
  return { labels: r.train, tokens: r.tokens };
}

/**
 * One round of `oracle_em`: every training example moves to the expert whose cross-fitted copy fits it best
 * (balanced), every validation example to the one whose copies fit it best on average. Returns the new groups
 * and the copies' tokens (labelling tokens: the shipped experts are trained afterwards, on the new groups).
 */
export async function emRound(ctx: RunContext, round: number): Promise<{ groups: RunContext['groups']; tokens: number }> {
  const r = await crossFit(ctx, {
    file: join(ctx.out, 'em', `round${round}.json`),
    run: (f, name) => `em${round}-${f}-${name}`,
    dir: (f, name) => join(ctx.out, 'em', `round${round}`, `fold${f}`, name),
  }, 'balanced', true);
  return { groups: { train: r.train, validation: r.validation as Int32Array }, tokens: r.tokens };
}

/**
 * Who trains on what in cross-fitting: train[f][k] = the examples of group k outside fold f (what expert k's
 * fold-f copy trains on); labelled[f] = the examples of fold f (what the fold-f copies label).
 */
export function crossFitSets(groups: Int32Array, fold: Int32Array, F: number, K: number): { train: number[][][]; labelled: number[][] } {
  const all = Array.from(groups, (_, i) => i);
  return {
    train: Array.from({ length: F }, (_, f) => Array.from({ length: K }, (_, k) => all.filter((i) => groups[i] === k && fold[i] !== f))),
    labelled: Array.from({ length: F }, (_, f) => all.filter((i) => fold[i] === f)),
  };
}

/** The cross-fitting fold of a record (by its dataset index, so it does not depend on the subset drawn). */
export function foldOf(index: number, folds: number): number {
  return Math.floor(index / 20) % folds;
}

function routerInputs(ctx: RunContext, split: 'train' | 'validation', rows: number[]): { features: Float32Array; pooled: Float32Array | null } {
  const items = split === 'train' ? ctx.train : ctx.validation;
  const features = featureMatrix(rows.map((r) => items[r])); // [rows, F]: only the rows asked for
  const pooled = ctx.router.meta.pooledDim > 0 && ctx.pooled ? gatherRows(ctx.pooled[split], ctx.model.config.nEmbd, rows) : null;
  return { features, pooled };
}

/** Router probabilities [N, K] of a whole split (eval mode). */
export function splitProbabilities(ctx: RunContext, split: 'train' | 'validation'): Float32Array {
  const items = split === 'train' ? ctx.train : ctx.validation;
  const rows = items.map((_, i) => i);
  const { features, pooled } = routerInputs(ctx, split, rows);
  return ctx.router.route(features, pooled, rows.length).probs;
}

/**
 * Phase 2: the router alone, on the analyzer's features (and pooled state), with the given labels,
 * cross-entropy + load balance (+ score regression). Best by validation routing loss.
 */
export async function trainRouter(ctx: RunContext, trainLabels: Int32Array, valLabels: Int32Array): Promise<{ trainAccuracy: number | null }> {
  const c = ctx.config;
  const router = ctx.router;
  const mlp = router.mlp;
  const withScore = c.training.score_regression_weight > 0;
  const weights = { balanceWeight: c.training.load_balance_weight, scoreWeight: c.training.score_regression_weight };
  const all = ctx.validation.map((_, i) => i);
  let best: Float32Array | null = null;
  const task: TrainingTask<number> = {
    name: 'router',
    items: ctx.train.map((_, i) => i),
    groups: [{ name: 'router', params: mlp.params, grads: mlp.grads }],
    step(rows, seed, scale) {
      const B = rows.length;
      const { features, pooled } = routerInputs(ctx, 'train', rows);
      const cache = mlp.forward(router.input(features, pooled, B), B, true, seed);
      const loss = routerLoss(cache, {
        labels: rows.map((r) => trainLabels[r]),
        scoreTargets: withScore ? rows.map((r) => ctx.train[r].score) : undefined,
      }, weights);
      for (let i = 0; i < loss.dLogits.length; i++) loss.dLogits[i] *= scale;
      if (loss.dScore) for (let i = 0; i < loss.dScore.length; i++) loss.dScore[i] *= scale;
      mlp.backward(cache, loss.dLogits, { dScore: loss.dScore ?? undefined });
      return { lossSum: loss.total * B, tokens: B };
    },
    evaluate() {
      const { features, pooled } = routerInputs(ctx, 'validation', all);
      const cache = mlp.forward(router.input(features, pooled, all.length), all.length, false);
      return routerLoss(cache, { labels: valLabels, scoreTargets: withScore ? ctx.validation.map((p) => p.score) : undefined }, weights).total;
    },
  };
  ctx.progress.log(`phase 2: router on ${ctx.train.length} examples, labels = ${router.meta.labelMode}`);
  const opts = loopOptions(ctx, 'router', c.training.router_learning_rate, c.training.router_epochs);
  opts.batchSize = c.training.router_batch_size;
  opts.gradientAccumulationSteps = 1;
  const bestDir = join(ctx.out, 'phase2', 'router_best');
  task.onBest = () => {
    best = Float32Array.from(mlp.params);
    replaceDirAtomic(bestDir, (d) => saveRouter(d, router));
  };
  finishedOrThrow(await runTraining(task, opts));
  if (best) mlp.params.set(best);
  else if (existsSync(join(bestDir, 'router.json'))) mlp.params.set(loadRouter(bestDir).mlp.params); // resumed after the phase ended
  const choice = argmaxRows(splitProbabilities(ctx, 'train'), task.items.length, router.numExperts);
  let hit = 0;
  choice.forEach((k, i) => { if (k === trainLabels[i]) hit++; });
  return { trainAccuracy: task.items.length ? hit / task.items.length : null };
}

/** Validation LM loss of the whole system as it runs at inference, under a routing policy. */
export function systemValidationLoss(ctx: RunContext, policy: RoutingPolicy): number {
  const K = ctx.experts.length;
  const probs = splitProbabilities(ctx, 'validation');
  const gates = policyGates(probs, ctx.validation.length, K, policy, ctx.shared !== null);
  const W = ctx.mixture.K;
  const byIndex = new Map(ctx.validation.map((p, i) => [p.example, i]));
  return meanLoss(scoreExamples(ctx.model, ctx.validation.map((p) => p.example), ctx.config.eval.batch_size, ctx.tokenizer.eosTokenId, (eb) => {
    const g = new Float32Array(eb.batch.B * W);
    eb.examples.forEach((e, b) => g.set(gates.subarray((byIndex.get(e) as number) * W, ((byIndex.get(e) as number) + 1) * W), b * W));
    ctx.mixture.setGates(g, eb.batch.B);
    return ctx.mixture;
  }));
}

/**
 * Phase 3: experts and router together. The router's probabilities mix the experts' LoRA deltas (the soft
 * policy, which is then what this phase's checkpoints serve), so the LM loss reaches the router through
 * dL/dgate; the load-balance term keeps experts in use. The shared LoRA, if any, stays frozen and unused here.
 */
export async function trainJoint(ctx: RunContext, onBest: (valLoss: number) => void): Promise<LoopResult> {
  const c = ctx.config;
  const K = ctx.experts.length;
  const W = ctx.mixture.K;
  const mlp = ctx.router.mlp;
  const byIndex = new Map(ctx.train.map((p, i) => [p.example, i]));
  const tied = c.training.share_expert_a ? new SharedA(ctx.experts) : null;
  tied?.tie(); // a resumed phase then restores its saved (tied) parameters over this
  const task: TrainingTask<Example> = {
    name: 'joint',
    items: ctx.train.map((p) => p.example),
    groups: [
      ...ctx.experts.map((e) => ({ name: `joint.${e.name}`, params: e.params, grads: e.grads })),
      // the router keeps its phase-2 rate relative to the experts'
      { name: 'joint.router', params: mlp.params, grads: mlp.grads, lrScale: c.training.router_learning_rate / c.training.learning_rate },
    ],
    step(items, seed, scale) {
      tied?.sync();
      const eb = collate(items, ctx.tokenizer.eosTokenId);
      const B = eb.batch.B;
      const rows = items.map((e) => byIndex.get(e) as number);
      const { features, pooled } = routerInputs(ctx, 'train', rows);
      const cache = mlp.forward(ctx.router.input(features, pooled, B), B, true, seed);
      ctx.mixture.setGates(policyGates(cache.probs, B, K, { kind: 'soft' }, W > K), B);
      ctx.mixture.trainable = ctx.mixture.adapters.map((_, k) => k < K);
      ctx.mixture.trackGateGrads = true;
      const res = ctx.model.forward(eb.batch, { hook: ctx.mixture, train: true, seed, targets: eb.targets });
      ctx.model.backward(scale);
      tied?.gatherGrads();
      const dProbs = new Float32Array(B * K); // [B, K]: the experts' columns of dL/dgates [B, W]
      for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) dProbs[b * K + k] = ctx.mixture.gateGrads[b * W + k];
      const dLogits = softmaxBackward(cache.probs, dProbs, B, K);
      const bal = loadBalanceLoss(cache.probs, B, K);
      const w = c.training.load_balance_weight * scale;
      for (let i = 0; i < dLogits.length; i++) dLogits[i] += w * bal.dLogits[i];
      mlp.backward(cache, dLogits);
      ctx.mixture.trackGateGrads = false;
      return { lossSum: res.loss * res.count, tokens: res.count };
    },
    weight: batchLossTokens,
    evaluate: () => {
      tied?.sync();
      return systemValidationLoss(ctx, { kind: 'soft' });
    },
    onBest: (v) => onBest(v),
  };
  ctx.progress.log(`phase 3: joint training of ${K} experts and the router on ${task.items.length} examples (soft mix${tied ? ', one shared A per module' : ''})`);
  const r = finishedOrThrow(await runTraining(task, loopOptions(ctx, 'joint', c.training.joint_learning_rate, c.training.joint_epochs)));
  tied?.sync();
  return r;
}

