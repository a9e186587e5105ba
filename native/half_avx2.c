/*
 * fp16-weight streaming matmuls (see half.h). Compiled for AVX2 + FMA + F16C by pragma; called only after
 * the CPU was found to have them (lr_select_kernels), so the addon itself needs no -march flag.
 */
#include "half.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

static inline __m256 load_h8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

static inline float h2f(uint16_t x) { return _cvtsh_ss(x); }

void lr_f16_convert(uint16_t *dst, const float *src, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

#define OUT_FLOATS 4096 /* M x NB floats of out kept in L1 */
#define MAX_M 8

void lr_gemm_small_nn_f16(float *out, const float *a, const uint16_t *b, int64_t M, int64_t N, int64_t K, float alpha,
                          float beta) {
  int64_t NB = (OUT_FLOATS / (M > 0 ? M : 1)) & ~(int64_t)15;
  if (NB < 256) NB = 256;
  for (int64_t n0 = 0; n0 < N; n0 += NB) {
    const int64_t nb = N - n0 < NB ? N - n0 : NB, nv = nb & ~(int64_t)7;
    for (int64_t m = 0; m < M; m++) {
      float *y = out + m * N + n0;
      for (int64_t j = 0; j < nb; j++) y[j] = beta == 0.0f ? 0.0f : beta * y[j];
    }
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
      const uint16_t *b0 = b + k * N + n0, *b1 = b0 + N, *b2 = b1 + N, *b3 = b2 + N;
      __m256 c[MAX_M][4];
      for (int64_t m = 0; m < M; m++)
        for (int q = 0; q < 4; q++) c[m][q] = _mm256_set1_ps(alpha * a[m * K + k + q]);
      for (int64_t j = 0; j < nv; j += 8) {
        const __m256 w0 = load_h8(b0 + j), w1 = load_h8(b1 + j), w2 = load_h8(b2 + j), w3 = load_h8(b3 + j);
        for (int64_t m = 0; m < M; m++) {
          float *y = out + m * N + n0 + j;
          __m256 acc = _mm256_fmadd_ps(c[m][0], w0, _mm256_loadu_ps(y));
          acc = _mm256_fmadd_ps(c[m][1], w1, acc);
          acc = _mm256_fmadd_ps(c[m][2], w2, acc);
          _mm256_storeu_ps(y, _mm256_fmadd_ps(c[m][3], w3, acc));
        }
      }
      for (int64_t j = nv; j < nb; j++)
        for (int64_t m = 0; m < M; m++) {
          const float *am = a + m * K + k;
          float *y = out + m * N + n0 + j;
          *y += alpha * am[0] * h2f(b0[j]) + alpha * am[1] * h2f(b1[j]) + alpha * am[2] * h2f(b2[j]) +
                alpha * am[3] * h2f(b3[j]);
        }
    }
    for (; k < K; k++) {
      const uint16_t *b0 = b + k * N + n0;
      for (int64_t m = 0; m < M; m++) {
        const float c0 = alpha * a[m * K + k];
        float *y = out + m * N + n0;
        for (int64_t j = 0; j < nb; j++) y[j] += c0 * h2f(b0[j]);
      }
    }
  }
}

void lr_gemm_small_nt_f16(float *out, const float *a, const uint16_t *b, int64_t M, int64_t N, int64_t K, float alpha,
                          float beta) {
  const int64_t kv = K & ~(int64_t)7;
  int64_t n = 0;
  for (; n < N; n += 4) {
    const int64_t rows = N - n < 4 ? N - n : 4;
    const uint16_t *br[4];
    for (int q = 0; q < 4; q++) br[q] = b + (n + (q < rows ? q : 0)) * K;
    for (int64_t m = 0; m < M; m++) {
      const float *am = a + m * K;
      __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
      for (int64_t k = 0; k < kv; k += 8) {
        const __m256 av = _mm256_loadu_ps(am + k);
        s0 = _mm256_fmadd_ps(av, load_h8(br[0] + k), s0);
        s1 = _mm256_fmadd_ps(av, load_h8(br[1] + k), s1);
        s2 = _mm256_fmadd_ps(av, load_h8(br[2] + k), s2);
        s3 = _mm256_fmadd_ps(av, load_h8(br[3] + k), s3);
      }
      float r[4] = {hsum(s0), hsum(s1), hsum(s2), hsum(s3)};
      for (int64_t k = kv; k < K; k++)
        for (int q = 0; q < 4; q++) r[q] += am[k] * h2f(br[q][k]);
      float *o = out + m * N + n;
      for (int64_t q = 0; q < rows; q++) o[q] = beta == 0.0f ? alpha * r[q] : alpha * r[q] + beta * o[q];
    }
  }
}

#else
/* not x86: never called (lr_select_kernels only enables fp16 weights with F16C) */
void lr_f16_convert(uint16_t *dst, const float *src, int64_t n) {
  (void)dst, (void)src, (void)n;
}
void lr_gemm_small_nn_f16(float *out, const float *a, const uint16_t *b, int64_t M, int64_t N, int64_t K, float alpha,
                          float beta) {
  (void)out, (void)a, (void)b, (void)M, (void)N, (void)K, (void)alpha, (void)beta;
}
void lr_gemm_small_nt_f16(float *out, const float *a, const uint16_t *b, int64_t M, int64_t N, int64_t K, float alpha,
                          float beta) {
  (void)out, (void)a, (void)b, (void)M, (void)N, (void)K, (void)alpha, (void)beta;
}
#endif
