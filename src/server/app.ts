import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { LoraRouteError } from '../errors.js';
import { QueueFullError, ShuttingDownError, type Batcher, type SequenceResult, type SequenceSpec } from './batcher.js';
import { ApiError, badParam } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import { PLAYGROUND_HTML } from './playground.js';
import { parseChat, parseCompletion, parseJson, parseRoute, type Body, type GenerationParams, type ParseContext } from './protocol.js';
import type { ModelRegistry, Resolved } from './registry.js';

export const EXPERT_HEADER = 'X-LoraRoute-Expert';

export interface AppOptions {
  /** Required as `Authorization: Bearer KEY` on /v1/* when set. */
  apiKey?: string;
  /** Request bodies above this many bytes get a 413 (default 1 MiB). */
  maxBodyBytes?: number;
  /** Whether the server is shutting down (health answers 503). */
  closing?: () => boolean;
}

type Kind = 'completion' | 'chat';

/** The app's context: Node's request and response (@hono/node-server), and what a request resolved to. */
type AppEnv = { Bindings: HttpBindings; Variables: { model?: string; expert?: string } };
type AppContext = Context<AppEnv>;

function errorResponse(c: Context, e: ApiError): Response {
  for (const [k, v] of Object.entries(e.headers)) c.header(k, v);
  return c.json(e.toJSON(), e.status);
}

/** A user error from the engine or the registry as the HTTP error it stands for. */
function apiErrorOf(e: unknown): ApiError | null {
  if (e instanceof ApiError) return e;
  if (e instanceof QueueFullError) return new ApiError(429, e.message, null, 'rate_limit_exceeded', { 'Retry-After': '1' });
  if (e instanceof ShuttingDownError) return new ApiError(503, e.message, null, 'shutting_down');
  if (e instanceof LoraRouteError) {
    if (e.code === 'E_NOT_FOUND') return new ApiError(404, e.message, 'lora_name', 'model_not_found');
    if (e.code === 'E_MODEL') return new ApiError(400, e.message, 'model', 'model_not_found');
    return new ApiError(400, e.message, null, e.code === 'E_USER' ? 'invalid_request' : e.code.toLowerCase().replace(/^e_/, ''));
  }
  return null;
}

function sameKey(got: string, want: string): boolean {
  const a = Buffer.from(got), b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

const ENDPOINTS = new Set(['/', '/health', '/metrics', '/v1/models', '/v1/completions', '/v1/chat/completions', '/v1/route', '/v1/load_lora_adapter', '/v1/unload_lora_adapter']);

/** The HTTP API over a registry (models) and a batcher (generation). */
export function createApp(reg: ModelRegistry, engine: Batcher, metrics: ServerMetrics, o: AppOptions = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const cfg = reg.model.config;
  const ctx: ParseContext = { defaults: reg.config.generation, nPositions: cfg.nPositions, template: reg.routed !== null };

  app.use('*', async (c, next) => {
    const t0 = performance.now();
    await next();
    const endpoint = ENDPOINTS.has(c.req.path) ? c.req.path : 'other';
    metrics.requests.inc({ endpoint, model: c.get('model') ?? '', expert: c.get('expert') ?? '', status: String(c.res.status) });
    if (endpoint !== '/v1/completions' && endpoint !== '/v1/chat/completions') metrics.latency.observe({ endpoint }, (performance.now() - t0) / 1000);
  });
  app.use('/v1/*', async (c, next) => {
    if (o.apiKey) {
      const h = c.req.header('authorization') ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(h);
      if (!m || !sameKey(m[1].trim(), o.apiKey)) {
        return errorResponse(c, new ApiError(401, h ? 'invalid API key' : 'missing API key: send "Authorization: Bearer KEY"', null, 'invalid_api_key'));
      }
    }
    await next();
  });
  const maxBody = o.maxBodyBytes ?? 1 << 20;
  app.use('/v1/*', bodyLimit({ maxSize: maxBody, onError: (c) => errorResponse(c, new ApiError(413, `the request body is larger than ${maxBody} bytes`, 'body', 'request_too_large')) }));

  app.onError((e, c) => {
    const api = apiErrorOf(e);
    if (api) return errorResponse(c, api);
    console.error('loraroute serve: internal error:', e);
    return errorResponse(c, new ApiError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`, null, 'internal_error'));
  });
  app.notFound((c) => errorResponse(c, new ApiError(404, `no route ${c.req.method} ${c.req.path}`, null, 'not_found')));

  app.get('/', (c) => c.html(PLAYGROUND_HTML));
  app.get('/health', (c) => {
    const closing = o.closing?.() ?? false;
    return c.json({ status: closing ? 'shutting_down' : 'ok', queue: engine.queueLength, active: engine.activeCount, models: reg.list().length }, closing ? 503 : 200);
  });
  app.get('/metrics', async (c) => {
    c.header('Content-Type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });

  app.get('/v1/models', (c) => c.json({
    object: 'list',
    data: reg.list().map((e) => ({ id: e.id, object: 'model', created: reg.created, owned_by: 'loraroute', kind: e.kind, parent: e.adapter ? 'base' : null, root: e.path ?? null })),
  }));

  app.post('/v1/route', async (c) => {
    const prompts = parseRoute(parseJson(await c.req.text()));
    return c.json({ object: 'list', data: prompts.map((p) => reg.trace(p)) });
  });

  app.post('/v1/load_lora_adapter', async (c) => {
    const b = parseJson(await c.req.text());
    if (typeof b.lora_name !== 'string') throw badParam('lora_name', "'lora_name' (string) is required", 'invalid_type');
    if (typeof b.lora_path !== 'string') throw badParam('lora_path', "'lora_path' (a PEFT adapter folder on the server) is required", 'invalid_type');
    const e = reg.loadAdapter(b.lora_name, b.lora_path);
    return c.json({ id: e.id, object: 'model', status: 'loaded', root: e.path });
  });
  app.post('/v1/unload_lora_adapter', async (c) => {
    const b = parseJson(await c.req.text());
    if (typeof b.lora_name !== 'string') throw badParam('lora_name', "'lora_name' (string) is required", 'invalid_type');
    reg.unloadAdapter(b.lora_name, (a) => engine.uses(a));
    return c.json({ id: b.lora_name, object: 'model', status: 'unloaded' });
  });

  const generate = async (c: AppContext, kind: Kind): Promise<Response> => {
    const t0 = performance.now();
    const body: Body = parseJson(await c.req.text());
    const p = kind === 'chat' ? parseChat(body, ctx) : parseCompletion(body, ctx);
    c.set('model', p.model);
    const r = reg.resolve(p.model, p.instruction, p.topKExperts);
    const warnings: string[] = [];
    let ids = reg.tokenizer.encode(p.text);
    if (ids.length === 0) ids = [cfg.eosTokenId]; // an empty prompt starts from <|endoftext|>, GPT-2's BOS
    const budget = cfg.nPositions - p.maxTokens;
    if (ids.length > budget) {
      warnings.push(`the prompt has ${ids.length} tokens; kept the last ${budget} so that max_tokens = ${p.maxTokens} new tokens fit the context of ${cfg.nPositions}`);
      ids = ids.slice(ids.length - budget);
    }
    const ac = new AbortController();
    c.req.raw.signal.addEventListener('abort', () => ac.abort());
    const greedy = p.temperature <= 0;
    const spec: SequenceSpec = {
      ids, maxNewTokens: p.maxTokens, sampling: { greedy, temperature: p.temperature, topK: p.topK, topP: p.topP }, seed: p.seed,
      stopAtEos: !p.ignoreEos, stops: p.stops, mix: r.mix, signal: ac.signal,
    };
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replace(/-/g, '')}`;
    const created = Math.floor(Date.now() / 1000);
    const head = { id, object: kind === 'chat' ? 'chat.completion' : 'text_completion', created, model: p.model };
    const extra = { routing: r.routing, ...(warnings.length ? { warnings } : {}) };
    c.set('expert', r.expert);
    c.header(EXPERT_HEADER, r.expert);
    const done = (res: SequenceResult) => {
      metrics.latency.observe({ endpoint: kind === 'chat' ? '/v1/chat/completions' : '/v1/completions' }, (performance.now() - t0) / 1000);
      return { prompt_tokens: res.promptTokens, completion_tokens: res.tokenIds.length, total_tokens: res.promptTokens + res.tokenIds.length };
    };
    if (!p.stream) {
      const res = await engine.submit(spec);
      const usage = done(res);
      const finish = res.finishReason === 'length' ? 'length' : 'stop';
      const choice = kind === 'chat'
        ? { index: 0, message: { role: 'assistant', content: res.text }, logprobs: null, finish_reason: finish }
        : { index: 0, text: res.text, logprobs: null, finish_reason: finish };
      return c.json({ ...head, choices: [choice], usage, ...extra });
    }
    return streamResponse(c, kind, engine, spec, p, head, extra, ac, done);
  };
  app.post('/v1/completions', (c) => generate(c, 'completion'));
  app.post('/v1/chat/completions', (c) => generate(c, 'chat'));
  return app;
}

/** A string no text contains, whose place in a chunk's JSON the text takes (textChunk). */
const TEXT_MARK = '\u0000loraroute-text\u0000';

/**
 * Server-sent events in OpenAI's chunk format; the first chunk carries `routing`; ends with `data: [DONE]`.
 * Events are written straight to Node's response, one write each (a decode step wakes every stream once):
 * hono's streamSSE goes through a web TransformStream and @hono/node-server's reader, which cost about
 * 35 µs more per event, a tenth of a 16-row decode step. Text that arrives while a write is buffered
 * (a slow client) is sent together in the next event.
 */
function streamResponse(
  c: AppContext, kind: Kind, engine: Batcher, spec: SequenceSpec, p: GenerationParams, head: { id: string; object: string; created: number; model: string },
  extra: { routing: Resolved['routing']; warnings?: string[] }, ac: AbortController, done: (r: SequenceResult) => object,
): Response {
  const res = c.env.outgoing;
  const pending: string[] = [];
  let wake: (() => void) | null = null;
  let result: SequenceResult | null = null;
  let failure: unknown = null;
  const notify = () => { const w = wake; wake = null; w?.(); };
  spec.onText = (t) => { pending.push(t); notify(); };
  // submitted before the response starts, so that a full queue is still a 429
  engine.submit(spec).then((r) => { result = r; notify(); }, (e: unknown) => { failure = e; notify(); });
  const object = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  const chunk = (text: string | null, finish: string | null, more: object = {}) => JSON.stringify({
    ...head, object,
    choices: [kind === 'chat'
      ? { index: 0, delta: text === null ? {} : { content: text }, logprobs: null, finish_reason: finish }
      : { index: 0, text: text ?? '', logprobs: null, finish_reason: finish }],
    ...more,
  });
  // a text chunk is chunk(text, null) with only the text changing: the JSON around it is made once
  const [before, after] = chunk(TEXT_MARK, null).split(JSON.stringify(TEXT_MARK));
  const textChunk = (text: string) => before + JSON.stringify(text) + after;
  const closed = () => ac.signal.aborted || res.destroyed;
  ac.signal.addEventListener('abort', notify);
  res.on('close', () => { if (!res.writableFinished) ac.abort(); });
  res.on('drain', notify);
  const send = (data: string) => res.write(`data: ${data}\n\n`);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive',
    'X-Accel-Buffering': 'no', // nginx: pass events through as they come
    [EXPERT_HEADER]: c.get('expert') ?? '',
  });
  const events = async () => {
    send(kind === 'chat'
      ? JSON.stringify({ ...head, object, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...extra })
      : chunk('', null, extra));
    for (;;) {
      if (closed()) return;
      if (pending.length && !res.writableNeedDrain) {
        send(textChunk(pending.splice(0).join('')));
        continue;
      }
      if (!pending.length && (result || failure)) break;
      await new Promise<void>((r) => { wake = r; });
    }
    if (failure) {
      const api = apiErrorOf(failure) ?? new ApiError(500, failure instanceof Error ? failure.message : String(failure), null, 'internal_error');
      send(JSON.stringify(api.toJSON()));
    } else {
      const r = result as unknown as SequenceResult;
      const usage = done(r);
      send(chunk(null, r.finishReason === 'length' ? 'length' : 'stop'));
      if (p.includeUsage) send(JSON.stringify({ ...head, object, choices: [], usage }));
    }
    res.end('data: [DONE]\n\n');
  };
  events().catch((e: unknown) => {
    // a bug must not take the server down: end this stream, free its row
    console.error('loraroute serve: internal error while streaming:', e);
    ac.abort();
    res.destroy(e instanceof Error ? e : new Error(String(e)));
  });
  return RESPONSE_ALREADY_SENT;
}
