import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmax, isGreedy, makeRng, sampleRows, sampleToken, topKIds, type RowSampler, type SamplingOptions } from '../../src/model/sampling.js';
import type { Backend } from '../../src/tensor/backend.js';
import { loadNativeBackend } from '../../src/tensor/native.js';
import { ReferenceBackend } from '../../src/tensor/reference.js';

/** Frequencies of each token over n draws. */
function frequencies(logits: number[], o: SamplingOptions, n = 20000, seed = 1): number[] {
  const rng = makeRng(seed);
  const x = Float32Array.from(logits);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[sampleToken(x, o, rng)]++;
  return counts.map((c) => c / n);
}

function softmax(x: number[], T = 1): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp((v - m) / T));
  const s = e.reduce((a, b) => a + b);
  return e.map((v) => v / s);
}

const close = (got: number[], want: number[], tol = 0.015) =>
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < tol, `token ${i}: frequency ${g}, expected ${want[i]} (all: ${got})`));

test('greedy is the argmax (first of ties); temperature 0 or unset is greedy', () => {
  assert.equal(argmax(Float32Array.of(1, 3, 3, 2)), 1);
  assert.ok(isGreedy({}));
  assert.ok(isGreedy({ temperature: 0 }));
  assert.ok(isGreedy({ temperature: 1, greedy: true }));
  assert.ok(!isGreedy({ temperature: 0.7 }));
  const rng = makeRng(1);
  assert.equal(sampleToken(Float32Array.of(0, 5, 1), { temperature: 0 }, rng), 1);
});

test('argmax: NaN is never larger, so a row that starts with NaN gives 0', () => {
  assert.equal(argmax(Float32Array.of(NaN, 3, 5)), 0);
  assert.equal(argmax(Float32Array.of(1, NaN, 5, NaN, 5)), 2);
  assert.equal(argmax(Float32Array.of(-Infinity, -Infinity)), 0);
});

const backends: Backend[] = [new ReferenceBackend(), ...[loadNativeBackend()].filter((b) => b !== null)];
for (const be of backends) {
  test(`sampleRows on the ${be.name} backend: every row gets the token sampleToken gives it alone; null rows are skipped`, () => {
    const V = 50257;
    // (a top-k past V, even past 2^31, keeps every token)
    const settings: (SamplingOptions | null)[] = [{}, { temperature: 0.8, topK: 40 }, null, { greedy: true }, { temperature: 1, topP: 0.9 }, { temperature: 0 }, { temperature: 0.9, topK: 3e9 }];
    const rows = settings.length;
    const rng = makeRng(9);
    const logits = Float32Array.from({ length: rows * V }, () => 4 * (rng() - 0.5));
    logits[3 * V + 7] = 50; // a clear winner in the greedy row 3
    const samplers = settings.map((o, r): RowSampler | null => (o ? { sampling: o, rng: makeRng(100 + r) } : null));
    const got = sampleRows(be, logits, V, samplers);
    settings.forEach((o, r) => {
      if (o) assert.equal(got[r], sampleToken(logits.subarray(r * V, (r + 1) * V), o, makeRng(100 + r)), `row ${r}`);
    });
    assert.equal(got[3], 7);
  });
}

test('temperature sampling follows softmax(logits / T)', () => {
  const logits = [1.0, 0.2, -0.5, 0.6];
  close(frequencies(logits, { temperature: 1 }), softmax(logits));
  close(frequencies(logits, { temperature: 0.5 }), softmax(logits, 0.5));
  close(frequencies(logits, { temperature: 2 }), softmax(logits, 2));
});

test('top-k keeps the k most likely tokens, renormalised', () => {
  const logits = [0.1, 1.0, -2, 0.8, 0.5];
  const p = softmax(logits);
  const z = p[1] + p[3];
  close(frequencies(logits, { temperature: 1, topK: 2 }), [0, p[1] / z, 0, p[3] / z, 0]);
});

test('top-p keeps the smallest set reaching p, renormalised', () => {
  const probs = [0.15, 0.5, 0.05, 0.3];
  const logits = probs.map(Math.log);
  // sorted: 0.5, 0.3 (0.8 >= 0.7) -> tokens 1 and 3
  close(frequencies(logits, { temperature: 1, topP: 0.7 }), [0, 0.5 / 0.8, 0, 0.3 / 0.8]);
  // 0.5 alone is below 0.55, so 1, 3 again; 0.4 is reached by token 1 alone
  close(frequencies(logits, { temperature: 1, topP: 0.55 }), [0, 0.5 / 0.8, 0, 0.3 / 0.8]);
  close(frequencies(logits, { temperature: 1, topP: 0.4 }), [0, 1, 0, 0]);
  close(frequencies(logits, { temperature: 1, topP: 1 }), probs);
});

test('makeRng: same seed same stream, uniform in [0, 1)', () => {
  const a = makeRng(42), b = makeRng(42), c = makeRng(43);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(Array.from({ length: 1000 }, () => b()), xs);
  assert.notDeepEqual(Array.from({ length: 1000 }, () => c()), xs);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05);
});

/**
 * The oracle: the sorting implementation sampleToken had before it stopped sorting the vocabulary (kept
 * here verbatim). The new one must draw the same token for the same random stream.
 */
function sortingSampleToken(logits: Float32Array, o: SamplingOptions, rng: () => number): number {
  if (isGreedy(o)) return argmax(logits);
  const T = o.temperature as number;
  const V = logits.length;
  let idx = Array.from({ length: V }, (_, i) => i);
  idx.sort((a, b) => logits[b] - logits[a]);
  const k = o.topK && o.topK > 0 ? Math.min(o.topK, V) : V;
  idx = idx.slice(0, k);
  const max = logits[idx[0]];
  const p = idx.map((i) => Math.exp((logits[i] - max) / T));
  const sum = p.reduce((a, b) => a + b, 0);
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  let n = p.length;
  const topP = o.topP ?? 1;
  if (topP < 1) {
    let c = 0;
    for (let i = 0; i < p.length; i++) {
      c += p[i];
      if (c >= topP) { n = i + 1; break; }
    }
  }
  let mass = 0;
  for (let i = 0; i < n; i++) mass += p[i];
  let r = rng() * mass;
  for (let i = 0; i < n; i++) {
    r -= p[i];
    if (r <= 0) return idx[i];
  }
  return idx[n - 1];
}

/** logits like a language model's: a few large, a long tail, some ties (quantised) */
function lmLogits(V: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  const x = new Float32Array(V);
  for (let i = 0; i < V; i++) {
    const u = rng();
    x[i] = Math.round((u < 0.002 ? 8 + 4 * rng() : 3 * Math.log(rng() + 1e-9)) * 64) / 64;
  }
  return x;
}

test('topKIds gives the k best ids, best first, ties by smaller id', () => {
  const x = Float32Array.of(1, 5, 3, 5, -2, 3, 9);
  assert.deepEqual(Array.from(topKIds(x, 4)), [6, 1, 3, 2]);
  const big = lmLogits(5000, 3);
  const sorted = Array.from({ length: big.length }, (_, i) => i).sort((a, b) => big[b] - big[a]);
  assert.deepEqual(Array.from(topKIds(big, 50)), sorted.slice(0, 50));
});

test('seeded: the same tokens as the sorting implementation, for every mix of temperature, top-k and top-p', () => {
  const V = 4000;
  const configs: SamplingOptions[] = [
    { temperature: 1, topK: 50, topP: 0.95 },
    { temperature: 0.7, topK: 10 },
    { temperature: 1.3, topP: 0.9 },
    { temperature: 1 },
    { temperature: 0.5, topK: V + 5, topP: 0.5 },
    { temperature: 2, topK: 1 },
  ];
  for (const [ci, o] of configs.entries()) {
    for (let row = 0; row < 4; row++) {
      const logits = lmLogits(V, 100 * ci + row);
      if (row === 3) logits.fill(-Infinity, 0, 2000); // masked-out tokens
      const a = makeRng(7 + row), b = makeRng(7 + row);
      const got: number[] = [], want: number[] = [];
      for (let i = 0; i < 300; i++) {
        got.push(sampleToken(logits, o, a));
        want.push(sortingSampleToken(logits, o, b));
      }
      assert.deepEqual(got, want, `config ${JSON.stringify(o)}, row ${row}`);
      if (ci < 4) assert.ok(new Set(got).size > 1, `the draws vary (${JSON.stringify(o)})`);
    }
  }
});

test('seeded: with GPT-2\'s vocabulary, the same tokens as the sorting implementation, without its cost', () => {
  const logits = lmLogits(50257, 42);
  const o = { temperature: 1, topK: 50, topP: 0.95 };
  const a = makeRng(1), b = makeRng(1);
  let tNew = 0, tOld = 0;
  for (let i = 0; i < 20; i++) {
    let t0 = performance.now();
    const x = sampleToken(logits, o, a);
    tNew += performance.now() - t0;
    t0 = performance.now();
    const y = sortingSampleToken(logits, o, b);
    tOld += performance.now() - t0;
    assert.equal(x, y);
  }
  // a full sort of 50,257 ids costs milliseconds; the selection a fraction of that (loose: shared CI machines)
  assert.ok(tNew < tOld, `selection ${tNew.toFixed(1)} ms vs sort ${tOld.toFixed(1)} ms for 20 draws`);
});
