/*
 * AVX-512 (F, BW, VL, DQ) + FMA + F16C variant of the kernels: the same C bodies as the other variants
 * (kernels_impl.h), vectorised by GCC for 512-bit registers. Chosen at run time only on CPUs (and OSes) with
 * those features (lr_select_kernels), so the addon itself needs no -march flag. The reductions keep their
 * explicit lanes, so results equal the AVX2 variant's up to the order GCC gives the lane sums.
 */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,prefer-vector-width=512")
#define LR_SUFFIX(name) name##_avx512
#define LR_FMA(a, b, c) __builtin_fmaf((a), (b), (c))
#include "kernels_impl.h"
#endif
