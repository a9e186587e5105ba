/*
 * lr_argmax_logits (screen.h): greedy tokens from an int8 screen of the LM head plus exact logits for the
 * few columns the screen cannot rule out.
 *
 * The bound. Let z_j be the logit lr_matmul computes for row x and column w_j (the fp16 weight, as a float):
 * an fp32 sum of K products, so |z_j - x.w_j| <= g(K + 2) S with S = sum_k |x_k| |w_jk| <= ||x|| ||w_j|| and
 * g(n) = n e / (1 - n e), e = 2^-23 (a sum in any order, with or without FMA). The screen quantises the row,
 * x ~ x^ = s_x p (p int8 in [-127, 127], s_x = max |x_k| / 127), and the column, w_j ~ w^_j = s_j q_j (packed
 * once); vpdpbusd's integer sums give D_j = p.q_j exactly, and the screen logit is
 * t_j = fl(fl(fl(D_j) s_j) s_x), within 4 * 2^-24 |x^.w^_j| <= 4 * 2^-24 ||x^|| (||w_j|| + r_j) of x^.w^_j
 * (three roundings; r_j >= ||w_j - w^_j||). And x.w_j - x^.w^_j = (x - x^).w_j + x^.(w_j - w^_j), so
 *   |t_j - z_j| <= (g(K + 2) ||x|| + ||x - x^|| + 4 * 2^-24 ||x^||) ||w_j|| + (1 + 4 * 2^-24) ||x^|| r_j + A,
 * where A (< 2^-99) covers subnormal roundings of the products. The bounds t_j -+ e_j are computed in float:
 * each within 2^-24 (|t_j| + e_j) of its value, and |t_j| <= (1 + 4 * 2^-24) ||x^|| (||w_j|| + r_j), so both
 * factors get 2^-18 ||x^|| more (64 times that rounding, whatever K and however exact the row's int8 copy).
 * So with a_x = 1.05 * (the first factor + 2^-18 ||x^||) and b_x = 1.05 * (the second + 2^-18 ||x^||), both
 * rounded up (the norms summed in double from the floats, the row's residual x - s_x p exact in double),
 * norm_j >= ||w_j|| + 2^-40 and resid_j >= r_j, every column satisfies t_j - e_j <= z_j <= t_j + e_j with
 * e_j = a_x norm_j + b_x resid_j, after every rounding of e_j and of the two bounds (the 5% margin covers
 * e_j's own two roundings). Let L = max_j (t_j - e_j). A column
 * whose z_j is the largest has t_j + e_j >= z_j >= z_k >= L for every k, so it is among the columns with
 * upper bound >= L; the first of those with the largest exact z_j is the matmul's argmax (which takes the
 * first of equal maxima).
 *
 * A row is screened only where this holds: every value finite and none subnormal, a_x >= 2^-59 (so that
 * a_x * 2^-40 >= A) and ||x|| max_j norm_j < 2^100 (no sum can overflow); any other row gets its logits.
 * The int32 sums cannot overflow: C <= LR_SCREEN_MAX_C. The last V % 16 columns (outside the panels) are
 * always computed exactly.
 *
 * Work: one pool task per chunk of panels (about 64 KB of quads, read once for all rows); each task keeps
 * the columns whose upper bound reaches the best lower bound seen so far (its own, and the other tasks'
 * through a shared maximum), which is never above the final L, so nothing that the final L keeps is lost.
 * The filter against the final L makes the result independent of the tasks' timing.
 */
#include "screen.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "fused.h"
#include "memory.h"
#include "ops.h"
#include "pool.h"

/* below this many rows the LM head is bound by reading its weight, which the screen reads as much of */
#define LR_SCREEN_MIN_ROWS 2
/* rows per screen pass (the kernel's widest block) */
#define LR_SCREEN_ROWS 16
/* bytes of int8 quads per task */
#define LR_SCREEN_CHUNK_BYTES ((int64_t)64 << 10)
/* candidates a task keeps per row; a row with more (near-equal logits everywhere) gets its logits */
#define LR_SCREEN_CAP 16
/* the widest row: sums of C products of 255 x 127 stay below 2^31 */
#define LR_SCREEN_MAX_C 65536

static int64_t g_screened, g_exact; /* rows so far (the calling thread only) */

void lr_screen_counts(int64_t *screened, int64_t *exact) {
  *screened = g_screened;
  *exact = g_exact;
}

int lr_screen_supported(void) { return strcmp(lr_k()->isa, "avx512") == 0 && lr_cpu_info()->avx512vnni; }

static int g_amx; /* the sums on AMX (lr_screen_init) */

void lr_screen_init(int use_amx) { g_amx = use_amx && lr_screen_supported() && lr_cpu_info()->amxint8 && lr_screen_amx_enable(); }

const char *lr_screen_kernel(void) { return !lr_screen_supported() ? "none" : g_amx ? "amx" : "avx512vnni"; }

int64_t lr_screen_bytes(const lr_half *h) {
  const lr_screen *s = h ? h->screen : NULL;
  return s ? s->N16 * s->K + s->N16 * 3 * 4 : 0;
}

void lr_screen_free(lr_half *h) {
  if (!h->screen) return;
  free(h->screen->quads);
  free(h->screen->scale);
  free(h->screen);
  h->screen = NULL;
}

/* h's screen of region r, made now if it has none (NULL when out of memory) */
static lr_screen *screen_of(lr_half *h, const lr_half_region *r) {
  if (h->screen && h->screen->off == r->off && h->screen->K == r->K) return h->screen;
  lr_screen_free(h);
  lr_screen *s = calloc(1, sizeof *s);
  const int64_t N16 = r->N - r->N % LR_PANEL;
  if (!s) return NULL;
  s->off = r->off, s->K = r->K, s->N16 = N16;
  s->quads = lr_alloc_huge(sizeof(uint32_t) * (size_t)(N16 * (r->K / 4) + 1));
  s->scale = malloc(sizeof(float) * (size_t)(3 * N16 + 1)); /* scale, norm, resid */
  if (!s->quads || !s->scale) {
    free(s->quads);
    free(s->scale);
    free(s);
    return NULL;
  }
  s->norm = s->scale + N16;
  s->resid = s->norm + N16;
  s->usable = lr_screen_pack_int8(s->quads, s->scale, s->norm, s->resid, h->h + r->off, N16 / LR_PANEL, r->K);
  for (int64_t n = 0; n < N16; n++) s->wmax = s->norm[n] > s->wmax ? s->norm[n] : s->wmax;
  h->screen = s;
  return s;
}

/* grow-only buffers of the calls below (the addon runs on one JS thread: arena.h) */
typedef struct {
  void *p;
  size_t cap;
} grow_buf;

static void *grow(grow_buf *b, size_t bytes) {
  if (bytes <= b->cap) return b->p;
  void *p = realloc(b->p, bytes);
  if (!p) return NULL;
  b->p = p;
  b->cap = bytes;
  return p;
}

static grow_buf g_logits, g_cand, g_rows, g_rows_amx;

static float f_of(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}
static uint32_t bits_of(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}

/* *a = max(*a, v) for floats stored as bits; returns the new maximum */
static float atomic_max_float(_Atomic uint32_t *a, float v) {
  uint32_t cur = atomic_load_explicit(a, memory_order_relaxed);
  for (;;) {
    const float f = f_of(cur);
    if (!(v > f)) return f;
    if (atomic_compare_exchange_weak_explicit(a, &cur, bits_of(v), memory_order_relaxed, memory_order_relaxed)) return v;
  }
}

typedef struct {
  const lr_screen *scr;
  const uint32_t *xq;  /* [K4][LR_SCREEN_ROWS] */
  const uint32_t *xa;  /* [R][K4]: the same quads row by row, for AMX (NULL: the VNNI kernel) */
  const float *sx;     /* [R]: the rows' scales */
  const int32_t *corr; /* [R]: 128 sum_k p_k */
  const float *a, *b;  /* [R]: the bound's factors */
  int64_t R, K4, np, chunk;
  _Atomic uint32_t *best; /* [R]: the best lower bound so far (float bits) */
  int32_t *idx;           /* [chunks][R][CAP] columns */
  float *hi;              /* [chunks][R][CAP] their upper bounds */
  int64_t *count;         /* [chunks][R] */
  atomic_int failed;
} screen_job;

static void screen_chunk(void *ctx, int64_t c, int thread) {
  screen_job *j = ctx;
  const int64_t q0 = c * j->chunk, nq = j->np - q0 < j->chunk ? j->np - q0 : j->chunk, cols = nq * LR_PANEL;
  float *s = lr_scratch(thread, sizeof(float) * (size_t)(j->R * cols)); /* [R, cols] */
  if (!s) {
    atomic_store(&j->failed, 1);
    return;
  }
  const int64_t n0 = q0 * LR_PANEL;
  const uint32_t *wq = j->scr->quads + n0 * j->K4;
  if (j->xa) lr_screen_panels_amx(s, cols, j->xa, j->R, j->K4, wq, nq, j->scr->scale + n0, j->corr, j->sx);
  else lr_screen_panels_int8(s, cols, j->xq, LR_SCREEN_ROWS, j->R, j->K4, wq, nq, j->scr->scale + n0, j->corr, j->sx);
  const float *norm = j->scr->norm + n0, *resid = j->scr->resid + n0;
  for (int64_t r = 0; r < j->R; r++) {
    const float *sr = s + r * cols;
    const float L = atomic_max_float(&j->best[r], lr_screen_lower_max(sr, norm, resid, j->a[r], j->b[r], cols));
    const int64_t slot = c * j->R + r;
    int32_t *idx = j->idx + slot * LR_SCREEN_CAP;
    const int64_t n = lr_screen_above(sr, norm, resid, j->a[r], j->b[r], L, cols, idx, j->hi + slot * LR_SCREEN_CAP, LR_SCREEN_CAP);
    for (int64_t i = 0; i < n && i < LR_SCREEN_CAP; i++) idx[i] += (int32_t)n0;
    j->count[slot] = n;
  }
}

/* out[0] = the argmax of row x's logits, computed whole (as lr_matmul gives them over the panels) */
static int exact_row(int32_t *out, const float *x, const float *w, int64_t V, int64_t C, const lr_half *half) {
  float *z = grow(&g_logits, sizeof(float) * (size_t)V);
  if (!z) return -1;
  lr_matmul(z, x, w, 1, V, C, 0, 1, 1.0f, 0.0f, half);
  out[0] = (int32_t)lr_k()->argmax(z, V);
  return 0;
}

/* Row x [C] as the screen's int8 quads (into xq[p * ldx]), its scale, correction and bound factors (see the
 * top of the file); 0 where the bound does not cover it. */
static int pack_row(uint32_t *xq, int64_t ldx, float *sx, int32_t *corr, float *a, float *b, const float *x, int64_t C,
                    float wmax) {
  double ss = 0;
  float m = 0.0f;
  for (int64_t k = 0; k < C; k++) {
    const float v = x[k];
    if (!isfinite(v) || (v != 0.0f && fabsf(v) < 0x1p-126f)) return 0;
    ss += (double)v * v;
    m = fabsf(v) > m ? fabsf(v) : m;
  }
  const float s = m / 127.0f, inv = m > 0.0f ? 127.0f / m : 0.0f;
  double dd = 0, hh = 0;
  int32_t sum = 0;
  for (int64_t k = 0; k < C; k += 4) {
    uint32_t quad = 0;
    for (int i = 0; i < 4; i++) {
      long p = lrintf(x[k + i] * inv); /* nearest */
      p = p > 127 ? 127 : p < -127 ? -127 : p;
      const double xh = (double)s * (double)p, d = (double)x[k + i] - xh;
      dd += d * d;
      hh += xh * xh;
      sum += (int32_t)p;
      quad |= (uint32_t)(uint8_t)(int8_t)p << (8 * i);
    }
    xq[(k / 4) * ldx] = quad;
  }
  const double n = (double)(C + 2), g = n * 0x1p-23 / (1 - n * 0x1p-23), up = 1 + 1e-9;
  const double xn = sqrt(ss) * up, xh = sqrt(hh) * up;
  const double fa = 1.05 * (g * xn + sqrt(dd) * up + (4 * 0x1p-24 + 0x1p-18) * xh), fb = 1.05 * (1 + 4 * 0x1p-24 + 0x1p-18) * xh;
  if (!(fa >= 0x1p-59) || !(xn * wmax < 0x1p100)) return 0;
  *sx = s;
  *corr = 128 * sum;
  *a = (float)fa * (1 + 0x1p-20f);
  *b = (float)fb * (1 + 0x1p-20f);
  return 1;
}

/* One screened pass over rows x [R, C] (R <= LR_SCREEN_ROWS): its pool job and what its end needs. */
typedef struct {
  screen_job j;
  _Atomic uint32_t best[LR_SCREEN_ROWS]; /* the best lower bound of each screened row (float bits) */
  float sx[LR_SCREEN_ROWS], fa[LR_SCREEN_ROWS], fb[LR_SCREEN_ROWS];
  int32_t corr[LR_SCREEN_ROWS];
  int64_t which[LR_SCREEN_ROWS], n, chunks; /* the screened rows (indices into x), their count, the job's tasks */
  int32_t *out;
  const float *x, *w;
  int64_t V, C;
  const lr_half *half;
  const lr_half_region *reg;
} screen_pass;

/* Packs the rows the bound covers and sets up p's job (p->n of them; 0: nothing to run); the other rows get
 * their whole logits now. -1 when out of memory. */
static int pass_begin(screen_pass *p, int32_t *out, const float *x, const float *w, int64_t R, int64_t V, int64_t C,
                      const lr_half *half, const lr_half_region *reg, const lr_screen *scr) {
  const int64_t K4 = C / 4, np = scr->N16 / LR_PANEL;
  *p = (screen_pass){.out = out, .x = x, .w = w, .V = V, .C = C, .half = half, .reg = reg};
  /* the rows the bound covers, as int8 quads; the others go exact */
  uint32_t *xq = grow(&g_rows, sizeof(uint32_t) * (size_t)(K4 * LR_SCREEN_ROWS)); /* [K4][16] */
  if (!xq) return -1;
  int64_t n = 0;
  for (int64_t r = 0; r < R; r++) {
    const float *xr = x + r * C;
    if (!pack_row(xq + n, LR_SCREEN_ROWS, p->sx + n, p->corr + n, p->fa + n, p->fb + n, xr, C, scr->wmax)) {
      g_exact++;
      if (exact_row(out + r, xr, w, V, C, half)) return -1;
      continue;
    }
    p->which[n++] = r;
  }
  p->n = n;
  if (n == 0) return 0;
  screen_job *j = &p->j;
  uint32_t *xa = NULL;
  if (g_amx) {
    xa = grow(&g_rows_amx, sizeof(uint32_t) * (size_t)(K4 * n));
    if (!xa) return -1;
    lr_screen_rows_amx(xa, xq, LR_SCREEN_ROWS, n, K4);
  }
  *j = (screen_job){.scr = scr, .xq = xq, .xa = xa, .sx = p->sx, .corr = p->corr, .a = p->fa, .b = p->fb, .R = n, .K4 = K4, .np = np};
  j->chunk = LR_SCREEN_CHUNK_BYTES / (K4 * LR_PANEL * 4);
  if (j->chunk < 1) j->chunk = 1;
  p->chunks = (np + j->chunk - 1) / j->chunk;
  const int64_t slots = p->chunks * n;
  for (int64_t r = 0; r < n; r++) atomic_init(&p->best[r], bits_of(-INFINITY));
  char *cand = grow(&g_cand, (size_t)slots * (LR_SCREEN_CAP * (sizeof(int32_t) + sizeof(float)) + sizeof(int64_t)));
  if (!cand) return -1;
  j->best = p->best;
  j->idx = (int32_t *)cand;
  j->hi = (float *)(cand + (size_t)slots * LR_SCREEN_CAP * sizeof(int32_t));
  j->count = (int64_t *)(cand + (size_t)slots * LR_SCREEN_CAP * (sizeof(int32_t) + sizeof(float)));
  atomic_init(&j->failed, 0);
  return 0;
}

/* After p's job: each screened row's token from the exact logits of the columns it kept. */
static int pass_end(screen_pass *p) {
  const screen_job *j = &p->j;
  if (p->n == 0) return 0;
  if (atomic_load(&j->failed)) return -1;
  const int64_t n = p->n, chunks = p->chunks, C = p->C, V = p->V, N16 = j->scr->N16;
  const uint16_t *tail = p->half->h + p->reg->off + N16 * C; /* the last V - N16 rows of W, flat fp16 */
  for (int64_t i = 0; i < n; i++) {
    const int64_t r = p->which[i];
    const float *xr = p->x + r * C, L = f_of(atomic_load(&p->best[i]));
    int over = 0;
    for (int64_t c = 0; c < chunks; c++) over |= j->count[c * n + i] > LR_SCREEN_CAP;
    if (over) { /* too many near-equal bounds to keep: the whole row */
      g_exact++;
      if (exact_row(p->out + r, xr, p->w, V, C, p->half)) return -1;
      continue;
    }
    /* the kept columns in ascending order, then the tail: the first largest exact logit */
    int64_t arg = -1, panel = -1;
    float zbest = 0.0f, z16[LR_PANEL];
    for (int64_t c = 0; c < chunks; c++) {
      const int64_t slot = c * n + i;
      for (int64_t k = 0; k < j->count[slot]; k++) {
        if (!(j->hi[slot * LR_SCREEN_CAP + k] >= L)) continue;
        const int64_t col = j->idx[slot * LR_SCREEN_CAP + k];
        if (col / LR_PANEL != panel) {
          panel = col / LR_PANEL;
          lr_half_panel_row(z16, xr, p->half, p->reg, panel);
        }
        const float z = z16[col % LR_PANEL];
        if (arg < 0 || z > zbest) arg = col, zbest = z;
      }
    }
    if (V > N16) {
      float *zt = grow(&g_logits, sizeof(float) * (size_t)(V - N16));
      if (!zt) return -1;
      lr_gemv_nt_f16(zt, V - N16, xr, tail, C, 1, V - N16, C, 1.0f, 0.0f);
      for (int64_t t = 0; t < V - N16; t++)
        if (arg < 0 || zt[t] > zbest) arg = N16 + t, zbest = zt[t];
    }
    g_screened++;
    p->out[r] = (int32_t)arg; /* arg >= 0: the column with the best lower bound has upper bound >= L */
  }
  return 0;
}

/* The screen of lr_half h's region for W [V, C], or NULL where rows of x @ W^T are not screened (no panels,
 * no VNNI, a shape the kernels do not take, a weight the bound cannot cover); *err = -1 when out of memory. */
static const lr_screen *screen_for(const float *w, int64_t M, int64_t V, int64_t C, lr_half *half, const lr_half_region **reg,
                                   int *err) {
  *err = 0;
  *reg = half ? lr_half_region_of(half, w, C, V, 1) : NULL;
  if (!*reg || !lr_screen_supported() || M < LR_SCREEN_MIN_ROWS || C < 4 || C % 4 != 0 || C > LR_SCREEN_MAX_C || V < LR_PANEL) return NULL;
  const lr_screen *scr = screen_of(half, *reg);
  if (!scr) *err = -1;
  return scr && scr->usable ? scr : NULL;
}

/* The pass lr_argmax_logits_begin started (state 1: its job posted; 2: its tokens in g_async_out) */
static screen_pass g_async;
static int g_async_state;
static int64_t g_async_rows;
static int g_async_err;
static int32_t g_async_out[LR_SCREEN_ROWS];
static grow_buf g_async_x;

void lr_argmax_logits_settle(void) {
  if (g_async_state != 1) return;
  lr_pool_join();
  g_async_err = pass_end(&g_async);
  g_async_state = 2;
}

int lr_argmax_logits_begin(const float *x, const float *w, int64_t M, int64_t V, int64_t C, lr_half *half) {
  lr_argmax_logits_settle();
  g_async_state = 0;
  if (M > LR_SCREEN_ROWS) return 0;
  const lr_half_region *reg;
  int err;
  const lr_screen *scr = screen_for(w, M, V, C, half, &reg, &err);
  if (err) return -1;
  if (!scr) return 0;
  float *xc = grow(&g_async_x, sizeof(float) * (size_t)(M * C)); /* the rows, owned: the caller may reuse x */
  if (!xc) return -1;
  memcpy(xc, x, sizeof(float) * (size_t)(M * C));
  if (pass_begin(&g_async, g_async_out, xc, w, M, V, C, half, reg, scr)) return -1;
  g_async_rows = M;
  g_async_err = 0;
  g_async_state = 1;
  if (g_async.n > 0) lr_pool_post(g_async.chunks, screen_chunk, &g_async.j);
  return 1;
}

int lr_argmax_logits_end(int32_t *out, int64_t M) {
  if (g_async_state == 0 || M != g_async_rows) return -2;
  lr_argmax_logits_settle();
  g_async_state = 0;
  if (g_async_err) return -1;
  memcpy(out, g_async_out, sizeof(int32_t) * (size_t)M);
  return 0;
}

int64_t lr_argmax_logits_pending(void) { return g_async_state ? g_async_rows : 0; }

int lr_argmax_logits(int32_t *out, const float *x, const float *w, int64_t M, int64_t V, int64_t C, lr_half *half) {
  lr_argmax_logits_settle(); /* its pass shares the buffers below */
  if (M == 0) return 0;
  const lr_half_region *reg;
  int err;
  const lr_screen *scr = screen_for(w, M, V, C, half, &reg, &err);
  if (err) return -1;
  if (!scr) { /* the logits, then their argmax */
    float *z = grow(&g_logits, sizeof(float) * (size_t)(M * V));
    if (!z) return -1;
    lr_matmul(z, x, w, M, V, C, 0, 1, 1.0f, 0.0f, half);
    lr_argmax_rows(out, z, M, V);
    return 0;
  }
  for (int64_t m0 = 0; m0 < M; m0 += LR_SCREEN_ROWS) {
    const int64_t R = M - m0 < LR_SCREEN_ROWS ? M - m0 : LR_SCREEN_ROWS;
    screen_pass p;
    if (pass_begin(&p, out + m0, x + m0 * C, w, R, V, C, half, reg, scr)) return -1;
    if (p.n > 0) lr_pool_run(p.chunks, screen_chunk, &p.j);
    if (pass_end(&p)) return -1;
  }
  return 0;
}
