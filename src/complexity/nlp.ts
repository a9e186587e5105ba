/**
 * The one place that talks to wink-nlp: text → normal forms, lemmas, token types, UD POS tags,
 * sentence spans and entity spans, as plain arrays. wink-nlp is loaded on first use (createRequire),
 * so importing loraroute does not pay its ~230 ms start-up.
 */
import { createRequire } from 'node:module';
import type { ItsFunction, WinkMethods } from 'wink-nlp';
import type { Model } from 'wink-eng-lite-web-model';

export interface EntitySpan {
  /** wink-nlp entity type: DATE, TIME, CARDINAL, ORDINAL, MONEY, PERCENT, URL, EMAIL, … */
  type: string;
  /** First and last token index, inclusive. */
  start: number;
  end: number;
}

/** Parallel per-token arrays (no raw token text: nothing downstream needs it, and each array costs a pass). */
export interface ParsedText {
  /** Lowercase normal forms (`Sorts` → `sorts`). */
  normals: string[];
  lemmas: string[];
  /** wink token types: word, number, ordinal, punctuation, symbol, tabCRLF, url, email, … */
  types: string[];
  /** Universal Dependencies POS tags (SPACE for line breaks). */
  pos: string[];
  /** Token spans of the sentences, inclusive. */
  sentences: Array<[number, number]>;
  entities: EntitySpan[];
}

/** Wraps one wink-nlp instance (tokeniser, sentence splitter, POS tagger, entity recogniser). */
export class Nlp {
  private readonly nlp: WinkMethods;

  constructor() {
    const require = createRequire(import.meta.url);
    const winkNLP = require('wink-nlp') as (model: Model, pipe?: string[]) => WinkMethods;
    const model = require('wink-eng-lite-web-model') as Model;
    // Sentiment and negation are not used: leaving them out of the pipe saves ~10% of the time.
    this.nlp = winkNLP(model, ['sbd', 'pos', 'ner']);
  }

  parse(text: string): ParsedText {
    const its = this.nlp.its;
    const doc = this.nlp.readDoc(text);
    const tk = doc.tokens();
    const ents = doc.entities();
    const details = ents.out(its.detail) as unknown as Array<{ type: string }>;
    const spans = ents.out(its.span) as unknown as Array<[number, number]>;
    const normals = tk.out(its.normal) as string[];
    // wink-nlp's own typings reject its.lemma (its addons parameter); the call is the documented one.
    const lemmas = tk.out(its.lemma as unknown as ItsFunction<string>) as Array<string | undefined>;
    return {
      normals,
      // wink-nlp leaves a few lemmas undefined (`cannot`): use the normal form there.
      lemmas: lemmas.map((l, i) => l ?? normals[i]!),
      types: tk.out(its.type) as string[],
      pos: tk.out(its.pos) as string[],
      sentences: doc.sentences().out(its.span) as unknown as Array<[number, number]>,
      entities: details.map((d, i) => ({ type: d.type, start: spans[i]![0], end: spans[i]![1] })),
    };
  }
}
