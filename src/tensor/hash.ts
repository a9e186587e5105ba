/**
 * Counter-based uniform numbers shared by every backend (the C and WGSL versions use the same integer
 * steps), so a dropout mask depends only on (seed, index) and not on the backend or the thread layout.
 */
export function hashUniform(seed: number, index: number): number {
  let x = (Math.imul(seed >>> 0, 0x9e3779b9) + (index >>> 0)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return (x >>> 8) / 16777216; // 24 bits -> [0, 1)
}
