/**
 * useHalfWeightsForDecode: only KV-cache decode steps read the fp16 copy of the weights. Short passes
 * (a 5-token forward, a 5-token prefill, scoring) stay exactly fp32, and the copy follows writes to the
 * weights (mergeAdapter, unmergeAdapter, loadWeights): a decode step after a merge gives the merged
 * model's output, within fp16 rounding. Skipped without the native addon or F16C.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createKVCache, GPT2, type ForwardResult } from '../../src/model/gpt2.js';
import { useHalfWeightsForDecode } from '../../src/model/load.js';
import { loadWeights, viewWeights, weightLayout } from '../../src/model/weights.js';
import type { GPT2Config } from '../../src/model/config.js';
import type { WeightSource } from '../../src/io/weights.js';
import { weightsVersion } from '../../src/model/weights-version.js';
import { mergeAdapter, unmergeAdapter } from '../../src/lora/merge.js';
import { loadNativeBackend } from '../../src/tensor/native.js';
import { assertExact } from '../backend/util.js';
import { maxAbs, maxDiff, microAdapter, microModel, randomIds } from '../helpers/micro.js';

const native = loadNativeBackend();
const hasHalf = native !== null && native.halfWeights(new Float32Array(8)) !== null;

describe('fp16 weights for decode steps only', { skip: hasHalf ? false : 'no native addon, or no F16C on this CPU' }, () => {
  const be = native as NonNullable<typeof native>;
  const ids = Int32Array.from(randomIds(5, 31));
  const PROMPT = 4;

  const copyOf = (m: GPT2): GPT2 => new GPT2(m.config, viewWeights(m.config, m.weights.buffer.slice()), be);
  const logits = (r: ForwardResult): Float32Array => Float32Array.from(r.logits as Float32Array);
  /** a 4-token prefill through a cache, then one decode step (ids[4]); returns the step's logits */
  const decodeStep = (m: GPT2): Float32Array => {
    const cache = createKVCache(m.config, 1, PROMPT + 1);
    cache.keyMask.fill(1);
    m.forward({ ids: ids.subarray(0, PROMPT), B: 1, T: PROMPT }, { cache, logits: 'none' });
    return logits(m.forward({ ids: ids.subarray(PROMPT), B: 1, T: 1 }, { cache, logits: 'all' }));
  };
  // fp16 rounding of the weights: ~5e-4 relative per weight; a generous bound for the micro model's logits
  const fp16Tol = (ref: Float32Array): number => 2e-2 * Math.max(1, maxAbs(ref));

  test('generation caches are fp16 with the fp16 decode weights and fp32 without them; createKVCache names a bad dtype', () => {
    const m = copyOf(microModel({ backend: be, std: 0.1 }));
    const c32 = m.createCache(2, 7);
    assert.equal(c32.dtype, 'float32');
    assert.ok(c32.k.every((a) => a instanceof Float32Array && a.length === 2 * 7 * m.config.nEmbd));
    assert.ok(useHalfWeightsForDecode(m));
    const c16 = m.createCache(2, 7);
    assert.equal(c16.dtype, 'float16');
    assert.ok([...c16.k, ...c16.v].every((a) => a instanceof Uint16Array && a.length === 2 * 7 * m.config.nEmbd));
    useHalfWeightsForDecode(m, false);
    assert.equal(m.createCache(1, 3).dtype, 'float32');
    assert.throws(() => createKVCache(m.config, 1, 3, 'bfloat16' as 'float16'), /createKVCache: dtype must be 'float32' or 'float16' \(got "bfloat16"\)/);
  });

  test('a decode step through fp16 caches differs from the fp32-cache step by the rounding of keys and values only', () => {
    const m = copyOf(microModel({ backend: be, std: 0.1 }));
    const step = (dtype: 'float16' | 'float32'): Float32Array => {
      const c = createKVCache(m.config, 1, PROMPT + 1, dtype);
      c.keyMask.fill(1);
      m.forward({ ids: ids.subarray(0, PROMPT), B: 1, T: PROMPT }, { cache: c, logits: 'none' });
      return logits(m.forward({ ids: ids.subarray(PROMPT), B: 1, T: 1 }, { cache: c, logits: 'all' }));
    };
    const half = step('float16'), full = step('float32');
    const d = maxDiff(half, full);
    assert.ok(d > 0 && d <= fp16Tol(full), `fp16 cache vs fp32 cache: ${d}`);
  });

  test('a 5-token forward and scoring are exactly fp32; a 5-token prefill into a cache reads the fp16 copy, as decode steps do', () => {
    const model = microModel({ backend: be, std: 0.1 });
    const fp32 = copyOf(model); // same weights, fp32 only
    const targets = Int32Array.from([3, 5, -100, 7, 11]);
    const run = (m: GPT2) => {
      const full = logits(m.forward({ ids, B: 1, T: 5 }, { logits: 'all' }));
      const cache = createKVCache(m.config, 1, 5);
      cache.keyMask.fill(1);
      const prefill = logits(m.forward({ ids, B: 1, T: 5 }, { cache, logits: 'all' }));
      const loss = m.forward({ ids, B: 1, T: 5 }, { targets }).loss;
      return { full, prefill, loss };
    };
    assert.ok(useHalfWeightsForDecode(model));
    const got = run(model);
    const want = run(fp32);
    assertExact(got.full, want.full, '5-token forward');
    assert.equal(got.loss, want.loss, 'scoring loss');
    assert.ok(maxDiff(got.prefill, want.prefill) > 0, 'the prefill reads the fp16 copy');
    assert.ok(maxDiff(got.prefill, want.prefill) < fp16Tol(want.prefill), `prefill within fp16 rounding: ${maxDiff(got.prefill, want.prefill)}`);
    // while the decode step does read fp16 (close to fp32, not equal)
    const step = decodeStep(model);
    const step32 = decodeStep(fp32);
    assert.ok(maxDiff(step, step32) > 0, 'the decode step reads the fp16 copy');
    assert.ok(maxDiff(step, step32) < fp16Tol(step32), `decode step within fp16 rounding: ${maxDiff(step, step32)}`);
    useHalfWeightsForDecode(model, false);
    assertExact(decodeStep(model), step32, 'switched off: the decode step is fp32 again');
  });

  test('after mergeAdapter (and unmergeAdapter) a decode step follows the weights', () => {
    const model = microModel({ backend: be, std: 0.1 });
    const unmerged32 = decodeStep(copyOf(model));
    const adapter = microAdapter(model.config, { targetModules: ['c_attn', 'c_proj', 'c_fc'] }, 9, 0.3);
    const merged = copyOf(model);
    mergeAdapter(merged.weights, adapter, be);
    const merged32 = decodeStep(merged);
    const tol = fp16Tol(merged32);
    assert.ok(maxDiff(merged32, unmerged32) > 10 * tol, `the adapter moves the logits (${maxDiff(merged32, unmerged32)})`);

    assert.ok(useHalfWeightsForDecode(model));
    decodeStep(model); // the copy of the unmerged weights is in use
    mergeAdapter(model.weights, adapter, be);
    const afterMerge = decodeStep(model);
    assert.ok(maxDiff(afterMerge, merged32) < tol, `decode after merge vs merged fp32: ${maxDiff(afterMerge, merged32)} (unmerged: ${maxDiff(afterMerge, unmerged32)})`);
    unmergeAdapter(model.weights, adapter, be);
    const afterUnmerge = decodeStep(model);
    assert.ok(maxDiff(afterUnmerge, unmerged32) < tol, `decode after unmerge vs unmerged fp32: ${maxDiff(afterUnmerge, unmerged32)}`);
  });

  test('every API that writes the weight buffer moves its version', () => {
    const model = microModel({ backend: be });
    const buf = model.weights.buffer;
    const adapter = microAdapter(model.config);
    let v = weightsVersion(buf);
    mergeAdapter(model.weights, adapter, be);
    assert.ok(weightsVersion(buf) > v, 'mergeAdapter');
    v = weightsVersion(buf);
    unmergeAdapter(model.weights, adapter, be);
    assert.ok(weightsVersion(buf) > v, 'unmergeAdapter');
    v = weightsVersion(buf);
    const copy = buf.slice();
    loadWeights(model.config, memorySource(model.config, copy), buf);
    assert.ok(weightsVersion(buf) > v, 'loadWeights into the buffer');
  });
});

/** The tensors of a weight buffer as a WeightSource (names and shapes from weightLayout, no prefix). */
function memorySource(cfg: GPT2Config, buffer: Float32Array): WeightSource {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let off = 0;
  for (const t of weightLayout(cfg)) {
    const n = t.shape.reduce((x, y) => x * y, 1);
    tensors.set(t.name, { shape: t.shape, data: buffer.subarray(off, off + n) });
    off += n;
  }
  const get = (k: string) => tensors.get(k) ?? assert.fail(`no tensor ${k}`);
  return {
    path: '<memory>',
    names: () => [...tensors.keys()].sort(),
    has: (k) => tensors.has(k),
    info: (k) => ({ dtype: 'F32', shape: get(k).shape, byteLength: 4 * get(k).data.length }),
    getF32: (k) => get(k).data.slice(),
    getI32: () => assert.fail('not used'),
    getRaw: () => assert.fail('not used'),
  };
}
