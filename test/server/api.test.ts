import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { client, clientChecks, fixture, PROMPTS, routingOf, streamCompletion } from './helpers.js';

const fx = fixture();
after(() => fx.cleanup());

async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: { error?: { message: string; type: string; param: string | null; code: string | null } } & Record<string, unknown>; headers: Headers }> {
  const r = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, json: await r.json() as never, headers: r.headers };
}

/** An OpenAI-style error: the status, and {error: {message, type, param, code}} with a message. */
function assertError(r: { status: number; json: Record<string, unknown> }, status: number, param?: string | null): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  const e = r.json.error as { message: string; type: string; param: string | null; code: string | null };
  assert.ok(e && typeof e.message === 'string' && e.message.length > 5, 'error.message');
  assert.equal(typeof e.type, 'string');
  assert.ok('param' in e && 'code' in e, 'error.param and error.code present');
  if (param !== undefined) assert.equal(e.param, param);
}

test('openai client: models, completions and chat with auto / expert / base, routing, streaming', async () => {
  const s = await fx.serve();
  await clientChecks(s.url);
});

test('openai client: an adapter loaded at run time is served, listed, then unloaded', async () => {
  const s = await fx.serve();
  const c = client(s.url);
  const load = await post(s.url, '/v1/load_lora_adapter', { lora_name: 'extra', lora_path: fx.run().extraAdapter });
  assert.equal(load.status, 200, JSON.stringify(load.json));
  assert.ok((await c.models.list()).data.some((m) => m.id === 'extra'));
  const { data, response } = await c.completions.create({ model: 'extra', prompt: PROMPTS[0], max_tokens: 8 }).withResponse();
  assert.equal(response.headers.get('x-loraroute-expert'), 'extra');
  const base = await c.completions.create({ model: 'base', prompt: PROMPTS[0], max_tokens: 8 });
  assert.notEqual(data.choices[0].text, base.choices[0].text, 'the loaded adapter changes the answer');
  assertError(await post(s.url, '/v1/load_lora_adapter', { lora_name: 'extra', lora_path: fx.run().extraAdapter }), 400); // name taken
  assertError(await post(s.url, '/v1/unload_lora_adapter', { lora_name: 'simple' }), 400); // part of the run
  const unload = await post(s.url, '/v1/unload_lora_adapter', { lora_name: 'extra' });
  assert.equal(unload.status, 200);
  assert.ok(!(await c.models.list()).data.some((m) => m.id === 'extra'));
  await assert.rejects(c.completions.create({ model: 'extra', prompt: 'x', max_tokens: 2 }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'model');
  assertError(await post(s.url, '/v1/unload_lora_adapter', { lora_name: 'extra' }), 404);
  assertError(await post(s.url, '/v1/load_lora_adapter', { lora_name: 'nope', lora_path: '/does/not/exist' }), 400);
});

test('bad input gets OpenAI-style errors and the server keeps serving', async () => {
  const s = await fx.serve({ maxBodyBytes: 4096 });
  const u = s.url;
  assertError(await post(u, '/v1/completions', '{"model": "auto", "prompt": '), 400, 'body');
  assertError(await post(u, '/v1/completions', '[1, 2]'), 400, 'body');
  assertError(await post(u, '/v1/completions', { prompt: 'x' }), 400, 'model');
  assertError(await post(u, '/v1/completions', { model: 'no-such-model', prompt: 'x' }), 400, 'model');
  assertError(await post(u, '/v1/completions', { model: 'auto', prompt: 42 }), 400, 'prompt');
  assertError(await post(u, '/v1/completions', { model: 'auto', prompt: 'x', max_tokens: 0 }), 400, 'max_tokens');
  assertError(await post(u, '/v1/completions', { model: 'auto', prompt: 'x', max_tokens: 1.5 }), 400, 'max_tokens');
  assertError(await post(u, '/v1/completions', { model: 'auto', prompt: 'x', max_tokens: 512 }), 400, 'max_tokens'); // n_positions = 512
  assertError(await post(u, '/v1/completions', { model: 'auto', prompt: 'x', temperature: 'hot' }), 400, 'temperature');
  assertError(await post(u, '/v1/completions', { model: 'auto', prompt: 'x', temperature: 3 }), 400, 'temperature');
  assertError(await post(u, '/v1/completions', { model: 'auto', prompt: 'x', top_p: 0 }), 400, 'top_p');
  assertError(await post(u, '/v1/completions', { model: 'auto', prompt: 'x', stop: [1] }), 400, 'stop');
  assertError(await post(u, '/v1/completions', { model: 'auto', prompt: 'x', n: 2 }), 400, 'n');
  assertError(await post(u, '/v1/completions', { model: 'auto', prompt: 'x', stream: 'yes' }), 400, 'stream');
  assertError(await post(u, '/v1/chat/completions', { model: 'auto', messages: [] }), 400, 'messages');
  assertError(await post(u, '/v1/chat/completions', { model: 'auto', messages: [{ role: 'robot', content: 'x' }] }), 400, 'messages[0].role');
  assertError(await post(u, '/v1/chat/completions', { model: 'auto', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y' }] }), 400);
  assertError(await post(u, '/v1/route', { prompts: [3] }), 400, 'prompts[0]');
  assertError(await post(u, '/v1/completions', { model: 'auto', prompt: 'x'.repeat(5000) }), 413);
  const nf = await fetch(u + '/v1/nothing-here');
  assertError({ status: nf.status, json: await nf.json() as Record<string, unknown> }, 404);
  // the openai client sees the same errors
  await assert.rejects(client(u).completions.create({ model: 'auto', prompt: 'x', max_tokens: 0 }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'max_tokens' && e.type === 'invalid_request_error');
  const ok = await client(u).completions.create({ model: 'base', prompt: 'still up?', max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
});

test('API key: wrong or missing key is a 401; the right one works', async () => {
  const s = await fx.serve({ apiKey: 'sekrit' });
  await assert.rejects(client(s.url, 'wrong').models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError && e.code === 'invalid_api_key');
  const r = await fetch(s.url + '/v1/models');
  assertError({ status: r.status, json: await r.json() as Record<string, unknown> }, 401);
  const models = await client(s.url, 'sekrit').models.list();
  assert.equal(models.data[0].id, 'auto');
  assert.equal((await fetch(s.url + '/health')).status, 200, 'health needs no key');
});

test('a full queue answers 429 with Retry-After', async () => {
  const s = await fx.serve({ maxBatch: 1, maxQueue: 0 });
  const c = client(s.url);
  const long = c.completions.create({ model: 'base', prompt: PROMPTS[1], max_tokens: 200, stream: true, ignore_eos: true } as unknown as OpenAI.CompletionCreateParamsStreaming);
  const stream = await long;
  const it = stream[Symbol.asyncIterator]();
  await it.next(); // the first request holds the only row
  const r = await post(s.url, '/v1/completions', { model: 'base', prompt: 'x', max_tokens: 2 });
  assertError(r, 429);
  assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After');
  stream.controller.abort();
  // the aborted stream frees its row at the next step
  for (let i = 0; i < 100 && s.engine.activeCount > 0; i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(s.engine.activeCount, 0, 'a disconnected client frees its slot');
  const ok = await c.completions.create({ model: 'base', prompt: 'x', max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
});

test('a prompt longer than the context is cut from the left, with a warning', async () => {
  const s = await fx.serve();
  const long = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
  const r = await post(s.url, '/v1/completions', { model: 'base', prompt: long, max_tokens: 100, raw: true });
  assert.equal(r.status, 200);
  const usage = r.json.usage as { prompt_tokens: number };
  assert.equal(usage.prompt_tokens, 512 - 100);
  const w = r.json.warnings as string[];
  assert.ok(Array.isArray(w) && /kept the last 412/.test(w[0]), JSON.stringify(w));
  const short = await post(s.url, '/v1/completions', { model: 'base', prompt: 'short', max_tokens: 4 });
  assert.equal(short.json.warnings, undefined);
});

test('route in bulk, stop strings, raw prompts, health and Prometheus metrics', async () => {
  const s = await fx.serve();
  const route = await post(s.url, '/v1/route', { prompts: PROMPTS });
  const data = route.json.data as Array<{ score: number; tier: number; probabilities: Record<string, number>; features: Record<string, number> }>;
  assert.equal(data.length, PROMPTS.length);
  for (const d of data) {
    assert.ok(d.score >= 0 && d.score <= 1 && [0, 1, 2].includes(d.tier));
    assert.deepEqual(Object.keys(d.probabilities), ['simple', 'medium', 'complex']);
    assert.ok(d.features.words > 0);
  }
  assert.ok(data[1].features.words > data[0].features.words);

  const c = client(s.url);
  const free = await c.completions.create({ model: 'base', prompt: PROMPTS[0], max_tokens: 16 });
  const text = free.choices[0].text;
  assert.ok(text.length > 4, text);
  const stop = text.slice(2, 4);
  const stopped = await c.completions.create({ model: 'base', prompt: PROMPTS[0], max_tokens: 16, stop });
  assert.equal(stopped.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(stopped.choices[0].finish_reason, 'stop');
  const streamedStop = await streamCompletion(c, { model: 'base', prompt: PROMPTS[0], max_tokens: 16, stop });
  assert.equal(streamedStop.text, stopped.choices[0].text);
  const raw = await c.completions.create({ model: 'base', prompt: PROMPTS[0], max_tokens: 4, raw: true } as OpenAI.CompletionCreateParamsNonStreaming);
  assert.ok(raw.usage && free.usage && raw.usage.prompt_tokens < free.usage.prompt_tokens, 'raw: no template');
  assert.equal(routingOf(raw).policy, 'base');

  const health = await (await fetch(s.url + '/health')).json() as { status: string };
  assert.equal(health.status, 'ok');
  const m = await fetch(s.url + '/metrics');
  assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
  const text2 = await m.text();
  for (const name of ['loraroute_requests_total', 'loraroute_queue_length', 'loraroute_batch_size_bucket', 'loraroute_tokens_per_second', 'loraroute_time_to_first_token_seconds_bucket', 'loraroute_generated_tokens_total']) {
    assert.ok(text2.includes(name), name);
  }
  assert.match(text2, /loraroute_requests_total\{endpoint="\/v1\/completions",model="base",expert="base",status="200"\} [3-9]/);
});

test('a streamed response on the wire: SSE headers, the expert header, one event per chunk, [DONE] last; a slow reader still gets every token', async () => {
  const s = await fx.serve();
  const r = await fetch(s.url + '/v1/completions', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'simple', prompt: PROMPTS[2], max_tokens: 12, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } }),
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.equal(r.headers.get('x-loraroute-expert'), 'simple');
  assert.equal(r.headers.get('x-accel-buffering'), 'no');
  assert.equal(r.headers.get('cache-control'), 'no-cache');
  // read slowly: the server coalesces what it could not write yet, and loses nothing
  const reader = (r.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let raw = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    raw += dec.decode(value, { stream: true });
    await new Promise((res) => setTimeout(res, 5));
  }
  const events = raw.split('\n\n').filter((e) => e.length > 0);
  assert.ok(events.every((e) => e.startsWith('data: ')), 'every event is one data line');
  assert.equal(events.at(-1), 'data: [DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { choices: Array<{ text?: string; finish_reason: string | null }>; usage?: { completion_tokens: number }; routing?: unknown });
  assert.ok(chunks[0].routing, 'the first chunk carries routing');
  assert.equal(chunks.at(-1)?.usage?.completion_tokens, 12);
  assert.equal(chunks.at(-2)?.choices[0].finish_reason, 'length');
  const text = chunks.map((c) => c.choices[0]?.text ?? '').join('');
  const whole = await post(s.url, '/v1/completions', { model: 'simple', prompt: PROMPTS[2], max_tokens: 12, temperature: 0, ignore_eos: true });
  assert.equal(text, (whole.json.choices as Array<{ text: string }>)[0].text, 'streamed text = the non-streamed completion');
});
