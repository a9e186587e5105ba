/*
 * One decode query of one head over its cached keys and values, with AVX-512 (attend_avx512.c): what a
 * decode step's attention spends its arithmetic on, 16 keys at a time.
 */
#ifndef LORAROUTE_ATTEND_H
#define LORAROUTE_ATTEND_H

#include <stdint.h>

/* o [hs] = softmax(scale * k[0:n] q) v[0:n] over a head's caches k, v [S, hs], keys whose mask entry is 0
 * dropped (mask NULL: none; every key dropped: o = 0); sc [n] scratch. hs a positive multiple of 16. */
void lr_attend_one_avx512(float *o, const float *q, const float *kh, const float *vh, const int32_t *mask, int64_t n,
                          int64_t hs, float scale, float *sc);

/* the same over fp16 caches (IEEE binary16 bits): each value widened to fp32 as it is read */
void lr_attend_one_avx512_f16(float *o, const float *q, const uint16_t *kh, const uint16_t *vh, const int32_t *mask,
                              int64_t n, int64_t hs, float scale, float *sc);

#endif
