/** Token choice from a row of logits: greedy, or temperature / top-k / top-p sampling with a seeded RNG. */

export interface SamplingOptions {
  /** 0 (or greedy) = argmax. */
  temperature?: number;
  greedy?: boolean;
  /** Keep the k most likely tokens (0 = all). */
  topK?: number;
  /** Keep the smallest set whose probability reaches p (1 = all). */
  topP?: number;
}

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

export function isGreedy(o: SamplingOptions): boolean {
  return o.greedy === true || o.temperature === undefined || o.temperature <= 0;
}

/** Picks the next token from logits [V]. */
export function sampleToken(logits: Float32Array, o: SamplingOptions, rng: () => number): number {
  if (isGreedy(o)) return argmax(logits);
  const T = o.temperature as number;
  const V = logits.length;
  let idx = Array.from({ length: V }, (_, i) => i);
  idx.sort((a, b) => logits[b] - logits[a]);
  const k = o.topK && o.topK > 0 ? Math.min(o.topK, V) : V;
  idx = idx.slice(0, k);
  const max = logits[idx[0]];
  const p = idx.map((i) => Math.exp((logits[i] - max) / T));
  const sum = p.reduce((a, b) => a + b, 0);
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  let n = p.length;
  const topP = o.topP ?? 1;
  if (topP < 1) {
    let c = 0;
    for (let i = 0; i < p.length; i++) {
      c += p[i];
      if (c >= topP) { n = i + 1; break; }
    }
  }
  let mass = 0;
  for (let i = 0; i < n; i++) mass += p[i];
  let r = rng() * mass;
  for (let i = 0; i < n; i++) {
    r -= p[i];
    if (r <= 0) return idx[i];
  }
  return idx[n - 1];
}
