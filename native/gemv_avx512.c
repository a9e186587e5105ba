/*
 * The packed-panel product of gemv.h (lr_gemv_panels_f16) with AVX-512: a panel's 16 columns are one zmm
 * register, so a block of 8 rows keeps 8 accumulators and widens each panel row once for all 8 (about twice
 * the multiply-adds per cycle of the AVX2 kernel on the EPYC measured). Rows left over go in blocks of 4, 2
 * and 1 over 2, 4 and 8 panels at once, so that enough independent sums are in flight. The arithmetic of
 * every output is the AVX2 kernel's: one fp32 accumulator over k in order, times alpha, plus beta * out.
 * Compiled by pragma; called only where the CPU has AVX-512 F (lr_select_kernels).
 */
#include "gemv.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC target("avx512f,avx512vl,avx2,fma,f16c")
#include <immintrin.h>

static inline __m512 panel_row(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

static inline void store16(float *o, __m512 acc, float alpha, float beta) {
  const __m512 t = _mm512_mul_ps(_mm512_set1_ps(alpha), acc);
  _mm512_storeu_ps(o, beta == 0.0f ? t : _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_loadu_ps(o), t));
}

/* the blocks' loops over rows and panels fully unrolled, so that the sums stay in registers (rolled, gcc
 * zeroed them on the stack with rep stos: a tenth of a block of 8 rows at K = 128) */
#define UNROLL _Pragma("GCC unroll 16")

/* rows R of A (from a, row stride K) x Q panels (from pp, panel stride K * 16): out[R, 16 Q] */
#define DEFINE_BLOCK(R, Q)                                                                                      \
  static void block_##R##x##Q(float *out, int64_t ldo, const float *a, const uint16_t *pp, int64_t K, float alpha, \
                              float beta) {                                                                     \
    __m512 s[R][Q];                                                                                             \
    UNROLL for (int r = 0; r < R; r++)                                                                          \
      UNROLL for (int q = 0; q < Q; q++) s[r][q] = _mm512_setzero_ps();                                         \
    for (int64_t k = 0; k < K; k++) {                                                                           \
      __m512 w[Q];                                                                                              \
      UNROLL for (int q = 0; q < Q; q++) w[q] = panel_row(pp + (q * K + k) * LR_PANEL);                         \
      UNROLL for (int r = 0; r < R; r++) {                                                                      \
        const __m512 x = _mm512_set1_ps(a[r * K + k]);                                                          \
        UNROLL for (int q = 0; q < Q; q++) s[r][q] = _mm512_fmadd_ps(x, w[q], s[r][q]);                         \
      }                                                                                                         \
    }                                                                                                           \
    UNROLL for (int r = 0; r < R; r++)                                                                          \
      UNROLL for (int q = 0; q < Q; q++) store16(out + r * ldo + q * LR_PANEL, s[r][q], alpha, beta);           \
  }
DEFINE_BLOCK(8, 1)
DEFINE_BLOCK(4, 2)
DEFINE_BLOCK(4, 1)
DEFINE_BLOCK(2, 4)
DEFINE_BLOCK(2, 1)
DEFINE_BLOCK(1, 8)
DEFINE_BLOCK(1, 1)

/* panels in groups of 8 (a group is read from memory once, then from L1/L2 for every block of rows) */
#define GROUP 8

void lr_gemv_panels_f16_avx512(float *out, int64_t ldo, const float *a, const uint16_t *p, int64_t M, int64_t np,
                               int64_t K, float alpha, float beta) {
  const int64_t pstride = K * LR_PANEL;
  for (int64_t g0 = 0; g0 < np; g0 += GROUP) {
    const int64_t ng = np - g0 < GROUP ? np - g0 : GROUP;
    const uint16_t *pg = p + g0 * pstride;
    float *og = out + g0 * LR_PANEL;
    int64_t m = 0;
    for (; m + 8 <= M; m += 8)
      for (int64_t q = 0; q < ng; q++) block_8x1(og + m * ldo + q * LR_PANEL, ldo, a + m * K, pg + q * pstride, K, alpha, beta);
    for (; m + 4 <= M; m += 4) {
      int64_t q = 0;
      for (; q + 2 <= ng; q += 2) block_4x2(og + m * ldo + q * LR_PANEL, ldo, a + m * K, pg + q * pstride, K, alpha, beta);
      for (; q < ng; q++) block_4x1(og + m * ldo + q * LR_PANEL, ldo, a + m * K, pg + q * pstride, K, alpha, beta);
    }
    for (; m + 2 <= M; m += 2) {
      int64_t q = 0;
      for (; q + 4 <= ng; q += 4) block_2x4(og + m * ldo + q * LR_PANEL, ldo, a + m * K, pg + q * pstride, K, alpha, beta);
      for (; q < ng; q++) block_2x1(og + m * ldo + q * LR_PANEL, ldo, a + m * K, pg + q * pstride, K, alpha, beta);
    }
    for (; m < M; m++) {
      int64_t q = 0;
      for (; q + 8 <= ng; q += 8) block_1x8(og + m * ldo + q * LR_PANEL, ldo, a + m * K, pg + q * pstride, K, alpha, beta);
      for (; q < ng; q++) block_1x1(og + m * ldo + q * LR_PANEL, ldo, a + m * K, pg + q * pstride, K, alpha, beta);
    }
  }
}

#else
/* not x86: never called */
void lr_gemv_panels_f16_avx512(float *out, int64_t ldo, const float *a, const uint16_t *p, int64_t M, int64_t np,
                               int64_t K, float alpha, float beta) {
  (void)out, (void)ldo, (void)a, (void)p, (void)M, (void)np, (void)K, (void)alpha, (void)beta;
}
#endif
