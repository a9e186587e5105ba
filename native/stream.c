/* The read-bandwidth probe (see stream.h): a sum over a large buffer, in 64 KB blocks handed out by the pool. */
#define _POSIX_C_SOURCE 200809L
#include "stream.h"

#include <stdlib.h>
#include <time.h>

#include "memory.h"
#include "pool.h"

#define BLOCK_FLOATS (16 * 1024) /* 64 KB */

typedef struct {
  const float *buf;
  int64_t blocksPerChunk, blocks;
  float sink[64];
} sjob;

static float sum_block(const float *x, int64_t n) {
  float acc[16] = {0};
  for (int64_t i = 0; i < n; i += 16)
    for (int j = 0; j < 16; j++) acc[j] += x[i + j];
  float s = 0.0f;
  for (int j = 0; j < 16; j++) s += acc[j];
  return s;
}

static void c_read(void *ctx, int64_t c, int thread) {
  sjob *j = ctx;
  const int64_t b0 = c * j->blocksPerChunk, b1 = b0 + j->blocksPerChunk < j->blocks ? b0 + j->blocksPerChunk : j->blocks;
  float s = 0.0f;
  for (int64_t b = b0; b < b1; b++) s += sum_block(j->buf + b * BLOCK_FLOATS, BLOCK_FLOATS);
  j->sink[thread & 63] += s; /* keeps the reads from being optimised away */
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double lr_read_bandwidth(int64_t bytes, int passes, int threads) {
  const int64_t blocks = bytes / (int64_t)(BLOCK_FLOATS * sizeof(float));
  if (blocks < 1 || passes < 1) return -1;
  float *buf = lr_alloc_huge((size_t)blocks * BLOCK_FLOATS * sizeof(float)); /* 2 MB pages, as the weights get */
  if (!buf) return -1;
  for (int64_t i = 0; i < blocks * BLOCK_FLOATS; i++) buf[i] = (float)(i & 1023);
  sjob j = {.buf = buf, .blocks = blocks};
  const int t = threads == 1 ? 1 : lr_pool_threads();
  j.blocksPerChunk = threads == 1 ? blocks : (blocks + 4 * t - 1) / (4 * t);
  const int64_t chunks = (blocks + j.blocksPerChunk - 1) / j.blocksPerChunk;
  double best = 1e300;
  for (int p = 0; p < passes + 1; p++) { /* the first pass warms the TLB and the page tables */
    const double t0 = now_s();
    if (threads == 1)
      c_read(&j, 0, 0);
    else
      lr_pool_run(chunks, c_read, &j);
    const double dt = now_s() - t0;
    if (p > 0 && dt < best) best = dt;
  }
  free(buf);
  volatile float keep = j.sink[0];
  (void)keep;
  return (double)blocks * BLOCK_FLOATS * sizeof(float) / best / 1e9;
}
