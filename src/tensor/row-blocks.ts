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
