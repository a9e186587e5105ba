/**
 * A per-step microbenchmark of the server's batched decode (src/server/batcher.ts): one decode step of B
 * rows (B = 1, 4, 8, 16, experts cycling auto/simple/medium/complex as in bench:serve) on the bundled tiny
 * GPT-2, greedy, through the batcher's own step (decodeRowsTokens: the forward, then the rows' tokens by
 * argmaxLogits), timed alone (median of many steps), then broken down by backend op (LM head's argmax,
 * LoRA, attention, ...) in wall time, each op's CPU time beside it (process.cpuUsage: all threads together;
 * it also counts what the pool's other thread spends around a short call, so it can exceed twice the wall
 * time). The step's own line gives its CPU time per step, and its median and fastest wall time.
 *
 * Then a ceiling: the most that batching B rows could give a server over requests served one at a time
 * (the bench:serve peer, measured here too) if everything but the engine cost nothing: a request alone takes
 * its peer time; in a full batch of B it takes its prefill (alone, as the batcher does it) plus its
 * other tokens at the B-row step's median wall time / B. Sampling, streaming, HTTP and the client are left
 * out, so a server measures below it.
 *
 * `node dist/bench/serve-step.js [--steps N] [--rows 1,16] [--tokens 64] [--shape tiny|gpt2] [--top N ops]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { percentile } from '../src/eval/stats.js';
import { alpacaPrompt } from '../src/data/template.js';
import { LoraMixture } from '../src/lora/mixture.js';
import { GPT2, type KVCache } from '../src/model/gpt2.js';
import { decodeRowsTokens, RowCaches } from '../src/server/decode-backend.js';
import { ModelRegistry } from '../src/server/registry.js';
import type { Backend } from '../src/tensor/backend.js';
import { writeFixtureRun } from '../test/server/fixture.js';
import { defaultConfig } from '../src/config/index.js';
import { PROMPTS } from '../test/server/helpers.js';
import { parseShape, printEngineHeader, SHAPES } from './common.js';
import { servePeerOne } from './serve-peer.js';
import { writeShapedModel } from './shaped-model.js';

const MODELS = ['auto', 'simple', 'medium', 'complex'];

/** CPU time of this process so far, ms (user + system, all threads). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * A backend that adds each call's wall time to `times` and its CPU time (all threads) to `cpu` under its op
 * name (matmuls also by shape). The CPU time of a short call also counts what the pool's other thread
 * spends around it (a worker polls for the next job before it sleeps), so the breakdown is by wall time.
 */
function timed(inner: Backend, times: Map<string, number>, cpu: Map<string, number>, calls: Map<string, number>): Backend {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const t0 = performance.now(), c0 = cpuMs();
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        let key = String(prop);
        if (prop === 'matmul') key += ` M${String(args[3])} N${String(args[4])} K${String(args[5])}`;
        if (prop === 'argmaxLogits') key += ` rows ${String(args[3])} V ${String(args[4])} C ${String(args[5])}`;
        times.set(key, (times.get(key) ?? 0) + performance.now() - t0);
        cpu.set(key, (cpu.get(key) ?? 0) + cpuMs() - c0);
        calls.set(key, (calls.get(key) ?? 0) + 1);
        return r;
      };
    },
  });
}

function main(): void {
  const { values } = parseArgs({ options: {
    steps: { type: 'string', default: '40' }, rows: { type: 'string', default: '1,4,8,16' }, tokens: { type: 'string', default: '64' },
    shape: { type: 'string', default: 'tiny' }, top: { type: 'string', default: '12' },
  } });
  const steps = Number(values.steps), tokens = Number(values.tokens), top = Number(values.top);
  const shape = parseShape(values.shape as string, 'bench:serve-step');
  const tmp = mkdtempSync(join(tmpdir(), 'loraroute-serve-step-'));
  try {
    const base = shape === 'gpt2' ? writeShapedModel(join(tmp, 'gpt2-shaped'), SHAPES.gpt2) : undefined;
    const reg = ModelRegistry.load({ modelDir: writeFixtureRun(tmp, defaultConfig().model.lora_rank, base).modelDir });
    const model = reg.model;
    const cfg = model.config;
    printEngineHeader();
    console.log(`bench:serve-step — fixture run on ${shape === 'gpt2' ? `${SHAPES.gpt2.label} (random weights)` : 'the bundled model'}`);
    // the peer: each of the four requests alone (after one warm-up pass), as bench:serve's sequential side
    const peerReqs = MODELS.map((m, i) => ({ model: m, prompt: PROMPTS[i % PROMPTS.length] }));
    for (const r of peerReqs) servePeerOne(reg, r, 4);
    const peerMs = peerReqs.map((r) => servePeerOne(reg, r, tokens).latencyMs);
    const peerMean = peerMs.reduce((a, x) => a + x, 0) / peerMs.length;
    console.log(`peer: a request of ${tokens} tokens alone (generateText) takes ${peerMean.toFixed(1)} ms (mean of ${peerMs.length}), ${(peerMean / tokens).toFixed(3)} ms per token`);
    const ceilings: string[] = [];
    for (const B of (values.rows as string).split(',').map(Number)) {
      const rows = new RowCaches(cfg);
      const times = new Map<string, number>();
      const opCpu = new Map<string, number>();
      const calls = new Map<string, number>();
      const inner = model.backend;
      const prof = timed(inner, times, opCpu, calls);
      const plain = new GPT2(cfg, model.weights, rows.wrap(inner));
      const profiled = new GPT2(cfg, model.weights, rows.wrap(prof));
      const adapters = reg.adapters;
      const mixPlain = new LoraMixture(adapters, plain.backend);
      const mixProf = new LoraMixture(adapters, profiled.backend);
      const gates = new Float32Array(B * adapters.length);
      const caches: KVCache[] = [];
      const prefillMs: number[] = [];
      const ids = new Int32Array(B);
      const pos = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        const r = reg.resolve(MODELS[b % 4], { instruction: PROMPTS[b % 4] });
        for (const m of r.mix) gates[b * adapters.length + adapters.indexOf(m.adapter)] = m.weight;
        const prompt = reg.tokenizer.encode(alpacaPrompt(PROMPTS[b % 4]));
        const c = model.createCache(1, prompt.length + 2 * steps + 8);
        c.keyMask.fill(1, 0, prompt.length);
        const mix1 = new LoraMixture(adapters, inner);
        mix1.setGates(gates.subarray(b * adapters.length, (b + 1) * adapters.length), 1);
        const p0 = performance.now();
        // as the batcher's prefill of a greedy request: the prompt alone, no logits (its first token is one
        // more row of a decode step's argmaxLogits)
        model.forward({ ids: Int32Array.from(prompt), B: 1, T: prompt.length }, { cache: c, logits: 'none', hook: mix1 });
        prefillMs.push(performance.now() - p0);
        caches.push(c);
        ids[b] = 100 + b;
        pos[b] = prompt.length;
      }
      const greedy = Array.from({ length: B }, () => ({ sampling: { greedy: true }, rng: () => 0 }));
      // as the batcher: the forward, then the greedy rows' tokens by argmaxLogits (the LM head's argmax)
      const step = (m: GPT2, mix: LoraMixture): Int32Array => {
        mix.setGates(gates, B);
        const t = decodeRowsTokens(model, m, rows, caches, { ids, positions: pos }, greedy, mix);
        for (let b = 0; b < B; b++) pos[b]++;
        return t;
      };
      const wall: number[] = [];
      let stepCpu = 0;
      for (let s = 0; s < steps; s++) {
        const w0 = performance.now(), t0 = cpuMs();
        ids.set(step(plain, mixPlain));
        stepCpu += cpuMs() - t0;
        wall.push(performance.now() - w0);
      }
      for (let s = 0; s < steps; s++) step(profiled, mixProf);
      const cpu = stepCpu / steps;
      console.log(`B=${String(B).padStart(2)}  step ${cpu.toFixed(3)} ms CPU (${(cpu / B).toFixed(3)} ms/row; wall median ${percentile(wall, 50).toFixed(3)}, fastest ${Math.min(...wall).toFixed(3)} ms)`);
      const stepMs = percentile(wall, 50), prefill = percentile(prefillMs, 50);
      ceilings.push(`B=${B}: ${(peerMean / (prefill + ((tokens - 1) * stepMs) / B)).toFixed(2)}x (prefill ${prefill.toFixed(2)} ms + ${tokens - 1} x ${stepMs.toFixed(3)} / ${B} ms)`);
      const sorted = [...times].sort((a, b) => b[1] - a[1]);
      const sum = sorted.reduce((a, [, t]) => a + t, 0);
      for (const [k, t] of sorted.slice(0, top)) {
        console.log(`    ${(t / steps).toFixed(3).padStart(7)} ms/step  ${((100 * t) / sum).toFixed(1).padStart(5)}%  (CPU ${((opCpu.get(k) ?? 0) / steps).toFixed(3).padStart(7)} ms)  ${String((calls.get(k) ?? 0) / steps).padStart(4)} calls  ${k}`);
      }
    }
    console.log(`ceiling of a server over the peer from the engine alone (${tokens}-token requests; nothing but prefill and decode steps costs time):`);
    for (const c of ceilings) console.log(`    ${c}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main();
