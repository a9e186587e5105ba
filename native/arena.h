/*
 * Scratch memory for the kernels that need some (attention's score tiles and dropout masks, bias-gradient
 * sums): one grow-only buffer per pool thread, kept between calls, so a training or decode step allocates
 * nothing once the largest shapes have been seen. Slot t is only ever used by pool thread t (pool.h), and
 * the addon runs on one JS thread (binding.c), so no locking is needed.
 */
#ifndef LORAROUTE_ARENA_H
#define LORAROUTE_ARENA_H

#include <stddef.h>

/* At least `bytes` of 64-byte-aligned scratch for pool thread `thread` (its contents are not kept), or NULL
 * when out of memory. Valid until the next call for the same thread. */
void *lr_scratch(int thread, size_t bytes);
/* Bytes held by all slots (for tests and memory reports). */
size_t lr_scratch_bytes(void);
/* Frees every slot. */
void lr_scratch_release(void);

#endif
