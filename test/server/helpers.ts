import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { EXPERTS, writeFixtureRun, type FixtureRun } from './fixture.js';
import { tempDir } from '../helpers/micro.js';
import { ModelRegistry, startServer, type RunningServer, type ServeOptions } from '../../src/server/server.js';

export const PROMPTS = [
  'Name three primary colors.',
  'Write a short poem about the sea, then explain what it means in two sentences.',
  'What is 12 times 7?',
  'Summarize the plot of a detective story in which the detective is the culprit.',
];

/** A fixture run (made once per test file) and servers on 127.0.0.1, port 0, closed by `cleanup`. */
export function fixture(): { run: () => FixtureRun; serve: (o?: ServeOptions) => Promise<RunningServer>; cleanup: () => Promise<void> } {
  const tmp = tempDir('loraroute-serve-');
  let run: FixtureRun | null = null;
  let registry: ModelRegistry | null = null;
  const servers: RunningServer[] = [];
  const getRun = () => (run ??= writeFixtureRun(tmp.dir));
  return {
    run: getRun,
    async serve(o: ServeOptions = {}) {
      registry ??= ModelRegistry.load({ modelDir: getRun().modelDir });
      // one registry (models in memory) per test file; adapters loaded at run time are per server in practice
      const s = await startServer(registry, { port: 0, ...o });
      servers.push(s);
      return s;
    },
    async cleanup() {
      for (const s of servers) await s.close(0);
      tmp.cleanup();
    },
  };
}

export function client(baseURL: string, apiKey = 'unused'): OpenAI {
  return new OpenAI({ baseURL: `${baseURL}/v1`, apiKey, maxRetries: 0, timeout: 60_000 });
}

interface Routing {
  policy: string;
  model: string;
  score: number;
  tier: number;
  probabilities: Record<string, number> | null;
  router_expert: string | null;
  mixture: Array<{ name: string; weight: number }>;
}

/** The `routing` extension field of a response. */
export function routingOf(x: unknown): Routing {
  const r = (x as { routing?: Routing }).routing;
  assert.ok(r && typeof r.score === 'number', 'response carries a routing field');
  return r;
}

/** Streams a completion; returns its text, the first chunk's routing and the finish reason. */
export async function streamCompletion(c: OpenAI, body: Record<string, unknown>): Promise<{ text: string; routing: Routing; finish: string | null; chunks: number }> {
  const stream = await c.completions.create({ ...body, stream: true } as unknown as OpenAI.CompletionCreateParamsStreaming);
  let text = '';
  let routing: Routing | null = null;
  let finish: string | null = null;
  let chunks = 0;
  for await (const ch of stream) {
    chunks++;
    routing ??= (ch as unknown as { routing?: Routing }).routing ?? null;
    text += ch.choices[0]?.text ?? '';
    finish = ch.choices[0]?.finish_reason ?? finish;
  }
  assert.ok(routing, 'the first chunk carries the routing');
  return { text, routing, finish, chunks };
}

/**
 * The client checks (run directly and through nginx): models list, completions and chat with auto / an
 * expert / base, the routing field and header, streaming equal to the non-streamed answer.
 */
export async function clientChecks(baseURL: string): Promise<void> {
  const c = client(baseURL);
  const models = await c.models.list();
  const ids = models.data.map((m) => m.id);
  assert.equal(ids[0], 'auto');
  for (const id of [...EXPERTS, 'one_lora', 'base']) assert.ok(ids.includes(id), `model ${id} listed`);
  assert.ok(models.data.every((m) => m.object === 'model'));

  const texts = new Map<string, string>();
  for (const model of ['auto', 'simple', 'complex', 'base']) {
    const { data, response } = await c.completions.create({ model, prompt: PROMPTS[0], max_tokens: 12, temperature: 0 }).withResponse();
    assert.equal(data.object, 'text_completion');
    assert.equal(data.model, model);
    assert.equal(data.choices.length, 1);
    assert.ok(['stop', 'length'].includes(data.choices[0].finish_reason));
    assert.ok(data.usage && data.usage.prompt_tokens > 20 && data.usage.completion_tokens >= 1 && data.usage.completion_tokens <= 12, 'usage counts');
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
    const r = routingOf(data);
    const header = response.headers.get('x-loraroute-expert');
    if (model === 'auto') {
      assert.equal(r.policy, 'auto');
      assert.ok(r.probabilities && Math.abs(Object.values(r.probabilities).reduce((a, b) => a + b, 0) - 1) < 1e-5);
      assert.equal(header, r.router_expert);
      assert.deepEqual(r.mixture.map((m) => m.name), [r.router_expert]);
    } else if (model === 'base') {
      assert.equal(r.policy, 'base');
      assert.equal(header, 'base');
      assert.deepEqual(r.mixture, []);
    } else {
      assert.equal(r.policy, 'forced');
      assert.equal(header, model);
    }
    texts.set(model, data.choices[0].text);
  }
  // each expert really is applied: the texts differ from the base model's
  assert.notEqual(texts.get('simple'), texts.get('base'));
  assert.notEqual(texts.get('complex'), texts.get('base'));

  const streamed = await streamCompletion(c, { model: 'simple', prompt: PROMPTS[0], max_tokens: 12, temperature: 0 });
  assert.equal(streamed.text, texts.get('simple'), 'streamed text = non-streamed text');
  assert.ok(streamed.chunks >= 3, 'text arrives in several chunks');
  assert.equal(streamed.routing.model, 'simple');

  const chat = await c.chat.completions.create({ model: 'medium', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: PROMPTS[2] }], max_tokens: 10 });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.equal(typeof chat.choices[0].message.content, 'string');
  assert.equal(routingOf(chat).mixture[0].name, 'medium');
  const chatStream = await c.chat.completions.create({ model: 'medium', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: PROMPTS[2] }], max_tokens: 10, stream: true, stream_options: { include_usage: true } });
  let content = '';
  let usage: OpenAI.CompletionUsage | null | undefined = null;
  for await (const ch of chatStream) {
    content += ch.choices[0]?.delta?.content ?? '';
    usage = ch.usage ?? usage;
  }
  assert.equal(content, chat.choices[0].message.content, 'streamed chat = chat');
  assert.equal(usage?.completion_tokens, chat.usage?.completion_tokens);
}
