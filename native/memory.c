/* Huge-page hints for weight buffers (see memory.h). */
#define _GNU_SOURCE
#include "memory.h"

#include <stdint.h>
#include <stdlib.h>

#ifdef __linux__
#include <sys/mman.h>
#endif

#define HUGE_PAGE ((uintptr_t)2 << 20)
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

int lr_advise_huge_pages(void *p, size_t bytes, int collapse) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  uintptr_t lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  uintptr_t hi = ((uintptr_t)p + bytes) & ~(HUGE_PAGE - 1);
  if (hi <= lo) return -1;
  if (madvise((void *)lo, hi - lo, MADV_HUGEPAGE) != 0) return -1;
  if (collapse && madvise((void *)lo, hi - lo, MADV_COLLAPSE) != 0) return -1;
  return 0;
#else
  (void)p, (void)bytes, (void)collapse;
  return -1;
#endif
}

void *lr_alloc_huge(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, HUGE_PAGE, bytes ? bytes : 1) != 0) return NULL;
  lr_advise_huge_pages(p, bytes, 0); /* before the first touch: the pages fault in huge */
  return p;
}
