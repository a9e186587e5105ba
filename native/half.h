/*
 * Optional fp16 copy of frozen weights, for inference: a matmul with few rows (a decode step) whose B lies
 * inside the registered fp32 buffer reads the fp16 copy instead, widening on the fly (F16C), which halves
 * the memory traffic that bounds decoding. AVX2 + F16C machines only; results differ from fp32 by the fp16
 * rounding of the weights (about 5e-4 relative), so it is an explicit opt-in (NativeBackend.useHalfWeights).
 */
#ifndef LORAROUTE_HALF_H
#define LORAROUTE_HALF_H

#include <stdint.h>

typedef struct lr_half {
  const float *base; /* the fp32 buffer this copies (JS keeps it alive while registered) */
  int64_t len;       /* floats */
  uint16_t *h;       /* fp16 copy, NULL once released */
} lr_half;

/* Converts n floats to fp16 (round to nearest even). */
void lr_f16_convert(uint16_t *dst, const float *src, int64_t n);
/* out[M, N] = alpha * A[M, K] @ B + beta * out with B in fp16: nn: B [K, N]; nt: B [N, K]. */
void lr_gemm_small_nn_f16(float *out, const float *a, const uint16_t *b, int64_t M, int64_t N, int64_t K, float alpha,
                          float beta);
void lr_gemm_small_nt_f16(float *out, const float *a, const uint16_t *b, int64_t M, int64_t N, int64_t K, float alpha,
                          float beta);

/* The fp16 view of b when [b, b + n) lies inside h's buffer, else NULL. */
static inline const uint16_t *lr_half_lookup(const lr_half *h, const float *b, int64_t n) {
  if (!h || !h->h || b < h->base || b + n > h->base + h->len) return 0;
  return h->h + (b - h->base);
}

#endif
