import { check } from '../errors.js';

/**
 * One AdamW step (decoupled weight decay, bias-corrected moments, PyTorch's torch.optim.AdamW update) over
 * every element of params, in place. step is 1-based. Decay multiplies params by (1 - lr·wd) before the
 * Adam update, as PyTorch does.
 */
export function adamwStep(
  params: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array,
  lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number,
): void {
  const n = params.length;
  check(grads.length === n && m.length === n && v.length === n, `adamw: params ${n}, grads ${grads.length}, m ${m.length}, v ${v.length} must match`);
  check(Number.isInteger(step) && step >= 1, `adamw: step must be an integer >= 1, got ${step}`);
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  const decay = 1 - lr * weightDecay;
  for (let i = 0; i < n; i++) {
    const g = grads[i];
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = params[i] * decay - (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
  }
}

/** L2 norm of grads; when it exceeds maxNorm, scales grads down to maxNorm in place. Returns the norm before clipping. */
export function clipGradNorm(grads: Float32Array, maxNorm: number): number {
  let s = 0;
  for (let i = 0; i < grads.length; i++) s += grads[i] * grads[i];
  const norm = Math.sqrt(s);
  if (maxNorm > 0 && norm > maxNorm) {
    const f = maxNorm / (norm + 1e-6);
    for (let i = 0; i < grads.length; i++) grads[i] *= f;
  }
  return norm;
}

export interface AdamWOptions {
  lr: number;
  beta1?: number; // default 0.9
  beta2?: number; // default 0.999
  eps?: number; // default 1e-8
  weightDecay?: number; // default 0.01 (PyTorch's AdamW default)
  /** Only params[0 .. decayCount) take weight decay (e.g. RouterMLP.decayCount: weights yes, biases no). Default: all. */
  decayCount?: number;
}

/** AdamW state for one flat parameter buffer: moments plus the step count (saved for resume). */
export class AdamW {
  readonly m: Float32Array;
  readonly v: Float32Array;
  step = 0;
  readonly opts: Required<AdamWOptions>;

  constructor(readonly size: number, opts: AdamWOptions) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
    this.opts = {
      lr: opts.lr, beta1: opts.beta1 ?? 0.9, beta2: opts.beta2 ?? 0.999, eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0.01, decayCount: opts.decayCount ?? size,
    };
    check(this.opts.decayCount >= 0 && this.opts.decayCount <= size, `adamw: decayCount ${this.opts.decayCount} outside [0, ${size}]`);
  }

  /** One update of params from grads, at learning rate lr (default opts.lr, e.g. from a schedule). */
  update(params: Float32Array, grads: Float32Array, lr = this.opts.lr): void {
    check(params.length === this.size && grads.length === this.size, `adamw: expected ${this.size} params and grads, got ${params.length} and ${grads.length}`);
    this.step++;
    const { beta1, beta2, eps, weightDecay, decayCount: d } = this.opts;
    adamwStep(params.subarray(0, d), grads.subarray(0, d), this.m.subarray(0, d), this.v.subarray(0, d), lr, beta1, beta2, eps, weightDecay, this.step);
    if (d < this.size) {
      adamwStep(params.subarray(d), grads.subarray(d), this.m.subarray(d), this.v.subarray(d), lr, beta1, beta2, eps, 0, this.step);
    }
  }
}
