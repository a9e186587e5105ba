/**
 * Helpers for the shared backend suite: a seeded random source, buffer builders, a tolerance check, and
 * a harness that runs one op on padded buffers (sub-arrays of larger arrays, with sentinels around them)
 * so that writes outside a buffer's range, reads outside it, and writes to inputs are all caught.
 */
import assert from 'node:assert/strict';
import type { Backend } from '../../src/tensor/backend.js';

export type Buf = Float32Array | Int32Array;
export type Bufs = Record<string, Buf>;

/** mulberry32: small, seedable, good enough for test data. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** uniform in [0, 1) */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** [n] normal(0, std) */
  randn(n: number, std = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.normal() * std;
    return a;
  }
  /** [n] uniform in [lo, hi) */
  rand(n: number, lo = -1, hi = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.uniform(lo, hi);
    return a;
  }
  /** [n] ints in [0, hi) */
  ints(n: number, hi: number): Int32Array {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.int(hi);
    return a;
  }
}

/** A Float32Array of n NaNs: the initial content of an output the op must overwrite without reading. */
export function nans(n: number): Float32Array {
  return new Float32Array(n).fill(NaN);
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Asserts |actual - expected| <= tol * max|expected| elementwise (so relative to the tensor's scale, the
 * way float rounding of sums behaves), and that NaN never passes. Lengths must match.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const bound = tol * Math.max(maxAbs(expected), 1e-30);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= bound) && (worst < 0 || !(err <= worstErr))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(error ${worstErr}, allowed ${bound} = ${tol} x max|expected|)`,
    );
  }
}

/** Asserts bit-for-bit equality (after Float32 storage). */
export function assertExact(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

export function clone<T extends Bufs>(bufs: T): T {
  const out: Bufs = {};
  for (const [k, v] of Object.entries(bufs)) out[k] = v.slice();
  return out as T;
}

/** Elements of padding on each side of every buffer; odd, so views are not 16-byte aligned. */
export const PAD = 5;
/** Padding around outputs: a finite value no op produces, compared exactly afterwards. */
export const OUT_SENTINEL = -98765.4375;
/** Padding around Int32 buffers. */
export const INT_SENTINEL = -123456789;

interface Padded {
  whole: Buf;
  view: Buf;
}

function pad(v: Buf, isOutput: boolean): Padded {
  const n = v.length;
  if (v instanceof Int32Array) {
    const whole = new Int32Array(n + 2 * PAD).fill(INT_SENTINEL);
    whole.set(v, PAD);
    return { whole, view: whole.subarray(PAD, PAD + n) };
  }
  // Inputs are padded with NaN so that a read past the end poisons the result; outputs with a sentinel.
  const whole = new Float32Array(n + 2 * PAD).fill(isOutput ? OUT_SENTINEL : NaN);
  whole.set(v, PAD);
  return { whole, view: whole.subarray(PAD, PAD + n) };
}

function padOk(x: number, isOutput: boolean, isInt: boolean): boolean {
  if (isInt) return x === INT_SENTINEL;
  return isOutput ? x === OUT_SENTINEL : Number.isNaN(x);
}

export interface RunResult<T extends Bufs> {
  bufs: T;
  ret: number | void;
}

/**
 * Runs `op` on copies of `init` that are views into padded arrays, then asserts: no padding changed,
 * and no buffer outside `outputs` changed inside its range either. Returns the views and op's result.
 */
export function runPadded<T extends Bufs>(
  be: Backend, init: T, outputs: readonly string[], op: (be: Backend, b: T) => number | void, what: string,
): RunResult<T> {
  const padded: Record<string, Padded> = {};
  const views: Bufs = {};
  for (const [k, v] of Object.entries(init)) {
    padded[k] = pad(v, outputs.includes(k));
    views[k] = padded[k].view;
  }
  const ret = op(be, views as T);
  for (const [k, p] of Object.entries(padded)) {
    const isOut = outputs.includes(k);
    const isInt = p.whole instanceof Int32Array;
    const n = init[k].length;
    for (let i = 0; i < PAD; i++) {
      if (!padOk(p.whole[i], isOut, isInt)) assert.fail(`${what}: wrote before buffer "${k}" (index ${i - PAD}: ${p.whole[i]})`);
      const j = PAD + n + i;
      if (!padOk(p.whole[j], isOut, isInt)) assert.fail(`${what}: wrote past the end of buffer "${k}" (index ${n + i}: ${p.whole[j]})`);
    }
    if (!isOut) assertExact(p.view, init[k], `${what}: input "${k}" was modified`);
  }
  return { bufs: views as T, ret };
}

/** float64 sum of a[i] * r[i] */
export function dot64(a: ArrayLike<number>, r: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * r[i];
  return s;
}
