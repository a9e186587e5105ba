import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRateAt, type ScheduleOptions } from '../../src/train/schedule.js';

const rates = (o: ScheduleOptions) => Array.from({ length: o.totalSteps }, (_, i) => learningRateAt(i + 1, o));
const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('warm-up rises linearly from peak/W to the peak', () => {
  for (const kind of ['cosine', 'linear', 'constant'] as const) {
    const lr = rates({ peak: 2e-4, warmupSteps: 4, totalSteps: 20, kind, minRatio: 0.1 });
    for (let s = 1; s <= 4; s++) near(lr[s - 1], (2e-4 * s) / 4, `${kind} step ${s}`);
  }
});

test('cosine and linear decay reach minRatio * peak exactly at the last step and never go below it before', () => {
  for (const kind of ['cosine', 'linear'] as const) {
    for (const minRatio of [0, 0.1, 0.5]) {
      for (const [warmupSteps, totalSteps] of [[0, 10], [3, 10], [10, 100], [0, 1000], [99, 100]]) {
        const o = { peak: 1e-3, warmupSteps, totalSteps, kind, minRatio };
        const lr = rates(o);
        const floor = 1e-3 * minRatio;
        const what = `${kind} minRatio ${minRatio} warmup ${warmupSteps} total ${totalSteps}`;
        near(lr[totalSteps - 1], floor, `${what}: last step`);
        for (let s = warmupSteps + 1; s < totalSteps; s++) assert.ok(lr[s - 1] > floor, `${what}: step ${s} has ${lr[s - 1]}, at or below the floor ${floor} before the end`);
        assert.ok(lr.every((x) => x > 0 || minRatio === 0), `${what}: a zero rate`);
        // after warm-up the rate never rises
        for (let s = warmupSteps + 1; s < totalSteps; s++) assert.ok(lr[s] <= lr[s - 1] + 1e-18, `${what}: rises at step ${s + 1}`);
        assert.ok(lr.every((x) => x <= 1e-3 + 1e-15 && x >= 0));
      }
    }
  }
});

test('cosine and linear follow their formulas after warm-up', () => {
  const o = { peak: 1, warmupSteps: 2, totalSteps: 12, kind: 'cosine' as const, minRatio: 0.2 };
  // progress = (step - warmup) / (total - warmup)
  near(learningRateAt(7, o), 0.2 + 0.8 * 0.5 * (1 + Math.cos(Math.PI * 0.5)), 'cosine midpoint');
  near(learningRateAt(3, o), 0.2 + 0.8 * 0.5 * (1 + Math.cos(Math.PI * 0.1)), 'cosine first decay step');
  near(learningRateAt(7, { ...o, kind: 'linear' }), 0.2 + 0.8 * 0.5, 'linear midpoint');
});

test('the original bug: with minRatio 0 the rate is still positive on every step before the last', () => {
  const lr = rates({ peak: 3e-4, warmupSteps: 100, totalSteps: 1500, kind: 'cosine', minRatio: 0 });
  const firstZero = lr.findIndex((x) => x <= 0);
  assert.equal(firstZero, 1499, `rate reaches zero at step ${firstZero + 1} of 1500`);
  assert.ok(lr[1498] > 0);
});

test('constant holds the peak after warm-up', () => {
  const lr = rates({ peak: 5e-4, warmupSteps: 3, totalSteps: 10, kind: 'constant', minRatio: 0.1 });
  assert.deepEqual(lr.slice(3), new Array(7).fill(5e-4));
  assert.deepEqual(rates({ peak: 5e-4, warmupSteps: 0, totalSteps: 4, kind: 'constant', minRatio: 0 }), [5e-4, 5e-4, 5e-4, 5e-4]);
});

test('warm-up as long as the run (or longer) is shortened so the run still decays to its floor', () => {
  for (const warmupSteps of [5, 6, 50]) {
    const lr = rates({ peak: 1, warmupSteps, totalSteps: 5, kind: 'cosine', minRatio: 0.1 });
    // warm-up takes 4 steps, the last step is at the floor
    assert.deepEqual(lr.slice(0, 4), [0.25, 0.5, 0.75, 1]);
    near(lr[4], 0.1, `warmup ${warmupSteps}: last step`);
    assert.ok(lr.every(Number.isFinite));
  }
  // a one-step run: no warm-up division by zero
  const one = learningRateAt(1, { peak: 1, warmupSteps: 10, totalSteps: 1, kind: 'linear', minRatio: 0.1 });
  assert.ok(Number.isFinite(one) && one >= 0.1 - 1e-12);
});
