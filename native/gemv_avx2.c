/*
 * Streaming matmuls for a few rows of A (decode steps), AVX2 + FMA (+ F16C for fp16 weights), compiled by
 * pragma and called only after the CPU was found to have those features (lr_select_kernels).
 *
 * A decode step reads every weight once, so these run at memory speed or not at all. Measured on the
 * 2-core EPYC here (single thread, GB/s of weights read): a plain sum over memory 21-24; B [N, K] one row
 * at a time 21-23, but four rows interleaved only 14-15; B [K, N] eight rows per pass 21-23, four 19-21.
 * Software prefetch only hurt. Hence: `nn` consumes eight rows of B per pass over a block of out that stays
 * in L1 (for one row of A, 16 columns per step: 22-26 GB/s with 2 MB pages, where a plain sum reads 30-34);
 * `nt` reads B a few rows at a time (fp16 weights: three; fp32 with fewer than 4 rows of A: one), and from
 * 4 rows of A on it is compute-bound (the LM head of a 16-row decode step), hence its register blocks.
 */
#include "gemv.h"

#include <math.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

/* weights as fp32 or fp16: W_LOAD8 gives 8 floats, W_AT one */
static inline __m256 load8_f32(const float *p) { return _mm256_loadu_ps(p); }
static inline __m256 load8_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline float at_f32(const float *p) { return *p; }
static inline float at_f16(const uint16_t *p) { return _cvtsh_ss(*p); }

void lr_f16_convert(uint16_t *dst, const float *src, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

void lr_f16_widen(float *dst, const uint16_t *src, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8_f16(src + i));
  for (; i < n; i++) dst[i] = at_f16(src + i);
}

#define OUT_FLOATS 4096 /* M x NB floats of out kept in L1 */
#define MAX_M 8

/* out[M, N] = alpha * A[M, K] @ B[K, N] + beta * out, for one weight type */
#define DEFINE_NN(NAME, WT, LOAD8, AT)                                                                          \
  void NAME(float *out, int64_t ldo, const float *a, const WT *b, int64_t ldb, int64_t M, int64_t N, int64_t K, float alpha, \
            float beta) { \
    int64_t NB = (OUT_FLOATS / (M > 0 ? M : 1)) & ~(int64_t)15;                                                 \
    if (NB < 256) NB = 256;                                                                                     \
    float coef[MAX_M][8];                                                                                       \
    for (int64_t n0 = 0; n0 < N; n0 += NB) {                                                                    \
      const int64_t nb = N - n0 < NB ? N - n0 : NB, nv = nb & ~(int64_t)7;                                      \
      for (int64_t m = 0; m < M; m++) {                                                                         \
        float *y = out + m * ldo + n0;                                                                            \
        if (beta == 0.0f)                                                                                       \
          for (int64_t j = 0; j < nb; j++) y[j] = 0.0f;                                                         \
        else if (beta != 1.0f)                                                                                  \
          for (int64_t j = 0; j < nb; j++) y[j] *= beta;                                                        \
      }                                                                                                         \
      int64_t k = 0;                                                                                            \
      if (M == 1) { /* decode: coefficients in registers, 16 columns of 8 rows per step */                    \
        const int64_t n16 = nb & ~(int64_t)15;                                                                  \
        for (; k + 8 <= K; k += 8) {                                                                            \
          const WT *bk = b + k * ldb + n0;                                                                        \
          __m256 cv[8];                                                                                         \
          for (int q = 0; q < 8; q++) cv[q] = _mm256_set1_ps(coef[0][q] = alpha * a[k + q]);                    \
          float *y = out + n0;                                                                                  \
          for (int64_t j = 0; j < n16; j += 16) {                                                               \
            __m256 a0 = _mm256_loadu_ps(y + j), a1 = _mm256_loadu_ps(y + j + 8);                                \
            __m256 b0 = _mm256_setzero_ps(), b1 = b0;                                                           \
            for (int q = 0; q < 8; q += 2) {                                                                    \
              a0 = _mm256_fmadd_ps(cv[q], LOAD8(bk + q * ldb + j), a0);                                           \
              a1 = _mm256_fmadd_ps(cv[q], LOAD8(bk + q * ldb + j + 8), a1);                                       \
              b0 = _mm256_fmadd_ps(cv[q + 1], LOAD8(bk + (q + 1) * ldb + j), b0);                                 \
              b1 = _mm256_fmadd_ps(cv[q + 1], LOAD8(bk + (q + 1) * ldb + j + 8), b1);                             \
            }                                                                                                   \
            _mm256_storeu_ps(y + j, _mm256_add_ps(a0, b0));                                                     \
            _mm256_storeu_ps(y + j + 8, _mm256_add_ps(a1, b1));                                                 \
          }                                                                                                     \
          if (n16 < nv) { /* 8 columns more, as the rows of M > 1 get them (same bits alone or in a batch) */ \
            __m256 a0 = _mm256_loadu_ps(y + n16), b0 = _mm256_setzero_ps();                                     \
            for (int q = 0; q < 8; q += 2) {                                                                    \
              a0 = _mm256_fmadd_ps(cv[q], LOAD8(bk + q * ldb + n16), a0);                                       \
              b0 = _mm256_fmadd_ps(cv[q + 1], LOAD8(bk + (q + 1) * ldb + n16), b0);                             \
            }                                                                                                   \
            _mm256_storeu_ps(y + n16, _mm256_add_ps(a0, b0));                                                   \
          }                                                                                                     \
          for (int64_t j = nv; j < nb; j++) {                                                                   \
            float acc = 0.0f;                                                                                   \
            for (int q = 0; q < 8; q++) acc += coef[0][q] * AT(bk + q * ldb + j);                                 \
            y[j] += acc;                                                                                        \
          }                                                                                                     \
        }                                                                                                       \
      }                                                                                                         \
      for (; k + 8 <= K; k += 8) {                                                                              \
        const WT *bk = b + k * ldb + n0;                                                                          \
        for (int64_t m = 0; m < M; m++)                                                                         \
          for (int q = 0; q < 8; q++) coef[m][q] = alpha * a[m * K + k + q];                                    \
        for (int64_t j = 0; j < nv; j += 8) {                                                                   \
          const __m256 w0 = LOAD8(bk + j), w1 = LOAD8(bk + ldb + j), w2 = LOAD8(bk + 2 * ldb + j),                  \
                       w3 = LOAD8(bk + 3 * ldb + j), w4 = LOAD8(bk + 4 * ldb + j), w5 = LOAD8(bk + 5 * ldb + j),      \
                       w6 = LOAD8(bk + 6 * ldb + j), w7 = LOAD8(bk + 7 * ldb + j);                                  \
          for (int64_t m = 0; m < M; m++) {                                                                     \
            float *y = out + m * ldo + n0 + j;                                                                    \
            const float *c = coef[m];                                                                           \
            __m256 s0 = _mm256_fmadd_ps(_mm256_set1_ps(c[0]), w0, _mm256_loadu_ps(y));                         \
            __m256 s1 = _mm256_mul_ps(_mm256_set1_ps(c[1]), w1);                                                \
            s0 = _mm256_fmadd_ps(_mm256_set1_ps(c[2]), w2, s0);                                                 \
            s1 = _mm256_fmadd_ps(_mm256_set1_ps(c[3]), w3, s1);                                                 \
            s0 = _mm256_fmadd_ps(_mm256_set1_ps(c[4]), w4, s0);                                                 \
            s1 = _mm256_fmadd_ps(_mm256_set1_ps(c[5]), w5, s1);                                                 \
            s0 = _mm256_fmadd_ps(_mm256_set1_ps(c[6]), w6, s0);                                                 \
            s1 = _mm256_fmadd_ps(_mm256_set1_ps(c[7]), w7, s1);                                                 \
            _mm256_storeu_ps(y, _mm256_add_ps(s0, s1));                                                         \
          }                                                                                                     \
        }                                                                                                       \
        for (int64_t j = nv; j < nb; j++)                                                                       \
          for (int64_t m = 0; m < M; m++) {                                                                     \
            float s = 0.0f;                                                                                     \
            for (int q = 0; q < 8; q++) s += coef[m][q] * AT(bk + q * ldb + j);                                   \
            out[m * ldo + n0 + j] += s;                                                                           \
          }                                                                                                     \
      }                                                                                                         \
      for (; k < K; k++) {                                                                                      \
        const WT *bk = b + k * ldb + n0;                                                                          \
        for (int64_t m = 0; m < M; m++) {                                                                       \
          const float c0 = alpha * a[m * K + k];                                                                \
          float *y = out + m * ldo + n0;                                                                          \
          const __m256 cv = _mm256_set1_ps(c0);                                                                 \
          for (int64_t j = 0; j < nv; j += 8)                                                                   \
            _mm256_storeu_ps(y + j, _mm256_fmadd_ps(cv, LOAD8(bk + j), _mm256_loadu_ps(y + j)));                \
          for (int64_t j = nv; j < nb; j++) y[j] += c0 * AT(bk + j);                                            \
        }                                                                                                       \
      }                                                                                                         \
    }                                                                                                           \
  }

/*
 * out[M, N] = alpha * A[M, K] @ B[N, K]^T + beta * out. Every output is the same arithmetic whatever M is
 * and whatever rows sit beside it: one accumulator of 8 lanes over K in order (K's tail zero-padded to 8
 * lanes), its lanes summed as ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)), times alpha, plus beta * out. So a row
 * gets the same bits alone or in any batch (the decode steps of src/server/decode-backend.ts rely on it);
 * only the order in which outputs are computed follows M. B is read three rows at a time, each triple once
 * from memory and then from L1 for every row of A: blocks of 4 rows of A x 3 rows of B (12 accumulators:
 * each vector of A loaded once for three outputs, each of B widened once for four), then the rows left over
 * one at a time. With fp32 weights and fewer than 4 rows, B is read one row at a time (three streams of
 * fp32 rows read from memory at half the speed of one).
 */

static inline float nt_hsum(__m256 v) {
  v = _mm256_hadd_ps(v, v);
  v = _mm256_hadd_ps(v, v);
  return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}

static inline void nt_store(float *o, __m256 acc, float alpha, float beta) {
  const float t = alpha * nt_hsum(acc);
  *o = beta == 0.0f ? t : fmaf(beta, *o, t);
}

/* K's tail (K % 8 = n values at p) as 8 lanes, zero-padded (a masked load reads nothing past p + n) */
static inline __m256 tail8_f32(const float *p, int64_t n) {
  const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_maskload_ps(p, lanes);
}
static inline __m256 tail8_f16(const uint16_t *p, int64_t n) {
  float t[8] = {0};
  for (int64_t i = 0; i < n; i++) t[i] = at_f16(p + i);
  return _mm256_loadu_ps(t);
}

/* s_rj += x_r * w_j for 4 rows of A and 3 of B */
#define NT_4x3(x0, x1, x2, x3, w0, w1, w2)                                                                      \
  do {                                                                                                          \
    __m256 x = (x0);                                                                                            \
    s00 = _mm256_fmadd_ps(x, w0, s00), s01 = _mm256_fmadd_ps(x, w1, s01), s02 = _mm256_fmadd_ps(x, w2, s02);     \
    x = (x1);                                                                                                   \
    s10 = _mm256_fmadd_ps(x, w0, s10), s11 = _mm256_fmadd_ps(x, w1, s11), s12 = _mm256_fmadd_ps(x, w2, s12);     \
    x = (x2);                                                                                                   \
    s20 = _mm256_fmadd_ps(x, w0, s20), s21 = _mm256_fmadd_ps(x, w1, s21), s22 = _mm256_fmadd_ps(x, w2, s22);     \
    x = (x3);                                                                                                   \
    s30 = _mm256_fmadd_ps(x, w0, s30), s31 = _mm256_fmadd_ps(x, w1, s31), s32 = _mm256_fmadd_ps(x, w2, s32);     \
  } while (0)

/* The nt_hsum of each of 8 accumulators (output n + j in v[j]) as one vector, in order: two rounds of hadd
 * pair the lanes as nt_hsum does, and the last add is its low half + high half. */
static inline __m256 nt_hsum8(const __m256 v[8]) {
  const __m256 g0 = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  const __m256 g1 = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
}

/* nt_store of 8 consecutive outputs */
static inline void nt_store8(float *o, __m256 sums, float alpha, float beta) {
  const __m256 t = _mm256_mul_ps(_mm256_set1_ps(alpha), sums);
  _mm256_storeu_ps(o, beta == 0.0f ? t : _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(o), t));
}

/* Short K (LoRA's x A^T and xa B^T, K = r): the blocks below would spend more on each output's own lane sum
 * and store than on its multiply-adds (a row of B [2304, 16] took 17 us). Here 8 outputs of a row at a time,
 * their sums reduced and stored together; each output's arithmetic is the general path's. */
#define NT_SHORT_K 64

#define DEFINE_NT(NAME, WT, LOAD8, TAIL8)                                                                       \
  void NAME(float *out, int64_t ldo, const float *a, const WT *b, int64_t ldb, int64_t M, int64_t N, int64_t K, \
            float alpha, float beta) {                                                                          \
    const int64_t k8 = K & ~(int64_t)7, kt = K - k8;                                                            \
    if (K <= NT_SHORT_K) {                                                                                      \
      int64_t n = 0;                                                                                            \
      for (; n + 8 <= N; n += 8) /* 8 rows of B (in L1) for every row of A */                                   \
        for (int64_t m = 0; m < M; m++) {                                                                       \
          const float *am = a + m * K;                                                                          \
          __m256 s[8];                                                                                          \
          for (int j = 0; j < 8; j++) s[j] = _mm256_setzero_ps();                                               \
          for (int64_t k = 0; k < k8; k += 8) {                                                                 \
            const __m256 x = _mm256_loadu_ps(am + k);                                                           \
            for (int j = 0; j < 8; j++) s[j] = _mm256_fmadd_ps(x, LOAD8(b + (n + j) * ldb + k), s[j]);          \
          }                                                                                                     \
          if (kt) {                                                                                             \
            const __m256 x = tail8_f32(am + k8, kt);                                                            \
            for (int j = 0; j < 8; j++) s[j] = _mm256_fmadd_ps(x, TAIL8(b + (n + j) * ldb + k8, kt), s[j]);     \
          }                                                                                                     \
          nt_store8(out + m * ldo + n, nt_hsum8(s), alpha, beta);                                               \
        }                                                                                                       \
      if (n == N) return;                                                                                       \
      b += n * ldb, out += n, N -= n; /* the last N % 8 outputs: below, one or three at a time */               \
    }                                                                                                           \
    const int64_t step = sizeof(WT) == 2 || M >= 4 ? 3 : 1;                                                     \
    for (int64_t n = 0; n < N; n += step) {                                                                     \
      const int64_t nv = N - n < step ? N - n : step; /* columns of this group that exist */                   \
      const WT *b0 = b + n * ldb, *b1 = nv > 1 ? b0 + ldb : b0, *b2 = nv > 2 ? b0 + 2 * ldb : b0;               \
      int64_t m = 0;                                                                                            \
      if (step == 3)                                                                                            \
        for (; m + 4 <= M; m += 4) {                                                                            \
          const float *a0 = a + m * K, *a1 = a0 + K, *a2 = a1 + K, *a3 = a2 + K;                                \
          __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s10 = s00, s11 = s00, s12 = s00;              \
          __m256 s20 = s00, s21 = s00, s22 = s00, s30 = s00, s31 = s00, s32 = s00;                              \
          for (int64_t k = 0; k < k8; k += 8) {                                                                 \
            const __m256 w0 = LOAD8(b0 + k), w1 = LOAD8(b1 + k), w2 = LOAD8(b2 + k);                            \
            NT_4x3(_mm256_loadu_ps(a0 + k), _mm256_loadu_ps(a1 + k), _mm256_loadu_ps(a2 + k), _mm256_loadu_ps(a3 + k), w0, w1, w2); \
          }                                                                                                     \
          if (kt) {                                                                                             \
            const __m256 w0 = TAIL8(b0 + k8, kt), w1 = TAIL8(b1 + k8, kt), w2 = TAIL8(b2 + k8, kt);             \
            NT_4x3(tail8_f32(a0 + k8, kt), tail8_f32(a1 + k8, kt), tail8_f32(a2 + k8, kt), tail8_f32(a3 + k8, kt), w0, w1, w2); \
          }                                                                                                     \
          const __m256 s[4][3] = {{s00, s01, s02}, {s10, s11, s12}, {s20, s21, s22}, {s30, s31, s32}};          \
          for (int r = 0; r < 4; r++)                                                                           \
            for (int64_t j = 0; j < nv; j++) nt_store(out + (m + r) * ldo + n + j, s[r][j], alpha, beta);       \
        }                                                                                                       \
      for (; m < M; m++) { /* one row of A: `step` outputs side by side */                                      \
        const float *am = a + m * K;                                                                            \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0;                                                      \
        for (int64_t k = 0; k < k8; k += 8) {                                                                   \
          const __m256 x = _mm256_loadu_ps(am + k);                                                             \
          s0 = _mm256_fmadd_ps(x, LOAD8(b0 + k), s0);                                                           \
          if (step == 3) s1 = _mm256_fmadd_ps(x, LOAD8(b1 + k), s1), s2 = _mm256_fmadd_ps(x, LOAD8(b2 + k), s2);  \
        }                                                                                                       \
        if (kt) {                                                                                               \
          const __m256 x = tail8_f32(am + k8, kt);                                                              \
          s0 = _mm256_fmadd_ps(x, TAIL8(b0 + k8, kt), s0);                                                      \
          if (step == 3) s1 = _mm256_fmadd_ps(x, TAIL8(b1 + k8, kt), s1), s2 = _mm256_fmadd_ps(x, TAIL8(b2 + k8, kt), s2); \
        }                                                                                                       \
        const __m256 s[3] = {s0, s1, s2};                                                                       \
        for (int64_t j = 0; j < nv; j++) nt_store(out + m * ldo + n + j, s[j], alpha, beta);                    \
      }                                                                                                         \
    }                                                                                                           \
  }

/*
 * out[M, 16 np] = alpha * A[M, K] @ B + beta * out with B as fp16 panels [np][K][16] (lr_half's packed
 * weights): each panel is one contiguous stream, read once from memory and then from L1 for every block of
 * rows. Rows go in blocks of 6 (12 accumulators: 6 rows x 2 vectors of 8 columns), then 4, 2, 1; each
 * output is one accumulator over k in order whatever the block, so a row's bits do not depend on M.
 */
static inline void panel_store(float *o, __m256 acc, float alpha, float beta) {
  const __m256 t = _mm256_mul_ps(_mm256_set1_ps(alpha), acc);
  _mm256_storeu_ps(o, beta == 0.0f ? t : _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(o), t));
}

#define DEFINE_PANEL_ROWS(R)                                                                                    \
  static void panel_rows_##R(float *out, int64_t ldo, const float *a, const uint16_t *pp, int64_t K, float alpha, \
                             float beta) {                                                                      \
    __m256 s0[R], s1[R];                                                                                        \
    for (int r = 0; r < R; r++) s0[r] = s1[r] = _mm256_setzero_ps();                                            \
    for (int64_t k = 0; k < K; k++) {                                                                           \
      const __m256 w0 = load8_f16(pp + k * LR_PANEL), w1 = load8_f16(pp + k * LR_PANEL + 8);                    \
      for (int r = 0; r < R; r++) {                                                                             \
        const __m256 x = _mm256_broadcast_ss(a + r * K + k);                                                    \
        s0[r] = _mm256_fmadd_ps(x, w0, s0[r]);                                                                  \
        s1[r] = _mm256_fmadd_ps(x, w1, s1[r]);                                                                  \
      }                                                                                                         \
    }                                                                                                           \
    for (int r = 0; r < R; r++) {                                                                               \
      panel_store(out + r * ldo, s0[r], alpha, beta);                                                           \
      panel_store(out + r * ldo + 8, s1[r], alpha, beta);                                                       \
    }                                                                                                           \
  }
DEFINE_PANEL_ROWS(6)
DEFINE_PANEL_ROWS(4)
DEFINE_PANEL_ROWS(2)
DEFINE_PANEL_ROWS(1)

void lr_gemv_panels_f16(float *out, int64_t ldo, const float *a, const uint16_t *p, int64_t M, int64_t np, int64_t K,
                        float alpha, float beta) {
  for (int64_t q = 0; q < np; q++) {
    const uint16_t *pp = p + q * K * LR_PANEL;
    float *o = out + q * LR_PANEL;
    int64_t m = 0;
    for (; m + 6 <= M; m += 6) panel_rows_6(o + m * ldo, ldo, a + m * K, pp, K, alpha, beta);
    for (; m + 4 <= M; m += 4) panel_rows_4(o + m * ldo, ldo, a + m * K, pp, K, alpha, beta);
    for (; m + 2 <= M; m += 2) panel_rows_2(o + m * ldo, ldo, a + m * K, pp, K, alpha, beta);
    for (; m < M; m++) panel_rows_1(o + m * ldo, ldo, a + m * K, pp, K, alpha, beta);
  }
}

void lr_f16_pack_region(uint16_t *h, const float *base, const lr_half_region *r) {
  uint16_t *dst = h + r->off;
  const float *src = base + r->off;
  const int64_t K = r->K, np = r->N / LR_PANEL;
  float col[LR_PANEL];
  for (int64_t q = 0; q < np; q++)
    for (int64_t k = 0; k < K; k++) {
      if (r->trans) { /* column k of rows 16q..16q+15 of B [N, K] */
        for (int j = 0; j < LR_PANEL; j++) col[j] = src[(q * LR_PANEL + j) * K + k];
        lr_f16_convert(dst + (q * K + k) * LR_PANEL, col, LR_PANEL);
      } else { /* row k, columns 16q..16q+15 of B [K, N] */
        lr_f16_convert(dst + (q * K + k) * LR_PANEL, src + k * r->N + q * LR_PANEL, LR_PANEL);
      }
    }
  /* trans: the last N % 16 rows stay as the flat copy has them */
}

DEFINE_NN(lr_gemv_nn_f32, float, load8_f32, at_f32)
DEFINE_NT(lr_gemv_nt_f32, float, load8_f32, tail8_f32)
DEFINE_NN(lr_gemv_nn_f16, uint16_t, load8_f16, at_f16)
DEFINE_NT(lr_gemv_nt_f16, uint16_t, load8_f16, tail8_f16)

#else
/* not x86: never called (lr_select_kernels enables these only on AVX2 + FMA + F16C) */
void lr_f16_convert(uint16_t *dst, const float *src, int64_t n) { (void)dst, (void)src, (void)n; }
void lr_f16_widen(float *dst, const uint16_t *src, int64_t n) { (void)dst, (void)src, (void)n; }
#define DEFINE_STUB(NAME, WT)                                                                                   \
  void NAME(float *out, int64_t ldo, const float *a, const WT *b, int64_t ldb, int64_t M, int64_t N, int64_t K,   \
            float alpha, float beta) {                                                                          \
    (void)out, (void)ldo, (void)a, (void)b, (void)ldb, (void)M, (void)N, (void)K, (void)alpha, (void)beta;       \
  }
void lr_f16_pack_region(uint16_t *h, const float *base, const lr_half_region *r) { (void)h, (void)base, (void)r; }
void lr_gemv_panels_f16(float *out, int64_t ldo, const float *a, const uint16_t *p, int64_t M, int64_t np, int64_t K,
                        float alpha, float beta) {
  (void)out, (void)ldo, (void)a, (void)p, (void)M, (void)np, (void)K, (void)alpha, (void)beta;
}
DEFINE_STUB(lr_gemv_nn_f32, float)
DEFINE_STUB(lr_gemv_nt_f32, float)
DEFINE_STUB(lr_gemv_nn_f16, uint16_t)
DEFINE_STUB(lr_gemv_nt_f16, uint16_t)
#endif
