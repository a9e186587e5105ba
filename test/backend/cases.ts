/**
 * One invocation of one op per case, on awkward shapes: odd sizes, single rows, T = 1, masked keys with a
 * fully padded row, every matmul transpose with alpha/beta, accumulate flags, null gradients, and the
 * aliasing the contract allows. The suite runs each case on the backend under test and on the float64 oracle.
 */
import type { Backend, F32, I32, MatmulOptions } from '../../src/tensor/backend.js';
import { Float64Oracle } from './oracle.js';
import { nans, Rng, type Bufs } from './util.js';

export interface OpCase {
  /** the op under test, for grouping */
  op: string;
  /** a readable description of the configuration */
  name: string;
  /** fresh buffers: inputs, and outputs with their initial content (NaN where the op must overwrite) */
  init: (rng: Rng) => Bufs;
  /** buffers the op may write (within their range) */
  outputs: string[];
  run: (be: Backend, b: Bufs) => number | void;
  /** compare bit-for-bit instead of within tolerance */
  exact?: boolean;
}

function defineCase<T extends Bufs>(c: {
  op: string;
  name: string;
  init: (rng: Rng) => T;
  outputs: (keyof T & string)[];
  run: (be: Backend, b: T) => number | void;
  exact?: boolean;
}): OpCase {
  return c as unknown as OpCase;
}

/** computes the inputs that come from a forward op (layernorm statistics, attention probabilities) */
const oracle = new Float64Oracle();

/** [B, T] key mask: row b%3 == 0 left-padded, 1 right-padded, 2 fully padded. */
export function padMask(B: number, T: number): Int32Array {
  const m = new Int32Array(B * T).fill(1);
  const cut = Math.ceil(T / 3);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const kind = b % 3;
      const live = kind === 0 ? t >= cut : kind === 1 ? t < T - cut : false;
      m[b * T + t] = live ? 1 : 0;
    }
  }
  return m;
}

/** [B, S] key mask for a cache of S slots: left padding of `lead` slots on row 0, row 1 full, row 2 none. */
export function cacheMask(B: number, S: number, lead: number): Int32Array {
  const m = new Int32Array(B * S).fill(1);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const kind = b % 3;
      m[b * S + s] = kind === 0 ? (s >= lead ? 1 : 0) : kind === 1 ? 1 : 0;
    }
  }
  return m;
}

function fmtOpts(o: MatmulOptions): string {
  const parts = [o.transA ? 'A^T' : 'A', o.transB ? 'B^T' : 'B'];
  if (o.alpha !== undefined) parts.push(`alpha=${o.alpha}`);
  if (o.beta !== undefined) parts.push(`beta=${o.beta}`);
  return parts.join(' ');
}

function matmulCases(): OpCase[] {
  // few rows (the native backend's streaming kernels, K with and without a tail of k % 8) and many (sgemm)
  const sizes: [number, number, number][] = [[1, 1, 1], [1, 9, 4], [13, 1, 6], [3, 5, 7], [2, 21, 40], [16, 37, 133], [17, 19, 23]];
  const scalings: (MatmulOptions | null)[] = [null, { alpha: 0.5, beta: 1 }, { alpha: -2, beta: 0.25 }, { alpha: 1.5, beta: 0 }];
  const cases: OpCase[] = [];
  for (const [M, N, K] of sizes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const sc of scalings) {
          const opts: MatmulOptions = { transA, transB, ...(sc ?? {}) };
          const plain = !transA && !transB && sc === null;
          const beta = sc?.beta ?? 0;
          cases.push(defineCase({
            op: 'matmul',
            name: `M=${M} N=${N} K=${K} ${fmtOpts(opts)}${plain ? ' (no options object)' : ''}`,
            // with beta = 0 the old out must not be read (BLAS semantics), so it starts as NaN
            init: (r) => ({ out: beta === 0 ? nans(M * N) : r.randn(M * N), a: r.randn(M * K), b: r.randn(K * N) }),
            outputs: ['out'],
            run: (be, b) => (plain ? be.matmul(b.out, b.a, b.b, M, N, K) : be.matmul(b.out, b.a, b.b, M, N, K, opts)),
          }));
        }
      }
    }
  }
  return cases;
}

function elementwiseCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [M, N] of [[1, 1], [4, 9], [7, 1]]) {
    cases.push(defineCase({
      op: 'addBias', name: `M=${M} N=${N}`,
      init: (r) => ({ out: r.randn(M * N), bias: r.randn(N) }),
      outputs: ['out'],
      run: (be, b) => be.addBias(b.out, b.bias, M, N),
    }));
    for (const accumulate of [false, true]) {
      cases.push(defineCase({
        op: 'biasBackward', name: `M=${M} N=${N} accumulate=${accumulate}`,
        init: (r) => ({ dbias: accumulate ? r.randn(N) : nans(N), dout: r.randn(M * N) }),
        outputs: ['dbias'],
        run: (be, b) => be.biasBackward(b.dbias, b.dout, M, N, accumulate),
      }));
    }
  }
  for (const n of [1, 37]) {
    cases.push(defineCase({
      op: 'add', name: `n=${n}`,
      init: (r) => ({ out: nans(n), a: r.randn(n), b: r.randn(n) }),
      outputs: ['out'],
      run: (be, b) => be.add(b.out, b.a, b.b, n),
    }));
    cases.push(defineCase({
      op: 'add', name: `n=${n} out aliases a`,
      init: (r) => ({ a: r.randn(n), b: r.randn(n) }),
      outputs: ['a'],
      run: (be, b) => be.add(b.a, b.a, b.b, n),
    }));
    cases.push(defineCase({
      op: 'add', name: `n=${n} out aliases b`,
      init: (r) => ({ a: r.randn(n), b: r.randn(n) }),
      outputs: ['b'],
      run: (be, b) => be.add(b.b, b.a, b.b, n),
    }));
    cases.push(defineCase({
      op: 'add', name: `n=${n} a === b`,
      init: (r) => ({ out: nans(n), a: r.randn(n) }),
      outputs: ['out'],
      run: (be, b) => be.add(b.out, b.a, b.a, n),
    }));
    for (const alpha of [-0.7, 0]) {
      cases.push(defineCase({
        op: 'axpy', name: `n=${n} alpha=${alpha}`,
        init: (r) => ({ y: r.randn(n), x: r.randn(n) }),
        outputs: ['y'],
        run: (be, b) => be.axpy(b.y, b.x, alpha, n),
      }));
    }
    for (const s of [-1.5, 0]) {
      cases.push(defineCase({
        op: 'scale', name: `n=${n} s=${s}`,
        init: (r) => ({ x: r.randn(n) }),
        outputs: ['x'],
        run: (be, b) => be.scale(b.x, s, n),
      }));
    }
    cases.push(defineCase({
      op: 'mul', name: `n=${n}`,
      init: (r) => {
        const mask = new Float32Array(n);
        for (let i = 0; i < n; i++) mask[i] = r.next() < 0.3 ? 0 : 1 / 0.7;
        return { out: nans(n), x: r.randn(n), mask };
      },
      outputs: ['out'],
      run: (be, b) => be.mul(b.out, b.x, b.mask, n),
    }));
  }
  for (const n of [1, 1001]) {
    cases.push(defineCase({
      op: 'sumSquares', name: `n=${n}`,
      init: (r) => ({ x: r.randn(n, 3) }),
      outputs: [],
      run: (be, b) => be.sumSquares(b.x, n),
    }));
  }
  // gelu over a wide range, with the saturated tails and 0
  for (const n of [1, 67]) {
    const init = (r: Rng): Float32Array => {
      const x = r.rand(n, -8, 8);
      if (n > 4) x.set([0, -20, 20, 1e-4], 0);
      return x;
    };
    cases.push(defineCase({
      op: 'geluForward', name: `n=${n}`,
      init: (r) => ({ out: nans(n), x: init(r) }),
      outputs: ['out'],
      run: (be, b) => be.geluForward(b.out, b.x, n),
    }));
    cases.push(defineCase({
      op: 'geluBackward', name: `n=${n}`,
      init: (r) => ({ dx: nans(n), x: init(r), dout: r.randn(n) }),
      outputs: ['dx'],
      run: (be, b) => be.geluBackward(b.dx, b.x, b.dout, n),
    }));
  }
  return cases;
}

function layernormCases(): OpCase[] {
  const cases: OpCase[] = [];
  const eps = 1e-5;
  for (const [N, C] of [[1, 1], [1, 7], [5, 13], [3, 64]]) {
    // off-centre, wide rows: a one-pass variance in float32 would lose digits here
    const inputs = (r: Rng) => {
      const x = r.randn(N * C, 2);
      for (let i = 0; i < x.length; i++) x[i] += 3;
      return { x, weight: r.randn(C), bias: r.randn(C) };
    };
    cases.push(defineCase({
      op: 'layernormForward', name: `N=${N} C=${C}`,
      init: (r) => ({ out: nans(N * C), mean: nans(N), rstd: nans(N), ...inputs(r) }),
      outputs: ['out', 'mean', 'rstd'],
      run: (be, b) => be.layernormForward(b.out, b.mean, b.rstd, b.x, b.weight, b.bias, N, C, eps),
    }));
    if (C === 1) continue;
    const grads: [boolean, boolean][] = [[true, true], [false, false], [true, false], [false, true]];
    for (const accumulate of [false, true]) {
      for (const [withW, withB] of grads) {
        cases.push(defineCase({
          op: 'layernormBackward',
          name: `N=${N} C=${C} accumulate=${accumulate} dweight=${withW ? 'given' : 'null'} dbias=${withB ? 'given' : 'null'}`,
          init: (r) => {
            const { x, weight, bias } = inputs(r);
            const mean = new Float32Array(N);
            const rstd = new Float32Array(N);
            oracle.layernormForward(new Float32Array(N * C), mean, rstd, x, weight, bias, N, C, eps);
            const bufs: Record<string, Float32Array> = {
              dx: accumulate ? r.randn(N * C) : nans(N * C), dout: r.randn(N * C), x, weight, mean, rstd,
            };
            if (withW) bufs.dweight = r.randn(C);
            if (withB) bufs.dbias = r.randn(C);
            return bufs;
          },
          outputs: ['dx', ...(withW ? ['dweight'] : []), ...(withB ? ['dbias'] : [])],
          run: (be, b) => be.layernormBackward(
            b.dx as Float32Array, (b.dweight as Float32Array | undefined) ?? null, (b.dbias as Float32Array | undefined) ?? null,
            b.dout as Float32Array, b.x as Float32Array, b.weight as Float32Array, b.mean as Float32Array, b.rstd as Float32Array,
            N, C, accumulate,
          ),
        }));
      }
    }
  }
  return cases;
}

function attentionCases(): OpCase[] {
  const cases: OpCase[] = [];
  const shapes: [number, number, number, number][] = [[1, 1, 4, 1], [3, 1, 6, 2], [3, 5, 8, 2], [2, 7, 12, 3]];
  // dropout: null = arguments omitted, else [p, seed]
  const drops: ([number, number] | null)[] = [null, [0, 5], [0.25, 0xdeadbeef]];
  for (const [B, T, C, NH] of shapes) {
    for (const masked of [false, true]) {
      for (const drop of drops) {
        if (drop && T === 1 && B === 1) continue;
        const label = `B=${B} T=${T} C=${C} NH=${NH} ${masked ? 'key mask (left, right, fully padded rows)' : 'no mask'}` +
          (drop ? ` dropoutP=${drop[0]} seed=${drop[1]}` : '');
        const mask = (): Int32Array | null => (masked ? padMask(B, T) : null);
        cases.push(defineCase({
          op: 'attentionForward', name: label,
          init: (r) => ({ out: nans(B * T * C), att: nans(B * NH * T * T), qkv: r.randn(B * T * 3 * C), ...(masked ? { keyMask: padMask(B, T) } : {}) }),
          outputs: ['out', 'att'],
          run: (be, b) => {
            const args = [b.out as Float32Array, b.att as Float32Array, b.qkv as Float32Array, (b.keyMask as I32 | undefined) ?? null] as const;
            if (drop) be.attentionForward(...args, B, T, C, NH, drop[0], drop[1]);
            else be.attentionForward(...args, B, T, C, NH);
          },
        }));
        cases.push(defineCase({
          op: 'attentionBackward', name: label,
          init: (r) => {
            const qkv = r.randn(B * T * 3 * C);
            const att = new Float32Array(B * NH * T * T);
            oracle.attentionForward(new Float32Array(B * T * C), att, qkv, mask(), B, T, C, NH, drop?.[0], drop?.[1]);
            return { dqkv: nans(B * T * 3 * C), dout: r.randn(B * T * C), qkv, att };
          },
          outputs: ['dqkv'],
          run: (be, b) => {
            if (drop) be.attentionBackward(b.dqkv, b.dout, b.qkv, b.att, B, T, C, NH, drop[0], drop[1]);
            else be.attentionBackward(b.dqkv, b.dout, b.qkv, b.att, B, T, C, NH);
          },
        }));
      }
    }
  }
  // KV cache: prefill, prefill into a larger cache, one decode step, a chunk after a prefix, the first token
  const cached: [string, number, number, number][] = [
    ['prefill', 0, 5, 5], ['prefill into a larger cache', 0, 5, 8], ['decode step', 4, 1, 8], ['chunk after a prefix', 2, 3, 6],
    ['first token', 0, 1, 1],
  ];
  const [B, C, NH] = [3, 8, 2];
  const hs = C / NH;
  for (const [what, past, Tq, S] of cached) {
    for (const masked of [false, true]) {
      cases.push(defineCase({
        op: 'attentionCached',
        name: `${what}: past=${past} Tq=${Tq} S=${S} B=${B} C=${C} NH=${NH} ${masked ? 'key mask' : 'no mask'}`,
        init: (r) => ({
          out: nans(B * Tq * C), qkv: r.randn(B * Tq * 3 * C),
          kCache: r.randn(B * NH * S * hs), vCache: r.randn(B * NH * S * hs),
          ...(masked ? { keyMask: cacheMask(B, S, Math.min(2, S - 1)) } : {}),
        }),
        outputs: ['out', 'kCache', 'vCache'],
        run: (be, b) => be.attentionCached(
          b.out as Float32Array, b.qkv as Float32Array, b.kCache as Float32Array, b.vCache as Float32Array,
          (b.keyMask as I32 | undefined) ?? null, past, B, Tq, C, NH, S,
        ),
      }));
    }
  }
  return cases;
}

/** One row of an attentionRows step: its cache's slots, its new token's position, and its key mask. */
export interface DecodeRow {
  S: number;
  past: number;
  /** null: no mask (all keys real); else the slots that are padding */
  masked: number[] | null;
}

/** A row's key mask [S]: 0 at the `masked` slots, 1 elsewhere (null when the row has none). */
export function rowMask(r: DecodeRow): Int32Array | null {
  if (!r.masked) return null;
  const m = new Int32Array(r.S).fill(1);
  for (const s of r.masked) m[s] = 0;
  return m;
}

/** Buffers of one attentionRows step: out [B, C], qkv [B, 3C], pasts [B], and row b's k{b}, v{b} [NH, S_b, hs], m{b} [S_b]. */
export function decodeRowsInit(r: Rng, rows: DecodeRow[], C: number): Bufs {
  const B = rows.length;
  const bufs: Bufs = { out: nans(B * C), qkv: r.randn(B * 3 * C), pasts: Int32Array.from(rows, (x) => x.past) };
  rows.forEach((row, b) => {
    bufs[`k${b}`] = r.randn(row.S * C);
    bufs[`v${b}`] = r.randn(row.S * C);
    const m = rowMask(row);
    if (m) bufs[`m${b}`] = m;
  });
  return bufs;
}

/** attentionRows over the buffers of decodeRowsInit */
export function runDecodeRows(be: Backend, bufs: Bufs, rows: DecodeRow[], C: number, NH: number): void {
  const ks = rows.map((_, b) => bufs[`k${b}`] as F32);
  const vs = rows.map((_, b) => bufs[`v${b}`] as F32);
  const ms = rows.map((_, b) => (bufs[`m${b}`] as I32 | undefined) ?? null);
  be.attentionRows(bufs.out as F32, bufs.qkv as F32, ks, vs, ms, bufs.pasts as I32, rows.length, C, NH);
}

/** Rows of a step with about `past` tokens each (some masked): enough work that the native backend uses its pool. */
export function longDecodeRows(B: number, past: number): DecodeRow[] {
  return Array.from({ length: B }, (_, b) => {
    const p = past + 7 * b;
    return { S: p + 1 + (b % 3), past: p, masked: b % 2 ? [0, 1, 2, Math.floor(p / 2)] : null };
  });
}

/** Decode steps: [what, C, NH, rows] */
export const DECODE_STEPS: [string, number, number, DecodeRow[]][] = [
  ['one row, its first token', 8, 2, [{ S: 1, past: 0, masked: null }]],
  ['one row after left padding', 8, 2, [{ S: 6, past: 4, masked: [0, 1] }]],
  ['three rows of different lengths, no masks', 8, 2, [{ S: 1, past: 0, masked: null }, { S: 7, past: 6, masked: null }, { S: 5, past: 2, masked: null }]],
  ['three rows: masked keys mid-cache, a null mask, left padding', 12, 3, [
    { S: 6, past: 5, masked: [1, 3] }, { S: 3, past: 1, masked: null }, { S: 8, past: 4, masked: [0, 1, 2] },
  ]],
  ['a row whose keys are all masked gives zeros', 8, 2, [{ S: 4, past: 2, masked: [0, 1, 2, 3] }, { S: 4, past: 3, masked: [0] }]],
  ['five long rows (hs = 32)', 64, 2, longDecodeRows(5, 120)],
  // heads of 16, 32 and 64: the native AVX-512 path takes keys 16 at a time (a block's last keys missing, masked keys in any block)
  ['rows of 1 to 40 keys, masks across blocks of 16 (hs = 16)', 48, 3, [
    { S: 1, past: 0, masked: null }, { S: 17, past: 16, masked: [15, 16] }, { S: 40, past: 39, masked: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] },
    { S: 33, past: 31, masked: null },
  ]],
  ['every key masked but the new one, and every key masked (hs = 64)', 128, 2, [
    { S: 20, past: 19, masked: Array.from({ length: 19 }, (_, i) => i) }, { S: 18, past: 17, masked: Array.from({ length: 18 }, (_, i) => i) },
  ]],
  ["sixteen rows of the bundled model's shapes (hs = 32)", 128, 4, longDecodeRows(16, 36)],
];

function attentionRowsCases(): OpCase[] {
  return DECODE_STEPS.map(([what, C, NH, rows]) => {
    const desc = rows.map((r) => `S=${r.S} past=${r.past}${r.masked ? ` masked ${r.masked.length}` : ''}`).join('; ');
    return {
      op: 'attentionRows',
      name: `${what}: B=${rows.length} C=${C} NH=${NH} (${desc})`,
      init: (r: Rng) => decodeRowsInit(r, rows, C),
      outputs: ['out', ...rows.flatMap((_, b) => [`k${b}`, `v${b}`])],
      run: (be: Backend, b: Bufs) => runDecodeRows(be, b, rows, C, NH),
    };
  });
}

/** A decode step's LoRA: [what, B, inDim, outDim, ranks of the adapters (0: no factors at this site), weights [B, K]] */
export const LORA_STEPS: [string, number, number, number, number[], number[]][] = [
  ['one row, one adapter', 1, 8, 12, [4], [2]],
  ['rows on different adapters, one without factors here, a row on none', 4, 9, 7, [3, 0, 5], [1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]],
  ['rows mixing two adapters (router weights)', 3, 16, 20, [16, 16], [0.75, 0.25, 0.5, 0.5, 0, 1.5]],
  // equal weights on one adapter: the native backend takes rows together, in groups of up to 16
  ['forty rows on one adapter, weights equal but for two', 40, 24, 40, [8, 4], Array.from({ length: 80 }, (_, i) => (i % 2 ? (i === 15 ? -0.5 : 0) : i === 20 ? 0.25 : 1.5))],
  ["sixteen rows of the bundled model's c_attn (r 16) over four adapters", 16, 128, 384, [16, 16, 16, 16], Array.from({ length: 64 }, (_, i) => (i % 4 === (i >> 2) % 4 ? 2 : 0))],
  // enough work that the native backend hands the rows to its pool (so does the bundled-model case above)
  ["sixteen rows of GPT-2's c_attn (r 16) over two adapters", 16, 768, 2304, [16, 16], Array.from({ length: 32 }, (_, i) => (i % 2 === (i >> 1) % 2 ? 2 : 0))],
];

/** Buffers of one loraRows call: y [B, out] (its start), x [B, in], weights [B, K], and adapter k's A{k} [r, in], B{k} [out, r]. */
export function loraRowsInit(r: Rng, B: number, inDim: number, outDim: number, ranks: number[], weights: number[]): Bufs {
  const bufs: Bufs = { y: r.randn(B * outDim), x: r.randn(B * inDim), weights: Float32Array.from(weights) };
  ranks.forEach((rank, k) => {
    if (rank === 0) return;
    bufs[`A${k}`] = r.randn(rank * inDim, 0.5);
    bufs[`B${k}`] = r.randn(outDim * rank, 0.5);
  });
  return bufs;
}

/** loraRows over the buffers of loraRowsInit */
export function runLoraRows(be: Backend, bufs: Bufs, B: number, inDim: number, outDim: number, ranks: number[]): void {
  const As = ranks.map((_, k) => (bufs[`A${k}`] as F32 | undefined) ?? null);
  const Bs = ranks.map((_, k) => (bufs[`B${k}`] as F32 | undefined) ?? null);
  be.loraRows(bufs.y as F32, bufs.x as F32, As, Bs, bufs.weights as F32, B, inDim, outDim);
}

function loraRowsCases(): OpCase[] {
  return LORA_STEPS.map(([what, B, inDim, outDim, ranks, weights]) => ({
    op: 'loraRows',
    name: `${what}: B=${B} in=${inDim} out=${outDim} r=[${ranks.join(', ')}]`,
    init: (r: Rng) => loraRowsInit(r, B, inDim, outDim, ranks, weights),
    outputs: ['y'],
    run: (be: Backend, b: Bufs) => runLoraRows(be, b, B, inDim, outDim, ranks),
  }));
}

/**
 * x [rows, V] whose row r is of kind r % 8: random; a tie for the largest (the first wins); NaN at 0 (gives
 * 0); NaNs around the largest; all -Infinity; -Infinity but the last; +Infinity twice; -0 then +0 over
 * negatives (one value: the first).
 */
export function argmaxInput(r: Rng, rows: number, V: number): Float32Array {
  const x = r.randn(rows * V);
  for (let row = 0; row < rows; row++) {
    const at = (i: number) => row * V + Math.min(i, V - 1);
    const rand = () => r.int(V);
    switch (row % 8) {
      case 1: x[at(rand())] = 9; x[at(rand())] = 9; break;
      case 2: x[at(0)] = NaN; x[at(rand())] = 9; break;
      case 3: x[at(rand())] = 9; for (let k = 0; k < 4; k++) x[at(rand())] = NaN; break;
      case 4: x.fill(-Infinity, row * V, (row + 1) * V); break;
      case 5: x.fill(-Infinity, row * V, (row + 1) * V); x[at(V - 1)] = -3; break;
      case 6: x[at(rand())] = Infinity; x[at(rand())] = Infinity; break;
      case 7: for (let i = 0; i < V; i++) x[row * V + i] = -1 - (i % 5); x[at(0)] = -0; x[at(rand())] = 0; break;
    }
  }
  return x;
}

function argmaxRowsCases(): OpCase[] {
  // V = 1; rows of every kind; rows longer than the vector lanes with a tail; enough rows to use the native pool
  const shapes: [number, number][] = [[1, 1], [3, 1], [1, 7], [8, 37], [16, 1000], [9, 4099]];
  return shapes.map(([rows, V]) => defineCase({
    op: 'argmaxRows', name: `rows=${rows} V=${V}`,
    init: (r) => ({ out: new Int32Array(rows).fill(-7), x: argmaxInput(r, rows, V) }),
    outputs: ['out'],
    run: (be, b) => be.argmaxRows(b.out, b.x, rows, V),
    exact: true,
  }));
}

/**
 * Greedy tokens from hidden rows: x [rows, C] @ w^T with small integers (every logit exact in fp32, many
 * ties between columns), then rows with a NaN (every logit NaN: 0) and with an infinity (infinite and NaN
 * logits).
 */
function argmaxLogitsCases(): OpCase[] {
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 7, 5], [16, 1000, 37], [17, 300, 16]];
  return shapes.map(([rows, V, C]) => defineCase({
    op: 'argmaxLogits', name: `rows=${rows} V=${V} C=${C}`,
    init: (r) => {
      const ints = (n: number) => Float32Array.from({ length: n }, () => r.int(7) - 3);
      const x = ints(rows * C);
      if (rows >= 3) { x[C] = NaN; x[2 * C + C - 1] = Infinity; }
      return { out: new Int32Array(rows).fill(-7), x, w: ints(V * C) };
    },
    outputs: ['out'],
    run: (be, b) => be.argmaxLogits(b.out, b.x, b.w, rows, V, C),
    exact: true,
  }));
}

/**
 * Sampled rows: x [rows, V] like a model's logits (a few large, a long tail), row r with settings r % 8
 * (temperature alone, hot and cold; top-p; top-k; both; top-k past V) and its own draw; then rows with a
 * NaN logit, every logit -Infinity, and a +Infinity one (each gets its argmax).
 */
function sampleRowsCases(): OpCase[] {
  const settings: [number, number, number][] = [[1, 0, 1], [0.3, 0, 1], [2, 0, 1], [1, 0, 0.9], [0.7, 40, 1], [1, 50, 0.95], [1.2, 0, 0.5], [1, 10_000, 0.8]];
  const shapes: [number, number][] = [[1, 1], [3, 7], [8, 1000], [16, 4099]];
  const init = (r: Rng, rows: number, V: number, odd: boolean) => {
    const x = new Float32Array(rows * V);
    for (let i = 0; i < x.length; i++) x[i] = r.uniform(0, 1) < 0.01 ? 6 + 3 * r.uniform(0, 1) : 2 * Math.log(r.uniform(0, 1) + 1e-6);
    if (odd && rows >= 3) {
      x[1] = NaN; // row 0: a NaN
      x.fill(-Infinity, V, 2 * V); // row 1: every logit -Infinity
      x[2 * V + V - 1] = Infinity; // row 2: +Infinity
    }
    return { out: new Int32Array(rows).fill(-7), x };
  };
  const pick = (i: number) => settings[i % settings.length];
  return [...shapes.map(([rows, V]) => [rows, V, false] as const), [3, 50, true] as const].map(([rows, V, odd], c) => {
    // each row's settings and draw (not buffers of the suite: they are only read)
    const temps = Float64Array.from({ length: rows }, (_, i) => pick(i)[0]), topKs = Int32Array.from({ length: rows }, (_, i) => pick(i)[1]);
    const topPs = Float64Array.from({ length: rows }, (_, i) => pick(i)[2]);
    const dr = new Rng(1500 + c), draws = Float64Array.from({ length: rows }, () => dr.uniform(0, 1));
    return defineCase({
      op: 'sampleRows', name: `rows=${rows} V=${V}${odd ? ' (NaN, -Infinity and +Infinity rows)' : ''}`,
      init: (r) => init(r, rows, V, odd),
      outputs: ['out'],
      run: (be, b) => be.sampleRows(b.out, b.x, rows, V, temps, topKs, topPs, draws),
      exact: true,
    });
  });
}

function embeddingCases(): OpCase[] {
  const cases: OpCase[] = [];
  // [BT, C, V, P]; ids repeat (scatter-add collisions) and positions restart per sequence
  for (const [BT, C, V, P] of [[1, 1, 3, 2], [9, 5, 4, 6]]) {
    const idx = (r: Rng) => {
      const ids = r.ints(BT, V);
      const positions = new Int32Array(BT);
      for (let i = 0; i < BT; i++) positions[i] = i % P;
      return { ids, positions };
    };
    cases.push(defineCase({
      op: 'embeddingForward', name: `BT=${BT} C=${C} V=${V} P=${P}`,
      init: (r) => ({ out: nans(BT * C), wte: r.randn(V * C), wpe: r.randn(P * C), ...idx(r) }),
      outputs: ['out'],
      run: (be, b) => be.embeddingForward(b.out, b.ids, b.positions, b.wte, b.wpe, BT, C),
    }));
    for (const [withTe, withPe] of [[true, true], [true, false], [false, true]]) {
      cases.push(defineCase({
        op: 'embeddingBackward',
        name: `BT=${BT} C=${C} V=${V} P=${P} dwte=${withTe ? 'given' : 'null'} dwpe=${withPe ? 'given' : 'null'}`,
        init: (r) => ({
          dout: r.randn(BT * C), ...idx(r), ...(withTe ? { dwte: r.randn(V * C) } : {}), ...(withPe ? { dwpe: r.randn(P * C) } : {}),
        }),
        outputs: [...(withTe ? ['dwte' as const] : []), ...(withPe ? ['dwpe' as const] : [])],
        run: (be, b) => be.embeddingBackward(
          (b.dwte as Float32Array | undefined) ?? null, (b.dwpe as Float32Array | undefined) ?? null,
          b.dout as Float32Array, b.ids as Int32Array, b.positions as Int32Array, BT, C,
        ),
      }));
    }
  }
  return cases;
}

/** logits [N, V] with hard rows: huge offsets (overflow without max-subtraction), wide spread, ties. */
export function hardLogits(r: Rng, N: number, V: number): Float32Array {
  const x = r.randn(N * V, 2);
  for (let n = 0; n < N; n++) {
    for (let v = 0; v < V; v++) {
      const i = n * V + v;
      if (n % 4 === 1) x[i] += 100;
      else if (n % 4 === 2) x[i] *= 30;
      else if (n % 4 === 3) x[i] = 0.5;
    }
  }
  return x;
}

/** targets [N] with every third row ignored (-100) */
export function someTargets(r: Rng, N: number, V: number): Int32Array {
  const t = r.ints(N, V);
  for (let n = 2; n < N; n += 3) t[n] = -100;
  return t;
}

function crossEntropyCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const [N, V] of [[1, 1], [1, 5], [7, 13]]) {
    const label = `N=${N} V=${V}`;
    cases.push(defineCase({
      op: 'crossEntropyForward', name: label,
      init: (r) => ({ losses: nans(N), logits: hardLogits(r, N, V), targets: someTargets(r, N, V) }),
      outputs: ['losses'],
      run: (be, b) => be.crossEntropyForward(b.losses, b.logits, b.targets, N, V),
    }));
    const inputs = (r: Rng) => ({ logits: hardLogits(r, N, V), targets: someTargets(r, N, V), dloss: r.rand(N, -2, 2) });
    cases.push(defineCase({
      op: 'crossEntropyBackward', name: label,
      init: (r) => ({ dlogits: nans(N * V), ...inputs(r) }),
      outputs: ['dlogits'],
      run: (be, b) => be.crossEntropyBackward(b.dlogits, b.logits, b.targets, b.dloss, N, V),
    }));
    cases.push(defineCase({
      op: 'crossEntropyBackward', name: `${label} dlogits === logits`,
      init: inputs,
      outputs: ['logits'],
      run: (be, b) => be.crossEntropyBackward(b.logits, b.logits, b.targets, b.dloss, N, V),
    }));
  }
  return cases;
}

function trainingCases(): OpCase[] {
  const cases: OpCase[] = [];
  const drops: [number, number, number, number][] = [
    [1, 0.5, 0, 0], [1000, 0.1, 42, 0], [1000, 0.5, 0xdeadbeef, 2 ** 31 + 5], [333, 0, 7, 3], [257, 0.9, 123, 1000],
  ];
  for (const [n, p, seed, offset] of drops) {
    cases.push(defineCase({
      op: 'dropoutMask', name: `n=${n} p=${p} seed=${seed} offset=${offset}`,
      init: () => ({ mask: nans(n) }),
      outputs: ['mask'],
      run: (be, b) => be.dropoutMask(b.mask, n, p, seed, offset),
      exact: true,
    }));
  }
  for (const n of [1, 37]) {
    for (const [step, wd] of [[1, 0.1], [7, 0.1], [7, 0]]) {
      cases.push(defineCase({
        op: 'adamw', name: `n=${n} step=${step} weightDecay=${wd}`,
        init: (r) => {
          const grads = r.randn(n, 0.1);
          if (n > 3) grads[3] = 0;
          const first = step === 1;
          const v = first ? new Float32Array(n) : r.rand(n, 0, 0.01);
          return { params: r.randn(n), grads, m: first ? new Float32Array(n) : r.randn(n, 0.05), v };
        },
        outputs: ['params', 'm', 'v'],
        run: (be, b) => be.adamw(b.params, b.grads, b.m, b.v, n, 1e-2, 0.9, 0.999, 1e-8, wd, step),
      }));
    }
  }
  return cases;
}

export function allCases(): OpCase[] {
  return [
    ...matmulCases(), ...elementwiseCases(), ...layernormCases(), ...attentionCases(), ...attentionRowsCases(), ...loraRowsCases(),
    ...embeddingCases(), ...crossEntropyCases(), ...argmaxRowsCases(), ...argmaxLogitsCases(), ...sampleRowsCases(), ...trainingCases(),
  ];
}

/** A stable seed per case, so each case draws the same data on every run and every backend. */
export function caseSeed(c: OpCase): number {
  let h = 2166136261;
  const s = `${c.op} ${c.name}`;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
