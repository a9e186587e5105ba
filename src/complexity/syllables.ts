/**
 * Syllable counts: the CMU pronouncing dictionary (npm `cmu-pronouncing-dictionary`, 134K words; a
 * syllable is a vowel phone, i.e. a phone carrying a stress digit) with a rule-based fallback for words
 * it lacks.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export type SyllableSource = 'cmu' | 'rules';

/** Word → pronunciation in ARPAbet (`"AH0 B AW1 T"`); variants `word(2)` are ignored. */
export type PronouncingDictionary = Readonly<Record<string, string>>;

let cmuCache: PronouncingDictionary | null | undefined;

/**
 * Loads the CMU dictionary once per process (it is read-only data, not a setting). The package is a
 * 4.7 MB ES module holding one object literal; reading that literal with JSON.parse takes ~130 ms where
 * importing the module takes ~330 ms, and it is only paid by code that builds an analyzer.
 * Returns null (and the caller falls back to rules) when the package is missing or its layout changed.
 */
export function loadCmuDictionary(): PronouncingDictionary | null {
  if (cmuCache !== undefined) return cmuCache;
  try {
    const require = createRequire(import.meta.url);
    const text = readFileSync(require.resolve('cmu-pronouncing-dictionary'), 'utf8');
    const start = text.indexOf('= {');
    const end = text.lastIndexOf('}');
    if (start < 0 || end < start) throw new Error('unexpected layout');
    cmuCache = JSON.parse(text.slice(start + 2, end + 1)) as PronouncingDictionary;
  } catch {
    cmuCache = null;
  }
  return cmuCache;
}

/** Number of stressed/unstressed vowel phones (ARPAbet vowels carry a digit 0, 1 or 2). */
export function syllablesFromPhones(phones: string): number {
  let n = 0;
  for (let i = 0; i < phones.length; i++) {
    const c = phones.charCodeAt(i);
    if (c >= 48 && c <= 50) n++;
  }
  return n;
}

const VOWEL_GROUPS = /[aeiouy]+/g;

/**
 * Rule-based estimate for words outside the dictionary: vowel groups, minus a silent final `e`
 * (`make`, not `table` or `free`), minus `-es`/`-ed` endings that add no syllable (`makes`, `named`,
 * not `boxes` or `wanted`), plus one per `ia`/`io`/`eo`/`ua` hiatus (`ratio`, `video`; not `-tion`, `-cial`, `qua`). At least 1 for
 * any word with a letter. On the Alpaca instruction vocabulary found in CMU it agrees with CMU on 91% of
 * the word types and 96% of the tokens; 1.1% of the tokens are missing from CMU and use these rules.
 */
export function ruleSyllables(word: string): number {
  const w = word.toLowerCase().replace(/[^a-z]/g, '');
  if (w.length === 0) return 0;
  let n = (w.match(VOWEL_GROUPS) ?? []).length;
  if (n > 1 && /[^aeiouy]e$/.test(w) && !/[^aeiouy]le$/.test(w)) n--;
  else if (n > 1 && (/[^aeiouytd]ed$/.test(w) || /[^aeiouysxzhgc]es$/.test(w))) n--;
  // `ratio`, `video`, `actual`: two syllables; `nation`, `special`, `precious`: one.
  n += (w.match(/i[ao]|eo|ua/g) ?? []).length - (w.match(/[tscgx]i[ao](?=[nlu])|qua|gua/g) ?? []).length;
  return Math.max(1, n);
}

/** Counts syllables of lowercase words, CMU first, rules otherwise; remembers what it computed. */
export class SyllableCounter {
  private readonly cache = new Map<string, number>();
  readonly source: SyllableSource;

  constructor(private readonly dict: PronouncingDictionary | null = loadCmuDictionary()) {
    this.source = dict ? 'cmu' : 'rules';
  }

  count(word: string): number {
    const w = word.toLowerCase();
    let n = this.cache.get(w);
    if (n === undefined) {
      const phones = this.dict ? this.dict[w] : undefined;
      n = phones !== undefined ? syllablesFromPhones(phones) : ruleSyllables(w);
      if (this.cache.size < 200_000) this.cache.set(w, n);
    }
    return n;
  }
}
