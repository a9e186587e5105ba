/**
 * Named features of an instruction, in a fixed order. The text analysed is the instruction, or
 * `instruction + "\n\n" + input` when there is an input; never the response.
 */
import type { ParsedText } from './nlp.js';
import type { SyllableCounter } from './syllables.js';
import { markers, IMPERATIVE_VERBS } from './markers.js';
import { sentenceSyntax } from './syntax.js';

/**
 * Feature names, fixed order (the router's input vector follows it):
 * - words: word tokens (words, numbers, URLs, …; not punctuation, symbols or clitics like `n't`)
 * - sentences: sentences with at least one word (wink-nlp's sentence splitter)
 * - mean_sentence_words: words / sentences
 * - syntactic_depth: estimated dependency-tree depth of the deepest sentence (root = 1)
 * - clauses: estimated clauses, summed over sentences
 * - subordination: estimated subordinate clauses / clauses
 * - entity_density: (proper-noun spans + wink-nlp entities other than CARDINAL/ORDINAL) / words
 * - number_density: number tokens (digits, ordinals, number words) / words
 * - lemma_ttr: distinct lemmas / words (lexical diversity; ~1 for short texts)
 * - rare_word_share: share of alphabetic word tokens (not proper nouns) outside the 20,000 most frequent
 *   SUBTLEX-US words, by form and by lemma (instruction verbs like `summarize` count as common)
 * - syllables_per_word: CMU dictionary syllables per alphabetic word (rules for unknown words)
 * - flesch_reading_ease: 206.835 − 1.015·words/sentence − 84.6·syllables/word (higher = easier)
 * - flesch_kincaid_grade: 0.39·words/sentence + 11.8·syllables/word − 15.59
 * - question, imperative: 0/1 markers of the instruction's form
 * - code_markers, math_markers, multi_step_markers, constraint_markers: counts (see markers.ts)
 * - has_input: 0/1; input_words: words of the input (runs of letters/digits)
 */
export const FEATURE_NAMES = [
  'words',
  'sentences',
  'mean_sentence_words',
  'syntactic_depth',
  'clauses',
  'subordination',
  'entity_density',
  'number_density',
  'lemma_ttr',
  'rare_word_share',
  'syllables_per_word',
  'flesch_reading_ease',
  'flesch_kincaid_grade',
  'question',
  'imperative',
  'code_markers',
  'math_markers',
  'multi_step_markers',
  'constraint_markers',
  'has_input',
  'input_words',
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];

/** Token types that are not words. */
const NON_WORD_TYPES = new Set(['punctuation', 'symbol', 'tabCRLF', 'emoji', 'emoticon', 'currency']);
/** Entity types that are numbers (counted in number_density, not entity_density). */
const NUMBER_ENTITIES = new Set(['CARDINAL', 'ORDINAL']);
const HAS_ALNUM = /[\p{L}\p{N}]/u;
const HAS_LETTER = /\p{L}/u;

export interface Lexicons {
  syllables: SyllableCounter;
  common: ReadonlySet<string>;
}

function isClitic(normal: string): boolean {
  return normal.charCodeAt(0) === 39 /* ' */ || normal === "n't";
}

/** Common: among the frequent words, or an instruction verb (`summarize`, `classify`: the genre's words, not hard ones). */
function isCommon(word: string, lemma: string, common: ReadonlySet<string>): boolean {
  if (common.has(word) || common.has(lemma) || IMPERATIVE_VERBS.has(lemma)) return true;
  if (word.includes('-')) return word.split('-').every((w) => w === '' || common.has(w));
  return false;
}

/** Words of a plain string, for input_words: runs of letters/digits, with inner apostrophes and hyphens. */
const PLAIN_WORD = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;

function plainWordCount(s: string): number {
  PLAIN_WORD.lastIndex = 0;
  let n = 0;
  while (PLAIN_WORD.exec(s) !== null) n++;
  return n;
}

/**
 * Raw (unnormalised) features in FEATURE_NAMES order, from the parse `p` of `text` (the instruction,
 * plus "\n\n" + input when `input` is non-empty).
 */
export function rawFeatures(p: ParsedText, lex: Lexicons, instruction: string, input: string, text: string): Float64Array {
  const n = p.normals.length;
  const isWord = new Uint8Array(n);
  let words = 0;
  let alphaWords = 0;
  let syllables = 0;
  let numbers = 0;
  let rareCandidates = 0;
  let rare = 0;
  const lemmas = new Set<string>();
  for (let i = 0; i < n; i++) {
    const type = p.types[i]!;
    const normal = p.normals[i]!;
    if (NON_WORD_TYPES.has(type) || isClitic(normal) || !HAS_ALNUM.test(normal)) continue;
    isWord[i] = 1;
    words++;
    lemmas.add(p.lemmas[i]!.toLowerCase());
    const pos = p.pos[i]!;
    if (type === 'number' || type === 'ordinal' || pos === 'NUM') numbers++;
    if (type === 'word' && HAS_LETTER.test(normal)) {
      alphaWords++;
      syllables += lex.syllables.count(normal);
      if (pos !== 'PROPN') {
        rareCandidates++;
        if (!isCommon(normal, p.lemmas[i]!.toLowerCase(), lex.common)) rare++;
      }
    }
  }

  // Sentences with at least one word; syntax per sentence.
  let sentences = 0;
  let depth = 0;
  let clauses = 0;
  let subordinate = 0;
  for (const [s, e] of p.sentences) {
    let hasWord = false;
    for (let i = s; i <= e && !hasWord; i++) hasWord = isWord[i] === 1;
    if (!hasWord) continue;
    sentences++;
    const syn = sentenceSyntax(p, s, e);
    depth = Math.max(depth, syn.depth);
    clauses += syn.clauses;
    subordinate += syn.subordinate;
  }

  // Named entities: the library's (non-number) entities, plus proper-noun runs outside them. A
  // capitalised imperative verb that the tagger calls PROPN ("Name three …") is not an entity.
  let entities = 0;
  const inEntity = new Uint8Array(n);
  for (const ent of p.entities) {
    for (let i = ent.start; i <= ent.end; i++) inEntity[i] = 1;
    if (!NUMBER_ENTITIES.has(ent.type)) entities++;
  }
  const sentenceStart = new Uint8Array(n);
  for (const [s] of p.sentences) sentenceStart[s] = 1;
  for (let i = 0; i < n; i++) {
    if (p.pos[i] !== 'PROPN' || inEntity[i]) continue;
    if (i > 0 && p.pos[i - 1] === 'PROPN' && !inEntity[i - 1]) continue; // inside a run already counted
    if (sentenceStart[i] && IMPERATIVE_VERBS.has(p.normals[i]!)) continue;
    entities++;
  }

  const wps = sentences > 0 ? words / sentences : 0;
  const spw = alphaWords > 0 ? syllables / alphaWords : 1;
  const m = markers(p, instruction, text);
  const f = new Float64Array(FEATURE_NAMES.length);
  f[0] = words;
  f[1] = sentences;
  f[2] = wps;
  f[3] = depth;
  f[4] = clauses;
  f[5] = clauses > 0 ? subordinate / clauses : 0;
  f[6] = words > 0 ? entities / words : 0;
  f[7] = words > 0 ? numbers / words : 0;
  f[8] = words > 0 ? lemmas.size / words : 0;
  f[9] = rareCandidates > 0 ? rare / rareCandidates : 0;
  f[10] = spw;
  f[11] = words > 0 ? 206.835 - 1.015 * wps - 84.6 * spw : 0;
  f[12] = words > 0 ? 0.39 * wps + 11.8 * spw - 15.59 : 0;
  f[13] = m.question;
  f[14] = m.imperative;
  f[15] = m.code;
  f[16] = m.math;
  f[17] = m.steps;
  f[18] = m.constraints;
  f[19] = input.trim() !== '' ? 1 : 0;
  f[20] = plainWordCount(input);
  return f;
}
