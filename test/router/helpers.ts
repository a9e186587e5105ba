import { mulberry32 } from '../../src/eval/stats.js';

/** Seeded normal(0, 1) samples as a Float32Array. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}

/**
 * Central finite difference of f() w.r.t. buf[i] (a Float32 entry), using the step that float32 actually
 * represents. Restores buf[i].
 */
export function fdAt(buf: Float32Array, i: number, f: () => number, eps = 1e-2): number {
  const orig = buf[i];
  buf[i] = orig + eps;
  const up = buf[i];
  const fp = f();
  buf[i] = orig - eps;
  const down = buf[i];
  const fm = f();
  buf[i] = orig;
  return (fp - fm) / (up - down);
}

/** Max over i of |fd - an| / (atol + rtol·|an|); ≤ 1 passes. Returns the worst ratio and its index. */
export function worstRatio(fd: ArrayLike<number>, an: ArrayLike<number>, atol: number, rtol: number): { ratio: number; at: number } {
  let ratio = 0;
  let at = -1;
  for (let i = 0; i < fd.length; i++) {
    const r = Math.abs(fd[i] - an[i]) / (atol + rtol * Math.abs(an[i]));
    if (r > ratio) {
      ratio = r;
      at = i;
    }
  }
  return { ratio, at };
}
