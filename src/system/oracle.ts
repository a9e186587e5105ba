import type { ExampleLoss } from '../train/score.js';

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
 * The loss of a one-adapter-per-example policy, taken from per-adapter passes: in eval mode a row's loss
 * depends only on its own tokens and adapter, so this equals a routed pass (bit for bit on the reference
 * backend; to float32 rounding on the native one, whose BLAS kernels depend on matrix height) at no cost.
 */
export function assembleLosses(perAdapter: ExampleLoss[][], choice: ArrayLike<number>): ExampleLoss[] {
  return Array.from({ length: choice.length }, (_, i) => perAdapter[choice[i]][i]);
}
