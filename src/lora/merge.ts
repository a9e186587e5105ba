import type { Backend } from '../tensor/backend.js';
import type { GPT2Weights } from '../model/weights.js';
import { moduleWeights } from '../model/gpt2.js';
import type { LoraAdapter } from './adapter.js';
import { markWeightsWritten } from '../model/weights-version.js';

/**
 * Folds an adapter into the base weights: W[in, out] += sign * scaling * (B A)^T = sign * scaling * A^T B^T
 * (Conv1D layout, PEFT's fan_in_fan_out). `unmerge` subtracts it again (exact up to float rounding).
 * Merging changes the shared base for every user of it: merge into a private copy when adapters are shared.
 */
export function mergeAdapter(weights: GPT2Weights, adapter: LoraAdapter, backend: Backend, sign: 1 | -1 = 1): void {
  markWeightsWritten(weights.buffer); // copies of the weights as they were (fp16 decode weights) are stale
  for (const s of adapter.sites) {
    const { W } = moduleWeights(weights.blocks[s.layer], s.module);
    // W[in, out] += A^T[in, r] B^T[r, out]
    backend.matmul(W, s.A, s.B, s.inDim, s.outDim, s.r, { transA: true, transB: true, alpha: sign * s.scaling, beta: 1 });
  }
}

export function unmergeAdapter(weights: GPT2Weights, adapter: LoraAdapter, backend: Backend): void {
  mergeAdapter(weights, adapter, backend, -1);
}
