/*
 * IEEE binary16 <-> binary32 on one value, without F16C: the bits F16C's vcvtps2ph (round to nearest even)
 * and vcvtph2ps give, NaNs quieted as they quiet them. The fp16 KV cache (ops.c) converts with these on
 * CPUs below the AVX2 level, with F16C above it; the backend suite checks both against src/io/float16.ts.
 */
#ifndef LORAROUTE_HALF_H
#define LORAROUTE_HALF_H

#include <stdint.h>
#include <string.h>

static inline float lr_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0); /* inf, or a quiet NaN */
  } else if (exp) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (!mant) {
    bits = sign;
  } else { /* subnormal: mant * 2^-24, normalised */
    uint32_t e = 113;
    while (!(mant & 0x400)) mant <<= 1, e--;
    bits = sign | (e << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static inline uint16_t lr_f16_from_f32(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  const uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, mant = x & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0)); /* inf, quiet NaN */
  const int32_t e = (int32_t)exp - 112;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) { /* subnormal or zero */
    if (e < -10) return (uint16_t)sign;
    const uint32_t full = mant | 0x800000, shift = (uint32_t)(14 - e), half = 1u << (shift - 1);
    uint32_t m = full >> shift;
    const uint32_t rem = full & ((1u << shift) - 1);
    if (rem > half || (rem == half && (m & 1))) m++;
    return (uint16_t)(sign | m);
  }
  uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return (uint16_t)(sign | h);
}

#endif
