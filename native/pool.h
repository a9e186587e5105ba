/*
 * The addon's one level of threading: a small pool of worker threads that poll briefly for the next job,
 * then sleep on a condition variable (pool.c: the bound on the poll keeps a busy machine from losing more
 * than a job's time to them). OpenBLAS is kept at one thread
 * (openblas_set_num_threads(1) at load); a big matmul is split into column or row blocks and each block is
 * one single-threaded sgemm run by a pool thread, and the fused kernels split their rows or elements the
 * same way. Work is cut into more chunks than threads and claimed from an atomic counter, so a thread
 * that another process slows down takes fewer chunks instead of holding up the others.
 *
 * One job at a time, from one thread: the addon refuses a second JS thread (see binding.c), and jobs do
 * not nest (a chunk function must not call lr_pool_run; if it does, the inner job runs inline).
 */
#ifndef LORAROUTE_POOL_H
#define LORAROUTE_POOL_H

#include <stdint.h>

/* fn(ctx, chunk, thread): thread in [0, lr_pool_threads()) identifies per-thread scratch */
typedef void (*lr_chunk_fn)(void *ctx, int64_t chunk, int thread);

/* Sets the number of threads (the caller included; 1 = no workers). Returns the number in use. */
int lr_pool_set_threads(int n);
int lr_pool_threads(void);
/* Runs fn for every chunk in [0, nchunks) and returns when all are done. */
void lr_pool_run(int64_t nchunks, lr_chunk_fn fn, void *ctx);
/* The same job in two halves: post hands the chunks to the workers and returns at once (the caller may do
 * other work meanwhile: every lr_pool_run until the join runs inline on the calling thread, and chunk
 * functions of the posted job never run on thread 0 before the join, so thread 0's scratch stays the
 * caller's); join takes the chunks still left on the calling thread and returns when all are done. Without
 * workers (or nested) post runs the whole job at once and join does nothing. */
void lr_pool_post(int64_t nchunks, lr_chunk_fn fn, void *ctx);
void lr_pool_join(void);
/* Stops and joins the workers (module unload). */
void lr_pool_shutdown(void);

/* Splits [0, n) into about `per_thread` chunks per thread of at least `min` elements (multiple of
 * `align`); returns the chunk size (n when one chunk is best). */
int64_t lr_pool_chunk(int64_t n, int64_t min, int64_t align, int per_thread);

#endif
