import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraMixture } from '../../src/lora/mixture.js';
import type { GPT2 } from '../../src/model/gpt2.js';
import type { LoraAdapter } from '../../src/lora/adapter.js';
import { adapterTask } from '../../src/train/adapter-task.js';
import type { Example } from '../../src/train/examples.js';
import { plannedSteps, runTraining, type LoopOptions, type TrainingTask } from '../../src/train/loop.js';
import { hasTrainingState } from '../../src/train/checkpoint.js';
import { MetricsLog } from '../../src/train/metrics.js';
import { LoraRouteError } from '../../src/errors.js';
import { microAdapter, microLoopOptions, microModel, NO_DROPOUT, randomIds, silentProgress, tempDir } from '../helpers/micro.js';

const tmp = tempDir();
after(() => tmp.cleanup());
let runs = 0;
const freshDir = () => join(tmp.dir, `run${runs++}`);

/** n examples of `len` random tokens; loss on every token after the first `prompt` ones. */
function examples(n: number, len: number, seed: number, prompt = 2): Example[] {
  return Array.from({ length: n }, (_, i) => {
    const ids = randomIds(len, seed * 1000 + i);
    return { index: i, ids, promptLength: prompt, labels: ids.map((id, t) => (t < prompt ? -100 : id)) };
  });
}

const options = microLoopOptions;

/** A fresh adapter (same init every time for the same seed) trained by adapterTask. */
function setup(model: GPT2, train: Example[], val: Example[], loraDropout = 0): { adapter: LoraAdapter; task: TrainingTask<Example> } {
  const adapter = microAdapter(model.config, { targetModules: ['c_attn', 'c_proj'], loraDropout }, 5, 0.05);
  const mix = new LoraMixture([adapter], model.backend);
  return { adapter, task: adapterTask('micro', model, mix, 0, train, val, { evalBatchSize: 4, padId: model.config.eosTokenId }) };
}

const readJsonl = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('runTraining on the micro model', () => {
  test('the loss goes down on a tiny task (train loss per step and validation loss)', async () => {
    // wider random weights than GPT-2's 0.02: the logits can move enough to show learning
    const model = microModel({ config: NO_DROPOUT, std: 0.3 });
    const data = examples(8, 10, 1);
    const { task } = setup(model, data, data);
    const before = task.evaluate();
    const metricsPath = join(freshDir(), 'metrics.jsonl');
    const r = await runTraining(task, options(model, { epochs: 12, batchSize: 4, metrics: new MetricsLog(metricsPath), schedule: { peak: 2e-2, warmupSteps: 2, kind: 'cosine', minRatio: 0.1 } }));
    assert.equal(r.status, 'finished');
    assert.equal(r.steps, 24);
    const losses = readJsonl(metricsPath).filter((m) => typeof m.loss === 'number').map((m) => m.loss as number);
    assert.equal(losses.length, 24);
    const head = (losses[0] + losses[1] + losses[2]) / 3;
    const tail = (losses[21] + losses[22] + losses[23]) / 3;
    assert.ok(tail < head - 0.3, `train loss ${head} -> ${tail}`);
    assert.ok(r.bestValLoss !== null && r.bestValLoss < before - 0.3, `validation loss ${before} -> ${r.bestValLoss}`);
    assert.ok(Math.abs((r.lastTrainLoss as number) - losses[23]) < 1e-12);
  });

  test('gradient accumulation: 2 micro-batches of 2 give the same update as one batch of 4, even with unequal lengths', async () => {
    const model = microModel({ config: NO_DROPOUT });
    // unequal lengths: the micro-batches hold different numbers of loss tokens, and each counts by its tokens
    const data = [...examples(2, 5, 2), ...examples(2, 14, 3)].map((e, i) => ({ ...e, index: i }));
    const one = setup(model, data, data);
    const p0 = one.adapter.params.slice();
    await runTraining(one.task, options(model, { batchSize: 4, gradientAccumulationSteps: 1 }));
    const two = setup(model, data, data);
    assert.deepEqual(two.adapter.params, p0);
    const r = await runTraining(two.task, options(model, { batchSize: 2, gradientAccumulationSteps: 2 }));
    assert.equal(r.steps, 1);
    let maxUpdate = 0, maxDiff = 0;
    for (let i = 0; i < p0.length; i++) {
      maxUpdate = Math.max(maxUpdate, Math.abs(one.adapter.params[i] - p0[i]));
      maxDiff = Math.max(maxDiff, Math.abs((two.adapter.params[i] - p0[i]) - (one.adapter.params[i] - p0[i])));
    }
    assert.ok(maxUpdate > 1e-3, `the step moved the parameters (${maxUpdate})`);
    assert.ok(maxDiff < 1e-5, `updates differ by ${maxDiff}`);
    // without accumulation, two steps of 2 are a different thing
    const steps = setup(model, data, data);
    await runTraining(steps.task, options(model, { batchSize: 2, gradientAccumulationSteps: 1 }));
    let diff2 = 0;
    for (let i = 0; i < p0.length; i++) diff2 = Math.max(diff2, Math.abs(steps.adapter.params[i] - one.adapter.params[i]));
    assert.ok(diff2 > 1e-3);
  });

  for (const c of [
    { name: 'mid-epoch', at: 3, acc: 1, batchSize: 2 },
    { name: 'at an epoch end', at: 4, acc: 1, batchSize: 2 },
    { name: 'with accumulation', at: 2, acc: 2, batchSize: 1 },
  ]) {
    test(`resume (${c.name}): 6 steps straight equal ${c.at} steps, interrupt, resume to 6 — dropouts on`, async () => {
      const model = microModel(); // GPT-2's dropouts at 0.1
      const data = examples(8, 8, 3);
      const val = examples(3, 8, 4);
      const o = (stateDir: string, over: Partial<LoopOptions> = {}) => options(model, {
        epochs: 3, batchSize: c.batchSize, gradientAccumulationSteps: c.acc, maxSteps: 6, stateDir,
        schedule: { peak: 1e-2, warmupSteps: 2, kind: 'cosine', minRatio: 0.1 }, ...over,
      });
      const straight = setup(model, data, val, 0.1);
      const rs = await runTraining(straight.task, o(freshDir()));
      assert.deepEqual([rs.status, rs.steps], ['finished', 6]);

      const dir = freshDir();
      const first = setup(model, data, val, 0.1);
      const signal = { interrupted: false };
      const progress = silentProgress();
      progress.update = (done: number) => { if (done === c.at) signal.interrupted = true; };
      const ri = await runTraining(first.task, o(dir, { signal, progress }));
      assert.deepEqual([ri.status, ri.steps], ['interrupted', c.at]);
      assert.ok(hasTrainingState(dir), 'an interrupted run leaves its state');
      const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { position: { step: number; finished: boolean } };
      assert.deepEqual([state.position.step, state.position.finished], [c.at, false]);
      assert.ok(progress.lines.some((l) => /interrupted at step/.test(l)));

      const second = setup(model, data, val, 0.1); // a new process: fresh initialisation, then the state
      const rr = await runTraining(second.task, o(dir, { resume: true }));
      assert.deepEqual([rr.status, rr.steps], ['finished', 6]);
      assert.deepEqual(second.adapter.params, straight.adapter.params);
      assert.equal(rr.bestValLoss, rs.bestValLoss);

      // resuming a finished run does nothing
      const third = setup(model, data, val, 0.1);
      third.task.step = () => assert.fail('a finished run must not train again');
      const rf = await runTraining(third.task, o(dir, { resume: true }));
      assert.deepEqual([rf.status, rf.steps], ['finished', 6]);
      assert.deepEqual(third.adapter.params, straight.adapter.params);
    });
  }

  test('resuming with state from another task is refused', async () => {
    const model = microModel({ config: NO_DROPOUT });
    const data = examples(4, 6, 5);
    const dir = freshDir();
    await runTraining(setup(model, data, data).task, options(model, { stateDir: dir }));
    const other = setup(model, data, data).task;
    other.name = 'other';
    await assert.rejects(runTraining(other, options(model, { stateDir: dir, resume: true })), (e: unknown) => e instanceof LoraRouteError && /state belongs to "micro", not "other"/.test(e.message));
  });
});

describe('runTraining bookkeeping (a scripted task)', () => {
  /** A task whose step sets fixed gradients and whose validation losses follow a script. */
  function scripted(valLosses: number[]) {
    const params = new Float32Array(4);
    const grads = new Float32Array(4);
    const best: Array<[number, number]> = [];
    let evals = 0;
    const task: TrainingTask<number> = {
      name: 'scripted', items: Array.from({ length: 10 }, (_, i) => i), groups: [{ name: 'p', params, grads }],
      step(items, _seed, scale) { grads.fill(scale); return { lossSum: items.length * 2, tokens: items.length }; },
      evaluate: () => valLosses[evals++],
      onBest: (v, s) => best.push([v, s]),
    };
    return { task, best, evals: () => evals };
  }

  test('the best callback fires on improvement only; metrics JSONL has train and validation lines', async () => {
    const s = scripted([3, 2, 2.5, 1, 1, 4]);
    const path = join(freshDir(), 'm.jsonl');
    const model = microModel();
    const r = await runTraining(s.task, options(model, { epochs: 1, batchSize: 2, evalEvery: 1, logEvery: 2, metrics: new MetricsLog(path) }));
    assert.equal(r.steps, 5);
    assert.equal(s.evals(), 5, 'validated after every step, not again at the end');
    assert.deepEqual(s.best, [[3, 1], [2, 2], [1, 4]]);
    assert.equal(r.bestValLoss, 1);
    const lines = readJsonl(path);
    const train = lines.filter((l) => 'loss' in l);
    const val = lines.filter((l) => 'val_loss' in l);
    assert.deepEqual(train.map((l) => l.step), [2, 4, 5]);
    for (const l of train) {
      assert.equal(l.run, 'scripted');
      assert.equal(l.loss, 2);
      assert.equal(typeof l.lr, 'number');
      assert.equal(typeof l.grad_norm, 'number');
      assert.equal(typeof l.tokens_per_s, 'number');
      assert.ok(typeof l.time === 'string' && !Number.isNaN(Date.parse(l.time as string)));
    }
    assert.deepEqual(val.map((l) => [l.step, l.val_loss, l.best]), [[1, 3, true], [2, 2, true], [3, 2.5, false], [4, 1, true], [5, 1, false]]);
  });

  test('validation at each epoch end by default; plannedSteps counts accumulation and the cap', async () => {
    const s = scripted([5, 4, 3]);
    const r = await runTraining(s.task, options(microModel(), { epochs: 3, batchSize: 4 }));
    assert.equal(r.steps, 9);
    assert.equal(s.evals(), 3);
    assert.deepEqual(s.best.map((b) => b[1]), [3, 6, 9]);
    assert.equal(plannedSteps(10, { epochs: 3, batchSize: 4, gradientAccumulationSteps: 1, maxSteps: 0 }), 9);
    assert.equal(plannedSteps(10, { epochs: 3, batchSize: 2, gradientAccumulationSteps: 2, maxSteps: 0 }), 9);
    assert.equal(plannedSteps(10, { epochs: 3, batchSize: 2, gradientAccumulationSteps: 2, maxSteps: 4 }), 4);
  });

  test('an interrupted run without a state folder still stops and reports it', async () => {
    const s = scripted([1, 1, 1]);
    const signal = { interrupted: true };
    const r = await runTraining(s.task, options(microModel(), { signal }));
    assert.deepEqual([r.status, r.steps], ['interrupted', 1]);
    assert.ok(!existsSync(join(tmp.dir, 'state.json')));
  });
});
