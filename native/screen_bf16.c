/*
 * The screen of screen.h with AVX-512 BF16: a panel's 16 columns are one zmm register of fp32 sums, and one
 * vdpbf16ps adds two products (the pair k = 2p, 2p + 1) to each, so a pair of panel rows is read once for
 * every row of the block. Blocks as in gemv_avx512.c: 16 rows over 1 panel, then 8x2, 4x4, 2x8, 1x8 (enough
 * independent sums in flight). The sums' order does not matter here: screen.c's bound covers any order.
 * Compiled by pragma; called only where the CPU has AVX-512 BF16 (lr_screen_supported).
 */
#include "screen.h"

#include <math.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512bf16")
#include <immintrin.h>

/* rows R of xp (pair p of row r at xp[p * ldx + r]) x Q panels (from wp, panel stride K2 * 16): s[R, 16 Q].
 */
#define DEFINE_BLOCK(R, Q)                                                                                      \
  static void block_##R##x##Q(float *s, int64_t lds, const uint32_t *xp, int64_t ldx, int64_t K2,             \
                              const uint32_t *wp) {                                                           \
    __m512 acc[R][Q];                                                                                           \
    for (int r = 0; r < R; r++)                                                                                 \
      for (int q = 0; q < Q; q++) acc[r][q] = _mm512_setzero_ps();                                              \
    for (int64_t p = 0; p < K2; p++, xp += ldx) {                                                               \
      __m512 w[Q];                                                                                              \
      for (int q = 0; q < Q; q++) w[q] = _mm512_castsi512_ps(_mm512_loadu_si512((const void *)(wp + (q * K2 + p) * 16))); \
      for (int r = 0; r < R; r++)                                                                               \
        for (int q = 0; q < Q; q++)                                                                             \
          acc[r][q] = _mm512_dpbf16_ps(acc[r][q], (__m512bh)_mm512_set1_epi32((int)xp[r]), (__m512bh)w[q]);    \
    }                                                                                                           \
    for (int r = 0; r < R; r++)                                                                                 \
      for (int q = 0; q < Q; q++) _mm512_storeu_ps(s + r * lds + q * 16, acc[r][q]);                            \
  }

/* The full block, 16 rows over one panel: 16 sums, each pair broadcast from memory inside the dot product
 * ({1to16}; gcc does not fold the broadcast itself, and a separate one costs Zen 4 about 40% of this loop). */
#define DP(a, r) __asm__("vdpbf16ps %1%{1to16%}, %2, %0" : "+v"(a) : "m"(xp[r]), "v"(w))
static void block_16x1(float *s, int64_t lds, const uint32_t *xp, int64_t ldx, int64_t K2, const uint32_t *wp) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  __m512 a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
  for (int64_t p = 0; p < K2; p++, xp += ldx) {
    _mm_prefetch((const char *)(wp + (p + 32) * 16), _MM_HINT_NTA);
    const __m512 w = _mm512_castsi512_ps(_mm512_loadu_si512((const void *)(wp + p * 16)));
    DP(a0, 0); DP(a1, 1); DP(a2, 2); DP(a3, 3); DP(a4, 4); DP(a5, 5); DP(a6, 6); DP(a7, 7);
    DP(a8, 8); DP(a9, 9); DP(a10, 10); DP(a11, 11); DP(a12, 12); DP(a13, 13); DP(a14, 14); DP(a15, 15);
  }
  const __m512 acc[16] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15};
  for (int r = 0; r < 16; r++) _mm512_storeu_ps(s + r * lds, acc[r]);
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

void lr_screen_panels_bf16(float *s, int64_t lds, const uint32_t *xp, int64_t ldx, int64_t R, int64_t K2, const uint32_t *wp,
                           int64_t np) {
  const int64_t pstride = K2 * 16;
#define BLOCKS(RB, QB)                                                                                          \
  for (; r + RB <= R; r += RB) {                                                                                \
    int64_t q = 0;                                                                                              \
    for (; q + QB <= np; q += QB) block_##RB##x##QB(s + r * lds + q * 16, lds, xp + r, ldx, K2, wp + q * pstride); \
    for (; q < np; q++) block_##RB##x1(s + r * lds + q * 16, lds, xp + r, ldx, K2, wp + q * pstride);             \
  }
  int64_t r = 0;
  for (; r + 16 <= R; r += 16)
    for (int64_t q = 0; q < np; q++) block_16x1(s + r * lds + q * 16, lds, xp + r, ldx, K2, wp + q * pstride);
  BLOCKS(8, 2)
  BLOCKS(4, 4)
  BLOCKS(2, 8)
  BLOCKS(1, 8)
#undef BLOCKS
}

/* bf16 of 16 finite floats, rounded to nearest even */
static inline __m512i bf16_of(__m512 v) {
  const __m512i t = _mm512_castps_si512(v);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(t, 16), _mm512_set1_epi32(1));
  return _mm512_srli_epi32(_mm512_add_epi32(t, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF))), 16);
}

int lr_screen_pack_bf16(uint32_t *pairs, float *norm, const uint16_t *panels, int64_t np, int64_t K) {
  int finite = 1;
  for (int64_t q = 0; q < np; q++) {
    const uint16_t *pq = panels + q * K * 16; /* [K][16] fp16 */
    uint32_t *wq = pairs + q * (K / 2) * 16;  /* [K/2][16] pairs */
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd(); /* sums of squares of the 16 columns */
    for (int64_t k = 0; k < K; k++) {
      const __m512 v = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(pq + k * 16)));
      const __m512d a = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
      const __m512d b = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
      lo = _mm512_fmadd_pd(a, a, lo);
      hi = _mm512_fmadd_pd(b, b, hi);
      if (k % 2 == 0) {
        const __m512 v1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(pq + (k + 1) * 16)));
        const __m512i pair = _mm512_or_si512(bf16_of(v), _mm512_slli_epi32(bf16_of(v1), 16));
        _mm512_storeu_si512((void *)(wq + (k / 2) * 16), pair);
      }
    }
    double s[16];
    _mm512_storeu_pd(s, lo);
    _mm512_storeu_pd(s + 8, hi);
    for (int n = 0; n < 16; n++) {
      if (!(s[n] < 1e300)) finite = 0; /* an infinite (or NaN) fp16 weight */
      norm[q * 16 + n] = (float)(sqrt(s[n]) * (1.0 + 1e-6)) + 0x1p-40f;
    }
  }
  return finite;
}

void lr_screen_pack_row(uint32_t *xp, int64_t ldx, const float *x, int64_t K2) {
  for (int64_t p = 0; p < K2; p += 8) { /* pairs p..p+7: x[2p .. 2p+15] */
    const int64_t n = K2 - p < 8 ? 2 * (K2 - p) : 16;
    const __m512i t = bf16_of(_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), x + 2 * p));
    /* each 64-bit lane holds bf16(x[2i]) and bf16(x[2i+1]) in its two halves: one pair per 32 bits */
    const __m512i pair = _mm512_or_si512(_mm512_and_si512(t, _mm512_set1_epi64(0xFFFF)), _mm512_srli_epi64(t, 16));
    uint32_t v[8];
    _mm256_storeu_si256((__m256i *)v, _mm512_cvtepi64_epi32(pair));
    for (int64_t i = 0; i < n / 2; i++) xp[(p + i) * ldx] = v[i];
  }
}

float lr_screen_lower_max(const float *s, const float *norm, float e, int64_t n) {
  const __m512 ev = _mm512_set1_ps(e);
  __m512 best = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < n; j += 16)
    best = _mm512_max_ps(best, _mm512_fnmadd_ps(ev, _mm512_loadu_ps(norm + j), _mm512_loadu_ps(s + j)));
  return _mm512_reduce_max_ps(best);
}

int64_t lr_screen_above(const float *s, const float *norm, float e, float L, int64_t n, int32_t *idx, float *hi, int64_t cap) {
  const __m512 ev = _mm512_set1_ps(e), Lv = _mm512_set1_ps(L);
  int64_t count = 0;
  for (int64_t j = 0; j < n; j += 16) {
    const __m512 h = _mm512_fmadd_ps(ev, _mm512_loadu_ps(norm + j), _mm512_loadu_ps(s + j));
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
void lr_screen_pack_row(uint32_t *xp, int64_t ldx, const float *x, int64_t K2) { (void)xp, (void)ldx, (void)x, (void)K2; }
int lr_screen_pack_bf16(uint32_t *pairs, float *norm, const uint16_t *panels, int64_t np, int64_t K) {
  (void)pairs, (void)norm, (void)panels, (void)np, (void)K;
  return 0;
}
float lr_screen_lower_max(const float *s, const float *norm, float e, int64_t n) {
  (void)s, (void)norm, (void)e, (void)n;
  return 0.0f;
}
int64_t lr_screen_above(const float *s, const float *norm, float e, float L, int64_t n, int32_t *idx, float *hi, int64_t cap) {
  (void)s, (void)norm, (void)e, (void)L, (void)n, (void)idx, (void)hi, (void)cap;
  return 0;
}
void lr_screen_panels_bf16(float *s, int64_t lds, const uint32_t *xp, int64_t ldx, int64_t R, int64_t K2, const uint32_t *wp,
                           int64_t np) {
  (void)s, (void)lds, (void)xp, (void)ldx, (void)R, (void)K2, (void)wp, (void)np;
}
#endif
