import { existsSync } from 'node:fs';
import { readUserJson } from '../io/user-file.js';
import { join } from 'node:path';
import { LoraRouteError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { mulberry32 } from '../eval/stats.js';

/**
 * Content clusters for expert groups (c-BTM): balanced spherical k-means on the base model's mean-pooled
 * prompt states. Rows are centred on the training mean and scaled to unit length, so distance is cosine.
 * Inference sends a prompt to the nearest centroid (the "cluster rule", the analogue of the tier rule).
 */
export interface Clusters {
  /** [D] training mean subtracted before normalising. */
  mean: Float32Array;
  /** [K, D] unit-length centroids. */
  centroids: Float32Array;
  K: number;
  D: number;
}

/** Centres rows on `mean` and scales each to unit length: [N, D] → [N, D]. */
function normalizeRows(x: Float32Array, N: number, D: number, mean: Float32Array): Float32Array {
  const out = new Float32Array(N * D);
  for (let i = 0; i < N; i++) {
    let s = 0;
    for (let d = 0; d < D; d++) {
      const v = x[i * D + d] - mean[d];
      out[i * D + d] = v;
      s += v * v;
    }
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let d = 0; d < D; d++) out[i * D + d] *= inv;
  }
  return out;
}

/** Cosine similarity of every row with every centroid: [N, K]. */
function similarities(u: Float32Array, N: number, c: Clusters): Float32Array {
  const { K, D } = c;
  const sim = new Float32Array(N * K);
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += u[i * D + d] * c.centroids[k * D + d];
      sim[i * K + k] = s;
    }
  }
  return sim;
}

/**
 * Assignment with every cluster holding at most ceil(N / K) rows: pairs (row, cluster) are taken in order of
 * decreasing similarity, each row once, each cluster until full (a greedy solution of the balanced problem).
 */
export function balancedAssign(sim: Float32Array, N: number, K: number): Int32Array {
  const cap = Math.ceil(N / K);
  const order = Array.from({ length: N * K }, (_, j) => j).sort((a, b) => sim[b] - sim[a] || a - b);
  const label = new Int32Array(N).fill(-1);
  const size = new Int32Array(K);
  for (const j of order) {
    const i = Math.floor(j / K), k = j % K;
    if (label[i] !== -1 || size[k] >= cap) continue;
    label[i] = k;
    size[k]++;
  }
  return label;
}

/** Fits balanced spherical k-means on x [N, D]: k-means++ seeding from `seed`, then `iterations` rounds. */
export function fitClusters(x: Float32Array, N: number, D: number, K: number, seed: number, iterations = 20): { clusters: Clusters; labels: Int32Array } {
  if (N < K) throw new LoraRouteError(`clustering: ${N} training examples for ${K} clusters (model.num_experts); need at least one per cluster`);
  const mean = new Float32Array(D);
  for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) mean[d] += x[i * D + d] / N;
  const u = normalizeRows(x, N, D, mean);
  const rand = mulberry32(seed >>> 0);
  const centroids = new Float32Array(K * D);
  // k-means++: the next seed with probability ∝ (1 - best similarity so far)
  const first = Math.floor(rand() * N);
  centroids.set(u.subarray(first * D, (first + 1) * D), 0);
  const far = new Float64Array(N).fill(Infinity);
  for (let k = 1; k < K; k++) {
    let total = 0;
    for (let i = 0; i < N; i++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += u[i * D + d] * centroids[(k - 1) * D + d];
      far[i] = Math.min(far[i], Math.max(0, 1 - s));
      total += far[i];
    }
    let r = rand() * total, pick = N - 1;
    for (let i = 0; i < N; i++) { r -= far[i]; if (r <= 0) { pick = i; break; } }
    centroids.set(u.subarray(pick * D, (pick + 1) * D), k * D);
  }
  const clusters: Clusters = { mean, centroids, K, D };
  let labels: Int32Array = new Int32Array(N);
  for (let it = 0; it < iterations; it++) {
    const next = balancedAssign(similarities(u, N, clusters), N, K);
    const moved = next.some((v, i) => v !== labels[i]);
    labels = next;
    centroids.fill(0);
    for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) centroids[labels[i] * D + d] += u[i * D + d];
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += centroids[k * D + d] ** 2;
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let d = 0; d < D; d++) centroids[k * D + d] *= inv;
    }
    if (!moved && it > 0) break;
  }
  return { clusters, labels };
}

/** The nearest centroid of each row of x [N, D] (no balance constraint: the inference rule). */
export function nearestCluster(c: Clusters, x: Float32Array, N: number): Int32Array {
  const sim = similarities(normalizeRows(x, N, c.D, c.mean), N, c);
  return Int32Array.from({ length: N }, (_, i) => {
    let best = 0;
    for (let k = 1; k < c.K; k++) if (sim[i * c.K + k] > sim[i * c.K + best]) best = k;
    return best;
  });
}

export const CLUSTERS_FILE = 'clusters.json';

export function saveClusters(dir: string, c: Clusters): void {
  writeFileAtomic(join(dir, CLUSTERS_FILE), JSON.stringify({ K: c.K, D: c.D, mean: Array.from(c.mean), centroids: Array.from(c.centroids) }) + '\n');
}

/** The clusters of a model folder, or null when it has none. Sizes are checked against each other before use. */
export function loadClusters(dir: string, expectedK: number): Clusters | null {
  const file = join(dir, CLUSTERS_FILE);
  if (!existsSync(file)) return null;
  const j = readUserJson(file, 'cluster centroids') as { K?: unknown; D?: unknown; mean?: unknown; centroids?: unknown };
  if (typeof j !== 'object' || j === null) throw new LoraRouteError(`${file}: expected a JSON object {"K", "D", "mean", "centroids"}`);
  const K = j.K, D = j.D;
  const ok = Number.isInteger(K) && K === expectedK && Number.isInteger(D) && (D as number) > 0 && (D as number) <= 65536 &&
    Array.isArray(j.mean) && j.mean.length === D && Array.isArray(j.centroids) && j.centroids.length === (K as number) * (D as number) &&
    [...j.mean, ...j.centroids].every((v) => typeof v === 'number' && Number.isFinite(v));
  if (!ok) throw new LoraRouteError(`${file}: expected {"K": ${expectedK}, "D": n, "mean": [n finite numbers], "centroids": [K*n finite numbers]}`);
  return { K: K as number, D: D as number, mean: Float32Array.from(j.mean as number[]), centroids: Float32Array.from(j.centroids as number[]) };
}
