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

/* Columns of out per panel of a packed weight (see lr_half_region): GPT-2's widths are multiples of it. */
#define LR_PANEL 16

/*
 * A weight whose fp16 copy is stored as panels of LR_PANEL columns of op(B), in the K * N elements the flat
 * copy would take (at float offset `off` of the buffer): panel q holds op(B)[0:K, 16q:16q+16] as [K][16].
 * - trans = 0: B [K, N] of A @ B (N a multiple of LR_PANEL), all panels;
 * - trans = 1: B [N, K] of A @ B^T (e.g. the LM head): its first N16 = N - N % 16 rows as panels, the last
 *   N % 16 rows flat where they were.
 */
typedef struct {
  int64_t off, K, N;
  int trans;
} lr_half_region;

struct lr_screen;

typedef struct lr_half {
  const float *base; /* the fp32 buffer this copies (JS keeps it alive while registered) */
  int64_t len;       /* floats */
  uint16_t *h;       /* fp16 copy, NULL once released */
  /* the weights stored as panels (A @ B products read them with lr_gemv_panels_f16), sorted by offset */
  int64_t nregions;
  lr_half_region *regions;
  struct lr_screen *screen; /* the LM head's int8 screen (screen.h), made when first used; NULL before */
} lr_half;

/* Converts n floats to fp16 (round to nearest even). */
void lr_f16_convert(uint16_t *dst, const float *src, int64_t n);
/* dst [n] = the fp32 values of fp16 src [n] (exact; F16C) */
void lr_f16_widen(float *dst, const uint16_t *src, int64_t n);
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

/* Writes region r of the fp32 buffer `base` into the fp16 copy `h` (same offsets) as lr_half_region says. */
void lr_f16_pack_region(uint16_t *h, const float *base, const lr_half_region *r);
/* out[M, 16 * np] = alpha * A[M, K] @ B + beta * out, B given as np fp16 panels [np][K][LR_PANEL] (M up to
 * 16 from ops.c). Every output is one fp32 accumulator over k = 0..K-1 in order (fused multiply-adds from
 * zero), times alpha, plus beta * out: the same arithmetic whatever M and the other rows are, and the same
 * in the AVX2 and the AVX-512 kernel. */
typedef void (*lr_panels_fn)(float *out, int64_t ldo, const float *a, const uint16_t *p, int64_t M, int64_t np,
                             int64_t K, float alpha, float beta);
void lr_gemv_panels_f16(float *out, int64_t ldo, const float *a, const uint16_t *p, int64_t M, int64_t np, int64_t K,
                        float alpha, float beta);
void lr_gemv_panels_f16_avx512(float *out, int64_t ldo, const float *a, const uint16_t *p, int64_t M, int64_t np,
                               int64_t K, float alpha, float beta);

/* The packed region of h that is exactly the weight b of a product (K, N as lr_matmul gets them), else NULL. */
static inline const lr_half_region *lr_half_region_of(const lr_half *h, const float *b, int64_t K, int64_t N, int trans) {
  if (!h || !h->h) return 0;
  const int64_t off = b - h->base;
  for (int64_t i = 0; i < h->nregions; i++) {
    const lr_half_region *r = &h->regions[i];
    if (r->off == off && r->K == K && r->N == N && r->trans == trans) return r;
  }
  return 0;
}

/* The flat fp16 view of b when [b, b + n) lies inside h's buffer and overlaps no packed region, else NULL. */
static inline const uint16_t *lr_half_lookup(const lr_half *h, const float *b, int64_t n) {
  if (!h || !h->h || b < h->base || b + n > h->base + h->len) return 0;
  const int64_t lo = b - h->base, hi = lo + n;
  for (int64_t i = 0; i < h->nregions; i++) {
    const lr_half_region *r = &h->regions[i];
    if (lo < r->off + r->K * r->N && r->off < hi) return 0;
  }
  return h->h + lo;
}

#endif
