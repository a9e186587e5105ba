/* Per-thread grow-only scratch (see arena.h). */
#define _POSIX_C_SOURCE 200809L
#include "arena.h"

#include <stdlib.h>

#define LR_SLOTS 64

static struct {
  void *p;
  size_t bytes;
} g_slots[LR_SLOTS];

void *lr_scratch(int thread, size_t bytes) {
  if (thread < 0 || thread >= LR_SLOTS) return NULL;
  if (bytes == 0) bytes = 64;
  if (g_slots[thread].bytes >= bytes) return g_slots[thread].p;
  size_t want = bytes + bytes / 4; /* some headroom: shapes grow by a little at a time (decode) */
  want = (want + 63) & ~(size_t)63;
  void *p = NULL;
  if (posix_memalign(&p, 64, want) != 0) return NULL;
  free(g_slots[thread].p);
  g_slots[thread].p = p;
  g_slots[thread].bytes = want;
  return p;
}

size_t lr_scratch_bytes(void) {
  size_t n = 0;
  for (int i = 0; i < LR_SLOTS; i++) n += g_slots[i].bytes;
  return n;
}

void lr_scratch_release(void) {
  for (int i = 0; i < LR_SLOTS; i++) {
    free(g_slots[i].p);
    g_slots[i].p = NULL;
    g_slots[i].bytes = 0;
  }
}
