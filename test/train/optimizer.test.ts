import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdamW, type ParamGroup } from '../../src/train/optimizer.js';
import { loadTrainingState, saveTrainingState, type LoopPosition } from '../../src/train/checkpoint.js';
import type { Backend } from '../../src/tensor/backend.js';
import { availableBackends } from '../helpers/golden.js';

/** test/fixtures/adamw/adamw.json: torch.optim.AdamW + clip_grad_norm_ on the CPU, made by scripts/gen-adamw-fixture.py. */
interface AdamWFixture {
  torch: string;
  betas: [number, number];
  eps: number;
  max_norm: number;
  groups: Record<string, { tensors: string[]; weight_decay: number; lr_scale: number }>;
  initial: Record<string, number[]>;
  steps: Array<{ lr: Record<string, number>; grads: Record<string, number[]>; total_norm: number; params_after: Record<string, number[]> }>;
  final_state: Record<string, { exp_avg: number[]; exp_avg_sq: number[] }>;
}
const fixturePath = fileURLToPath(new URL('../../../test/fixtures/adamw/adamw.json', import.meta.url));
const fx = JSON.parse(readFileSync(fixturePath, 'utf8')) as AdamWFixture;
const BASE_GROUP = 'decay';

/** One of our parameter groups per fixture tensor, with its torch group's decay and rate scale. */
function fixtureGroups(): ParamGroup[] {
  return Object.values(fx.groups).flatMap((g) => g.tensors.map((name) => ({
    name, params: Float32Array.from(fx.initial[name]), grads: new Float32Array(fx.initial[name].length), weightDecay: g.weight_decay, lrScale: g.lr_scale,
  })));
}

function fixtureOptimizer(groups: ParamGroup[], backend: Backend): AdamW {
  return new AdamW(groups, backend, { weightDecay: fx.groups[BASE_GROUP].weight_decay, beta1: fx.betas[0], beta2: fx.betas[1], eps: fx.eps });
}

/** Worst |ours - torch| / (|torch| + floor) over a tensor; floor keeps near-zero entries from dominating. */
function worstRel(ours: ArrayLike<number>, want: number[], floor: number): number {
  assert.equal(ours.length, want.length);
  let w = 0;
  for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(ours[i] - want[i]) / (Math.abs(want[i]) + floor));
  return w;
}

/** Steps k in [from, to) of the fixture: set the gradients, clip, update at the scheduled rate; checks each step. */
function runSteps(opt: AdamW, from: number, to: number): void {
  for (let k = from; k < to; k++) {
    const st = fx.steps[k];
    for (const g of opt.groups) g.grads.set(st.grads[g.name]);
    const norm = opt.clipGradNorm(fx.max_norm);
    assert.ok(Math.abs(norm - st.total_norm) <= 1e-6 * st.total_norm, `step ${k}: norm ${norm} vs torch ${st.total_norm}`);
    opt.update(st.lr[BASE_GROUP]);
    for (const g of opt.groups) {
      const rel = worstRel(g.params, st.params_after[g.name], 1e-3);
      assert.ok(rel <= 1e-6, `step ${k}, ${g.name}: parameters differ from torch by ${rel.toExponential(2)} (relative)`);
    }
  }
}

for (const backend of availableBackends()) {
  describe(`AdamW and clipping [${backend.name}]`, () => {
    test(`six steps equal a real torch.optim.AdamW dump (torch ${fx.torch}: two groups, decay, bias correction, schedule, clipping)`, () => {
      // the fixture's second group runs at lr_scale of the first's rate, which is what lrScale does here
      for (const st of fx.steps) assert.ok(Math.abs(st.lr.no_decay - 0.5 * st.lr.decay) < 1e-12);
      assert.ok(fx.steps.some((s) => s.total_norm > fx.max_norm) && fx.steps.some((s) => s.total_norm < fx.max_norm), 'clipping both on and off');
      const groups = fixtureGroups();
      const opt = fixtureOptimizer(groups, backend);
      runSteps(opt, 0, fx.steps.length);
      assert.equal(opt.step, fx.steps.length);
      assert.ok(groups.every((g) => g.grads.every((x) => x === 0)), 'update clears the gradients');
      groups.forEach((g, i) => {
        const st = fx.final_state[g.name];
        const rm = worstRel(opt.m[i], st.exp_avg, 1e-4), rv = worstRel(opt.v[i], st.exp_avg_sq, 1e-6);
        assert.ok(rm <= 1e-5 && rv <= 1e-5, `${g.name}: exp_avg ${rm.toExponential(2)}, exp_avg_sq ${rv.toExponential(2)} from torch`);
      });
      // the check can fail: the same run with L2 decay folded into the gradient (Adam, not AdamW) is far off
      const coupled = fixtureGroups();
      const adam = fixtureOptimizer(coupled.map((g) => ({ ...g, weightDecay: 0 })), backend);
      for (const st of fx.steps) {
        adam.groups.forEach((g, i) => g.grads.set(st.grads[g.name].map((x, j) => x + (coupled[i].weightDecay ?? 0) * g.params[j])));
        adam.clipGradNorm(fx.max_norm);
        adam.update(st.lr[BASE_GROUP]);
      }
      assert.ok(worstRel(adam.groups[0].params, fx.steps[fx.steps.length - 1].params_after.w1, 1e-3) > 1e-4);
    });

    test('saved and resumed mid-run (training state file), it still ends on the torch dump', () => {
      const dir = mkdtempSync(join(tmpdir(), 'loraroute-adamw-'));
      const first = fixtureOptimizer(fixtureGroups(), backend);
      runSteps(first, 0, 3);
      const pos: LoopPosition = { epoch: 0, batchInEpoch: 3, step: 3, bestValLoss: null, bestStep: null, finished: false };
      saveTrainingState(dir, 'adamw-fixture', first, pos);
      const resumed = fixtureOptimizer(fixtureGroups(), backend); // fresh buffers at the initial values
      const { position } = loadTrainingState(dir, 'adamw-fixture', resumed);
      assert.deepEqual(position, pos);
      assert.equal(resumed.step, 3);
      runSteps(resumed, 3, fx.steps.length);
      // without the moments and step count, the continuation leaves the dump (so the check above can fail)
      const cold = fixtureOptimizer(fixtureGroups(), backend);
      cold.groups.forEach((g, i) => g.params.set(first.groups[i].params));
      assert.throws(() => runSteps(cold, 3, fx.steps.length), /differ from torch/);
    });

    test('decay is decoupled: with zero gradients the parameters only shrink by lr * wd', () => {
      const q = Float32Array.of(2, -4), gq = new Float32Array(2);
      const o2 = new AdamW([{ name: 'q', params: q, grads: gq }], backend, { weightDecay: 0.5 });
      o2.update(0.1);
      assert.ok(Math.abs(q[0] - 2 * 0.95) < 1e-6 && Math.abs(q[1] + 4 * 0.95) < 1e-6, `${q}`);
    });

    test('clipGradNorm scales the global norm down to maxNorm, returns the norm before', () => {
      const g1 = Float32Array.of(3, 0, 0), g2 = Float32Array.of(0, 4);
      const opt = new AdamW([{ name: 'a', params: new Float32Array(3), grads: g1 }, { name: 'b', params: new Float32Array(2), grads: g2 }], backend, { weightDecay: 0 });
      assert.ok(Math.abs(opt.clipGradNorm(1) - 5) < 1e-6);
      const norm = Math.hypot(...g1, ...g2);
      assert.ok(Math.abs(norm - 1) < 1e-5, `norm after clipping ${norm}`);
      assert.ok(Math.abs(g1[0] / g2[1] - 0.75) < 1e-6, 'direction kept');
      // below the limit, or with limit 0: untouched
      g1.set([0.3, 0, 0]); g2.set([0, 0.4]);
      assert.ok(Math.abs(opt.clipGradNorm(1) - 0.5) < 1e-6);
      assert.deepEqual([...g1, ...g2], [0.3, 0, 0, 0, 0.4].map(Math.fround));
      g1.set([30, 0, 0]);
      assert.ok(Math.abs(opt.clipGradNorm(0) - Math.hypot(30, 0.4)) < 1e-4);
      assert.equal(g1[0], 30);
      opt.zeroGrads();
      assert.ok([...g1, ...g2].every((x) => x === 0));
    });
  });
}
