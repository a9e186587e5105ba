/*
 * Ops built on OpenBLAS sgemm plus the fused kernels: matmul (with a streaming path for a few rows) and
 * the attention ops. Shapes are row-major, as in src/tensor/backend.ts. Threading: the pool of
 * pool.h (OpenBLAS itself runs single-threaded, see lr_ops_init).
 */
#ifndef LORAROUTE_OPS_H
#define LORAROUTE_OPS_H

#include <stdint.h>

#include "cpu.h"
#include "gemv.h"
#include "kernels.h"

/* the kernel table chosen for this CPU (set once at load) */
const lr_kernels *lr_k(void);
/* Chooses the kernels: the widest the CPU has, or `force` (an LR_ISA_* level, -1 for none). Returns 0, or
 * -1 when the CPU lacks the forced level (nothing changes then). */
int lr_select_kernels(int force);
/* the CPU as detected at selection */
const lr_cpu *lr_cpu_info(void);

/* Sets OpenBLAS to one thread and starts the pool with `threads` threads (< 1: one per CPU this process
 * may run on). */
void lr_ops_init(int threads);
/* CPUs this process may run on (sched_getaffinity), at least 1 */
int lr_cpus_available(void);

/* whether fp16 weights can be used here (the AVX2 + F16C kernels were selected) */
int lr_half_supported(void);

/* out[16] = the 16 outputs of panel q of the packed region r of h for one row x [r->K], as lr_matmul
 * computes them with alpha 1 and beta 0 (the same kernel, the same bits) */
void lr_half_panel_row(float *out, const float *x, const lr_half *h, const lr_half_region *r, int64_t q);

/* out[M, N] = alpha * op(A) @ op(B) + beta * out. half: fp16 weights to use for few-row products (or NULL). */
void lr_matmul(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, int transA, int transB,
               float alpha, float beta, const lr_half *half);

/* out [B, T, C], att [B, NH, T, T], qkv [B, T, 3C], mask [B, T] or NULL. Returns 0, or -1 if out of memory. */
int lr_attention_forward(float *out, float *att, const float *qkv, const int32_t *mask, int64_t B, int64_t T, int64_t C,
                         int64_t NH, double dropP, uint32_t dropSeed);
/* dqkv [B, T, 3C] (overwritten). dropP > 0: attention dropout with the shared hash (see backend.ts). */
int lr_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int64_t B, int64_t T,
                          int64_t C, int64_t NH, double dropP, uint32_t dropSeed);
/* out [B, Tq, C]; caches [B, NH, S, hs] of floats, or of fp16 values where half (uint16_t, IEEE binary16:
 * new keys and values rounded to nearest even as they are written, read back exactly); mask [B, S] or NULL */
int lr_attention_cached(float *out, const float *qkv, void *kc, void *vc, int half, const int32_t *mask, int64_t past,
                        int64_t B, int64_t Tq, int64_t C, int64_t NH, int64_t S);

/* One row of a decode step (lr_attention_rows): its own caches [NH, S, hs] and key mask [S] (or NULL), and
 * the position `past` (< S) of its new token. */
typedef struct {
  void *kc, *vc; /* floats, or fp16 values where half (as lr_attention_cached's) */
  int half;
  const int32_t *mask;
  int64_t past, S;
} lr_att_row;
/* whether a decode query's attention runs lr_attend_one_avx512 (AVX-512 kernels; heads of a multiple of 16) */
int lr_attend_avx512(void);
/* out [B, C], qkv [B, 3C]: row b's new k, v into rows[b]'s caches at rows[b].past, then its attention
 * over keys 0..past; bit for bit what lr_attention_cached gives that row alone (B = 1, Tq = 1). The rows'
 * caches must not overlap (they are written in parallel). Returns 0, or -1 if out of memory. */
int lr_attention_rows(float *out, const float *qkv, const lr_att_row *rows, int64_t B, int64_t C, int64_t NH);

/* One adapter's LoRA factors at a site: A [r, in], B [out, r] (PEFT's lora_A, lora_B), or A = NULL (none). */
typedef struct {
  const float *A, *B;
  int64_t r;
} lr_lora_factor;
/* LoRA's update of a decode step, rows with their own adapters: for each row b of x [B, in] and each adapter
 * k in order with w = weights[b * K + k] != 0, y_b [out] += w * (x_b A_k^T) B_k^T; bit for bit the two
 * one-row lr_matmul calls (transB) that give it. y must not overlap x or any factor. Returns 0, or -1 if out
 * of memory. */
int lr_lora_rows(float *y, const float *x, const lr_lora_factor *f, int64_t K, const float *weights, int64_t B,
                 int64_t in, int64_t out);

#endif
