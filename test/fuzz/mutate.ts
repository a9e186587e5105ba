/** Seeded mutations of files for the fuzz suite: bytes (flip, overwrite, insert, cut, repeat) and JSON values. */
export { makeRng as prng } from '../../src/model/sampling.js';

export type Rng = () => number;
export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);

/** Numbers and strings that have broken parsers: huge ids and sizes, negatives, fractions, odd text. */
export const HOSTILE_VALUES: readonly unknown[] = [
  4_000_000_000, 3e9, 1e8, 2 ** 31, 2 ** 53, -1, -0, 0, 0.5, 1e308, -1e308, null, true, false, '', '4', 'x'.repeat(5000),
  '../../../../etc/passwd', '/dev/zero', '(', '[a-', '*', '\uFEFF', '\u0000', [], [1e9], [-1, 'a'], {}, { a: 1 }, { '': null },
];

const SNIPPETS = ['4000000000', '-1', '1e999', '0.5', 'null', '"', '{', '[', ']', '}', ',', ':', '\uFEFF', '\\u0000', '*a', '&a', '\n', '  '];

/** One random byte-level change of `buf` (a new buffer). */
export function mutateBytes(rng: Rng, buf: Uint8Array): Uint8Array {
  const n = buf.byteLength;
  const at = n === 0 ? 0 : int(rng, n);
  switch (int(rng, 6)) {
    case 0: { // flip a bit
      const out = Uint8Array.from(buf);
      if (n > 0) out[at] = out[at]! ^ (1 << int(rng, 8));
      return out;
    }
    case 1: { // overwrite a few bytes with random or 0xff (an all-ones float is NaN)
      const out = Uint8Array.from(buf);
      const len = 1 + int(rng, 8);
      const v = rng() < 0.5 ? 0xff : int(rng, 256);
      for (let i = at; i < Math.min(n, at + len); i++) out[i] = v;
      return out;
    }
    case 2: { // insert a snippet
      const s = Buffer.from(pick(rng, SNIPPETS), 'utf8');
      return Buffer.concat([buf.subarray(0, at), s, buf.subarray(at)]);
    }
    case 3: // cut a range
      return Buffer.concat([buf.subarray(0, at), buf.subarray(Math.min(n, at + 1 + int(rng, 64)))]);
    case 4: // truncate
      return buf.subarray(0, at);
    default: { // repeat a range
      const end = Math.min(n, at + 1 + int(rng, 64));
      return Buffer.concat([buf.subarray(0, end), buf.subarray(at, end), buf.subarray(end)]);
    }
  }
}

/** Replaces, deletes or adds one value somewhere in a JSON-like value (returns a mutated deep copy). */
export function mutateJson(rng: Rng, value: unknown): unknown {
  const root = structuredClone(value) as unknown;
  // collect containers with their keys, sampling a bounded number for large objects
  const slots: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (v: unknown, depth: number) => {
    if (v === null || typeof v !== 'object' || depth > 6) return;
    const keys: Array<string | number> = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
    const take = keys.length <= 40 ? keys : Array.from({ length: 40 }, () => pick(rng, keys));
    for (const k of take) {
      slots.push({ parent: v as Record<string, unknown>, key: k });
      walk((v as Record<string | number, unknown>)[k], depth + 1);
    }
  };
  walk(root, 0);
  if (slots.length === 0) return pick(rng, HOSTILE_VALUES);
  const { parent, key } = pick(rng, slots);
  const p = parent as Record<string | number, unknown>;
  const r = rng();
  if (r < 0.7) p[key] = structuredClone(pick(rng, HOSTILE_VALUES));
  else if (r < 0.85) {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete p[key];
  } else p[Array.isArray(parent) ? parent.length : `fuzz_${int(rng, 1000)}`] = structuredClone(pick(rng, HOSTILE_VALUES));
  return root;
}
