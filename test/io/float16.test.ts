import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bf16ToF32, f16BitsToF32Bits, f16ToF32, f32BitsToBf16Bits, f32BitsToF16Bits, f32ToBf16, f32ToF16,
} from '../../src/io/float16.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function bitsOf(x: number): number {
  f32[0] = x;
  return u32[0]!;
}
function fromBits(b: number): number {
  u32[0] = b;
  return f32[0]!;
}
const toF16 = (x: number): number => f32BitsToF16Bits(bitsOf(x));
const fromF16 = (h: number): number => fromBits(f16BitsToF32Bits(h));
const toBf16 = (x: number): number => f32BitsToBf16Bits(bitsOf(x));

/** Independent reference: value of an f16 bit pattern by the textbook formula. */
function f16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

test('f16 -> f32 is exact for all 65,536 bit patterns', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const wide = f16ToF32(all);
  for (let h = 0; h < 65536; h++) {
    const want = f16Value(h);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(wide[h]), `h=${h}`);
    else assert.ok(Object.is(wide[h], want), `h=0x${h.toString(16)}: ${wide[h]} != ${want}`);
  }
});

test('f16 -> f32 -> f16 round-trips every bit pattern (NaN payloads too)', () => {
  for (let h = 0; h < 65536; h++) {
    const back = f32BitsToF16Bits(f16BitsToF32Bits(h));
    assert.equal(back, h, `h=0x${h.toString(16)}`);
  }
});

/** Reference RNE to f16 by search over all finite f16 values. */
const finite: number[] = [];
for (let h = 0; h < 0x7c00; h++) finite.push(f16Value(h)); // positive, ascending
function refF16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  const max = 65504;
  // Values at or above max + half an ulp (2^4) round to infinity.
  if (a >= max + 16) return sign | 0x7c00;
  let lo = 0;
  let hi = finite.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (finite[mid]! <= a) lo = mid;
    else hi = mid - 1;
  }
  if (lo === finite.length - 1) return sign | lo;
  const dl = a - finite[lo]!;
  const dh = finite[lo + 1]! - a;
  const pick = dl < dh ? lo : dh < dl ? lo + 1 : lo % 2 === 0 ? lo : lo + 1;
  return sign | pick;
}

test('f32 -> f16 rounds to nearest even: named edge cases', () => {
  const cases: Array<[number, number]> = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800],
    [65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00], [1e10, 0x7c00], [-1e10, 0xfc00],
    [Infinity, 0x7c00], [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], [2 ** -25, 0x0000], [2 ** -25 * 1.0000001, 0x0001], [3 * 2 ** -25, 0x0002],
    [-(2 ** -25), 0x8000], [2 ** -26, 0], [1e-30, 0], [2 ** -14, 0x0400], [2 ** -14 - 2 ** -25, 0x0400],
    [1023.5 * 2 ** -24, 0x0400], [1022.5 * 2 ** -24, 0x03fe],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -11 + 2 ** -20, 0x3c01],
    [2048 + 1, 0x6800], [2048 + 3, 0x6802], [0.1, 0x2e66], [-3.14159, 0xc248],
  ];
  for (const [x, want] of cases) {
    assert.equal(toF16(x), want, `${x}: got 0x${toF16(x).toString(16)}, want 0x${want.toString(16)}`);
    assert.equal(refF16(Math.fround(x)), want, `reference disagrees on ${x}`);
  }
  assert.ok(Number.isNaN(fromF16(toF16(NaN))));
  assert.equal(toF16(NaN) & 0x7e00, 0x7e00, 'quiet NaN stays quiet');
  assert.equal(f32BitsToF16Bits(0x7f800001), 0x7c01, 'NaN with only low payload bits stays NaN, not inf');
  assert.equal(f32BitsToF16Bits(0xffc00000), 0xfe00, 'sign and quiet bit kept');
});

test('f32 -> f16 matches the reference on 200,000 random floats of every magnitude', () => {
  let seed = 12345;
  const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 200_000; i++) {
    // random exponent in [-30, 17] so subnormals, normals and overflow are all hit
    const x = Math.fround((rand() < 0.5 ? -1 : 1) * (1 + rand()) * 2 ** Math.floor(rand() * 48 - 30));
    assert.equal(toF16(x), refF16(x), `x=${x}`);
  }
  // Exactly the halfway points between neighbouring f16 values, where ties-to-even decides.
  for (let h = 0; h < 0x7bff; h += 7) {
    const mid = (f16Value(h) + f16Value(h + 1)) / 2;
    if (Math.fround(mid) !== mid) continue;
    assert.equal(toF16(mid), h % 2 === 0 ? h : h + 1, `mid after 0x${h.toString(16)}`);
  }
});

test('bf16: widening is exact, narrowing rounds to nearest even', () => {
  const bits = new Uint16Array([0x3f80, 0xbf80, 0x7f80, 0xff80, 0x0001, 0x8000, 0x7fc0, 0x4049]);
  const wide = bf16ToF32(bits);
  assert.deepEqual([...wide.slice(0, 6)], [1, -1, Infinity, -Infinity, fromBits(0x00010000), -0]);
  assert.ok(Number.isNaN(wide[6]));
  assert.equal(wide[7], fromBits(0x40490000));

  assert.equal(toBf16(1), 0x3f80);
  assert.equal(toBf16(fromBits(0x3f808000)), 0x3f80, 'tie to even (down)');
  assert.equal(toBf16(fromBits(0x3f818000)), 0x3f82, 'tie to even (up)');
  assert.equal(toBf16(fromBits(0x3f808001)), 0x3f81, 'above half rounds up');
  assert.equal(toBf16(fromBits(0x3f807fff)), 0x3f80, 'below half rounds down');
  assert.equal(toBf16(fromBits(0x7f7fffff)), 0x7f80, 'max f32 rounds to inf');
  assert.equal(toBf16(fromBits(0x00008000)), 0x0000, 'subnormal tie to even');
  assert.equal(toBf16(fromBits(0x00018000)), 0x0002);
  assert.equal(toBf16(-Infinity), 0xff80);
  assert.equal(toBf16(-0), 0x8000);
  const nan = toBf16(fromBits(0x7f800001)); // payload only in the low bits: must stay NaN
  assert.equal(nan & 0x7f80, 0x7f80);
  assert.notEqual(nan & 0x7f, 0);

  // random: result is the nearer of the two neighbours, ties to even
  let seed = 7;
  const rand = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0));
  for (let i = 0; i < 100_000; i++) {
    const b = rand();
    if ((b & 0x7f800000) === 0x7f800000) continue;
    const x = fromBits(b);
    const lo = b & 0xffff0000;
    const down = fromBits(lo >>> 0);
    // the value past the largest finite bf16 is 2^128 for rounding purposes (it becomes inf)
    const upBits = (lo + 0x10000) >>> 0;
    const up = (upBits & 0x7fffffff) === 0x7f800000 ? Math.sign(x) * 2 ** 128 : fromBits(upBits);
    const dl = Math.abs(x - down);
    const du = Math.abs(up - x);
    const want = dl < du ? lo >>> 16 : du < dl ? (lo + 0x10000) >>> 16 : (lo >>> 16) % 2 === 0 ? lo >>> 16 : (lo + 0x10000) >>> 16;
    assert.equal(toBf16(x), want & 0xffff, `bits 0x${b.toString(16)}`);
  }
});

test('array helpers convert whole arrays', () => {
  const src = new Float32Array([1, -0.5, 65504, 1e-8, 3.3]);
  const half = f32ToF16(src);
  assert.deepEqual([...f16ToF32(half)], [1, -0.5, 65504, 0, fromF16(toF16(3.3))]);
  const b = f32ToBf16(src);
  assert.deepEqual([...bf16ToF32(b)].slice(0, 3), [1, -0.5, 65536]);
});
