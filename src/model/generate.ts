import type { ForwardResult, GPT2 } from './gpt2.js';
import type { LinearHook } from './hooks.js';
import { isGreedy, makeRng, sampleRows, type RowSampler, type SamplingOptions } from './sampling.js';
import { LoraRouteError } from '../errors.js';

export interface GenerateIdsOptions extends SamplingOptions {
  /** Number of tokens to generate at most (default 64). */
  maxNewTokens?: number;
  /** Seed of the sampler (default 0). */
  seed?: number;
  /** Stop a row at the end-of-text token and leave it out (default true). */
  stopAtEos?: boolean;
  /** Decides after each token whether a row is done (used for stop strings); gets the row's new ids. */
  shouldStop?: (row: number, newIds: number[]) => boolean;
  /** Called with every generated token, as it is chosen. */
  onToken?: (row: number, tokenId: number) => void;
  /** Adapters applied in every pass (per-row choice is the hook's business). */
  hook?: LinearHook | null;
  /** Where warnings go (default console.warn). */
  warn?: (message: string) => void;
}

export type FinishReason = 'eos' | 'stop' | 'length';

export interface GeneratedIds {
  /** Generated ids only (without the end-of-text token that stopped a row). */
  tokenIds: number[];
  finishReason: FinishReason;
  /** Prompt tokens used (after any left truncation). */
  promptTokens: number;
}

/**
 * Generates continuations of several prompts at once as one right-padded batch with a KV cache.
 * Each row gets the same tokens it would get alone: padding slots are masked out and the new tokens of a
 * row take position ids that continue its own prompt (cache slots and positions are decoupled).
 */
export function generateIds(model: GPT2, prompts: number[][], opts: GenerateIdsOptions = {}): GeneratedIds[] {
  const cfg = model.config;
  const maxNew = opts.maxNewTokens ?? 64;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new LoraRouteError(`maxNewTokens must be a non-negative integer, got ${maxNew}`);
  if (maxNew >= cfg.nPositions) throw new LoraRouteError(`maxNewTokens (${maxNew}) must be below n_positions (${cfg.nPositions})`);
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const stopAtEos = opts.stopAtEos ?? true;
  const eos = cfg.eosTokenId;
  const B = prompts.length;
  if (B === 0) return [];

  const budget = cfg.nPositions - maxNew;
  const rows = prompts.map((p, b) => {
    for (const id of p) {
      if (!(Number.isInteger(id) && id >= 0 && id < cfg.vocabSize)) throw new LoraRouteError(`prompt ${b}: token id ${id} is outside the vocabulary [0, ${cfg.vocabSize})`);
    }
    let ids = p.length === 0 ? [eos] : p; // an empty prompt starts from <|endoftext|>, GPT-2's BOS
    if (ids.length > budget) {
      warn(`loraroute: prompt ${b} has ${ids.length} tokens; keeping the last ${budget} so that ${maxNew} new tokens fit in n_positions = ${cfg.nPositions}`);
      ids = ids.slice(ids.length - budget);
    }
    return ids;
  });
  const L = rows.map((r) => r.length);
  const Lmax = Math.max(...L);
  const S = Lmax + maxNew;
  const cache = model.createCache(B, S);

  // prefill: [B, Lmax], right-padded
  const ids = new Int32Array(B * Lmax).fill(eos);
  const positions = new Int32Array(B * Lmax);
  const lastRow = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < Lmax; t++) {
      positions[b * Lmax + t] = Math.min(t, L[b] - 1);
      if (t < L[b]) {
        ids[b * Lmax + t] = rows[b][t];
        cache.keyMask[b * S + t] = 1;
      }
    }
    lastRow[b] = b * Lmax + L[b] - 1;
  }
  const out: GeneratedIds[] = rows.map((r) => ({ tokenIds: [], finishReason: 'length' as FinishReason, promptTokens: r.length }));
  if (maxNew === 0) return out;
  const done = new Array<boolean>(B).fill(false);
  // one stream per row, each from the same seed: a row samples the same tokens in a batch as alone;
  // a row's sampler is dropped (null) once it is done
  const samplers: (RowSampler | null)[] = rows.map(() => ({ sampling: opts, rng: makeRng(opts.seed ?? 0) }));
  const V = cfg.vocabSize;

  // greedy rows of a batch take their tokens from the forward's argmax (which need not compute every
  // logit); a row alone, or sampled rows, from their logits
  const greedyBatch = B >= 2 && isGreedy(opts);
  const tokensOf = (r: ForwardResult): Int32Array => (greedyBatch ? (r.greedy as Int32Array) : sampleRows(model.backend, r.logits as Float32Array, V, samplers));
  const pass = (b: { ids: Int32Array; B: number; T: number; positions: Int32Array }, rows: Int32Array) => model.forward(b, {
    cache, hook: opts.hook ?? null, ...(greedyBatch ? { logits: 'none' as const, greedy: rows } : { logits: rows }),
  });
  let res = pass({ ids, B, T: Lmax, positions }, lastRow);
  const stepIds = new Int32Array(B);
  const stepPos = new Int32Array(B);
  const stepRows = Int32Array.from({ length: B }, (_, b) => b);
  for (let step = 0; step < maxNew; step++) {
    const tokens = tokensOf(res); // [B]
    for (let b = 0; b < B; b++) {
      if (done[b]) { stepIds[b] = eos; continue; }
      const tok = tokens[b];
      stepIds[b] = tok;
      if (stopAtEos && tok === eos) {
        done[b] = true;
        out[b].finishReason = 'eos';
        continue;
      }
      out[b].tokenIds.push(tok);
      opts.onToken?.(b, tok);
      if (opts.shouldStop?.(b, out[b].tokenIds)) {
        done[b] = true;
        out[b].finishReason = 'stop';
      }
    }
    done.forEach((d, b) => { if (d) samplers[b] = null; });
    if (step + 1 === maxNew || done.every(Boolean)) break;
    for (let b = 0; b < B; b++) {
      stepPos[b] = L[b] + step;
      cache.keyMask[b * S + Lmax + step] = 1;
    }
    res = pass({ ids: stepIds, B, T: 1, positions: stepPos }, stepRows);
  }
  return out;
}
