/*
 * lr_attend_one_avx512 (attend.h). The generic path (ops.c att_query) runs one query through the small
 * matmul and softmax kernels, which reduce a key's 32 or 64 products lane by lane and exponentiate one
 * score at a time. Here the scores of 16 keys are 16 vectors of products summed into one vector by a
 * transpose-add tree, the softmax is vectorised (the same Cephes polynomial as lr_expf), and p @ v keeps
 * four independent sums. The caches are fp32, or fp16 (lr_attend_one_avx512_f16: each key and value
 * widened as it is read, so the arithmetic is the fp32 kernel's on the stored values). Compiled by pragma; called only where the CPU has AVX-512 F (lr_select_kernels).
 */
#include "attend.h"
#include "expf.h"

#include <math.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma")
#include <immintrin.h>

/* lane t of the result = the sum of the 16 lanes of a[t] */
static inline __m512 sum16x16(const __m512 a[16]) {
  __m512 b[8], c[4];
  for (int i = 0; i < 8; i++) /* per 128-bit lane: [a0 a1 a0 a1] partial sums of a[2i], a[2i+1] */
    b[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
  for (int i = 0; i < 4; i++) { /* per 128-bit lane: the lane's sums of a[4i .. 4i+3] */
    const __m512d x = _mm512_castps_pd(b[2 * i]), y = _mm512_castps_pd(b[2 * i + 1]);
    c[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
  }
  const __m512 e0 = _mm512_add_ps(_mm512_shuffle_f32x4(c[0], c[1], 0x88), _mm512_shuffle_f32x4(c[0], c[1], 0xDD));
  const __m512 e1 = _mm512_add_ps(_mm512_shuffle_f32x4(c[2], c[3], 0x88), _mm512_shuffle_f32x4(c[2], c[3], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(e0, e1, 0x88), _mm512_shuffle_f32x4(e0, e1, 0xDD));
}

/* lr_expf (kernels_impl.h) on 16 lanes: the same clamps, reduction and polynomial (expf.h); NaN stays NaN
 * (max/min return their second operand when one is NaN) and below LR_EXP_LO gives 0, as lr_expf does */
static inline __m512 exp16(__m512 x) {
  __m512 xc = _mm512_min_ps(_mm512_set1_ps(LR_EXP_HI), _mm512_max_ps(_mm512_set1_ps(LR_EXP_LO), x));
  __m512 fn = _mm512_add_ps(_mm512_mul_ps(xc, _mm512_set1_ps(LR_EXP_LOG2E)), _mm512_set1_ps(LR_EXP_ROUND));
  fn = _mm512_sub_ps(fn, _mm512_set1_ps(LR_EXP_ROUND));
  const __m512i n = _mm512_cvttps_epi32(fn);
  __m512 r = _mm512_sub_ps(xc, _mm512_mul_ps(fn, _mm512_set1_ps(LR_EXP_LN2_HI)));
  r = _mm512_sub_ps(r, _mm512_mul_ps(fn, _mm512_set1_ps(LR_EXP_LN2_LO)));
  __m512 p = _mm512_set1_ps(LR_EXP_P0);
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(LR_EXP_P1));
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(LR_EXP_P2));
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(LR_EXP_P3));
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(LR_EXP_P4));
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(LR_EXP_P5));
  p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, _mm512_mul_ps(r, r)), r), _mm512_set1_ps(1.0f));
  const __m512i pow2 = _mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23);
  const __m512 y = _mm512_mul_ps(p, _mm512_castsi512_ps(pow2));
  return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(LR_EXP_LO), _CMP_LT_OQ), _mm512_setzero_ps());
}

/* lanes j0 .. j0+15 that are keys (j < n) and not masked out */
static inline __mmask16 live(const int32_t *mask, int64_t j0, int64_t n) {
  const __mmask16 in = n - j0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j0)) - 1);
  if (!mask) return in;
  return _mm512_mask_cmpneq_epi32_mask(in, _mm512_maskz_loadu_epi32(in, mask + j0), _mm512_setzero_si512());
}

/* 16 floats of a head's keys or values at element i: fp32, or fp16 widened (vcvtph2ps, exact) */
static inline __attribute__((always_inline)) __m512 load16(const void *p, int64_t i, int half) {
  return half ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i))) : _mm512_loadu_ps((const float *)p + i);
}

/* the kernel, for fp32 caches (half 0) or fp16 ones (half 1): a constant, so each caller gets its own loop */
static inline __attribute__((always_inline)) void attend_one(float *o, const float *q, const void *kh, const void *vh,
                                                             const int32_t *mask, int64_t n, int64_t hs, float scale,
                                                             float *sc, int half) {
  const int64_t nq = hs / 16;
  __m512 qv[8]; /* hs <= 128 in registers; longer heads reload */
  for (int64_t c = 0; c < nq && c < 8; c++) qv[c] = _mm512_loadu_ps(q + 16 * c);
  /* scores of 16 keys at a time; masked and missing keys -inf */
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const int64_t m = n - j0 < 16 ? n - j0 : 16;
    __m512 a[16];
    for (int64_t t = 0; t < 16; t++) {
      if (t >= m) { a[t] = _mm512_setzero_ps(); continue; }
      const int64_t k = (j0 + t) * hs;
      __m512 s = _mm512_mul_ps(qv[0], load16(kh, k, half)); /* hs >= 16 */
      for (int64_t c = 1; c < nq; c++) s = _mm512_fmadd_ps(c < 8 ? qv[c] : _mm512_loadu_ps(q + 16 * c), load16(kh, k + 16 * c, half), s);
      a[t] = s;
    }
    const __m512 s = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), live(mask, j0, n), _mm512_mul_ps(sum16x16(a), _mm512_set1_ps(scale)));
    mx = _mm512_max_ps(mx, s);
    _mm512_mask_storeu_ps(sc + j0, m == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << m) - 1), s);
  }
  const float top = _mm512_reduce_max_ps(mx);
  if (top == -INFINITY) { /* every key masked */
    for (int64_t d = 0; d < hs; d++) o[d] = 0.0f;
    return;
  }
  /* p = exp(s - max), masked keys 0; their sum */
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const int64_t m = n - j0 < 16 ? n - j0 : 16;
    const __mmask16 in = m == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << m) - 1), ok = live(mask, j0, n);
    const __m512 e = _mm512_maskz_mov_ps(ok, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(in, sc + j0), _mm512_set1_ps(top))));
    sum = _mm512_add_ps(sum, e);
    _mm512_mask_storeu_ps(sc + j0, in, e);
  }
  const float inv = 1.0f / _mm512_reduce_add_ps(sum);
  /* o = (p / sum) @ v, 16 columns at a time, four keys' sums apart */
  for (int64_t c = 0; c < nq; c++) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const int64_t v = 16 * c;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      s0 = _mm512_fmadd_ps(_mm512_set1_ps(sc[j]), load16(vh, v + j * hs, half), s0);
      s1 = _mm512_fmadd_ps(_mm512_set1_ps(sc[j + 1]), load16(vh, v + (j + 1) * hs, half), s1);
      s2 = _mm512_fmadd_ps(_mm512_set1_ps(sc[j + 2]), load16(vh, v + (j + 2) * hs, half), s2);
      s3 = _mm512_fmadd_ps(_mm512_set1_ps(sc[j + 3]), load16(vh, v + (j + 3) * hs, half), s3);
    }
    for (; j < n; j++) s0 = _mm512_fmadd_ps(_mm512_set1_ps(sc[j]), load16(vh, v + j * hs, half), s0);
    _mm512_storeu_ps(o + 16 * c, _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)), _mm512_set1_ps(inv)));
  }
}

void lr_attend_one_avx512(float *o, const float *q, const float *kh, const float *vh, const int32_t *mask, int64_t n,
                          int64_t hs, float scale, float *sc) {
  attend_one(o, q, kh, vh, mask, n, hs, scale, sc, 0);
}

void lr_attend_one_avx512_f16(float *o, const float *q, const uint16_t *kh, const uint16_t *vh, const int32_t *mask,
                              int64_t n, int64_t hs, float scale, float *sc) {
  attend_one(o, q, kh, vh, mask, n, hs, scale, sc, 1);
}

#else
/* not x86: never called */
void lr_attend_one_avx512(float *o, const float *q, const float *kh, const float *vh, const int32_t *mask, int64_t n,
                          int64_t hs, float scale, float *sc) {
  (void)o, (void)q, (void)kh, (void)vh, (void)mask, (void)n, (void)hs, (void)scale, (void)sc;
}
void lr_attend_one_avx512_f16(float *o, const float *q, const uint16_t *kh, const uint16_t *vh, const int32_t *mask,
                              int64_t n, int64_t hs, float scale, float *sc) {
  (void)o, (void)q, (void)kh, (void)vh, (void)mask, (void)n, (void)hs, (void)scale, (void)sc;
}
#endif
