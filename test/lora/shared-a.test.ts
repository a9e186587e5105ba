import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoraAdapter } from '../../src/lora/adapter.js';
import { SharedA } from '../../src/lora/shared-a.js';
import { defaultLoraConfig } from '../../src/lora/config.js';
import { balancedOracleChoices, oracleChoices } from '../../src/system/oracle.js';
import { readGPT2Config } from '../../src/model/config.js';
import { bundledModelDir } from '../../src/config/paths.js';

const model = readGPT2Config(bundledModelDir());
const adapter = (name: string, seed: number) => {
  const a = new LoraAdapter(defaultLoraConfig({ r: 2, loraAlpha: 4, targetModules: ['c_attn'] }), model, name);
  a.initialize(seed);
  for (const s of a.sites) s.B.forEach((_, j) => { s.B[j] = (seed + j) / 100; });
  return a;
};

test('SharedA: tie sets every A to the mean, gatherGrads sums the A gradients into the owner, sync copies it back', () => {
  const ads = [adapter('x', 1), adapter('y', 2), adapter('z', 3)];
  const want = Array.from(ads[0].sites[0].A, (_, j) => (ads[0].sites[0].A[j] + ads[1].sites[0].A[j] + ads[2].sites[0].A[j]) / 3);
  const bBefore = ads.map((a) => Array.from(a.sites[0].B));
  const tied = new SharedA(ads);
  tied.tie();
  for (const a of ads) assert.deepEqual(Array.from(a.sites[0].A), Array.from(Float32Array.from(want)));
  assert.deepEqual(ads.map((a) => Array.from(a.sites[0].B)), bBefore, 'B untouched');
  ads.forEach((a, k) => a.sites[0].gradA.fill(k + 1));
  ads.forEach((a, k) => a.sites[0].gradB.fill(10 * (k + 1)));
  tied.gatherGrads();
  assert.ok(ads[0].sites[0].gradA.every((g) => g === 6), 'owner holds 1 + 2 + 3');
  assert.ok(ads.slice(1).every((a) => a.sites[0].gradA.every((g) => g === 0)), 'the others are zeroed');
  assert.ok(ads.every((a, k) => a.sites[0].gradB.every((g) => g === 10 * (k + 1))), 'B gradients stay per expert');
  ads[0].sites[0].A.fill(0.5);
  tied.sync();
  assert.ok(ads.every((a) => a.sites[0].A.every((v) => v === 0.5)));
});

test('SharedA refuses adapters of different layouts', () => {
  const other = new LoraAdapter(defaultLoraConfig({ r: 4, loraAlpha: 4, targetModules: ['c_attn'] }), model, 'r4');
  assert.throws(() => new SharedA([adapter('x', 1), other]), /layout/);
});

test('balancedOracleChoices: an example goes where it gains most relative to its mean, within ceil(N / K) per expert', () => {
  const ex = (losses: number[]) => losses.map((l, i) => ({ index: i, lossSum: l, tokens: 1 }));
  // expert 0 is best on every example (a plain argmin gives it all); relative preference splits them
  const perExpert = [ex([1.0, 1.0, 2.0, 2.0]), ex([1.1, 1.5, 2.05, 2.9]), ex([1.5, 1.1, 2.9, 2.05])];
  const labels = balancedOracleChoices(perExpert);
  const sizes = [0, 1, 2].map((k) => labels.filter((l) => l === k).length);
  assert.ok(sizes.every((s) => s <= 2), `sizes ${sizes}`);
  // preferences (mean − loss): ex2 and ex3 prefer expert 0 by 0.317, more than ex0 (0.2) and ex1 (0.2), so 0 fills
  // with them; ex0 then goes to its next best, 1, and ex1 to 2
  assert.deepEqual(Array.from(labels), [1, 2, 0, 0]);
  assert.deepEqual(Array.from(oracleChoices(perExpert)), [0, 0, 0, 0], 'the plain oracle hands everything to the best copy');
});
