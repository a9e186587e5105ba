/*
 * loraroute native kernels: the dispatch table shared by the instruction-set variants.
 *
 * Each kernel is compiled three times from kernels_impl.h: for baseline x86-64 (SSE2), with AVX2+FMA+F16C
 * (kernels_avx2.c) and with AVX-512 F/BW/VL/DQ (kernels_avx512.c), by `#pragma GCC target`. The addon picks
 * one table at load time from cpuid (cpu.h), or the one LORAROUTE_ISA names, so it runs on any x86-64 and
 * uses the widest registers the CPU has.
 * No -ffast-math: results keep IEEE semantics; reductions get their parallelism from explicit lanes.
 */
#ifndef LORAROUTE_KERNELS_H
#define LORAROUTE_KERNELS_H

#include <stdint.h>

typedef struct lr_kernels {
  const char *isa;

  void (*add)(float *out, const float *a, const float *b, int64_t n);
  void (*axpy)(float *y, const float *x, float alpha, int64_t n);
  void (*scale)(float *x, float s, int64_t n);
  void (*mul)(float *out, const float *x, const float *mask, int64_t n);
  void (*add_bias)(float *out, const float *bias, int64_t M, int64_t N);
  /* acc: double scratch of N elements */
  void (*bias_backward)(float *dbias, const float *dout, int64_t M, int64_t N, int accumulate, double *acc);
  double (*sum_squares)(const float *x, int64_t n);

  void (*gelu_forward)(float *out, const float *x, int64_t n);
  void (*gelu_backward)(float *dx, const float *x, const float *dout, int64_t n);

  void (*layernorm_forward)(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                            int64_t N, int64_t C, float eps);
  void (*layernorm_backward)(float *dx, float *dw, float *db, const float *dout, const float *x, const float *w,
                             const float *mean, const float *rstd, int64_t N, int64_t C, int accumulate);

  /* Softmax over rows of scores [rows, ld] in place: row r covers keys 0..last0+r (causal), keys whose
   * mask entry is 0 are dropped; entries past `last` and dropped ones become 0 (up to ncols). */
  void (*softmax_causal)(float *s, int64_t rows, int64_t ncols, int64_t ld, int64_t last0, const int32_t *mask);
  /* dS = P * (dP - rowsum(P*dP)) * scale over rows [rows, n] (in place into dp) */
  void (*softmax_backward)(float *dp, const float *p, int64_t rows, int64_t n, float scale);

  /* e[i] = exp((x[i] - m) * invT) for i < n (x[i] <= m), as float; returns their sum in double */
  double (*softmax_terms)(float *e, const float *x, int64_t n, float m, float invT);

  float (*dot)(const float *a, const float *b, int64_t n);
  /* index of the largest of x[0..n) (n >= 1): the first of equal ones, NaN never larger (0 when x[0] is NaN) */
  int64_t (*argmax)(const float *x, int64_t n);

  void (*xent_forward)(float *losses, const float *logits, const int32_t *targets, int64_t N, int64_t V);
  void (*xent_backward)(float *dlogits, const float *logits, const int32_t *targets, const float *dloss,
                        int64_t N, int64_t V);

  void (*dropout_mask)(float *mask, int64_t n, double p, uint32_t seed, int64_t offset);
  void (*adamw)(float *params, const float *grads, float *m, float *v, int64_t n, double lr, double beta1,
                double beta2, double eps, double wd, double step);

  /* Small-M matmul (weights streamed once): out[M,N] = alpha * A[M,K] @ op(B) + beta * out.
   * nn: B is [K, N]; nt: B is [N, K]. beta == 0 never reads out. */
  void (*gemm_small_nn)(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, float alpha,
                        float beta);
  void (*gemm_small_nt)(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, float alpha,
                        float beta);
} lr_kernels;

void lr_kernels_fill_base(lr_kernels *t);
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define LR_HAVE_AVX2_VARIANT 1
void lr_kernels_fill_avx2(lr_kernels *t);
void lr_kernels_fill_avx512(lr_kernels *t);
#endif

/* the counter-based hash of src/tensor/hash.ts, bit for bit */
static inline uint32_t lr_hash(uint32_t seed, uint32_t index) {
  uint32_t x = seed * 0x9e3779b9u + index;
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x >> 8; /* 24 bits; uniform = this / 2^24 */
}

#endif
