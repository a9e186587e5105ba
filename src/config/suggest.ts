/** "Did you mean" suggestions for misspelt keys and values. */

/** Levenshtein edit distance (insert, delete, substitute; a swap of two neighbours counts 1). */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  // d[i][j] = distance between a[0..i) and b[0..j); three rows suffice for the swap case.
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = new Array<number>(n + 1);
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2] + 1);
      cur[j] = v;
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[n];
}

/**
 * The candidate closest to `word`, if it is close enough to be a likely typo: at most a third of the
 * word's length in edits (at least 1, at most 3), or one contains the other (`rank` → `lora_rank`).
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  if (word.length > 64) return undefined; // no key is that long; and the edit distance would take long
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  if (best !== undefined && bestD <= limit) return best;
  if (w.length >= 4) {
    const contained = candidates.find((c) => c.toLowerCase().includes(w) || w.includes(c.toLowerCase()));
    if (contained) return contained;
  }
  return undefined;
}
