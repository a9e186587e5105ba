/*
 * A STREAM-like read-bandwidth probe: the rate at which this machine's cores can read memory that is not
 * in any cache, the ceiling of a decode step (which reads every weight once). The benches report decode as
 * a share of it.
 */
#ifndef LORAROUTE_STREAM_H
#define LORAROUTE_STREAM_H

#include <stdint.h>

/* GB/s (1e9 bytes) reading `bytes` (rounded down to 64 KB blocks) `passes` times, best pass, on one thread
 * (threads == 1) or on the whole pool (threads == 0). Returns -1 when out of memory. */
double lr_read_bandwidth(int64_t bytes, int passes, int threads);

#endif
