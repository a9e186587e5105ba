import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonTokenizer, rng } from './helpers.js';

const FIXED = [
  '', '\n\n', '\n', ' ', '    ', '\t\t \n \r\n', 'a  b   c    d', ' leading', 'trailing ', '\n\nx\n\n',
  '😀👍🏽👨‍👩‍👧‍👦🇫🇷', '日本語テキスト、中文。', 'e\u0301\u0302\u0303 combining', 'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗',
  '\x00\x01\x07\x1b\x7f\x85', '\ufeffBOM first', 'x\ufeff', 'A\u2028B\u2029C', '\u00a0\u3000\u2003',
  "it's 'quoted' y'all'll've", '1234567890'.repeat(20), 'z'.repeat(1000), '\uD83D\uDE00'.repeat(40),
];

test('decode(encode(s)) === s for fixed hard strings', () => {
  const tok = jsonTokenizer();
  for (const s of FIXED) assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
});

/** A random string of code points from many ranges (no lone surrogates). */
function randomText(r: () => number, len: number): string {
  const ranges: Array<[number, number]> = [
    [0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], [0x00, 0x1f], [0x80, 0xff], [0x100, 0x24f], [0x300, 0x36f],
    [0x400, 0x4ff], [0x590, 0x6ff], [0x900, 0x97f], [0x2000, 0x206f], [0x3000, 0x30ff], [0x4e00, 0x9fff],
    [0xac00, 0xd7a3], [0xe000, 0xf8ff], [0xfe00, 0xfeff], [0x1f300, 0x1faff], [0x10000, 0x10ffff],
  ];
  const out: string[] = [];
  for (let i = 0; i < len; i++) {
    if (r() < 0.15) {
      out.push(' \n\t'.charAt(Math.floor(r() * 3)).repeat(1 + Math.floor(r() * 4)));
      continue;
    }
    const [lo, hi] = ranges[Math.floor(r() * ranges.length)]!;
    out.push(String.fromCodePoint(lo + Math.floor(r() * (hi - lo + 1))));
  }
  return out.join('');
}

test('decode(encode(s)) === s for 2,000 random unicode strings', () => {
  const tok = jsonTokenizer();
  const r = rng(42);
  for (let i = 0; i < 2000; i++) {
    const s = randomText(r, 1 + Math.floor(r() * 60));
    const ids = tok.encode(s);
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize));
    assert.equal(tok.decode(ids), s, JSON.stringify(s));
  }
});

test('lone surrogates encode as U+FFFD (like TextEncoder)', () => {
  const tok = jsonTokenizer();
  assert.equal(tok.decode(tok.encode('a\uD800b\uDC00c')), 'a\uFFFDb\uFFFDc');
});

test('the BPE cache does not change results (second encoding equals the first)', () => {
  const tok = jsonTokenizer();
  const r = rng(7);
  const texts = Array.from({ length: 200 }, () => randomText(r, 30));
  const first = texts.map((t) => tok.encode(t));
  const second = texts.map((t) => tok.encode(t));
  assert.deepEqual(second, first);
});
