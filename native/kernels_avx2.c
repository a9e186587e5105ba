/*
 * AVX2 + FMA + F16C variant of the kernels, chosen at run time only on CPUs that have those features
 * (see lr_select_kernels in binding.c), so the addon itself needs no -march flag.
 */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC target("avx2,fma,f16c")
#define LR_SUFFIX(name) name##_avx2
#define LR_FMA(a, b, c) __builtin_fmaf((a), (b), (c))
#include "kernels_impl.h"
#endif
