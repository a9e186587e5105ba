/**
 * GPT-2's pre-tokenizer pattern:
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * with `\s` spelled out as Oniguruma's (which HF `tokenizers` uses): it includes U+0085 (NEL) and excludes
 * U+FEFF, where JavaScript's `\s` does the opposite. Checked against HF `tokenizers` in test fixtures.
 */
const WS = String.raw`\t\n\v\f\r\x85\p{Zs}\p{Zl}\p{Zp}`;

export const GPT2_PATTERN =
  String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^${WS}\p{L}\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`;

/** A fresh global regex for the pattern (regexes with the g flag carry state, so each user gets its own). */
export function gpt2Regex(): RegExp {
  return new RegExp(GPT2_PATTERN, 'gu');
}

/** The pre-tokens of `text`, in order; they concatenate back to `text`. */
export function pretokenize(text: string, re: RegExp = gpt2Regex()): string[] {
  const out: string[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(m[0]);
  return out;
}
