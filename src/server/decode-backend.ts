import { createKVCache, type KVCache } from '../model/gpt2.js';
import type { GPT2Config } from '../model/config.js';
import type { Backend, F32, I32, MatmulOptions } from '../tensor/backend.js';

/**
 * Rows per matmul in a decode step. The native backend computes A @ B products of at most 8 rows, and
 * A @ B^T products (the LM head, LoRA factors) of at most 16, with streaming kernels in which every row is
 * its own (same code, same order, whatever the other rows are); past those, OpenBLAS's sgemm blocks rows
 * together and a row's rounding depends on the batch around it.
 */
export const DECODE_ROW_BLOCK = 8;
export const DECODE_ROW_BLOCK_NT = 16;

/**
 * One decode step (T = 1) over rows that each have their own KV cache, through GPT2.forward: the backend
 * below serves the model's cached attention row by row from these caches, and cuts every matmul into
 * blocks of at most DECODE_ROW_BLOCK (A @ B) or DECODE_ROW_BLOCK_NT (A @ B^T) rows. A row's logits are then bit-identical whatever batch it is in
 * (its cache layout and its kernels are those it has alone): batching changes no token.
 */
export class RowCaches {
  /** What GPT2.forward is given: one empty key/value array per layer (it only passes them back to us). */
  readonly cache: KVCache;
  private readonly layerOf = new Map<F32, number>();
  private rows: KVCache[] = [];

  constructor(private readonly cfg: GPT2Config) {
    const k = Array.from({ length: cfg.nLayer }, () => new Float32Array(0));
    const v = Array.from({ length: cfg.nLayer }, () => new Float32Array(0));
    k.forEach((a, l) => this.layerOf.set(a, l));
    this.cache = { k, v, keyMask: new Int32Array(0), S: Number.MAX_SAFE_INTEGER, past: 0 };
  }

  /** A cache for one sequence of up to S tokens. */
  allocate(S: number): KVCache {
    return createKVCache(this.cfg, 1, S);
  }

  /** The caches of the step's rows, in batch order; each gets its new slot marked real. */
  begin(rows: KVCache[]): void {
    for (const r of rows) r.keyMask[r.past] = 1;
    this.rows = rows;
    this.cache.past = 0;
  }

  /** After the forward: every row's cache holds one more token. */
  end(): void {
    for (const r of this.rows) r.past += 1;
    this.rows = [];
    this.cache.past = 0;
  }

  /** The backend for the decode model: `inner` with per-row attention and row-blocked matmuls. */
  wrap(inner: Backend): Backend {
    const matmul = (out: F32, a: F32, b: F32, M: number, N: number, K: number, opts?: MatmulOptions): void => {
      const block = opts?.transB ? DECODE_ROW_BLOCK_NT : DECODE_ROW_BLOCK;
      if (M <= block || opts?.transA) return inner.matmul(out, a, b, M, N, K, opts);
      for (let m0 = 0; m0 < M; m0 += block) {
        const m = Math.min(block, M - m0);
        // out[m0:m0+m, N] = a[m0:m0+m, K] @ op(B)
        inner.matmul(out.subarray(m0 * N, (m0 + m) * N), a.subarray(m0 * K, (m0 + m) * K), b, m, N, K, opts);
      }
    };
    const attentionCached = (
      out: F32, qkv: F32, kCache: F32, _vCache: F32, _keyMask: I32 | null, _past: number, B: number, Tq: number, C: number, NH: number,
    ): void => {
      const l = this.layerOf.get(kCache);
      if (l === undefined || Tq !== 1 || B !== this.rows.length) throw new Error('RowCaches: a decode step needs begin(rows) and T = 1');
      for (let b = 0; b < B; b++) {
        const r = this.rows[b];
        // out[b] [1, C], qkv[b] [1, 3C]; the row's own cache [1, NH, S, hs]
        inner.attentionCached(out.subarray(b * C, (b + 1) * C), qkv.subarray(b * 3 * C, (b + 1) * 3 * C), r.k[l], r.v[l], r.keyMask, r.past, 1, 1, C, NH, r.S);
      }
    };
    const bound = new Map<PropertyKey, unknown>([['matmul', matmul], ['attentionCached', attentionCached]]);
    return new Proxy(inner, {
      get(target, prop, receiver) {
        if (bound.has(prop)) return bound.get(prop);
        const v: unknown = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        const f = (v as (...a: unknown[]) => unknown).bind(target);
        bound.set(prop, f);
        return f;
      },
    });
  }
}
