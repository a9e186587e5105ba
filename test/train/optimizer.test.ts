import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW } from '../../src/train/optimizer.js';
import { makeRng } from '../../src/model/sampling.js';
import { availableBackends } from '../helpers/golden.js';
import { gaussian } from '../helpers/micro.js';

const randn = (n: number, seed: number, std = 1) => {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => std * gaussian(rng));
};

/** torch.optim.AdamW, written out in float64: decoupled decay, then the bias-corrected Adam step. */
function referenceAdamW(p: Float64Array, grads: Float32Array[], o: { lr: number[]; wd: number; b1: number; b2: number; eps: number }): Float64Array {
  const m = new Float64Array(p.length), v = new Float64Array(p.length);
  const x = Float64Array.from(p);
  grads.forEach((g, k) => {
    const t = k + 1;
    const lr = o.lr[k];
    for (let i = 0; i < x.length; i++) {
      x[i] *= 1 - lr * o.wd;
      m[i] = o.b1 * m[i] + (1 - o.b1) * g[i];
      v[i] = o.b2 * v[i] + (1 - o.b2) * g[i] * g[i];
      const mh = m[i] / (1 - o.b1 ** t);
      const vh = v[i] / (1 - o.b2 ** t);
      x[i] -= (lr * mh) / (Math.sqrt(vh) + o.eps);
    }
  });
  return x;
}

for (const backend of availableBackends()) {
  describe(`AdamW and clipping [${backend.name}]`, () => {
    test('three steps equal PyTorch AdamW semantics computed in float64 (two groups, own rate scale and decay)', () => {
      const n1 = 37, n2 = 11;
      const p1 = randn(n1, 1), p2 = randn(n2, 2, 0.5);
      const g1 = new Float32Array(n1), g2 = new Float32Array(n2);
      const init1 = Float64Array.from(p1), init2 = Float64Array.from(p2);
      const opt = new AdamW([
        { name: 'a', params: p1, grads: g1 },
        { name: 'b', params: p2, grads: g2, lrScale: 0.5, weightDecay: 0 },
      ], backend, { weightDecay: 0.1, beta1: 0.8, beta2: 0.95, eps: 1e-6 });
      const lrs = [1e-2, 2e-2, 5e-3];
      const grads1: Float32Array[] = [], grads2: Float32Array[] = [];
      for (let k = 0; k < 3; k++) {
        grads1.push(randn(n1, 10 + k));
        grads2.push(randn(n2, 20 + k, 3));
        g1.set(grads1[k]);
        g2.set(grads2[k]);
        opt.update(lrs[k]);
        assert.ok(g1.every((x) => x === 0) && g2.every((x) => x === 0), 'update clears the gradients');
      }
      assert.equal(opt.step, 3);
      const want1 = referenceAdamW(init1, grads1, { lr: lrs, wd: 0.1, b1: 0.8, b2: 0.95, eps: 1e-6 });
      const want2 = referenceAdamW(init2, grads2, { lr: lrs.map((x) => x * 0.5), wd: 0, b1: 0.8, b2: 0.95, eps: 1e-6 });
      for (let i = 0; i < n1; i++) assert.ok(Math.abs(p1[i] - want1[i]) < 1e-6 * (1 + Math.abs(want1[i])), `a[${i}] ${p1[i]} vs ${want1[i]}`);
      for (let i = 0; i < n2; i++) assert.ok(Math.abs(p2[i] - want2[i]) < 1e-6 * (1 + Math.abs(want2[i])), `b[${i}] ${p2[i]} vs ${want2[i]}`);
      // decay is decoupled: with zero gradients the parameters only shrink by lr * wd
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
