import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend, F32, I32, MatmulOptions } from './backend.js';

/** What the addon (native/binding.c) exports: the Backend ops in the same argument order, plus info. */
interface NativeAddon {
  matmul(
    out: F32, a: F32, b: F32, M: number, N: number, K: number, transA: boolean, transB: boolean, alpha: number, beta: number,
    half: HalfHandle | null,
  ): void;
  addBias(out: F32, bias: F32, M: number, N: number): void;
  biasBackward(dbias: F32, dout: F32, M: number, N: number, accumulate: boolean): void;
  add(out: F32, a: F32, b: F32, n: number): void;
  axpy(y: F32, x: F32, alpha: number, n: number): void;
  layernormForward(out: F32, mean: F32, rstd: F32, x: F32, weight: F32, bias: F32, N: number, C: number, eps: number): void;
  layernormBackward(
    dx: F32, dweight: F32 | null, dbias: F32 | null, dout: F32, x: F32, weight: F32, mean: F32, rstd: F32,
    N: number, C: number, accumulate: boolean,
  ): void;
  geluForward(out: F32, x: F32, n: number): void;
  geluBackward(dx: F32, x: F32, dout: F32, n: number): void;
  attentionForward(
    out: F32, att: F32, qkv: F32, keyMask: I32 | null, B: number, T: number, C: number, NH: number, dropoutP: number, dropoutSeed: number,
  ): void;
  attentionBackward(
    dqkv: F32, dout: F32, qkv: F32, att: F32, B: number, T: number, C: number, NH: number, dropoutP: number, dropoutSeed: number,
  ): void;
  attentionCached(
    out: F32, qkv: F32, kCache: F32, vCache: F32, keyMask: I32 | null, past: number, B: number, Tq: number, C: number, NH: number, S: number,
  ): void;
  embeddingForward(out: F32, ids: I32, positions: I32, wte: F32, wpe: F32, BT: number, C: number): void;
  embeddingBackward(dwte: F32 | null, dwpe: F32 | null, dout: F32, ids: I32, positions: I32, BT: number, C: number): void;
  crossEntropyForward(losses: F32, logits: F32, targets: I32, N: number, V: number): void;
  crossEntropyBackward(dlogits: F32, logits: F32, targets: I32, dloss: F32, N: number, V: number): void;
  dropoutMask(mask: F32, n: number, p: number, seed: number, offset: number): void;
  mul(out: F32, x: F32, mask: F32, n: number): void;
  adamw(
    params: F32, grads: F32, m: F32, v: F32, n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number,
  ): void;
  sumSquares(x: F32, n: number): number;
  scale(x: F32, s: number, n: number): void;
  halfWeights(weights: F32): HalfHandle | null;
  releaseHalf(handle: HalfHandle): void;
  adviseHugePages(weights: F32, collapse: boolean): boolean;
  info(): NativeInfo;
  setBlasThreads(n: number): void;
}

/** An fp16 copy of a weight buffer, owned by the addon (freed by releaseHalf or by GC). */
type HalfHandle = object;

/**
 * An fp16 copy of one fp32 weight buffer (NativeBackend.halfWeights), 2 bytes per weight. It is read only
 * inside NativeBackend.withHalfWeights, and only as it was when made: a later write to `source` is not
 * seen (src/model/decode-weights.ts rebuilds it when the weights' version changes).
 */
export class HalfWeights {
  /** @internal */
  constructor(readonly source: F32, private handle: HalfHandle | null, private readonly addon: NativeAddon) {}

  /** The addon's handle, or null once released. @internal */
  get native(): HalfHandle | null {
    return this.handle;
  }

  /** Frees the copy now (rather than at garbage collection); it is then never read again. */
  release(): void {
    if (this.handle) this.addon.releaseHalf(this.handle);
    this.handle = null;
  }
}

/** What the loaded addon runs on. */
export interface NativeInfo {
  /** kernel variant chosen for this CPU: "avx2" or "baseline" */
  isa: string;
  /** openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Cooperlake MAX_THREADS=64" */
  blasConfig: string;
  /** the OpenBLAS kernel picked for this CPU */
  blasCore: string;
  /** threads in OpenBLAS's pool: the only threads the engine uses */
  blasThreads: number;
}

/**
 * The native CPU backend: the N-API addon built from native/ (sgemm from OpenBLAS, fused C kernels).
 * Every op passes typed arrays straight through (no copies); the addon checks every length against the
 * shapes and throws a RangeError rather than touch memory outside a buffer.
 */
export class NativeBackend implements Backend {
  readonly name = 'native';
  /** the fp16 copy that matmuls read now: set only inside withHalfWeights */
  private half: HalfWeights | null = null;

  constructor(private readonly addon: NativeAddon) {}

  /**
   * An fp16 copy of `weights` (one buffer, e.g. GPT2Weights.buffer) for inference, or null where the CPU
   * lacks AVX2/F16C. Nothing reads it until withHalfWeights; src/model/decode-weights.ts
   * (useHalfWeightsForDecode) uses it for KV-cache decode steps only.
   */
  halfWeights(weights: F32): HalfWeights | null {
    const handle = this.addon.halfWeights(weights);
    return handle ? new HalfWeights(weights, handle, this.addon) : null;
  }

  /**
   * Runs `fn` with every matmul of at most 8 rows whose B lies inside `half.source` reading the fp16 copy,
   * widened to fp32 on the fly: half the memory traffic, about 1.7x the decode speed, results that differ
   * from fp32 by the fp16 rounding of the weights (~5e-4 relative). Outside `fn` every matmul is fp32.
   */
  withHalfWeights<T>(half: HalfWeights, fn: () => T): T {
    const before = this.half;
    this.half = half;
    try {
      return fn();
    } finally {
      this.half = before;
    }
  }

  /**
   * Asks the OS for 2 MB pages under a weight buffer (Linux transparent huge pages): a decode step streams
   * every weight once, and with 4 KB pages TLB misses cost about 15% of that bandwidth. Call it right
   * after allocating the buffer and before filling it (then it is free); `collapse` also rebuilds pages
   * already filled (MADV_COLLAPSE, Linux 6.1+, about 2 ms per MB). A hint: returns false where the OS did
   * not take it, and nothing else changes.
   */
  adviseHugePages(weights: F32, opts: { collapse?: boolean } = {}): boolean {
    return this.addon.adviseHugePages(weights, opts.collapse ?? false);
  }

  /** The kernel variant, BLAS build and thread count in use. */
  info(): NativeInfo {
    return this.addon.info();
  }

  /** Sets the size of OpenBLAS's thread pool (default: one per core). */
  setThreads(n: number): void {
    this.addon.setBlasThreads(n);
  }

  matmul(out: F32, a: F32, b: F32, M: number, N: number, K: number, opts: MatmulOptions = {}): void {
    this.addon.matmul(
      out, a, b, M, N, K, opts.transA ?? false, opts.transB ?? false, opts.alpha ?? 1, opts.beta ?? 0, this.half?.native ?? null,
    );
  }

  addBias(out: F32, bias: F32, M: number, N: number): void {
    this.addon.addBias(out, bias, M, N);
  }

  biasBackward(dbias: F32, dout: F32, M: number, N: number, accumulate: boolean): void {
    this.addon.biasBackward(dbias, dout, M, N, accumulate);
  }

  add(out: F32, a: F32, b: F32, n: number): void {
    this.addon.add(out, a, b, n);
  }

  axpy(y: F32, x: F32, alpha: number, n: number): void {
    this.addon.axpy(y, x, alpha, n);
  }

  layernormForward(out: F32, mean: F32, rstd: F32, x: F32, weight: F32, bias: F32, N: number, C: number, eps: number): void {
    this.addon.layernormForward(out, mean, rstd, x, weight, bias, N, C, eps);
  }

  layernormBackward(
    dx: F32, dweight: F32 | null, dbias: F32 | null, dout: F32, x: F32, weight: F32, mean: F32, rstd: F32,
    N: number, C: number, accumulate: boolean,
  ): void {
    this.addon.layernormBackward(dx, dweight, dbias, dout, x, weight, mean, rstd, N, C, accumulate);
  }

  geluForward(out: F32, x: F32, n: number): void {
    this.addon.geluForward(out, x, n);
  }

  geluBackward(dx: F32, x: F32, dout: F32, n: number): void {
    this.addon.geluBackward(dx, x, dout, n);
  }

  attentionForward(
    out: F32, att: F32, qkv: F32, keyMask: I32 | null, B: number, T: number, C: number, NH: number,
    dropoutP = 0, dropoutSeed = 0,
  ): void {
    this.addon.attentionForward(out, att, qkv, keyMask, B, T, C, NH, dropoutP, dropoutSeed);
  }

  attentionBackward(
    dqkv: F32, dout: F32, qkv: F32, att: F32, B: number, T: number, C: number, NH: number,
    dropoutP = 0, dropoutSeed = 0,
  ): void {
    this.addon.attentionBackward(dqkv, dout, qkv, att, B, T, C, NH, dropoutP, dropoutSeed);
  }

  attentionCached(
    out: F32, qkv: F32, kCache: F32, vCache: F32, keyMask: I32 | null,
    past: number, B: number, Tq: number, C: number, NH: number, S: number,
  ): void {
    this.addon.attentionCached(out, qkv, kCache, vCache, keyMask, past, B, Tq, C, NH, S);
  }

  embeddingForward(out: F32, ids: I32, positions: I32, wte: F32, wpe: F32, BT: number, C: number): void {
    this.addon.embeddingForward(out, ids, positions, wte, wpe, BT, C);
  }

  embeddingBackward(dwte: F32 | null, dwpe: F32 | null, dout: F32, ids: I32, positions: I32, BT: number, C: number): void {
    this.addon.embeddingBackward(dwte, dwpe, dout, ids, positions, BT, C);
  }

  crossEntropyForward(losses: F32, logits: F32, targets: I32, N: number, V: number): void {
    this.addon.crossEntropyForward(losses, logits, targets, N, V);
  }

  crossEntropyBackward(dlogits: F32, logits: F32, targets: I32, dloss: F32, N: number, V: number): void {
    this.addon.crossEntropyBackward(dlogits, logits, targets, dloss, N, V);
  }

  dropoutMask(mask: F32, n: number, p: number, seed: number, offset: number): void {
    this.addon.dropoutMask(mask, n, p, seed, offset);
  }

  mul(out: F32, x: F32, mask: F32, n: number): void {
    this.addon.mul(out, x, mask, n);
  }

  adamw(
    params: F32, grads: F32, m: F32, v: F32, n: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number,
  ): void {
    this.addon.adamw(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, step);
  }

  sumSquares(x: F32, n: number): number {
    return this.addon.sumSquares(x, n);
  }

  scale(x: F32, s: number, n: number): void {
    this.addon.scale(x, s, n);
  }
}

/** File name of the addon that `node-gyp rebuild` writes (target_name in binding.gyp). */
export const ADDON_FILE = 'loraroute_native.node';

/**
 * The package root: the nearest folder above this module with the package.json named "loraroute"
 * (works from src/ under a TypeScript runner and from dist/src/ alike).
 */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string | null {
  let dir = from;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'loraroute') return dir;
      } catch {
        // not ours: keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** Where the addon is expected: `<package root>/build/Release/loraroute_native.node`. */
export function nativeAddonPath(): string | null {
  const root = packageRoot();
  return root ? join(root, 'build', 'Release', ADDON_FILE) : null;
}

export interface LoadNativeOptions {
  /** Load this file instead of the built addon (tests). */
  addonPath?: string;
  /** Environment to read LORAROUTE_NATIVE from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

const loaded = new Map<string, NativeAddon | null>();

/**
 * The native (N-API + OpenBLAS) backend, or null when its addon was not built (no compiler or no OpenBLAS
 * at install time), cannot be loaded here, or is switched off with LORAROUTE_NATIVE=0. Never throws.
 */
export function loadNativeBackend(opts: LoadNativeOptions = {}): NativeBackend | null {
  const env = opts.env ?? process.env;
  const off = (env.LORAROUTE_NATIVE ?? '').trim().toLowerCase();
  if (off === '0' || off === 'off' || off === 'false') return null;
  const path = opts.addonPath ?? nativeAddonPath();
  if (!path) return null;
  let addon = loaded.get(path);
  if (addon === undefined) {
    addon = null;
    if (existsSync(path)) {
      try {
        addon = createRequire(import.meta.url)(path) as NativeAddon;
        if (typeof addon.matmul !== 'function' || typeof addon.info !== 'function') addon = null;
      } catch {
        addon = null; // built for another Node ABI, missing libopenblas.so.0, ...: fall back
      }
    }
    loaded.set(path, addon);
  }
  return addon ? new NativeBackend(addon) : null;
}
