import type { GPT2 } from './gpt2.js';
import type { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import { generateIds, type FinishReason, type GenerateIdsOptions } from './generate.js';
import type { StreamDecoder } from '../tokenizer/stream.js';

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
  const stops = (opts.stopStrings ?? []).filter((s) => s.length > 0);
  const texts = prompts.map(() => '');
  const decoders: StreamDecoder[] = prompts.map(() => tokenizer.createStreamDecoder());
  const emitted = prompts.map(() => 0); // characters already passed to onText
  const holdBack = Math.max(0, ...stops.map((s) => s.length - 1)); // a stop string may still be forming
  const cut = prompts.map(() => -1);

  const results = generateIds(model, prompts.map((p) => tokenizer.encode(p)), {
    ...opts,
    onToken: (row, id) => {
      texts[row] += decoders[row].push(id);
      if (stops.length) {
        for (const s of stops) {
          const at = texts[row].indexOf(s);
          if (at >= 0 && (cut[row] < 0 || at < cut[row])) cut[row] = at;
        }
      }
      if (opts.onText) {
        const safe = cut[row] >= 0 ? cut[row] : Math.max(emitted[row], texts[row].length - holdBack);
        if (safe > emitted[row]) {
          opts.onText(row, texts[row].slice(emitted[row], safe), id);
          emitted[row] = safe;
        }
      }
    },
    shouldStop: (row) => cut[row] >= 0,
  });
  return results.map((r, row) => {
    let text = texts[row] + decoders[row].flush();
    if (cut[row] >= 0) text = text.slice(0, cut[row]);
    if (opts.onText && text.length > emitted[row]) opts.onText(row, text.slice(emitted[row]), -1);
    return { prompt: prompts[row], text, tokenIds: r.tokenIds, finishReason: r.finishReason, promptTokens: r.promptTokens };
  });
}
