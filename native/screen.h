/*
 * Greedy tokens of a decode step without every logit (lr_argmax_logits): the argmax of x @ W^T over an LM
 * head W [V, C] stored as fp16 panels (gemv.h), bit for bit what lr_matmul then lr_argmax_rows give.
 *
 * A batch of rows makes the LM head's product compute-bound (its weight is read once for all rows, its
 * multiply-adds are not shared). So a screen computes every logit from int8 copies of the row and of the
 * weight (AVX-512 VNNI's vpdpbusd: four byte products per lane and instruction, four times an fp32 FMA's and
 * twice a bf16 dot product's), each with a proven bound on its distance from the exact fp32 logit; only the
 * columns whose bound reaches the best lower bound are computed exactly, by the same panel kernel the matmul
 * uses. A few columns per row pass (1 to 9 on the bundled model). The argmax of those exact logits, the
 * first of equal maxima, is the matmul's argmax: every column whose exact logit is the largest passes. See
 * screen.c for the bound.
 */
#ifndef LORAROUTE_SCREEN_H
#define LORAROUTE_SCREEN_H

#include <stdint.h>

#include "gemv.h"

/* The screen's copy of one LM head (built from the fp16 panels the first time it is used; freed with the
 * lr_half): column n is w[n] ~ scale[n] * q[n] with q[n] int8 in [-127, 127], stored as q + 128 (unsigned). */
typedef struct lr_screen {
  int64_t off, K, N16; /* the region it copies: lr_half_region off and K, its N16 panel columns */
  uint32_t *quads;     /* [N16 / 16][K / 4][16]: byte i of lane n of quad p = q[n][4p + i] + 128 */
  float *scale;        /* [N16]: scale[n] (0 for a zero column) */
  float *norm;         /* [N16]: >= ||fp16 w[n]||_2 (plus a small absolute slack, see screen.c) */
  float *resid;        /* [N16]: >= ||fp16 w[n] - scale[n] q[n]||_2 */
  float wmax;          /* the largest norm */
  int usable;          /* 0 when a weight is not finite (the bound would not hold): every row goes exact */
} lr_screen;

/* out[M] = argmax over v of (x[M, C] @ W^T)[v], W [V, C]: exactly lr_matmul(logits, x, w, M, V, C, 0, 1, 1, 0,
 * half) followed by lr_argmax_rows(out, logits, M, V). Screens where `half` packs W in panels, the CPU has
 * AVX-512 VNNI, C is a multiple of 4 and M >= LR_SCREEN_MIN_ROWS; otherwise (and for a row the bound does not
 * cover: a value that is not finite, subnormal or too large) computes the logits. Returns 0, or -1 when out of
 * memory. */
int lr_argmax_logits(int32_t *out, const float *x, const float *w, int64_t M, int64_t V, int64_t C, lr_half *half);

/* lr_argmax_logits in two halves, so that the caller can do other work while the pool's workers screen:
 * begin (at most LR_SCREEN_ROWS = 16 rows, copied) packs the rows and posts the screen (lr_pool_post);
 * returns 1, or 0 where it would not screen (then call lr_argmax_logits), -1 when out of memory. end joins
 * the job and writes the M tokens; -2 when no begin of M rows is pending. Until the end, other calls run as
 * usual (pool jobs inline on the calling thread); lr_argmax_logits, and freeing the fp16 copy, first settle
 * the pending pass (join and finish it; end then only copies its tokens). One pass pending at a time: a
 * second begin settles the first and drops its tokens. */
int lr_argmax_logits_begin(const float *x, const float *w, int64_t M, int64_t V, int64_t C, lr_half *half);
int lr_argmax_logits_end(int32_t *out, int64_t M);
void lr_argmax_logits_settle(void);
/* Rows of the pending begin (0: none). */
int64_t lr_argmax_logits_pending(void);

/* Whether lr_argmax_logits screens on this CPU (the kernels chosen at load: AVX-512 with VNNI). */
int lr_screen_supported(void);
/* Chooses the screen's integer-sum kernel once, at load: AMX where the CPU has AMX-INT8, Linux grants the
 * process its tile state and `use_amx` is set; otherwise AVX-512 VNNI. Both give the same bits. */
void lr_screen_init(int use_amx);
/* The kernel of the screen's sums: "amx", "avx512vnni", or "none" (no screen). */
const char *lr_screen_kernel(void);

/* Rows of screened calls so far: decided by the screen, and given their whole logits (the bound did not
 * cover them, or too many columns came close). */
void lr_screen_counts(int64_t *screened, int64_t *exact);
/* Bytes held by the screen copies (for memory reports). */
int64_t lr_screen_bytes(const lr_half *half);
/* Frees h's screen copy. A pending begin's pass reads it and h's fp16 panels: settle it
 * (lr_argmax_logits_settle) before freeing either, as the binding's release and finalizer do. */
void lr_screen_free(lr_half *h);

/* The AVX-512 VNNI kernels (screen_int8.c). Screen logits s[R, 16 np] (row stride lds) of R rows of int8
 * quads xq [K4][ldx] (quad p of row r at xq[p * ldx + r]: bytes x_q[4p .. 4p + 3]) over np panels of quads
 * wq [np][K4][16]: s[r][n] = ((sum_k (q[n][k] + 128) x_q[r][k]) - corr[r]) * scale[n] * sx[r], in that order,
 * where corr[r] = 128 sum_k x_q[r][k] (so the difference is the exact integer dot product). */
void lr_screen_panels_int8(float *s, int64_t lds, const uint32_t *xq, int64_t ldx, int64_t R, int64_t K4, const uint32_t *wq,
                           int64_t np, const float *scale, const int32_t *corr, const float *sx);
/* The same sums on AMX (screen_amx.c), rows given as xa [R][K4] (lr_screen_rows_amx transposes xq into it);
 * R <= 16. Only after lr_screen_amx_enable has returned 1. */
void lr_screen_panels_amx(float *s, int64_t lds, const uint32_t *xa, int64_t R, int64_t K4, const uint32_t *wq, int64_t np,
                          const float *scale, const int32_t *corr, const float *sx);
void lr_screen_rows_amx(uint32_t *xa, const uint32_t *xq, int64_t ldx, int64_t R, int64_t K4);
/* Asks Linux for AMX's tile state for this process (arch_prctl); 1 when granted. */
int lr_screen_amx_enable(void);
/* The screen copy of np fp16 panels [np][K][16] (K a multiple of 4): quads, scale, norm and resid [16 np] as
 * lr_screen holds them. Returns 0 when a weight is not finite. */
int lr_screen_pack_int8(uint32_t *quads, float *scale, float *norm, float *resid, const uint16_t *panels, int64_t np, int64_t K);
/* max over j < n (a multiple of 16) of s[j] - (a norm[j] + b resid[j]): a row's best lower bound over n columns */
float lr_screen_lower_max(const float *s, const float *norm, const float *resid, float a, float b, int64_t n);
/* The columns j < n (ascending) with upper bound s[j] + (a norm[j] + b resid[j]) >= L: the first cap of them
 * into idx and their bounds into hi; returns how many there are (more than cap when they did not fit). */
int64_t lr_screen_above(const float *s, const float *norm, const float *resid, float a, float b, float L, int64_t n, int32_t *idx,
                        float *hi, int64_t cap);

#endif
