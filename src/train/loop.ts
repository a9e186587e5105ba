import { epochBatches } from './batches.js';
import { hasTrainingState, loadTrainingState, saveTrainingState, type LoopPosition } from './checkpoint.js';
import type { MetricsLog } from './metrics.js';
import { AdamW, type ParamGroup } from './optimizer.js';
import type { Progress } from './progress.js';
import { learningRateAt, type ScheduleOptions } from './schedule.js';
import type { Backend } from '../tensor/backend.js';

/** What a training run trains and how one micro-batch is computed; the loop does the rest. */
export interface TrainingTask<I> {
  /** Names the run in logs, metrics and the saved state (e.g. "expert-1"). */
  name: string;
  items: I[];
  groups: ParamGroup[];
  /**
   * How much a micro-batch counts in its optimiser step, e.g. its loss tokens: with gradient accumulation the
   * step's gradient is the weighted mean of its micro-batches' mean-loss gradients, which equals the gradient
   * of the mean over all tokens of the step, as one big batch would give. Default: every micro-batch 1.
   */
  weight?(items: I[]): number;
  /** Forward + backward of one micro-batch; gradients accumulate scaled by `scale`. Returns the summed loss and its token count. */
  step(items: I[], seed: number, scale: number): { lossSum: number; tokens: number };
  /** Validation loss (lower is better). */
  evaluate(): number;
  /** Called when the validation loss improves (save the best model here). */
  onBest?(valLoss: number, step: number): void;
}

export interface LoopOptions {
  epochs: number;
  batchSize: number;
  gradientAccumulationSteps: number;
  maxGradNorm: number;
  schedule: Omit<ScheduleOptions, 'totalSteps'>;
  weightDecay: number;
  /** Validation every N optimiser steps; 0 = at each epoch's end. */
  evalEvery: number;
  /** Resumable state every N steps; 0 = at each epoch's end. */
  saveEvery: number;
  logEvery: number;
  /** Cap on optimiser steps; 0 = none. */
  maxSteps: number;
  /** Stop once the optimiser steps have consumed this many loss tokens (a matched budget); 0 = none. */
  maxTokens?: number;
  /** Steps the learning-rate schedule spans when a token budget, not the epochs, ends the run; default: the planned steps. */
  scheduleSteps?: number;
  /** Validate (and maybe keep as best) before the first step, e.g. a warm start whose best may be no extra steps at all. */
  validateAtStart?: boolean;
  seed: number;
  backend: Backend;
  /** Folder for resumable state (null = none kept). */
  stateDir: string | null;
  resume: boolean;
  metrics: MetricsLog;
  progress: Progress;
  /** Set `interrupted` (e.g. on Ctrl-C) to stop after the current step with the state saved. */
  signal?: { interrupted: boolean };
}

export interface LoopResult {
  status: 'finished' | 'interrupted';
  steps: number;
  bestValLoss: number | null;
  lastTrainLoss: number | null;
  /** Loss tokens of all optimiser steps of the run, across resumes. */
  tokens: number;
  /** Loss tokens at the best validation checkpoint (null when never validated). */
  bestTokens: number | null;
  seconds: number;
}

export function plannedSteps(items: number, o: Pick<LoopOptions, 'epochs' | 'batchSize' | 'gradientAccumulationSteps' | 'maxSteps'>): number {
  const perEpoch = Math.ceil(Math.ceil(items / o.batchSize) / o.gradientAccumulationSteps);
  const total = perEpoch * o.epochs;
  return o.maxSteps > 0 ? Math.min(total, o.maxSteps) : total;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Mixes a run seed with a position into a 32-bit seed (dropout masks of one micro-batch). */
const mix = (seed: number, a: number, b: number) => (Math.imul(seed ^ 0x5bd1e995, 0x01000193) ^ Math.imul(a + 1, 0x27d4eb2f) ^ Math.imul(b + 1, 0x165667b1)) >>> 0;

/**
 * The training loop shared by fine-tuning and every phase: seeded epoch shuffles, gradient accumulation,
 * clipping, AdamW on a warm-up + decay schedule, validation with best-model saving, resumable state
 * (written atomically), metrics JSONL and progress. Yields to the event loop between steps so Ctrl-C is seen.
 */
export async function runTraining<I>(task: TrainingTask<I>, o: LoopOptions): Promise<LoopResult> {
  const opt = new AdamW(task.groups, o.backend, { weightDecay: o.weightDecay });
  const total = o.maxTokens ? Number.MAX_SAFE_INTEGER : plannedSteps(task.items.length, o);
  const scheduleSteps = o.scheduleSteps ?? plannedSteps(task.items.length, o);
  let pos: LoopPosition = { epoch: 0, batchInEpoch: 0, step: 0, bestValLoss: null, bestStep: null, finished: false, tokens: 0, bestTokens: null };
  if (o.resume && o.stateDir && hasTrainingState(o.stateDir)) {
    pos = loadTrainingState(o.stateDir, task.name, opt).position;
    o.progress.log(`${task.name}: resuming at step ${pos.step}/${scheduleSteps} (epoch ${pos.epoch + 1}, batch ${pos.batchInEpoch})`);
  }
  const t0 = Date.now();
  pos.tokens ??= 0;
  pos.bestTokens ??= null;
  let stepTokens = 0;
  let lastTrainLoss: number | null = null;
  const result = (status: LoopResult['status']): LoopResult => ({
    status, steps: pos.step, bestValLoss: pos.bestValLoss, lastTrainLoss, tokens: pos.tokens ?? 0, bestTokens: pos.bestTokens ?? null, seconds: (Date.now() - t0) / 1000,
  });
  if (pos.finished || plannedSteps(task.items.length, o) === 0) return result('finished');
  const save = () => { if (o.stateDir) saveTrainingState(o.stateDir, task.name, opt, pos); };
  let lastValidated = -1;
  const validate = () => {
    lastValidated = pos.step;
    const val = task.evaluate();
    const better = pos.bestValLoss === null || val < pos.bestValLoss;
    o.metrics.write({ run: task.name, step: pos.step, epoch: pos.epoch, val_loss: val, best: better });
    o.progress.log(`${task.name}: step ${pos.step} validation loss ${val.toFixed(4)}${better ? ' (best)' : ''}`);
    if (better) {
      pos.bestValLoss = val;
      pos.bestStep = pos.step;
      pos.bestTokens = pos.tokens ?? 0;
      task.onBest?.(val, pos.step);
    }
  };

  if (o.validateAtStart && pos.step === 0 && pos.bestValLoss === null) validate();
  const budgetSpent = () => (o.maxTokens ?? 0) > 0 && (pos.tokens ?? 0) >= (o.maxTokens ?? 0);
  o.progress.start(scheduleSteps, task.name);
  o.progress.update(pos.step, { loss: 0, tokensPerSecond: 0 });
  opt.zeroGrads();
  let winLoss = 0, winTokens = 0, winStart = Date.now();
  outer: for (let epoch = pos.epoch; epoch < o.epochs; epoch++) {
    const batches = epochBatches(task.items, o.batchSize, o.seed, epoch);
    const A = o.gradientAccumulationSteps;
    let groupWeight = 0;
    for (let bi = epoch === pos.epoch ? pos.batchInEpoch : 0; bi < batches.length; bi++) {
      // optimiser steps take aligned groups of A micro-batches from the epoch's start (the last may be shorter)
      const gStart = Math.floor(bi / A) * A;
      const gEnd = Math.min(gStart + A, batches.length);
      if (bi === gStart || groupWeight === 0) {
        groupWeight = 0;
        for (let j = gStart; j < gEnd; j++) groupWeight += task.weight ? task.weight(batches[j]) : 1;
        // a token budget ends the run at the step boundary nearest to it (the step's tokens are known in advance)
        if (o.maxTokens && bi === gStart && o.maxTokens - (pos.tokens ?? 0) < groupWeight / 2) break outer;
      }
      const w = task.weight ? task.weight(batches[bi]) : 1;
      const r = task.step(batches[bi], mix(o.seed, epoch, bi), groupWeight > 0 ? w / groupWeight : 0);
      winLoss += r.lossSum;
      winTokens += r.tokens;
      stepTokens += r.tokens;
      if (bi + 1 < gEnd) continue;
      groupWeight = 0;
      const gradNorm = opt.clipGradNorm(o.maxGradNorm);
      const lr = learningRateAt(Math.min(pos.step + 1, scheduleSteps), { ...o.schedule, totalSteps: scheduleSteps });
      opt.update(lr);
      pos.step++;
      pos.tokens = (pos.tokens ?? 0) + stepTokens;
      stepTokens = 0;
      pos.epoch = epoch;
      pos.batchInEpoch = bi + 1;
      lastTrainLoss = winTokens > 0 ? winLoss / winTokens : 0;
      const tps = winTokens / Math.max(1e-3, (Date.now() - winStart) / 1000);
      o.progress.update(pos.step, { loss: lastTrainLoss, tokensPerSecond: tps });
      if (pos.step % o.logEvery === 0 || pos.step === scheduleSteps) {
        o.metrics.write({ run: task.name, step: pos.step, epoch, lr, loss: lastTrainLoss, grad_norm: gradNorm, tokens_per_s: tps });
        winLoss = 0; winTokens = 0; winStart = Date.now();
      }
      if (o.evalEvery > 0 && pos.step % o.evalEvery === 0) validate();
      if (o.saveEvery > 0 && pos.step % o.saveEvery === 0) save();
      if (pos.step >= total || budgetSpent()) break outer;
      await tick();
      if (o.signal?.interrupted) {
        save();
        o.progress.stop();
        o.progress.log(`${task.name}: interrupted at step ${pos.step}/${scheduleSteps}; state saved${o.stateDir ? ` in ${o.stateDir}` : ''} (use --resume)`);
        return result('interrupted');
      }
    }
    if (o.evalEvery === 0) validate();
    pos.epoch = epoch + 1;
    pos.batchInEpoch = 0;
    save();
  }
  if (lastValidated !== pos.step) validate();
  o.progress.stop();
  pos.finished = true;
  save();
  return result('finished');
}
