import type { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import type { StreamDecoder } from '../tokenizer/stream.js';

/**
 * The text of one generated sequence, token by token: decodes complete UTF-8 characters as they arrive,
 * finds the first stop string (left out of the text), and holds back a tail that may still become one, so
 * that what `push` returns is final.
 */
export class TextStream {
  /** Everything decoded so far (a stop string and what follows it included). */
  private all = '';
  /** Characters already handed out by push. */
  private emitted = 0;
  /** Where the first stop string starts, or -1. */
  private cut = -1;
  private readonly decoder: StreamDecoder;
  private readonly stops: string[];
  private readonly holdBack: number;

  constructor(tokenizer: GPT2Tokenizer, stops: string[] = []) {
    this.decoder = tokenizer.createStreamDecoder();
    this.stops = stops.filter((s) => s.length > 0);
    this.holdBack = Math.max(0, ...this.stops.map((s) => s.length - 1)); // a stop string may still be forming
  }

  /** True once a stop string appeared: the sequence should end. */
  get stopped(): boolean {
    return this.cut >= 0;
  }

  /** Adds a generated token; returns the text that became final with it ('' when none). */
  push(id: number): string {
    this.all += this.decoder.push(id);
    for (const s of this.stops) {
      const at = this.all.indexOf(s);
      if (at >= 0 && (this.cut < 0 || at < this.cut)) this.cut = at;
    }
    const safe = this.cut >= 0 ? this.cut : Math.max(this.emitted, this.all.length - this.holdBack);
    return this.take(safe);
  }

  /** Ends the sequence: returns the rest of the text that push has not returned yet. */
  finish(): string {
    this.all += this.decoder.flush();
    return this.take(this.cut >= 0 ? this.cut : this.all.length);
  }

  /** The final text (call after finish). */
  get text(): string {
    return this.cut >= 0 ? this.all.slice(0, this.cut) : this.all;
  }

  private take(upTo: number): string {
    if (upTo <= this.emitted) return '';
    const out = this.all.slice(this.emitted, upTo);
    this.emitted = upTo;
    return out;
  }
}
