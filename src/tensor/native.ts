import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend, F32, I32, KVBuffer, MatmulOptions } from './backend.js';
import { LoraRouteError } from '../errors.js';

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
    out: F32, qkv: F32, kCache: KVBuffer, vCache: KVBuffer, keyMask: I32 | null, past: number, B: number, Tq: number, C: number, NH: number, S: number,
  ): void;
  attentionRows(
    out: F32, qkv: F32, kCaches: KVBuffer[], vCaches: KVBuffer[], keyMasks: (I32 | null)[], pasts: I32, B: number, C: number, NH: number,
  ): void;
  loraRows(y: F32, x: F32, As: readonly (F32 | null)[], Bs: readonly (F32 | null)[], weights: F32, B: number, inDim: number, outDim: number): void;
  argmaxRows(out: I32, x: F32, rows: number, V: number): void;
  argmaxLogits(out: I32, x: F32, w: F32, rows: number, V: number, C: number, half: HalfHandle | null): void;
  argmaxLogitsBegin(x: F32, w: F32, rows: number, V: number, C: number, half: HalfHandle | null): boolean;
  argmaxLogitsEnd(out: I32, rows: number): boolean;
  sampleRows(out: I32, x: F32, rows: number, V: number, temperatures: Float64Array, topKs: I32, topPs: Float64Array, draws: Float64Array): void;
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
  halfWeights(weights: F32, regions?: Float64Array): HalfHandle | null;
  releaseHalf(handle: HalfHandle): void;
  adviseHugePages(weights: F32, collapse: boolean): boolean;
  info(): AddonInfo;
  setThreads(n: number): void;
  readBandwidth(mb: number, passes: number, threads: number): number;
}

/** A weight inside a buffer given to halfWeights: B [K, N] (or [N, K] when transposed) at float `offset`. */
export interface HalfRegion {
  offset: number;
  K: number;
  N: number;
  transposed?: boolean;
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

/** What native/binding.c's info() gives. */
interface AddonInfo {
  /** kernel variant in use: "avx512", "avx2" or "baseline" (the widest the CPU has, or LORAROUTE_ISA's) */
  isa: IsaLevel;
  /** the widest variant this CPU (and OS) can run */
  cpuIsa: IsaLevel;
  /** the CPU's name from cpuid, e.g. "AMD EPYC 9454 48-Core Processor" */
  cpu: string;
  /** openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Cooperlake MAX_THREADS=64" */
  blasConfig: string;
  /** the OpenBLAS kernel core in use (openblas_get_corename), e.g. "SkylakeX" */
  blasCore: string;
  /** OpenBLAS's own thread count: always 1 (the addon's pool does the threading) */
  blasThreads: number;
  /** threads of the addon's pool, the caller included: the engine's only threads */
  threads: number;
  /** CPUs this process may run on */
  cpusAvailable: number;
  /** bytes of the kernels' reusable scratch memory */
  scratchBytes: number;
  /** how argmaxLogits screens an LM head read from fp16 panels: "int8" (on CPUs with AVX-512 VNNI; its sums'
   * kernel in logitScreenKernel), or "none" (it computes every logit) */
  logitScreen: 'int8' | 'none';
  /** the screen's integer sums: "amx" (AMX-INT8 tiles, where the CPU has them, Linux grants them and
   * LORAROUTE_AMX is not 0), "avx512vnni", or "none" (no screen); the same bits either way */
  logitScreenKernel: 'amx' | 'avx512vnni' | 'none';
  /** a decode query's attention: "avx512" (16 keys at a time, heads of a multiple of 16; native/attend_avx512.c) or
   * "generic" (the small-matmul and softmax kernels) */
  decodeAttention: 'avx512' | 'generic';
  /** rows argmaxLogits has screened so far: decided by the screen, and (of those it tried) given their
   * whole logits because the bound did not cover them or too many columns came close */
  logitScreenRows: number;
  logitExactRows: number;
}

export type IsaLevel = 'baseline' | 'avx2' | 'avx512';

/** What the loaded addon runs on. */
export interface NativeInfo extends AddonInfo {
  /** who chose OpenBLAS's core: "user" (OPENBLAS_CORETYPE was set), "loraroute" (set from the ISA before
   * OpenBLAS loaded), or "openblas" (its own detection) */
  blasCoreSource: 'user' | 'loraroute' | 'openblas';
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

  constructor(
    private readonly addon: NativeAddon,
    private readonly coreSource: NativeInfo['blasCoreSource'] = 'openblas',
  ) {}

  /**
   * An fp16 copy of `weights` (one buffer, e.g. GPT2Weights.buffer) for inference, or null where the CPU
   * lacks AVX2/F16C. Nothing reads it until withHalfWeights; src/model/decode-weights.ts
   * (useHalfWeightsForDecode) uses it for passes through a KV cache (prefills and decode steps). `regions` names weights inside the
   * buffer (ascending, disjoint) whose copy is stored in panels of 16 output columns, which a product of up to
   * 16 rows reads as one stream: B [K, N] of `A @ B` products (N a multiple of 16), or with `transposed`
   * B [N, K] of `A @ B^T` ones (the LM head).
   */
  halfWeights(weights: F32, regions: readonly HalfRegion[] = []): HalfWeights | null {
    const handle = this.addon.halfWeights(weights, Float64Array.from(regions.flatMap((r) => [r.offset, r.K, r.N, r.transposed ? 1 : 0])));
    return handle ? new HalfWeights(weights, handle, this.addon) : null;
  }

  /** Whether matmuls read an fp16 copy now (inside withHalfWeights). */
  get readingHalfWeights(): boolean {
    return this.half?.native != null;
  }

  /**
   * Runs `fn` with every matmul of few rows whose B lies inside `half.source` reading the fp16 copy, widened
   * to fp32 on the fly: half the memory traffic, about 1.7x the decode speed, results that differ from fp32
   * by the fp16 rounding of the weights (~5e-4 relative). Few rows: up to 8 for `A @ B`, 16 for `A @ B^T`
   * and for `A @ B` over a region packed in panels; each row's bits are then the same as alone (up to 16
   * rows for any `A @ B`). Over a packed region any number of rows reads the copy, in passes of at most 16
   * (a prefill), each row's bits again its own. Outside `fn` every matmul is fp32.
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

  /** The CPU, kernel variant, BLAS build and core, and thread count in use. */
  info(): NativeInfo {
    return { ...this.addon.info(), blasCoreSource: this.coreSource };
  }

  /**
   * Sets the number of threads of the addon's pool, the calling thread included (default: LORAROUTE_THREADS,
   * else one per CPU this process may run on; 0 = that default). OpenBLAS itself always runs one thread.
   */
  setThreads(n: number): void {
    this.addon.setThreads(n);
  }

  /**
   * A STREAM-like probe: GB/s (1e9 bytes) at which this machine reads `mb` MiB that no cache holds (best of
   * `passes`), on one thread or on the engine's whole pool: the ceiling of a decode step, which reads every
   * weight once. Allocates and frees that buffer; takes about passes x mb / bandwidth.
   */
  readBandwidth(opts: { mb?: number; passes?: number; threads?: 'one' | 'all' } = {}): number {
    return this.addon.readBandwidth(opts.mb ?? 512, opts.passes ?? 3, opts.threads === 'one' ? 1 : 0);
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
    out: F32, qkv: F32, kCache: KVBuffer, vCache: KVBuffer, keyMask: I32 | null,
    past: number, B: number, Tq: number, C: number, NH: number, S: number,
  ): void {
    this.addon.attentionCached(out, qkv, kCache, vCache, keyMask, past, B, Tq, C, NH, S);
  }

  attentionRows(
    out: F32, qkv: F32, kCaches: KVBuffer[], vCaches: KVBuffer[], keyMasks: (I32 | null)[], pasts: I32, B: number, C: number, NH: number,
  ): void {
    this.addon.attentionRows(out, qkv, kCaches, vCaches, keyMasks, pasts, B, C, NH);
  }

  loraRows(y: F32, x: F32, As: readonly (F32 | null)[], Bs: readonly (F32 | null)[], weights: F32, B: number, inDim: number, outDim: number): void {
    this.addon.loraRows(y, x, As, Bs, weights, B, inDim, outDim);
  }

  argmaxRows(out: I32, x: F32, rows: number, V: number): void {
    this.addon.argmaxRows(out, x, rows, V);
  }

  argmaxLogits(out: I32, x: F32, w: F32, rows: number, V: number, C: number): void {
    this.addon.argmaxLogits(out, x, w, rows, V, C, this.half?.native ?? null);
  }

  /**
   * argmaxLogits in two halves, so that the caller can do other work (a server: its socket writes) while
   * the pool's other threads screen the LM head: returns true once the screen has started on them (the rows
   * of x are copied; at most 16 rows), or false where argmaxLogits would not screen (no fp16 panels, no
   * AVX-512 VNNI, more than 16 rows...): then call argmaxLogits. The tokens, bit for bit argmaxLogits's,
   * come from argmaxLogitsEnd, once per begin. Until then every other call runs as usual (its pool jobs on
   * the calling thread alone); argmaxLogits, a second begin and releasing fp16 weights first finish the
   * pending screen (a second begin drops its tokens).
   */
  argmaxLogitsBegin(x: F32, w: F32, rows: number, V: number, C: number): boolean {
    return this.addon.argmaxLogitsBegin(x, w, rows, V, C, this.half?.native ?? null);
  }

  /** The tokens of the pending argmaxLogitsBegin of `rows` rows into out [rows]; throws when none is pending. */
  argmaxLogitsEnd(out: I32, rows: number): void {
    if (!this.addon.argmaxLogitsEnd(out, rows)) throw new Error(`argmaxLogitsEnd: no argmaxLogitsBegin of ${rows} rows is pending (each begin is ended once)`);
  }

  sampleRows(out: I32, x: F32, rows: number, V: number, temperatures: Float64Array, topKs: I32, topPs: Float64Array, draws: Float64Array): void {
    this.addon.sampleRows(out, x, rows, V, temperatures, topKs, topPs, draws);
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
  /** Environment to read LORAROUTE_NATIVE and LORAROUTE_ISA from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** What native/cpu_binding.c's cpu() gives: cpuid's view of the CPU. */
export interface CpuFeatures {
  vendor: string;
  brand: string;
  level: IsaLevel;
  avx2: boolean;
  fma: boolean;
  f16c: boolean;
  avx512f: boolean;
  avx512bw: boolean;
  avx512vl: boolean;
  avx512dq: boolean;
  avx512vnni: boolean;
  avx512fp16: boolean;
  avx512bf16: boolean;
  /** AMX-TILE, and its int8 products (AMX-INT8) */
  amx: boolean;
  amxInt8: boolean;
}

const ISA_LEVELS: readonly IsaLevel[] = ['baseline', 'avx2', 'avx512'];
/** The file of the small cpuid addon (no library dependencies), next to the main one. */
export const CPU_ADDON_FILE = 'loraroute_cpu.node';

let cpuFeatures: CpuFeatures | null | undefined;

/** The CPU as cpuid reports it (the small loraroute_cpu addon), or null where that addon is not built. */
export function detectCpu(addonDir?: string): CpuFeatures | null {
  if (cpuFeatures !== undefined) return cpuFeatures;
  cpuFeatures = null;
  const main = nativeAddonPath();
  const dir = addonDir ?? (main ? dirname(main) : null);
  const path = dir ? join(dir, CPU_ADDON_FILE) : null;
  if (path && existsSync(path)) {
    try {
      cpuFeatures = (createRequire(import.meta.url)(path) as { cpu(): CpuFeatures }).cpu();
    } catch {
      cpuFeatures = null;
    }
  }
  return cpuFeatures;
}

/**
 * The OpenBLAS core whose sgemm kernels fit an ISA level: SkylakeX (AVX-512) or Haswell (AVX2 + FMA); null
 * for baseline (OpenBLAS's own choice is as good as any there). OpenBLAS 0.3.21 (Debian 12) does not know
 * CPUs newer than itself (e.g. Sapphire Rapids) and falls back to Prescott's SSE3 kernels, 4x slower;
 * on CPUs it knows, these are the sgemm kernels it picks itself (Cooperlake's and Zen's sgemm are SkylakeX's
 * and Haswell's).
 */
export function blasCoreFor(level: IsaLevel): string | null {
  return level === 'avx512' ? 'SkylakeX' : level === 'avx2' ? 'Haswell' : null;
}

/** LORAROUTE_ISA (or the older LORAROUTE_NATIVE_ISA), checked against the CPU; undefined when unset. */
function forcedIsa(env: NodeJS.ProcessEnv, cpu: CpuFeatures | null): IsaLevel | undefined {
  const raw = (env.LORAROUTE_ISA || env.LORAROUTE_NATIVE_ISA || '').trim().toLowerCase();
  if (!raw) return undefined;
  const level = (raw === 'base' ? 'baseline' : raw) as IsaLevel;
  if (!ISA_LEVELS.includes(level)) {
    throw new LoraRouteError(`LORAROUTE_ISA is "${raw}": expected baseline, avx2 or avx512`);
  }
  if (cpu && ISA_LEVELS.indexOf(level) > ISA_LEVELS.indexOf(cpu.level)) {
    throw new LoraRouteError(`LORAROUTE_ISA is "${level}" but this CPU (${cpu.brand || cpu.vendor}) only has ${cpu.level}`);
  }
  return level;
}

/** LORAROUTE_AMX, read by the addon as it loads: "0" keeps the screen's sums off AMX, "1" (or unset) uses it where it can. */
function checkAmxSwitch(env: NodeJS.ProcessEnv): void {
  const raw = env.LORAROUTE_AMX;
  if (raw !== undefined && raw !== '' && raw !== '0' && raw !== '1') {
    throw new LoraRouteError(`LORAROUTE_AMX is "${raw}": expected 0 (the int8 screen on AVX-512 VNNI) or 1 (on AMX where the CPU has it; the default)`);
  }
}

const loaded = new Map<string, { addon: NativeAddon; coreSource: NativeInfo['blasCoreSource'] } | null>();

/**
 * The native (N-API + OpenBLAS) backend, or null when its addon was not built (no compiler or no OpenBLAS
 * at install time), cannot be loaded here, or is switched off with LORAROUTE_NATIVE=0.
 *
 * Before the addon (and with it libopenblas) is loaded, OPENBLAS_CORETYPE is set in process.env from the
 * CPU's ISA (blasCoreFor) unless it is set already, so that OpenBLAS uses kernels that match the CPU even
 * where its own detection does not know it.
 *
 * Throws a LoraRouteError only for a user's mistake: LORAROUTE_ISA naming an unknown level or one the CPU
 * lacks, LORAROUTE_AMX other than 0 or 1, or loading in a second JS thread (worker) while another thread of the process holds the addon:
 * it keeps process-wide state (thread pool, scratch memory), so one JS thread uses it at a time.
 */
export function loadNativeBackend(opts: LoadNativeOptions = {}): NativeBackend | null {
  const env = opts.env ?? process.env;
  const off = (env.LORAROUTE_NATIVE ?? '').trim().toLowerCase();
  if (off === '0' || off === 'off' || off === 'false') return null;
  const path = opts.addonPath ?? nativeAddonPath();
  if (!path) return null;
  let entry = loaded.get(path);
  if (entry === undefined) {
    entry = null;
    if (existsSync(path)) {
      const cpu = detectCpu(dirname(path));
      forcedIsa(env, cpu);
      checkAmxSwitch(env);
      let coreSource: NativeInfo['blasCoreSource'] = 'openblas';
      const set = process.env.OPENBLAS_CORETYPE;
      if (set) {
        // inherited from a parent loraroute process that chose it, or the user's own
        coreSource = set === process.env.LORAROUTE_BLAS_CORETYPE ? 'loraroute' : 'user';
      } else {
        const core = cpu ? blasCoreFor(cpu.level) : null;
        if (core) {
          process.env.OPENBLAS_CORETYPE = core; // read by libopenblas when it initialises, i.e. on the require below
          process.env.LORAROUTE_BLAS_CORETYPE = core;
          coreSource = 'loraroute';
        }
      }
      try {
        const addon = createRequire(import.meta.url)(path) as NativeAddon;
        if (typeof addon.matmul === 'function' && typeof addon.info === 'function') entry = { addon, coreSource };
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'LORAROUTE_NATIVE_THREAD' || code === 'LORAROUTE_ISA') throw new LoraRouteError((e as Error).message);
        entry = null; // built for another Node ABI, missing libopenblas.so.0, ...: fall back
      }
    }
    loaded.set(path, entry);
  }
  return entry ? new NativeBackend(entry.addon, entry.coreSource) : null;
}
