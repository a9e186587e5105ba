/* Sampling rows of logits (see sample.h): the steps of sampleToken (src/model/sampling.ts), row by row. */
#include "sample.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "arena.h"
#include "ops.h"
#include "pool.h"

/* A token as the walk ranks them: larger logit first, then smaller id. */
typedef struct {
  float l;
  int32_t id;
} cand_t;

static int ranks_before(cand_t a, cand_t b) { return a.l > b.l || (a.l == b.l && a.id < b.id); }

static int rank_cmp(const void *pa, const void *pb) {
  const cand_t a = *(const cand_t *)pa, b = *(const cand_t *)pb;
  return ranks_before(a, b) ? -1 : ranks_before(b, a) ? 1 : 0;
}

/* The no-top-k walk goes bucket by bucket: tokens are put in buckets of how far below the best logit they
 * are, in units of the temperature (1/8 nat each, 48 nats, then one bucket for the rest), and a bucket's
 * tokens are sorted only when the walk stops inside it (its mass, summed once, stands for the others). */
#define PER_NAT 8
#define NATS 48
#define NBUCKETS (PER_NAT * NATS + 1)

static inline int bucket_of(float l, float m, float invT) {
  const float d = (m - l) * invT * (float)PER_NAT;
  return d < (float)(NBUCKETS - 1) ? (int)d : NBUCKETS - 1; /* -Infinity: the last */
}

typedef struct {
  const float *x, *e;
  float m, invT;
  int64_t V;
  double sum;
  const double *mass;
  cand_t *c; /* scratch for one bucket's tokens */
} walk_t;

/* bucket b's tokens, best first, into w->c; their count */
static int64_t bucket_tokens(const walk_t *w, int b) {
  int64_t n = 0;
  for (int64_t i = 0; i < w->V; i++)
    if (bucket_of(w->x[i], w->m, w->invT) == b) w->c[n++] = (cand_t){w->x[i], (int32_t)i};
  qsort(w->c, (size_t)n, sizeof *w->c, rank_cmp);
  return n;
}

/* Walks the draw r down the probabilities best first, over buckets 0..lastb (bucket lastb's first `lastn`
 * tokens only, or all when lastn < 0): the token where r reaches 0, or the last one walked. */
static int32_t walk_draw(const walk_t *w, double r, int lastb, int64_t lastn) {
  int32_t tail = -1;
  for (int b = 0; b <= lastb; b++) {
    if (w->mass[b] <= 0.0 && b < lastb) continue;
    const int whole = b < lastb || lastn < 0;
    if (whole && r - w->mass[b] / w->sum > 0.0 && b < lastb) { /* passes this bucket: its mass at once */
      r -= w->mass[b] / w->sum;
      continue;
    }
    int64_t n = bucket_tokens(w, b);
    if (!whole && lastn < n) n = lastn;
    for (int64_t i = 0; i < n; i++) {
      r -= w->e[w->c[i].id] / w->sum;
      if (r <= 0.0) return w->c[i].id;
    }
    if (n > 0) tail = w->c[n - 1].id;
  }
  return tail;
}

/* no top-k: terms over the whole vocabulary (float), the walk best first to p (or the draw) */
static int32_t sample_all(const float *x, int64_t V, const lr_sample_row *o, float m, float *e, cand_t *c) {
  const lr_kernels *k = lr_k();
  const float invT = (float)(1.0 / o->temperature);
  const double sum = k->softmax_terms(e, x, V, m, invT);
  if (!(sum > 0.0 && isfinite(sum))) return (int32_t)k->argmax(x, V);
  double mass[NBUCKETS] = {0};
  for (int64_t i = 0; i < V; i++) mass[bucket_of(x[i], m, invT)] += e[i];
  int last = NBUCKETS - 1;
  while (last > 0 && mass[last] <= 0.0) last--;
  const walk_t w = {x, e, m, invT, V, sum, mass, c};
  if (o->top_p >= 1.0) return walk_draw(&w, o->draw, last, -1);
  /* the smallest best-first set whose mass reaches p: whole buckets, then part of the one it ends in */
  double kept = 0.0;
  for (int b = 0; b <= last; b++) {
    if (kept + mass[b] / sum < o->top_p && b < last) {
      kept += mass[b] / sum;
      continue;
    }
    const int64_t n = bucket_tokens(&w, b);
    for (int64_t i = 0; i < n; i++) {
      kept += e[c[i].id] / sum;
      if (kept >= o->top_p || (b == last && i == n - 1)) return walk_draw(&w, o->draw * kept, b, i + 1);
    }
  }
  return walk_draw(&w, o->draw * kept, last, -1); /* (rounding: the set is every token) */
}

/* sampleToken's drawRanked: among the first n of probabilities p (best first), cut at top_p unless it is
 * off, renormalised by their mass (`known` when >= 0), the draw walks down */
static int32_t draw_ranked(const double *p, const cand_t *c, int64_t n, double top_p, double draw, double known) {
  if (top_p < 1.0) {
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) {
      acc += p[i];
      if (acc >= top_p) {
        n = i + 1;
        break;
      }
    }
  }
  double mass = known;
  if (mass < 0.0) {
    mass = 0.0;
    for (int64_t i = 0; i < n; i++) mass += p[i];
  }
  double r = draw * mass;
  for (int64_t i = 0; i < n; i++) {
    r -= p[i];
    if (r <= 0.0) return c[i].id;
  }
  return c[n - 1].id;
}

/* top-k (k < V): the k best by a min-heap (root: the worst kept), sorted; terms in double, as sampleToken */
static int32_t sample_top_k(const float *x, int64_t V, const lr_sample_row *o, float m, cand_t *heap, double *p) {
  const int64_t k = o->top_k;
  for (int64_t i = 0; i < k; i++) heap[i] = (cand_t){x[i], (int32_t)i};
  /* sift down in a min-heap where "smaller" = ranks after */
#define SIFT(start, n)                                                                       \
  do {                                                                                       \
    int64_t s_ = (start);                                                                    \
    for (;;) {                                                                               \
      int64_t l_ = 2 * s_ + 1, r_ = l_ + 1, w_ = s_;                                         \
      if (l_ < (n) && ranks_before(heap[w_], heap[l_])) w_ = l_;                             \
      if (r_ < (n) && ranks_before(heap[w_], heap[r_])) w_ = r_;                             \
      if (w_ == s_) break;                                                                   \
      const cand_t t_ = heap[s_];                                                            \
      heap[s_] = heap[w_];                                                                   \
      heap[w_] = t_;                                                                         \
      s_ = w_;                                                                               \
    }                                                                                        \
  } while (0)
  for (int64_t i = k / 2 - 1; i >= 0; i--) SIFT(i, k);
  for (int64_t i = k; i < V; i++) {
    if (x[i] > heap[0].l) { /* a later id ranks before the root only by a strictly larger logit */
      heap[0] = (cand_t){x[i], (int32_t)i};
      SIFT(0, k);
    }
  }
#undef SIFT
  qsort(heap, (size_t)k, sizeof *heap, rank_cmp);
  double sum = 0.0;
  for (int64_t i = 0; i < k; i++) sum += (p[i] = exp(((double)heap[i].l - (double)m) / o->temperature));
  for (int64_t i = 0; i < k; i++) p[i] /= sum;
  return draw_ranked(p, heap, k, o->top_p, o->draw, -1.0);
}

typedef struct {
  int32_t *out;
  const float *logits;
  const lr_sample_row *rows;
  int64_t V;
  atomic_int failed;
} sample_job;

static void sample_row(void *ctx, int64_t r, int thread) {
  sample_job *j = ctx;
  const int64_t V = j->V;
  const float *x = j->logits + r * V;
  const lr_sample_row *o = &j->rows[r];
  const lr_kernels *k = lr_k();
  const int64_t best = k->argmax(x, V);
  const float m = x[best];
  int nan = isnan(x[0]); /* (argmax skips NaN past 0) */
  for (int64_t i = 1; i < V && !nan; i++) nan = isnan(x[i]);
  if (nan || !isfinite(m)) {
    j->out[r] = (int32_t)best;
    return;
  }
  /* scratch: e [V] floats, candidates [V], probabilities [V] */
  char *s = lr_scratch(thread, (size_t)V * (sizeof(float) + sizeof(cand_t) + sizeof(double)) + 64);
  if (!s) {
    atomic_store(&j->failed, 1);
    return;
  }
  double *p = (double *)s;
  cand_t *c = (cand_t *)(s + (size_t)V * sizeof(double));
  float *e = (float *)(s + (size_t)V * (sizeof(double) + sizeof(cand_t)));
  const int32_t t = o->top_k > 0 && o->top_k < V ? sample_top_k(x, V, o, m, c, p) : sample_all(x, V, o, m, e, c);
  j->out[r] = t >= 0 ? t : (int32_t)best; /* (a walk over no token cannot happen: the best has mass 1) */
}

int lr_sample_rows(int32_t *out, const float *logits, const lr_sample_row *rows, int64_t nrows, int64_t V) {
  sample_job j = {.out = out, .logits = logits, .rows = rows, .V = V};
  atomic_init(&j.failed, 0);
  if (nrows == 1) {
    sample_row(&j, 0, 0);
  } else if (nrows > 1) {
    lr_pool_run(nrows, sample_row, &j);
  }
  return atomic_load(&j.failed) ? -1 : 0;
}
