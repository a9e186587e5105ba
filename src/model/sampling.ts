/** Token choice from a row of logits: greedy, or temperature / top-k / top-p sampling with a seeded RNG. */
import type { Backend } from '../tensor/backend.js';
import { argmaxRange } from '../tensor/reference.js';

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

/** Index of the largest value (the first of equal ones; NaN is never larger, so 0 when x[0] is NaN). */
export function argmax(x: Float32Array): number {
  return argmaxRange(x, 0, x.length);
}

export function isGreedy(o: SamplingOptions): boolean {
  return o.greedy === true || o.temperature === undefined || o.temperature <= 0;
}

/** Token a ranks before token b: larger logit first, then smaller id (the order of a stable sort). */
function before(logits: Float32Array, a: number, b: number): boolean {
  return logits[a] > logits[b] || (logits[a] === logits[b] && a < b);
}

/**
 * The k best token ids, best first (k < V), without sorting the vocabulary: a min-heap of the k best seen
 * so far (most tokens fail the one comparison with its root), then a sort of those k. O(V + k log k) typical.
 */
export function topKIds(logits: Float32Array, k: number): Int32Array {
  const heap = new Int32Array(k); // heap[0] is the worst of the kept ones
  const worse = (a: number, b: number) => before(logits, b, a);
  const siftDown = (i: number, n: number) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < n && worse(heap[l], heap[m])) m = l;
      if (r < n && worse(heap[r], heap[m])) m = r;
      if (m === i) return;
      const t = heap[i]; heap[i] = heap[m]; heap[m] = t;
      i = m;
    }
  };
  for (let i = 0; i < k; i++) heap[i] = i;
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i, k);
  // a later id ranks before the root only by a strictly larger logit (ties go to the smaller id)
  let worst = logits[heap[0]];
  for (let i = k; i < logits.length; i++) {
    if (logits[i] > worst) {
      heap[0] = i;
      siftDown(0, k);
      worst = logits[heap[0]];
    }
  }
  return heap.sort((a, b) => (before(logits, a, b) ? -1 : 1));
}

/** Token ids in rank order on demand: a max-heap over the whole vocabulary, built in O(V), popped lazily. */
class RankedIds {
  private readonly heap: Int32Array;
  private n: number;
  constructor(private readonly logits: Float32Array) {
    this.n = logits.length;
    this.heap = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) this.heap[i] = i;
    for (let i = (this.n >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }
  private siftDown(i: number): void {
    const { heap, logits } = this;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < this.n && before(logits, heap[l], heap[m])) m = l;
      if (r < this.n && before(logits, heap[r], heap[m])) m = r;
      if (m === i) return;
      const t = heap[i]; heap[i] = heap[m]; heap[m] = t;
      i = m;
    }
  }
  /** the next best id, or -1 when all were taken */
  next(): number {
    if (this.n === 0) return -1;
    const top = this.heap[0];
    this.heap[0] = this.heap[--this.n];
    this.siftDown(0);
    return top;
  }
}

/**
 * Picks the next token from logits [V]. Temperature, then top-k, then top-p (the smallest set of best
 * tokens whose probability reaches p), renormalised; one uniform draw walks the kept tokens best first.
 * The vocabulary is never sorted: top-k selects its k with a heap, and top-p / plain temperature take
 * tokens best first from a lazily popped heap only until the draw (or p) is reached. The token drawn for
 * a given rng value is the one a full sort would give (the sum of probabilities over the whole
 * vocabulary, when there is no top-k, is added in id order instead of rank order: a rounding difference).
 */
export function sampleToken(logits: Float32Array, o: SamplingOptions, rng: () => number): number {
  if (isGreedy(o)) return argmax(logits);
  const T = o.temperature as number;
  const V = logits.length;
  const k = o.topK && o.topK > 0 ? Math.min(o.topK, V) : V;
  const topP = o.topP ?? 1;
  if (k < V) {
    const idx = topKIds(logits, k);
    const max = logits[idx[0]];
    const p = new Float64Array(k);
    let sum = 0;
    for (let i = 0; i < k; i++) sum += (p[i] = Math.exp((logits[idx[i]] - max) / T));
    for (let i = 0; i < k; i++) p[i] /= sum;
    return drawRanked(p, k, topP, rng, (i) => idx[i]);
  }
  // no top-k: probabilities over the whole vocabulary, ranks taken lazily
  const max = logits[argmax(logits)];
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp((logits[i] - max) / T);
  const ranked = new RankedIds(logits);
  const ids: number[] = [];
  const p: number[] = [];
  const take = (): boolean => {
    const id = ranked.next();
    if (id < 0) return false;
    ids.push(id);
    p.push(Math.exp((logits[id] - max) / T) / sum);
    return true;
  };
  let mass = 0;
  if (topP < 1) { // take until the kept set reaches p: that set is all the draw may pick from
    while (take()) {
      mass += p[p.length - 1];
      if (mass >= topP) break;
    }
    return drawRanked(p, p.length, 1, rng, (i) => ids[i], mass);
  }
  // all tokens may be drawn: walk best first until the draw is used up (mass is 1 up to rounding)
  let r = rng();
  for (let i = 0; ; i++) {
    if (i === ids.length && !take()) return ids[ids.length - 1];
    r -= p[i];
    if (r <= 0) return ids[i];
  }
}

/**
 * A sampled row's token for one uniform draw (Backend.sampleRows's definition): sampleToken with a stream
 * that gives `draw` (it takes exactly one per token), except that a row with a NaN logit, or whose largest
 * logit is not finite, gets its argmax.
 */
export function sampleWithDraw(logits: Float32Array, o: SamplingOptions, draw: number): number {
  const best = argmax(logits);
  if (!Number.isFinite(logits[best]) || logits.some(Number.isNaN)) return best;
  return sampleToken(logits, o, () => draw);
}

/** How one row of a batch picks its token: its settings and its own random stream. */
export interface RowSampler {
  sampling: SamplingOptions;
  rng: () => number;
}

/**
 * Tokens of a batch's rows from their logits [rows, V] (rows = samplers.length), row r picked by samplers[r]
 * (null: the row needs no token; its entry is then meaningless). The greedy rows get theirs from one
 * backend.argmaxRows call, the sampled ones from one backend.sampleRows call with one draw from each row's
 * stream (in row order): a row's token does not depend on the rows beside it. On the reference backend it
 * is the token sampleToken gives that row alone.
 */
export function sampleRows(backend: Pick<Backend, 'argmaxRows' | 'sampleRows'>, logits: Float32Array, V: number, samplers: readonly (RowSampler | null)[]): Int32Array {
  const rows = samplers.length;
  const out = new Int32Array(rows);
  if (samplers.some((s) => s !== null && isGreedy(s.sampling))) backend.argmaxRows(out, logits, rows, V);
  const sampled = samplers.flatMap((s, r) => (s && !isGreedy(s.sampling) ? [r] : []));
  const n = sampled.length;
  if (n === 0) return out;
  const x = n === rows ? logits : new Float32Array(n * V); // [n, V]: the sampled rows
  if (x !== logits) sampled.forEach((r, i) => x.set(logits.subarray(r * V, (r + 1) * V), i * V));
  const temps = new Float64Array(n), topKs = new Int32Array(n), topPs = new Float64Array(n), draws = new Float64Array(n);
  sampled.forEach((r, i) => {
    const s = samplers[r] as RowSampler;
    temps[i] = s.sampling.temperature as number;
    topKs[i] = Math.min(s.sampling.topK ?? 0, V); // k >= V keeps every token (and fits an Int32Array)
    topPs[i] = s.sampling.topP ?? 1;
    draws[i] = s.rng();
  });
  const tokens = new Int32Array(n);
  backend.sampleRows(tokens, x, n, V, temps, topKs, topPs, draws);
  sampled.forEach((r, i) => { out[r] = tokens[i]; });
  return out;
}

/** Draws from the first n (of `count`, best first) probabilities p, cut at topP and renormalised. */
function drawRanked(p: ArrayLike<number>, count: number, topP: number, rng: () => number, id: (i: number) => number, knownMass?: number): number {
  let n = count;
  if (topP < 1) {
    let c = 0;
    for (let i = 0; i < count; i++) {
      c += p[i];
      if (c >= topP) { n = i + 1; break; }
    }
  }
  let mass = knownMass ?? 0;
  if (knownMass === undefined) for (let i = 0; i < n; i++) mass += p[i];
  let r = rng() * mass;
  for (let i = 0; i < n; i++) {
    r -= p[i];
    if (r <= 0) return id(i);
  }
  return id(n - 1);
}
