/*
 * Streaming matmuls for a few rows of A (decode steps), AVX2 + FMA + F16C (gemv_avx2.c), with fp32 or fp16
 * weights.
 *
 * fp16 weights: an optional fp16 copy of frozen weights, for inference. A matmul with few rows whose B lies
 * inside the registered fp32 buffer reads the fp16 copy instead, widening on the fly (F16C), which halves
 * the memory traffic that bounds decoding. Results differ from fp32 by the fp16 rounding of the weights
 * (about 5e-4 relative), so it is an explicit opt-in (NativeBackend.useHalfWeights).
 */
#ifndef LORAROUTE_GEMV_H
#define LORAROUTE_GEMV_H

#include <stdint.h>

typedef struct lr_half {
  const float *base; /* the fp32 buffer this copies (JS keeps it alive while registered) */
  int64_t len;       /* floats */
  uint16_t *h;       /* fp16 copy, NULL once released */
} lr_half;

/* Converts n floats to fp16 (round to nearest even). */
void lr_f16_convert(uint16_t *dst, const float *src, int64_t n);
/* out[M, N] = alpha * A[M, K] @ B + beta * out (few rows: ops.c sends nn up to 8, nt up to 16): nn: B [K, N];
 * nt: B [N, K]. Each row's result is the same whatever the other rows are. beta == 0 never
 * reads out. ldo: row stride of out; ldb: row stride of B (N for nn, K for nt when B is whole), so that a
 * block of columns can be one thread's share. */
void lr_gemv_nn_f32(float *out, int64_t ldo, const float *a, const float *b, int64_t ldb, int64_t M, int64_t N, int64_t K,
                    float alpha, float beta);
void lr_gemv_nt_f32(float *out, int64_t ldo, const float *a, const float *b, int64_t ldb, int64_t M, int64_t N, int64_t K,
                    float alpha, float beta);
void lr_gemv_nn_f16(float *out, int64_t ldo, const float *a, const uint16_t *b, int64_t ldb, int64_t M, int64_t N,
                    int64_t K, float alpha, float beta);
void lr_gemv_nt_f16(float *out, int64_t ldo, const float *a, const uint16_t *b, int64_t ldb, int64_t M, int64_t N,
                    int64_t K, float alpha, float beta);

/* The fp16 view of b when [b, b + n) lies inside h's buffer, else NULL. */
static inline const uint16_t *lr_half_lookup(const lr_half *h, const float *b, int64_t n) {
  if (!h || !h->h || b < h->base || b + n > h->base + h->len) return 0;
  return h->h + (b - h->base);
}

#endif
