import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LoraMixture } from '../../src/lora/mixture.js';
import type { GPT2 } from '../../src/model/gpt2.js';
import { adapterTask } from '../../src/train/adapter-task.js';
import { lossTokens, type Example } from '../../src/train/examples.js';
import { runTraining, type LoopOptions } from '../../src/train/loop.js';
import { microAdapter, microLoopOptions, microModel, NO_DROPOUT, randomIds, tempDir } from '../helpers/micro.js';

const tmp = tempDir();
after(() => tmp.cleanup());

/** n examples of random length (so batches carry different token counts); loss after the first 2 tokens. */
function examples(n: number, seed: number): Example[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 5 + ((i * 7 + seed) % 9);
    const ids = randomIds(len, seed * 1000 + i);
    return { index: i, ids, promptLength: 2, labels: ids.map((id, t) => (t < 2 ? -100 : id)) };
  });
}

const options = (model: GPT2, over: Partial<LoopOptions> = {}): LoopOptions => microLoopOptions(model, { batchSize: 3, ...over });

function setup(model: GPT2, data: Example[]) {
  const adapter = microAdapter(model.config, { targetModules: ['c_attn'] }, 5, 0.05);
  const task = adapterTask('budget', model, new LoraMixture([adapter], model.backend), 0, data, data.slice(0, 4), { evalBatchSize: 4, padId: model.config.eosTokenId });
  return { adapter, task };
}

test('the loop counts the loss tokens of its optimiser steps: two epochs = twice every example\'s loss tokens', async () => {
  const model = microModel({ config: NO_DROPOUT });
  const data = examples(10, 1);
  const r = await runTraining(setup(model, data).task, options(model, { epochs: 2 }));
  assert.equal(r.tokens, 2 * data.reduce((n, e) => n + lossTokens(e), 0));
  assert.ok(r.bestTokens !== null && r.bestTokens > 0 && r.bestTokens <= r.tokens);
});

test('a token budget ends the run at the step boundary nearest to it, and the count survives a resume', async () => {
  const model = microModel({ config: NO_DROPOUT });
  const data = examples(12, 2);
  const perEpoch = data.reduce((n, e) => n + lossTokens(e), 0);
  const cap = Math.round(perEpoch * 1.37);
  const r = await runTraining(setup(model, data).task, options(model, { epochs: 3, maxTokens: cap, scheduleSteps: 6 }));
  // the last step is at most half a step's tokens past (or short of) the cap; a step here is 3 examples
  const maxStep = Math.max(...data.map(lossTokens)) * 3;
  assert.ok(Math.abs(r.tokens - cap) <= maxStep / 2, `tokens ${r.tokens} vs cap ${cap}`);
  assert.ok(r.steps > 4 && r.steps < 12, `${r.steps} steps`);

  // interrupted after the first step and resumed: the same count and the same parameters
  const dir = join(tmp.dir, 'resume');
  const a = setup(model, data);
  const signal = { interrupted: true };
  const first = await runTraining(a.task, options(model, { epochs: 3, maxTokens: cap, scheduleSteps: 6, stateDir: dir, signal }));
  assert.equal(first.status, 'interrupted');
  signal.interrupted = false;
  const b = setup(model, data);
  const second = await runTraining(b.task, options(model, { epochs: 3, maxTokens: cap, scheduleSteps: 6, stateDir: dir, resume: true }));
  assert.equal(second.tokens, r.tokens);
  assert.equal(second.steps, r.steps);
});

test('validateAtStart: when no step improves on the start, the best checkpoint is the start itself (0 tokens)', async () => {
  const model = microModel({ config: NO_DROPOUT });
  const data = examples(6, 3);
  const { adapter, task } = setup(model, data);
  const start = Float32Array.from(adapter.params);
  let calls = 0;
  let bestParams: Float32Array | null = null;
  let bestStep = -1;
  task.evaluate = () => (calls++ === 0 ? 1 : 2); // every later validation is worse
  task.onBest = (_v, step) => { bestParams = Float32Array.from(adapter.params); bestStep = step; };
  const r = await runTraining(task, options(model, { epochs: 1, validateAtStart: true }));
  assert.equal(bestStep, 0);
  assert.equal(r.bestTokens, 0);
  assert.deepEqual(bestParams, start, 'the kept checkpoint is the starting point');
  assert.notDeepEqual(Array.from(adapter.params), Array.from(start), 'the run itself moved the parameters');
});
