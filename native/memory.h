/*
 * Transparent huge pages for weights. A decode step streams every weight once; with 4 KB pages the TLB
 * misses cost about 15% of the bandwidth of the lm_head product here (22 -> 26 GB/s with 2 MB pages).
 * These are hints: where the kernel or the platform does not support them nothing changes.
 */
#ifndef LORAROUTE_MEMORY_H
#define LORAROUTE_MEMORY_H

#include <stddef.h>

/* Asks for huge pages over the 2 MB-aligned part of [p, p + bytes): pages faulted in later come huge;
 * with collapse, pages already present are rebuilt as huge pages now (MADV_COLLAPSE, Linux 6.1+; about
 * 2 ms per MB). Returns 0 when the kernel took the hint, -1 otherwise. */
int lr_advise_huge_pages(void *p, size_t bytes, int collapse);

/* 2 MB-aligned allocation advised for huge pages (free with free()); NULL when out of memory. */
void *lr_alloc_huge(size_t bytes);

#endif
