/**
 * Surface markers of what an instruction asks for: question, imperative, code, math, several steps,
 * constraints. Counts come from regular expressions over the lowercased text (listed below, so what is
 * counted can be read) and from the POS tags.
 */
import type { ParsedText } from './nlp.js';

/** Verbs that open Alpaca-style imperatives even when the tagger calls them nouns (`Name`, `List`, `Outline`). */
export const IMPERATIVE_VERBS: ReadonlySet<string> = new Set([
  'add', 'analyze', 'analyse', 'answer', 'arrange', 'assess', 'brainstorm', 'build', 'calculate', 'categorize', 'change',
  'check', 'choose', 'cite', 'classify', 'come', 'combine', 'compare', 'compile', 'complete', 'compose', 'compute',
  'construct', 'convert', 'correct', 'count', 'create', 'define', 'delete', 'derive', 'describe', 'design', 'detect',
  'determine', 'develop', 'devise', 'discuss', 'draft', 'draw', 'edit', 'emphasize', 'estimate', 'evaluate', 'explain',
  'extract', 'fill', 'find', 'fix', 'format', 'formulate', 'generate', 'give', 'group', 'guess', 'highlight', 'identify',
  'illustrate', 'imagine', 'implement', 'improve', 'indicate', 'insert', 'interpret', 'invent', 'link', 'list', 'locate',
  'make', 'match', 'name', 'note', 'offer', 'order', 'organize', 'outline', 'paraphrase', 'pick', 'point', 'predict',
  'prepare', 'present', 'produce', 'propose', 'provide', 'rank', 'rate', 'read', 'recommend', 'reformulate', 'remove',
  'reorder', 'rephrase', 'replace', 'report', 'research', 'restate', 'reverse', 'review', 'rewrite', 'rearrange', 'select',
  'separate', 'show', 'simplify', 'solve', 'sort', 'specify', 'state', 'suggest', 'summarize', 'summarise', 'tell',
  'think', 'transform', 'translate', 'turn', 'type', 'use', 'verify', 'write',
]);

const QUESTION_OPENERS = new Set([
  'what', 'which', 'who', 'whom', 'whose', 'when', 'where', 'why', 'how', 'is', 'are', 'was', 'were', 'do', 'does',
  'did', 'can', 'could', 'should', 'would', 'will', 'may', 'might', 'has', 'have', 'had', 'shall',
]);

/** Code: programming words, and code-like characters or constructs in the raw text. */
export const CODE_PATTERN =
  /\b(?:code|coding|coder|program|programs|programming|function|functions|script|algorithm|algorithms|python|java|javascript|typescript|html|css|sql|query|regex|regular expression|api|json|xml|yaml|compile|debug|syntax|snippet|variable|variables|array|arrays|loop|loops|database|php|ruby|golang|rust|swift|kotlin|pseudocode|recursion|recursive|boolean|integer|string|strings|class|object-oriented|binary tree|linked list|stack|hash)\b|c\+\+|c#|`|[{}]|=>|->|==|!=|\w\(\)|\bdef |\bprint\(|\breturn\b|\bimport\b|#include|console\.log|;\s*$|<\/?[a-z]+>/gm;

/** Math: arithmetic between numbers, symbols, and mathematical words. */
export const MATH_PATTERN =
  /\d\s*[-+*/×÷^=<>]\s*\d|[=√π∑∫%]|\b[a-z]\s*[=^]\s*[\da-z]|\b\d+[a-z]\b(?=\s*[-+=])|\b(?:calculate|calculation|compute|solve|equation|equations|formula|sum|product|integral|derivative|probability|average|mean|median|percent|percentage|area|volume|perimeter|radius|diameter|circumference|multiply|multiplied|divide|divided|subtract|subtracted|square root|squared|cubed|factorial|prime|fraction|ratio|algebra|algebraic|geometry|arithmetic|theorem|polynomial|logarithm|exponent|matrix|vector|variance|deviation|interest rate|convert|conversion|celsius|fahrenheit|degrees|triangle|angle|hypotenuse|slope|plus|minus|times)\b/g;

/** Several steps: sequencing words, enumerations, "and then", "as well as". */
export const STEP_PATTERN =
  /\b(?:first|firstly|second|secondly|third|thirdly|then|next|finally|lastly|afterwards|subsequently|after that|followed by|step|steps|step-by-step|as well as|in addition|additionally|also|both|each|respectively)\b|^\s*(?:\d+[.)]|[-*•])\s+/gm;

const NUMBER_WORD = '(?:\\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|fifty|hundred)';
const UNITS =
  '(?:words?|sentences?|paragraphs?|lines?|items?|examples?|tips?|ways?|reasons?|steps?|characters?|letters?|syllables?|points?|bullet points?|questions?|ideas?|facts?|things?|adjectives?|nouns?|verbs?|synonyms?|antonyms?|names?|options?|strategies|benefits?|advantages?|disadvantages?|differences?|similarities|methods?|stanzas?|verses?|slogans?|titles?|headlines?|tweets?|rhymes?|sections?|pros?|cons?|minutes?|hours?)';

/** Constraints: obligations, limits, exclusions, required forms, and counted outputs ("three tips", "in 50 words"). */
export const CONSTRAINT_PATTERN = new RegExp(
  '\\b(?:must|should|need to|needs to|have to|has to|required|requirement|requirements|ensure|make sure|only|exactly|at least|at most|no more than|no less than|no fewer than|fewer than|less than|more than|up to|maximum|minimum|limit|limited|within|without|avoid|avoiding|do not|don\'t|never|cannot|can\'t|except|excluding|unless|using|include|includes|including|contain|contains|containing|in the form of|in the style of|style|tone|format|formatted|formal|informal|rhyme|rhyming|alphabetical|chronological|ascending|descending|bullet|table|based on|according to|in terms of|word count)\\b' +
    `|\\b${NUMBER_WORD}\\s+(?:[a-z-]+\\s+)?${UNITS}\\b`,
  'g',
);

function count(re: RegExp, text: string): number {
  re.lastIndex = 0;
  let n = 0;
  while (re.exec(text) !== null) n++;
  return n;
}

export interface Markers {
  question: number;
  imperative: number;
  code: number;
  math: number;
  steps: number;
  constraints: number;
}

/** Words skipped before the verb of an imperative sentence: "Please list …", "First, name …", "Then explain …". */
const LEAD_INS = new Set(['please', 'first', 'firstly', 'second', 'secondly', 'third', 'then', 'next', 'now', 'finally', 'lastly', 'also', 'afterwards', 'and', 'kindly']);

/**
 * Markers of the instruction. `question` is 0/1: a `?` in the instruction, or a first word that is a
 * wh-word or an auxiliary. `imperative` is 0/1: some sentence opens (after lead-ins like "please",
 * "first,") with a base-form verb. The counts look at `text` (instruction plus input). Imperative
 * sentences after the first, and conjuncts opening with a base-form verb ("… and explain …", "…, then
 * list …"), count as extra steps.
 */
export function markers(p: ParsedText, instruction: string, text: string): Markers {
  const lower = text.toLowerCase();
  const isBaseVerb = (i: number): boolean =>
    IMPERATIVE_VERBS.has(p.normals[i]!) || (p.pos[i] === 'VERB' && p.lemmas[i] === p.normals[i]);
  let first = '';
  let imperatives = 0;
  for (const [start, end] of p.sentences) {
    let j = start;
    while (j <= end && (p.types[j] !== 'word' || LEAD_INS.has(p.normals[j]!))) j++;
    if (j > end) continue;
    if (first === '') first = p.normals[j]!;
    if (isBaseVerb(j) && !QUESTION_OPENERS.has(p.normals[j]!)) imperatives++;
  }
  const question = instruction.includes('?') || QUESTION_OPENERS.has(first) ? 1 : 0;
  let conjoined = 0;
  for (let i = 1; i + 1 < p.pos.length; i++) {
    if ((p.pos[i] === 'CCONJ' || p.normals[i] === 'then') && p.pos[i + 1] === 'VERB' && p.lemmas[i + 1] === p.normals[i + 1]) conjoined++;
  }
  return {
    question,
    imperative: imperatives > 0 ? 1 : 0,
    code: count(CODE_PATTERN, lower),
    math: count(MATH_PATTERN, lower),
    steps: count(STEP_PATTERN, lower) + Math.max(0, imperatives - 1) + conjoined,
    constraints: count(CONSTRAINT_PATTERN, lower),
  };
}
