/*
 * The screen logits of 16 columns of one row from their exact int32 sums (screen.h), for both kernels that make
 * the sums (screen_int8.c, screen_amx.c): the order of operations is the one screen.c's bound assumes. Included
 * after the file's AVX-512 target pragma.
 */
#ifndef LORAROUTE_SCREEN_LOGITS_H
#define LORAROUTE_SCREEN_LOGITS_H

#include <immintrin.h>
#include <stdint.h>

/* s[16 q .. 16 q + 15] = (acc - corr) * scale * sx */
static inline void store_logits(float *s, __m512i acc, int32_t corr, const float *scale, float sx) {
  const __m512 d = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, _mm512_set1_epi32(corr)));
  _mm512_storeu_ps(s, _mm512_mul_ps(_mm512_mul_ps(d, _mm512_loadu_ps(scale)), _mm512_set1_ps(sx)));
}

#endif
