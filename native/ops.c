/*
 * Matmul and attention: OpenBLAS sgemm for the heavy products (its thread pool is the only threading in
 * the addon), fused single-threaded kernels for everything between them.
 */
#include "ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

/* OpenBLAS's pool size (declared here too in case the cblas.h found is not OpenBLAS's own) */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/* The attention products are many small sgemms (one per head and query tile): waking OpenBLAS's pool for
 * each costs more than it saves (3x slower measured at B=4, T=128, and far worse when the other core is
 * busy), so attention runs them on the calling thread and restores the pool size afterwards. */
static int single_thread_begin(void) {
  const int n = openblas_get_num_threads();
  if (n > 1) openblas_set_num_threads(1);
  return n;
}

static void single_thread_end(int n) {
  if (n > 1) openblas_set_num_threads(n);
}

static lr_kernels g_kernels; /* written once at load (lr_select_kernels), read-only afterwards */

const lr_kernels *lr_k(void) { return &g_kernels; }

static int g_avx2; /* AVX2 + FMA + F16C: the gemv_avx2.c kernels (and fp16 weights) may be used */

int lr_half_supported(void) { return g_avx2; }

void lr_select_kernels(const char *force_isa) {
  int avx2 = 0;
#ifdef LR_HAVE_AVX2_VARIANT
  __builtin_cpu_init();
  avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#endif
  if (force_isa && strcmp(force_isa, "base") == 0) avx2 = 0;
  lr_kernels t;
  memset(&t, 0, sizeof t);
#ifdef LR_HAVE_AVX2_VARIANT
  if (avx2) {
    lr_kernels_fill_avx2(&t);
    t.isa = "avx2";
  } else
#endif
  {
    lr_kernels_fill_base(&t);
    t.isa = "baseline";
  }
  g_avx2 = avx2;
  g_kernels = t;
}

/* Below this many rows of A, a matmul streams B once through the small-M kernels instead of sgemm:
 * OpenBLAS 0.3.21 packs B for every sgemm, which for a decode step (M = 1) costs more than the product. */
#define LR_SMALL_M 8

void lr_matmul(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, int transA, int transB,
               float alpha, float beta, const lr_half *half) {
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0f) {
    /* BLAS semantics: beta == 0 sets out to zero without reading it */
    for (int64_t i = 0; i < M * N; i++) out[i] = beta == 0.0f ? 0.0f : beta * out[i];
    return;
  }
  const lr_kernels *k = lr_k();
  if (M <= LR_SMALL_M) {
    float tmp[LR_SMALL_M * 64];
    float *at = NULL;
    const float *arow = a;
    if (transA && M > 1) { /* A is [K, M]: make it [M, K] (for M == 1 the two layouts are the same) */
      at = (int64_t)M * K <= (int64_t)(sizeof tmp / sizeof tmp[0]) ? tmp : malloc(sizeof(float) * M * K);
      if (at) {
        for (int64_t kk = 0; kk < K; kk++)
          for (int64_t m = 0; m < M; m++) at[m * K + kk] = a[kk * M + m];
        arow = at;
      }
    }
    if (!transA || M == 1 || at) {
      const uint16_t *bh = g_avx2 ? lr_half_lookup(half, b, K * N) : NULL;
      if (bh && transB)
        lr_gemv_nt_f16(out, arow, bh, M, N, K, alpha, beta);
      else if (bh)
        lr_gemv_nn_f16(out, arow, bh, M, N, K, alpha, beta);
      else if (g_avx2 && transB)
        lr_gemv_nt_f32(out, arow, b, M, N, K, alpha, beta);
      else if (g_avx2)
        lr_gemv_nn_f32(out, arow, b, M, N, K, alpha, beta);
      else if (transB)
        k->gemm_small_nt(out, arow, b, M, N, K, alpha, beta);
      else
        k->gemm_small_nn(out, arow, b, M, N, K, alpha, beta);
      if (at && at != tmp) free(at);
      return;
    }
  }
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, (int)M, (int)N,
              (int)K, alpha, a, transA ? (int)M : (int)K, b, transB ? (int)K : (int)N, beta, out, (int)N);
}

/* Query rows are processed in tiles so that the causal upper triangle is mostly never computed. */
#define LR_ATT_TILE 128

/* Attention dropout (training): mask [T, T] of head (b, h) from the shared hash at element index
 * ((b*NH + h)*T + t)*T + t2, as src/tensor/backend.ts specifies. */
static void head_dropout_mask(const lr_kernels *k, float *mask, int64_t bh, int64_t T, double p, uint32_t seed) {
  k->dropout_mask(mask, T * T, p, seed, bh * T * T);
}

int lr_attention_forward(float *out, float *att, const float *qkv, const int32_t *mask, int64_t B, int64_t T, int64_t C,
                         int64_t NH, double dropP, uint32_t dropSeed) {
  const lr_kernels *k = lr_k();
  const int64_t hs = C / NH, C3 = 3 * C;
  const float scale = (float)(1.0 / sqrt((double)hs));
  const int drop = dropP > 0.0;
  float *dm = NULL, *pd = NULL; /* dropout mask and dropped probabilities [T, T] */
  if (drop) {
    size_t bytes; /* 2 [T, T] floats, checked: the binding bounds T, but this must not wrap either */
    if (__builtin_mul_overflow((size_t)T, (size_t)T, &bytes) || __builtin_mul_overflow(bytes, 2 * sizeof(float), &bytes))
      return -1;
    dm = malloc(bytes);
    if (!dm) return -1;
    pd = dm + T * T;
  }
  const int threads = single_thread_begin();
  for (int64_t b = 0; b < B; b++) {
    const int32_t *mrow = mask ? mask + b * T : NULL;
    for (int64_t h = 0; h < NH; h++) {
      const float *q = qkv + b * T * C3 + h * hs, *kk = q + C, *v = q + 2 * C;
      float *s = att + (b * NH + h) * T * T; /* [T, T] */
      float *o = out + b * T * C + h * hs;
      if (drop) head_dropout_mask(k, dm, b * NH + h, T, dropP, dropSeed);
      for (int64_t r0 = 0; r0 < T; r0 += LR_ATT_TILE) {
        const int64_t r1 = r0 + LR_ATT_TILE < T ? r0 + LR_ATT_TILE : T, rows = r1 - r0;
        /* scores[r0:r1, 0:r1] = scale * q[r0:r1] @ k[0:r1]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)r1, (int)hs, scale, q + r0 * C3, (int)C3,
                    kk, (int)C3, 0.0f, s + r0 * T, (int)T);
        k->softmax_causal(s + r0 * T, rows, T, T, r0, mrow);
        const float *p = s + r0 * T;
        if (drop) { /* att keeps the probabilities; V is weighted by the dropped ones */
          k->mul(pd + r0 * T, p, dm + r0 * T, rows * T);
          p = pd + r0 * T;
        }
        /* out[r0:r1] = p[r0:r1, 0:r1] @ v[0:r1] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)hs, (int)r1, 1.0f, p, (int)T, v, (int)C3,
                    0.0f, o + r0 * C, (int)C);
      }
    }
  }
  single_thread_end(threads);
  free(dm);
  return 0;
}

int lr_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int64_t B, int64_t T,
                          int64_t C, int64_t NH, double dropP, uint32_t dropSeed) {
  const lr_kernels *k = lr_k();
  const int64_t hs = C / NH, C3 = 3 * C;
  const float scale = (float)(1.0 / sqrt((double)hs));
  const int drop = dropP > 0.0;
  float *ds = malloc(sizeof(float) * (size_t)((drop ? 3 : 1) * T * T));
  if (!ds) return -1;
  float *dm = drop ? ds + T * T : NULL, *pd = drop ? ds + 2 * T * T : NULL;
  const int threads = single_thread_begin();
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < NH; h++) {
      const float *q = qkv + b * T * C3 + h * hs, *kk = q + C, *v = q + 2 * C;
      const float *p = att + (b * NH + h) * T * T;
      const float *dO = dout + b * T * C + h * hs;
      float *dq = dqkv + b * T * C3 + h * hs, *dk = dq + C, *dv = dq + 2 * C;
      const float *pv = p; /* the probabilities that weighted V */
      if (drop) {
        head_dropout_mask(k, dm, b * NH + h, T, dropP, dropSeed);
        k->mul(pd, p, dm, T * T);
        pv = pd;
      }
      /* dP = dO @ v^T (times the mask with dropout);  dV = P^T @ dO */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)hs, 1.0f, dO, (int)C, v, (int)C3, 0.0f,
                  ds, (int)T);
      if (drop) k->mul(ds, ds, dm, T * T);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)hs, (int)T, 1.0f, pv, (int)T, dO, (int)C, 0.0f,
                  dv, (int)C3);
      /* dS = P * (dP - rowsum(P * dP)) * scale */
      k->softmax_backward(ds, p, T, T, scale);
      /* dQ = dS @ k;  dK = dS^T @ q */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)hs, (int)T, 1.0f, ds, (int)T, kk, (int)C3,
                  0.0f, dq, (int)C3);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)hs, (int)T, 1.0f, ds, (int)T, q, (int)C3, 0.0f,
                  dk, (int)C3);
    }
  }
  single_thread_end(threads);
  free(ds);
  return 0;
}

/* From this many new positions on, cached attention uses sgemm (prefill); below, per-row dot products. */
#define LR_CACHED_GEMM_MIN 4

int lr_attention_cached(float *out, const float *qkv, float *kc, float *vc, const int32_t *mask, int64_t past,
                        int64_t B, int64_t Tq, int64_t C, int64_t NH, int64_t S) {
  const lr_kernels *k = lr_k();
  const int64_t hs = C / NH, C3 = 3 * C, L = past + Tq;
  const float scale = (float)(1.0 / sqrt((double)hs));
  /* write the new keys and values: cache [B, NH, S, hs] */
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < Tq; t++)
      for (int64_t h = 0; h < NH; h++) {
        const float *src = qkv + (b * Tq + t) * C3 + h * hs;
        const int64_t dst = ((b * NH + h) * S + past + t) * hs;
        memcpy(kc + dst, src + C, sizeof(float) * (size_t)hs);
        memcpy(vc + dst, src + 2 * C, sizeof(float) * (size_t)hs);
      }
  const int gemm = Tq >= LR_CACHED_GEMM_MIN;
  float *sc = malloc(sizeof(float) * (size_t)((gemm ? Tq : 1) * L));
  if (!sc) return -1;
  const int threads = gemm ? single_thread_begin() : 1;
  for (int64_t b = 0; b < B; b++) {
    const int32_t *mrow = mask ? mask + b * S : NULL;
    for (int64_t h = 0; h < NH; h++) {
      const float *kh = kc + (b * NH + h) * S * hs, *vh = vc + (b * NH + h) * S * hs;
      const float *q = qkv + b * Tq * C3 + h * hs;
      float *o = out + b * Tq * C + h * hs;
      if (gemm) {
        /* scores [Tq, L] = scale * q @ k^T;  softmax (query t sees keys 0..past+t);  out = p @ v */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Tq, (int)L, (int)hs, scale, q, (int)C3, kh, (int)hs,
                    0.0f, sc, (int)L);
        k->softmax_causal(sc, Tq, L, L, past, mrow);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Tq, (int)hs, (int)L, 1.0f, sc, (int)L, vh, (int)hs,
                    0.0f, o, (int)C);
        continue;
      }
      for (int64_t t = 0; t < Tq; t++) {
        const float *qt = q + t * C3;
        float *ot = o + t * C;
        const int64_t n = past + t + 1;
        /* scores [n] = scale * k[0:n] @ q;  softmax;  out [hs] = p @ v[0:n] (both streaming kernels) */
        k->gemm_small_nt(sc, qt, kh, 1, n, hs, scale, 0.0f);
        k->softmax_causal(sc, 1, n, n, n - 1, mrow);
        k->gemm_small_nn(ot, sc, vh, 1, hs, n, 1.0f, 0.0f);
      }
    }
  }
  single_thread_end(threads);
  free(sc);
  return 0;
}
