import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundledModelDir } from '../../src/config/index.js';
import { loadGPT2, useHalfWeightsForDecode } from '../../src/model/load.js';
import { makeRng } from '../../src/model/sampling.js';
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
    // why the blocks: past DECODE_ROW_BLOCK rows the native backend hands the product to sgemm, which rounds rows differently
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
