/*
 * Kernel bodies, included by kernels_base.c and kernels_avx2.c (which sets the instruction set first).
 * Everything here is single-threaded plain C written so that GCC vectorises it without -ffast-math:
 * reductions keep explicit lanes (float or double arrays), elementwise loops have no calls and no
 * branches that if-conversion cannot remove. Accumulations that the reference does in float64 and that
 * matter for accuracy (layernorm statistics, bias gradients, sums of squares, softmax denominators of
 * cross-entropy, AdamW) are done in double here too.
 *
 * Expects LR_SUFFIX(name) and LR_FMA(a, b, c) to be defined by the including file.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "expf.h"
#include "kernels.h"

#define LR_RESTRICT __restrict__

/* ---- scalar math that vectorises ---------------------------------------------------------------- */

/* exp(x) for x <= 88 (Cephes expf polynomial, about 1 ulp); below -87 gives 0 (true value < 1.7e-38). */
static inline float lr_expf(float x) {
  float xc = x > LR_EXP_HI ? LR_EXP_HI : x;
  xc = xc < LR_EXP_LO ? LR_EXP_LO : xc;
  /* n = round(x / ln 2) by the 1.5 * 2^23 trick (no libm call, so the loop stays vectorisable) */
  float fn = xc * LR_EXP_LOG2E + LR_EXP_ROUND;
  fn = fn - LR_EXP_ROUND;
  int32_t n = (int32_t)fn;
  float r = xc - fn * LR_EXP_LN2_HI;
  r = r - fn * LR_EXP_LN2_LO;
  float p = LR_EXP_P0;
  p = p * r + LR_EXP_P1;
  p = p * r + LR_EXP_P2;
  p = p * r + LR_EXP_P3;
  p = p * r + LR_EXP_P4;
  p = p * r + LR_EXP_P5;
  p = p * (r * r) + r + 1.0f;
  union {
    uint32_t u;
    float f;
  } s;
  s.u = (uint32_t)(n + 127) << 23;
  float y = p * s.f;
  return x < LR_EXP_LO ? 0.0f : y;
}

/* tanh(u): Cephes odd polynomial for |u| < 0.625, else 1 - 2 / (exp(2|u|) + 1). */
static inline float lr_tanhf(float u) {
  float a = u < 0.0f ? -u : u;
  float z = u * u;
  float small =
      ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
       3.33332819422e-1f) * z * u + u;
  float e = lr_expf(2.0f * a);
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = u < 0.0f ? -big : big;
  return a < 0.625f ? small : big;
}

#define LR_GELU_K 0.7978845608028654f /* sqrt(2 / pi) */

/* ---- elementwise -------------------------------------------------------------------------------- */

static void k_add(float *out, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

static void k_axpy(float *LR_RESTRICT y, const float *LR_RESTRICT x, float alpha, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = y[i] + alpha * x[i];
}

static void k_scale(float *x, float s, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] *= s;
}

static void k_mul(float *out, const float *x, const float *mask, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = x[i] * mask[i];
}

static void k_add_bias(float *LR_RESTRICT out, const float *LR_RESTRICT bias, int64_t M, int64_t N) {
  for (int64_t i = 0; i < M; i++) {
    float *row = out + i * N;
    for (int64_t j = 0; j < N; j++) row[j] += bias[j];
  }
}

static void k_bias_backward(float *LR_RESTRICT dbias, const float *LR_RESTRICT dout, int64_t M, int64_t N,
                            int accumulate, double *LR_RESTRICT acc) {
  for (int64_t j = 0; j < N; j++) acc[j] = 0.0;
  for (int64_t i = 0; i < M; i++) {
    const float *row = dout + i * N;
    for (int64_t j = 0; j < N; j++) acc[j] += (double)row[j];
  }
  for (int64_t j = 0; j < N; j++) dbias[j] = (float)((accumulate ? (double)dbias[j] : 0.0) + acc[j]);
}

static double k_sum_squares(const float *x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) {
      double v = (double)x[i + j];
      acc[j] += v * v;
    }
  double s = 0.0;
  for (; i < n; i++) s += (double)x[i] * (double)x[i];
  for (int j = 0; j < 8; j++) s += acc[j];
  return s;
}

static void k_gelu_forward(float *LR_RESTRICT out, const float *LR_RESTRICT x, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    float u = LR_GELU_K * (v + 0.044715f * v * v * v);
    out[i] = 0.5f * v * (1.0f + lr_tanhf(u));
  }
}

static void k_gelu_backward(float *LR_RESTRICT dx, const float *LR_RESTRICT x, const float *LR_RESTRICT dout,
                            int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    float u = LR_GELU_K * (v + 0.044715f * v * v * v);
    float th = lr_tanhf(u);
    float du = LR_GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
    dx[i] = dout[i] * (0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * du);
  }
}

/* ---- reductions --------------------------------------------------------------------------------- */

static float k_dot(const float *LR_RESTRICT a, const float *LR_RESTRICT b, int64_t n) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) acc[j] = LR_FMA(a[i + j], b[i + j], acc[j]);
  float s = 0.0f;
  for (; i < n; i++) s = LR_FMA(a[i], b[i], s);
  for (int j = 0; j < 8; j++) acc[j] += acc[j + 8];
  for (int j = 0; j < 4; j++) acc[j] += acc[j + 4];
  return s + ((acc[0] + acc[2]) + (acc[1] + acc[3]));
}

static double sum_f64(const float *x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += (double)x[i + j];
  double s = 0.0;
  for (; i < n; i++) s += (double)x[i];
  for (int j = 0; j < 8; j++) s += acc[j];
  return s;
}

static double sum_sq_dev_f64(const float *x, double m, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) {
      double d = (double)x[i + j] - m;
      acc[j] += d * d;
    }
  double s = 0.0;
  for (; i < n; i++) {
    double d = (double)x[i] - m;
    s += d * d;
  }
  for (int j = 0; j < 8; j++) s += acc[j];
  return s;
}

static float max_f32(const float *x, int64_t n) {
  float acc[16];
  for (int j = 0; j < 16; j++) acc[j] = -INFINITY;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
  float m = -INFINITY;
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  for (int j = 0; j < 16; j++) m = acc[j] > m ? acc[j] : m;
  return m;
}

/* What `best = 0; for i >= 1: if (x[i] > x[best]) best = i` gives (src/model/sampling.ts argmax): the first
 * index of the largest value, NaN never larger than anything, and so 0 when x[0] is NaN. Two passes that
 * vectorise: the largest value m (max_f32 skips NaN; x[0] is a number, so m >= x[0]), then the first index
 * holding m (compared with ==, so -0 and +0 are one value, as for `>`). */
static int64_t k_argmax(const float *x, int64_t n) {
  if (x[0] != x[0]) return 0;
  const float m = max_f32(x, n);
  int64_t i = 0;
  for (; i + 256 <= n; i += 256) { /* the first block of 256 that holds m (a counting loop vectorises) */
    int32_t hits = 0;
    for (int j = 0; j < 256; j++) hits += x[i + j] == m;
    if (hits) break;
  }
  while (x[i] != m) i++; /* m is one of x[i..n) */
  return i;
}

/* out[i] = exp(x[i] - mx); returns the sum in double. out may alias x. */
static double exp_shift_sum(float *out, const float *x, float mx, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) {
      float e = lr_expf(x[i + j] - mx);
      out[i + j] = e;
      acc[j] += (double)e;
    }
  double s = 0.0;
  for (; i < n; i++) {
    float e = lr_expf(x[i] - mx);
    out[i] = e;
    s += (double)e;
  }
  for (int j = 0; j < 8; j++) s += acc[j];
  return s;
}

/* ---- layernorm ---------------------------------------------------------------------------------- */

static void k_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                                const float *b, int64_t N, int64_t C, float eps) {
  for (int64_t i = 0; i < N; i++) {
    const float *xr = x + i * C;
    float *o = out + i * C;
    /* two passes in double: the rows may be off-centre (a one-pass variance in float loses digits) */
    double m = sum_f64(xr, C) / (double)C;
    double v = sum_sq_dev_f64(xr, m, C) / (double)C;
    double s = 1.0 / sqrt(v + (double)eps);
    float mf = (float)m, sf = (float)s;
    for (int64_t c = 0; c < C; c++) o[c] = (xr[c] - mf) * sf * w[c] + b[c];
    mean[i] = mf;
    rstd[i] = sf;
  }
}

static void k_layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                                 const float *w, const float *mean, const float *rstd, int64_t N, int64_t C,
                                 int accumulate) {
  for (int64_t i = 0; i < N; i++) {
    const float *xr = x + i * C;
    const float *g = dout + i * C;
    float *d = dx + i * C;
    const float m = mean[i], s = rstd[i];
    /* dnorm = dout * w; dx = s * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)) */
    double a1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, a2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t c = 0;
    for (; c + 8 <= C; c += 8)
      for (int j = 0; j < 8; j++) {
        float xhat = (xr[c + j] - m) * s;
        float dn = g[c + j] * w[c + j];
        a1[j] += (double)dn;
        a2[j] += (double)dn * (double)xhat;
      }
    double s1 = 0.0, s2 = 0.0;
    for (; c < C; c++) {
      float xhat = (xr[c] - m) * s;
      float dn = g[c] * w[c];
      s1 += (double)dn;
      s2 += (double)dn * (double)xhat;
    }
    for (int j = 0; j < 8; j++) {
      s1 += a1[j];
      s2 += a2[j];
    }
    const float dnMean = (float)(s1 / (double)C), dnXhatMean = (float)(s2 / (double)C);
    if (accumulate) {
      for (c = 0; c < C; c++) {
        float xhat = (xr[c] - m) * s;
        d[c] += s * (g[c] * w[c] - dnMean - xhat * dnXhatMean);
      }
    } else {
      for (c = 0; c < C; c++) {
        float xhat = (xr[c] - m) * s;
        d[c] = s * (g[c] * w[c] - dnMean - xhat * dnXhatMean);
      }
    }
    if (dw)
      for (c = 0; c < C; c++) dw[c] += g[c] * ((xr[c] - m) * s);
    if (db)
      for (c = 0; c < C; c++) db[c] += g[c];
  }
}

/* ---- softmax (attention) ------------------------------------------------------------------------ */

static void k_softmax_causal(float *s, int64_t rows, int64_t ncols, int64_t ld, int64_t last0, const int32_t *mask) {
  for (int64_t r = 0; r < rows; r++) {
    float *row = s + r * ld;
    int64_t n = last0 + r + 1; /* keys 0..last0+r */
    if (n > ncols) n = ncols;
    float mx = -INFINITY;
    if (mask) {
      for (int64_t j = 0; j < n; j++) {
        float v = mask[j] ? row[j] : -INFINITY;
        mx = v > mx ? v : mx;
      }
    } else {
      mx = max_f32(row, n);
    }
    if (mx == -INFINITY) { /* every key masked: zeros (never scored) */
      for (int64_t j = 0; j < ncols; j++) row[j] = 0.0f;
      continue;
    }
    float sum = 0.0f;
    if (mask) {
      for (int64_t j = 0; j < n; j++) {
        float e = mask[j] ? lr_expf(row[j] - mx) : 0.0f;
        row[j] = e;
      }
    } else {
      for (int64_t j = 0; j < n; j++) row[j] = lr_expf(row[j] - mx);
    }
    {
      float acc[16] = {0};
      int64_t j = 0;
      for (; j + 16 <= n; j += 16)
        for (int q = 0; q < 16; q++) acc[q] += row[j + q];
      for (; j < n; j++) sum += row[j];
      for (int q = 0; q < 16; q++) sum += acc[q];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < n; j++) row[j] *= inv;
    for (int64_t j = n; j < ncols; j++) row[j] = 0.0f;
  }
}

static double k_softmax_terms(float *LR_RESTRICT e, const float *LR_RESTRICT x, int64_t n, float m, float invT) {
  double acc[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int q = 0; q < 8; q++) {
      const float v = lr_expf((x[i + q] - m) * invT);
      e[i + q] = v;
      acc[q] += (double)v;
    }
  double s = 0.0;
  for (; i < n; i++) {
    const float v = lr_expf((x[i] - m) * invT);
    e[i] = v;
    s += (double)v;
  }
  for (int q = 0; q < 8; q++) s += acc[q];
  return s;
}

static void k_softmax_backward(float *LR_RESTRICT dp, const float *LR_RESTRICT p, int64_t rows, int64_t n,
                               float scale) {
  for (int64_t r = 0; r < rows; r++) {
    float *d = dp + r * n;
    const float *pr = p + r * n;
    const float dot = k_dot(pr, d, n);
    for (int64_t j = 0; j < n; j++) d[j] = pr[j] * (d[j] - dot) * scale;
  }
}

/* ---- cross-entropy ------------------------------------------------------------------------------ */

static void k_xent_forward(float *losses, const float *logits, const int32_t *targets, int64_t N, int64_t V) {
  for (int64_t i = 0; i < N; i++) {
    const int32_t t = targets[i];
    if (t < 0) {
      losses[i] = 0.0f;
      continue;
    }
    const float *x = logits + i * V;
    const float mx = max_f32(x, V);
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t v = 0;
    for (; v + 8 <= V; v += 8)
      for (int j = 0; j < 8; j++) acc[j] += (double)lr_expf(x[v + j] - mx);
    double sum = 0.0;
    for (; v < V; v++) sum += (double)lr_expf(x[v] - mx);
    for (int j = 0; j < 8; j++) sum += acc[j];
    losses[i] = (float)(log(sum) + (double)mx - (double)x[t]);
  }
}

static void k_xent_backward(float *dlogits, const float *logits, const int32_t *targets, const float *dloss,
                            int64_t N, int64_t V) {
  for (int64_t i = 0; i < N; i++) {
    const int32_t t = targets[i];
    float *d = dlogits + i * V;
    if (t < 0) {
      for (int64_t v = 0; v < V; v++) d[v] = 0.0f;
      continue;
    }
    const float *x = logits + i * V; /* may alias d: each element is read before it is written */
    const float mx = max_f32(x, V);
    const double sum = exp_shift_sum(d, x, mx, V);
    const float et = d[t];
    const float inv = (float)(1.0 / sum);
    const float g = dloss[i];
    for (int64_t v = 0; v < V; v++) d[v] = d[v] * inv * g;
    d[t] = (et * inv - 1.0f) * g;
  }
}

/* ---- training helpers --------------------------------------------------------------------------- */

static void k_dropout_mask(float *mask, int64_t n, double p, uint32_t seed, int64_t offset) {
  if (p <= 0.0) {
    for (int64_t i = 0; i < n; i++) mask[i] = 1.0f;
    return;
  }
  /* hash/2^24 < p  <=>  hash < ceil(p * 2^24) for an integer hash: an integer compare that vectorises */
  const double pt = ceil(p * 16777216.0);
  const uint32_t thr = pt >= 16777216.0 ? 16777216u : (uint32_t)pt;
  const float keep = (float)(1.0 / (1.0 - p));
  const uint32_t base = (uint32_t)(uint64_t)offset; /* offset + i wraps mod 2^32, like `>>> 0` */
  for (int64_t i = 0; i < n; i++) {
    uint32_t h = lr_hash(seed, base + (uint32_t)i);
    mask[i] = h < thr ? 0.0f : keep;
  }
}

static void k_adamw(float *params, const float *grads, float *m, float *v, int64_t n, double lr, double beta1,
                    double beta2, double eps, double wd, double step) {
  const double bc1 = 1.0 - pow(beta1, step);
  const double bc2 = 1.0 - pow(beta2, step);
  for (int64_t i = 0; i < n; i++) {
    const double g = (double)grads[i];
    /* the reference stores m and v as float32 before using them: do the same */
    const float mf = (float)(beta1 * (double)m[i] + (1.0 - beta1) * g);
    const float vf = (float)(beta2 * (double)v[i] + (1.0 - beta2) * g * g);
    m[i] = mf;
    v[i] = vf;
    const double mhat = (double)mf / bc1;
    const double vhat = (double)vf / bc2;
    const double p = (double)params[i];
    params[i] = (float)(p - lr * (mhat / (sqrt(vhat) + eps) + wd * p));
  }
}

/* ---- small-M matmul: the weight is streamed from memory once for all M rows ---------------------- */

/* Columns per block: the M x NB floats of out stay in L1 (16 KB), and for one row (decode) a whole
 * GPT-2 row (up to 4096 columns) is one block, so B is read as long contiguous streams. */
#define LR_OUT_FLOATS 4096

static void k_gemm_small_nn(float *LR_RESTRICT out, const float *LR_RESTRICT a, const float *LR_RESTRICT b,
                            int64_t M, int64_t N, int64_t K, float alpha, float beta) {
  int64_t NB = (LR_OUT_FLOATS / (M > 0 ? M : 1)) & ~(int64_t)15;
  if (NB < 256) NB = 256;
  for (int64_t n0 = 0; n0 < N; n0 += NB) {
    const int64_t nb = N - n0 < NB ? N - n0 : NB;
    for (int64_t m = 0; m < M; m++) {
      float *y = out + m * N + n0;
      if (beta == 0.0f)
        for (int64_t j = 0; j < nb; j++) y[j] = 0.0f;
      else if (beta != 1.0f)
        for (int64_t j = 0; j < nb; j++) y[j] *= beta;
    }
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
      const float *b0 = b + k * N + n0, *b1 = b0 + N, *b2 = b1 + N, *b3 = b2 + N;
      for (int64_t m = 0; m < M; m++) {
        const float *am = a + m * K + k;
        const float c0 = alpha * am[0], c1 = alpha * am[1], c2 = alpha * am[2], c3 = alpha * am[3];
        float *LR_RESTRICT y = out + m * N + n0;
        for (int64_t j = 0; j < nb; j++) {
          float acc = LR_FMA(c0, b0[j], y[j]);
          acc = LR_FMA(c1, b1[j], acc);
          acc = LR_FMA(c2, b2[j], acc);
          y[j] = LR_FMA(c3, b3[j], acc);
        }
      }
    }
    for (; k < K; k++) {
      const float *b0 = b + k * N + n0;
      for (int64_t m = 0; m < M; m++) {
        const float c0 = alpha * a[m * K + k];
        float *LR_RESTRICT y = out + m * N + n0;
        for (int64_t j = 0; j < nb; j++) y[j] = LR_FMA(c0, b0[j], y[j]);
      }
    }
  }
}

static void k_gemm_small_nt(float *LR_RESTRICT out, const float *LR_RESTRICT a, const float *LR_RESTRICT b,
                            int64_t M, int64_t N, int64_t K, float alpha, float beta) {
  int64_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const float *b0 = b + n * K, *b1 = b0 + K, *b2 = b1 + K, *b3 = b2 + K;
    for (int64_t m = 0; m < M; m++) {
      const float *am = a + m * K;
      float s0[8] = {0}, s1[8] = {0}, s2[8] = {0}, s3[8] = {0};
      int64_t k = 0;
      for (; k + 8 <= K; k += 8)
        for (int j = 0; j < 8; j++) {
          const float av = am[k + j];
          s0[j] = LR_FMA(av, b0[k + j], s0[j]);
          s1[j] = LR_FMA(av, b1[k + j], s1[j]);
          s2[j] = LR_FMA(av, b2[k + j], s2[j]);
          s3[j] = LR_FMA(av, b3[k + j], s3[j]);
        }
      float r0 = 0.0f, r1 = 0.0f, r2 = 0.0f, r3 = 0.0f;
      for (; k < K; k++) {
        r0 = LR_FMA(am[k], b0[k], r0);
        r1 = LR_FMA(am[k], b1[k], r1);
        r2 = LR_FMA(am[k], b2[k], r2);
        r3 = LR_FMA(am[k], b3[k], r3);
      }
      for (int j = 0; j < 4; j++) {
        s0[j] += s0[j + 4];
        s1[j] += s1[j + 4];
        s2[j] += s2[j + 4];
        s3[j] += s3[j + 4];
      }
      r0 += (s0[0] + s0[2]) + (s0[1] + s0[3]);
      r1 += (s1[0] + s1[2]) + (s1[1] + s1[3]);
      r2 += (s2[0] + s2[2]) + (s2[1] + s2[3]);
      r3 += (s3[0] + s3[2]) + (s3[1] + s3[3]);
      float *o = out + m * N + n;
      if (beta == 0.0f) {
        o[0] = alpha * r0;
        o[1] = alpha * r1;
        o[2] = alpha * r2;
        o[3] = alpha * r3;
      } else {
        o[0] = alpha * r0 + beta * o[0];
        o[1] = alpha * r1 + beta * o[1];
        o[2] = alpha * r2 + beta * o[2];
        o[3] = alpha * r3 + beta * o[3];
      }
    }
  }
  for (; n < N; n++) {
    for (int64_t m = 0; m < M; m++) {
      const float r = k_dot(a + m * K, b + n * K, K);
      float *o = out + m * N + n;
      *o = beta == 0.0f ? alpha * r : alpha * r + beta * *o;
    }
  }
}

/* ---- the table ---------------------------------------------------------------------------------- */

void LR_SUFFIX(lr_kernels_fill)(lr_kernels *t) {
  t->add = k_add;
  t->axpy = k_axpy;
  t->scale = k_scale;
  t->mul = k_mul;
  t->add_bias = k_add_bias;
  t->bias_backward = k_bias_backward;
  t->sum_squares = k_sum_squares;
  t->gelu_forward = k_gelu_forward;
  t->gelu_backward = k_gelu_backward;
  t->layernorm_forward = k_layernorm_forward;
  t->layernorm_backward = k_layernorm_backward;
  t->softmax_causal = k_softmax_causal;
  t->softmax_terms = k_softmax_terms;
  t->softmax_backward = k_softmax_backward;
  t->dot = k_dot;
  t->argmax = k_argmax;
  t->xent_forward = k_xent_forward;
  t->xent_backward = k_xent_backward;
  t->dropout_mask = k_dropout_mask;
  t->adamw = k_adamw;
  t->gemm_small_nn = k_gemm_small_nn;
  t->gemm_small_nt = k_gemm_small_nt;
}
