/**
 * Exact conversions between f32 and the 16-bit float formats stored in checkpoints.
 * Widening (f16/bf16 -> f32) is exact; narrowing (f32 -> f16/bf16) rounds to nearest, ties to even,
 * overflows to infinity and keeps NaN a NaN, as numpy and torch do.
 */

let f16Table: Float32Array | null = null;

/** f32 value of every f16 bit pattern (65,536 entries, built on first use). */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) bits[h] = f16BitsToF32Bits(h);
  f16Table = new Float32Array(bits.buffer);
  return f16Table;
}

/** IEEE binary16 bits -> binary32 bits (exact; NaN payloads kept). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / nan
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // normal: rebias 15 -> 127
  if (mant === 0) return sign >>> 0; // +-0
  // subnormal: value = mant * 2^-24; normalise so the leading 1 becomes implicit
  let e = 113; // exponent field of 2^-14
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

/** binary32 bits -> binary16 bits, round to nearest even. */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) {
    if (mant === 0) return sign | 0x7c00; // inf
    return sign | 0x7c00 | (mant >>> 13 || 1); // nan: keep the top payload bits (as numpy), never become inf
  }
  const e = exp - 112; // half-precision exponent field
  if (e >= 0x1f) return sign | 0x7c00; // too large: inf
  if (e <= 0) {
    // result is subnormal (or zero): m = full_mantissa * 2^(e - 14), rounded
    if (e < -10) return sign; // below half the smallest subnormal
    const full = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (m & 1) !== 0)) m++; // may carry into the smallest normal: right
    return sign | m;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // carry may reach exponent 31: inf, right
  return sign | h;
}

/** binary32 bits -> bfloat16 bits, round to nearest even. */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff; // quiet nan
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Widens little-endian f16 values (given as uint16 bit patterns) to f32. */
export function f16ToF32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const table = f16ToF32Table();
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  return out;
}

/** Widens bf16 bit patterns to f32 (exact: bf16 is the top half of an f32). */
export function bf16ToF32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

/** Narrows f32 to f16 bit patterns (round to nearest even). */
export function f32ToF16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToF16Bits(bits[i]!);
  return out;
}

/** Narrows f32 to bf16 bit patterns (round to nearest even). */
export function f32ToBf16(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToBf16Bits(bits[i]!);
  return out;
}
