/* Baseline variant of the kernels: whatever the compiler's default target is (SSE2 on x86-64). */
#define LR_SUFFIX(name) name##_base
#define LR_FMA(a, b, c) ((a) * (b) + (c))
#include "kernels_impl.h"
