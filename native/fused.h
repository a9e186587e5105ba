/*
 * The fused kernels of kernels.h run on the pool (pool.h): elementwise ones over blocks of elements, row
 * ones (layernorm, cross-entropy) over blocks of rows. Every element or row is computed by the same code
 * as on one thread, so results do not depend on the number of threads; the one reduction (sum of squares)
 * adds fixed-size blocks in a fixed order for the same reason.
 */
#ifndef LORAROUTE_FUSED_H
#define LORAROUTE_FUSED_H

#include <stdint.h>

void lr_add(float *out, const float *a, const float *b, int64_t n);
void lr_axpy(float *y, const float *x, float alpha, int64_t n);
void lr_scale(float *x, float s, int64_t n);
void lr_mul(float *out, const float *x, const float *mask, int64_t n);
void lr_add_bias(float *out, const float *bias, int64_t M, int64_t N);
double lr_sum_squares(const float *x, int64_t n);
void lr_gelu_forward(float *out, const float *x, int64_t n);
void lr_gelu_backward(float *dx, const float *x, const float *dout, int64_t n);
void lr_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b, int64_t N,
                          int64_t C, float eps);
void lr_layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x, const float *w,
                           const float *mean, const float *rstd, int64_t N, int64_t C, int accumulate);
void lr_xent_forward(float *losses, const float *logits, const int32_t *targets, int64_t N, int64_t V);
void lr_xent_backward(float *dlogits, const float *logits, const int32_t *targets, const float *dloss, int64_t N,
                      int64_t V);
/* out[r] = the argmax of row r of x [rows, V] (V >= 1; kernels.h argmax) */
void lr_argmax_rows(int32_t *out, const float *x, int64_t rows, int64_t V);
void lr_dropout_mask(float *mask, int64_t n, double p, uint32_t seed, int64_t offset);
void lr_adamw(float *params, const float *grads, float *m, float *v, int64_t n, double lr, double beta1, double beta2,
              double eps, double wd, double step);
/* embeddingForward: out[i] = wte[ids[i]] + wpe[pos[i]] (ids checked by the caller) */
void lr_bias_backward(float *dbias, const float *dout, int64_t M, int64_t N, int accumulate);
void lr_embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *ids, const int32_t *pos, int64_t BT,
                           int64_t C);
void lr_embedding_forward(float *out, const int32_t *ids, const int32_t *pos, const float *wte, const float *wpe,
                          int64_t BT, int64_t C);

#endif
