import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createKVCache, shiftTargets } from '../../src/model/gpt2.js';
import { LoraRouteError } from '../../src/errors.js';
import { availableBackends } from '../helpers/golden.js';
import { maxAbs, maxDiff, microModel, randomIds } from '../helpers/micro.js';

const V = 97;
const rows = (x: Float32Array, from: number, to: number) => Float32Array.from(x.subarray(from * V, to * V));

for (const backend of availableBackends()) {
  describe(`GPT-2 forward on the micro model [${backend.name}]`, () => {
    // std 0.1: a less uniform model than GPT-2's 0.02 init, so differences show
    const model = microModel({ backend, std: 0.1 });

    test('KV-cache incremental decoding equals full recomputation at every new position', () => {
      const N = 14;
      const ids = randomIds(2 * N, 11);
      const full = rows(model.forward({ ids: Int32Array.from(ids), B: 2, T: N }, { logits: 'all' }).logits as Float32Array, 0, 2 * N);
      const tol = 1e-5 * Math.max(1, maxAbs(full));
      // prefill 5 tokens, then 1, 1, a chunk of 3, then 1 at a time (default positions continue from the cache)
      const cache = createKVCache(model.config, 2, N);
      const chunks = [5, 1, 1, 3, 1, 1, 1, 1];
      assert.equal(chunks.reduce((a, b) => a + b), N);
      let past = 0;
      for (const n of chunks) {
        const step = new Int32Array(2 * n);
        for (let b = 0; b < 2; b++) {
          for (let t = 0; t < n; t++) step[b * n + t] = ids[b * N + past + t];
          for (let t = 0; t < n; t++) cache.keyMask[b * N + past + t] = 1;
        }
        const got = model.forward({ ids: step, B: 2, T: n }, { cache, logits: 'all' }).logits as Float32Array;
        for (let b = 0; b < 2; b++) {
          const want = full.subarray((b * N + past) * V, (b * N + past + n) * V);
          const d = maxDiff(got.subarray(b * n * V, (b + 1) * n * V), want);
          assert.ok(d <= tol, `row ${b}, positions ${past}..${past + n - 1}: max |cached - full| = ${d}`);
        }
        past += n;
        assert.equal(cache.past, past);
      }
      assert.throws(() => model.forward({ ids: Int32Array.of(1, 2), B: 2, T: 1 }, { cache }), (e: unknown) =>
        e instanceof LoraRouteError && /KV cache has 14 slots, 15 needed/.test(e.message));
    });

    test('right padding: real tokens get the same logits and loss as the unpadded sequence', () => {
      const a = randomIds(5, 21);
      const b = randomIds(9, 22);
      const T = 9;
      const ids = new Int32Array(2 * T);
      const keyMask = new Int32Array(2 * T);
      const junk = randomIds(T, 23);
      for (let t = 0; t < T; t++) {
        ids[t] = t < a.length ? a[t] : junk[t]; // padding holds arbitrary ids
        keyMask[t] = t < a.length ? 1 : 0;
        ids[T + t] = b[t];
        keyMask[T + t] = 1;
      }
      const labels = ids.map((id, i) => (keyMask[i] ? id : -100));
      const batch = model.forward({ ids, B: 2, T, keyMask }, { logits: 'all', targets: shiftTargets(labels, 2, T) });
      const padded = Float32Array.from(batch.logits as Float32Array);
      const rowLoss = Array.from(batch.rowLoss);
      const alone = (seq: number[]) => {
        const r = model.forward({ ids: Int32Array.from(seq), B: 1, T: seq.length }, { logits: 'all', targets: shiftTargets(Int32Array.from(seq), 1, seq.length) });
        return { logits: Float32Array.from(r.logits as Float32Array), loss: r.rowLoss[0], count: r.rowCount[0] };
      };
      const ra = alone(a), rb = alone(b);
      const tol = 1e-5 * Math.max(1, maxAbs(padded));
      assert.ok(maxDiff(padded.subarray(0, a.length * V), ra.logits) <= tol);
      assert.ok(maxDiff(padded.subarray(T * V, 2 * T * V), rb.logits) <= tol);
      assert.ok(Math.abs(rowLoss[0] - ra.loss) < 1e-5 * ra.count, `padded row loss ${rowLoss[0]} vs alone ${ra.loss}`);
      assert.ok(Math.abs(rowLoss[1] - rb.loss) < 1e-5 * rb.count);
      assert.deepEqual(Array.from(batch.rowCount), [a.length - 1, b.length - 1]);
    });

    test('left padding with the attention mask and positions gives the unpadded logits (and the mask matters)', () => {
      const seq = randomIds(6, 31);
      const P = 3, T = P + seq.length;
      const ids = Int32Array.from([...randomIds(P, 32), ...seq]);
      const keyMask = Int32Array.from({ length: T }, (_, t) => (t < P ? 0 : 1));
      const positions = Int32Array.from({ length: T }, (_, t) => Math.max(0, t - P));
      const want = Float32Array.from(model.forward({ ids: Int32Array.from(seq), B: 1, T: seq.length }, { logits: 'all' }).logits as Float32Array);
      const got = Float32Array.from(model.forward({ ids, B: 1, T, keyMask, positions }, { logits: 'all' }).logits as Float32Array);
      const tol = 1e-5 * Math.max(1, maxAbs(want));
      const d = maxDiff(got.subarray(P * V), want);
      assert.ok(d <= tol, `max |masked - unpadded| = ${d}`);
      const unmasked = model.forward({ ids, B: 1, T, positions }, { logits: 'all' }).logits as Float32Array;
      assert.ok(maxDiff(unmasked.subarray(P * V), want) > 100 * tol, 'without the mask the padding should change the logits');
    });

    test('logits for chosen rows equal those rows of the full logits', () => {
      const ids = Int32Array.from(randomIds(2 * 7, 41));
      const full = Float32Array.from(model.forward({ ids, B: 2, T: 7 }, { logits: 'all' }).logits as Float32Array);
      const pick = Int32Array.of(6, 13, 2);
      const got = model.forward({ ids, B: 2, T: 7 }, { logits: pick }).logits as Float32Array;
      assert.equal(got.length, 3 * V);
      pick.forEach((r, i) => assert.ok(maxDiff(got.subarray(i * V, (i + 1) * V), full.subarray(r * V, (r + 1) * V)) <= 1e-5 * Math.max(1, maxAbs(full))));
    });
  });
}

describe('GPT-2 forward: errors a caller can cause', () => {
  const model = microModel();
  const isErr = (re: RegExp) => (e: unknown) => e instanceof LoraRouteError && re.test(e.message);

  test('shapes', () => {
    assert.throws(() => model.forward({ ids: new Int32Array(5), B: 2, T: 3 }), isErr(/5 entries, expected B\*T = 6/));
    assert.throws(() => model.forward({ ids: new Int32Array(0), B: 0, T: 3 }), isErr(/batch shape \[0, 3\] must have B > 0 and T > 0/));
    assert.throws(() => model.forward({ ids: new Int32Array(6), B: 2, T: 3, keyMask: new Int32Array(4) }), isErr(/attention mask has 4 entries, expected 6/));
  });

  test('token ids outside the vocabulary', () => {
    assert.throws(() => model.forward({ ids: Int32Array.of(1, 97, 3), B: 1, T: 3 }), isErr(/token id 97 at position 1 is outside the vocabulary \[0, 97\)/));
    assert.throws(() => model.forward({ ids: Int32Array.of(-1), B: 1, T: 1 }), isErr(/token id -1 at position 0/));
  });

  test('positions beyond n_positions', () => {
    assert.throws(() => model.forward({ ids: new Int32Array(65), B: 1, T: 65 }), isErr(/65 tokens is longer than the model's n_positions \(64\)/));
    assert.throws(() => model.forward({ ids: new Int32Array(2), B: 1, T: 2, positions: Int32Array.of(0, 64) }), isErr(/position id 64 is outside \[0, 64\)/));
    const cache = createKVCache(model.config, 1, 64);
    cache.past = 60;
    assert.throws(() => model.forward({ ids: new Int32Array(5), B: 1, T: 5 }, { cache }), isErr(/65 tokens is longer than the model's n_positions/));
  });
});

test('shiftTargets: labels moved left by one, -100 at the end of each row', () => {
  const labels = Int32Array.of(1, 2, 3, -100, 5, 6, 7, 8);
  assert.deepEqual(Array.from(shiftTargets(labels, 2, 4)), [2, 3, -100, -100, 6, 7, 8, -100]);
});
