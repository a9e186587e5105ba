/**
 * The oracle the shared suite compares every backend with (the reference backend included): each op of
 * src/tensor/backend.ts written again from its definition, independently of src/tensor/reference.ts, as
 * plain loops in float64. Every output is computed whole into float64 temporaries from the inputs and only
 * then stored (rounded once to float32), so aliasing outputs and inputs cannot change it. Slow and simple
 * on purpose; it is test code only.
 */
import type { Backend, F32, I32, KVBuffer, MatmulOptions } from '../../src/tensor/backend.js';
import { hashUniform } from '../../src/tensor/hash.js';
import { sampleWithDraw } from '../../src/model/sampling.js';

/** PyTorch's torch.optim.AdamW step (foreach=False), in float64, on float64 state. */
export function adamw64(
  p: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array,
  lr: number, b1: number, b2: number, eps: number, wd: number, step: number,
): void {
  const bc1 = 1 - b1 ** step;
  const bc2 = 1 - b2 ** step;
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * wd;
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    const denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + eps;
    p[i] -= (lr / bc1) * (m[i] / denom);
  }
}

/** The dropout factor of element `index`: 0 when hashUniform(seed, index) < p, else 1/(1-p) (1 when p = 0). */
function dropFactor(p: number, seed: number, index: number): number {
  if (!(p > 0)) return 1;
  return hashUniform(seed, index) < p ? 0 : 1 / (1 - p);
}

/** GPT-2's gelu_new and its derivative, from the formula 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}
function geluNewGrad(x: number): number {
  const c = Math.sqrt(2 / Math.PI);
  const t = Math.tanh(c * (x + 0.044715 * x ** 3));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
}

function store(dst: F32, src: ArrayLike<number>, at = 0): void {
  for (let i = 0; i < src.length; i++) dst[at + i] = src[i];
}

/**
 * Causal attention of one query over keys 0..last: probabilities p[s] (0 for masked keys, all 0 when
 * every key is masked) from the dot products `score(s)` scaled by 1/sqrt(hs).
 */
function causalSoftmax(last: number, live: (s: number) => boolean, score: (s: number) => number): Float64Array {
  const p = new Float64Array(last + 1);
  let max = -Infinity;
  for (let s = 0; s <= last; s++) if (live(s)) max = Math.max(max, score(s));
  if (max === -Infinity) return p;
  let sum = 0;
  for (let s = 0; s <= last; s++) {
    p[s] = live(s) ? Math.exp(score(s) - max) : 0;
    sum += p[s];
  }
  for (let s = 0; s <= last; s++) p[s] /= sum;
  return p;
}

export class Float64Oracle implements Backend {
  readonly name = 'oracle';

  matmul(out: F32, a: F32, b: F32, M: number, N: number, K: number, opts: MatmulOptions = {}): void {
    const { transA = false, transB = false, alpha = 1, beta = 0 } = opts;
    const A = (i: number, k: number): number => (transA ? a[k * M + i] : a[i * K + k]);
    const Bm = (k: number, j: number): number => (transB ? b[j * K + k] : b[k * N + j]);
    const res = new Float64Array(M * N);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A(i, k) * Bm(k, j);
        res[i * N + j] = alpha * s + (beta === 0 ? 0 : beta * out[i * N + j]); // beta = 0: out is not read
      }
    }
    store(out, res);
  }

  addBias(out: F32, bias: F32, M: number, N: number): void {
    store(out, Float64Array.from({ length: M * N }, (_, i) => out[i] + bias[i % N]));
  }

  biasBackward(dbias: F32, dout: F32, M: number, N: number, accumulate: boolean): void {
    const res = new Float64Array(N);
    for (let j = 0; j < N; j++) {
      res[j] = accumulate ? dbias[j] : 0;
      for (let i = 0; i < M; i++) res[j] += dout[i * N + j];
    }
    store(dbias, res);
  }

  add(out: F32, a: F32, b: F32, n: number): void {
    store(out, Float64Array.from({ length: n }, (_, i) => a[i] + b[i]));
  }

  axpy(y: F32, x: F32, alpha: number, n: number): void {
    store(y, Float64Array.from({ length: n }, (_, i) => y[i] + alpha * x[i]));
  }

  layernormForward(out: F32, mean: F32, rstd: F32, x: F32, weight: F32, bias: F32, N: number, C: number, eps: number): void {
    const res = new Float64Array(N * C);
    const mu = new Float64Array(N);
    const rs = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      const row = Array.from({ length: C }, (_, c) => x[i * C + c]);
      mu[i] = row.reduce((s, v) => s + v, 0) / C;
      const variance = row.reduce((s, v) => s + (v - mu[i]) ** 2, 0) / C; // biased, as torch.nn.LayerNorm
      rs[i] = 1 / Math.sqrt(variance + eps);
      for (let c = 0; c < C; c++) res[i * C + c] = (row[c] - mu[i]) * rs[i] * weight[c] + bias[c];
    }
    store(out, res);
    store(mean, mu);
    store(rstd, rs);
  }

  layernormBackward(
    dx: F32, dweight: F32 | null, dbias: F32 | null, dout: F32, x: F32, weight: F32, mean: F32, rstd: F32,
    N: number, C: number, accumulate: boolean,
  ): void {
    // y = xhat * w + b with xhat = (x - mean) * rstd:
    // dx = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat)) with g = dout * w
    const gx = new Float64Array(N * C);
    const gw = Float64Array.from({ length: C }, (_, c) => (dweight ? dweight[c] : 0)); // always accumulated
    const gb = Float64Array.from({ length: C }, (_, c) => (dbias ? dbias[c] : 0));
    for (let i = 0; i < N; i++) {
      const xhat = Array.from({ length: C }, (_, c) => (x[i * C + c] - mean[i]) * rstd[i]);
      const g = Array.from({ length: C }, (_, c) => dout[i * C + c] * weight[c]);
      const gMean = g.reduce((s, v) => s + v, 0) / C;
      const gxMean = g.reduce((s, v, c) => s + v * xhat[c], 0) / C;
      for (let c = 0; c < C; c++) {
        gx[i * C + c] = (accumulate ? dx[i * C + c] : 0) + rstd[i] * (g[c] - gMean - xhat[c] * gxMean);
        gw[c] += dout[i * C + c] * xhat[c];
        gb[c] += dout[i * C + c];
      }
    }
    store(dx, gx);
    if (dweight) store(dweight, gw);
    if (dbias) store(dbias, gb);
  }

  geluForward(out: F32, x: F32, n: number): void {
    store(out, Float64Array.from({ length: n }, (_, i) => geluNew(x[i])));
  }

  geluBackward(dx: F32, x: F32, dout: F32, n: number): void {
    store(dx, Float64Array.from({ length: n }, (_, i) => dout[i] * geluNewGrad(x[i])));
  }

  attentionForward(
    out: F32, att: F32, qkv: F32, keyMask: I32 | null, B: number, T: number, C: number, NH: number,
    dropoutP = 0, dropoutSeed = 0,
  ): void {
    const hs = C / NH;
    // q, k, v of head h at (b, t), element e: qkv[b, t, part * C + h * hs + e]
    const at = (part: number, b: number, t: number, h: number, e: number): number => qkv[(b * T + t) * 3 * C + part * C + h * hs + e];
    const o64 = new Float64Array(B * T * C);
    const a64 = new Float64Array(B * NH * T * T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        for (let t = 0; t < T; t++) {
          const live = (s: number): boolean => !keyMask || keyMask[b * T + s] !== 0;
          const score = (s: number): number => {
            let d = 0;
            for (let e = 0; e < hs; e++) d += at(0, b, t, h, e) * at(1, b, s, h, e);
            return d / Math.sqrt(hs);
          };
          const p = causalSoftmax(t, live, score);
          const row = ((b * NH + h) * T + t) * T;
          for (let s = 0; s <= t; s++) {
            a64[row + s] = p[s];
            const weight = p[s] * dropFactor(dropoutP, dropoutSeed, row + s);
            for (let e = 0; e < hs; e++) o64[(b * T + t) * C + h * hs + e] += weight * at(2, b, s, h, e);
          }
        }
      }
    }
    store(out, o64);
    store(att, a64);
  }

  attentionBackward(
    dqkv: F32, dout: F32, qkv: F32, att: F32, B: number, T: number, C: number, NH: number,
    dropoutP = 0, dropoutSeed = 0,
  ): void {
    const hs = C / NH;
    const idx = (part: number, b: number, t: number, h: number, e: number): number => (b * T + t) * 3 * C + part * C + h * hs + e;
    const g = new Float64Array(B * T * 3 * C);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        for (let t = 0; t < T; t++) {
          const row = ((b * NH + h) * T + t) * T;
          const dO = (e: number): number => dout[(b * T + t) * C + h * hs + e];
          // out_t = sum_s p_ts d_ts v_s:  dv_s += p_ts d_ts dout_t;  dp_ts = d_ts (dout_t . v_s)
          const dp = new Float64Array(t + 1);
          for (let s = 0; s <= t; s++) {
            const d = dropFactor(dropoutP, dropoutSeed, row + s);
            let dot = 0;
            for (let e = 0; e < hs; e++) {
              dot += dO(e) * qkv[idx(2, b, s, h, e)];
              g[idx(2, b, s, h, e)] += att[row + s] * d * dO(e);
            }
            dp[s] = d * dot;
          }
          // softmax: dscore_ts = p_ts (dp_ts - sum_s' p_ts' dp_ts');  score = q_t . k_s / sqrt(hs)
          let pdp = 0;
          for (let s = 0; s <= t; s++) pdp += att[row + s] * dp[s];
          for (let s = 0; s <= t; s++) {
            const ds = (att[row + s] * (dp[s] - pdp)) / Math.sqrt(hs);
            for (let e = 0; e < hs; e++) {
              g[idx(0, b, t, h, e)] += ds * qkv[idx(1, b, s, h, e)];
              g[idx(1, b, s, h, e)] += ds * qkv[idx(0, b, t, h, e)];
            }
          }
        }
      }
    }
    store(dqkv, g);
  }

  attentionCached(
    out: F32, qkv: F32, kCache: KVBuffer, vCache: KVBuffer, keyMask: I32 | null,
    past: number, B: number, Tq: number, C: number, NH: number, S: number,
  ): void {
    // fp16 caches are checked by giving the oracle their values as fp32 caches (half-cache.ts)
    if (!(kCache instanceof Float32Array && vCache instanceof Float32Array)) throw new Error('Float64Oracle.attentionCached takes fp32 caches');
    const hs = C / NH;
    const slot = (b: number, h: number, s: number, e: number): number => ((b * NH + h) * S + s) * hs + e;
    const q = (b: number, t: number, part: number, h: number, e: number): number => qkv[(b * Tq + t) * 3 * C + part * C + h * hs + e];
    // the caches after this call: the new keys and values in slots past .. past+Tq-1
    const k64 = Float64Array.from(kCache.subarray(0, B * NH * S * hs));
    const v64 = Float64Array.from(vCache.subarray(0, B * NH * S * hs));
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < Tq; t++) {
        for (let h = 0; h < NH; h++) {
          for (let e = 0; e < hs; e++) {
            k64[slot(b, h, past + t, e)] = q(b, t, 1, h, e);
            v64[slot(b, h, past + t, e)] = q(b, t, 2, h, e);
          }
        }
      }
    }
    const o64 = new Float64Array(B * Tq * C);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        for (let t = 0; t < Tq; t++) {
          const live = (s: number): boolean => !keyMask || keyMask[b * S + s] !== 0;
          const score = (s: number): number => {
            let d = 0;
            for (let e = 0; e < hs; e++) d += q(b, t, 0, h, e) * k64[slot(b, h, s, e)];
            return d / Math.sqrt(hs);
          };
          const p = causalSoftmax(past + t, live, score);
          for (let s = 0; s <= past + t; s++) {
            for (let e = 0; e < hs; e++) o64[(b * Tq + t) * C + h * hs + e] += p[s] * v64[slot(b, h, s, e)];
          }
        }
      }
    }
    store(out, o64);
    store(kCache, k64);
    store(vCache, v64);
  }

  /** Each row alone through this oracle's attentionCached (the op's definition). */
  attentionRows(
    out: F32, qkv: F32, kCaches: KVBuffer[], vCaches: KVBuffer[], keyMasks: (I32 | null)[], pasts: I32, B: number, C: number, NH: number,
  ): void {
    for (let b = 0; b < B; b++) {
      const S = kCaches[b].length / C;
      this.attentionCached(out.subarray(b * C, (b + 1) * C), qkv.subarray(b * 3 * C, (b + 1) * 3 * C), kCaches[b], vCaches[b], keyMasks[b], pasts[b], 1, 1, C, NH, S);
    }
  }

  loraRows(y: F32, x: F32, As: readonly (F32 | null)[], Bs: readonly (F32 | null)[], weights: F32, B: number, inDim: number, outDim: number): void {
    // in float64 throughout, each row's y rounded once
    const K = As.length;
    const res = Float64Array.from(y.subarray(0, B * outDim));
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < K; k++) {
        const A = As[k], Bk = Bs[k], w = weights[b * K + k];
        if (!A || !Bk || w === 0) continue;
        const r = A.length / inDim;
        for (let j = 0; j < r; j++) {
          let xa = 0;
          for (let i = 0; i < inDim; i++) xa += x[b * inDim + i] * A[j * inDim + i];
          for (let o = 0; o < outDim; o++) res[b * outDim + o] += w * xa * Bk[o * r + j];
        }
      }
    }
    store(y, res);
  }

  embeddingForward(out: F32, ids: I32, positions: I32, wte: F32, wpe: F32, BT: number, C: number): void {
    store(out, Float64Array.from({ length: BT * C }, (_, i) => {
      const [r, c] = [Math.floor(i / C), i % C];
      return wte[ids[r] * C + c] + wpe[positions[r] * C + c];
    }));
  }

  embeddingBackward(dwte: F32 | null, dwpe: F32 | null, dout: F32, ids: I32, positions: I32, BT: number, C: number): void {
    const scatter = (table: F32, rows: I32): void => {
      const t64 = Float64Array.from(table);
      for (let r = 0; r < BT; r++) for (let c = 0; c < C; c++) t64[rows[r] * C + c] += dout[r * C + c];
      store(table, t64);
    };
    if (dwte) scatter(dwte, ids);
    if (dwpe) scatter(dwpe, positions);
  }

  /** log(sum_v exp(x_v)) of row n, shifted by its maximum */
  private logSumExp(logits: F32, n: number, V: number): number {
    const row = Array.from({ length: V }, (_, v) => logits[n * V + v]);
    const max = Math.max(...row);
    return max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
  }

  crossEntropyForward(losses: F32, logits: F32, targets: I32, N: number, V: number): void {
    store(losses, Float64Array.from({ length: N }, (_, n) => (targets[n] < 0 ? 0 : this.logSumExp(logits, n, V) - logits[n * V + targets[n]])));
  }

  crossEntropyBackward(dlogits: F32, logits: F32, targets: I32, dloss: F32, N: number, V: number): void {
    const g = new Float64Array(N * V);
    for (let n = 0; n < N; n++) {
      if (targets[n] < 0) continue;
      const lse = this.logSumExp(logits, n, V);
      for (let v = 0; v < V; v++) g[n * V + v] = (Math.exp(logits[n * V + v] - lse) - (v === targets[n] ? 1 : 0)) * dloss[n];
    }
    store(dlogits, g);
  }

  /**
   * From the definition: a row whose first value is NaN gives 0 (nothing is larger than NaN); otherwise the
   * first index holding the largest of the row's numbers (NaN left out; -0 and +0 are one value).
   */
  argmaxRows(out: I32, x: F32, rows: number, V: number): void {
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * V, (r + 1) * V));
      const max = row.reduce((m, v) => (v > m ? v : m), -Infinity); // (a NaN is never > m)
      out[r] = Number.isNaN(row[0]) ? 0 : row.findIndex((v) => v === max);
    }
  }

  /** sampleToken's steps in float64 with each row's one draw (src/model/sampling.ts sampleWithDraw) */
  /** From the definition: the float64 logits of x @ w^T, then argmaxRows. */
  argmaxLogits(out: I32, x: F32, w: F32, rows: number, V: number, C: number): void {
    const logits = new Float64Array(rows * V);
    for (let r = 0; r < rows; r++) {
      for (let v = 0; v < V; v++) {
        let sum = 0;
        for (let k = 0; k < C; k++) sum += x[r * C + k] * w[v * C + k];
        logits[r * V + v] = sum;
      }
    }
    for (let r = 0; r < rows; r++) {
      const row = Array.from(logits.subarray(r * V, (r + 1) * V));
      const max = row.reduce((m, v) => (v > m ? v : m), -Infinity);
      out[r] = Number.isNaN(row[0]) ? 0 : row.findIndex((v) => v === max);
    }
  }

  sampleRows(out: I32, x: F32, rows: number, V: number, temperatures: Float64Array, topKs: I32, topPs: Float64Array, draws: Float64Array): void {
    for (let r = 0; r < rows; r++) {
      out[r] = sampleWithDraw(x.subarray(r * V, (r + 1) * V), { temperature: temperatures[r], topK: topKs[r], topP: topPs[r] }, draws[r]);
    }
  }

  dropoutMask(mask: F32, n: number, p: number, seed: number, offset: number): void {
    store(mask, Float64Array.from({ length: n }, (_, i) => dropFactor(p, seed, offset + i)));
  }

  mul(out: F32, x: F32, mask: F32, n: number): void {
    store(out, Float64Array.from({ length: n }, (_, i) => x[i] * mask[i]));
  }

  adamw(
    params: F32, grads: F32, m: F32, v: F32, n: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number,
  ): void {
    const [p64, m64, v64] = [Float64Array.from(params.subarray(0, n)), Float64Array.from(m.subarray(0, n)), Float64Array.from(v.subarray(0, n))];
    adamw64(p64, grads, m64, v64, lr, beta1, beta2, eps, weightDecay, step);
    store(params, p64);
    store(m, m64);
    store(v, v64);
  }

  sumSquares(x: F32, n: number): number {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i] ** 2;
    return s;
  }

  scale(x: F32, s: number, n: number): void {
    store(x, Float64Array.from({ length: n }, (_, i) => x[i] * s));
  }
}
