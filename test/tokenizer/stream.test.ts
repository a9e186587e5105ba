import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonTokenizer, rng } from './helpers.js';

test('a multibyte character split across tokens comes out once, when complete', () => {
  const tok = jsonTokenizer();
  const ids = tok.encode('😀');
  assert.ok(ids.length >= 2, `expected the emoji to span tokens, got ${ids}`);
  const d = tok.createStreamDecoder();
  const outs = ids.map((id) => d.push(id));
  assert.deepEqual(outs.slice(0, -1).filter((s) => s !== ''), []);
  assert.equal(outs.at(-1), '😀');
  assert.equal(d.flush(), '');
});

test('byte by byte: a 4-byte character through single-byte tokens', () => {
  const tok = jsonTokenizer();
  // byte-level tokens for F0 9F 98 80 (U+1F600) via the alphabet: find each single-byte token id
  const single = (b: number): number => {
    for (let id = 0; id < 256 + 1000; id++) {
      const bytes = tok.tokenBytes(id);
      if (bytes.length === 1 && bytes[0] === b) return id;
    }
    throw new Error('no token for byte ' + b);
  };
  const d = tok.createStreamDecoder();
  assert.equal(d.push(tok.encode('a')[0]!), 'a');
  assert.equal(d.push(single(0xf0)), '');
  assert.equal(d.push(single(0x9f)), '');
  assert.equal(d.push(single(0x98)), '');
  assert.equal(d.push(single(0x80)), '😀');
  // An incomplete tail at the end becomes U+FFFD on flush, and the decoder can be reused.
  assert.equal(d.push(single(0xe4)), '');
  assert.equal(d.flush(), '\uFFFD');
  assert.equal(d.push(tok.encode('ok')[0]!), 'ok');
});

test('streamed text equals decode of all ids, for random unicode', () => {
  const tok = jsonTokenizer();
  const r = rng(99);
  const chars = ['a', ' ', '\n', 'é', '日', '😀', '👍🏽', 'e\u0301', '한', '\u00a0', '<|endoftext|>'];
  for (let i = 0; i < 300; i++) {
    const s = Array.from({ length: 1 + Math.floor(r() * 25) }, () => chars[Math.floor(r() * chars.length)]).join('');
    const ids = tok.encode(s, { allowSpecial: r() < 0.5 });
    const d = tok.createStreamDecoder();
    let out = '';
    for (const id of ids) {
      const piece = d.push(id);
      assert.ok(!piece.includes('\uFFFD'), 'no replacement characters for valid text');
      out += piece;
    }
    out += d.flush();
    assert.equal(out, tok.decode(ids));
    assert.equal(out, s);
  }
});

test('any id sequence (invalid UTF-8, ASCII tokens between the bytes of a character) streams to decode of all ids', () => {
  // ASCII tokens skip the TextDecoder while it holds nothing: every other case must still go through it
  const tok = jsonTokenizer();
  const r = rng(7);
  const single = new Map<number, number>(); // byte -> a token of that single byte
  for (let id = 0; id < tok.vocabSize && single.size < 256; id++) {
    const b = tok.tokenBytes(id);
    if (b.length === 1 && !single.has(b[0]!)) single.set(b[0]!, id);
  }
  const bytes = [0x41, 0x20, 0x0a, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0x80, 0xbf, 0xc0, 0xe0, 0xf8, 0xff, 0xed, 0xa0].filter((b) => single.has(b));
  const words = tok.encode(' the cat é 日 😀 ok');
  for (let i = 0; i < 500; i++) {
    const ids = Array.from({ length: 1 + Math.floor(r() * 12) }, () => (r() < 0.7 ? single.get(bytes[Math.floor(r() * bytes.length)]!)! : words[Math.floor(r() * words.length)]!));
    const d = tok.createStreamDecoder();
    let out = '';
    for (const id of ids) out += d.push(id);
    out += d.flush();
    assert.equal(out, tok.decode(ids), `ids ${ids.join(',')}`);
  }
});
