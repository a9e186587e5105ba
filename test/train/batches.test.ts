import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collate, epochBatches, evalBatches, shuffledOrder } from '../../src/train/batches.js';
import type { Example } from '../../src/train/examples.js';

const ex = (index: number, ids: number[], promptLength: number): Example => ({
  index, ids, promptLength, labels: ids.map((id, t) => (t < promptLength ? -100 : id)),
});

test('collate right-pads ids with padId, mask 0 and target -100 on padding; targets are the shifted labels', () => {
  const a = ex(0, [10, 11, 12, 13, 14], 2);
  const b = ex(1, [20, 21, 22], 1);
  const eb = collate([a, b], 99);
  assert.equal(eb.batch.B, 2);
  assert.equal(eb.batch.T, 5);
  assert.deepEqual(Array.from(eb.batch.ids), [10, 11, 12, 13, 14, 20, 21, 22, 99, 99]);
  assert.deepEqual(Array.from(eb.batch.keyMask as Int32Array), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  // row a: labels [-100, -100, 12, 13, 14] -> targets [-100, 12, 13, 14, -100]
  // row b: labels [-100, 21, 22, pad, pad] -> targets [21, 22, -100, -100, -100]
  assert.deepEqual(Array.from(eb.targets), [-100, 12, 13, 14, -100, 21, 22, -100, -100, -100]);
  assert.deepEqual(eb.examples, [a, b]);
});

test('epochBatches: a permutation, batches of batchSize (last one shorter), deterministic per (seed, epoch)', () => {
  const items = Array.from({ length: 23 }, (_, i) => i);
  const e0 = epochBatches(items, 5, 7, 0);
  assert.deepEqual(e0.map((b) => b.length), [5, 5, 5, 5, 3]);
  assert.deepEqual(e0.flat().sort((x, y) => x - y), items);
  assert.deepEqual(epochBatches(items, 5, 7, 0), e0);
  assert.notDeepEqual(epochBatches(items, 5, 7, 1).flat(), e0.flat(), 'another epoch, another order');
  assert.notDeepEqual(epochBatches(items, 5, 8, 0).flat(), e0.flat(), 'another seed, another order');
  assert.notDeepEqual(e0.flat(), items, 'shuffled');
  // the same order whatever the batch size (so accumulation of small batches sees the same examples)
  assert.deepEqual(epochBatches(items, 2, 7, 0).flat(), e0.flat());
  const o = shuffledOrder(1000, 3);
  assert.deepEqual([...o].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
});

test('evalBatches: every item once, grouped by length', () => {
  const items = [5, 1, 4, 1, 3, 9, 2].map((n, i) => ({ ids: new Array<number>(n).fill(0), i }));
  const bs = evalBatches(items, 3);
  assert.deepEqual(bs.map((b) => b.map((x) => x.ids.length)), [[1, 1, 2], [3, 4, 5], [9]]);
  assert.deepEqual(bs.flat().map((x) => x.i).sort(), [0, 1, 2, 3, 4, 5, 6]);
});
