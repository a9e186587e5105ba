/**
 * Learning-rate schedule: linear warm-up from 0 to the peak, then cosine or linear decay that reaches
 * `minRatio * peak` exactly at the last step and never earlier (the original system's schedule hit zero
 * long before training ended, so its later steps learned nothing).
 */
export interface ScheduleOptions {
  peak: number;
  warmupSteps: number;
  totalSteps: number;
  kind: 'cosine' | 'linear' | 'constant';
  minRatio: number;
}

/** The rate for optimiser step `step` (1-based). */
export function learningRateAt(step: number, o: ScheduleOptions): number {
  // warm-up cannot take more than the whole run
  const warmup = Math.min(o.warmupSteps, Math.max(0, o.totalSteps - 1));
  if (warmup > 0 && step <= warmup) return (o.peak * step) / warmup;
  if (o.kind === 'constant') return o.peak;
  const span = Math.max(1, o.totalSteps - warmup);
  const progress = Math.min(1, Math.max(0, (step - warmup) / span));
  const floor = o.peak * o.minRatio;
  const shape = o.kind === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return floor + (o.peak - floor) * shape;
}
