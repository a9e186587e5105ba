import type { Backend, F32, I32, KVBuffer, MatmulOptions } from './backend.js';
import { f16ToF32, f32ToF16 } from '../io/float16.js';
import { hashUniform } from './hash.js';
import { sampleWithDraw } from '../model/sampling.js';

/**
 * Index (counted from `start`) of the largest of x[start .. start+n), n >= 1: the first of equal ones, NaN
 * never larger (so 0 when x[start] is NaN). Greedy sampling (src/model/sampling.ts argmax) and argmaxRows.
 */
export function argmaxRange(x: F32, start: number, n: number): number {
  let best = 0;
  let max = x[start];
  for (let i = 1; i < n; i++) {
    const v = x[start + i];
    if (v > max) { max = v; best = i; }
  }
  return best;
}

/**
 * The reference backend: plain TypeScript loops, written to be obviously right rather than fast.
 * Every other backend is tested against it.
 */
export class ReferenceBackend implements Backend {
  readonly name = 'reference';

  matmul(out: F32, a: F32, b: F32, M: number, N: number, K: number, opts: MatmulOptions = {}): void {
    const { transA = false, transB = false, alpha = 1, beta = 0 } = opts;
    if (transB && !transA) {
      // A [M, K] · B^T with B [N, K]: contiguous dot products (the lm_head case)
      for (let i = 0; i < M; i++) {
        const ao = i * K;
        for (let j = 0; j < N; j++) {
          const bo = j * K;
          let d = 0;
          for (let k = 0; k < K; k++) d += a[ao + k] * b[bo + k];
          const o = i * N + j;
          out[o] = beta === 0 ? alpha * d : alpha * d + beta * out[o];
        }
      }
      return;
    }
    const row = new Float64Array(N);
    for (let i = 0; i < M; i++) {
      row.fill(0);
      for (let k = 0; k < K; k++) {
        const aik = transA ? a[k * M + i] : a[i * K + k];
        if (aik === 0) continue;
        if (transB) {
          for (let j = 0; j < N; j++) row[j] += aik * b[j * K + k];
        } else {
          const bo = k * N;
          for (let j = 0; j < N; j++) row[j] += aik * b[bo + j];
        }
      }
      const o = i * N;
      if (beta === 0) for (let j = 0; j < N; j++) out[o + j] = alpha * row[j];
      else for (let j = 0; j < N; j++) out[o + j] = alpha * row[j] + beta * out[o + j];
    }
  }

  addBias(out: F32, bias: F32, M: number, N: number): void {
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) out[i * N + j] += bias[j];
  }

  biasBackward(dbias: F32, dout: F32, M: number, N: number, accumulate: boolean): void {
    const acc = new Float64Array(N);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) acc[j] += dout[i * N + j];
    for (let j = 0; j < N; j++) dbias[j] = (accumulate ? dbias[j] : 0) + acc[j];
  }

  add(out: F32, a: F32, b: F32, n: number): void {
    for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
  }

  axpy(y: F32, x: F32, alpha: number, n: number): void {
    for (let i = 0; i < n; i++) y[i] += alpha * x[i];
  }

  layernormForward(out: F32, mean: F32, rstd: F32, x: F32, weight: F32, bias: F32, N: number, C: number, eps: number): void {
    for (let i = 0; i < N; i++) {
      const o = i * C;
      let m = 0;
      for (let c = 0; c < C; c++) m += x[o + c];
      m /= C;
      let v = 0;
      for (let c = 0; c < C; c++) v += (x[o + c] - m) ** 2;
      v /= C;
      const s = 1 / Math.sqrt(v + eps);
      for (let c = 0; c < C; c++) out[o + c] = (x[o + c] - m) * s * weight[c] + bias[c];
      mean[i] = m;
      rstd[i] = s;
    }
  }

  layernormBackward(
    dx: F32, dweight: F32 | null, dbias: F32 | null, dout: F32, x: F32, weight: F32, mean: F32, rstd: F32,
    N: number, C: number, accumulate: boolean,
  ): void {
    for (let i = 0; i < N; i++) {
      const o = i * C;
      const m = mean[i];
      const s = rstd[i];
      // dnorm = dout * w; dx = s * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat))
      let dnormMean = 0;
      let dnormXhatMean = 0;
      for (let c = 0; c < C; c++) {
        const xhat = (x[o + c] - m) * s;
        const dnorm = dout[o + c] * weight[c];
        dnormMean += dnorm;
        dnormXhatMean += dnorm * xhat;
      }
      dnormMean /= C;
      dnormXhatMean /= C;
      for (let c = 0; c < C; c++) {
        const xhat = (x[o + c] - m) * s;
        const dnorm = dout[o + c] * weight[c];
        const g = s * (dnorm - dnormMean - xhat * dnormXhatMean);
        dx[o + c] = accumulate ? dx[o + c] + g : g;
        if (dweight) dweight[c] += dout[o + c] * xhat;
        if (dbias) dbias[c] += dout[o + c];
      }
    }
  }

  geluForward(out: F32, x: F32, n: number): void {
    for (let i = 0; i < n; i++) out[i] = gelu(x[i]);
  }

  geluBackward(dx: F32, x: F32, dout: F32, n: number): void {
    for (let i = 0; i < n; i++) dx[i] = dout[i] * geluGrad(x[i]);
  }

  attentionForward(
    out: F32, att: F32, qkv: F32, keyMask: I32 | null, B: number, T: number, C: number, NH: number,
    dropoutP = 0, dropoutSeed = 0,
  ): void {
    const keep = dropoutP > 0 ? 1 / (1 - dropoutP) : 1;
    const hs = C / NH;
    const scale = 1 / Math.sqrt(hs);
    const C3 = 3 * C;
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        for (let t = 0; t < T; t++) {
          const q = b * T * C3 + t * C3 + h * hs;
          const a = ((b * NH + h) * T + t) * T;
          let max = -Infinity;
          for (let t2 = 0; t2 <= t; t2++) {
            if (keyMask && keyMask[b * T + t2] === 0) continue;
            const k = b * T * C3 + t2 * C3 + C + h * hs;
            let dot = 0;
            for (let i = 0; i < hs; i++) dot += qkv[q + i] * qkv[k + i];
            att[a + t2] = dot * scale;
            if (att[a + t2] > max) max = att[a + t2];
          }
          let sum = 0;
          for (let t2 = 0; t2 < T; t2++) {
            const live = t2 <= t && !(keyMask && keyMask[b * T + t2] === 0);
            const e = live ? Math.exp(att[a + t2] - max) : 0;
            att[a + t2] = e;
            sum += e;
          }
          const inv = sum > 0 ? 1 / sum : 0;
          for (let t2 = 0; t2 < T; t2++) att[a + t2] *= inv;
          const o = b * T * C + t * C + h * hs;
          for (let i = 0; i < hs; i++) out[o + i] = 0;
          for (let t2 = 0; t2 <= t; t2++) {
            const p = att[a + t2] * dropScale(dropoutP, dropoutSeed, a + t2, keep);
            if (p === 0) continue;
            const v = b * T * C3 + t2 * C3 + 2 * C + h * hs;
            for (let i = 0; i < hs; i++) out[o + i] += p * qkv[v + i];
          }
        }
      }
    }
  }

  attentionBackward(
    dqkv: F32, dout: F32, qkv: F32, att: F32, B: number, T: number, C: number, NH: number,
    dropoutP = 0, dropoutSeed = 0,
  ): void {
    const keep = dropoutP > 0 ? 1 / (1 - dropoutP) : 1;
    const hs = C / NH;
    const scale = 1 / Math.sqrt(hs);
    const C3 = 3 * C;
    dqkv.fill(0, 0, B * T * C3);
    const datt = new Float64Array(T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        for (let t = 0; t < T; t++) {
          const a = ((b * NH + h) * T + t) * T;
          const o = b * T * C + t * C + h * hs;
          // out = sum_t2 att * v  ->  datt, dv
          for (let t2 = 0; t2 <= t; t2++) {
            const v = b * T * C3 + t2 * C3 + 2 * C + h * hs;
            const drop = dropScale(dropoutP, dropoutSeed, a + t2, keep);
            const p = att[a + t2] * drop;
            let d = 0;
            for (let i = 0; i < hs; i++) {
              d += dout[o + i] * qkv[v + i];
              dqkv[v + i] += p * dout[o + i];
            }
            datt[t2] = d * drop;
          }
          // softmax backward: dpre = att * (datt - sum(att * datt))
          let dot = 0;
          for (let t2 = 0; t2 <= t; t2++) dot += att[a + t2] * datt[t2];
          const q = b * T * C3 + t * C3 + h * hs;
          for (let t2 = 0; t2 <= t; t2++) {
            const dpre = att[a + t2] * (datt[t2] - dot) * scale;
            if (dpre === 0) continue;
            const k = b * T * C3 + t2 * C3 + C + h * hs;
            for (let i = 0; i < hs; i++) {
              dqkv[q + i] += dpre * qkv[k + i];
              dqkv[k + i] += dpre * qkv[q + i];
            }
          }
        }
      }
    }
  }

  attentionCached(
    out: F32, qkv: F32, kCache: KVBuffer, vCache: KVBuffer, keyMask: I32 | null,
    past: number, B: number, Tq: number, C: number, NH: number, S: number,
  ): void {
    if (kCache instanceof Uint16Array || vCache instanceof Uint16Array) {
      this.attentionCachedHalf(out, qkv, kCache, vCache, keyMask, past, B, Tq, C, NH, S);
      return;
    }
    const hs = C / NH;
    const scale = 1 / Math.sqrt(hs);
    const C3 = 3 * C;
    // write the new keys and values: cache [B, NH, S, hs]
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < Tq; t++) {
        for (let h = 0; h < NH; h++) {
          const src = b * Tq * C3 + t * C3 + h * hs;
          const dst = ((b * NH + h) * S + past + t) * hs;
          for (let i = 0; i < hs; i++) {
            kCache[dst + i] = qkv[src + C + i];
            vCache[dst + i] = qkv[src + 2 * C + i];
          }
        }
      }
    }
    const scores = new Float64Array(past + Tq);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        for (let t = 0; t < Tq; t++) {
          const q = b * Tq * C3 + t * C3 + h * hs;
          const last = past + t; // causal: keys 0..last
          let max = -Infinity;
          for (let s = 0; s <= last; s++) {
            if (keyMask && keyMask[b * S + s] === 0) { scores[s] = -Infinity; continue; }
            const k = ((b * NH + h) * S + s) * hs;
            let dot = 0;
            for (let i = 0; i < hs; i++) dot += qkv[q + i] * kCache[k + i];
            scores[s] = dot * scale;
            if (scores[s] > max) max = scores[s];
          }
          let sum = 0;
          for (let s = 0; s <= last; s++) {
            scores[s] = scores[s] === -Infinity ? 0 : Math.exp(scores[s] - max);
            sum += scores[s];
          }
          const inv = sum > 0 ? 1 / sum : 0;
          const o = b * Tq * C + t * C + h * hs;
          for (let i = 0; i < hs; i++) out[o + i] = 0;
          for (let s = 0; s <= last; s++) {
            const p = scores[s] * inv;
            if (p === 0) continue;
            const v = ((b * NH + h) * S + s) * hs;
            for (let i = 0; i < hs; i++) out[o + i] += p * vCache[v + i];
          }
        }
      }
    }
  }

  /**
   * attentionCached over fp16 caches, as its definition says: the new keys and values rounded to fp16, then
   * fp32 attention over the widened caches, and the new slots stored back (exactly: they are fp16 values).
   */
  private attentionCachedHalf(
    out: F32, qkv: F32, kCache: KVBuffer, vCache: KVBuffer, keyMask: I32 | null,
    past: number, B: number, Tq: number, C: number, NH: number, S: number,
  ): void {
    if (!(kCache instanceof Uint16Array && vCache instanceof Uint16Array)) throw new Error('attentionCached: kCache and vCache must be of one type (both Float32Arrays or both Uint16Arrays)');
    const rounded = qkv.slice(0, B * Tq * 3 * C); // [B, Tq, 3C], k and v as fp16 values
    for (let r = 0; r < B * Tq; r++) {
      const kv = rounded.subarray(r * 3 * C + C, (r + 1) * 3 * C);
      f16ToF32(f32ToF16(kv), kv);
    }
    const kf = f16ToF32(kCache.subarray(0, B * S * C)), vf = f16ToF32(vCache.subarray(0, B * S * C));
    this.attentionCached(out, rounded, kf, vf, keyMask, past, B, Tq, C, NH, S);
    const hs = C / NH;
    for (let bh = 0; bh < B * NH; bh++) { // the new slots of every head: [B, NH, S, hs]
      const from = (bh * S + past) * hs, to = (bh * S + past + Tq) * hs;
      f32ToF16(kf.subarray(from, to), kCache.subarray(from, to));
      f32ToF16(vf.subarray(from, to), vCache.subarray(from, to));
    }
  }

  attentionRows(
    out: F32, qkv: F32, kCaches: KVBuffer[], vCaches: KVBuffer[], keyMasks: (I32 | null)[], pasts: I32, B: number, C: number, NH: number,
  ): void {
    for (let b = 0; b < B; b++) {
      // row b alone: out[b] [1, C], qkv[b] [1, 3C], its caches [1, NH, S_b, hs]
      const S = kCaches[b].length / C;
      this.attentionCached(out.subarray(b * C, (b + 1) * C), qkv.subarray(b * 3 * C, (b + 1) * 3 * C), kCaches[b], vCaches[b], keyMasks[b], pasts[b], 1, 1, C, NH, S);
    }
  }

  loraRows(y: F32, x: F32, As: readonly (F32 | null)[], Bs: readonly (F32 | null)[], weights: F32, B: number, inDim: number, outDim: number): void {
    const K = As.length;
    for (let b = 0; b < B; b++) {
      const xb = x.subarray(b * inDim, (b + 1) * inDim), yb = y.subarray(b * outDim, (b + 1) * outDim);
      for (let k = 0; k < K; k++) {
        const A = As[k], Bk = Bs[k], w = weights[b * K + k];
        if (!A || !Bk || w === 0) continue;
        const r = A.length / inDim;
        const xa = new Float32Array(r); // [r] = x_b A^T
        this.matmul(xa, xb, A, 1, r, inDim, { transB: true });
        this.matmul(yb, xa, Bk, 1, outDim, r, { transB: true, alpha: w, beta: 1 });
      }
    }
  }

  embeddingForward(out: F32, ids: I32, positions: I32, wte: F32, wpe: F32, BT: number, C: number): void {
    for (let i = 0; i < BT; i++) {
      const t = ids[i] * C;
      const p = positions[i] * C;
      for (let c = 0; c < C; c++) out[i * C + c] = wte[t + c] + wpe[p + c];
    }
  }

  embeddingBackward(dwte: F32 | null, dwpe: F32 | null, dout: F32, ids: I32, positions: I32, BT: number, C: number): void {
    for (let i = 0; i < BT; i++) {
      for (let c = 0; c < C; c++) {
        const g = dout[i * C + c];
        if (dwte) dwte[ids[i] * C + c] += g;
        if (dwpe) dwpe[positions[i] * C + c] += g;
      }
    }
  }

  crossEntropyForward(losses: F32, logits: F32, targets: I32, N: number, V: number): void {
    for (let n = 0; n < N; n++) {
      const tgt = targets[n];
      if (tgt < 0) { losses[n] = 0; continue; }
      const o = n * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - max);
      losses[n] = Math.log(sum) + max - logits[o + tgt];
    }
  }

  crossEntropyBackward(dlogits: F32, logits: F32, targets: I32, dloss: F32, N: number, V: number): void {
    for (let n = 0; n < N; n++) {
      const o = n * V;
      const tgt = targets[n];
      if (tgt < 0) { dlogits.fill(0, o, o + V); continue; }
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - max);
      const g = dloss[n];
      for (let v = 0; v < V; v++) {
        const p = Math.exp(logits[o + v] - max) / sum;
        dlogits[o + v] = (p - (v === tgt ? 1 : 0)) * g;
      }
    }
  }

  argmaxRows(out: I32, x: F32, rows: number, V: number): void {
    for (let r = 0; r < rows; r++) out[r] = argmaxRange(x, r * V, V);
  }

  argmaxLogits(out: I32, x: F32, w: F32, rows: number, V: number, C: number): void {
    const logits = new Float32Array(rows * V); // [rows, V]
    this.matmul(logits, x, w, rows, V, C, { transB: true });
    this.argmaxRows(out, logits, rows, V);
  }

  sampleRows(out: I32, x: F32, rows: number, V: number, temperatures: Float64Array, topKs: I32, topPs: Float64Array, draws: Float64Array): void {
    for (let r = 0; r < rows; r++) {
      out[r] = sampleWithDraw(x.subarray(r * V, (r + 1) * V), { temperature: temperatures[r], topK: topKs[r], topP: topPs[r] }, draws[r]);
    }
  }

  dropoutMask(mask: F32, n: number, p: number, seed: number, offset: number): void {
    if (p <= 0) { mask.fill(1, 0, n); return; }
    const keep = 1 / (1 - p);
    for (let i = 0; i < n; i++) mask[i] = hashUniform(seed, offset + i) < p ? 0 : keep;
  }

  mul(out: F32, x: F32, mask: F32, n: number): void {
    for (let i = 0; i < n; i++) out[i] = x[i] * mask[i];
  }

  adamw(
    params: F32, grads: F32, m: F32, v: F32, n: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number,
  ): void {
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    for (let i = 0; i < n; i++) {
      const g = grads[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      const mhat = m[i] / bc1;
      const vhat = v[i] / bc2;
      // decoupled decay (PyTorch AdamW): p -= lr * wd * p, then the Adam step
      params[i] -= lr * (mhat / (Math.sqrt(vhat) + eps) + weightDecay * params[i]);
    }
  }

  sumSquares(x: F32, n: number): number {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i] * x[i];
    return s;
  }

  scale(x: F32, s: number, n: number): void {
    for (let i = 0; i < n; i++) x[i] *= s;
  }
}

/** The dropout factor of element `index` (1 when p = 0): 0 or 1/(1-p), from the shared hash. */
function dropScale(p: number, seed: number, index: number, keep: number): number {
  if (p <= 0) return 1;
  return hashUniform(seed, index) < p ? 0 : keep;
}

const GELU_K = Math.sqrt(2 / Math.PI);

/** gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_K * (x + 0.044715 * x * x * x)));
}

export function geluGrad(x: number): number {
  const u = GELU_K * (x + 0.044715 * x * x * x);
  const th = Math.tanh(u);
  const du = GELU_K * (1 + 3 * 0.044715 * x * x);
  return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du;
}
