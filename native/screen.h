/*
 * Greedy tokens of a decode step without every logit (lr_argmax_logits): the argmax of x @ W^T over an LM
 * head W [V, C] stored as fp16 panels (gemv.h), bit for bit what lr_matmul then lr_argmax_rows give.
 *
 * A batch of rows makes the LM head's product compute-bound (its weight is read once for all rows, its
 * multiply-adds are not shared). So a screen computes every logit at bf16 (AVX-512 BF16's dot products,
 * twice the multiply-adds per instruction of fp32 FMAs), each with a proven bound on its distance from the
 * exact fp32 logit; only the columns whose bound reaches the best lower bound are computed exactly, by the
 * same panel kernel the matmul uses. A few columns per row pass (1 to 4 on the bundled model). The argmax
 * of those exact logits, the first of equal maxima, is the matmul's argmax: every column whose exact logit
 * is the largest passes. See screen.c for the bound.
 */
#ifndef LORAROUTE_SCREEN_H
#define LORAROUTE_SCREEN_H

#include <stdint.h>

#include "gemv.h"

/* The screen's copy of one LM head (built from the fp16 panels the first time it is used; freed with the
 * lr_half): its weights as bf16 pairs and an upper bound on each column's 2-norm. */
typedef struct lr_screen {
  int64_t off, K, N16; /* the region it copies: lr_half_region off and K, its N16 panel columns */
  uint32_t *pairs;     /* [N16 / 16][K / 2][16]: lane n of pair p = bf16 w[n][2p] | bf16 w[n][2p+1] << 16 */
  float *norm;         /* [N16]: >= ||fp16 w[n]||_2 (plus a small absolute slack, see screen.c) */
  float wmax;          /* the largest norm */
  int usable;          /* 0 when a weight is not finite (the bound would not hold): every row goes exact */
} lr_screen;

/* out[M] = argmax over v of (x[M, C] @ W^T)[v], W [V, C]: exactly lr_matmul(logits, x, w, M, V, C, 0, 1, 1, 0,
 * half) followed by lr_argmax_rows(out, logits, M, V). Screens where `half` packs W in panels, the CPU has
 * AVX-512 BF16 and M >= LR_SCREEN_MIN_ROWS; otherwise (and for a row the bound does not cover: a value that
 * is not finite, subnormal or too large) computes the logits. Returns 0, or -1 when out of memory. */
int lr_argmax_logits(int32_t *out, const float *x, const float *w, int64_t M, int64_t V, int64_t C, lr_half *half);

/* Whether lr_argmax_logits screens on this CPU (the kernels chosen at load: AVX-512 with BF16). */
int lr_screen_supported(void);

/* Rows of screened calls so far: decided by the screen, and given their whole logits (the bound did not
 * cover them, or too many columns came close). */
void lr_screen_counts(int64_t *screened, int64_t *exact);
/* Bytes held by the screen copies (for memory reports). */
int64_t lr_screen_bytes(const lr_half *half);
/* Frees h's screen copy. */
void lr_screen_free(lr_half *h);

/* The AVX-512 BF16 kernels (screen_bf16.c). Raw screen logits s[R, 16 np] (row stride lds) of R rows of bf16
 * pairs xp [K2][ldx] (pair p of row r at xp[p * ldx + r]) over np panels of pairs wp [np][K2][16]: */
void lr_screen_panels_bf16(float *s, int64_t lds, const uint32_t *xp, int64_t ldx, int64_t R, int64_t K2, const uint32_t *wp,
                           int64_t np);
/* The screen copy of np fp16 panels [np][K][16] (K even): pairs [np][K/2][16] and norm [16 np] as
 * lr_screen holds them. Returns 0 when a weight is not finite. */
int lr_screen_pack_bf16(uint32_t *pairs, float *norm, const uint16_t *panels, int64_t np, int64_t K);
/* One row x [2 K2] (finite values) as bf16 pairs into xp[p * ldx] (pair p = bf16 x[2p] | bf16 x[2p+1] << 16),
 * rounded to nearest even as lr_screen_pack_bf16 rounds the weights. */
void lr_screen_pack_row(uint32_t *xp, int64_t ldx, const float *x, int64_t K2);
/* max over j < n (a multiple of 16) of s[j] - e * norm[j]: a row's best lower bound over n columns */
float lr_screen_lower_max(const float *s, const float *norm, float e, int64_t n);
/* The columns j < n (ascending) with upper bound s[j] + e * norm[j] >= L: the first cap of them into idx and
 * their bounds into hi; returns how many there are (more than cap when they did not fit). */
int64_t lr_screen_above(const float *s, const float *norm, float e, float L, int64_t n, int32_t *idx, float *hi, int64_t cap);

#endif
