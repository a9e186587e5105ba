/*
 * The screen's integer sums (screen.h) on AMX: one tdpbsud multiplies a tile of up to 16 rows x 64 signed
 * bytes of the rows' int8 copy by a tile of 16 quads x 16 columns of the weight's unsigned bytes, 16,384 byte
 * products into 16 x 16 int32 sums, where vpdpbusd does 64. The weight's quads are already laid out as AMX's
 * B operand ([K4][16] per panel: 16 quads = one 1 KB tile), so a panel's tiles load straight from the copy;
 * only the rows are transposed (once per pass, lr_screen_rows_amx). The sums are the same exact integers as
 * screen_int8.c's, and they become screen logits through the same expression (same bits).
 *
 * Linux hands out AMX's tile state only to a process that asks (arch_prctl ARCH_REQ_XCOMP_PERM);
 * lr_screen_amx_enable asks once, at load. Each call configures the tiles and releases them at its end, so a
 * thread holds no tile state between calls.
 */
#define _GNU_SOURCE /* syscall */
#include "screen.h"

#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#pragma GCC target("avx512f,avx512vl,avx512bw,amx-tile,amx-int8")
#include <immintrin.h>

#include "screen_logits.h"

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

int lr_screen_amx_enable(void) { return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0; }

/* ldtilecfg's 64-byte operand (palette 1) */
typedef struct {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
} __attribute__((packed, aligned(64))) tile_config;

void lr_screen_rows_amx(uint32_t *xa, const uint32_t *xq, int64_t ldx, int64_t R, int64_t K4) {
  for (int64_t r = 0; r < R; r++)
    for (int64_t p = 0; p < K4; p++) xa[r * K4 + p] = xq[p * ldx + r];
}

/* tiles: 0-3 the sums of four panels, 4/5 a full k-step's rows and weight quads, 6/7 the last partial one's
 * (macros, not an enum: the intrinsics paste tile numbers into the instruction's text) */
#define T_ROWS 4
#define T_W 5
#define T_ROWS_TAIL 6
#define T_W_TAIL 7

/* s[r][n] for the R x 16 sums of one panel in acc[R][16] */
static inline void store_panel(float *s, int64_t lds, const int32_t *acc, int64_t R, const float *scale, const int32_t *corr,
                               const float *sx) {
  for (int64_t r = 0; r < R; r++) store_logits(s + r * lds, _mm512_loadu_si512((const void *)(acc + r * 16)), corr[r], scale, sx[r]);
}

/* sums tile T (an immediate: tile numbers are part of the instruction) += k-step t of the rows (tiles R, W:
 * a full step's or the tail's shapes) by that step of panel wp's quads */
#define STEP(T, R, W, t, wp)             \
  do {                                   \
    _tile_loadd(W, (wp) + (t) * 256, 64); \
    _tile_dpbsud(T, R, W);                \
  } while (0)

void lr_screen_panels_amx(float *s, int64_t lds, const uint32_t *xa, int64_t R, int64_t K4, const uint32_t *wq, int64_t np,
                          const float *scale, const int32_t *corr, const float *sx) {
  const int64_t kfull = K4 / 16, ktail = K4 % 16, pstride = K4 * 16;
  tile_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int t = 0; t < 4; t++) cfg.rows[t] = (uint8_t)R, cfg.colsb[t] = 64;
  cfg.rows[T_ROWS] = (uint8_t)R, cfg.colsb[T_ROWS] = 64;
  cfg.rows[T_W] = 16, cfg.colsb[T_W] = 64;
  if (ktail) {
    cfg.rows[T_ROWS_TAIL] = (uint8_t)R, cfg.colsb[T_ROWS_TAIL] = (uint16_t)(ktail * 4);
    cfg.rows[T_W_TAIL] = (uint8_t)ktail, cfg.colsb[T_W_TAIL] = 64;
  }
  _tile_loadconfig(&cfg);
  int32_t acc[4][16 * 16] __attribute__((aligned(64))); /* [panel][row][16] */
  int64_t q = 0;
  for (; q + 4 <= np; q += 4) { /* four panels at a time: each rows tile is loaded once for four products */
    const uint32_t *w0 = wq + q * pstride, *w1 = w0 + pstride, *w2 = w1 + pstride, *w3 = w2 + pstride;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t t = 0; t < kfull; t++) {
      _tile_loadd(T_ROWS, xa + t * 16, K4 * 4);
      STEP(0, T_ROWS, T_W, t, w0);
      STEP(1, T_ROWS, T_W, t, w1);
      STEP(2, T_ROWS, T_W, t, w2);
      STEP(3, T_ROWS, T_W, t, w3);
    }
    if (ktail) {
      _tile_loadd(T_ROWS_TAIL, xa + kfull * 16, K4 * 4);
      STEP(0, T_ROWS_TAIL, T_W_TAIL, kfull, w0);
      STEP(1, T_ROWS_TAIL, T_W_TAIL, kfull, w1);
      STEP(2, T_ROWS_TAIL, T_W_TAIL, kfull, w2);
      STEP(3, T_ROWS_TAIL, T_W_TAIL, kfull, w3);
    }
    _tile_stored(0, acc[0], 64);
    _tile_stored(1, acc[1], 64);
    _tile_stored(2, acc[2], 64);
    _tile_stored(3, acc[3], 64);
    for (int i = 0; i < 4; i++) store_panel(s + (q + i) * 16, lds, acc[i], R, scale + (q + i) * 16, corr, sx);
  }
  for (; q < np; q++) { /* the last panels one at a time */
    const uint32_t *w = wq + q * pstride;
    _tile_zero(0);
    for (int64_t t = 0; t < kfull; t++) {
      _tile_loadd(T_ROWS, xa + t * 16, K4 * 4);
      STEP(0, T_ROWS, T_W, t, w);
    }
    if (ktail) {
      _tile_loadd(T_ROWS_TAIL, xa + kfull * 16, K4 * 4);
      STEP(0, T_ROWS_TAIL, T_W_TAIL, kfull, w);
    }
    _tile_stored(0, acc[0], 64);
    store_panel(s + q * 16, lds, acc[0], R, scale + q * 16, corr, sx);
  }
  _tile_release();
}

#else
/* not x86-64 Linux: never called (lr_screen_amx_enable is 0) */
int lr_screen_amx_enable(void) { return 0; }
void lr_screen_rows_amx(uint32_t *xa, const uint32_t *xq, int64_t ldx, int64_t R, int64_t K4) {
  (void)xa, (void)xq, (void)ldx, (void)R, (void)K4;
}
void lr_screen_panels_amx(float *s, int64_t lds, const uint32_t *xa, int64_t R, int64_t K4, const uint32_t *wq, int64_t np,
                          const float *scale, const int32_t *corr, const float *sx) {
  (void)s, (void)lds, (void)xa, (void)R, (void)K4, (void)wq, (void)np, (void)scale, (void)corr, (void)sx;
}
#endif
