import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouterMLP, routerTensorSpecs } from '../../src/router/mlp.js';
import { resolveRouterConfig, type RouterConfig } from '../../src/router/config.js';
import { LoraRouteError } from '../../src/errors.js';
import { fdAt, randn, worstRatio } from './helpers.js';

const B = 4;

/** L = Σ w·logits + Σ u·score: its gradient w.r.t. logits is w and w.r.t. score is u. */
function linearLoss(net: RouterMLP, x: Float32Array, w: Float32Array, u: Float32Array, rngSeed: number): number {
  const c = net.forward(x, B, true, rngSeed);
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i] * c.logits[i];
  if (c.score) for (let b = 0; b < B; b++) s += u[b] * c.score[b];
  return s;
}

function checkGradients(cfg: RouterConfig, seed: number, eps: number): void {
  const net = new RouterMLP(cfg, seed);
  const K = cfg.numExperts;
  const x = randn(B * cfg.inputDim, seed + 1);
  const w = randn(B * K, seed + 2);
  const u = randn(B, seed + 3);
  const rngSeed = 77; // fixed dropout mask for both forward passes of every difference
  const cache = net.forward(x, B, true, rngSeed);
  net.zeroGrad();
  const dx = net.backward(cache, w, { dScore: u, needDx: true });
  assert.ok(dx);
  const f = (): number => linearLoss(net, x, w, u, rngSeed);
  const fdP = Array.from(net.params, (_, i) => fdAt(net.params, i, f, eps));
  const wp = worstRatio(fdP, net.grads, 2e-3, 2e-2);
  assert.ok(wp.ratio <= 1, `param grad mismatch at ${wp.at}: fd ${fdP[wp.at]} vs ${net.grads[wp.at]}`);
  const fdX = Array.from(x, (_, i) => fdAt(x, i, f, eps));
  const wx = worstRatio(fdX, dx, 2e-3, 2e-2);
  assert.ok(wx.ratio <= 1, `dx mismatch at ${wx.at}: fd ${fdX[wx.at]} vs ${dx[wx.at]}`);
  // The check must be able to fail: a wrong gradient is caught.
  const wrong = Float32Array.from(net.grads);
  wrong[0] += 0.05;
  assert.ok(worstRatio(fdP, wrong, 2e-3, 2e-2).ratio > 1);
}

test('router backward matches finite differences for every parameter and the input (GELU, dropout, score head)', () => {
  checkGradients({ inputDim: 6, hiddenDim: 9, numExperts: 3, dropout: 0.3, activation: 'gelu', scoreHead: true }, 11, 1e-2);
});

test('router backward matches finite differences with ReLU and no score head', () => {
  checkGradients({ inputDim: 5, hiddenDim: 8, numExperts: 4, dropout: 0, activation: 'relu' }, 23, 1e-3); // small step: stay off the kinks
});

test('backward accumulates into grads and returns dx only when asked', () => {
  const net = new RouterMLP({ inputDim: 3, hiddenDim: 4, numExperts: 2, dropout: 0 }, 1);
  const x = randn(B * 3, 5);
  const c = net.forward(x, B, false);
  const d = randn(B * 2, 6);
  assert.equal(net.backward(c, d), null);
  const once = Float32Array.from(net.grads);
  net.backward(c, d);
  for (let i = 0; i < once.length; i++) assert.ok(Math.abs(net.grads[i] - 2 * once[i]) <= 1e-6 * (1 + Math.abs(once[i])));
  net.zeroGrad();
  assert.ok(net.grads.every((v) => v === 0));
});

test('probabilities are a softmax of the logits', () => {
  const net = new RouterMLP({ inputDim: 4, hiddenDim: 16, numExperts: 3, dropout: 0.1 }, 3);
  const c = net.forward(randn(B * 4, 9, 3), B, false);
  for (let b = 0; b < B; b++) {
    const row = c.probs.subarray(b * 3, b * 3 + 3);
    assert.ok(Math.abs(row[0] + row[1] + row[2] - 1) < 1e-6);
    assert.ok(Math.abs(Math.log(row[1] / row[0]) - (c.logits[b * 3 + 1] - c.logits[b * 3])) < 1e-4);
  }
});

test('dropout is on in training and off in evaluation', () => {
  const cfg = { inputDim: 5, hiddenDim: 256, numExperts: 3, dropout: 0.5 };
  const net = new RouterMLP(cfg, 4);
  const x = randn(B * 5, 8);
  const ev1 = net.forward(x, B, false);
  const ev2 = net.forward(x, B, false);
  assert.equal(ev1.mask, null);
  assert.deepEqual(ev1.logits, ev2.logits);
  const tr = net.forward(x, B, true, 123);
  assert.ok(tr.mask);
  const zeros = tr.mask.filter((v) => v === 0).length;
  assert.ok(zeros > 0.4 * tr.mask.length && zeros < 0.6 * tr.mask.length, `dropped ${zeros} of ${tr.mask.length}`);
  assert.ok(tr.mask.every((v) => v === 0 || v === 2)); // inverted dropout: kept units scaled by 1/(1-p)
  assert.notDeepEqual(tr.logits, ev1.logits);
  // Dropped units are zero in the hidden layer.
  for (let i = 0; i < tr.mask.length; i++) if (tr.mask[i] === 0) assert.ok(tr.hidden[i] === 0);
  // p = 0: training equals evaluation.
  const net0 = new RouterMLP({ ...cfg, dropout: 0 }, 4);
  assert.deepEqual(net0.forward(x, B, true, 5).logits, net0.forward(x, B, false).logits);
});

test('a seed reproduces parameters and dropout masks; another seed does not', () => {
  const cfg = { inputDim: 7, hiddenDim: 32, numExperts: 3, dropout: 0.2 };
  const a = new RouterMLP(cfg, 42);
  const b = new RouterMLP(cfg, 42);
  const c = new RouterMLP(cfg, 43);
  assert.deepEqual(a.params, b.params);
  assert.notDeepEqual(a.params, c.params);
  const x = randn(B * 7, 1);
  assert.deepEqual(a.forward(x, B, true, 9).logits, b.forward(x, B, true, 9).logits);
  assert.notDeepEqual(a.forward(x, B, true, 9).mask, a.forward(x, B, true, 10).mask);
  // Without an explicit rngSeed, masks follow (constructor seed, call count).
  const a2 = new RouterMLP(cfg, 42);
  const b2 = new RouterMLP(cfg, 42);
  const m1 = a2.forward(x, B, true).mask;
  assert.deepEqual(m1, b2.forward(x, B, true).mask);
  assert.notDeepEqual(m1, a2.forward(x, B, true).mask);
  // Init follows torch.nn.Linear: |w| <= 1/sqrt(fan_in).
  assert.ok(a.p.fc1W.every((v) => Math.abs(v) <= 1 / Math.sqrt(7)));
  assert.ok(a.p.fc2W.every((v) => Math.abs(v) <= 1 / Math.sqrt(32)));
});

test('parameter layout: weights first (decayed), then biases, with named views', () => {
  const cfg = resolveRouterConfig({ inputDim: 10, hiddenDim: 256, numExperts: 3, dropout: 0.1, scoreHead: true });
  const specs = routerTensorSpecs(cfg);
  assert.deepEqual(specs.map((s) => [s.name, s.shape, s.decay]), [
    ['fc1.weight', [256, 10], true], ['fc2.weight', [3, 256], true], ['score.weight', [1, 256], true],
    ['fc1.bias', [256], false], ['fc2.bias', [3], false], ['score.bias', [1], false],
  ]);
  const net = new RouterMLP(cfg, 0);
  assert.equal(net.numParams, 2560 + 768 + 256 + 256 + 3 + 1);
  assert.equal(net.decayCount, 2560 + 768 + 256);
  net.p.fc2B[1] = 5;
  assert.equal(net.tensor('fc2.bias')[1], 5);
  assert.throws(() => net.tensor('nope'), LoraRouteError);
});

test('bad configs and shapes are LoraRouteErrors naming the problem', () => {
  assert.throws(() => new RouterMLP({ inputDim: 0, hiddenDim: 4, numExperts: 3, dropout: 0 }), /inputDim/);
  assert.throws(() => new RouterMLP({ inputDim: 2, hiddenDim: 4, numExperts: 3, dropout: 1 }), /dropout/);
  assert.throws(() => new RouterMLP({ inputDim: 2, hiddenDim: 4, numExperts: 3, dropout: 0, activation: 'tanh' as 'gelu' }), /activation/);
  const net = new RouterMLP({ inputDim: 2, hiddenDim: 4, numExperts: 3, dropout: 0 });
  assert.throws(() => net.forward(new Float32Array(5), 2, false), (e: unknown) => e instanceof LoraRouteError && /expected B\*inputDim/.test(e.message));
  const c = net.forward(new Float32Array(4), 2, false);
  assert.throws(() => net.backward(c, new Float32Array(5)), /dLogits/);
});
