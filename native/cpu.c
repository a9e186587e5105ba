/* cpuid + xgetbv feature detection (see cpu.h). */
#include "cpu.h"

#include <string.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
  unsigned int lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}

void lr_cpu_detect(lr_cpu *c) {
  memset(c, 0, sizeof *c);
  unsigned int a, b, cx, d;
  if (!__get_cpuid(0, &a, &b, &cx, &d)) return;
  const unsigned int maxLeaf = a;
  memcpy(c->vendor, &b, 4);
  memcpy(c->vendor + 4, &d, 4);
  memcpy(c->vendor + 8, &cx, 4);
  __get_cpuid(1, &a, &b, &cx, &d);
  const int osxsave = (cx >> 27) & 1, avx = (cx >> 28) & 1;
  c->fma = (cx >> 12) & 1;
  c->f16c = (cx >> 29) & 1;
  unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  const int ymm = osxsave && avx && (xcr0 & 0x6) == 0x6;           /* xmm + ymm state */
  const int zmm = ymm && (xcr0 & 0xe0) == 0xe0;                    /* opmask + zmm state */
  const int tiles = (xcr0 & 0x60000ull) == 0x60000ull;             /* AMX tile state */
  if (maxLeaf >= 7) {
    __cpuid_count(7, 0, a, b, cx, d);
    c->avx2 = ymm && ((b >> 5) & 1);
    c->avx512f = zmm && ((b >> 16) & 1);
    c->avx512dq = zmm && ((b >> 17) & 1);
    c->avx512bw = zmm && ((b >> 30) & 1);
    c->avx512vl = zmm && ((b >> 31) & 1);
    c->avx512vnni = zmm && ((cx >> 11) & 1);
    c->avx512fp16 = zmm && ((d >> 23) & 1);
    c->amx = tiles && ((d >> 24) & 1); /* AMX-TILE */
    c->amxint8 = c->amx && ((d >> 25) & 1);
    if (a >= 1) {
      unsigned int a1, b1, c1, d1;
      __cpuid_count(7, 1, a1, b1, c1, d1);
      c->avx512bf16 = zmm && ((a1 >> 5) & 1);
    }
  }
  c->fma = c->fma && ymm;
  c->f16c = c->f16c && ymm;
  const int l2 = c->avx2 && c->fma && c->f16c;
  c->level = l2 && c->avx512f && c->avx512bw && c->avx512vl ? LR_ISA_AVX512 : l2 ? LR_ISA_AVX2 : LR_ISA_BASELINE;
  __get_cpuid(0x80000000, &a, &b, &cx, &d);
  if (a >= 0x80000004) {
    unsigned int *w = (unsigned int *)c->brand;
    for (unsigned int i = 0; i < 3; i++) __get_cpuid(0x80000002 + i, w + 4 * i, w + 4 * i + 1, w + 4 * i + 2, w + 4 * i + 3);
    c->brand[48] = 0;
    /* trim the padding some CPUs put around the name */
    size_t s = 0, n = strlen(c->brand);
    while (s < n && c->brand[s] == ' ') s++;
    while (n > s && c->brand[n - 1] == ' ') n--;
    memmove(c->brand, c->brand + s, n - s);
    c->brand[n - s] = 0;
  }
}
#else
void lr_cpu_detect(lr_cpu *c) { memset(c, 0, sizeof *c); }
#endif

const char *lr_isa_name(int level) {
  return level == LR_ISA_AVX512 ? "avx512" : level == LR_ISA_AVX2 ? "avx2" : "baseline";
}

int lr_isa_parse(const char *name) {
  if (!name) return -1;
  if (strcmp(name, "baseline") == 0 || strcmp(name, "base") == 0) return LR_ISA_BASELINE;
  if (strcmp(name, "avx2") == 0) return LR_ISA_AVX2;
  if (strcmp(name, "avx512") == 0) return LR_ISA_AVX512;
  return -1;
}
