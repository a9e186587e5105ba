/**
 * The body of test/fuzz/native-bindings.test.ts, run in a child process (a crash there is a failed test,
 * not a dead test runner): `node native-bindings-cases.js ADDON_PATH SEED MILLIS`.
 *
 * Every binding the addon exports is described below by its arguments (in order) and small valid sizes.
 * Each binding is first called with valid arguments (which must work: the description is right), then with
 * one argument made hostile at a time (every hostile value below), then with every size huge and every
 * buffer empty, then for MILLIS ms with random sets of hostile arguments (fixed SEED). A hostile call must
 * throw a RangeError (bad size or length) or a TypeError (wrong type) whose message names the argument
 * (or the size it is part of); anything else is reported. Prints one JSON line: { cases, failures, ... }.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

type Sizes = Record<string, number>;
type Buffer = Float32Array | Int32Array | Float64Array;

/** One argument of a binding, as the binding reads it. */
type Arg =
  /** a size from `sizes` (a non-negative integer); `fixed`: larger values are valid too */
  | { kind: 'dim'; name: string; fixed?: boolean }
  /** any number (hostile only as a non-number); `optional`: undefined / null mean the default */
  | { kind: 'num'; name: string; value: number; optional?: boolean }
  | { kind: 'flag'; name: string }
  /**
   * a typed array of `len(sizes)` elements; `ids`: its content indexes a table (hostile values are
   * outside it, `bad` lists them); `table`: shortening it leaves the largest id outside it
   */
  | { kind: 'f32' | 'i32' | 'f64'; name: string; len: (s: Sizes) => number; nullable?: boolean; fill?: (s: Sizes, n: number) => Buffer; bad?: (s: Sizes) => number[]; table?: boolean }
  /**
   * a JS array of `count(sizes)` typed arrays (one per row), entry e of `len(sizes, e)` elements;
   * `nullable`: an entry may be null
   */
  | { kind: 'f32s' | 'i32s'; name: string; count: (s: Sizes) => number; len: (s: Sizes, e: number) => number; nullable?: boolean }
  /** a half-weights handle or null */
  | { kind: 'half'; name: string };
type ListArg = Extract<Arg, { kind: 'f32s' | 'i32s' }>;
const isList = (a: Arg): a is ListArg => a.kind === 'f32s' || a.kind === 'i32s';

interface Binding {
  name: string;
  sizes: Sizes;
  args: Arg[];
  /** argument indices of which a random case makes at most one hostile (together they can be valid again) */
  oneOf?: number[];
}

const dim = (name: string, fixed = false): Arg => ({ kind: 'dim', name, fixed });
const num = (name: string, value: number, optional = false): Arg => ({ kind: 'num', name, value, optional });
const flag = (name: string): Arg => ({ kind: 'flag', name });
const f32 = (name: string, len: (s: Sizes) => number, nullable = false): Arg => ({ kind: 'f32', name, len, nullable });
const i32 = (name: string, len: (s: Sizes) => number, nullable = false): Arg => ({ kind: 'i32', name, len, nullable });
/** a Float64Array filled with `value`; hostile contents: NaN and values outside what the binding takes */
const f64 = (name: string, len: (s: Sizes) => number, value: number, bad: number[] = [NaN, -1, Infinity]): Arg => ({ kind: 'f64', name, len, fill: (_, n) => new Float64Array(n).fill(value), bad: () => bad });
/** ids in [0, limit) that include limit - 1 (so a table one row short leaves one outside) */
const idsUpTo = (limit: (s: Sizes) => number) => (s: Sizes, n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => (n - 1 - i) % limit(s));
const ids = (name: string, limit: (s: Sizes) => number, bad: (s: Sizes) => number[]): Arg => ({ kind: 'i32', name, len: (s) => s.BT, fill: idsUpTo(limit), bad });
const f32s = (name: string, count: (s: Sizes) => number, len: (s: Sizes, e: number) => number): Arg => ({ kind: 'f32s', name, count, len });
const i32s = (name: string, count: (s: Sizes) => number, len: (s: Sizes, e: number) => number, nullable = false): Arg => ({ kind: 'i32s', name, count, len, nullable });
const table = (name: string, len: (s: Sizes) => number, nullable = false): Arg => ({ kind: 'f32', name, len, nullable, table: true });

const M_N_K = { M: 2, N: 3, K: 4 };
const ATT = { B: 2, T: 3, C: 4, NH: 2 };
const EMB = { BT: 5, C: 3, V: 4, P: 5 }; // V, P <= BT: the ids reach the last row of each table
const XENT = { N: 3, V: 5 };
/** K adapters of rank r (the lengths of As and Bs and of their entries; not arguments) */
const LORA = { B: 2, inDim: 3, outDim: 4, K: 2, r: 2 };
const ROWS = { B: 2, C: 4, NH: 2 };
const ROW_SLOTS = [3, 5]; // S of row 0 and row 1 (their caches hold S * C floats)
const rowCache = (s: Sizes, e: number): number => ROW_SLOTS[e] * s.C;
/** pasts: each row's last slot; hostile values are below 0 or past row 1's cache */
const pasts: Arg = {
  kind: 'i32', name: 'pasts', len: (s) => s.B, fill: (s, n) => Int32Array.from({ length: n }, (_, b) => ROW_SLOTS[b] - 1),
  bad: () => [-1, ROW_SLOTS[1], 2 ** 31 - 1],
};
const targets: Arg = { kind: 'i32', name: 'targets', len: (s) => s.N, fill: (s, n) => Int32Array.from({ length: n }, (_, i) => (i === 1 ? -100 : i % s.V)), bad: (s) => [s.V, 2 ** 31 - 1] };

/** What the addon exports, argument by argument (native/binding.c, src/tensor/native.ts NativeAddon). */
export const BINDINGS: Binding[] = [
  {
    name: 'matmul', sizes: M_N_K,
    args: [f32('out', (s) => s.M * s.N), f32('a', (s) => s.M * s.K), f32('b', (s) => s.K * s.N), dim('M'), dim('N'), dim('K'), flag('transA'), flag('transB'), num('alpha', 1), num('beta', 0), { kind: 'half', name: 'half' }],
  },
  { name: 'addBias', sizes: { M: 2, N: 3 }, args: [f32('out', (s) => s.M * s.N), f32('bias', (s) => s.N), dim('M'), dim('N')] },
  { name: 'biasBackward', sizes: { M: 2, N: 3 }, args: [f32('dbias', (s) => s.N), f32('dout', (s) => s.M * s.N), dim('M'), dim('N'), flag('accumulate')] },
  { name: 'add', sizes: { n: 7 }, args: [f32('out', (s) => s.n), f32('a', (s) => s.n), f32('b', (s) => s.n), dim('n')] },
  { name: 'axpy', sizes: { n: 7 }, args: [f32('y', (s) => s.n), f32('x', (s) => s.n), num('alpha', 0.5), dim('n')] },
  {
    name: 'layernormForward', sizes: { N: 2, C: 5 },
    args: [f32('out', (s) => s.N * s.C), f32('mean', (s) => s.N), f32('rstd', (s) => s.N), f32('x', (s) => s.N * s.C), f32('weight', (s) => s.C), f32('bias', (s) => s.C), dim('N'), dim('C'), num('eps', 1e-5)],
  },
  {
    name: 'layernormBackward', sizes: { N: 2, C: 5 },
    args: [
      f32('dx', (s) => s.N * s.C), f32('dweight', (s) => s.C, true), f32('dbias', (s) => s.C, true), f32('dout', (s) => s.N * s.C), f32('x', (s) => s.N * s.C),
      f32('weight', (s) => s.C), f32('mean', (s) => s.N), f32('rstd', (s) => s.N), dim('N'), dim('C'), flag('accumulate'),
    ],
  },
  { name: 'geluForward', sizes: { n: 6 }, args: [f32('out', (s) => s.n), f32('x', (s) => s.n), dim('n')] },
  { name: 'geluBackward', sizes: { n: 6 }, args: [f32('dx', (s) => s.n), f32('x', (s) => s.n), f32('dout', (s) => s.n), dim('n')] },
  {
    name: 'attentionForward', sizes: ATT,
    args: [
      f32('out', (s) => s.B * s.T * s.C), f32('att', (s) => s.B * s.NH * s.T * s.T), f32('qkv', (s) => s.B * s.T * 3 * s.C), i32('keyMask', (s) => s.B * s.T, true),
      dim('B'), dim('T'), dim('C'), dim('NH'), num('dropoutP', 0.25, true), num('dropoutSeed', 7, true),
    ],
  },
  {
    name: 'attentionBackward', sizes: ATT,
    args: [
      f32('dqkv', (s) => s.B * s.T * 3 * s.C), f32('dout', (s) => s.B * s.T * s.C), f32('qkv', (s) => s.B * s.T * 3 * s.C), f32('att', (s) => s.B * s.NH * s.T * s.T),
      dim('B'), dim('T'), dim('C'), dim('NH'), num('dropoutP', 0.25, true), num('dropoutSeed', 7, true),
    ],
  },
  {
    name: 'attentionCached', sizes: { past: 2, B: 2, Tq: 1, C: 4, NH: 2, S: 3 },
    args: [
      f32('out', (s) => s.B * s.Tq * s.C), f32('qkv', (s) => s.B * s.Tq * 3 * s.C), f32('kCache', (s) => s.B * s.S * s.C), f32('vCache', (s) => s.B * s.S * s.C),
      i32('keyMask', (s) => s.B * s.S, true), dim('past'), dim('B'), dim('Tq'), dim('C'), dim('NH'), dim('S'),
    ],
  },
  {
    name: 'attentionRows', sizes: ROWS,
    args: [
      f32('out', (s) => s.B * s.C), f32('qkv', (s) => s.B * 3 * s.C), f32s('kCaches', (s) => s.B, rowCache), f32s('vCaches', (s) => s.B, rowCache),
      i32s('keyMasks', (s) => s.B, (_, e) => ROW_SLOTS[e], true), pasts, dim('B'), dim('C'), dim('NH'),
    ],
  },
  {
    name: 'embeddingForward', sizes: EMB,
    args: [
      f32('out', (s) => s.BT * s.C), ids('ids', (s) => s.V, (s) => [-1, s.V, 2 ** 31 - 1, -(2 ** 31)]), ids('positions', (s) => s.P, (s) => [-1, s.P, 2 ** 31 - 1]),
      table('wte', (s) => s.V * s.C), table('wpe', (s) => s.P * s.C), dim('BT'), dim('C'),
    ],
  },
  {
    name: 'embeddingBackward', sizes: EMB,
    args: [
      table('dwte', (s) => s.V * s.C, true), table('dwpe', (s) => s.P * s.C, true), f32('dout', (s) => s.BT * s.C),
      ids('ids', (s) => s.V, (s) => [-1, s.V, 2 ** 31 - 1]), ids('positions', (s) => s.P, (s) => [-1, s.P, -(2 ** 31)]), dim('BT'), dim('C'),
    ],
  },
  { name: 'crossEntropyForward', sizes: XENT, args: [f32('losses', (s) => s.N), f32('logits', (s) => s.N * s.V), targets, dim('N'), dim('V')] },
  {
    name: 'crossEntropyBackward', sizes: XENT,
    args: [f32('dlogits', (s) => s.N * s.V), f32('logits', (s) => s.N * s.V), targets, f32('dloss', (s) => s.N), dim('N'), dim('V')],
  },
  {
    name: 'loraRows', sizes: LORA,
    args: [
      f32('y', (s) => s.B * s.outDim), f32('x', (s) => s.B * s.inDim), f32s('As', (s) => s.K, (s) => s.r * s.inDim), f32s('Bs', (s) => s.K, (s) => s.outDim * s.r),
      f32('weights', (s) => s.B * s.K), dim('B'), dim('inDim'), dim('outDim'),
    ],
    oneOf: [2, 3], // As[0] and Bs[0] both null: an adapter without factors at this site (valid)
  },
  {
    name: 'sampleRows', sizes: { rows: 3, V: 5 },
    args: [
      i32('out', (s) => s.rows), f32('x', (s) => s.rows * s.V), dim('rows'), dim('V'), f64('temperatures', (s) => s.rows, 0.8),
      { kind: 'i32', name: 'topKs', len: (s) => s.rows, fill: (_, n) => Int32Array.from({ length: n }, (_, i) => i % 3), bad: () => [-1] },
      f64('topPs', (s) => s.rows, 0.9, [NaN, -1, 0]), f64('draws', (s) => s.rows, 0.5, [NaN, -1, 1]),
    ],
  },
  { name: 'argmaxRows', sizes: { rows: 3, V: 5 }, args: [i32('out', (s) => s.rows), f32('x', (s) => s.rows * s.V), dim('rows'), dim('V')] },
  {
    name: 'argmaxLogits', sizes: { rows: 3, V: 5, C: 4 },
    args: [i32('out', (s) => s.rows), f32('x', (s) => s.rows * s.C), f32('w', (s) => s.V * s.C), dim('rows'), dim('V'), dim('C'), { kind: 'half', name: 'half' }],
  },
  {
    name: 'argmaxLogitsBegin', sizes: { rows: 3, V: 5, C: 4 },
    args: [f32('x', (s) => s.rows * s.C), f32('w', (s) => s.V * s.C), dim('rows'), dim('V'), dim('C'), { kind: 'half', name: 'half' }],
  },
  { name: 'argmaxLogitsEnd', sizes: { rows: 3 }, args: [i32('out', (s) => s.rows), dim('rows')] },
  { name: 'dropoutMask', sizes: { n: 9 }, args: [f32('mask', (s) => s.n), dim('n'), num('p', 0.5), num('seed', 3), num('offset', 2 ** 31 + 5)] },
  { name: 'mul', sizes: { n: 7 }, args: [f32('out', (s) => s.n), f32('x', (s) => s.n), f32('mask', (s) => s.n), dim('n')] },
  {
    name: 'adamw', sizes: { n: 7 },
    args: [
      f32('params', (s) => s.n), f32('grads', (s) => s.n), f32('m', (s) => s.n), f32('v', (s) => s.n), dim('n'),
      num('lr', 1e-3), num('beta1', 0.9), num('beta2', 0.999), num('eps', 1e-8), num('weightDecay', 0.01), num('step', 1),
    ],
  },
  { name: 'sumSquares', sizes: { n: 7 }, args: [f32('x', (s) => s.n), dim('n')] },
  { name: 'scale', sizes: { n: 7 }, args: [f32('x', (s) => s.n), num('s', 2), dim('n')] },
  // any length is a valid weight buffer: only its type can be wrong
  { name: 'halfWeights', sizes: {}, args: [f32('weights', () => 0)] },
  { name: 'releaseHalf', sizes: {}, args: [{ kind: 'half', name: 'handle' }] },
  { name: 'adviseHugePages', sizes: {}, args: [f32('weights', () => 0), flag('collapse')] },
  { name: 'info', sizes: {}, args: [] },
  { name: 'setThreads', sizes: { n: 2 }, args: [dim('n', true)] },
  { name: 'readBandwidth', sizes: { mb: 1, passes: 1, threads: 1 }, args: [dim('mb', true), dim('passes', true), dim('threads')] },
];

/** Hostile values for a size: [value, expected error]. */
const BAD_SIZES: [unknown, 'RangeError' | 'TypeError'][] = [
  [-1, 'RangeError'], [-(2 ** 31), 'RangeError'], [-0.5, 'RangeError'], [0.5, 'RangeError'], [1.5, 'RangeError'],
  [NaN, 'RangeError'], [Infinity, 'RangeError'], [-Infinity, 'RangeError'], [2 ** 21, 'RangeError'], [2 ** 22, 'RangeError'],
  [2 ** 31 - 1, 'RangeError'], [2 ** 31, 'RangeError'], [2 ** 32 + 3, 'RangeError'], [2 ** 53, 'RangeError'], [1e300, 'RangeError'],
  ['3', 'TypeError'], [undefined, 'TypeError'], [null, 'TypeError'], [{}, 'TypeError'], [[3], 'TypeError'], [true, 'TypeError'], [3n, 'TypeError'],
];
const BAD_NUMBERS: unknown[] = ['0.5', undefined, null, {}, [], 1n];
const badNumbers = (a: Extract<Arg, { kind: 'num' }>): unknown[] => (a.optional ? BAD_NUMBERS.filter((v) => v != null) : BAD_NUMBERS);
const BAD_HALVES: unknown[] = [{}, 5, 'half', [], new Float32Array(4)];

/** Hostile buffers for a typed-array argument of n elements (n > 0 unless the length is free). */
function badBuffers(arg: Extract<Arg, { kind: 'f32' | 'i32' | 'f64' }>, n: number): [string, unknown, 'RangeError' | 'TypeError'][] {
  const Same = arg.kind === 'f32' ? Float32Array : arg.kind === 'f64' ? Float64Array : Int32Array;
  const Other = arg.kind === 'f32' ? Int32Array : Float32Array;
  const out: [string, unknown, 'RangeError' | 'TypeError'][] = [
    ['another typed array type', new Other(n), 'TypeError'], arg.kind === 'f64' ? ['an Int32Array', new Int32Array(n), 'TypeError'] : ['a Float64Array', new Float64Array(n), 'TypeError'],
    ['a Uint8Array', new Uint8Array(4 * n), 'TypeError'], ['a plain array', Array.from({ length: n }, () => 0), 'TypeError'],
    ['an ArrayBuffer', new ArrayBuffer(4 * n), 'TypeError'], ['a DataView', new DataView(new ArrayBuffer(4 * n)), 'TypeError'],
    ['a number', n, 'TypeError'], ['a string', 'buffer', 'TypeError'],
  ];
  if (!arg.nullable) out.push(['null', null, 'TypeError'], ['undefined', undefined, 'TypeError']);
  if (n > 0) {
    const detached = new Same(n);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    out.push(['empty', new Same(0), 'RangeError'], ['detached', detached, 'RangeError']);
    if (!arg.table || n > 1) out.push(['one element short', new Same(n - 1), 'RangeError'], ['a short view', new Same(n + 8).subarray(9), 'RangeError']);
  }
  return out;
}

/**
 * Hostile values for a list of buffers: not an array, an entry short or over, a hole (where entries may not
 * be null), and entry 0 replaced by each hostile buffer. `valid` is a valid list.
 */
function badLists(arg: ListArg, s: Sizes, valid: Buffer[]): [string, unknown, 'RangeError' | 'TypeError'][] {
  const out: [string, unknown, 'RangeError' | 'TypeError'][] = [
    ['a Float32Array', new Float32Array(4), 'TypeError'], ['a number', 2, 'TypeError'], ['a string', 'rows', 'TypeError'],
    ['null', null, 'TypeError'], ['undefined', undefined, 'TypeError'], ['an object', {}, 'TypeError'],
    ['one entry short', valid.slice(1), 'RangeError'], ['one entry over', [...valid, valid[0].slice()], 'RangeError'],
  ];
  if (!arg.nullable) {
    const holed: unknown[] = new Array(valid.length); // entry 0 is a hole (undefined)
    valid.forEach((v, e) => { if (e > 0) holed[e] = v; });
    out.push(['an array with a hole', holed, 'TypeError']);
  }
  const entry = { kind: arg.kind === 'f32s' ? 'f32' : 'i32', name: arg.name, len: () => arg.len(s, 0), nullable: arg.nullable } as const;
  for (const [what, v, want] of badBuffers(entry, arg.len(s, 0))) out.push([`entry 0 ${what}`, [v, ...valid.slice(1)], want]);
  return out;
}

type Outcome = { ok: true } | { ok: false; error: unknown };

export interface Failure {
  binding: string;
  what: string;
  got: string;
}

export interface FuzzReport {
  cases: number;
  randomCases: number;
  bindings: string[];
  undescribed: string[];
  failures: Failure[];
}

/** mulberry32 */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function fuzz(addon: Record<string, (...args: unknown[]) => unknown>, seed: number, millis: number): FuzzReport {
  const failures: Failure[] = [];
  let cases = 0;
  const half = (addon.halfWeights as (w: Float32Array) => unknown)(new Float32Array(64));

  const valid = (b: Binding, s: Sizes = b.sizes): unknown[] => b.args.map((a) => {
    switch (a.kind) {
      case 'dim': return s[a.name];
      case 'num': return a.value;
      case 'flag': return false;
      case 'half': return half;
      case 'f32s': case 'i32s': {
        const Typed = a.kind === 'f32s' ? Float32Array : Int32Array;
        return Array.from({ length: a.count(s) }, (_, e) => new Typed(a.len(s, e)).fill(a.kind === 'f32s' ? 0.25 : 1));
      }
      default: {
        const n = a.len(s);
        if (a.fill) return a.fill(s, n);
        return a.kind === 'f32' ? new Float32Array(n).fill(0.25) : new Int32Array(n).fill(1);
      }
    }
  });
  const call = (b: Binding, args: unknown[]): Outcome => {
    cases++;
    try {
      addon[b.name](...args);
      return { ok: true };
    } catch (error) {
      return { ok: false, error };
    }
  };
  const describeValue = (v: unknown): string => (typeof v === 'bigint' ? `${v}n` : typeof v === 'number' || v == null ? String(v) : (v.constructor?.name ?? typeof v));
  /** the call must throw `want` (or either kind when null) naming one of `names` */
  const expectThrow = (b: Binding, args: unknown[], what: string, want: 'RangeError' | 'TypeError' | null, names: string[]): void => {
    const r = call(b, args);
    let got: string | null = null;
    if (r.ok) got = `returned normally (arguments: ${args.map((v) => (ArrayBuffer.isView(v) ? `${describeValue(v)}(${(v as Buffer).length}) [${Array.from((v as Buffer).slice(0, 6)).join(', ')}]` : Array.isArray(v) ? `[${v.map(describeValue).join(', ')}]` : describeValue(v))).join('; ')})`;
    else if (!(r.error instanceof RangeError || r.error instanceof TypeError)) got = `threw ${describeValue(r.error)}: ${String(r.error)}`;
    else if (want && r.error.constructor.name !== want) got = `threw ${r.error.constructor.name} (${r.error.message}), expected ${want}`;
    else if (!r.error.message.startsWith(`native ${b.name}: `)) got = `threw "${r.error.message}", which does not name the binding`;
    else if (names.length > 0 && !names.some((n) => new RegExp(`\\b${n}\\b`).test((r.error as Error).message))) {
      got = `threw "${r.error.message}", which names none of ${names.join(', ')}`;
    }
    if (got) failures.push({ binding: b.name, what, got });
  };

  for (const b of BINDINGS) {
    if (typeof addon[b.name] !== 'function') {
      failures.push({ binding: b.name, what: 'exported', got: 'not exported by the addon' });
      continue;
    }
    const base = call(b, valid(b));
    if (!base.ok) {
      failures.push({ binding: b.name, what: 'valid arguments', got: `threw ${String(base.error)}` });
      continue;
    }
    if (b.args.length === 0) {
      const junk = call(b, [-1, NaN, {}, 'x']); // takes nothing: extra arguments are ignored
      if (!junk.ok) failures.push({ binding: b.name, what: 'extra arguments', got: `threw ${String(junk.error)}` });
    }
    b.args.forEach((a, i) => {
      const hostile = (v: unknown, what: string, want: 'RangeError' | 'TypeError' | null, names = [a.name]): void => {
        const args = valid(b);
        args[i] = v;
        expectThrow(b, args, `${a.name} = ${what}`, want, names);
      };
      if (a.kind === 'dim') {
        for (const [v, want] of BAD_SIZES) if (!(a.fixed && typeof v === 'number' && v >= 0 && v <= 4096 && Number.isInteger(v))) hostile(v, describeValue(v), want);
        if (!a.fixed) {
          // one more than valid: some buffer (which names the size) is now too short, or a shape rule breaks
          const args = valid(b);
          args[i] = b.sizes[a.name] + 1;
          expectThrow(b, args, `${a.name} = valid + 1`, 'RangeError', [a.name]);
        }
      } else if (a.kind === 'num') {
        for (const v of badNumbers(a)) hostile(v, describeValue(v), 'TypeError');
      } else if (a.kind === 'half') {
        for (const v of BAD_HALVES) hostile(v, describeValue(v), 'TypeError');
      } else if (isList(a)) {
        for (const [what, v, want] of badLists(a, b.sizes, valid(b)[i] as Buffer[])) hostile(v, what, want);
      } else if (a.kind === 'f32' || a.kind === 'i32' || a.kind === 'f64') {
        const n = a.len(b.sizes);
        for (const [what, v, want] of badBuffers(a, n)) {
          // a table one row short leaves an id outside it: the error names the id buffer
          hostile(v, what, want, a.table && want === 'RangeError' ? [a.name, 'ids', 'positions'] : [a.name]);
        }
        if (a.bad) {
          for (const v of a.bad(b.sizes)) {
            const buf = valid(b)[i] as Int32Array;
            buf[buf.length - 1] = v;
            hostile(buf, `holding ${v}`, 'RangeError');
          }
        }
      }
    });
    // the reported crash: every size huge, every buffer empty (optional arguments left out)
    const dims = b.args.filter((a) => a.kind === 'dim');
    if (dims.length > 0) {
      const huge = [2 ** 21, 2 ** 21, 2 ** 22, 2 ** 22];
      const args = valid(b);
      let k = 0;
      b.args.forEach((a, i) => {
        if (a.kind === 'dim') args[i] = huge[k++ % huge.length];
        else if (a.kind === 'f32' || a.kind === 'i32' || a.kind === 'f64') args[i] = a.nullable ? null : a.kind === 'f32' ? new Float32Array(0) : a.kind === 'f64' ? new Float64Array(0) : new Int32Array(0);
        else if (isList(a)) args[i] = [];
        else if (a.kind === 'num' && a.optional) args[i] = undefined;
      });
      expectThrow(b, args, 'every size huge, every buffer empty', 'RangeError', []);
    }
  }

  // random combinations of hostile arguments, bounded in time
  const next = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const fuzzable = BINDINGS.filter((b) => b.args.some((a) => a.kind !== 'flag') && typeof addon[b.name] === 'function');
  const end = Date.now() + millis;
  let randomCases = 0;
  while (Date.now() < end && randomCases < 200_000) {
    const b = pick(fuzzable);
    const args = valid(b);
    let mutated = 0;
    const touched: number[] = [];
    b.args.forEach((a, i) => {
      if (a.kind === 'flag' || next() > 0.4) return;
      if (b.oneOf?.includes(i) && touched.some((t) => b.oneOf?.includes(t))) return;
      touched.push(i);
      if (a.kind === 'dim') {
        const [v] = pick(BAD_SIZES);
        if (a.fixed && typeof v === 'number' && v >= 0 && v <= 4096 && Number.isInteger(v)) return;
        args[i] = v;
      } else if (a.kind === 'num') args[i] = pick(badNumbers(a));
      else if (a.kind === 'half') args[i] = pick(BAD_HALVES);
      else if (isList(a)) args[i] = pick(badLists(a, b.sizes, args[i] as Buffer[]))[1];
      else {
        const bad = badBuffers(a, a.len(b.sizes));
        if (bad.length === 0) return;
        args[i] = pick(bad)[1];
      }
      mutated++;
    });
    if (mutated === 0) continue;
    randomCases++;
    expectThrow(b, args, `random case ${randomCases}`, null, []);
  }
  const bindings = Object.keys(addon).filter((k) => typeof addon[k] === 'function');
  const undescribed = bindings.filter((k) => !BINDINGS.some((b) => b.name === k));
  return { cases, randomCases, bindings, undescribed, failures };
}

const [, , addonPath, seedArg, millisArg] = process.argv;
if (addonPath && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const addon = createRequire(import.meta.url)(addonPath) as Record<string, (...args: unknown[]) => unknown>;
  const report = fuzz(addon, Number(seedArg ?? 1), Number(millisArg ?? 1000));
  report.failures = report.failures.slice(0, 40);
  process.stdout.write(JSON.stringify(report) + '\n');
}
