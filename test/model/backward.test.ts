/**
 * Backward of the whole micro model into LoRA parameters and mixture gates, checked by finite differences
 * of the loss (directional derivatives, float32 forward passes, relative error).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { shiftTargets, type Batch, type ForwardOptions } from '../../src/model/gpt2.js';
import { LoraMixture } from '../../src/lora/mixture.js';
import { makeRng } from '../../src/model/sampling.js';
import { availableBackends } from '../helpers/golden.js';
import { gaussian, maxAbs, microAdapter, microModel, randomIds } from '../helpers/micro.js';

/** Length of the parameter step along a unit direction (the coarse step; Richardson also takes half of it). */
const STEP = 0.05;
/** Allowed |fd - predicted| relative to max(|predicted|, FLOOR) (FLOOR: float32 noise of the loss differences). */
const TOL = 2e-3;
const FLOOR = 5e-4;

/** A padded batch: row 0 has `len0` real tokens of T, row 1 is full. */
function makeBatch(T: number, len0: number, seed: number): { batch: Batch; targets: Int32Array } {
  const ids = Int32Array.from(randomIds(2 * T, seed));
  const keyMask = Int32Array.from({ length: 2 * T }, (_, i) => (i < T && i >= len0 ? 0 : 1));
  const labels = ids.map((id, i) => (keyMask[i] ? id : -100));
  return { batch: { ids, B: 2, T, keyMask: len0 < T ? keyMask : null }, targets: shiftTargets(labels, 2, T) };
}

/**
 * Central difference L(x + h d) - L(x - h d) over the predicted grad · (x+ - x-) (the perturbation float32
 * actually stored), for step h along d.
 */
function ratioAt(x: Float32Array, grad: Float32Array, loss: () => number, d: Float64Array, h: number): { ratio: number; predicted: number } {
  const x0 = x.slice();
  for (let i = 0; i < x.length; i++) x[i] = x0[i] + h * d[i];
  const xp = x.slice();
  const lp = loss();
  for (let i = 0; i < x.length; i++) x[i] = x0[i] - h * d[i];
  const lm = loss();
  let predicted = 0;
  for (let i = 0; i < x.length; i++) predicted += grad[i] * (xp[i] - x[i]);
  x.set(x0);
  return { ratio: (lp - lm) / predicted, predicted };
}

/** Scales v to unit length in place (and returns it). */
function unit(v: Float64Array): Float64Array {
  let n2 = 0;
  for (const x of v) n2 += x * x;
  const n = Math.sqrt(n2);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

/**
 * Checks the gradient along random unit directions d over `x` (or the entries `mask` selects): the central
 * difference with Richardson extrapolation over steps STEP and STEP/2 (which cancels the h^2 error term)
 * against grad · d.
 */
function checkDirectional(what: string, x: Float32Array, grad: Float32Array, loss: () => number, seed: number, directions = 2, mask?: (i: number) => boolean): void {
  const rng = makeRng(seed);
  for (let k = 0; k < directions; k++) {
    const d = unit(Float64Array.from(x, (_, i) => (!mask || mask(i) ? gaussian(rng) : 0)));
    if (k === 0) {
      // the first direction leans on the gradient itself, so the change is well above float32 noise
      const g = unit(Float64Array.from(grad, (v, i) => (!mask || mask(i) ? v : 0)));
      for (let i = 0; i < d.length; i++) d[i] += g[i];
      unit(d);
    }
    const coarse = ratioAt(x, grad, loss, d, STEP);
    const fine = ratioAt(x, grad, loss, d, STEP / 2);
    const ratio = (4 * fine.ratio - coarse.ratio) / 3;
    const err = (Math.abs(ratio - 1) * Math.abs(fine.predicted)) / Math.max(Math.abs(fine.predicted), FLOOR);
    if (k === 0) assert.ok(Math.abs(fine.predicted) > 4 * FLOOR, `${what}: predicted change ${fine.predicted} too small to test anything`);
    assert.ok(err < TOL, `${what}, direction ${k}: finite differences / gradient = ${ratio} (predicted change ${fine.predicted.toExponential(3)}, error ${err.toExponential(2)})`);
  }
}

for (const backend of availableBackends()) {
  describe(`LoRA gradients of the whole model by finite differences [${backend.name}]`, () => {
    const model = microModel({ backend, std: 0.1 });
    const cfg = model.config;
    const a1 = microAdapter(cfg, { targetModules: ['c_attn', 'c_proj', 'c_fc'], r: 4, loraAlpha: 8 }, 11, 0.2, 'one');
    const a2 = microAdapter(cfg, { targetModules: ['attn.c_attn', 'mlp.c_proj'], r: 2, loraAlpha: 4, useRslora: true, loraDropout: 0.3 }, 12, 0.2, 'two');

    /** Gradients from one backward, and a loss function for finite differences (same pass settings). */
    function gradsAndLoss(mix: LoraMixture, b: { batch: Batch; targets: Int32Array }, opts: ForwardOptions, lossScale = 1) {
      const setGates = () => mix.setGates(mix.gates, b.batch.B); // keeps the gates, clears gateGrads
      for (const a of mix.adapters) a.zeroGrads();
      setGates();
      const res = model.forward(b.batch, { ...opts, train: true, hook: mix, targets: b.targets });
      model.backward(lossScale);
      const loss = () => model.forward(b.batch, { ...opts, train: true, hook: mix, targets: b.targets }).loss * lossScale;
      return { loss, res };
    }

    const cases: Array<{ name: string; len0: number; opts: ForwardOptions }> = [
      { name: 'full rows, dropout off', len0: 9, opts: { dropout: false } },
      { name: 'padded row with key mask, dropout off', len0: 5, opts: { dropout: false } },
      { name: 'padded row, dropouts on (fixed seed)', len0: 6, opts: { dropout: true, seed: 1234 } },
    ];
    for (const c of cases) {
      test(`one adapter: ${c.name}`, () => {
        const mix = new LoraMixture([a1], backend);
        mix.trainable = [true];
        const b = makeBatch(9, c.len0, 5);
        mix.useOnly(0, 2);
        const { loss } = gradsAndLoss(mix, b, c.opts);
        checkDirectional('all parameters', a1.params, a1.grads, loss, 1);
        // each site's A and B alone
        for (const s of a1.sites) {
          const aOff = s.A.byteOffset / 4 - a1.params.byteOffset / 4;
          const bOff = s.B.byteOffset / 4 - a1.params.byteOffset / 4;
          checkDirectional(`${s.name} lora_A`, a1.params, a1.grads, loss, 2, 1, (i) => i >= aOff && i < aOff + s.A.length);
          checkDirectional(`${s.name} lora_B`, a1.params, a1.grads, loss, 3, 1, (i) => i >= bOff && i < bOff + s.B.length);
        }
      });
    }

    test('two adapters mixed by gates: parameter gradients of both and dL/dgates', () => {
      for (const [name, opts] of [['dropout off', { dropout: false }], ['dropouts on', { dropout: true, seed: 99 }]] as const) {
        const mix = new LoraMixture([a1, a2], backend);
        mix.trainable = [true, true];
        mix.trackGateGrads = true;
        const b = makeBatch(8, 6, 6);
        mix.setGates([0.3, 0.7, 0.6, 0.25], 2);
        const { loss } = gradsAndLoss(mix, b, opts);
        const gateGrads = Float64Array.from(mix.gateGrads);
        checkDirectional(`${name}: adapter one`, a1.params, a1.grads, loss, 4);
        checkDirectional(`${name}: adapter two`, a2.params, a2.grads, loss, 5);
        // dL/dg by central differences, one gate at a time
        const g0 = Float32Array.from(mix.gates);
        for (let i = 0; i < g0.length; i++) {
          const at = (v: number) => { const g = g0.slice(); g[i] = v; mix.setGates(g, 2); return loss(); };
          const cd = (h: number) => (at(g0[i] + h) - at(g0[i] - h)) / (2 * h);
          const fd = (4 * cd(0.01) - cd(0.02)) / 3;
          const err = Math.abs(fd - gateGrads[i]) / Math.abs(fd);
          assert.ok(err < 2e-3, `${name}: dL/dg[${i}] = ${gateGrads[i]}, finite differences ${fd}`);
          assert.ok(Math.abs(fd) > 1e-3, `dL/dg[${i}] = ${fd} too small to test anything`);
        }
        mix.setGates(g0, 2);
      }
    });

    test('only trainable adapters get gradients; the gradient reaches them through frozen ones; lossScale scales', () => {
      const mix = new LoraMixture([a1, a2], backend);
      mix.trainable = [false, true];
      const b = makeBatch(8, 8, 7);
      mix.setGates([0.5, 0.5, 1, 1], 2);
      const { loss } = gradsAndLoss(mix, b, { dropout: false });
      assert.equal(maxAbs(a1.grads), 0);
      checkDirectional('adapter two (adapter one frozen)', a2.params, a2.grads, loss, 8);
      const full = a2.grads.slice();
      gradsAndLoss(mix, b, { dropout: false }, 0.25);
      for (let i = 0; i < full.length; i++) assert.ok(Math.abs(a2.grads[i] - 0.25 * full[i]) <= 1e-6 * maxAbs(full));
      // the base stays frozen
      const before = model.weights.buffer.slice();
      gradsAndLoss(mix, b, { dropout: true, seed: 3 });
      assert.deepEqual(model.weights.buffer, before);
    });

    test('gradients accumulate over backward calls (micro-batches)', () => {
      const mix = new LoraMixture([a1], backend);
      mix.trainable = [true];
      const b = makeBatch(6, 6, 8);
      mix.useOnly(0, 2);
      a1.zeroGrads();
      model.forward(b.batch, { train: true, dropout: false, hook: mix, targets: b.targets });
      model.backward();
      const once = a1.grads.slice();
      model.forward(b.batch, { train: true, dropout: false, hook: mix, targets: b.targets });
      model.backward();
      for (let i = 0; i < once.length; i++) assert.ok(Math.abs(a1.grads[i] - 2 * once[i]) <= 1e-6 * maxAbs(once));
      assert.throws(() => model.backward(), /call forward\(\{ train: true, targets \}\) first/);
    });
  });
}
