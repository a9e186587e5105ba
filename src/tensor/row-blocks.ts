import type { Backend, F32, MatmulOptions } from './backend.js';

/**
 * Rows per matmul that keep every row's bits its own. The native backend computes A @ B products of at most
 * 8 rows (16 while it reads fp16 weights), and A @ B^T products (the LM head, LoRA factors) of at most 16,
 * with streaming kernels in which every row is its own (same code, same order, whatever the other rows are);
 * past those, OpenBLAS's sgemm blocks rows together and a row's rounding depends on the rows around it.
 * A server's decode steps (src/server/decode-backend.ts) and generation's LoRA products (src/lora/mixture.ts)
 * are cut into blocks of these.
 */
export const ROW_BLOCK = 8;
export const ROW_BLOCK_HALF = 16;
export const ROW_BLOCK_NT = 16;

/** out [M, N] = a [M, K] @ op(b) through `be`, in products of at most `block` rows (a not transposed: with transA, one product). */
export function matmulInRowBlocks(be: Backend, block: number, out: F32, a: F32, b: F32, M: number, N: number, K: number, opts?: MatmulOptions): void {
  if (M <= block || opts?.transA) return be.matmul(out, a, b, M, N, K, opts);
  for (let m0 = 0; m0 < M; m0 += block) {
    const m = Math.min(block, M - m0);
    // out[m0:m0+m, N] = a[m0:m0+m, K] @ op(B)
    be.matmul(out.subarray(m0 * N, (m0 + m) * N), a.subarray(m0 * K, (m0 + m) * K), b, m, N, K, opts);
  }
}
