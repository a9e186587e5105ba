/*
 * Sampling a decode step's tokens from their logits (temperature, top-k, top-p), each row with its own
 * settings and its own uniform draw: the arithmetic of src/model/sampling.ts's sampleToken, with the
 * softmax's terms in float (vectorised exp) where it sums over the whole vocabulary.
 */
#ifndef LORAROUTE_SAMPLE_H
#define LORAROUTE_SAMPLE_H

#include <stdint.h>

/* One row: temperature > 0, k best tokens kept (0 or >= V: all), nucleus mass p (>= 1: off), the draw in [0, 1). */
typedef struct {
  double temperature;
  int32_t top_k;
  double top_p;
  double draw;
} lr_sample_row;

/* out[r] = the token row r of logits [rows, V] draws (V >= 1); a row whose softmax is not a positive
 * finite sum (NaN or +Infinity logits, every logit -Infinity) gets its argmax. Returns 0, or -1 if out of
 * memory. */
int lr_sample_rows(int32_t *out, const float *logits, const lr_sample_row *rows, int64_t nrows, int64_t V);

#endif
