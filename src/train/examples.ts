import type { AlpacaRecord } from '../data/alpaca.js';
import { alpacaPrompt } from '../data/template.js';
import type { GPT2Tokenizer } from '../tokenizer/gpt2.js';

/** One tokenized training / evaluation example. */
export interface Example {
  /** The record's index in the data (kept through every stage). */
  index: number;
  ids: number[];
  /** Same length as ids; -100 where no loss is taken (the prompt, by default). */
  labels: number[];
  /** Tokens of the prompt (before the response). */
  promptLength: number;
}

export interface ExampleStats {
  examples: number;
  /** Records with an empty output (nothing to learn). */
  skippedEmpty: number;
  /** Responses cut at max_length (the prompt is always kept). */
  truncated: number;
  /** Prompts that alone reach max_length: no response token fits, so the record is skipped. */
  skippedLongPrompt: number;
}

/**
 * Alpaca record -> template prompt + output + <|endoftext|>, loss on the response and the end token
 * (or on everything with lossOn 'all'). Too long: keep the prompt, drop the end of the response.
 */
export function makeExamples(
  records: AlpacaRecord[], tokenizer: GPT2Tokenizer, maxLength: number, lossOn: 'response' | 'all' = 'response',
): { examples: Example[]; stats: ExampleStats } {
  const eos = tokenizer.eosTokenId;
  const stats: ExampleStats = { examples: 0, skippedEmpty: 0, truncated: 0, skippedLongPrompt: 0 };
  const examples: Example[] = [];
  for (const r of records) {
    if (r.output.trim() === '') { stats.skippedEmpty++; continue; }
    const prompt = tokenizer.encode(alpacaPrompt(r.instruction, r.input));
    if (prompt.length >= maxLength) { stats.skippedLongPrompt++; continue; }
    let response = [...tokenizer.encode(r.output), eos];
    if (prompt.length + response.length > maxLength) {
      response = response.slice(0, maxLength - prompt.length);
      stats.truncated++;
    }
    const ids = [...prompt, ...response];
    const labels = lossOn === 'all' ? ids.slice() : [...prompt.map(() => -100), ...response];
    examples.push({ index: r.index, ids, labels, promptLength: prompt.length });
  }
  stats.examples = examples.length;
  return { examples, stats };
}

/** Number of tokens that carry loss (after the causal shift, the first token never does). */
export function lossTokens(e: Example): number {
  let n = 0;
  for (let t = 1; t < e.labels.length; t++) if (e.labels[t] >= 0) n++;
  return n;
}
