/**
 * OpenAI request bodies → what the batcher needs, with every field checked (a wrong one is a 400 naming it).
 * Extension fields: `raw` (completions: send the prompt as is, no template), `top_k`, `ignore_eos`,
 * `top_k_experts` (auto: mix the k most likely experts).
 */
import type { GenerationConfig } from '../config/index.js';
import { alpacaPrompt } from '../data/template.js';
import type { Instruction } from '../system/routed-model.js';
import { badParam } from './errors.js';

export type Body = Record<string, unknown>;

export interface GenerationParams {
  model: string;
  /** What the analyzer and router read. */
  instruction: Instruction;
  /** The text that is tokenized (template applied unless raw). */
  text: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  stops: string[];
  stream: boolean;
  includeUsage: boolean;
  ignoreEos: boolean;
  topKExperts?: number;
}

export interface ParseContext {
  /** Defaults for absent fields (the run's `generation` config). */
  defaults: GenerationConfig;
  /** n_positions: max_tokens must leave room for at least one prompt token. */
  nPositions: number;
  /** Whether prompts are wrapped in the Alpaca template (a trained run) by default. */
  template: boolean;
}

/** Parses a JSON body; a malformed one is a 400. */
export function parseJson(text: string): Body {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw badParam('body', `the request body is not valid JSON (${(e as Error).message})`, 'invalid_json');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badParam('body', 'the request body must be a JSON object', 'invalid_json');
  return v as Body;
}

function typed<T>(b: Body, key: string, kind: 'string' | 'number' | 'boolean' | 'integer', def: T): T {
  const v = b[key];
  if (v === undefined || v === null) return def;
  const ok = kind === 'integer' ? Number.isInteger(v) : typeof v === kind;
  if (!ok) throw badParam(key, `'${key}' must be ${kind === 'integer' ? 'an integer' : `a ${kind}`}, got ${JSON.stringify(v)}`, 'invalid_type');
  return v as T;
}

function inRange(key: string, v: number, lo: number, hi: number, loOpen = false): number {
  if (!(loOpen ? v > lo : v >= lo) || v > hi) throw badParam(key, `'${key}' must be in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${v}`);
  return v;
}

/** The model id (required). */
export function modelOf(b: Body): string {
  const m = b.model;
  if (typeof m !== 'string' || m.length === 0) throw badParam('model', "'model' is required: a model id from GET /v1/models (e.g. \"auto\")", 'missing_model');
  return m;
}

/** Sampling and length fields shared by completions and chat. */
function common(b: Body, ctx: ParseContext, maxKey: string): Omit<GenerationParams, 'model' | 'instruction' | 'text'> {
  const n = typed(b, 'n', 'integer', 1);
  if (n !== 1) throw badParam('n', `only n = 1 is supported, got ${n}`, 'unsupported_value');
  const maxTokens = typed<number>(b, maxKey, 'integer', typed<number>(b, 'max_tokens', 'integer', ctx.defaults.max_new_tokens));
  if (maxTokens < 1) throw badParam(maxKey, `'${maxKey}' must be at least 1, got ${maxTokens}`);
  if (maxTokens >= ctx.nPositions) throw badParam(maxKey, `'${maxKey}' = ${maxTokens} does not fit the model's context of ${ctx.nPositions} tokens (at most ${ctx.nPositions - 1})`, 'context_length_exceeded');
  const temperature = inRange('temperature', typed(b, 'temperature', 'number', ctx.defaults.temperature), 0, 2);
  const topP = inRange('top_p', typed(b, 'top_p', 'number', ctx.defaults.top_p), 0, 1, true);
  const topK = typed(b, 'top_k', 'integer', ctx.defaults.top_k);
  if (topK < 0) throw badParam('top_k', `'top_k' must be >= 0, got ${topK}`);
  const seed = typed(b, 'seed', 'integer', ctx.defaults.seed);
  let stops: string[] = [];
  const stop = b.stop;
  if (typeof stop === 'string') stops = [stop];
  else if (Array.isArray(stop) && stop.length <= 4 && stop.every((s) => typeof s === 'string')) stops = stop as string[];
  else if (stop !== undefined && stop !== null) throw badParam('stop', "'stop' must be a string or an array of at most 4 strings", 'invalid_type');
  const stream = typed(b, 'stream', 'boolean', false);
  const so = b.stream_options;
  if (so !== undefined && so !== null && (typeof so !== 'object' || Array.isArray(so))) throw badParam('stream_options', "'stream_options' must be an object", 'invalid_type');
  const includeUsage = so ? typed(so as Body, 'include_usage', 'boolean', false) : false;
  const ignoreEos = typed(b, 'ignore_eos', 'boolean', false);
  const tke = b.top_k_experts === undefined ? undefined : typed<number>(b, 'top_k_experts', 'integer', 1);
  if (tke !== undefined && tke < 1) throw badParam('top_k_experts', `'top_k_experts' must be >= 1, got ${tke}`);
  return { maxTokens, temperature, topP, topK, seed, stops, stream, includeUsage, ignoreEos, topKExperts: tke };
}

/** POST /v1/completions: `prompt` is the instruction (wrapped in the run's template unless `raw: true`). */
export function parseCompletion(b: Body, ctx: ParseContext): GenerationParams {
  const model = modelOf(b);
  let prompt = b.prompt;
  if (Array.isArray(prompt) && prompt.length === 1) prompt = prompt[0];
  if (typeof prompt !== 'string') throw badParam('prompt', "'prompt' must be a string (or an array of one string)", 'invalid_type');
  const raw = typed(b, 'raw', 'boolean', !ctx.template);
  const input = typed<string | undefined>(b, 'input', 'string', undefined);
  const instruction: Instruction = { instruction: prompt, input };
  return { model, instruction, text: raw ? prompt : alpacaPrompt(prompt, input), ...common(b, ctx, 'max_tokens') };
}

interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

function messages(b: Body): Message[] {
  const m = b.messages;
  if (!Array.isArray(m) || m.length === 0) throw badParam('messages', "'messages' must be a non-empty array of {role, content}", 'invalid_type');
  return m.map((x: unknown, i) => {
    const param = `messages[${i}]`;
    if (typeof x !== 'object' || x === null) throw badParam(param, `${param} must be an object {role, content}`, 'invalid_type');
    const { role, content } = x as Body;
    if (role !== 'system' && role !== 'user' && role !== 'assistant' && role !== 'developer') throw badParam(`${param}.role`, `${param}.role must be "system", "developer", "user" or "assistant", got ${JSON.stringify(role)}`);
    let text: string;
    if (typeof content === 'string') text = content;
    else if (Array.isArray(content) && content.every((p) => typeof p === 'object' && p !== null && (p as Body).type === 'text' && typeof (p as Body).text === 'string')) {
      text = content.map((p) => (p as Body).text as string).join('');
    } else throw badParam(`${param}.content`, `${param}.content must be a string or an array of {type: "text", text} parts`, 'invalid_type');
    return { role: role === 'developer' ? 'system' : role, content: text };
  });
}

/**
 * POST /v1/chat/completions. With a trained run, the last user message is the instruction and the turns
 * before it (system included) become its input, one "role: content" line each; the Alpaca template wraps
 * both, as for a completion. Without a run: the turns as "role: content" lines, then "assistant:".
 */
export function parseChat(b: Body, ctx: ParseContext): GenerationParams {
  const model = modelOf(b);
  const msgs = messages(b);
  const last = msgs[msgs.length - 1];
  if (last.role !== 'user') throw badParam(`messages[${msgs.length - 1}].role`, 'the last message must be from the user', 'invalid_value');
  const before = msgs.slice(0, -1).map((m) => `${m.role}: ${m.content}`).join('\n');
  const instruction: Instruction = { instruction: last.content, input: before || undefined };
  const text = ctx.template ? alpacaPrompt(last.content, before || undefined) : [...msgs.map((m) => `${m.role}: ${m.content}`), 'assistant:'].join('\n');
  return { model, instruction, text, ...common(b, ctx, 'max_completion_tokens') };
}

/** POST /v1/route: `prompts` (or `prompt`): strings or {instruction, input}. */
export function parseRoute(b: Body): Instruction[] {
  const v = b.prompts ?? b.prompt;
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || list.length > 1024) throw badParam('prompts', "'prompts' must hold 1 to 1024 prompts");
  return list.map((p: unknown, i) => {
    if (typeof p === 'string') return { instruction: p };
    if (typeof p === 'object' && p !== null && typeof (p as Body).instruction === 'string' && ((p as Body).input === undefined || typeof (p as Body).input === 'string')) {
      return { instruction: (p as Body).instruction as string, input: (p as Body).input as string | undefined };
    }
    throw badParam(`prompts[${i}]`, `prompts[${i}] must be a string or {instruction, input?}`, 'invalid_type');
  });
}
