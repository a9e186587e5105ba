import type { Backend, F32 } from '../tensor/backend.js';

/** A named parameter buffer with its gradient buffer (same length). */
export interface ParamGroup {
  name: string;
  params: F32;
  grads: F32;
  /** Multiplies the scheduled learning rate (e.g. a separate rate for the router). */
  lrScale?: number;
  weightDecay?: number;
}

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay: number;
}

/** AdamW (PyTorch semantics: decoupled weight decay, bias correction) over several parameter groups. */
export class AdamW {
  step = 0;
  readonly m: F32[];
  readonly v: F32[];
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;

  constructor(readonly groups: ParamGroup[], readonly backend: Backend, readonly opts: AdamWOptions) {
    this.m = groups.map((g) => new Float32Array(g.params.length));
    this.v = groups.map((g) => new Float32Array(g.params.length));
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
  }

  /** Applies one update with learning rate `lr` and clears the gradients. */
  update(lr: number): void {
    this.step++;
    this.groups.forEach((g, i) => {
      const rate = lr * (g.lrScale ?? 1);
      this.backend.adamw(g.params, g.grads, this.m[i], this.v[i], g.params.length, rate, this.beta1, this.beta2, this.eps, g.weightDecay ?? this.opts.weightDecay, this.step);
      g.grads.fill(0);
    });
  }

  zeroGrads(): void {
    for (const g of this.groups) g.grads.fill(0);
  }

  /** Global L2 norm of all gradients; scales them down to `maxNorm` when above it (0 = no clipping). */
  clipGradNorm(maxNorm: number): number {
    let sq = 0;
    for (const g of this.groups) sq += this.backend.sumSquares(g.grads, g.grads.length);
    const norm = Math.sqrt(sq);
    if (maxNorm > 0 && norm > maxNorm) {
      const s = maxNorm / (norm + 1e-6);
      for (const g of this.groups) this.backend.scale(g.grads, s, g.grads.length);
    }
    return norm;
  }
}
