/*
 * The constants of lr_expf (kernels_impl.h) and of its 16-lane form in attend_avx512.c: the Cephes expf
 * polynomial, about 1 ulp, for x in [-87, 88] (below -87 both give 0).
 */
#ifndef LORAROUTE_EXPF_H
#define LORAROUTE_EXPF_H

#define LR_EXP_HI 88.0f
#define LR_EXP_LO -87.0f
#define LR_EXP_LOG2E 1.44269504088896341f
#define LR_EXP_ROUND 12582912.0f /* 1.5 * 2^23: x + it - it rounds x to an integer */
#define LR_EXP_LN2_HI 0.693359375f
#define LR_EXP_LN2_LO -2.12194440e-4f
#define LR_EXP_P0 1.9875691500e-4f
#define LR_EXP_P1 1.3981999507e-3f
#define LR_EXP_P2 8.3334519073e-3f
#define LR_EXP_P3 4.1665795894e-2f
#define LR_EXP_P4 1.6666665459e-1f
#define LR_EXP_P5 5.0000001201e-1f

#endif
