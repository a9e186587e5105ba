import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPeftAdapter, savePeftAdapter } from '../lora/peft.js';
import type { LoraAdapter } from '../lora/adapter.js';
import { LoraMixture } from '../lora/mixture.js';
import { saveRouter, loadRouter } from '../router/io.js';
import { argmaxRows, loadBalanceLoss, routerLoss, softmaxBackward } from '../router/loss.js';
import { collate } from '../train/batches.js';
import { adapterTask, batchLossTokens } from '../train/adapter-task.js';
import { loopOptionsOf } from '../train/finetune.js';
import { runTraining, type LoopResult, type TrainingTask } from '../train/loop.js';
import { meanLoss, scoreExamples, type ExampleLoss } from '../train/score.js';
import { writeFileAtomic } from '../io/atomic.js';
import { replaceDirAtomic } from '../io/atomic-dir.js';
import type { Example } from '../train/examples.js';
import { gatherRows, type RunContext } from './context.js';
import { featureMatrix, type PreparedExample } from './prepared.js';

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

/** Phase 1: expert k trains on the training examples of tier k (validated on tier k of the validation split). */
export async function trainExperts(ctx: RunContext): Promise<number[]> {
  const c = ctx.config;
  const steps: number[] = [];
  for (let k = 0; k < ctx.experts.length; k++) {
    const expert = ctx.experts[k];
    const train = ctx.train.filter((p) => p.tier === k).map((p) => p.example);
    let val = ctx.validation.filter((p) => p.tier === k).map((p) => p.example);
    if (val.length === 0) val = ctx.validation.map((p) => p.example);
    const bestDir = join(ctx.out, 'phase1', expert.name);
    if (train.length === 0) {
      ctx.progress.log(`phase 1: no training examples in tier ${k} (${expert.name}); the expert stays at its initialisation (= the base model)`);
      steps.push(0);
      continue;
    }
    ctx.progress.log(`phase 1: expert ${expert.name} on ${train.length} tier-${k} examples (${val.length} validation)`);
    const task = adapterTask(`expert-${expert.name}`, ctx.model, ctx.mixture, k, train, val, {
      evalBatchSize: c.eval.batch_size, padId: ctx.tokenizer.eosTokenId, onBest: () => replaceDirAtomic(bestDir, (d) => savePeftAdapter(expert, d)),
    });
    const r = finishedOrThrow(await runTraining(task, loopOptionsOf(c, c.training.learning_rate, c.training.num_epochs, {
      backend: ctx.model.backend, stateDir: stateDir(ctx, `expert-${expert.name}`), resume: ctx.resume,
      metrics: ctx.metrics, progress: ctx.progress, signal: ctx.signal,
    })));
    restoreBest(expert, bestDir, ctx);
    steps.push(r.steps);
  }
  return steps;
}

/**
 * The one-LoRA baseline: one adapter on all training data with the experts' token budget (the same epochs
 * over the same examples; the same total step cap when max_steps caps each expert).
 */
export async function trainBaseline(ctx: RunContext, baseline: LoraAdapter, expertSteps: number[]): Promise<void> {
  const c = ctx.config;
  const mix = new LoraMixture([baseline], ctx.model.backend);
  const train = ctx.train.map((p) => p.example);
  const bestDir = join(ctx.out, 'baseline_lora');
  ctx.progress.log(`baseline: one LoRA on all ${train.length} training examples`);
  const task = adapterTask('one-lora', ctx.model, mix, 0, train, ctx.validation.map((p) => p.example), {
    evalBatchSize: c.eval.batch_size, padId: ctx.tokenizer.eosTokenId, onBest: () => replaceDirAtomic(bestDir, (d) => savePeftAdapter(baseline, d)),
  });
  const opts = loopOptionsOf(c, c.training.learning_rate, c.training.num_epochs, {
    backend: ctx.model.backend, stateDir: stateDir(ctx, 'one-lora'), resume: ctx.resume, metrics: ctx.metrics, progress: ctx.progress, signal: ctx.signal,
  });
  if (c.training.max_steps > 0) opts.maxSteps = expertSteps.reduce((a, b) => a + b, 0);
  finishedOrThrow(await runTraining(task, opts));
  restoreBest(baseline, bestDir, ctx);
}

/** Per-example LM loss of every expert alone: [N][K] (eval mode). */
export function expertLosses(ctx: RunContext, examples: Example[]): ExampleLoss[][] {
  const per = ctx.experts.map((_, k) => scoreExamples(ctx.model, examples, ctx.config.eval.batch_size, ctx.tokenizer.eosTokenId, (eb) => {
    ctx.mixture.useOnly(k, eb.batch.B);
    return ctx.mixture;
  }));
  return examples.map((_, i) => per.map((p) => p[i]));
}

/** The oracle label of an example: the expert with the lowest mean loss on it. */
export function oracleLabels(losses: ExampleLoss[][]): Int32Array {
  return Int32Array.from(losses.map((row) => {
    let best = 0;
    const mean = (x: ExampleLoss) => (x.tokens > 0 ? x.lossSum / x.tokens : 0);
    for (let k = 1; k < row.length; k++) if (mean(row[k]) < mean(row[best])) best = k;
    return best;
  }));
}

/** Oracle labels of a split, computed once and kept in the run folder (phase 2 resumes without rescoring). */
function cachedOracle(ctx: RunContext, split: 'train' | 'validation', items: PreparedExample[]): Int32Array {
  const file = join(ctx.out, 'phase2', `oracle_${split}.json`);
  if (ctx.resume && existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { index: number[]; label: number[] };
    if (saved.index.length === items.length && saved.index.every((v, i) => v === items[i].example.index)) return Int32Array.from(saved.label);
  }
  ctx.progress.log(`phase 2: scoring ${items.length} ${split} examples with each of ${ctx.experts.length} experts for oracle labels`);
  const labels = oracleLabels(expertLosses(ctx, items.map((p) => p.example)));
  writeFileAtomic(file, JSON.stringify({ index: items.map((p) => p.example.index), label: Array.from(labels) }));
  return labels;
}

function routerInputs(ctx: RunContext, split: 'train' | 'validation', rows: number[]): { features: Float32Array; pooled: Float32Array | null } {
  const items = split === 'train' ? ctx.train : ctx.validation;
  const features = featureMatrix(rows.map((r) => items[r])); // [rows, F]: only the rows asked for
  const pooled = ctx.pooled ? gatherRows(ctx.pooled[split], ctx.model.config.nEmbd, rows) : null;
  return { features, pooled };
}

/**
 * Phase 2: the router alone, on the analyzer's features (and pooled state), with tier or oracle labels,
 * cross-entropy + load balance (+ score regression). Best by validation routing loss.
 */
export async function trainRouter(ctx: RunContext): Promise<{ labels: 'tier' | 'oracle'; trainAccuracy: number | null }> {
  const c = ctx.config;
  const mode = c.training.router_label;
  const labelsOf = (split: 'train' | 'validation', items: PreparedExample[]) =>
    mode === 'tier' ? Int32Array.from(items.map((p) => p.tier)) : cachedOracle(ctx, split, items);
  const trainLabels = labelsOf('train', ctx.train);
  const valLabels = labelsOf('validation', ctx.validation);
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
  ctx.progress.log(`phase 2: router on ${ctx.train.length} examples, labels = ${mode}`);
  const opts = loopOptionsOf(c, c.training.router_learning_rate, c.training.router_epochs, {
    backend: ctx.model.backend, stateDir: stateDir(ctx, 'router'), resume: ctx.resume, metrics: ctx.metrics, progress: ctx.progress, signal: ctx.signal,
  });
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
  // training accuracy against its labels, for the log
  const { features, pooled } = routerInputs(ctx, 'train', task.items);
  const choice = argmaxRows(router.route(features, pooled, task.items.length).probs, task.items.length, router.numExperts);
  let hit = 0;
  choice.forEach((k, i) => { if (k === trainLabels[i]) hit++; });
  return { labels: mode, trainAccuracy: task.items.length ? hit / task.items.length : null };
}

/** Validation LM loss of the whole system as it runs at inference (router top-1 / top-k mix). */
export function systemValidationLoss(ctx: RunContext): number {
  const K = ctx.experts.length;
  const byIndex = new Map(ctx.validation.map((p, i) => [p.example, i]));
  const topK = Math.min(ctx.config.generation.top_k_experts, K);
  return meanLoss(scoreExamples(ctx.model, ctx.validation.map((p) => p.example), ctx.config.eval.batch_size, ctx.tokenizer.eosTokenId, (eb) => {
    const rows = eb.examples.map((e) => byIndex.get(e) as number);
    const { features, pooled } = routerInputs(ctx, 'validation', rows);
    const probs = ctx.router.route(features, pooled, rows.length).probs;
    ctx.mixture.setGates(topKGates(probs, rows.length, K, topK), rows.length);
    return ctx.mixture;
  }));
}

/** Gates [B, K] keeping each row's top-k probabilities, renormalised. */
export function topKGates(probs: Float32Array, B: number, K: number, k: number): Float32Array {
  const g = new Float32Array(B * K);
  for (let b = 0; b < B; b++) {
    const row = Array.from(probs.subarray(b * K, (b + 1) * K)).map((p, i) => ({ p, i })).sort((x, y) => y.p - x.p || x.i - y.i).slice(0, k);
    const z = row.reduce((s, x) => s + x.p, 0);
    for (const x of row) g[b * K + x.i] = z > 0 ? x.p / z : 1 / k;
  }
  return g;
}

/**
 * Phase 3: experts and router together. The router's probabilities mix the experts' LoRA deltas, so the
 * LM loss reaches the router through dL/dgate; the load-balance term keeps experts in use.
 */
export async function trainJoint(ctx: RunContext, onBest: (valLoss: number) => void): Promise<LoopResult> {
  const c = ctx.config;
  const K = ctx.experts.length;
  const mlp = ctx.router.mlp;
  const byIndex = new Map(ctx.train.map((p, i) => [p.example, i]));
  const task: TrainingTask<Example> = {
    name: 'joint',
    items: ctx.train.map((p) => p.example),
    groups: [
      ...ctx.experts.map((e) => ({ name: `joint.${e.name}`, params: e.params, grads: e.grads })),
      // the router keeps its phase-2 rate relative to the experts'
      { name: 'joint.router', params: mlp.params, grads: mlp.grads, lrScale: c.training.router_learning_rate / c.training.learning_rate },
    ],
    step(items, seed, scale) {
      const eb = collate(items, ctx.tokenizer.eosTokenId);
      const B = eb.batch.B;
      const rows = items.map((e) => byIndex.get(e) as number);
      const { features, pooled } = routerInputs(ctx, 'train', rows);
      const cache = mlp.forward(ctx.router.input(features, pooled, B), B, true, seed);
      ctx.mixture.setGates(cache.probs, B);
      ctx.mixture.trainable = ctx.experts.map(() => true);
      ctx.mixture.trackGateGrads = true;
      const res = ctx.model.forward(eb.batch, { hook: ctx.mixture, train: true, seed, targets: eb.targets });
      ctx.model.backward(scale);
      const dProbs = Float32Array.from(ctx.mixture.gateGrads);
      const dLogits = softmaxBackward(cache.probs, dProbs, B, K);
      const bal = loadBalanceLoss(cache.probs, B, K);
      const w = c.training.load_balance_weight * scale;
      for (let i = 0; i < dLogits.length; i++) dLogits[i] += w * bal.dLogits[i];
      mlp.backward(cache, dLogits);
      ctx.mixture.trackGateGrads = false;
      return { lossSum: res.loss * res.count, tokens: res.count };
    },
    weight: batchLossTokens,
    evaluate: () => systemValidationLoss(ctx),
    onBest: (v) => onBest(v),
  };
  ctx.progress.log(`phase 3: joint training of ${K} experts and the router on ${task.items.length} examples`);
  const r = await runTraining(task, loopOptionsOf(c, c.training.joint_learning_rate, c.training.joint_epochs, {
    backend: ctx.model.backend, stateDir: stateDir(ctx, 'joint'), resume: ctx.resume, metrics: ctx.metrics, progress: ctx.progress, signal: ctx.signal,
  }));
  return finishedOrThrow(r);
}

