/**
 * The server's prefix cache: what it keeps and gives back (a micro model's caches, any backend), and that a
 * request prefilled from it gets the tokens it gets without one (the bundled fixture on the native backend,
 * whose generation prefills give every position its own bits: checked first, prefill by prefill).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createKVCache, type KVCache } from '../../src/model/gpt2.js';
import { PrefixCache } from '../../src/server/prefix-cache.js';
import { LoraMixture } from '../../src/lora/mixture.js';
import { alpacaPrompt } from '../../src/data/template.js';
import type { LoraAdapter } from '../../src/lora/adapter.js';
import type { SequenceResult, SequenceSpec } from '../../src/server/batcher.js';
import { microConfig } from '../helpers/micro.js';
import { fixture, PROMPTS } from './helpers.js';
import { EXPERTS } from './fixture.js';

const cfg = microConfig();
const C = cfg.nEmbd, NH = cfg.nHead, hs = C / NH;

/** A cache of S slots whose slot s of head h in layer l holds tag(l, h, s) in every element. */
function tagged(S: number, tag: (l: number, h: number, s: number) => number, dtype: 'float16' | 'float32' = 'float16'): KVCache {
  const c = createKVCache(cfg, 1, S, dtype);
  for (let l = 0; l < cfg.nLayer; l++) {
    for (let h = 0; h < NH; h++) {
      for (let s = 0; s < S; s++) {
        c.k[l].fill(tag(l, h, s), (h * S + s) * hs, (h * S + s + 1) * hs);
        c.v[l].fill(tag(l, h, s) + 1, (h * S + s) * hs, (h * S + s + 1) * hs);
      }
    }
  }
  return c;
}

/** An fp16 cache of S slots, zeros */
const empty = (S: number): KVCache => createKVCache(cfg, 1, S, 'float16');

const A = { name: 'a' } as LoraAdapter, B = { name: 'b' } as LoraAdapter;
const tag = (l: number, h: number, s: number) => 1000 * l + 100 * h + s + 1;

test('prefix cache: the longest shared prefix comes back into the new cache, slot by slot and head by head, the last prompt token left to prefill', () => {
  const p = new PrefixCache(cfg, 1 << 20);
  const mix = [{ adapter: A, weight: 1 }];
  p.store(mix, [5, 6, 7, 8, 9], tagged(12, tag)); // a cache larger than its prompt: [NH, S, hs]
  const into = empty(9);
  assert.equal(p.restore(mix, [5, 6, 7, 1, 2, 3], into), 3);
  for (let l = 0; l < cfg.nLayer; l++) {
    for (let h = 0; h < NH; h++) {
      for (let s = 0; s < 9; s++) {
        const want = s < 3 ? tag(l, h, s) : 0;
        assert.ok(into.k[l].subarray((h * 9 + s) * hs, (h * 9 + s + 1) * hs).every((x) => x === want), `k layer ${l} head ${h} slot ${s}`);
        assert.ok(into.v[l].subarray((h * 9 + s) * hs, (h * 9 + s + 1) * hs).every((x) => x === (want && want + 1)), `v layer ${l} head ${h} slot ${s}`);
      }
    }
  }
  // the same prompt: all but its last token; a longer one: the whole entry
  assert.equal(p.restore(mix, [5, 6, 7, 8, 9], empty(9)), 4);
  assert.equal(p.restore(mix, [5, 6, 7, 8, 9, 10, 11], empty(9)), 5);
  assert.equal(p.hitTokens, 12);
});

test('prefix cache: entries are per adapters and gates and per cache type; nothing shared gives 0', () => {
  const p = new PrefixCache(cfg, 1 << 20);
  p.store([{ adapter: A, weight: 1 }], [5, 6, 7, 8], tagged(4, tag));
  const ids = [5, 6, 7, 8, 9];
  assert.equal(p.restore([{ adapter: B, weight: 1 }], ids, empty(6)), 0, 'another adapter');
  assert.equal(p.restore([{ adapter: { name: 'a' } as LoraAdapter, weight: 1 }], ids, empty(6)), 0, 'an adapter of the same name loaded again');
  assert.equal(p.restore([{ adapter: A, weight: 0.5 }, { adapter: B, weight: 0.5 }], ids, empty(6)), 0, 'a mixture with it');
  assert.equal(p.restore([], ids, empty(6)), 0, 'the base model');
  assert.equal(p.restore([{ adapter: A, weight: 1 }], ids, createKVCache(cfg, 1, 6, 'float32')), 0, 'an fp32 cache');
  assert.equal(p.restore([{ adapter: A, weight: 1 }], [4, 6, 7], empty(6)), 0, 'a different first token');
  assert.equal(p.restore([{ adapter: A, weight: 1 }], ids, empty(6)), 4);
  p.clear();
  assert.equal(p.count, 0);
  assert.equal(p.restore([{ adapter: A, weight: 1 }], ids, empty(6)), 0, 'after clear');
});

test('prefix cache: bounded by bytes, written round its slab, the oldest entries out first; the same prompt twice is one entry', () => {
  const perEntry = 2 * cfg.nLayer * 4 * C * 2; // k and v, every layer, 4 positions, fp16
  const p = new PrefixCache(cfg, 2 * perEntry);
  const mix = [{ adapter: A, weight: 1 }];
  p.store(mix, [1, 2, 3, 4], tagged(4, tag));
  p.store(mix, [1, 2, 3, 4], tagged(4, tag));
  assert.equal(p.count, 1);
  p.store(mix, [7, 2, 3, 4], tagged(4, (l, h, s) => -tag(l, h, s)));
  assert.equal(p.bytes, 2 * perEntry);
  p.store(mix, [9, 2, 3, 4], tagged(4, tag)); // no room left: over the oldest
  assert.equal(p.count, 2);
  assert.ok(p.bytes <= p.maxBytes);
  assert.equal(p.restore(mix, [1, 2, 3, 4, 5], empty(6)), 0, 'the oldest went');
  const into = empty(6);
  assert.equal(p.restore(mix, [7, 2, 3, 4, 5], into), 4, 'the next oldest is still there, its values intact');
  assert.ok(into.k[0].subarray(0, hs).every((x) => x === Uint16Array.of(-tag(0, 0, 0))[0]), 'its own values, not the overwritten one\'s');
  assert.equal(p.restore(mix, [9, 2, 3, 4, 5], empty(6)), 4);
  p.store(mix, Array.from({ length: 12 }, (_, i) => i), tagged(12, tag)); // larger than the whole cache: not kept
  assert.equal(p.count, 2);
  p.store(mix, [5, 6, 7], tagged(3, tag)); // an fp32 cache is never kept
  p.store(mix, [5, 6, 8], tagged(3, tag, 'float32'));
  assert.equal(p.restore(mix, [5, 6, 8, 1], empty(6)), 2, 'from the fp16 entry, not the fp32 one');
});

const fx = fixture();
after(() => fx.cleanup());

test('a prompt prefilled in chunks gets the keys, values and last hidden state it gets in one pass (fp16 decode weights, LoRA)', async (t) => {
  const reg = (await fx.serve()).registry;
  const model = reg.model;
  if (!model.decodeWeights) return t.skip('no fp16 decode weights on this backend or CPU: the server keeps no prefixes');
  const ids = reg.tokenizer.encode(alpacaPrompt(PROMPTS[1]));
  const mix = new LoraMixture(reg.adapters, model.backend);
  const gates = new Float32Array(reg.adapters.length).fill(0);
  gates[0] = 0.75;
  gates[1] = 0.25; // a mixture: two adapters' products in every row
  mix.setGates(gates, 1);
  const prefill = (cuts: number[]) => {
    const c = model.createCache(1, ids.length + 2);
    c.keyMask.fill(1, 0, ids.length);
    let h = new Float32Array(0);
    let at = 0;
    for (const end of [...cuts, ids.length]) {
      const r = model.forward({ ids: Int32Array.from(ids.slice(at, end)), B: 1, T: end - at }, { cache: c, logits: 'none', hook: mix });
      h = r.hidden.slice((end - at - 1) * model.config.nEmbd, (end - at) * model.config.nEmbd); // [C] at the chunk's last position
      at = end;
    }
    return { c, h };
  };
  const whole = prefill([]);
  for (const cuts of [[24], [1, 17], [5, 6, 30]]) {
    const parts = prefill(cuts);
    assert.deepEqual(parts.h, whole.h, `last hidden state, cut at ${cuts.join(', ')}`);
    for (let l = 0; l < model.config.nLayer; l++) {
      assert.deepEqual(parts.c.k[l], whole.c.k[l], `layer ${l} keys, cut at ${cuts.join(', ')}`);
      assert.deepEqual(parts.c.v[l], whole.c.v[l], `layer ${l} values, cut at ${cuts.join(', ')}`);
    }
  }
});

test('requests prefilled from the prefix cache get the tokens they get without it, and /metrics counts what it restored', async (t) => {
  const withCache = await fx.serve({ maxBatch: 16 });
  if (!withCache.engine.prefixes || !withCache.registry.model.decodeWeights) return t.skip('no fp16 decode weights on this backend or CPU: the server keeps no prefixes');
  const without = await fx.serve({ maxBatch: 16, prefixCacheBytes: 0 });
  assert.equal(without.engine.prefixes, null);
  const reg = withCache.registry;
  const specs: SequenceSpec[] = Array.from({ length: 12 }, (_, i) => ({
    ids: reg.tokenizer.encode(alpacaPrompt(`${PROMPTS[i % 4]}${i >= 8 ? ' Answer briefly.' : ''}`)), maxNewTokens: 8, seed: i, stopAtEos: false, stops: [],
    mix: reg.resolve(['auto', ...EXPERTS, 'base'][i % 5], { instruction: PROMPTS[i % 4] }).mix,
    sampling: i % 3 === 2 ? { temperature: 0.9, topP: 0.95 } : { greedy: true },
  }));
  const want: SequenceResult[] = [];
  for (const sp of specs) want.push(await without.engine.submit(sp));
  const cold = await Promise.all(specs.map((sp) => withCache.engine.submit(sp))); // later ones find earlier ones' prefixes
  const warm = await Promise.all(specs.map((sp) => withCache.engine.submit(sp))); // every one finds its own prompt
  specs.forEach((_, i) => {
    assert.deepEqual(cold[i].tokenIds, want[i].tokenIds, `request ${i}, first time`);
    assert.deepEqual(warm[i].tokenIds, want[i].tokenIds, `request ${i}, again`);
  });
  const p = withCache.engine.prefixes;
  const again = specs.reduce((a, sp) => a + sp.ids.length - 1, 0);
  assert.ok(p.hitTokens > again, `restored ${p.hitTokens} tokens: every repeat all but its last token (${again}), and shared template heads`);
  const text = await (await fetch(withCache.url + '/metrics')).text();
  assert.equal(Number(/^loraroute_prefix_cache\{what="restored_tokens"\} (\d+)$/m.exec(text)?.[1]), p.hitTokens);
  assert.equal(Number(/^loraroute_prefix_cache\{what="entries"\} (\d+)$/m.exec(text)?.[1]), p.count);
});
