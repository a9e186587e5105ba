import type { ExampleLoss } from '../train/score.js';
import { balancedAssign } from './clusters.js';

/**
 * The oracle expert of each example: the lowest mean loss over its response tokens (ties: lowest index).
 * perExpert[k][i] is expert k's loss on example i; every expert scores the same tokens of an example.
 * The one oracle of the project: router labels (from cross-fitted copies) and the evaluation's bound.
 */
export function oracleChoices(perExpert: ExampleLoss[][]): Int32Array {
  const n = perExpert[0]?.length ?? 0;
  const mean = (x: ExampleLoss): number => (x.tokens > 0 ? x.lossSum / x.tokens : 0);
  return Int32Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let k = 1; k < perExpert.length; k++) if (mean(perExpert[k][i]) < mean(perExpert[best][i])) best = k;
    return best;
  });
}

/**
 * The oracle under a capacity: each example goes to the expert with the lowest loss *relative to its mean over
 * experts* (so examples are compared by how much they prefer an expert, not by how easy they are), every expert
 * holding at most ceil(N / K) examples (the greedy balanced assignment of the clusters).
 */
export function balancedOracleChoices(perExpert: ExampleLoss[][]): Int32Array {
  const K = perExpert.length;
  const N = perExpert[0]?.length ?? 0;
  const mean = (x: ExampleLoss): number => (x.tokens > 0 ? x.lossSum / x.tokens : 0);
  const preference = new Float32Array(N * K); // [N, K]: higher = fits better
  for (let i = 0; i < N; i++) {
    let avg = 0;
    for (let k = 0; k < K; k++) avg += mean(perExpert[k][i]) / K;
    for (let k = 0; k < K; k++) preference[i * K + k] = avg - mean(perExpert[k][i]);
  }
  return balancedAssign(preference, N, K);
}

/**
 * The loss of a one-adapter-per-example policy, taken from per-adapter passes: in eval mode a row's loss
 * depends only on its own tokens and adapter, so this equals a routed pass (bit for bit on the reference
 * backend; to float32 rounding on the native one, whose BLAS kernels depend on matrix height) at no cost.
 */
export function assembleLosses(perAdapter: ExampleLoss[][], choice: ArrayLike<number>): ExampleLoss[] {
  return Array.from({ length: choice.length }, (_, i) => perAdapter[choice[i]][i]);
}
