import { check } from '../errors.js';
import { hashUniform } from '../tensor/hash.js';
import { resolveRouterConfig, type ResolvedRouterConfig, type RouterConfig } from './config.js';

/** One named tensor of the router: where it lives in the flat buffer and whether AdamW decays it. */
export interface RouterTensorSpec {
  name: string;
  shape: number[];
  offset: number;
  size: number;
  /** Weights decay; biases do not (they sit after all weights, so decay covers params[0 .. decayCount)). */
  decay: boolean;
}

/** Named views into the flat parameter (or gradient) buffer. `scoreW`/`scoreB` are empty without a score head. */
export interface RouterViews {
  fc1W: Float32Array; // [H, in]  (PyTorch nn.Linear layout: [out, in])
  fc2W: Float32Array; // [K, H]
  scoreW: Float32Array; // [1, H] or empty
  fc1B: Float32Array; // [H]
  fc2B: Float32Array; // [K]
  scoreB: Float32Array; // [1] or empty
}

/** What forward saves for backward. `x` is the caller's array, kept by reference: do not modify it before backward. */
export interface RouterCache {
  B: number;
  x: Float32Array; // [B, in]
  pre: Float32Array; // [B, H] hidden pre-activation
  hidden: Float32Array; // [B, H] activation after dropout (input of fc2)
  mask: Float32Array | null; // [B, H] dropout mask (0 or 1/(1-p)); null in eval or p = 0
  logits: Float32Array; // [B, K]
  probs: Float32Array; // [B, K] softmax(logits)
  score: Float32Array | null; // [B] side-head prediction, null without a score head
}

export interface RouterBackwardOptions {
  /** dLoss/dscore [B] for the side head (ignored without one). */
  dScore?: Float32Array;
  /** Also return dLoss/dx [B, in] (joint training through a pooled hidden state). */
  needDx?: boolean;
}

/** The names, shapes and offsets of the router's tensors for a config (weights first, then biases). */
export function routerTensorSpecs(cfg: ResolvedRouterConfig): RouterTensorSpec[] {
  const { inputDim: I, hiddenDim: H, numExperts: K, scoreHead } = cfg;
  const list: Array<[string, number[], boolean]> = [
    ['fc1.weight', [H, I], true],
    ['fc2.weight', [K, H], true],
  ];
  if (scoreHead) list.push(['score.weight', [1, H], true]);
  list.push(['fc1.bias', [H], false], ['fc2.bias', [K], false]);
  if (scoreHead) list.push(['score.bias', [1], false]);
  let offset = 0;
  return list.map(([name, shape, decay]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const spec = { name, shape, offset, size, decay };
    offset += size;
    return spec;
  });
}

const GELU_C = Math.sqrt(2 / Math.PI);

function activate(kind: 'gelu' | 'relu', v: number): number {
  if (kind === 'relu') return v > 0 ? v : 0;
  return 0.5 * v * (1 + Math.tanh(GELU_C * (v + 0.044715 * v * v * v)));
}

function activateGrad(kind: 'gelu' | 'relu', v: number): number {
  if (kind === 'relu') return v > 0 ? 1 : 0;
  const t = Math.tanh(GELU_C * (v + 0.044715 * v * v * v));
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * v * v);
}

/**
 * The router: `x [B, in] → fc1 → activation → dropout → fc2 → logits [B, K] → softmax`, plus an optional
 * score head on the same hidden layer. Pure TypeScript over Float32Array (it is tiny: ~1K inputs × 256 at
 * most); sums run in doubles. Parameters live in one flat buffer with named views (llm.c style); `grads`
 * mirrors it and backward accumulates into it (call `zeroGrad` between steps).
 */
export class RouterMLP {
  readonly config: ResolvedRouterConfig;
  readonly specs: RouterTensorSpec[];
  readonly params: Float32Array;
  readonly grads: Float32Array;
  /** Views into params. */
  readonly p: RouterViews;
  /** Views into grads. */
  readonly g: RouterViews;
  /** Number of leading entries of params that take weight decay (all the weights; no biases). */
  readonly decayCount: number;
  private readonly seed: number;
  private dropoutCalls = 0;

  /** Initialised like torch.nn.Linear (U(±1/sqrt(fan_in)) for weight and bias), from a counter hash of seed. */
  constructor(cfg: RouterConfig, seed = 0) {
    this.config = resolveRouterConfig(cfg);
    this.seed = seed >>> 0;
    this.specs = routerTensorSpecs(this.config);
    const total = this.specs.reduce((a, s) => a + s.size, 0);
    this.params = new Float32Array(total);
    this.grads = new Float32Array(total);
    this.decayCount = this.specs.filter((s) => s.decay).reduce((a, s) => a + s.size, 0);
    this.p = this.views(this.params);
    this.g = this.views(this.grads);
    for (const s of this.specs) {
      const fanIn = s.name.startsWith('fc1') ? this.config.inputDim : this.config.hiddenDim;
      const bound = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < s.size; i++) this.params[s.offset + i] = (2 * hashUniform(this.seed, s.offset + i) - 1) * bound;
    }
  }

  get numParams(): number {
    return this.params.length;
  }

  /** The named view of `name` in params (or grads with `grads = true`); throws for an unknown name. */
  tensor(name: string, grads = false): Float32Array {
    const s = this.specs.find((t) => t.name === name);
    check(s, `router has no tensor "${name}" (has ${this.specs.map((t) => t.name).join(', ')})`);
    return (grads ? this.grads : this.params).subarray(s.offset, s.offset + s.size);
  }

  zeroGrad(): void {
    this.grads.fill(0);
  }

  private views(buf: Float32Array): RouterViews {
    const v = (name: string): Float32Array => {
      const s = this.specs.find((t) => t.name === name);
      return s ? buf.subarray(s.offset, s.offset + s.size) : new Float32Array(0);
    };
    return { fc1W: v('fc1.weight'), fc2W: v('fc2.weight'), scoreW: v('score.weight'), fc1B: v('fc1.bias'), fc2B: v('fc2.bias'), scoreB: v('score.bias') };
  }

  /**
   * x: [B, in]. In training (and dropout > 0) a dropout mask is drawn from (rngSeed, index); without
   * rngSeed the seed comes from the constructor seed and a call counter, so a run is reproducible from its seed.
   */
  forward(x: Float32Array, B: number, train: boolean, rngSeed?: number): RouterCache {
    const { inputDim: I, hiddenDim: H, numExperts: K, dropout, activation } = this.config;
    check(Number.isInteger(B) && B > 0, `router forward: batch size must be a positive integer, got ${B}`);
    check(x.length === B * I, `router forward: input has ${x.length} values, expected B*inputDim = ${B}*${I} = ${B * I}`);
    const { fc1W, fc1B, fc2W, fc2B, scoreW, scoreB } = this.p;
    const pre = new Float32Array(B * H); // [B, H]
    const hidden = new Float32Array(B * H); // [B, H]
    let mask: Float32Array | null = null;
    if (train && dropout > 0) {
      const seed = rngSeed ?? (Math.imul(this.seed ^ 0x5bd1e995, 0x27d4eb2d) + this.dropoutCalls++) >>> 0;
      mask = new Float32Array(B * H);
      const keep = 1 / (1 - dropout);
      for (let i = 0; i < B * H; i++) mask[i] = hashUniform(seed, i) < dropout ? 0 : keep;
    }
    for (let b = 0; b < B; b++) {
      const xo = b * I;
      for (let j = 0; j < H; j++) {
        const wo = j * I;
        let s = fc1B[j];
        for (let i = 0; i < I; i++) s += fc1W[wo + i] * x[xo + i];
        pre[b * H + j] = s;
        const a = activate(activation, s);
        hidden[b * H + j] = mask ? a * mask[b * H + j] : a;
      }
    }
    const logits = new Float32Array(B * K); // [B, K]
    const probs = new Float32Array(B * K); // [B, K]
    const score = this.config.scoreHead ? new Float32Array(B) : null; // [B]
    for (let b = 0; b < B; b++) {
      const ho = b * H;
      let max = -Infinity;
      for (let k = 0; k < K; k++) {
        let s = fc2B[k];
        for (let j = 0; j < H; j++) s += fc2W[k * H + j] * hidden[ho + j];
        logits[b * K + k] = s;
        if (s > max) max = s;
      }
      let z = 0;
      for (let k = 0; k < K; k++) z += Math.exp(logits[b * K + k] - max);
      for (let k = 0; k < K; k++) probs[b * K + k] = Math.exp(logits[b * K + k] - max) / z;
      if (score) {
        let s = scoreB[0];
        for (let j = 0; j < H; j++) s += scoreW[j] * hidden[ho + j];
        score[b] = s;
      }
    }
    return { B, x, pre, hidden, mask, logits, probs, score };
  }

  /** Probabilities [B, K] in eval mode (no dropout). */
  predict(x: Float32Array, B: number): Float32Array {
    return this.forward(x, B, false).probs;
  }

  /**
   * Accumulates dLoss/dparams into grads from dLogits [B, K] (and opts.dScore [B]); returns dLoss/dx [B, in]
   * when opts.needDx, else null.
   */
  backward(cache: RouterCache, dLogits: Float32Array, opts: RouterBackwardOptions = {}): Float32Array | null {
    const { inputDim: I, hiddenDim: H, numExperts: K, activation } = this.config;
    const { B, x, pre, hidden, mask } = cache;
    check(dLogits.length === B * K, `router backward: dLogits has ${dLogits.length} values, expected B*K = ${B * K}`);
    const dScore = this.config.scoreHead ? opts.dScore ?? null : null;
    if (dScore) check(dScore.length === B, `router backward: dScore has ${dScore.length} values, expected B = ${B}`);
    const { fc1W, fc2W, scoreW } = this.p;
    const g = this.g;
    const dpre = new Float32Array(B * H); // [B, H]
    for (let b = 0; b < B; b++) {
      const ho = b * H;
      for (let k = 0; k < K; k++) {
        const d = dLogits[b * K + k];
        if (d === 0) continue;
        g.fc2B[k] += d;
        for (let j = 0; j < H; j++) g.fc2W[k * H + j] += d * hidden[ho + j];
      }
      const ds = dScore ? dScore[b] : 0;
      if (ds !== 0) {
        g.scoreB[0] += ds;
        for (let j = 0; j < H; j++) g.scoreW[j] += ds * hidden[ho + j];
      }
      for (let j = 0; j < H; j++) {
        let dh = ds * (dScore ? scoreW[j] : 0);
        for (let k = 0; k < K; k++) dh += dLogits[b * K + k] * fc2W[k * H + j];
        if (mask) dh *= mask[ho + j];
        dpre[ho + j] = dh * activateGrad(activation, pre[ho + j]);
      }
    }
    for (let b = 0; b < B; b++) {
      const xo = b * I;
      for (let j = 0; j < H; j++) {
        const d = dpre[b * H + j];
        if (d === 0) continue;
        g.fc1B[j] += d;
        const wo = j * I;
        for (let i = 0; i < I; i++) g.fc1W[wo + i] += d * x[xo + i];
      }
    }
    if (!opts.needDx) return null;
    const dx = new Float32Array(B * I); // [B, in]
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const d = dpre[b * H + j];
        if (d === 0) continue;
        const wo = j * I;
        for (let i = 0; i < I; i++) dx[b * I + i] += d * fc1W[wo + i];
      }
    }
    return dx;
  }
}
