import type { GPT2 } from './gpt2.js';
import type { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import { generateIds, type FinishReason, type GenerateIdsOptions } from './generate.js';
import { TextStream } from './text-stream.js';

export interface GenerateTextOptions extends Omit<GenerateIdsOptions, 'shouldStop' | 'onToken'> {
  /** Generation stops when the text contains one of these; it is left out of the result. */
  stopStrings?: string[];
  /** Called with each piece of text as soon as it is complete UTF-8 (row = prompt number). */
  onText?: (row: number, text: string, tokenId: number) => void;
}

export interface GeneratedText {
  prompt: string;
  text: string;
  /** Generated ids (those of a stop string included; the end-of-text token not). */
  tokenIds: number[];
  finishReason: FinishReason;
  promptTokens: number;
}

/** Text in, text out: encodes prompts (as plain text, no special tokens), generates, decodes, applies stop strings. */
export function generateText(model: GPT2, tokenizer: GPT2Tokenizer, prompts: string[], opts: GenerateTextOptions = {}): GeneratedText[] {
  const streams = prompts.map(() => new TextStream(tokenizer, opts.stopStrings));
  const results = generateIds(model, prompts.map((p) => tokenizer.encode(p)), {
    ...opts,
    onToken: (row, id) => {
      const text = streams[row].push(id);
      if (text && opts.onText) opts.onText(row, text, id);
    },
    shouldStop: (row) => streams[row].stopped,
  });
  return results.map((r, row) => {
    const rest = streams[row].finish();
    if (rest && opts.onText) opts.onText(row, rest, -1);
    return { prompt: prompts[row], text: streams[row].text, tokenIds: r.tokenIds, finishReason: r.finishReason, promptTokens: r.promptTokens };
  });
}
