import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundledModelDir } from '../../src/config/index.js';
import { loadGPT2, useHalfWeightsForDecode } from '../../src/model/load.js';
import { GPT2, type KVCache } from '../../src/model/gpt2.js';
import { makeRng } from '../../src/model/sampling.js';
import type { Backend } from '../../src/tensor/backend.js';
import { RowCaches } from '../../src/server/decode-backend.js';
import { gaussian } from '../helpers/micro.js';

const model = loadGPT2(bundledModelDir());
useHalfWeightsForDecode(model);
const rows = new RowCaches(model.config);
const wrapped = rows.wrap(model.backend);

function randomRows(M: number, K: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: M * K }, () => gaussian(rng));
}

test('decode matmuls: each of 16 rows gets bit-for-bit what it gets alone (LM head and an MLP weight)', (t) => {
  const C = model.config.nEmbd, V = model.config.vocabSize, H = model.config.nInner;
  const M = 16;
  const a = randomRows(M, C, 3);
  for (const [name, b, N, transB] of [['lm head', model.weights.wte, V, true], ['mlp.c_fc', model.weights.blocks[0].fcW, H, false]] as const) {
    const batched = new Float32Array(M * N);
    wrapped.matmul(batched, a, b, M, N, C, { transB });
    const plain = new Float32Array(M * N);
    model.backend.matmul(plain, a, b, M, N, C, { transB });
    let plainDiff = 0;
    for (let m = 0; m < M; m++) {
      const alone = new Float32Array(N);
      wrapped.matmul(alone, a.subarray(m * C, (m + 1) * C), b, 1, N, C, { transB });
      assert.deepEqual(batched.subarray(m * N, (m + 1) * N), alone, `${name}: row ${m} of ${M} = the row alone`);
      for (let j = 0; j < N; j++) plainDiff = Math.max(plainDiff, Math.abs(plain[m * N + j] - alone[j]));
    }
    // why the blocks: past ROW_BLOCK rows (src/tensor/row-blocks.ts) the native backend hands the product to sgemm, which rounds rows differently
    t.diagnostic(`${name} on the ${model.backend.name} backend: an unblocked ${M}-row product differs from the rows alone by up to ${plainDiff}`);
  }
});

test('decode matmuls with the fp16 decode weights: each of 2..16 rows gets bit-for-bit what it gets alone', () => {
  const C = model.config.nEmbd, V = model.config.vocabSize, H = model.config.nInner;
  const half = model.decodeWeights;
  // (the bundled model's weights are fp16 values: the copy is exact, and these equal the fp32 products)
  if (!half) return; // no fp16 copy on this backend or CPU: the fp32 test above covers the rows
  for (const M of [16, 11, 2]) {
    const a = randomRows(M, C, 10 + M);
    for (const [name, b, N, transB] of [['lm head', model.weights.wte, V, true], ['mlp.c_fc', model.weights.blocks[1].fcW, H, false]] as const) {
      const batched = new Float32Array(M * N);
      half.run(() => wrapped.matmul(batched, a, b, M, N, C, { transB }));
      for (let m = 0; m < M; m++) {
        const alone = new Float32Array(N);
        half.run(() => wrapped.matmul(alone, a.subarray(m * C, (m + 1) * C), b, 1, N, C, { transB }));
        assert.deepEqual(batched.subarray(m * N, (m + 1) * N), alone, `${name}: row ${m} of ${M} = the row alone`);
      }
    }
  }
});

test('RowCaches: a decode step needs begin(rows) and one token per row', () => {
  const C = model.config.nEmbd;
  const qkv = new Float32Array(3 * C);
  assert.throws(() => wrapped.attentionCached(new Float32Array(C), qkv, rows.cache.k[0], rows.cache.v[0], null, 0, 1, 1, C, model.config.nHead, 1), /begin\(rows\)/);
});

/** `inner` with a count of calls per op */
function counted(inner: Backend, calls: Map<string, number>): Backend {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

test('a decode step makes one attentionRows call per layer, and every row gets the logits it gets alone', () => {
  const cfg = model.config, V = cfg.vocabSize;
  const calls = new Map<string, number>();
  const rc = new RowCaches(cfg);
  const decode = new GPT2(cfg, model.weights, rc.wrap(counted(model.backend, calls)));
  const prompts = [[464, 2068, 7586], [40, 588, 257, 1643, 286, 11, 290], [15496]];
  // each row's prompt prefilled alone into its own cache, as the batcher does
  const prefill = (): KVCache[] => prompts.map((p) => {
    const c = model.createCache(1, p.length + 4);
    c.keyMask.fill(1, 0, p.length);
    model.forward({ ids: Int32Array.from(p), B: 1, T: p.length }, { cache: c, logits: 'none' });
    c.past = p.length;
    return c;
  });
  const step = (caches: KVCache[], rows: number[]): Float32Array => {
    const B = rows.length;
    rc.begin(rows.map((r) => caches[r]));
    try {
      const pass = () => decode.forward(
        { ids: Int32Array.from(rows, (r) => 100 + r), B, T: 1, positions: Int32Array.from(rows, (r) => prompts[r].length) },
        { cache: rc.cache, logits: Int32Array.from({ length: B }, (_, b) => b) },
      );
      return (model.decodeWeights ? model.decodeWeights.run(pass) : pass()).logits as Float32Array;
    } finally {
      rc.end();
    }
  };
  const batched = step(prefill(), [0, 1, 2]);
  assert.equal(calls.get('attentionRows'), cfg.nLayer, 'one attentionRows call per layer');
  assert.equal(calls.get('attentionCached') ?? 0, 0, 'no per-row attentionCached calls');
  const alone = prefill();
  for (let r = 0; r < prompts.length; r++) {
    assert.deepEqual(batched.subarray(r * V, (r + 1) * V), step(alone, [r]), `row ${r} of the batch = the row alone`);
  }
});
