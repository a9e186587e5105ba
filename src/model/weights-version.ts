import type { F32 } from '../tensor/backend.js';

/**
 * A version number per weight buffer, bumped by every API that writes into it (loadWeights, mergeAdapter,
 * unmergeAdapter): copies derived from the weights (the fp16 decode copy, src/model/decode-weights.ts)
 * compare it with the version they were made from and are rebuilt when it moved. Code that writes into
 * GPT2Weights.buffer (or a view of it) by hand must call markWeightsWritten afterwards.
 */
const versions = new WeakMap<F32, number>();

/** The buffer's version: 0 until the first markWeightsWritten. */
export function weightsVersion(buffer: F32): number {
  return versions.get(buffer) ?? 0;
}

/** Records a write into `buffer` (the whole GPT2Weights.buffer, not a view of one tensor). */
export function markWeightsWritten(buffer: F32): void {
  versions.set(buffer, weightsVersion(buffer) + 1);
}
