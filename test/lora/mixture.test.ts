import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { shiftTargets } from '../../src/model/gpt2.js';
import { generateIds } from '../../src/model/generate.js';
import { LoraMixture } from '../../src/lora/mixture.js';
import type { PassInfo } from '../../src/model/hooks.js';
import { makeRng } from '../../src/model/sampling.js';
import { LoraRouteError } from '../../src/errors.js';
import { availableBackends } from '../helpers/golden.js';
import { gaussian, maxAbs, maxDiff, microAdapter, microModel, randomIds } from '../helpers/micro.js';

const V = 97;
const randn = (n: number, seed: number) => {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => gaussian(rng));
};

for (const backend of availableBackends()) {
  describe(`LoRA mixture [${backend.name}]`, () => {
    const model = microModel({ backend, std: 0.1 });
    const cfg = model.config;
    const a0 = microAdapter(cfg, { targetModules: ['c_attn', 'c_proj'] }, 1, 0.3, 'zero');
    const a1 = microAdapter(cfg, { targetModules: ['c_fc', 'attn.c_proj'], r: 2, loraAlpha: 16, useRslora: true }, 2, 0.3, 'one');
    const mix = new LoraMixture([a0, a1], backend);

    const logitsOf = (ids: Int32Array, B: number, T: number, hook: LoraMixture | null, keyMask?: Int32Array) =>
      Float32Array.from(model.forward({ ids, B, T, keyMask }, { hook, logits: 'all' }).logits as Float32Array);

    test('a different adapter (or none) per row equals each row alone with its adapter', () => {
      const T = 7;
      const lens = [7, 4, 6, 7];
      const choice = [1, -1, 0, 0];
      const ids = new Int32Array(4 * T);
      const keyMask = new Int32Array(4 * T);
      const seqs = lens.map((n, b) => randomIds(n, 100 + b));
      seqs.forEach((s, b) => s.forEach((id, t) => { ids[b * T + t] = id; keyMask[b * T + t] = 1; }));
      mix.route(choice);
      const batched = logitsOf(ids, 4, T, mix, keyMask);
      const scale = Math.max(1, maxAbs(batched));
      seqs.forEach((s, b) => {
        let hook: LoraMixture | null = null;
        if (choice[b] >= 0) { mix.useOnly(choice[b], 1); hook = mix; }
        const alone = logitsOf(Int32Array.from(s), 1, s.length, hook);
        const d = maxDiff(batched.subarray(b * T * V, (b * T + s.length) * V), alone);
        assert.ok(d <= 1e-5 * scale, `row ${b} (adapter ${choice[b]}): max diff ${d}`);
      });
      // and the adapters do change the output (else this proves nothing)
      const bare = logitsOf(ids, 4, T, null, keyMask);
      assert.ok(maxDiff(bare.subarray(0, 7 * V), batched.subarray(0, 7 * V)) > 1e-3 * scale);
      assert.ok(maxDiff(bare.subarray(2 * T * V, 3 * T * V), batched.subarray(2 * T * V, 3 * T * V)) > 1e-3 * scale);
      assert.equal(maxDiff(bare.subarray(T * V, (T + 4) * V), batched.subarray(T * V, (T + 4) * V)), 0, 'row routed to -1 is the bare base model');
    });

    test('batched generation with a different adapter per row equals each row alone', () => {
      const prompts = [randomIds(3, 1), randomIds(6, 2), randomIds(2, 3)];
      const choice = [0, 1, -1];
      mix.route(choice);
      const batched = generateIds(model, prompts, { hook: mix, maxNewTokens: 10, stopAtEos: false });
      const alone = prompts.map((p, b) => {
        if (choice[b] < 0) return generateIds(model, [p], { maxNewTokens: 10, stopAtEos: false })[0];
        mix.useOnly(choice[b], 1);
        return generateIds(model, [p], { hook: mix, maxNewTokens: 10, stopAtEos: false })[0];
      });
      assert.deepEqual(batched, alone);
      const base = generateIds(model, [prompts[0]], { maxNewTokens: 10, stopAtEos: false })[0];
      assert.notDeepEqual(batched[0].tokenIds, base.tokenIds, 'adapter 0 changes the tokens');
    });

    test('inference: rows of one adapter spread over the batch (gathered per gate value) get the bits of each row alone', () => {
      const T = 2, B = 7;
      // adapter 1 on rows 0, 2, 5 (not one run), a soft mixture on rows 3 and 6, nothing on row 4
      const gates = [0, 1, 1, 0, 0, 1, 0.25, 0.75, 0, 0, 0, 1, 0.25, 0.75];
      const site = { layer: 1, module: 'attn.c_proj' as const, inDim: 16, outDim: 16 };
      const x = randn(B * T * site.inDim, 31);
      const y0 = randn(B * T * site.outDim, 32);
      const batched = y0.slice();
      mix.setGates(gates, B);
      mix.forward(site, x, batched, { B, T, train: false, dropout: false, seed: 0 });
      for (let b = 0; b < B; b++) {
        const rowIn = T * site.inDim, rowOut = T * site.outDim;
        const alone = y0.slice(b * rowOut, (b + 1) * rowOut);
        mix.setGates(gates.slice(b * 2, b * 2 + 2), 1);
        mix.forward(site, x.subarray(b * rowIn, (b + 1) * rowIn), alone, { B: 1, T, train: false, dropout: false, seed: 0 });
        assert.deepEqual(batched.subarray(b * rowOut, (b + 1) * rowOut), alone, `row ${b}`);
      }
      assert.deepEqual(batched.subarray(4 * T * site.outDim, 5 * T * site.outDim), y0.subarray(4 * T * site.outDim, 5 * T * site.outDim), 'row 4 has no adapter');
    });

    test('one-hot gates equal route()', () => {
      const ids = Int32Array.from(randomIds(3 * 5, 7));
      mix.route([1, 0, -1]);
      const routed = logitsOf(ids, 3, 5, mix);
      mix.setGates([0, 1, 1, 0, 0, 0], 3);
      assert.deepEqual(logitsOf(ids, 3, 5, mix), routed);
    });

    test('the delta is linear in the gates: y(g) = y_base + sum_k g_k delta_k (rows with their own gates)', () => {
      const B = 3, T = 4;
      const pass: PassInfo = { B, T, train: false, dropout: false, seed: 0 };
      for (const site of [{ layer: 0, module: 'attn.c_proj' as const, inDim: 16, outDim: 16 }, { layer: 1, module: 'attn.c_attn' as const, inDim: 16, outDim: 48 }]) {
        const x = randn(B * T * site.inDim, 5);
        const yBase = randn(B * T * site.outDim, 6);
        const run = (gates: number[]) => {
          const y = yBase.slice();
          mix.setGates(gates, B);
          mix.forward(site, x, y, pass);
          return y;
        };
        const d0 = run([1, 0, 1, 0, 1, 0]).map((v, i) => v - yBase[i]);
        const d1 = run([0, 1, 0, 1, 0, 1]).map((v, i) => v - yBase[i]);
        const gates = [0.3, 0.7, 1, 0.5, 0, -0.2];
        const y = run(gates);
        for (let b = 0; b < B; b++) {
          for (let i = 0; i < T * site.outDim; i++) {
            const j = b * T * site.outDim + i;
            const want = yBase[j] + gates[2 * b] * d0[j] + gates[2 * b + 1] * d1[j];
            assert.ok(Math.abs(y[j] - want) <= 1e-5 * (1 + Math.abs(want)), `${site.module} row ${b}: ${y[j]} vs ${want}`);
          }
        }
        assert.ok(maxAbs(d0) > 1e-2);
        // adapter 1 has no c_attn: it adds nothing there
        if (site.module === 'attn.c_attn') assert.equal(maxAbs(d1), 0);
        else assert.ok(maxAbs(d1) > 1e-2);
      }
    });

    test('delta_k = scaling * x A^T B^T for a site, the PEFT formula', () => {
      const s = a1.site(0, 'attn.c_proj');
      assert.ok(s);
      assert.equal(s.scaling, 16 / Math.sqrt(2));
      const R = 3;
      const x = randn(R * 16, 9);
      const y = new Float32Array(R * 16);
      mix.setGates([0, 1], 1);
      mix.forward({ layer: 0, module: 'attn.c_proj', inDim: 16, outDim: 16 }, x, y, { B: 1, T: R, train: false, dropout: false, seed: 0 });
      for (let r = 0; r < R; r++) {
        for (let o = 0; o < 16; o++) {
          let want = 0;
          for (let k = 0; k < s.r; k++) {
            let xa = 0;
            for (let i = 0; i < 16; i++) xa += x[r * 16 + i] * s.A[k * 16 + i];
            want += xa * s.B[o * s.r + k];
          }
          want *= s.scaling;
          assert.ok(Math.abs(y[r * 16 + o] - want) < 1e-5 * (1 + Math.abs(want)));
        }
      }
    });

    test('LoRA dropout: on only when the pass says so, reproducible for a seed', () => {
      const ad = microAdapter(cfg, { targetModules: ['c_attn'], loraDropout: 0.5 }, 3, 0.3);
      const m = new LoraMixture([ad], backend);
      const site = { layer: 1, module: 'attn.c_attn' as const, inDim: 16, outDim: 48 };
      const B = 2, T = 3;
      const x = randn(B * T * 16, 10);
      const run = (train: boolean, dropout: boolean, seed: number) => {
        const y = new Float32Array(B * T * 48);
        m.useOnly(0, B);
        m.forward(site, x, y, { B, T, train, dropout, seed });
        return y;
      };
      const plain = run(false, false, 0);
      assert.deepEqual(run(true, false, 5), plain, 'training pass with dropout off');
      assert.deepEqual(run(false, false, 5), plain);
      const d5 = run(true, true, 5);
      assert.ok(maxDiff(d5, plain) > 1e-2, 'dropout changes the delta');
      assert.deepEqual(run(true, true, 5), d5, 'same seed, same mask');
      assert.ok(maxDiff(run(true, true, 6), d5) > 1e-2, 'another seed, another mask');
      // the whole model: train with dropouts on differs from eval, train with dropout: false equals it
      const ids = Int32Array.from(randomIds(2 * 6, 3));
      const targets = shiftTargets(ids, 2, 6);
      m.useOnly(0, 2);
      const evalLoss = model.forward({ ids, B: 2, T: 6 }, { hook: m, targets }).loss;
      assert.equal(model.forward({ ids, B: 2, T: 6 }, { hook: m, targets, train: true, dropout: false }).loss, evalLoss);
      const t1 = model.forward({ ids, B: 2, T: 6 }, { hook: m, targets, train: true, seed: 1 }).loss;
      assert.notEqual(t1, evalLoss);
      assert.equal(model.forward({ ids, B: 2, T: 6 }, { hook: m, targets, train: true, seed: 1 }).loss, t1);
    });
  });
}

describe('LoRA mixture: bookkeeping and errors', () => {
  const model = microModel();
  const a = microAdapter(model.config, { targetModules: ['c_attn'] });
  const b = microAdapter(model.config, { targetModules: ['mlp.c_proj'], layersToTransform: [1] });
  const mix = new LoraMixture([a, b], model.backend);

  test('applies only to modules some adapter targets', () => {
    assert.equal(mix.K, 2);
    assert.deepEqual(['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'].map((m) => mix.applies(m as 'attn.c_attn')), [true, false, false, true]);
  });

  test('adapters share the frozen base: no copy of it per adapter', () => {
    assert.equal(a.params.length, 2 * 4 * (16 + 48));
    assert.equal(b.params.length, 4 * (64 + 16));
    assert.ok(a.params.buffer !== model.weights.buffer.buffer);
    assert.equal(a.params.length + b.params.length < model.weights.buffer.length / 4, true);
  });

  test('errors name the row, the expert and the batch size', () => {
    const isErr = (re: RegExp) => (e: unknown) => e instanceof LoraRouteError && re.test(e.message);
    assert.throws(() => mix.route([0, 2]), isErr(/row 1: expert 2 is not in \[0, 2\) or -1/));
    assert.throws(() => mix.route([0.5]), isErr(/row 0: expert 0.5/));
    assert.throws(() => mix.setGates([1, 0, 0], 2), isErr(/gates have 3 entries, expected B\*K = 2\*2/));
    assert.throws(() => new LoraMixture([], model.backend), isErr(/at least one adapter/));
    mix.route([0, 1]);
    const ids = Int32Array.from(randomIds(3 * 4, 1));
    assert.throws(() => model.forward({ ids, B: 3, T: 4 }, { hook: mix }), isErr(/gates were set for 2 rows but the batch has 3/));
  });

  test('useOnly(k) without a row count follows the batch size (the README example with two prompts)', () => {
    const logitsOf = (ids: Int32Array, B: number, T: number, hook: LoraMixture | null) =>
      Float32Array.from(model.forward({ ids, B, T }, { hook, logits: 'all' }).logits as Float32Array);
    const ids2 = Int32Array.from(randomIds(2 * 5, 11));
    const ids3 = Int32Array.from(randomIds(3 * 5, 12));
    mix.useOnly(1, 2);
    const want2 = logitsOf(ids2, 2, 5, mix);
    mix.useOnly(1, 3);
    const want3 = logitsOf(ids3, 3, 5, mix);
    mix.useOnly(1);
    assert.deepEqual(logitsOf(ids2, 2, 5, mix), want2);
    assert.deepEqual(logitsOf(ids3, 3, 5, mix), want3);
    assert.ok(maxDiff(logitsOf(ids3, 3, 5, null), want3) > 1e-4, 'the adapter changes the output');
    mix.useOnly(-1);
    assert.deepEqual(logitsOf(ids3, 3, 5, mix), logitsOf(ids3, 3, 5, null), '-1 is the bare model for any batch');
    assert.throws(() => mix.useOnly(2), (e: unknown) => e instanceof LoraRouteError && /expert 2 is not in \[0, 2\) or -1/.test(e.message));
    mix.route([0, 1]); // a fixed row count again
    assert.throws(() => model.forward({ ids: ids3, B: 3, T: 5 }, { hook: mix }), /gates were set for 2 rows but the batch has 3/);
  });
});
