import { check } from '../errors.js';

/** Below this a column is treated as constant: its std is stored as 1 so it maps to 0 instead of ±huge. */
const MIN_STD = 1e-6;

/** Plain-JSON form of a normaliser (stored inside router.json). */
export interface NormalizerJSON {
  mean: number[];
  std: number[];
}

/**
 * Per-column standardisation `(x - mean) / std` of router inputs, fitted on the training rows and saved with
 * the router so inference sees the same scale. It covers the whole input row (features and, when used, the
 * pooled hidden state).
 */
export class FeatureNormalizer {
  constructor(readonly mean: Float32Array, readonly std: Float32Array) {
    check(mean.length === std.length, `normaliser: mean has ${mean.length} values but std has ${std.length}`);
    for (let i = 0; i < std.length; i++) {
      check(Number.isFinite(mean[i]) && Number.isFinite(std[i]) && std[i] > 0, `normaliser: column ${i} has mean ${mean[i]}, std ${std[i]} (need finite, std > 0)`);
    }
  }

  get dim(): number {
    return this.mean.length;
  }

  /** Identity normaliser (mean 0, std 1). */
  static identity(dim: number): FeatureNormalizer {
    return new FeatureNormalizer(new Float32Array(dim), new Float32Array(dim).fill(1));
  }

  /** Fits mean and population std per column of x [N, dim] (two-pass, in doubles). */
  static fit(x: Float32Array, N: number, dim: number): FeatureNormalizer {
    check(N > 0 && x.length === N * dim, `normaliser fit: got ${x.length} values, expected N*dim = ${N}*${dim}`);
    const mean = new Float64Array(dim);
    for (let n = 0; n < N; n++) for (let i = 0; i < dim; i++) mean[i] += x[n * dim + i];
    for (let i = 0; i < dim; i++) mean[i] /= N;
    const v = new Float64Array(dim);
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < dim; i++) {
        const d = x[n * dim + i] - mean[i];
        v[i] += d * d;
      }
    }
    const std = new Float32Array(dim);
    for (let i = 0; i < dim; i++) {
      check(Number.isFinite(mean[i]) && Number.isFinite(v[i]), `normaliser fit: column ${i} has a non-finite value`);
      const s = Math.sqrt(v[i] / N);
      std[i] = s < MIN_STD ? 1 : s;
    }
    return new FeatureNormalizer(Float32Array.from(mean), std);
  }

  /** Returns a new [N, dim] array of standardised rows. */
  apply(x: Float32Array, N: number): Float32Array {
    const out = new Float32Array(x.length);
    this.applyInto(out, x, N);
    return out;
  }

  /** out[N, dim] = (x - mean) / std (out may alias x). */
  applyInto(out: Float32Array, x: Float32Array, N: number): void {
    const d = this.dim;
    check(x.length === N * d && out.length === N * d, `normaliser: got ${x.length} values, expected N*dim = ${N}*${d}`);
    for (let n = 0; n < N; n++) for (let i = 0; i < d; i++) out[n * d + i] = (x[n * d + i] - this.mean[i]) / this.std[i];
  }

  /** Gradient through the standardisation: dRaw = dNorm / std, [N, dim]. */
  backward(dNorm: Float32Array, N: number): Float32Array {
    const d = this.dim;
    check(dNorm.length === N * d, `normaliser backward: got ${dNorm.length} values, expected ${N * d}`);
    const out = new Float32Array(dNorm.length);
    for (let n = 0; n < N; n++) for (let i = 0; i < d; i++) out[n * d + i] = dNorm[n * d + i] / this.std[i];
    return out;
  }

  toJSON(): NormalizerJSON {
    return { mean: Array.from(this.mean), std: Array.from(this.std) };
  }

  static fromJSON(j: NormalizerJSON, where = 'normaliser'): FeatureNormalizer {
    check(j && Array.isArray(j.mean) && Array.isArray(j.std), `${where}: expected {"mean": number[], "std": number[]}`);
    check(j.mean.every((v) => typeof v === 'number') && j.std.every((v) => typeof v === 'number'), `${where}: mean and std must hold numbers only`);
    return new FeatureNormalizer(Float32Array.from(j.mean), Float32Array.from(j.std));
  }
}

/**
 * Concatenates features [B, F] and an optional pooled hidden state [B, H] into one router input row [B, F+H].
 */
export function concatRouterInput(features: Float32Array, F: number, pooled: Float32Array | null, H: number, B: number): Float32Array {
  check(features.length === B * F, `router input: features have ${features.length} values, expected B*F = ${B}*${F}`);
  if (!pooled || H === 0) return features.slice();
  check(pooled.length === B * H, `router input: pooled hidden state has ${pooled.length} values, expected B*H = ${B}*${H}`);
  const D = F + H;
  const out = new Float32Array(B * D); // [B, F+H]
  for (let b = 0; b < B; b++) {
    out.set(features.subarray(b * F, (b + 1) * F), b * D);
    out.set(pooled.subarray(b * H, (b + 1) * H), b * D + F);
  }
  return out;
}
