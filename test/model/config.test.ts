import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGPT2Config } from '../../src/model/config.js';
import { randomWeights, viewWeights, weightLayout } from '../../src/model/weights.js';
import { LoraRouteError } from '../../src/errors.js';
import { MICRO_RAW, microConfig } from '../helpers/micro.js';

const isErr = (re: RegExp) => (e: unknown) => e instanceof LoraRouteError && re.test(e.message);

test('parseGPT2Config reads the HF keys and fills GPT-2 defaults', () => {
  const c = microConfig();
  assert.deepEqual(c, {
    nLayer: 2, nHead: 2, nEmbd: 16, nPositions: 64, vocabSize: 97, nInner: 64, layerNormEpsilon: 1e-5,
    embdPdrop: 0.1, attnPdrop: 0.1, residPdrop: 0.1, eosTokenId: 96,
  });
  assert.equal(parseGPT2Config({ ...MICRO_RAW, n_inner: 24, n_positions: undefined, n_ctx: 32 }).nInner, 24);
  assert.equal(parseGPT2Config({ ...MICRO_RAW, n_positions: undefined, n_ctx: 32 }).nPositions, 32);
  // an eos id outside the vocabulary falls back to the last id
  assert.equal(parseGPT2Config({ ...MICRO_RAW, eos_token_id: 50256 }).eosTokenId, 96);
  assert.equal(parseGPT2Config({ ...MICRO_RAW, activation_function: 'gelu_pytorch_tanh' }).nEmbd, 16);
});

test('parseGPT2Config refuses what it does not implement, naming the file and key', () => {
  assert.throws(() => parseGPT2Config({ ...MICRO_RAW, activation_function: 'relu' }, 'm/config.json'), isErr(/m\/config\.json: activation_function "relu" is not supported/));
  assert.throws(() => parseGPT2Config({ ...MICRO_RAW, n_embd: 10, n_head: 3 }), isErr(/config\.json: n_embd \(10\) must be divisible by n_head \(3\)/));
  assert.throws(() => parseGPT2Config({ ...MICRO_RAW, n_layer: 0 }), isErr(/"n_layer" must be a positive integer, got 0/));
  assert.throws(() => parseGPT2Config({ ...MICRO_RAW, vocab_size: '97' }), isErr(/"vocab_size" must be a positive integer, got "97"/));
  assert.throws(() => parseGPT2Config({ ...MICRO_RAW, n_head: undefined }), isErr(/"n_head" must be a positive integer/));
  assert.throws(() => parseGPT2Config({ ...MICRO_RAW, model_type: 'llama' }), isErr(/model_type "llama" is not supported/));
  assert.throws(() => parseGPT2Config({ ...MICRO_RAW, attn_pdrop: 1 }), isErr(/"attn_pdrop" must be a number in \[0, 1\)/));
  assert.throws(() => parseGPT2Config({ ...MICRO_RAW, layer_norm_epsilon: 0 }), isErr(/"layer_norm_epsilon" must be a positive number/));
  assert.throws(() => parseGPT2Config({ ...MICRO_RAW, scale_attn_by_inverse_layer_idx: true }), isErr(/"scale_attn_by_inverse_layer_idx: true" is not supported/));
});

test('weights: one buffer in HF order, views of the right sizes; randomWeights is seeded', () => {
  const cfg = microConfig();
  const total = weightLayout(cfg).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  const w = viewWeights(cfg);
  assert.equal(w.buffer.length, total);
  assert.equal(w.wte.length, 97 * 16);
  assert.equal(w.wpe.length, 64 * 16);
  assert.equal(w.blocks[1].qkvW.length, 16 * 48);
  assert.equal(w.blocks[1].fcProjW.length, 64 * 16);
  assert.equal(w.wte.byteOffset, 0);
  assert.equal(w.lnfB.byteOffset + w.lnfB.byteLength, w.buffer.byteLength);
  assert.throws(() => viewWeights(cfg, new Float32Array(total - 1)));
  const a = randomWeights(cfg, 3), b = randomWeights(cfg, 3), c = randomWeights(cfg, 4);
  assert.deepEqual(a.buffer, b.buffer);
  assert.notDeepEqual(a.buffer, c.buffer);
  assert.ok(a.blocks.every((bl) => bl.ln1W.every((x) => x === 1) && bl.qkvB.every((x) => x === 0)));
  let sq = 0;
  for (const x of a.wte) sq += x * x;
  const std = Math.sqrt(sq / a.wte.length);
  assert.ok(std > 0.017 && std < 0.023, `wte std ${std}`);
});
