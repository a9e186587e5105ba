/**
 * Syntactic structure without a parser: dependency-tree depth, clause count and subordinate-clause
 * count of one sentence, each a linear regression on counts over wink-nlp's POS tags (length, the 17
 * UD tags, commas, wh-words, `to`+verb, noun+verb, rule-based clause and subordinator counts), fitted on
 * the gold trees of UD English EWT (train) by `scripts/fit-syntax-model.mjs`; only the coefficients ship
 * (`syntax-model.generated.ts`, with the correlations measured on EWT dev/test).
 */
import type { ParsedText } from './nlp.js';
import { SYNTAX_MODEL } from './syntax-model.generated.js';

export const UD_TAGS = [
  'ADJ', 'ADP', 'ADV', 'AUX', 'CCONJ', 'DET', 'INTJ', 'NOUN', 'NUM', 'PART', 'PRON', 'PROPN', 'PUNCT', 'SCONJ', 'SYM', 'VERB', 'X',
] as const;

/** Names of the regression inputs, in order (the generated model must list the same). */
export const SYNTAX_INPUT_NAMES: readonly string[] = [
  'bias', 'words', 'sqrt_words', 'log1p_words', ...UD_TAGS.map((t) => `pos_${t}`),
  'commas', 'wh_words', 'to_verb', 'noun_verb', 'rule_clauses', 'rule_subordinators',
];

const TAG_INDEX = new Map<string, number>(UD_TAGS.map((t, i) => [t, i]));
const WH = new Set([
  'which', 'who', 'whom', 'whose', 'that', 'when', 'where', 'why', 'how', 'whether', 'if', 'while', 'because',
  'although', 'though', 'since', 'unless', 'until', 'what',
]);
const RELATIVE = new Set(['which', 'who', 'whom', 'whose']);
const CLAUSE_BREAK = new Set(['PUNCT', 'CCONJ', 'SCONJ', 'VERB']);

/**
 * Regression inputs of the tokens `start..end` (inclusive) of `p`. Rule-based counts included as inputs:
 * clauses = verbs + auxiliaries with no verb after them before a clause break (copulas), at least 1;
 * subordinators = SCONJ + non-initial relative pronouns + `to` before a verb.
 */
export function syntaxInputs(p: ParsedText, start = 0, end = p.pos.length - 1): Float64Array {
  const x = new Float64Array(SYNTAX_INPUT_NAMES.length);
  const tagBase = 4;
  const extra = tagBase + UD_TAGS.length;
  let words = 0;
  let commas = 0;
  let wh = 0;
  let toVerb = 0;
  let nounVerb = 0;
  let clauses = 0;
  let subs = 0;
  const { pos, normals } = p;
  for (let i = start; i <= end; i++) {
    const t = pos[i]!;
    if (t === 'SPACE') continue;
    const k = TAG_INDEX.get(t);
    if (k !== undefined) x[tagBase + k]! += 1;
    if (t !== 'PUNCT') words++;
    const w = normals[i]!;
    if (w === ',') commas++;
    if (i > start && WH.has(w)) wh++;
    const next = i < end ? pos[i + 1] : undefined;
    if (w === 'to' && next === 'VERB') toVerb++;
    if (t === 'VERB' && i > start && (pos[i - 1] === 'NOUN' || pos[i - 1] === 'PRON')) nounVerb++;
    if (t === 'VERB') clauses++;
    else if (t === 'AUX') {
      let j = i + 1;
      while (j <= end && !CLAUSE_BREAK.has(pos[j]!)) j++;
      if (j > end || pos[j] !== 'VERB') clauses++;
    }
    if (t === 'SCONJ' || (i > start && RELATIVE.has(w)) || (w === 'to' && t === 'PART' && next === 'VERB')) subs++;
  }
  x[0] = 1;
  x[1] = words;
  x[2] = Math.sqrt(words);
  x[3] = Math.log1p(words);
  x[extra] = commas;
  x[extra + 1] = wh;
  x[extra + 2] = toVerb;
  x[extra + 3] = nounVerb;
  x[extra + 4] = Math.max(1, clauses);
  x[extra + 5] = subs;
  return x;
}

function dot(w: readonly number[], x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += w[i]! * x[i]!;
  return s;
}

export interface SentenceSyntax {
  /** Estimated depth of the dependency tree (root = 1), >= 1. */
  depth: number;
  /** Estimated number of clauses, >= 1. */
  clauses: number;
  /** Estimated number of subordinate clauses (ccomp, xcomp, advcl, acl, csubj), in [0, clauses - 1]. */
  subordinate: number;
}

/** Depth, clauses and subordinate clauses of one sentence (tokens `start..end` of `p`). */
export function sentenceSyntax(p: ParsedText, start: number, end: number): SentenceSyntax {
  const x = syntaxInputs(p, start, end);
  const clauses = Math.max(1, dot(SYNTAX_MODEL.clauses, x));
  return {
    depth: Math.max(1, dot(SYNTAX_MODEL.depth, x)),
    clauses,
    subordinate: Math.min(clauses - 1, Math.max(0, dot(SYNTAX_MODEL.subordinate, x))),
  };
}
