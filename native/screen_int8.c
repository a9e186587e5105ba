/*
 * The screen of screen.h with AVX-512 VNNI: a panel's 16 columns are one zmm register of int32 sums, and one
 * vpdpbusd adds four byte products (the quad k = 4p .. 4p + 3: the weight's unsigned bytes q + 128 times the
 * row's signed ones) to each, so a quad of panel rows is read once for every row of the block. The integer
 * sums are exact; each block turns them into screen logits as it stores them. Blocks as in gemv_avx512.c: 16
 * rows over 1 panel, then 8x2, 4x4, 2x8, 1x8 (enough independent sums in flight). Compiled by pragma; called
 * only where the CPU has AVX-512 VNNI (lr_screen_supported).
 */
#include "screen.h"

#include <math.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512vnni")
#include <immintrin.h>

#include "screen_logits.h"

/* acc += the dot products of w's unsigned quads with the signed quad *x broadcast to every lane, the
 * broadcast inside the instruction ({1to16}: gcc does not fold it, and a separate one costs Zen 4 about 40%) */
#define DPB(acc, x, w) __asm__("vpdpbusd %1%{1to16%}, %2, %0" : "+v"(acc) : "m"(x), "v"(w))

/* the loops over rows and panels fully unrolled, so that the sums stay in registers (see gemv_avx512.c) */
#define UNROLL _Pragma("GCC unroll 16")

/* rows R of xq (quad p of row r at xq[p * ldx + r]) x Q panels (from wq, panel stride K4 * 16): s[R, 16 Q] */
#define DEFINE_BLOCK(R, Q)                                                                                      \
  static void block_##R##x##Q(float *s, int64_t lds, const uint32_t *xq, int64_t ldx, int64_t K4,             \
                              const uint32_t *wq, const float *scale, const int32_t *corr, const float *sx) {   \
    __m512i acc[R][Q];                                                                                          \
    UNROLL for (int r = 0; r < R; r++)                                                                          \
      UNROLL for (int q = 0; q < Q; q++) acc[r][q] = _mm512_setzero_si512();                                           \
    for (int64_t p = 0; p < K4; p++, xq += ldx) {                                                               \
      __m512i w[Q];                                                                                             \
      UNROLL for (int q = 0; q < Q; q++) w[q] = _mm512_loadu_si512((const void *)(wq + (q * K4 + p) * 16));            \
      UNROLL for (int r = 0; r < R; r++)                                                                        \
        UNROLL for (int q = 0; q < Q; q++) DPB(acc[r][q], xq[r], w[q]);                                         \
    }                                                                                                           \
    UNROLL for (int r = 0; r < R; r++)                                                                          \
      UNROLL for (int q = 0; q < Q; q++) store_logits(s + r * lds + q * 16, acc[r][q], corr[r], scale + q * 16, sx[r]); \
  }

/* The full block, 16 rows over one panel: 16 sums in named registers. */
#define DP(a, r) DPB(a, xq[r], w)
static void block_16x1(float *s, int64_t lds, const uint32_t *xq, int64_t ldx, int64_t K4, const uint32_t *wq,
                       const float *scale, const int32_t *corr, const float *sx) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  __m512i a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
  for (int64_t p = 0; p < K4; p++, xq += ldx) {
    _mm_prefetch((const char *)(wq + (p + 32) * 16), _MM_HINT_NTA);
    const __m512i w = _mm512_loadu_si512((const void *)(wq + p * 16));
    DP(a0, 0); DP(a1, 1); DP(a2, 2); DP(a3, 3); DP(a4, 4); DP(a5, 5); DP(a6, 6); DP(a7, 7);
    DP(a8, 8); DP(a9, 9); DP(a10, 10); DP(a11, 11); DP(a12, 12); DP(a13, 13); DP(a14, 14); DP(a15, 15);
  }
  const __m512i acc[16] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15};
  for (int r = 0; r < 16; r++) store_logits(s + r * lds, acc[r], corr[r], scale, sx[r]);
}
#undef DP
DEFINE_BLOCK(8, 2)
DEFINE_BLOCK(8, 1)
DEFINE_BLOCK(4, 4)
DEFINE_BLOCK(4, 1)
DEFINE_BLOCK(2, 8)
DEFINE_BLOCK(2, 1)
DEFINE_BLOCK(1, 8)
DEFINE_BLOCK(1, 1)

void lr_screen_panels_int8(float *s, int64_t lds, const uint32_t *xq, int64_t ldx, int64_t R, int64_t K4, const uint32_t *wq,
                           int64_t np, const float *scale, const int32_t *corr, const float *sx) {
  const int64_t pstride = K4 * 16;
#define CALL(RB, QB, q) \
  block_##RB##x##QB(s + r * lds + (q) * 16, lds, xq + r, ldx, K4, wq + (q) * pstride, scale + (q) * 16, corr + r, sx + r)
#define BLOCKS(RB, QB)                                     \
  for (; r + RB <= R; r += RB) {                           \
    int64_t q = 0;                                         \
    for (; q + QB <= np; q += QB) CALL(RB, QB, q);         \
    for (; q < np; q++) CALL(RB, 1, q);                    \
  }
  int64_t r = 0;
  for (; r + 16 <= R; r += 16)
    for (int64_t q = 0; q < np; q++) CALL(16, 1, q);
  BLOCKS(8, 2)
  BLOCKS(4, 4)
  BLOCKS(2, 8)
  BLOCKS(1, 8)
#undef BLOCKS
#undef CALL
}

int lr_screen_pack_int8(uint32_t *quads, float *scale, float *norm, float *resid, const uint16_t *panels, int64_t np, int64_t K) {
  int finite = 1;
  for (int64_t q = 0; q < np; q++) {
    const uint16_t *pq = panels + q * K * 16; /* [K][16] fp16 */
    uint32_t *wq = quads + q * (K / 4) * 16;  /* [K/4][16] quads */
    __m512 amax = _mm512_setzero_ps();
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd(); /* sums of squares of the 16 columns */
    for (int64_t k = 0; k < K; k++) {
      const __m512 v = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(pq + k * 16)));
      const __m512d a = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
      const __m512d b = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
      lo = _mm512_fmadd_pd(a, a, lo);
      hi = _mm512_fmadd_pd(b, b, hi);
      amax = _mm512_max_ps(amax, _mm512_abs_ps(v)); /* an infinite weight makes the sums of squares infinite */
    }
    /* q = round(w * 127 / max) in [-127, 127] (0 for a zero column); scale = max / 127. Which q is taken does
     * not matter for the bound: resid measures what it leaves, in double (exact products). */
    const __m512 sc = _mm512_div_ps(amax, _mm512_set1_ps(127.0f));
    const __mmask16 nz = _mm512_cmp_ps_mask(amax, _mm512_setzero_ps(), _CMP_GT_OQ);
    const __m512 inv = _mm512_maskz_div_ps(nz, _mm512_set1_ps(127.0f), amax);
    const __m512d sclo = _mm512_cvtps_pd(_mm512_castps512_ps256(sc));
    const __m512d schi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sc), 1)));
    __m512d rlo = _mm512_setzero_pd(), rhi = _mm512_setzero_pd(); /* sums of squares of w - scale q */
    for (int64_t k = 0; k < K; k += 4) {
      __m512i quad = _mm512_setzero_si512();
      for (int i = 0; i < 4; i++) {
        const __m512 v = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(pq + (k + i) * 16)));
        __m512i qi = _mm512_cvtps_epi32(_mm512_mul_ps(v, inv)); /* nearest, ties to even */
        qi = _mm512_max_epi32(_mm512_min_epi32(qi, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
        const __m512d qlo = _mm512_cvtepi32_pd(_mm512_castsi512_si256(qi)), qhi = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(qi, 1));
        const __m512d dlo = _mm512_fnmadd_pd(sclo, qlo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        const __m512d dhi = _mm512_fnmadd_pd(schi, qhi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
        rlo = _mm512_fmadd_pd(dlo, dlo, rlo);
        rhi = _mm512_fmadd_pd(dhi, dhi, rhi);
        const __m512i u = _mm512_and_si512(_mm512_add_epi32(qi, _mm512_set1_epi32(128)), _mm512_set1_epi32(0xFF));
        quad = _mm512_or_si512(quad, _mm512_slli_epi32(u, 8 * i));
      }
      _mm512_storeu_si512((void *)(wq + (k / 4) * 16), quad);
    }
    double s[16], r[16];
    _mm512_storeu_pd(s, lo);
    _mm512_storeu_pd(s + 8, hi);
    _mm512_storeu_pd(r, rlo);
    _mm512_storeu_pd(r + 8, rhi);
    _mm512_storeu_ps(scale + q * 16, sc);
    for (int n = 0; n < 16; n++) {
      if (!(s[n] < 1e300)) finite = 0; /* an infinite (or NaN) fp16 weight */
      norm[q * 16 + n] = (float)(sqrt(s[n]) * (1.0 + 1e-6)) + 0x1p-40f;
      resid[q * 16 + n] = (float)(sqrt(r[n]) * (1.0 + 1e-6));
    }
  }
  return finite;
}

/* a norm + b resid over 16 columns: the half-width of their bounds */
static inline __m512 half_width(const float *norm, const float *resid, __m512 a, __m512 b) {
  return _mm512_fmadd_ps(a, _mm512_loadu_ps(norm), _mm512_mul_ps(b, _mm512_loadu_ps(resid)));
}

float lr_screen_lower_max(const float *s, const float *norm, const float *resid, float a, float b, int64_t n) {
  const __m512 av = _mm512_set1_ps(a), bv = _mm512_set1_ps(b);
  __m512 best = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < n; j += 16)
    best = _mm512_max_ps(best, _mm512_sub_ps(_mm512_loadu_ps(s + j), half_width(norm + j, resid + j, av, bv)));
  return _mm512_reduce_max_ps(best);
}

int64_t lr_screen_above(const float *s, const float *norm, const float *resid, float a, float b, float L, int64_t n, int32_t *idx,
                        float *hi, int64_t cap) {
  const __m512 av = _mm512_set1_ps(a), bv = _mm512_set1_ps(b), Lv = _mm512_set1_ps(L);
  int64_t count = 0;
  for (int64_t j = 0; j < n; j += 16) {
    const __m512 h = _mm512_add_ps(_mm512_loadu_ps(s + j), half_width(norm + j, resid + j, av, bv));
    __mmask16 m = _mm512_cmp_ps_mask(h, Lv, _CMP_GE_OQ);
    if (!m) continue;
    float hv[16];
    _mm512_storeu_ps(hv, h);
    for (; m; m &= (__mmask16)(m - 1)) {
      const int lane = __builtin_ctz(m);
      if (count < cap) idx[count] = (int32_t)(j + lane), hi[count] = hv[lane];
      count++;
    }
  }
  return count;
}

#else
/* not x86: never called (lr_screen_supported is 0) */
int lr_screen_pack_int8(uint32_t *quads, float *scale, float *norm, float *resid, const uint16_t *panels, int64_t np, int64_t K) {
  (void)quads, (void)scale, (void)norm, (void)resid, (void)panels, (void)np, (void)K;
  return 0;
}
float lr_screen_lower_max(const float *s, const float *norm, const float *resid, float a, float b, int64_t n) {
  (void)s, (void)norm, (void)resid, (void)a, (void)b, (void)n;
  return 0.0f;
}
int64_t lr_screen_above(const float *s, const float *norm, const float *resid, float a, float b, float L, int64_t n, int32_t *idx,
                        float *hi, int64_t cap) {
  (void)s, (void)norm, (void)resid, (void)a, (void)b, (void)L, (void)n, (void)idx, (void)hi, (void)cap;
  return 0;
}
void lr_screen_panels_int8(float *s, int64_t lds, const uint32_t *xq, int64_t ldx, int64_t R, int64_t K4, const uint32_t *wq,
                           int64_t np, const float *scale, const int32_t *corr, const float *sx) {
  (void)s, (void)lds, (void)xq, (void)ldx, (void)R, (void)K4, (void)wq, (void)np, (void)scale, (void)corr, (void)sx;
}
#endif
