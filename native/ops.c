/*
 * Matmul and attention: OpenBLAS sgemm for the heavy products and the fused kernels between them, with
 * one level of threading: the pool of pool.h. OpenBLAS is set to one thread at load, so that no product
 * ever wakes a second pool (the nesting that made attention 3x slower, and OpenBLAS's spinning threads
 * that collapse when another process competes for the cores); a big product is cut into column (or row)
 * blocks, each one single-threaded sgemm on a pool thread, and attention runs one head per pool task.
 */
#define _GNU_SOURCE
#include "ops.h"

#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "arena.h"
#include "attend.h"
#include "half.h"
#include "pool.h"

/* OpenBLAS's pool size (declared here too in case the cblas.h found is not OpenBLAS's own) */
void openblas_set_num_threads(int num_threads);

static lr_kernels g_kernels; /* written once at load (lr_select_kernels), read-only afterwards */
static lr_cpu g_cpu;
static int g_avx2; /* AVX2 + FMA + F16C: the gemv_avx2.c kernels (and fp16 weights) may be used */
static lr_panels_fn g_panels = lr_gemv_panels_f16; /* the packed-panel kernel of the chosen level */
static int g_attend512 = 0;                       /* one decode query by lr_attend_one_avx512 */

int lr_attend_avx512(void) { return g_attend512; }

const lr_kernels *lr_k(void) { return &g_kernels; }
const lr_cpu *lr_cpu_info(void) { return &g_cpu; }
int lr_half_supported(void) { return g_avx2; }

int lr_select_kernels(int force) {
  lr_cpu_detect(&g_cpu);
  int level = g_cpu.level;
  if (force >= 0) {
    if (force > level) return -1;
    level = force;
  }
  lr_kernels t;
  memset(&t, 0, sizeof t);
#ifdef LR_HAVE_AVX2_VARIANT
  if (level == LR_ISA_AVX512)
    lr_kernels_fill_avx512(&t);
  else if (level == LR_ISA_AVX2)
    lr_kernels_fill_avx2(&t);
  else
#endif
  {
    lr_kernels_fill_base(&t);
    level = LR_ISA_BASELINE;
  }
  t.isa = lr_isa_name(level);
  g_avx2 = level >= LR_ISA_AVX2;
  g_panels = level >= LR_ISA_AVX512 ? lr_gemv_panels_f16_avx512 : lr_gemv_panels_f16;
  g_attend512 = level >= LR_ISA_AVX512;
  g_kernels = t;
  return 0;
}

int lr_cpus_available(void) {
#ifdef CPU_COUNT
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

void lr_ops_init(int threads) {
  openblas_set_num_threads(1);
  lr_pool_set_threads(threads >= 1 ? threads : lr_cpus_available());
}

/* ---- matmul ----------------------------------------------------------------------------------------- */

/* Below this many rows of A, a matmul streams B once through the small-M kernels instead of sgemm:
 * OpenBLAS 0.3.21 packs B for every sgemm, which for a decode step (M = 1) costs more than the product. */
#define LR_SMALL_M 8
/* A @ B^T keeps B's tile in L1 across rows (gemv_avx2.c), so it streams for up to 16 rows: a decode step of
 * 16 rows reads the LM head once, with every row's bits what they are alone. So does A @ B with fp16 weights:
 * from a packed copy (lr_half's panels) in one pass, else in blocks of LR_SMALL_M rows. */
#define LR_SMALL_M_NT 16
#define LR_SMALL_M_HALF 16
/* products below this many multiply-adds run as one call (splitting costs more than it gains) */
#define LR_SPLIT_MIN_FLOPS ((int64_t)1 << 21)
/* a chunk of a split product over packed panels does at least this many multiply-adds (fewer cost more to
 * hand out than they gain), so that a 768-wide weight is cut in 6 or 12 chunks, not 3 (one thread doing two) */
#define LR_CHUNK_MIN_FLOPS ((int64_t)1 << 18)

typedef struct {
  float *out;
  const float *a, *b;
  const uint16_t *bh; /* fp16 copy of b: flat, or panels when `panels` (over the first `ncol` columns) */
  int panels;
  int64_t ncol;
  int64_t M, N, K, chunk;
  int transA, transB, byRows;
  float alpha, beta;
} mm_job;

static void sgemm_block(void *ctx, int64_t c, int thread) {
  (void)thread;
  const mm_job *j = ctx;
  const int64_t lda = j->transA ? j->M : j->K, ldb = j->transB ? j->K : j->N;
  if (j->byRows) { /* rows i0..i1 of op(A) and of out */
    const int64_t i0 = c * j->chunk, m = j->M - i0 < j->chunk ? j->M - i0 : j->chunk;
    const float *a = j->transA ? j->a + i0 : j->a + i0 * j->K;
    cblas_sgemm(CblasRowMajor, j->transA ? CblasTrans : CblasNoTrans, j->transB ? CblasTrans : CblasNoTrans, (int)m,
                (int)j->N, (int)j->K, j->alpha, a, (int)lda, j->b, (int)ldb, j->beta, j->out + i0 * j->N, (int)j->N);
  } else { /* columns n0..n1 of op(B) and of out */
    const int64_t n0 = c * j->chunk, n = j->N - n0 < j->chunk ? j->N - n0 : j->chunk;
    const float *b = j->transB ? j->b + n0 * j->K : j->b + n0;
    cblas_sgemm(CblasRowMajor, j->transA ? CblasTrans : CblasNoTrans, j->transB ? CblasTrans : CblasNoTrans, (int)j->M,
                (int)n, (int)j->K, j->alpha, j->a, (int)lda, b, (int)ldb, j->beta, j->out + n0, (int)j->N);
  }
}

/* few rows, AVX2 streaming kernels: a block of columns (of out and op(B)) per chunk */
static void gemv_block(void *ctx, int64_t c, int thread) {
  (void)thread;
  const mm_job *j = ctx;
  const int64_t cols = j->panels ? j->ncol : j->N, n0 = c * j->chunk, n = cols - n0 < j->chunk ? cols - n0 : j->chunk;
  float *out = j->out + n0;
  if (j->panels) /* chunk, n0 and n are multiples of LR_PANEL */
    g_panels(out, j->N, j->a, j->bh + n0 * j->K, j->M, n / LR_PANEL, j->K, j->alpha, j->beta);
  else if (j->bh && j->transB)
    lr_gemv_nt_f16(out, j->N, j->a, j->bh + n0 * j->K, j->K, j->M, n, j->K, j->alpha, j->beta);
  else if (j->bh)
    lr_gemv_nn_f16(out, j->N, j->a, j->bh + n0, j->N, j->M, n, j->K, j->alpha, j->beta);
  else if (j->transB)
    lr_gemv_nt_f32(out, j->N, j->a, j->b + n0 * j->K, j->K, j->M, n, j->K, j->alpha, j->beta);
  else
    lr_gemv_nn_f32(out, j->N, j->a, j->b + n0, j->N, j->M, n, j->K, j->alpha, j->beta);
}

/* Columns per task of a product of M rows over the first N16 columns of packed panels: blocks of whole
 * panels, 8 per thread (as below), each of at least LR_CHUNK_MIN_FLOPS and of whole groups of panels: 8 (128
 * columns) below 8 rows, whose blocks read 2 to 8 panels at once (gemv_avx512.c), else 4; all N16 in one
 * task when the product (flops multiply-adds) is too small to split. */
static int64_t panel_chunk(int64_t N16, int64_t M, int64_t K, int64_t flops) {
  if (flops < LR_SPLIT_MIN_FLOPS / 4) return N16;
  const int64_t align = M >= 8 ? 64 : 128, least = (LR_CHUNK_MIN_FLOPS / (M * K) + align - 1) / align * align;
  return lr_pool_chunk(N16, least > align ? least : align, align, 8);
}

/* a product over packed panels in passes of rows (lr_matmul with more than LR_SMALL_M_HALF rows) */
typedef struct {
  float *out;
  const float *a;
  const uint16_t *h;
  int64_t M, N, N16, K, passes, base, rem, chunk;
  float alpha, beta;
} pass_job;

/* the first row of pass p: passes of base rows, the last rem of them one more (the even split) */
static int64_t pass_start(const pass_job *j, int64_t p) {
  const int64_t longer = p - (j->passes - j->rem);
  return p * j->base + (longer > 0 ? longer : 0);
}

static void pass_block(void *ctx, int64_t t, int thread) {
  (void)thread;
  const pass_job *j = ctx;
  const int64_t blocks = (j->N16 + j->chunk - 1) / j->chunk, p = t / blocks, c = t % blocks;
  const int64_t m0 = pass_start(j, p), m = pass_start(j, p + 1) - m0;
  const int64_t n0 = c * j->chunk, n = j->N16 - n0 < j->chunk ? j->N16 - n0 : j->chunk;
  g_panels(j->out + m0 * j->N + n0, j->N, j->a + m0 * j->K, j->h + n0 * j->K, m, n / LR_PANEL, j->K, j->alpha, j->beta);
}

void lr_half_panel_row(float *out, const float *x, const lr_half *h, const lr_half_region *r, int64_t q) {
  g_panels(out, LR_PANEL, x, h->h + r->off + q * r->K * LR_PANEL, 1, 1, r->K, 1.0f, 0.0f);
}

void lr_matmul(float *out, const float *a, const float *b, int64_t M, int64_t N, int64_t K, int transA, int transB,
               float alpha, float beta, const lr_half *half) {
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0f) {
    /* BLAS semantics: beta == 0 sets out to zero without reading it */
    for (int64_t i = 0; i < M * N; i++) out[i] = beta == 0.0f ? 0.0f : beta * out[i];
    return;
  }
  const lr_kernels *k = lr_k();
  const int64_t flops = M * N * K;
  const lr_half_region *region = !transA ? lr_half_region_of(half, b, K, N, transB) : NULL;
  if (g_avx2 && !transA && !transB && !region && M > LR_SMALL_M && M <= LR_SMALL_M_HALF && lr_half_lookup(half, b, K * N)) {
    /* fp16 A @ B of up to 16 rows from the flat copy: blocks of LR_SMALL_M rows (each row's bits the same as
     * alone: the streaming kernels compute every row by itself) */
    for (int64_t m0 = 0; m0 < M; m0 += LR_SMALL_M) {
      const int64_t m = M - m0 < LR_SMALL_M ? M - m0 : LR_SMALL_M;
      lr_matmul(out + m0 * N, a + m0 * K, b, m, N, K, 0, 0, alpha, beta, half);
    }
    return;
  }
  if (region && g_avx2 && M > LR_SMALL_M_HALF) {
    /* more rows than a panel pass takes (a prefill): passes of at most 16 rows, as even as can be, in one
     * pool job whose tasks are (pass, block of columns): a prefill of a few dozen rows pays for one job per
     * product, not one per pass. Each row's bits are those of its pass alone (the panel kernel computes
     * every output by itself). */
    const int64_t passes = (M + LR_SMALL_M_HALF - 1) / LR_SMALL_M_HALF, N16 = N - N % LR_PANEL;
    const uint16_t *h = half->h + region->off;
    pass_job j = {out, a, h, M, N, N16, K, passes, M / passes, M % passes, N16, alpha, beta};
    const int64_t rows = j.base + (j.rem > 0); /* the longest pass */
    j.chunk = panel_chunk(N16, rows, K, rows * N16 * K);
    const int64_t blocks = N16 ? (N16 + j.chunk - 1) / j.chunk : 0;
    if (blocks) lr_pool_run(passes * blocks, pass_block, &j);
    for (int64_t p = 0; N16 < N && p < passes; p++) { /* A @ B^T's last N % 16 rows of B, flat */
      const int64_t m0 = pass_start(&j, p), m = pass_start(&j, p + 1) - m0;
      lr_gemv_nt_f16(out + m0 * N + N16, N, a + m0 * K, h + N16 * K, K, m, N - N16, K, alpha, beta);
    }
    return;
  }
  if (region && g_avx2 && M <= LR_SMALL_M_HALF) {
    /* the packed panels (over the first N16 columns; A @ B^T's last N % 16 rows of B stay flat) */
    const int64_t N16 = N - N % LR_PANEL;
    const uint16_t *h = half->h + region->off;
    mm_job j = {out, a, b, h, 1, N16, M, N, K, N16, 0, 0, 0, alpha, beta};
    j.chunk = panel_chunk(N16, M, K, flops);
    if (N16) lr_pool_run((N16 + j.chunk - 1) / j.chunk, gemv_block, &j);
    if (N16 < N) lr_gemv_nt_f16(out + N16, N, a, h + N16 * K, K, M, N - N16, K, alpha, beta);
    return;
  }
  if (M <= (transB && !transA ? LR_SMALL_M_NT : LR_SMALL_M)) {
    const float *arow = a;
    if (transA && M > 1) { /* A is [K, M]: make it [M, K] (for M == 1 the two layouts are the same) */
      float *at = lr_scratch(0, sizeof(float) * (size_t)(M * K));
      if (!at) goto blas;
      for (int64_t kk = 0; kk < K; kk++)
        for (int64_t m = 0; m < M; m++) at[m * K + kk] = a[kk * M + m];
      arow = at;
    }
    if (g_avx2) {
      mm_job j = {out, arow, b, lr_half_lookup(half, b, K * N), 0, 0, M, N, K, N, 0, transB, 0, alpha, beta};
      /* split the columns of B when there are enough of them: blocks of 64 columns, 8 per thread, so that a
       * worker that wakes late or a core that runs slower evens out */
      if (flops >= LR_SPLIT_MIN_FLOPS / 4) j.chunk = lr_pool_chunk(N, 256, 64, 8);
      lr_pool_run((N + j.chunk - 1) / j.chunk, gemv_block, &j);
    } else if (transB) {
      k->gemm_small_nt(out, arow, b, M, N, K, alpha, beta);
    } else {
      k->gemm_small_nn(out, arow, b, M, N, K, alpha, beta);
    }
    return;
  }
blas:;
  mm_job j = {out, a, b, NULL, 0, 0, M, N, K, 0, transA, transB, 0, alpha, beta};
  if (flops < LR_SPLIT_MIN_FLOPS || lr_pool_threads() == 1) {
    j.chunk = N;
    sgemm_block(&j, 0, 0);
    return;
  }
  /* cut the larger of the two output dimensions, a few blocks per thread (uneven cores even out) */
  j.byRows = M > N;
  j.chunk = j.byRows ? lr_pool_chunk(M, 16, 16, 3) : lr_pool_chunk(N, 64, 64, 3);
  lr_pool_run(((j.byRows ? M : N) + j.chunk - 1) / j.chunk, sgemm_block, &j);
}

/* ---- attention ------------------------------------------------------------------------------------- */

/* Query rows are processed in tiles so that the causal upper triangle is mostly never computed. */
#define LR_ATT_TILE 128

typedef struct {
  float *out, *att, *dqkv;
  void *kc, *vc; /* attentionCached's caches: fp32, or fp16 where half */
  int half;
  const float *qkv, *dout, *attIn;
  const int32_t *mask;
  int64_t B, T, C, NH, past, Tq, S;
  double dropP;
  uint32_t dropSeed;
  atomic_int failed;
} att_job;

/* Attention dropout (training): mask [T, T] of head (b, h) from the shared hash at element index
 * ((b*NH + h)*T + t)*T + t2, as src/tensor/backend.ts specifies. */
static void head_dropout_mask(const lr_kernels *k, float *mask, int64_t bh, int64_t T, double p, uint32_t seed) {
  k->dropout_mask(mask, T * T, p, seed, bh * T * T);
}

static void att_forward_head(void *ctx, int64_t task, int thread) {
  att_job *j = ctx;
  const lr_kernels *k = lr_k();
  const int64_t T = j->T, C = j->C, NH = j->NH, hs = C / NH, C3 = 3 * C, b = task / NH, h = task % NH;
  const float scale = (float)(1.0 / sqrt((double)hs));
  const int drop = j->dropP > 0.0;
  float *dm = NULL, *pd = NULL; /* dropout mask and dropped probabilities [T, T] */
  if (drop) {
    size_t bytes; /* 2 [T, T] floats, checked: the binding bounds T, but this must not wrap either */
    const int wraps = __builtin_mul_overflow((size_t)T, (size_t)T, &bytes) || __builtin_mul_overflow(bytes, 2 * sizeof(float), &bytes);
    dm = wraps ? NULL : lr_scratch(thread, bytes);
    if (!dm) {
      atomic_store(&j->failed, 1);
      return;
    }
    pd = dm + T * T;
    head_dropout_mask(k, dm, task, T, j->dropP, j->dropSeed);
  }
  const int32_t *mrow = j->mask ? j->mask + b * T : NULL;
  const float *q = j->qkv + b * T * C3 + h * hs, *kk = q + C, *v = q + 2 * C;
  float *s = j->att + task * T * T; /* [T, T] */
  float *o = j->out + b * T * C + h * hs;
  for (int64_t r0 = 0; r0 < T; r0 += LR_ATT_TILE) {
    const int64_t r1 = r0 + LR_ATT_TILE < T ? r0 + LR_ATT_TILE : T, rows = r1 - r0;
    /* scores[r0:r1, 0:r1] = scale * q[r0:r1] @ k[0:r1]^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)r1, (int)hs, scale, q + r0 * C3, (int)C3, kk,
                (int)C3, 0.0f, s + r0 * T, (int)T);
    k->softmax_causal(s + r0 * T, rows, T, T, r0, mrow);
    const float *p = s + r0 * T;
    if (drop) { /* att keeps the probabilities; V is weighted by the dropped ones */
      k->mul(pd + r0 * T, p, dm + r0 * T, rows * T);
      p = pd + r0 * T;
    }
    /* out[r0:r1] = p[r0:r1, 0:r1] @ v[0:r1] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)hs, (int)r1, 1.0f, p, (int)T, v, (int)C3, 0.0f,
                o + r0 * C, (int)C);
  }
}

int lr_attention_forward(float *out, float *att, const float *qkv, const int32_t *mask, int64_t B, int64_t T, int64_t C,
                         int64_t NH, double dropP, uint32_t dropSeed) {
  att_job j = {.out = out, .att = att, .qkv = qkv, .mask = mask, .B = B, .T = T, .C = C, .NH = NH, .dropP = dropP,
               .dropSeed = dropSeed};
  atomic_init(&j.failed, 0);
  lr_pool_run(B * NH, att_forward_head, &j);
  return atomic_load(&j.failed) ? -1 : 0;
}

static void att_backward_head(void *ctx, int64_t task, int thread) {
  att_job *j = ctx;
  const lr_kernels *k = lr_k();
  const int64_t T = j->T, C = j->C, NH = j->NH, hs = C / NH, C3 = 3 * C, b = task / NH, h = task % NH;
  const float scale = (float)(1.0 / sqrt((double)hs));
  const int drop = j->dropP > 0.0;
  float *ds = lr_scratch(thread, sizeof(float) * (size_t)(drop ? 3 : 1) * (size_t)T * (size_t)T);
  if (!ds) {
    atomic_store(&j->failed, 1);
    return;
  }
  float *dm = drop ? ds + T * T : NULL, *pd = drop ? ds + 2 * T * T : NULL;
  const float *q = j->qkv + b * T * C3 + h * hs, *kk = q + C, *v = q + 2 * C;
  const float *p = j->attIn + task * T * T;
  const float *dO = j->dout + b * T * C + h * hs;
  float *dq = j->dqkv + b * T * C3 + h * hs, *dk = dq + C, *dv = dq + 2 * C;
  const float *pv = p; /* the probabilities that weighted V */
  if (drop) {
    head_dropout_mask(k, dm, task, T, j->dropP, j->dropSeed);
    k->mul(pd, p, dm, T * T);
    pv = pd;
  }
  /* dP = dO @ v^T (times the mask with dropout);  dV = P^T @ dO */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)hs, 1.0f, dO, (int)C, v, (int)C3, 0.0f, ds,
              (int)T);
  if (drop) k->mul(ds, ds, dm, T * T);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)hs, (int)T, 1.0f, pv, (int)T, dO, (int)C, 0.0f, dv,
              (int)C3);
  /* dS = P * (dP - rowsum(P * dP)) * scale */
  k->softmax_backward(ds, p, T, T, scale);
  /* dQ = dS @ k;  dK = dS^T @ q */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)hs, (int)T, 1.0f, ds, (int)T, kk, (int)C3, 0.0f,
              dq, (int)C3);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)hs, (int)T, 1.0f, ds, (int)T, q, (int)C3, 0.0f, dk,
              (int)C3);
}

int lr_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int64_t B, int64_t T,
                          int64_t C, int64_t NH, double dropP, uint32_t dropSeed) {
  att_job j = {.dqkv = dqkv, .dout = dout, .qkv = qkv, .attIn = att, .B = B, .T = T, .C = C, .NH = NH, .dropP = dropP,
               .dropSeed = dropSeed};
  atomic_init(&j.failed, 0);
  lr_pool_run(B * NH, att_backward_head, &j);
  return atomic_load(&j.failed) ? -1 : 0;
}

/* From this many new positions on, cached attention uses sgemm (a long prefill); below, each query by itself
 * (att_query, the decode path): a query's bits then do not depend on the chunk it is prefilled in, so a
 * prompt's KV cache is the same prefilled at once or in chunks of up to 64 (the server's chunks, and its
 * prefix cache). At these sizes the queries one by one cost about what sgemm does. */
#define LR_CACHED_GEMM_MIN 65
/* cached attention with less work than this (new positions x keys x C, summed over rows) runs on the calling
 * thread: a decode step of short rows is too little work to hand out */
#define LR_CACHED_INLINE_WORK ((int64_t)1 << 15)

/* A KV cache holds fp32 values, or fp16 ones (IEEE binary16, rounded to nearest even as they are written;
 * every read widens them exactly, so attention's arithmetic is fp32 on the stored values). fp16 halves what
 * a decode step reads, and a batch's attention is bound by those reads. F16C where the CPU has it (the AVX2
 * level), half.h's bit-identical scalar form below it. */

/* element i of a cache whose elements are fp16 (half) or fp32 */
static inline void *cache_at(void *base, int half, int64_t i) { return (char *)base + i * (half ? 2 : 4); }

static void f16_put(uint16_t *dst, const float *src, int64_t n) {
  if (g_avx2) {
    lr_f16_convert(dst, src, n);
    return;
  }
  for (int64_t i = 0; i < n; i++) dst[i] = lr_f16_from_f32(src[i]);
}

static void f16_widen(float *dst, const uint16_t *src, int64_t n) {
  if (g_avx2) {
    lr_f16_widen(dst, src, n);
    return;
  }
  for (int64_t i = 0; i < n; i++) dst[i] = lr_f16_to_f32(src[i]);
}

/* One new position's key and value (src: its qkv row at the head's offset) into slot `slot` of a head's
 * caches [S, hs]. */
static void cache_put(void *kh, void *vh, int half, const float *src, int64_t slot, int64_t C, int64_t hs) {
  if (half) {
    f16_put((uint16_t *)kh + slot * hs, src + C, hs);
    f16_put((uint16_t *)vh + slot * hs, src + 2 * C, hs);
    return;
  }
  memcpy((float *)kh + slot * hs, src + C, sizeof(float) * (size_t)hs);
  memcpy((float *)vh + slot * hs, src + 2 * C, sizeof(float) * (size_t)hs);
}

/* Asks for bytes [0, n) of a head's keys kh and values vh, a line at a time, with cache hint `loc` (a
 * constant: __builtin_prefetch takes no variable) */
#define PREFETCH_HEAD(kh, vh, n, loc)                          \
  for (int64_t i_ = 0; i_ < (n); i_ += 64) {                    \
    __builtin_prefetch((const char *)(kh) + i_, 0, loc);        \
    __builtin_prefetch((const char *)(vh) + i_, 0, loc);        \
  }

/* whether a head of size hs runs lr_attend_one_avx512 */
static int attend512(int64_t hs) { return g_attend512 && hs >= 16 && hs % 16 == 0; }

/* floats of scratch att_query needs to widen n keys and values of a head (the paths without an fp16 kernel) */
static int64_t wide_floats(int half, int64_t n, int64_t hs) { return half && !attend512(hs) ? 2 * n * hs : 0; }

/* One query q [hs] of one head over keys 0..n-1 of its caches [S, hs], keys whose mask entry is 0 dropped:
 * scores sc [n] = scale * k[0:n] @ q;  softmax;  o [hs] = p @ v[0:n] (both streaming kernels). The decode
 * path of attentionCached and every row of attentionRows run this, so a row's bits are the same in both. */
static void att_query(const lr_kernels *k, float *o, const float *q, const void *kh, const void *vh, int half,
                      const int32_t *mask, int64_t n, int64_t hs, float *sc, float *wide) {
  /* Ask for every key and value line up front (into L2): a decode step's rows read caches that are in
   * DRAM or L3 by then, a few KB per head, too short a stream for the hardware prefetcher to cover its
   * latency; all requests in flight at once cut a 16-row step's attention by a sixth to a fifth. */
  PREFETCH_HEAD(kh, vh, n * hs * (half ? 2 : 4), 2);
  const float scale = (float)(1.0 / sqrt((double)hs));
  if (attend512(hs)) {
    if (half)
      lr_attend_one_avx512_f16(o, q, kh, vh, mask, n, hs, scale, sc);
    else
      lr_attend_one_avx512(o, q, kh, vh, mask, n, hs, scale, sc);
    return;
  }
  if (half) { /* wide [2, n, hs]: the keys and values in fp32 */
    f16_widen(wide, kh, n * hs);
    f16_widen(wide + n * hs, vh, n * hs);
    kh = wide;
    vh = wide + n * hs;
  }
  k->gemm_small_nt(sc, q, kh, 1, n, hs, scale, 0.0f);
  k->softmax_causal(sc, 1, n, n, n - 1, mask);
  k->gemm_small_nn(o, sc, vh, 1, hs, n, 1.0f, 0.0f);
}

static void att_cached_head(void *ctx, int64_t task, int thread) {
  att_job *j = ctx;
  const lr_kernels *k = lr_k();
  const int64_t Tq = j->Tq, C = j->C, NH = j->NH, S = j->S, past = j->past, hs = C / NH, C3 = 3 * C, L = past + Tq;
  const int64_t b = task / NH, h = task % NH;
  const int half = j->half;
  void *kh = cache_at(j->kc, half, task * S * hs), *vh = cache_at(j->vc, half, task * S * hs);
  /* this head's new keys and values: cache [B, NH, S, hs] */
  for (int64_t t = 0; t < Tq; t++) cache_put(kh, vh, half, j->qkv + (b * Tq + t) * C3 + h * hs, past + t, C, hs);
  const int gemm = Tq >= LR_CACHED_GEMM_MIN;
  /* scores [Tq or 1, L], then (fp16 caches) the widened keys and values [2, L, hs] */
  const int64_t nsc = (gemm ? Tq : 1) * L, nwide = gemm && half ? 2 * L * hs : wide_floats(half, L, hs);
  float *sc = lr_scratch(thread, sizeof(float) * (size_t)(nsc + nwide));
  if (!sc) {
    atomic_store(&j->failed, 1);
    return;
  }
  float *wide = sc + nsc;
  const int32_t *mrow = j->mask ? j->mask + b * S : NULL;
  const float *q = j->qkv + b * Tq * C3 + h * hs;
  float *o = j->out + b * Tq * C + h * hs;
  if (gemm) {
    const float scale = (float)(1.0 / sqrt((double)hs));
    if (half) {
      f16_widen(wide, kh, L * hs);
      f16_widen(wide + L * hs, vh, L * hs);
      kh = wide;
      vh = wide + L * hs;
    }
    /* scores [Tq, L] = scale * q @ k^T;  softmax (query t sees keys 0..past+t);  out = p @ v */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Tq, (int)L, (int)hs, scale, q, (int)C3, kh, (int)hs, 0.0f,
                sc, (int)L);
    k->softmax_causal(sc, Tq, L, L, past, mrow);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Tq, (int)hs, (int)L, 1.0f, sc, (int)L, vh, (int)hs, 0.0f,
                o, (int)C);
    return;
  }
  for (int64_t t = 0; t < Tq; t++) att_query(k, o + t * C, q + t * C3, kh, vh, half, mrow, past + t + 1, hs, sc, wide);
}

int lr_attention_cached(float *out, const float *qkv, void *kc, void *vc, int half, const int32_t *mask, int64_t past,
                        int64_t B, int64_t Tq, int64_t C, int64_t NH, int64_t S) {
  att_job j = {.out = out, .qkv = qkv, .kc = kc, .vc = vc, .half = half, .mask = mask, .past = past, .B = B, .Tq = Tq,
               .C = C, .NH = NH, .S = S};
  atomic_init(&j.failed, 0);
  if (Tq * (past + Tq) * C < LR_CACHED_INLINE_WORK) {
    for (int64_t t = 0; t < B * NH; t++) att_cached_head(&j, t, 0);
  } else {
    lr_pool_run(B * NH, att_cached_head, &j);
  }
  return atomic_load(&j.failed) ? -1 : 0;
}

typedef struct {
  float *out;
  const float *qkv;
  const lr_att_row *rows;
  int64_t C, NH, B, ahead; /* ahead: tasks from one a thread takes to its next */
  atomic_int failed;
} rows_job;

/* task = (row b, head h): row b's new key and value into its cache, then its one query (as attentionCached
 * with B = 1, Tq = 1 computes it: cache_put and att_query) */
static void att_rows_head(void *ctx, int64_t task, int thread) {
  rows_job *j = ctx;
  const int64_t C = j->C, NH = j->NH, hs = C / NH, b = task / NH, h = task % NH;
  const lr_att_row *r = &j->rows[b];
  const int half = r->half;
  void *kh = cache_at(r->kc, half, h * r->S * hs), *vh = cache_at(r->vc, half, h * r->S * hs); /* [NH, S_b, hs] */
  const float *q = j->qkv + b * 3 * C + h * hs;                                                 /* qkv [B, 3C] */
  cache_put(kh, vh, half, q, r->past, C, hs);
  /* the keys and values of the task this thread likely takes next (tasks go out in order, one per thread in
   * turn): asked for now, they arrive while this one computes (a 16-row step's attention -13 to -25% more
   * than with the up-front prefetch of att_query alone, three runs in one process; the step -2 to -4%) */
  const int64_t next = task + j->ahead;
  if (next < j->B * NH) {
    const lr_att_row *rn = &j->rows[next / NH];
    const int64_t at = (next % NH) * rn->S * hs;
    PREFETCH_HEAD(cache_at(rn->kc, rn->half, at), cache_at(rn->vc, rn->half, at), rn->past * hs * (rn->half ? 2 : 4), 1);
  }
  const int64_t n = r->past + 1;
  float *sc = lr_scratch(thread, sizeof(float) * (size_t)(n + wide_floats(half, n, hs))); /* scores [n], wide */
  if (!sc) {
    atomic_store(&j->failed, 1);
    return;
  }
  att_query(lr_k(), j->out + b * C + h * hs, q, kh, vh, half, r->mask, n, hs, sc, sc + n);
}

int lr_attention_rows(float *out, const float *qkv, const lr_att_row *rows, int64_t B, int64_t C, int64_t NH) {
  rows_job j = {.out = out, .qkv = qkv, .rows = rows, .C = C, .NH = NH, .B = B};
  atomic_init(&j.failed, 0);
  int64_t work = 0; /* keys x C over the rows */
  for (int64_t b = 0; b < B; b++) work += (rows[b].past + 1) * C;
  if (work < LR_CACHED_INLINE_WORK) {
    j.ahead = 1;
    for (int64_t t = 0; t < B * NH; t++) att_rows_head(&j, t, 0);
  } else {
    j.ahead = lr_pool_threads();
    lr_pool_run(B * NH, att_rows_head, &j); /* every (row, head) of the step: one job */
  }
  return atomic_load(&j.failed) ? -1 : 0;
}

/* ---- LoRA of a decode step ---------------------------------------------------------------------------- */

typedef struct {
  float *y;
  const float *x, *w;
  const lr_lora_factor *f;
  int64_t K, B, in, out, rmax, lanes;
  atomic_int failed;
} lora_job;

/* out[N] = alpha * a[K] @ b[N, K]^T + beta * out for one row, with the kernel lr_matmul gives one row */
static void nt_row(float *out, const float *a, const float *b, int64_t N, int64_t K, float alpha, float beta) {
  if (g_avx2)
    lr_gemv_nt_f32(out, N, a, b, K, 1, N, K, alpha, beta);
  else
    lr_k()->gemm_small_nt(out, a, b, 1, N, K, alpha, beta);
}

/* task = row b: its adapters in order, each as lr_matmul's two one-row products xa = x_b A^T, y_b += w xa B^T */
static void lora_row(void *ctx, int64_t b, int thread) {
  lora_job *j = ctx;
  float *xa = lr_scratch(thread, sizeof(float) * (size_t)(j->rmax > 0 ? j->rmax : 1));
  if (!xa) {
    atomic_store(&j->failed, 1);
    return;
  }
  const float *xb = j->x + b * j->in;
  float *yb = j->y + b * j->out;
  for (int64_t k = 0; k < j->K; k++) {
    const lr_lora_factor *f = &j->f[k];
    const float w = j->w[b * j->K + k];
    if (w == 0.0f || !f->A || f->r == 0 || j->out == 0) continue;
    nt_row(xa, xb, f->A, f->r, j->in, 1.0f, 0.0f); /* [r] */
    nt_row(yb, xa, f->B, j->out, f->r, w, 1.0f);  /* [out] */
  }
}

/* a decode step's LoRA is split over the pool's threads (lanes of rows) from this many multiply-adds on:
 * 16 rows of a rank-16 site of the bundled model are about 130k, and with them split a 16-row step took 8%
 * less time (in one process, against the old bound of 2^19); alone and warm such a call gains nothing, in a
 * step its factors come from memory and two threads wait on it together */
#define LR_LORA_SPLIT_MIN_FLOPS ((int64_t)1 << 16)

/* rows per product of a lane's group (the streaming kernels' limit) */
#define LORA_GROUP 16

/* y[rows[i]] += w_i (x[rows[i]] A^T) B^T for the m rows gathered in xs [m, in] (scratch ts [m, out], xa [m, r]) */
static void lora_group(const lora_job *j, const lr_lora_factor *f, int64_t k, const int64_t *rows, int64_t m, const float *xs,
                       float *ts, float *xa) {
  const int64_t in = j->in, out = j->out;
  lr_gemv_nt_f32(xa, f->r, xs, f->A, in, m, f->r, in, 1.0f, 0.0f);  /* [m, r] */
  lr_gemv_nt_f32(ts, out, xa, f->B, f->r, m, out, f->r, 1.0f, 0.0f); /* [m, out] */
  for (int64_t i = 0; i < m; i++) {
    const float w = j->w[rows[i] * j->K + k], *t = ts + i * out;
    float *y = j->y + rows[i] * out;
    for (int64_t o = 0; o < out; o++) y[o] = y[o] + w * t[o]; /* fl(y + fl(w t)): no contraction (-ffp-contract=off) */
  }
}

/* task = lane: rows b = lane, lane + lanes, ... For each adapter in order, its rows (nonzero weight) in
 * groups of up to 16, each group as two products over its rows with no weight, xa = X A^T and t = xa B^T,
 * then y_b += w_b t_b row by row. The streaming kernels compute every row by itself, and a product with
 * alpha = 1, beta = 0 stores its sums as they are, so y_b gets fl(y_b + fl(w_b sum)): the bits of its one-row
 * product with alpha = w_b, beta = 1 (the store's fma(1, y, w sum)); the factors are read once per group
 * instead of once per row, whatever the rows' gates (a router's soft weights differ row by row). */
static void lora_lane(void *ctx, int64_t lane, int thread) {
  lora_job *j = ctx;
  const int64_t in = j->in, out = j->out, K = j->K, B = j->B, r0 = j->rmax > 0 ? j->rmax : 1;
  float *xs = lr_scratch(thread, sizeof(float) * (size_t)(LORA_GROUP * (in + out + r0)));
  if (!xs) {
    atomic_store(&j->failed, 1);
    return;
  }
  float *ts = xs + LORA_GROUP * in, *xa = ts + LORA_GROUP * out; /* [16, in], [16, out], [16, r] */
  for (int64_t k = 0; k < K; k++) {
    const lr_lora_factor *f = &j->f[k];
    if (!f->A || f->r == 0 || out == 0) continue;
    int64_t rows[LORA_GROUP], m = 0;
    for (int64_t b = lane; b < B; b += j->lanes) {
      if (j->w[b * K + k] == 0.0f) continue;
      memcpy(xs + m * in, j->x + b * in, sizeof(float) * (size_t)in);
      rows[m++] = b;
      if (m == LORA_GROUP) lora_group(j, f, k, rows, m, xs, ts, xa), m = 0;
    }
    if (m) lora_group(j, f, k, rows, m, xs, ts, xa);
  }
}

int lr_lora_rows(float *y, const float *x, const lr_lora_factor *f, int64_t K, const float *weights, int64_t B,
                 int64_t in, int64_t out) {
  lora_job j = {.y = y, .x = x, .w = weights, .f = f, .K = K, .B = B, .in = in, .out = out};
  atomic_init(&j.failed, 0);
  if (in == 0) return 0; /* xa = 0: y unchanged (as lr_matmul with K = 0 and beta = 1 leaves it) */
  int64_t work = 0; /* multiply-adds over the rows */
  for (int64_t k = 0; k < K; k++) {
    if (f[k].r > j.rmax) j.rmax = f[k].r;
    if (!f[k].A) continue;
    for (int64_t b = 0; b < B; b++)
      if (weights[b * K + k] != 0.0f) work += f[k].r * (in + out);
  }
  if (!g_avx2) { /* the baseline kernels: row by row */
    for (int64_t b = 0; b < B; b++) lora_row(&j, b, 0);
  } else if (work < LR_LORA_SPLIT_MIN_FLOPS || B == 1 || lr_pool_threads() == 1) {
    j.lanes = 1;
    lora_lane(&j, 0, 0);
  } else {
    j.lanes = lr_pool_threads() < B ? lr_pool_threads() : B;
    lr_pool_run(j.lanes, lora_lane, &j);
  }
  return atomic_load(&j.failed) ? -1 : 0;
}
