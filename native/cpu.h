/*
 * What the CPU can run, from cpuid and xgetbv (the OS must save the wider registers too): the instruction
 * set level the kernels are chosen by, and the CPU's name. Shared by the main addon (kernel choice) and
 * the small loraroute_cpu addon, which JavaScript loads first so that it can pick OpenBLAS's core type
 * (OPENBLAS_CORETYPE) before libopenblas is loaded and initialised.
 */
#ifndef LORAROUTE_CPU_H
#define LORAROUTE_CPU_H

/* ISA levels, in order: each includes the ones below it */
enum { LR_ISA_BASELINE = 0, LR_ISA_AVX2 = 1, LR_ISA_AVX512 = 2 };

typedef struct lr_cpu {
  int avx2, fma, f16c;              /* AVX2 level = all three (and OS support of ymm state) */
  int avx512f, avx512bw, avx512vl; /* AVX-512 level = these three plus the AVX2 level (and zmm state) */
  int avx512dq, avx512vnni, avx512fp16, avx512bf16, amx, amxint8; /* amx: AMX-TILE; amxint8: its int8 products */
  int level;                        /* LR_ISA_* */
  char vendor[13];
  char brand[49];
} lr_cpu;

/* Fills *c (zeros and level baseline where cpuid is not available, e.g. not x86). */
void lr_cpu_detect(lr_cpu *c);

/* "baseline", "avx2", "avx512" */
const char *lr_isa_name(int level);
/* the level of a name (also "base"), or -1 */
int lr_isa_parse(const char *name);

#endif
