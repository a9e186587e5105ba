/* The worker pool (see pool.h): pthreads, a mutex and two condition variables, an atomic chunk counter, and a
 * short poll before sleeping. */
#define _GNU_SOURCE
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LR_PAUSE() _mm_pause()
#else
#define LR_PAUSE() ((void)0)
#endif

/* A worker waiting for the next job, and the caller waiting for a job's last chunk, poll this many times
 * (tens of microseconds) before they sleep on a condition variable: a decode step runs dozens of short jobs
 * back to back, and waking a sleeping thread costs about as long as a job (a 16-row step of the bundled model
 * took 10-15% less time measured here). The bound keeps a competing process from losing more than that
 * per job, which unbounded spinning (OpenBLAS's own threads) does not. */
#define LR_SPIN 2000

#define LR_MAX_THREADS 64

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_work = PTHREAD_COND_INITIALIZER; /* a job was posted, or stop */
static pthread_cond_t g_done = PTHREAD_COND_INITIALIZER; /* the last chunk finished, or a worker left a job */
static pthread_t g_threads[LR_MAX_THREADS];
static int g_nworkers; /* workers running (threads = workers + the caller) */
static int g_stop;
static _Atomic uint64_t g_gen; /* job generation: wakes the workers for a new job */
static int g_active;   /* workers inside drain(): the next job is set up only when it is 0 */
static int g_in_job;   /* nesting guard */

/* The current job. The caller waits for every chunk to be done, not for every worker to have run: a worker
 * that the OS has not scheduled yet holds up nothing (when it runs it finds the chunks taken). */
static lr_chunk_fn g_fn;
static void *g_ctx;
static int64_t g_nchunks;
static atomic_llong g_next;
static atomic_llong g_finished;

static void drain(int thread) {
  for (;;) {
    const int64_t c = atomic_fetch_add(&g_next, 1);
    if (c >= g_nchunks) return;
    g_fn(g_ctx, c, thread);
    if (atomic_fetch_add(&g_finished, 1) + 1 == g_nchunks) {
      pthread_mutex_lock(&g_mu);
      pthread_cond_broadcast(&g_done);
      pthread_mutex_unlock(&g_mu);
    }
  }
}

static void *worker(void *arg) {
  const int thread = (int)(intptr_t)arg;
  uint64_t seen = 0;
  pthread_mutex_lock(&g_mu);
  seen = g_gen;
  for (;;) {
    if (!g_stop && atomic_load(&g_gen) == seen) {
      pthread_mutex_unlock(&g_mu);
      for (int i = LR_SPIN; i > 0 && atomic_load(&g_gen) == seen; i--) LR_PAUSE();
      pthread_mutex_lock(&g_mu);
    }
    while (!g_stop && g_gen == seen) pthread_cond_wait(&g_work, &g_mu);
    if (g_stop) break;
    seen = g_gen;
    g_active++;
    pthread_mutex_unlock(&g_mu);
    drain(thread);
    pthread_mutex_lock(&g_mu);
    if (--g_active == 0) pthread_cond_broadcast(&g_done);
  }
  pthread_mutex_unlock(&g_mu);
  return NULL;
}

void lr_pool_shutdown(void) {
  pthread_mutex_lock(&g_mu);
  g_stop = 1;
  pthread_cond_broadcast(&g_work);
  pthread_mutex_unlock(&g_mu);
  for (int i = 0; i < g_nworkers; i++) pthread_join(g_threads[i], NULL);
  g_nworkers = 0;
  g_stop = 0;
}

int lr_pool_set_threads(int n) {
  lr_pool_join(); /* a posted job ends before the workers change (simpler than leaving it to whichever threads exist) */
  if (n < 1) n = 1;
  if (n > LR_MAX_THREADS) n = LR_MAX_THREADS;
  if (n - 1 == g_nworkers) return n;
  lr_pool_shutdown();
  for (int i = 0; i < n - 1; i++) {
    if (pthread_create(&g_threads[i], NULL, worker, (void *)(intptr_t)(i + 1)) != 0) break;
    g_nworkers++;
  }
  return g_nworkers + 1;
}

int lr_pool_threads(void) { return g_nworkers + 1; }

static int g_posted; /* a job posted by lr_pool_post that lr_pool_join has not finished */

void lr_pool_post(int64_t nchunks, lr_chunk_fn fn, void *ctx) {
  if (nchunks <= 0) return;
  if (g_nworkers == 0 || nchunks == 1 || g_in_job) {
    for (int64_t c = 0; c < nchunks; c++) fn(ctx, c, 0);
    return;
  }
  g_in_job = 1;
  pthread_mutex_lock(&g_mu);
  while (g_active > 0) pthread_cond_wait(&g_done, &g_mu); /* a worker still leaving the last job */
  g_fn = fn;
  g_ctx = ctx;
  g_nchunks = nchunks;
  atomic_store(&g_finished, 0);
  atomic_store(&g_next, 0);
  g_gen++;
  pthread_cond_broadcast(&g_work);
  pthread_mutex_unlock(&g_mu);
  g_posted = 1;
}

void lr_pool_join(void) {
  if (!g_posted) return;
  g_posted = 0;
  const int64_t nchunks = g_nchunks;
  drain(0);
  for (int i = LR_SPIN; i > 0 && atomic_load(&g_finished) < nchunks; i--) LR_PAUSE();
  pthread_mutex_lock(&g_mu);
  while (atomic_load(&g_finished) < nchunks) pthread_cond_wait(&g_done, &g_mu);
  pthread_mutex_unlock(&g_mu);
  g_in_job = 0;
}

void lr_pool_run(int64_t nchunks, lr_chunk_fn fn, void *ctx) {
  if (g_in_job) { /* nested, or a job posted and not joined: inline on this thread */
    for (int64_t c = 0; c < nchunks; c++) fn(ctx, c, 0);
    return;
  }
  lr_pool_post(nchunks, fn, ctx);
  lr_pool_join();
}

int64_t lr_pool_chunk(int64_t n, int64_t min, int64_t align, int per_thread) {
  const int t = lr_pool_threads();
  if (t <= 1 || n <= min) return n > 0 ? n : 1;
  int64_t c = (n + (int64_t)t * per_thread - 1) / ((int64_t)t * per_thread);
  if (c < min) c = min;
  if (align > 1) c = (c + align - 1) / align * align;
  return c < n ? c : n;
}
