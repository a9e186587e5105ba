import type { KVCache } from '../model/gpt2.js';
import type { GPT2Config } from '../model/config.js';
import type { LoraAdapter } from '../lora/adapter.js';
import type { MixPart } from './registry.js';

/** One prompt's keys and values in the slab: per layer k then v, each [NH, n, hs], from `at` on. */
interface Entry {
  mix: string;
  ids: readonly number[];
  at: number;
  size: number; // elements
}

/**
 * Keys and values of recent prompts, so that a prompt that starts like one of them is prefilled from where they
 * part (vLLM's automatic prefix caching, at the granularity of tokens). Every prompt of a trained run starts
 * with its template's head (the Alpaca preamble, 24 tokens of GPT-2's), so every request after the first
 * with the same adapters skips those. A position's key and value depend only on the tokens up to it and the
 * adapters, and a generation prefill computes each position by itself (fp16 panels and LoRA products in
 * blocks of rows whose bits are their own, attention one query at a time): restored keys and values are the
 * bits the request's own prefill would write, so its tokens are the same with the cache or without it.
 * Entries are kept by adapter identity and gates, in one fp16 slab of `maxBytes` allocated at the first
 * store and written round it, oldest entries out first: a cache that allocated per entry kept the garbage
 * collector busy (a mark-compact every second at 16 streams, the server's tokens/s falling as it filled).
 * fp16 caches only (the server keeps fp16 ones while prefills are exact by position).
 */
export class PrefixCache {
  private readonly entries: Entry[] = []; // oldest first
  private slab: Uint16Array | null = null;
  private head = 0; // where the next entry goes
  private readonly adapterIds = new WeakMap<LoraAdapter, number>();
  private nextId = 0;
  /** Prompt tokens restored instead of prefilled, over the cache's life. */
  hitTokens = 0;

  constructor(private readonly cfg: GPT2Config, readonly maxBytes: number) {}

  get bytes(): number {
    return 2 * this.entries.reduce((a, e) => a + e.size, 0);
  }

  get count(): number {
    return this.entries.length;
  }

  /** The adapters and gates as one key: adapters by identity (one loaded again under its name is another). */
  private key(mix: readonly MixPart[]): string {
    return mix.map((m) => {
      let id = this.adapterIds.get(m.adapter);
      if (id === undefined) this.adapterIds.set(m.adapter, (id = this.nextId++));
      return `${id}:${m.weight}`;
    }).join(',');
  }

  /**
   * Copies the longest cached prefix of `ids` (prefilled with `mix`) into `cache`'s first slots (an fp16
   * cache), leaving at least the last prompt token to prefill (its hidden state gives the first token).
   * Returns the number of positions restored (0: none); the caller marks them filled.
   */
  restore(mix: readonly MixPart[], ids: readonly number[], cache: KVCache): number {
    const slab = this.slab;
    if (!slab || cache.dtype !== 'float16') return 0;
    const key = this.key(mix);
    let best: Entry | null = null;
    let n = 0;
    for (const e of this.entries) {
      if (e.mix !== key) continue;
      const most = Math.min(e.ids.length, ids.length - 1);
      let i = 0;
      while (i < most && e.ids[i] === ids[i]) i++;
      if (i > n) [best, n] = [e, i];
    }
    if (!best || n === 0) return 0;
    const { nHead: NH, nEmbd: C } = this.cfg, hs = C / NH, len = best.ids.length, S = cache.S;
    let at = best.at;
    for (let l = 0; l < this.cfg.nLayer; l++) {
      for (const dst of [cache.k[l], cache.v[l]]) {
        for (let h = 0; h < NH; h++) dst.set(slab.subarray(at + h * len * hs, at + (h * len + n) * hs), h * S * hs); // [NH, len, hs] -> [NH, S, hs]
        at += NH * len * hs;
      }
    }
    this.hitTokens += n;
    return n;
  }

  /** Keeps the keys and values of a prompt just prefilled into `cache` (its slots 0 .. ids.length - 1). */
  store(mix: readonly MixPart[], ids: readonly number[], cache: KVCache): void {
    if (cache.dtype !== 'float16') return;
    const key = this.key(mix);
    const { nHead: NH, nEmbd: C, nLayer } = this.cfg, hs = C / NH, n = ids.length, S = cache.S;
    const size = 2 * nLayer * n * C;
    if (2 * size > this.maxBytes) return;
    // the same prompt again: the one there serves it
    if (this.entries.some((e) => e.mix === key && e.ids.length === n && e.ids.every((t, i) => t === ids[i]))) return;
    const slab = (this.slab ??= new Uint16Array(Math.floor(this.maxBytes / 2)));
    if (this.head + size > slab.length) this.head = 0;
    const from = this.head, to = from + size;
    for (let i = this.entries.length - 1; i >= 0; i--) { // what the new entry overwrites goes
      const e = this.entries[i];
      if (e.at < to && from < e.at + e.size) this.entries.splice(i, 1);
    }
    let at = from;
    for (let l = 0; l < nLayer; l++) {
      for (const src of [cache.k[l], cache.v[l]]) {
        for (let h = 0; h < NH; h++) slab.set(src.subarray(h * S * hs, (h * S + n) * hs), at + h * n * hs); // [NH, S, hs] -> [NH, n, hs]
        at += NH * n * hs;
      }
    }
    this.entries.push({ mix: key, ids: ids.slice(), at: from, size });
    this.head = to;
  }

  /** Drops every entry (an adapter unloaded, the weights changed). */
  clear(): void {
    this.entries.length = 0;
    this.head = 0;
  }
}
