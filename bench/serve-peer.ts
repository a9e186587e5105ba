/**
 * The peer of the serving benches: one request served alone, without a server, by generateText with the
 * request's expert (the registry's routed choice for `auto`), greedy or with the request's sampling and
 * seed (as the server seeds each request), <|endoftext|> ignored.
 */
import { alpacaPrompt } from '../src/data/template.js';
import { LoraMixture } from '../src/lora/mixture.js';
import { generateText } from '../src/model/text.js';
import type { ModelRegistry } from '../src/server/registry.js';

export interface Req {
  model: string;
  prompt: string;
  /** Sampling (absent: greedy), with the request's seed. */
  sampling?: { temperature: number; topP: number; seed: number };
}

export interface Timing {
  latencyMs: number;
  /** Milliseconds to the first text (the prompt's prefill and the first token). */
  ttftMs: number;
  tokens: number;
  /** The generated text (to check that the server produced what the peer did). */
  text: string;
}

export function servePeerOne(reg: ModelRegistry, r: Req, tokens: number): Timing {
  const s = performance.now();
  const res = reg.resolve(r.model, { instruction: r.prompt });
  const hook = res.mix.length ? new LoraMixture(res.mix.map((m) => m.adapter), reg.model.backend) : null;
  hook?.setGates(res.mix.map((m) => m.weight), 1);
  let first = 0;
  const [g] = generateText(reg.model, reg.tokenizer, [alpacaPrompt(r.prompt)], {
    maxNewTokens: tokens, ...(r.sampling ?? { greedy: true }), stopAtEos: false, hook, onText: () => { if (!first) first = performance.now() - s; },
  });
  return { latencyMs: performance.now() - s, ttftMs: first, tokens: g.tokenIds.length, text: g.text };
}
