import type { Batch } from '../model/gpt2.js';
import { shiftTargets } from '../model/gpt2.js';
import { makeRng } from '../model/sampling.js';
import type { Example } from './examples.js';

/** A padded batch of examples, ready for GPT2.forward. */
export interface ExampleBatch {
  batch: Batch;
  /** Next-token targets [B, T], -100 on prompt, padding and the last position. */
  targets: Int32Array;
  examples: Example[];
}

/** Right-pads examples to the longest one (ids with `padId`, mask 0, labels -100). */
export function collate(examples: Example[], padId: number): ExampleBatch {
  const B = examples.length;
  const T = Math.max(...examples.map((e) => e.ids.length));
  const ids = new Int32Array(B * T).fill(padId);
  const keyMask = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(-100);
  examples.forEach((e, b) => {
    for (let t = 0; t < e.ids.length; t++) {
      ids[b * T + t] = e.ids[t];
      keyMask[b * T + t] = 1;
      labels[b * T + t] = e.labels[t];
    }
  });
  return { batch: { ids, B, T, keyMask }, targets: shiftTargets(labels, B, T), examples };
}

/** Fisher-Yates shuffle of 0..n-1 with a seed. */
export function shuffledOrder(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = makeRng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** The batches of one epoch: a seeded shuffle per epoch (so a resumed run sees the same order). */
export function epochBatches<T>(items: T[], batchSize: number, seed: number, epoch: number): T[][] {
  const order = shuffledOrder(items.length, (seed * 1000003 + epoch) >>> 0);
  const out: T[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize).map((j) => items[j]));
  return out;
}

/** Batches in the given order (evaluation), grouping similar lengths to waste less padding. */
export function evalBatches<T extends { ids: number[] }>(items: T[], batchSize: number): T[][] {
  const sorted = items.map((e, i) => ({ e, i })).sort((a, b) => a.e.ids.length - b.e.ids.length || a.i - b.i);
  const out: T[][] = [];
  for (let i = 0; i < sorted.length; i += batchSize) out.push(sorted.slice(i, i + batchSize).map((x) => x.e));
  return out;
}
