import { LoraRouteError } from '../errors.js';
import type { LoraAdapter } from './adapter.js';

/**
 * Experts that share one A per module and keep their own B (HydraLoRA), on ordinary adapters: the first
 * adapter owns the shared A. Its gradient is the sum of every adapter's dL/dA (the gradient of the one tied
 * matrix), the others' A gradients are zeroed, and the owner's A is copied to the others before each use, so
 * the saved adapters are plain PEFT files with equal A.
 */
export class SharedA {
  constructor(private readonly adapters: LoraAdapter[]) {
    if (adapters.length === 0) throw new LoraRouteError('shared A: no adapters');
    const n = adapters[0].sites.length;
    for (const a of adapters) {
      if (a.sites.length !== n || a.sites.some((s, i) => s.A.length !== adapters[0].sites[i].A.length)) {
        throw new LoraRouteError(`shared A: adapter "${a.name}" has another layout than "${adapters[0].name}"`);
      }
    }
  }

  /** Starts the tie: every A becomes the element-wise mean of the adapters' A (a no-op when they are equal). */
  tie(): void {
    const [owner] = this.adapters;
    owner.sites.forEach((s, i) => {
      for (let j = 0; j < s.A.length; j++) {
        let sum = 0;
        for (const a of this.adapters) sum += a.sites[i].A[j];
        s.A[j] = sum / this.adapters.length;
      }
    });
    this.sync();
  }

  /** Copies the owner's A into every other adapter. */
  sync(): void {
    const [owner, ...rest] = this.adapters;
    for (const a of rest) a.sites.forEach((s, i) => s.A.set(owner.sites[i].A));
  }

  /** Moves the accumulated A gradients to the owner (summed) and zeroes the others'. */
  gatherGrads(): void {
    const [owner, ...rest] = this.adapters;
    for (const a of rest) {
      a.sites.forEach((s, i) => {
        const g = owner.sites[i].gradA;
        for (let j = 0; j < g.length; j++) g[j] += s.gradA[j];
        s.gradA.fill(0);
      });
    }
  }
}
