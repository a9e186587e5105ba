import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, adamwStep, clipGradNorm } from '../../src/router/adamw.js';

test('one AdamW step matches the hand-computed PyTorch update', () => {
  const p = new Float32Array([1, -2]);
  const g = new Float32Array([0.5, 0]);
  const m = new Float32Array(2);
  const v = new Float32Array(2);
  adamwStep(p, g, m, v, 0.1, 0.9, 0.999, 1e-8, 0.01, 1);
  // m̂ = 0.5, v̂ = 0.25 → step 0.1·0.5/0.5 = 0.1; decay 1 - 0.1·0.01 = 0.999.
  assert.ok(Math.abs(p[0] - (0.999 - 0.1)) < 1e-6, String(p[0]));
  assert.ok(Math.abs(p[1] - -2 * 0.999) < 1e-6, String(p[1])); // zero gradient: decay only
  assert.ok(Math.abs(m[0] - 0.05) < 1e-7 && Math.abs(v[0] - 0.00025) < 1e-9);
  // Second step: bias correction with step 2.
  adamwStep(p, g, m, v, 0.1, 0.9, 0.999, 1e-8, 0, 2);
  const m2 = 0.9 * 0.05 + 0.05;
  const v2 = 0.999 * 0.00025 + 0.00025;
  const expected = 0.899 - (0.1 * (m2 / (1 - 0.81))) / (Math.sqrt(v2 / (1 - 0.999 ** 2)) + 1e-8);
  assert.ok(Math.abs(p[0] - expected) < 1e-6, `${p[0]} vs ${expected}`);
  assert.throws(() => adamwStep(p, g, m, v, 0.1, 0.9, 0.999, 1e-8, 0, 0), /step/);
});

test('AdamW class: biases past decayCount take no weight decay; step counts', () => {
  const opt = new AdamW(4, { lr: 0.1, weightDecay: 0.5, decayCount: 2 });
  const p = new Float32Array([1, 1, 1, 1]);
  opt.update(p, new Float32Array(4));
  assert.deepEqual(Array.from(p), [0.949999988079071, 0.949999988079071, 1, 1]);
  assert.equal(opt.step, 1);
});

test('clipGradNorm scales down only above the threshold and returns the norm', () => {
  const g = new Float32Array([3, 4]);
  assert.equal(clipGradNorm(g, 10), 5);
  assert.deepEqual(Array.from(g), [3, 4]);
  assert.equal(clipGradNorm(g, 1), 5);
  assert.ok(Math.abs(Math.hypot(g[0], g[1]) - 1) < 1e-5);
});
