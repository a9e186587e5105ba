import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, PROMPTS, streamCompletion, client } from './helpers.js';
import { EXPERTS } from './fixture.js';
import type { SequenceResult, SequenceSpec } from '../../src/server/batcher.js';
import { LoraMixture } from '../../src/lora/mixture.js';
import { generateIds } from '../../src/model/generate.js';
import { NativeBackend } from '../../src/tensor/native.js';

const fx = fixture();
after(() => fx.cleanup());

/** 16 requests over 4 prompts and 5 models (auto, the three experts, base): at least 2 experts among them. */
const REQUESTS = Array.from({ length: 16 }, (_, i) => ({
  model: ['auto', ...EXPERTS, 'base'][i % 5], prompt: PROMPTS[i % PROMPTS.length], max_tokens: 10 + (i % 7), temperature: 0, ignore_eos: true,
}));

function histogram(metrics: string, name: string): { buckets: Map<string, number>; count: number } {
  const buckets = new Map<string, number>();
  for (const m of metrics.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)$`, 'gm'))) buckets.set(m[1], Number(m[2]));
  const count = Number(new RegExp(`^${name}_count (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
  return { buckets, count };
}

test('16 concurrent streams over several experts all finish, each with the tokens it gets alone', async () => {
  const s = await fx.serve({ maxBatch: 16 });
  const c = client(s.url);
  const alone: Array<Awaited<ReturnType<typeof streamCompletion>>> = [];
  for (const r of REQUESTS) alone.push(await streamCompletion(c, r));
  const before = histogram(await (await fetch(s.url + '/metrics')).text(), 'loraroute_batch_size');
  const together = await Promise.all(REQUESTS.map((r) => streamCompletion(c, r)));
  const experts = new Set(together.map((t) => t.routing.mixture[0]?.name ?? 'base'));
  assert.ok([...experts].filter((e) => e !== 'base').length >= 2, `at least 2 experts used: ${[...experts].join(', ')}`);
  together.forEach((t, i) => {
    assert.equal(t.finish, 'length', `request ${i} finished`);
    assert.equal(t.text, alone[i].text, `request ${i} (${REQUESTS[i].model}): batched text = alone text`);
  });
  // the check can fail: the same prompt gives different text under different experts
  const texts = REQUESTS.map((r, i) => ({ r, t: alone[i].text })).filter((x) => x.r.prompt === PROMPTS[0]).map((x) => x.t);
  assert.ok(new Set(texts).size >= 3, 'the experts give different answers to one prompt');
  // they were decoded together: passes with more than 8 rows (past one row block) happened
  const after = histogram(await (await fetch(s.url + '/metrics')).text(), 'loraroute_batch_size');
  const steps = after.count - before.count;
  const upTo8 = (after.buckets.get('8') ?? 0) - (before.buckets.get('8') ?? 0);
  assert.ok(steps > 0 && upTo8 < steps, `some decode passes had more than 8 rows (${steps - upTo8} of ${steps})`);
  assert.ok(steps < REQUESTS.reduce((a, r) => a + r.max_tokens, 0) / 2, `far fewer passes (${steps}) than tokens: rows shared passes`);
  // where the CPU screens the greedy LM head, the server says how many rows it decided
  const be = s.registry.model.backend;
  if (be instanceof NativeBackend && be.info().logitScreen === 'int8') {
    const screened = Number(/^loraroute_lm_head_screen_rows\{how="screened"\} (\d+)$/m.exec(await (await fetch(s.url + '/metrics')).text())?.[1]);
    assert.ok(screened >= 9 * (steps - upTo8), `the screen decided the greedy rows (${screened} rows; ${steps - upTo8} passes of more than 8)`);
  }
});

test('engine: rows that join a running batch, with their own sampling settings, get the tokens they get alone', async () => {
  const s = await fx.serve({ maxBatch: 16, prefillChunk: 16 });
  const reg = s.registry;
  const tok = reg.tokenizer;
  const specs: SequenceSpec[] = Array.from({ length: 12 }, (_, i) => {
    const r = reg.resolve(['auto', ...EXPERTS, 'base', 'one_lora'][i % 6], { instruction: PROMPTS[i % 4] });
    const sampled = i % 3 === 1;
    return {
      ids: tok.encode(`Instruction ${i}: ${PROMPTS[i % 4]}\n`.repeat(1 + (i % 3))), maxNewTokens: 6 + i, seed: 100 + i, stopAtEos: false, stops: [], mix: r.mix,
      // sampled rows: top-k and top-p, temperature alone, top-p alone (the native sampler's two walks)
      sampling: sampled ? [{ temperature: 0.9, topK: 40, topP: 0.95 }, { temperature: 0.8 }, { temperature: 1.1, topP: 0.9 }][Math.floor(i / 3) % 3] : { greedy: true },
    };
  });
  const alone: SequenceResult[] = [];
  for (const sp of specs) alone.push(await s.engine.submit(sp));
  // staggered: a third at once, then the rest while those decode
  const first = specs.slice(0, 4).map((sp) => s.engine.submit(sp));
  await new Promise((r) => setTimeout(r, 30));
  const rest = specs.slice(4).map((sp) => s.engine.submit(sp));
  const together = await Promise.all([...first, ...rest]);
  together.forEach((t, i) => {
    assert.equal(t.tokenIds.length, specs[i].maxNewTokens);
    assert.deepEqual(t.tokenIds, alone[i].tokenIds, `row ${i}: batched tokens = alone tokens`);
  });
  // sampling really is per row: the sampled rows differ from greedy on the same prompt and expert
  const greedy = await s.engine.submit({ ...specs[1], sampling: { greedy: true } });
  assert.notDeepEqual(greedy.tokenIds, alone[1].tokenIds);
});

test('engine: greedy rows (their first token one more row of a decode step) get what generateIds gives each alone', async () => {
  const s = await fx.serve({ maxBatch: 16 });
  const reg = s.registry;
  const adapters = reg.adapters;
  const specs: SequenceSpec[] = Array.from({ length: 6 }, (_, i) => ({
    ids: reg.tokenizer.encode(PROMPTS[i % 4]), maxNewTokens: 8 + i, seed: 0, stopAtEos: false, stops: [],
    mix: reg.resolve(['auto', ...EXPERTS, 'base'][i % 5], { instruction: PROMPTS[i % 4] }).mix, sampling: { greedy: true },
  }));
  const together = await Promise.all(specs.map((sp) => s.engine.submit(sp)));
  specs.forEach((sp, i) => {
    const hook = new LoraMixture(adapters, reg.model.backend);
    const gates = new Float32Array(adapters.length);
    for (const m of sp.mix) gates[adapters.indexOf(m.adapter)] = m.weight;
    hook.setGates(gates, 1);
    const [want] = generateIds(reg.model, [sp.ids], { greedy: true, maxNewTokens: sp.maxNewTokens, stopAtEos: false, hook });
    assert.deepEqual(together[i].tokenIds, want.tokenIds, `row ${i}: the server's tokens = generateIds'`);
  });
});
