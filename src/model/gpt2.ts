import type { Backend, F32, I32, KVBuffer } from '../tensor/backend.js';
import { Scratch } from '../tensor/scratch.js';
import type { GPT2Config } from './config.js';
import type { BlockWeights, GPT2Weights, LinearModule } from './weights.js';
import { linearShape } from './weights.js';
import { siteSeed, type LinearHook, type PassInfo } from './hooks.js';
import { LoraRouteError } from '../errors.js';

/** Token ids of B sequences of T tokens each, right-padded. */
export interface Batch {
  ids: I32; // [B, T]
  B: number;
  T: number;
  /** 1 = real token, 0 = padding (HF attention_mask) [B, T]; null = all real. */
  keyMask?: I32 | null;
  /** Position ids [B, T]; default 0..T-1 in every row. */
  positions?: I32 | null;
}

/** How attention is computed in a pass: full causal (training, scoring) or with a KV cache (generation). */
/** What a KV cache stores: fp32 values, or fp16 ones (half the memory a decode step reads; KVBuffer). */
export type KVDtype = 'float32' | 'float16';

export interface KVCache {
  k: KVBuffer[]; // per layer [B, NH, S, hs]
  v: KVBuffer[];
  readonly dtype: KVDtype;
  /** [B, S]: 1 where a slot holds a real token. */
  keyMask: I32;
  S: number; // slots
  past: number; // slots already filled
}

export interface ForwardOptions {
  /** Training mode: activations kept for backward, dropouts on unless `dropout: false`. */
  train?: boolean;
  /** Dropouts (GPT-2's and the adapters'); default = train. Gradient checks against eval-mode references turn them off. */
  dropout?: boolean;
  /** Seed of this pass's dropout masks. */
  seed?: number;
  /** Adapters (LoRA) that add to the linear layers. */
  hook?: LinearHook | null;
  /** Next-token targets [B, T] (-100 = ignored); gives the loss. */
  targets?: I32 | null;
  /**
   * Which logits to compute: every row; none; only the rows with a target ('targets', the default when
   * targets are given: saves the vocabulary projection at prompt and padding positions); or the given
   * rows (indices into [B*T], e.g. the last token of each sequence).
   */
  logits?: 'all' | 'none' | 'targets' | I32;
  /**
   * Greedy tokens of these rows (indices into [B*T]): the argmax of their logits (backend.argmaxLogits, the
   * first of equal maxima), which need not be computed for it (the native backend screens most of them out).
   */
  greedy?: I32 | null;
  /** Generation: attend through this cache (appends this pass's keys and values at `past`). */
  cache?: KVCache | null;
}

export interface ForwardResult {
  /** Mean loss over target tokens (0 when none). */
  loss: number;
  /** Number of target tokens. */
  count: number;
  /** Per-sequence sum of token losses and token counts [B]. */
  rowLoss: Float64Array;
  rowCount: Int32Array;
  /** Logits [rows, V] in the order asked for (a view into scratch: copy to keep). */
  logits: F32 | null;
  /** The tokens of the `greedy` rows, in their order (null when none were asked for). */
  greedy: I32 | null;
  /** Final hidden state after ln_f [B*T, C] (a view into scratch). */
  hidden: F32;
}

/** Runs generation passes (prefills into a KV cache, decode steps) with other weights (the fp16 copy of src/model/decode-weights.ts). */
export interface DecodeWeights {
  run<T>(step: () => T): T;
  /** The KV caches of generation with these weights (GPT2.createCache). */
  readonly kvCache: KVDtype;
}

// dropout sites within a block (seed slots)
const ATTN = 1, ATTN_DROP = 2, MLP_DROP = 3;

/**
 * GPT-2 (HF GPT2LMHeadModel semantics) over a compute backend: forward for training, scoring and cached
 * generation, and backward into whatever the hook trains (the base weights stay frozen).
 */
export class GPT2 {
  readonly scratch = new Scratch();
  private last: { batch: Batch; opts: ForwardOptions; pass: PassInfo; count: number; lossRows: I32 | null } | null = null;

  /** What passes through a KV cache read the weights through (useHalfWeightsForDecode), or null: every pass is fp32. */
  decodeWeights: DecodeWeights | null = null;

  constructor(readonly config: GPT2Config, readonly weights: GPT2Weights, readonly backend: Backend) {}

  /** A KV cache for generating B sequences of up to S tokens: fp16 with fp16 decode weights (useHalfWeightsForDecode), else fp32. */
  createCache(B: number, S: number): KVCache {
    return createKVCache(this.config, B, S, this.decodeWeights?.kvCache ?? 'float32');
  }

  /** Runs the model. In training mode, keeps what `backward` needs. */
  forward(batch: Batch, opts: ForwardOptions = {}): ForwardResult {
    const cache = opts.cache;
    // generation: a prefill into a KV cache, or a decode step through it (never a loss, never training)
    const generation = this.decodeWeights !== null && cache != null && !opts.targets && !opts.train;
    return generation ? (this.decodeWeights as DecodeWeights).run(() => this.pass(batch, opts)) : this.pass(batch, opts);
  }

  private pass(batch: Batch, opts: ForwardOptions): ForwardResult {
    const cfg = this.config;
    const be = this.backend;
    const s = this.scratch;
    const { B, T } = batch;
    const BT = B * T;
    const C = cfg.nEmbd, NH = cfg.nHead, V = cfg.vocabSize, H = cfg.nInner;
    const train = opts.train ?? false;
    const drop = train && (opts.dropout ?? true);
    const seed = opts.seed ?? 0;
    const hook = opts.hook ?? null;
    const cache = opts.cache ?? null;
    this.checkBatch(batch, cache);
    if (train && cache) throw new Error('GPT2.forward: training passes cannot use a KV cache');
    const pass: PassInfo = { B, T, train, dropout: drop, seed, generation: cache != null };

    // default positions continue after what the cache already holds (past .. past+T-1 when decoding)
    const positions = batch.positions ?? this.defaultPositions(B, T, cache ? cache.past : 0);
    const enc = s.f32('encoded', BT * C); // [BT, C]
    be.embeddingForward(enc, batch.ids, positions, this.weights.wte, this.weights.wpe, BT, C);
    if (drop && cfg.embdPdrop > 0) {
      const mask = s.f32('embMask', BT * C);
      be.dropoutMask(mask, BT * C, cfg.embdPdrop, siteSeed(seed, cfg.nLayer, 0), 0);
      be.mul(enc, enc, mask, BT * C);
    }

    let residual = enc;
    for (let l = 0; l < cfg.nLayer; l++) {
      const w = this.weights.blocks[l];
      const p = train ? `l${l}.` : 'l.'; // inference reuses one set of buffers for every layer
      const ln1 = s.f32(p + 'ln1', BT * C);
      be.layernormForward(ln1, s.f32(p + 'ln1Mean', BT), s.f32(p + 'ln1Rstd', BT), residual, w.ln1W, w.ln1B, BT, C, cfg.layerNormEpsilon);
      const qkv = s.f32(p + 'qkv', BT * 3 * C); // [BT, 3C]
      this.linear(l, 'attn.c_attn', qkv, ln1, w, BT, hook, pass);
      const atty = s.f32(p + 'atty', BT * C); // [BT, C]
      if (cache) {
        be.attentionCached(atty, qkv, cache.k[l], cache.v[l], cache.keyMask, cache.past, B, T, C, NH, cache.S);
      } else {
        const att = s.f32(p + 'att', B * NH * T * T); // [B, NH, T, T]
        const pDrop = drop ? cfg.attnPdrop : 0;
        be.attentionForward(atty, att, qkv, batch.keyMask ?? null, B, T, C, NH, pDrop, siteSeed(seed, l, ATTN));
      }
      const attProj = s.f32(p + 'attProj', BT * C);
      this.linear(l, 'attn.c_proj', attProj, atty, w, BT, hook, pass);
      if (drop && cfg.residPdrop > 0) {
        const mask = s.f32(p + 'attDropMask', BT * C);
        be.dropoutMask(mask, BT * C, cfg.residPdrop, siteSeed(seed, l, ATTN_DROP), 0);
        be.mul(attProj, attProj, mask, BT * C);
      }
      const res2 = s.f32(p + 'res2', BT * C);
      be.add(res2, residual, attProj, BT * C);
      const ln2 = s.f32(p + 'ln2', BT * C);
      be.layernormForward(ln2, s.f32(p + 'ln2Mean', BT), s.f32(p + 'ln2Rstd', BT), res2, w.ln2W, w.ln2B, BT, C, cfg.layerNormEpsilon);
      const fc = s.f32(p + 'fc', BT * H); // [BT, H]
      this.linear(l, 'mlp.c_fc', fc, ln2, w, BT, hook, pass);
      const fcAct = s.f32(p + 'fcAct', BT * H);
      be.geluForward(fcAct, fc, BT * H);
      const fcProj = s.f32(p + 'fcProj', BT * C);
      this.linear(l, 'mlp.c_proj', fcProj, fcAct, w, BT, hook, pass);
      if (drop && cfg.residPdrop > 0) {
        const mask = s.f32(p + 'mlpDropMask', BT * C);
        be.dropoutMask(mask, BT * C, cfg.residPdrop, siteSeed(seed, l, MLP_DROP), 0);
        be.mul(fcProj, fcProj, mask, BT * C);
      }
      const res3 = s.f32(p + 'res3', BT * C);
      be.add(res3, res2, fcProj, BT * C);
      residual = res3;
    }
    if (cache) cache.past += T;

    const hidden = s.f32('lnf', BT * C);
    be.layernormForward(hidden, s.f32('lnfMean', BT), s.f32('lnfRstd', BT), residual, this.weights.lnfW, this.weights.lnfB, BT, C, cfg.layerNormEpsilon);

    // With targets, logits are computed only at the R positions that have one (prompt and padding
    // positions carry no loss), unless every row's logits are asked for.
    const want = opts.logits ?? (opts.targets ? 'targets' : 'none');
    let logits: F32 | null = null;
    let lossRows: I32 | null = null; // positions (into [B*T]) whose logits were computed for the loss
    if (want === 'all') {
      logits = s.f32('logits', BT * V); // [BT, V] = hidden @ wte^T
      be.matmul(logits, hidden, this.weights.wte, BT, V, C, { transB: true });
    } else if (want !== 'none') {
      let rowIds: I32;
      if (want === 'targets') {
        const t = opts.targets as I32;
        let R = 0;
        for (let i = 0; i < BT; i++) if (t[i] >= 0) R++;
        rowIds = s.i32('lossRows', R);
        for (let i = 0, r = 0; i < BT; i++) if (t[i] >= 0) rowIds[r++] = i;
        lossRows = rowIds;
      } else {
        rowIds = want;
      }
      const R = rowIds.length;
      const rows = s.f32('logitRows', R * C); // [R, C]
      for (let r = 0; r < R; r++) rows.set(hidden.subarray(rowIds[r] * C, rowIds[r] * C + C), r * C);
      logits = s.f32('logits', R * V); // [R, V]
      if (R > 0) be.matmul(logits, rows, this.weights.wte, R, V, C, { transB: true });
    }
    let greedy: I32 | null = null;
    if (opts.greedy) {
      const G = opts.greedy.length;
      const rows = s.f32('greedyRows', G * C); // [G, C]
      for (let r = 0; r < G; r++) rows.set(hidden.subarray(opts.greedy[r] * C, opts.greedy[r] * C + C), r * C);
      greedy = new Int32Array(G);
      if (G > 0) be.argmaxLogits(greedy, rows, this.weights.wte, G, V, C);
    }

    const rowLoss = new Float64Array(B);
    const rowCount = new Int32Array(B);
    let total = 0;
    let count = 0;
    if (opts.targets) {
      const t = opts.targets;
      if (!logits || (want !== 'all' && want !== 'targets')) throw new Error('GPT2.forward: a loss needs logits "all" or "targets"');
      // per-position losses over the rows computed: all BT, or the R target rows
      const N = lossRows ? lossRows.length : BT;
      const tg = lossRows ? s.i32('lossTargets', N) : t;
      if (lossRows) for (let r = 0; r < N; r++) tg[r] = t[lossRows[r]];
      const losses = s.f32('losses', N);
      if (N > 0) be.crossEntropyForward(losses, logits, tg, N, V);
      for (let r = 0; r < N; r++) {
        const pos = lossRows ? lossRows[r] : r;
        if (t[pos] < 0) continue;
        const b = Math.floor(pos / T);
        rowLoss[b] += losses[r];
        rowCount[b]++;
      }
      for (let b = 0; b < B; b++) {
        total += rowLoss[b];
        count += rowCount[b];
      }
    }
    this.last = train ? { batch, opts, pass, count, lossRows } : null;
    return { loss: count > 0 ? total / count : 0, count, rowLoss, rowCount, logits, greedy, hidden };
  }

  /**
   * Backward of the last training forward's mean loss (times `lossScale`, e.g. 1/accumulation steps):
   * the hook receives the gradient at every linear site and accumulates its own gradients.
   */
  backward(lossScale = 1): void {
    const last = this.last;
    if (!last || !last.opts.targets) throw new Error('GPT2.backward: call forward({ train: true, targets }) first');
    this.last = null; // logits are overwritten by their gradient below
    const cfg = this.config;
    const be = this.backend;
    const s = this.scratch;
    const { B, T } = last.batch;
    const BT = B * T;
    const C = cfg.nEmbd, NH = cfg.nHead, V = cfg.vocabSize, H = cfg.nInner;
    const hook = last.opts.hook ?? null;
    const pass = last.pass;
    const seed = pass.seed;
    const residP = pass.dropout ? cfg.residPdrop : 0;
    const targets = last.opts.targets as I32;

    const dhidden = s.f32('dlnf', BT * C); // [BT, C]
    const lossRows = last.lossRows;
    const N = lossRows ? lossRows.length : BT;
    const logits = s.f32('logits', N * V);
    const tg = lossRows ? s.i32('lossTargets', N) : targets;
    const dloss = s.f32('dloss', N);
    dloss.fill(last.count > 0 ? lossScale / last.count : 0);
    if (N > 0) be.crossEntropyBackward(logits, logits, tg, dloss, N, V); // dlogits in place
    if (lossRows) {
      const dRows = s.f32('dLogitRows', N * C); // [R, C] = dlogits @ wte, scattered back to their positions
      if (N > 0) be.matmul(dRows, logits, this.weights.wte, N, C, V);
      dhidden.fill(0);
      for (let r = 0; r < N; r++) dhidden.set(dRows.subarray(r * C, (r + 1) * C), lossRows[r] * C);
    } else {
      be.matmul(dhidden, logits, this.weights.wte, BT, C, V);
    }
    const dres = s.f32('dres', BT * C);
    const finalRes = s.f32(`l${cfg.nLayer - 1}.res3`, BT * C);
    be.layernormBackward(dres, null, null, dhidden, finalRes, this.weights.lnfW, s.f32('lnfMean', BT), s.f32('lnfRstd', BT), BT, C, false);

    const dC = s.f32('dC', BT * C);
    const dH = s.f32('dH', BT * H);
    const d3C = s.f32('d3C', BT * 3 * C);
    for (let l = cfg.nLayer - 1; l >= 0; l--) {
      const w = this.weights.blocks[l];
      const p = `l${l}.`;
      const resIn = l === 0 ? s.f32('encoded', BT * C) : s.f32(`l${l - 1}.res3`, BT * C);
      // res3 = res2 + drop(fcProj): dres flows to res2 unchanged; dfcProj = dres * mask
      const dfcProj = dC;
      if (residP > 0) be.mul(dfcProj, dres, s.f32(p + 'mlpDropMask', BT * C), BT * C);
      else dfcProj.set(dres);
      const fcAct = s.f32(p + 'fcAct', BT * H);
      this.linearBackward(l, 'mlp.c_proj', dH, dfcProj, fcAct, w, BT, hook, pass); // dH = d fcAct
      be.geluBackward(dH, s.f32(p + 'fc', BT * H), dH, BT * H); // dH = d fc
      const dln2 = dC;
      this.linearBackward(l, 'mlp.c_fc', dln2, dH, s.f32(p + 'ln2', BT * C), w, BT, hook, pass);
      be.layernormBackward(dres, null, null, dln2, s.f32(p + 'res2', BT * C), w.ln2W, s.f32(p + 'ln2Mean', BT), s.f32(p + 'ln2Rstd', BT), BT, C, true);
      // res2 = resIn + drop(attProj)
      const dattProj = dC;
      if (residP > 0) be.mul(dattProj, dres, s.f32(p + 'attDropMask', BT * C), BT * C);
      else dattProj.set(dres);
      const datty = s.f32('datty', BT * C);
      this.linearBackward(l, 'attn.c_proj', datty, dattProj, s.f32(p + 'atty', BT * C), w, BT, hook, pass);
      const qkv = s.f32(p + 'qkv', BT * 3 * C);
      be.attentionBackward(d3C, datty, qkv, s.f32(p + 'att', B * NH * T * T), B, T, C, NH, pass.dropout ? cfg.attnPdrop : 0, siteSeed(seed, l, ATTN));
      const dln1 = dC;
      this.linearBackward(l, 'attn.c_attn', dln1, d3C, s.f32(p + 'ln1', BT * C), w, BT, hook, pass);
      be.layernormBackward(dres, null, null, dln1, resIn, w.ln1W, s.f32(p + 'ln1Mean', BT), s.f32(p + 'ln1Rstd', BT), BT, C, true);
    }
    // The embeddings are frozen: nothing below this point has parameters to train.
  }

  /** y = x W + b (+ adapter delta). W is Conv1D [in, out]. */
  private linear(l: number, module: LinearModule, y: F32, x: F32, w: BlockWeights, BT: number, hook: LinearHook | null, pass: PassInfo): void {
    const [inDim, outDim] = linearShape(this.config, module);
    const { W, b } = moduleWeights(w, module);
    this.backend.matmul(y, x, W, BT, outDim, inDim);
    this.backend.addBias(y, b, BT, outDim);
    if (hook && hook.applies(module)) hook.forward({ layer: l, module, inDim, outDim }, x, y, pass);
  }

  /** dx = dy W^T (+ adapter part); the hook also collects its parameter gradients. */
  private linearBackward(l: number, module: LinearModule, dx: F32, dy: F32, x: F32, w: BlockWeights, BT: number, hook: LinearHook | null, pass: PassInfo): void {
    const [inDim, outDim] = linearShape(this.config, module);
    const { W } = moduleWeights(w, module);
    this.backend.matmul(dx, dy, W, BT, inDim, outDim, { transB: true });
    if (hook && hook.applies(module)) hook.backward({ layer: l, module, inDim, outDim }, x, dy, dx, pass);
  }

  private defaultPositions(B: number, T: number, start: number): I32 {
    const pos = this.scratch.i32('positions', B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = start + t;
    return pos;
  }

  private checkBatch(batch: Batch, cache: KVCache | null): void {
    const { B, T, ids } = batch;
    const cfg = this.config;
    if (!(B > 0 && T > 0)) throw new LoraRouteError(`batch shape [${B}, ${T}] must have B > 0 and T > 0`);
    if (ids.length !== B * T) throw new LoraRouteError(`batch ids have ${ids.length} entries, expected B*T = ${B * T}`);
    if (batch.keyMask && batch.keyMask.length !== B * T) throw new LoraRouteError(`attention mask has ${batch.keyMask.length} entries, expected ${B * T}`);
    const maxPos = (cache ? cache.past : 0) + T;
    if (!batch.positions && maxPos > cfg.nPositions) {
      throw new LoraRouteError(`sequence of ${maxPos} tokens is longer than the model's n_positions (${cfg.nPositions})`);
    }
    for (let i = 0; i < ids.length; i++) {
      if (!(ids[i] >= 0 && ids[i] < cfg.vocabSize)) throw new LoraRouteError(`token id ${ids[i]} at position ${i} is outside the vocabulary [0, ${cfg.vocabSize})`);
    }
    if (batch.positions) {
      for (const p of batch.positions) if (!(p >= 0 && p < cfg.nPositions)) throw new LoraRouteError(`position id ${p} is outside [0, ${cfg.nPositions})`);
    }
    if (cache && cache.past + T > cache.S) throw new LoraRouteError(`KV cache has ${cache.S} slots, ${cache.past + T} needed`);
  }
}

export function moduleWeights(w: BlockWeights, module: LinearModule): { W: F32; b: F32 } {
  switch (module) {
    case 'attn.c_attn': return { W: w.qkvW, b: w.qkvB };
    case 'attn.c_proj': return { W: w.attnProjW, b: w.attnProjB };
    case 'mlp.c_fc': return { W: w.fcW, b: w.fcB };
    case 'mlp.c_proj': return { W: w.fcProjW, b: w.fcProjB };
  }
}

/** Allocates a KV cache for B sequences of up to S tokens, of fp32 (default) or fp16 values. */
export function createKVCache(cfg: GPT2Config, B: number, S: number, dtype: KVDtype = 'float32'): KVCache {
  if (dtype !== 'float32' && dtype !== 'float16') throw new LoraRouteError(`createKVCache: dtype must be 'float32' or 'float16' (got ${JSON.stringify(dtype)})`);
  const n = B * S * cfg.nEmbd; // [B, NH, S, hs]
  const make = (): KVBuffer => (dtype === 'float16' ? new Uint16Array(n) : new Float32Array(n));
  const k: KVBuffer[] = [];
  const v: KVBuffer[] = [];
  for (let l = 0; l < cfg.nLayer; l++) {
    k.push(make());
    v.push(make());
  }
  return { k, v, dtype, keyMask: new Int32Array(B * S), S, past: 0 };
}

/** HF causal-LM targets: targets[b, t] = labels[b, t + 1], -100 at the last position and on ignored labels. */
export function shiftTargets(labels: I32, B: number, T: number): I32 {
  const out = new Int32Array(B * T).fill(-100);
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) out[b * T + t] = labels[b * T + t + 1];
  return out;
}
