import type { KVCache, KVDtype } from '../model/gpt2.js';
import type { GPT2Config } from '../model/config.js';
import type { KVBuffer } from '../tensor/backend.js';
import type { LoraAdapter } from '../lora/adapter.js';
import type { MixPart } from './registry.js';

/** One prompt's keys and values, per layer [NH, n, hs], for the adapters (and gates) it was prefilled with. */
interface Entry {
  mix: string;
  ids: readonly number[];
  k: KVBuffer[];
  v: KVBuffer[];
  dtype: KVDtype;
  bytes: number;
}

/**
 * Keys and values of recent prompts, so that a prompt that starts like one of them is prefilled from where they
 * part (vLLM's automatic prefix caching, at the granularity of tokens). Every prompt of a trained run starts
 * with its template's head (the Alpaca preamble, 24 tokens of GPT-2's), so every request after the first
 * with the same adapters skips those. A position's key and value depend only on the tokens up to it and the
 * adapters, and a generation prefill computes each position by itself (fp16 panels and LoRA products in
 * blocks of rows whose bits are their own, attention one query at a time): restored keys and values are the
 * bits the request's own prefill would write, so its tokens are the same with the cache or without it.
 * Entries are kept by adapter identity and gates; the least recently used go first past `maxBytes`.
 */
export class PrefixCache {
  private readonly entries = new Map<Entry, true>(); // least recently used first
  private readonly adapterIds = new WeakMap<LoraAdapter, number>();
  private nextId = 0;
  private size = 0;
  /** Prompt tokens restored instead of prefilled, over the cache's life. */
  hitTokens = 0;

  constructor(private readonly cfg: GPT2Config, readonly maxBytes: number) {}

  get bytes(): number {
    return this.size;
  }

  get count(): number {
    return this.entries.size;
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
   * Copies the longest cached prefix of `ids` (prefilled with `mix`, into a cache of `cache`'s type) into
   * `cache`'s first slots, leaving at least the last prompt token to prefill (its hidden state gives the
   * first token). Returns the number of positions restored (0: none); the caller marks them filled.
   */
  restore(mix: readonly MixPart[], ids: readonly number[], cache: KVCache): number {
    const key = this.key(mix);
    let best: Entry | null = null;
    let n = 0;
    for (const e of this.entries.keys()) {
      if (e.mix !== key || e.dtype !== cache.dtype) continue;
      const most = Math.min(e.ids.length, ids.length - 1);
      let i = 0;
      while (i < most && e.ids[i] === ids[i]) i++;
      if (i > n) [best, n] = [e, i];
    }
    if (!best || n === 0) return 0;
    const { nHead: NH, nEmbd: C } = this.cfg, hs = C / NH, from = best.ids.length;
    for (let l = 0; l < best.k.length; l++) {
      for (let h = 0; h < NH; h++) { // [NH, n, hs] of the entry into [NH, S, hs] of the cache
        cache.k[l].set(best.k[l].subarray(h * from * hs, (h * from + n) * hs), h * cache.S * hs);
        cache.v[l].set(best.v[l].subarray(h * from * hs, (h * from + n) * hs), h * cache.S * hs);
      }
    }
    this.entries.delete(best);
    this.entries.set(best, true);
    this.hitTokens += n;
    return n;
  }

  /** Keeps the keys and values of a prompt just prefilled into `cache` (its slots 0 .. ids.length - 1). */
  store(mix: readonly MixPart[], ids: readonly number[], cache: KVCache): void {
    const key = this.key(mix);
    const { nHead: NH, nEmbd: C, nLayer } = this.cfg, hs = C / NH, n = ids.length;
    const bytes = 2 * nLayer * n * C * (cache.dtype === 'float16' ? 2 : 4);
    if (bytes > this.maxBytes) return;
    for (const e of this.entries.keys()) { // the same prompt again: keep the one there
      if (e.mix === key && e.dtype === cache.dtype && e.ids.length === n && e.ids.every((t, i) => t === ids[i])) {
        this.entries.delete(e);
        this.entries.set(e, true);
        return;
      }
    }
    const copy = (a: KVBuffer): KVBuffer => {
      const out = cache.dtype === 'float16' ? new Uint16Array(NH * n * hs) : new Float32Array(NH * n * hs);
      for (let h = 0; h < NH; h++) out.set(a.subarray(h * cache.S * hs, (h * cache.S + n) * hs), h * n * hs);
      return out;
    };
    const e: Entry = { mix: key, ids: ids.slice(), k: cache.k.map(copy), v: cache.v.map(copy), dtype: cache.dtype, bytes };
    this.entries.set(e, true);
    this.size += bytes;
    for (const old of this.entries.keys()) {
      if (this.size <= this.maxBytes) break;
      this.entries.delete(old);
      this.size -= old.bytes;
    }
  }

  /** Drops every entry (an adapter unloaded, the weights changed). */
  clear(): void {
    this.entries.clear();
    this.size = 0;
  }
}
