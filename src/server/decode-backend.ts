import type { GPT2, KVCache } from '../model/gpt2.js';
import type { GPT2Config } from '../model/config.js';
import type { LoraMixture } from '../lora/mixture.js';
import { isGreedy, sampleRows, type RowSampler } from '../model/sampling.js';
import type { Backend, F32, I32, KVBuffer, MatmulOptions } from '../tensor/backend.js';
import { NativeBackend } from '../tensor/native.js';

import { matmulInRowBlocks, ROW_BLOCK, ROW_BLOCK_HALF, ROW_BLOCK_NT } from '../tensor/row-blocks.js';

/**
 * Runs a decode pass over RowCaches with `model`'s fp16 decode weights when it has them
 * (useHalfWeightsForDecode), as generate's decode steps do: GPT2.forward cannot see that such a pass is a
 * decode step, since the cache it is given (RowCaches.cache) reports past = 0.
 */
export function withDecodeWeights<T>(model: GPT2, pass: () => T): T {
  return model.decodeWeights ? model.decodeWeights.run(pass) : pass();
}

/**
 * One batched decode step: the forward of rows whose caches are `caches` (their tokens `ids`, at `positions`)
 * through `decodeModel` (`model` over `rows.wrap(...)`), with the decode weights, and each row's next token
 * as samplers[b] picks it; then (when `extra` [E, C] is given) the greedy tokens of those final hidden
 * states too (rows just prefilled: their first tokens), appended. Only the sampled rows' logits are
 * computed; every greedy token comes from one argmaxLogits over the LM head: the argmax of the same logits,
 * which the native backend finds without computing most of them (an int8 screen, then exact logits for the
 * few columns it cannot rule out). No row's token depends on the rows beside it.
 *
 * In two halves: this runs the forward and returns a function that gives the tokens [B + E]. Where the
 * native backend can (NativeBackend.argmaxLogitsBegin), the greedy rows' LM head runs on the pool's other
 * threads until that function is called, so that the caller can do other work in between (the server's
 * socket writes and requests); the tokens are the same either way.
 */
export function decodeRowsStart(
  model: GPT2, decodeModel: GPT2, rows: RowCaches, caches: readonly KVCache[], batch: { ids: I32; positions: I32 },
  samplers: readonly RowSampler[], hook: LoraMixture | null, extra: F32 | null = null,
): () => Int32Array {
  const { vocabSize: V, nEmbd: C } = model.config;
  const B = caches.length, E = extra ? extra.length / C : 0;
  const greedy = samplers.flatMap((s, b) => (isGreedy(s.sampling) ? [b] : []));
  const sampled = samplers.flatMap((s, b) => (isGreedy(s.sampling) ? [] : [b]));
  const tokens = new Int32Array(B + E);
  const G = greedy.length;
  const t = new Int32Array(G + E); // the greedy rows' tokens, then extra's
  const native = decodeModel.backend instanceof NativeBackend ? decodeModel.backend : null; // (through its wrappers)
  let pending = false;
  rows.begin(caches);
  try {
    withDecodeWeights(model, () => {
      const res = decodeModel.forward({ ids: batch.ids, B, T: 1, positions: batch.positions }, { cache: rows.cache, logits: Int32Array.from(sampled), hook });
      if (sampled.length > 0) {
        const st = sampleRows(model.backend, res.logits as Float32Array, V, sampled.map((b) => samplers[b]));
        sampled.forEach((b, i) => { tokens[b] = st[i]; });
      }
      if (G + E === 0) return;
      const h = new Float32Array((G + E) * C); // [G + E, C]: the greedy rows' final hidden states, then extra
      greedy.forEach((b, i) => h.set(res.hidden.subarray(b * C, (b + 1) * C), i * C));
      if (extra) h.set(extra, G * C);
      pending = native?.argmaxLogitsBegin(h, model.weights.wte, G + E, V, C) ?? false;
      if (!pending) decodeModel.backend.argmaxLogits(t, h, model.weights.wte, G + E, V, C);
    });
  } finally {
    rows.end();
  }
  return () => {
    if (pending) {
      pending = false;
      (native as NativeBackend).argmaxLogitsEnd(t, G + E);
    }
    greedy.forEach((b, i) => { tokens[b] = t[i]; });
    tokens.set(t.subarray(G), B);
    return tokens;
  };
}

/** decodeRowsStart's tokens at once. */
export function decodeRowsTokens(
  model: GPT2, decodeModel: GPT2, rows: RowCaches, caches: readonly KVCache[], batch: { ids: I32; positions: I32 },
  samplers: readonly RowSampler[], hook: LoraMixture | null, extra: F32 | null = null,
): Int32Array {
  return decodeRowsStart(model, decodeModel, rows, caches, batch, samplers, hook, extra)();
}

/** The greedy tokens of final hidden states h [n, C] (rows just prefilled), with the decode weights. */
export function firstTokens(model: GPT2, h: F32, n: number): Int32Array {
  const t = new Int32Array(n);
  withDecodeWeights(model, () => model.backend.argmaxLogits(t, h, model.weights.wte, n, model.config.vocabSize, model.config.nEmbd));
  return t;
}

/**
 * One decode step (T = 1) over rows that each have their own KV cache, through GPT2.forward: the backend
 * below serves the model's cached attention from these caches (one attentionRows call per layer, each row
 * computed as attentionCached computes it alone), and cuts every matmul into blocks of at most
 * ROW_BLOCK (A @ B) or ROW_BLOCK_NT (A @ B^T) rows. A row's logits are then bit-identical
 * whatever batch it is in (its cache layout and its kernels are those it has alone): batching changes no token.
 */
export class RowCaches {
  /** What GPT2.forward is given: one empty key/value array per layer (it only passes them back to us). */
  readonly cache: KVCache;
  private readonly layerOf = new Map<KVBuffer, number>();
  private rows: readonly KVCache[] = [];
  /** The step's rows as attentionRows takes them: per layer their k and v caches, and their masks and positions. */
  private step: { k: KVBuffer[][]; v: KVBuffer[][]; masks: I32[]; pasts: I32 } | null = null;

  constructor(private readonly cfg: GPT2Config) {
    const k = Array.from({ length: cfg.nLayer }, () => new Float32Array(0));
    const v = Array.from({ length: cfg.nLayer }, () => new Float32Array(0));
    k.forEach((a, l) => this.layerOf.set(a, l));
    this.cache = { k, v, dtype: 'float32', keyMask: new Int32Array(0), S: Number.MAX_SAFE_INTEGER, past: 0 };
  }

  /** The caches of the step's rows, in batch order; each gets its new slot marked real. */
  begin(rows: readonly KVCache[]): void {
    for (const r of rows) r.keyMask[r.past] = 1;
    this.rows = rows;
    const layers = this.cfg.nLayer;
    this.step = {
      k: Array.from({ length: layers }, (_, l) => rows.map((r) => r.k[l])),
      v: Array.from({ length: layers }, (_, l) => rows.map((r) => r.v[l])),
      masks: rows.map((r) => r.keyMask),
      pasts: Int32Array.from(rows, (r) => r.past),
    };
    this.cache.past = 0;
  }

  /** After the forward: every row's cache holds one more token. */
  end(): void {
    for (const r of this.rows) r.past += 1;
    this.rows = [];
    this.step = null;
    this.cache.past = 0;
  }

  /** The backend for the decode model: `inner` with per-row attention and row-blocked matmuls. */
  wrap(inner: Backend): Backend {
    const matmul = (out: F32, a: F32, b: F32, M: number, N: number, K: number, opts?: MatmulOptions): void => {
      const block = opts?.transB ? ROW_BLOCK_NT : inner instanceof NativeBackend && inner.readingHalfWeights ? ROW_BLOCK_HALF : ROW_BLOCK;
      matmulInRowBlocks(inner, block, out, a, b, M, N, K, opts);
    };
    const attentionCached = (
      out: F32, qkv: F32, kCache: KVBuffer, _vCache: KVBuffer, _keyMask: I32 | null, _past: number, B: number, Tq: number, C: number, NH: number,
    ): void => {
      const l = this.layerOf.get(kCache);
      const step = this.step;
      if (l === undefined || Tq !== 1 || !step || B !== this.rows.length) throw new Error('RowCaches: a decode step needs begin(rows) and T = 1');
      // out [B, C], qkv [B, 3C]; row b's own caches of layer l [1, NH, S_b, hs]: one call for every row
      inner.attentionRows(out, qkv, step.k[l], step.v[l], step.masks, step.pasts, B, C, NH);
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
