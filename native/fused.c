/* Fused kernels on the pool (see fused.h): one job struct, one chunk function per kernel. */
#include "fused.h"

#include <stddef.h>

#include "ops.h"
#include "pool.h"

/* elementwise work below this many elements runs on the calling thread */
#define EL_MIN 32768
/* rows are handed out so that a chunk has at least this many elements */
#define ROW_MIN_ELEMS 16384
/* sum of squares: fixed blocks (independent of the thread count), added in order */
#define SSQ_BLOCK 65536
#define SSQ_MAX_BLOCKS 4096

typedef struct {
  float *o, *o2, *o3, *o4;
  const float *i1, *i2, *i3, *i4, *i5;
  const int32_t *t1, *t2;
  int64_t n, cols, chunk;
  float f;
  double d[6];
  int flag;
  uint32_t seed;
  int64_t offset;
  double *partial;
  int32_t *io;
} fjob;

static int64_t nchunks(int64_t n, int64_t chunk) { return (n + chunk - 1) / chunk; }
#define RANGE(j, c, s, len)                                          \
  const int64_t s = (c) * (j)->chunk;                                \
  const int64_t len = (j)->n - s < (j)->chunk ? (j)->n - s : (j)->chunk;

static int64_t el_chunk(int64_t n) { return lr_pool_chunk(n, EL_MIN, 64, 2); }
static int64_t row_chunk(int64_t rows, int64_t cols) {
  const int64_t min = cols > 0 ? (ROW_MIN_ELEMS + cols - 1) / cols : rows;
  return lr_pool_chunk(rows, min > 0 ? min : 1, 1, 2);
}

static void c_add(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  lr_k()->add(j->o + s, j->i1 + s, j->i2 + s, len);
}
void lr_add(float *out, const float *a, const float *b, int64_t n) {
  fjob j = {.o = out, .i1 = a, .i2 = b, .n = n, .chunk = el_chunk(n)};
  lr_pool_run(nchunks(n, j.chunk), c_add, &j);
}

static void c_axpy(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  lr_k()->axpy(j->o + s, j->i1 + s, j->f, len);
}
void lr_axpy(float *y, const float *x, float alpha, int64_t n) {
  fjob j = {.o = y, .i1 = x, .f = alpha, .n = n, .chunk = el_chunk(n)};
  lr_pool_run(nchunks(n, j.chunk), c_axpy, &j);
}

static void c_scale(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  lr_k()->scale(j->o + s, j->f, len);
}
void lr_scale(float *x, float s, int64_t n) {
  fjob j = {.o = x, .f = s, .n = n, .chunk = el_chunk(n)};
  lr_pool_run(nchunks(n, j.chunk), c_scale, &j);
}

static void c_mul(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  lr_k()->mul(j->o + s, j->i1 + s, j->i2 + s, len);
}
void lr_mul(float *out, const float *x, const float *mask, int64_t n) {
  fjob j = {.o = out, .i1 = x, .i2 = mask, .n = n, .chunk = el_chunk(n)};
  lr_pool_run(nchunks(n, j.chunk), c_mul, &j);
}

static void c_add_bias(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  lr_k()->add_bias(j->o + s * j->cols, j->i1, len, j->cols);
}
void lr_add_bias(float *out, const float *bias, int64_t M, int64_t N) {
  fjob j = {.o = out, .i1 = bias, .n = M, .cols = N, .chunk = row_chunk(M, N)};
  lr_pool_run(nchunks(M, j.chunk), c_add_bias, &j);
}

static void c_ssq(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  j->partial[c] = lr_k()->sum_squares(j->i1 + s, len);
}
double lr_sum_squares(const float *x, int64_t n) {
  const int64_t blocks = nchunks(n, SSQ_BLOCK);
  if (lr_pool_threads() == 1 || blocks < 2 || blocks > SSQ_MAX_BLOCKS) return lr_k()->sum_squares(x, n);
  double partial[SSQ_MAX_BLOCKS];
  fjob j = {.i1 = x, .n = n, .chunk = SSQ_BLOCK, .partial = partial};
  lr_pool_run(blocks, c_ssq, &j);
  double s = 0.0;
  for (int64_t i = 0; i < blocks; i++) s += partial[i];
  return s;
}

static void c_gelu_f(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  lr_k()->gelu_forward(j->o + s, j->i1 + s, len);
}
void lr_gelu_forward(float *out, const float *x, int64_t n) {
  fjob j = {.o = out, .i1 = x, .n = n, .chunk = el_chunk(n)};
  lr_pool_run(nchunks(n, j.chunk), c_gelu_f, &j);
}

static void c_gelu_b(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  lr_k()->gelu_backward(j->o + s, j->i1 + s, j->i2 + s, len);
}
void lr_gelu_backward(float *dx, const float *x, const float *dout, int64_t n) {
  fjob j = {.o = dx, .i1 = x, .i2 = dout, .n = n, .chunk = el_chunk(n)};
  lr_pool_run(nchunks(n, j.chunk), c_gelu_b, &j);
}

static void c_ln_f(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  const int64_t C = j->cols;
  lr_k()->layernorm_forward(j->o + s * C, j->o2 + s, j->o3 + s, j->i1 + s * C, j->i2, j->i3, len, C, j->f);
}
void lr_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b, int64_t N,
                          int64_t C, float eps) {
  fjob j = {.o = out, .o2 = mean, .o3 = rstd, .i1 = x, .i2 = w, .i3 = b, .n = N, .cols = C, .f = eps,
            .chunk = row_chunk(N, C)};
  lr_pool_run(nchunks(N, j.chunk), c_ln_f, &j);
}

static void c_ln_b(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  const int64_t C = j->cols;
  lr_k()->layernorm_backward(j->o + s * C, NULL, NULL, j->i1 + s * C, j->i2 + s * C, j->i3, j->i4 + s, j->i5 + s, len, C,
                             j->flag);
}
/* Layernorm weight gradients [C] by column blocks: each column sums its rows in row order, so the result
 * does not depend on the thread count. j->offset holds N (rows). */
static void c_ln_dw(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  const int64_t C = j->cols, N = j->offset;
  for (int64_t i = 0; i < N; i++) {
    const float *xr = j->i2 + i * C, *g = j->i1 + i * C;
    const float m = j->i4[i], sd = j->i5[i];
    if (j->o2)
      for (int64_t cc = s; cc < s + len; cc++) j->o2[cc] += g[cc] * ((xr[cc] - m) * sd);
    if (j->o3)
      for (int64_t cc = s; cc < s + len; cc++) j->o3[cc] += g[cc];
  }
}
void lr_layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x, const float *w,
                           const float *mean, const float *rstd, int64_t N, int64_t C, int accumulate) {
  fjob j = {.o = dx, .i1 = dout, .i2 = x, .i3 = w, .i4 = mean, .i5 = rstd, .n = N, .cols = C, .flag = accumulate,
            .chunk = row_chunk(N, C)};
  lr_pool_run(nchunks(N, j.chunk), c_ln_b, &j); /* dx: rows */
  if (dw || db) { /* dw, db: sums over rows, split by columns */
    fjob k = {.o2 = dw, .o3 = db, .i1 = dout, .i2 = x, .i4 = mean, .i5 = rstd, .n = C, .cols = C, .offset = N,
              .chunk = row_chunk(C, N)};
    lr_pool_run(nchunks(C, k.chunk), c_ln_dw, &k);
  }
}

/* Bias gradient [N] of dout [M, N] by column blocks: a double sum per column in row order (as one thread). */
static void c_bias_b(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  const int64_t M = j->offset, N = j->cols;
  double acc[256];
  for (int64_t b0 = s; b0 < s + len; b0 += 256) {
    const int64_t bl = s + len - b0 < 256 ? s + len - b0 : 256;
    for (int64_t q = 0; q < bl; q++) acc[q] = 0.0;
    for (int64_t i = 0; i < M; i++) {
      const float *row = j->i1 + i * N + b0;
      for (int64_t q = 0; q < bl; q++) acc[q] += (double)row[q];
    }
    for (int64_t q = 0; q < bl; q++) j->o[b0 + q] = (float)((j->flag ? (double)j->o[b0 + q] : 0.0) + acc[q]);
  }
}
void lr_bias_backward(float *dbias, const float *dout, int64_t M, int64_t N, int accumulate) {
  fjob j = {.o = dbias, .i1 = dout, .n = N, .cols = N, .offset = M, .flag = accumulate, .chunk = row_chunk(N, M)};
  lr_pool_run(nchunks(N, j.chunk), c_bias_b, &j);
}

/* Embedding gradients by column blocks: rows are added in order, so repeated ids sum as one thread would. */
static void c_emb_b(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  const int64_t C = j->cols, BT = j->offset;
  for (int64_t i = 0; i < BT; i++) {
    const float *g = j->i1 + i * C;
    if (j->o) {
      float *d = j->o + (int64_t)j->t1[i] * C;
      for (int64_t cc = s; cc < s + len; cc++) d[cc] += g[cc];
    }
    if (j->o2) {
      float *d = j->o2 + (int64_t)j->t2[i] * C;
      for (int64_t cc = s; cc < s + len; cc++) d[cc] += g[cc];
    }
  }
}
void lr_embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *ids, const int32_t *pos, int64_t BT,
                           int64_t C) {
  fjob j = {.o = dwte, .o2 = dwpe, .i1 = dout, .t1 = ids, .t2 = pos, .n = C, .cols = C, .offset = BT, .chunk = row_chunk(C, BT)};
  lr_pool_run(nchunks(C, j.chunk), c_emb_b, &j);
}

static void c_xent_f(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  lr_k()->xent_forward(j->o + s, j->i1 + s * j->cols, j->t1 + s, len, j->cols);
}
void lr_xent_forward(float *losses, const float *logits, const int32_t *targets, int64_t N, int64_t V) {
  fjob j = {.o = losses, .i1 = logits, .t1 = targets, .n = N, .cols = V, .chunk = row_chunk(N, V)};
  lr_pool_run(nchunks(N, j.chunk), c_xent_f, &j);
}

static void c_xent_b(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  lr_k()->xent_backward(j->o + s * j->cols, j->i1 + s * j->cols, j->t1 + s, j->i2 + s, len, j->cols);
}
void lr_xent_backward(float *dlogits, const float *logits, const int32_t *targets, const float *dloss, int64_t N,
                      int64_t V) {
  fjob j = {.o = dlogits, .i1 = logits, .t1 = targets, .i2 = dloss, .n = N, .cols = V, .chunk = row_chunk(N, V)};
  lr_pool_run(nchunks(N, j.chunk), c_xent_b, &j);
}

static void c_argmax(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  for (int64_t r = s; r < s + len; r++) j->io[r] = (int32_t)lr_k()->argmax(j->i1 + r * j->cols, j->cols);
}
/* whole rows per chunk: one GPT-2 row (50257 logits) is a few microseconds, less than handing half of it out */
void lr_argmax_rows(int32_t *out, const float *x, int64_t rows, int64_t V) {
  fjob j = {.io = out, .i1 = x, .n = rows, .cols = V, .chunk = row_chunk(rows, V)};
  lr_pool_run(nchunks(rows, j.chunk), c_argmax, &j);
}

static void c_dropout(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  /* element s + i has hash index offset + s + i (mod 2^32) */
  lr_k()->dropout_mask(j->o + s, len, j->d[0], j->seed, (int64_t)(uint32_t)((uint64_t)j->offset + (uint64_t)s));
}
void lr_dropout_mask(float *mask, int64_t n, double p, uint32_t seed, int64_t offset) {
  fjob j = {.o = mask, .n = n, .d = {p}, .seed = seed, .offset = offset, .chunk = el_chunk(n)};
  lr_pool_run(nchunks(n, j.chunk), c_dropout, &j);
}

static void c_adamw(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  lr_k()->adamw(j->o + s, j->i1 + s, j->o2 + s, j->o3 + s, len, j->d[0], j->d[1], j->d[2], j->d[3], j->d[4], j->d[5]);
}
void lr_adamw(float *params, const float *grads, float *m, float *v, int64_t n, double lr, double beta1, double beta2,
              double eps, double wd, double step) {
  fjob j = {.o = params, .i1 = grads, .o2 = m, .o3 = v, .n = n, .d = {lr, beta1, beta2, eps, wd, step},
            .chunk = lr_pool_chunk(n, 8192, 64, 2)};
  lr_pool_run(nchunks(n, j.chunk), c_adamw, &j);
}

static void c_emb_f(void *ctx, int64_t c, int t) {
  (void)t;
  fjob *j = ctx;
  RANGE(j, c, s, len);
  const int64_t C = j->cols;
  for (int64_t i = s; i < s + len; i++)
    lr_k()->add(j->o + i * C, j->i1 + (int64_t)j->t1[i] * C, j->i2 + (int64_t)j->t2[i] * C, C);
}
void lr_embedding_forward(float *out, const int32_t *ids, const int32_t *pos, const float *wte, const float *wpe,
                          int64_t BT, int64_t C) {
  fjob j = {.o = out, .t1 = ids, .t2 = pos, .i1 = wte, .i2 = wpe, .n = BT, .cols = C, .chunk = row_chunk(BT, C)};
  lr_pool_run(nchunks(BT, j.chunk), c_emb_f, &j);
}
