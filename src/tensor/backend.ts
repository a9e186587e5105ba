/**
 * The kernel contract: every op GPT-2, LoRA, the router and AdamW need, each forward with its backward.
 *
 * Buffers are Float32Array views (llm.c style: one big buffer, named views into it). Ops write into
 * caller-owned outputs and never allocate. Shapes are passed explicitly; the comments give them row-major.
 * Every backend (reference TypeScript, native N-API, WebGPU later) implements this interface and passes
 * the one shared suite in test/backend/suite.ts. A backend may be faster; it must not differ from the
 * reference by more than float rounding.
 *
 * Conventions
 * - "accumulate" / beta: gradients of shared things are added (`+=`) so that several users can
 *   contribute; everything else overwrites.
 * - Masks: `keyMask[b * T + t]` is 1 for a real token, 0 for padding (HF attention_mask).
 * - Dropout masks come from `dropoutMask`, a counter-based hash of (seed, index), so every backend draws
 *   the same mask for the same seed and results are reproducible across backends.
 */
export type F32 = Float32Array;
export type I32 = Int32Array;
/**
 * A KV cache's storage: fp32 values (Float32Array), or fp16 ones (Uint16Array of IEEE binary16 bits: each
 * new key and value rounded to nearest even as it is written, widened exactly as it is read, so attention's
 * arithmetic is fp32 on the stored values). A cache's keys and values are of one type.
 */
export type KVBuffer = Float32Array | Uint16Array;

export interface MatmulOptions {
  /** Use A^T: A is stored [K, M] instead of [M, K]. */
  transA?: boolean;
  /** Use B^T: B is stored [N, K] instead of [K, N]. */
  transB?: boolean;
  /** out = alpha * op(A) op(B) + beta * out. Defaults: alpha 1, beta 0. */
  alpha?: number;
  beta?: number;
}

export interface Backend {
  /** Short name: "reference", "native", "webgpu". */
  readonly name: string;

  /** out[M, N] = alpha * op(A)[M, K] @ op(B)[K, N] + beta * out. (sgemm, row-major) */
  matmul(out: F32, a: F32, b: F32, M: number, N: number, K: number, opts?: MatmulOptions): void;

  /** out[M, N] += bias[N] broadcast over rows. */
  addBias(out: F32, bias: F32, M: number, N: number): void;
  /** dbias[N] (+)= sum over rows of dout[M, N]. */
  biasBackward(dbias: F32, dout: F32, M: number, N: number, accumulate: boolean): void;

  /** out = a + b, elementwise over n (out may alias a or b). */
  add(out: F32, a: F32, b: F32, n: number): void;
  /** y += alpha * x over n (axpy). */
  axpy(y: F32, x: F32, alpha: number, n: number): void;

  /**
   * LayerNorm over the last axis. x, out: [N, C]; weight, bias: [C]; mean, rstd: [N] (saved for backward).
   */
  layernormForward(out: F32, mean: F32, rstd: F32, x: F32, weight: F32, bias: F32, N: number, C: number, eps: number): void;
  /**
   * dx (+)= dLoss/dx (accumulated into dx when accumulate). dweight, dbias may be null (frozen); when given
   * they are always accumulated.
   */
  layernormBackward(
    dx: F32, dweight: F32 | null, dbias: F32 | null, dout: F32, x: F32, weight: F32, mean: F32, rstd: F32,
    N: number, C: number, accumulate: boolean,
  ): void;

  /** GPT-2 "gelu_new" (tanh approximation), elementwise over n. */
  geluForward(out: F32, x: F32, n: number): void;
  /** dx = dout * gelu'(x) (overwrites). */
  geluBackward(dx: F32, x: F32, dout: F32, n: number): void;

  /**
   * Causal self-attention over a packed qkv [B, T, 3C] (q, k, v each [B, T, NH, hs]) with an optional key
   * padding mask [B, T]. Saves the probabilities att [B, NH, T, T] for backward. out: [B, T, C].
   * A query row whose keys are all masked gets zeros (HF gives garbage there; it is never scored).
   * Attention dropout (GPT-2's attn_pdrop, training only): when dropoutP > 0 the probabilities are multiplied
   * by the dropout mask of element ((b*NH + h)*T + t)*T + t2 drawn with `hashUniform(dropoutSeed, index)`
   * (same rule as dropoutMask) before they weight V; `att` keeps the probabilities before dropout.
   */
  attentionForward(
    out: F32, att: F32, qkv: F32, keyMask: I32 | null, B: number, T: number, C: number, NH: number,
    dropoutP?: number, dropoutSeed?: number,
  ): void;
  /** dqkv [B, T, 3C] = gradient through attention (overwrites); same dropoutP / dropoutSeed as forward. */
  attentionBackward(
    dqkv: F32, dout: F32, qkv: F32, att: F32, B: number, T: number, C: number, NH: number,
    dropoutP?: number, dropoutSeed?: number,
  ): void;

  /**
   * Incremental attention with a KV cache (inference only). qkv: [B, Tq, 3C] for new positions
   * past .. past+Tq-1. kCache, vCache: [B, NH, S, hs], fp32 or fp16 (KVBuffer); the new k, v are written
   * into them first (rounded to fp16 in an fp16 cache, and attended as stored). keyMask: [B, S] over all
   * cached positions (or null). out: [B, Tq, C].
   */
  attentionCached(
    out: F32, qkv: F32, kCache: KVBuffer, vCache: KVBuffer, keyMask: I32 | null,
    past: number, B: number, Tq: number, C: number, NH: number, S: number,
  ): void;
  /**
   * Decode attention for B rows that each have their own KV cache, one new token per row (inference only):
   * qkv [B, 3C] (row b's new position is pasts[b]), out [B, C]; row b's cache kCaches[b], vCaches[b]
   * [NH, S_b, hs] (S_b = kCaches[b].length / C; fp32 or fp16, each row's own type) and keyMasks[b] [S_b]
   * (or null: all keys real). Row b's new
   * k, v are written at pasts[b] first. Row b's result is exactly what attentionCached(out_b, qkv_b,
   * kCaches[b], vCaches[b], keyMasks[b], pasts[b], 1, 1, C, NH, S_b) gives. The rows' caches must not
   * share memory.
   */
  attentionRows(
    out: F32, qkv: F32, kCaches: KVBuffer[], vCaches: KVBuffer[], keyMasks: (I32 | null)[], pasts: I32, B: number, C: number, NH: number,
  ): void;

  /**
   * LoRA's update of a decode step, each row with its own adapters (inference only): for each row b of
   * x [B, inDim] and each adapter k in order (K = As.length) whose weight w = weights[b*K + k] is not 0,
   *   y_b [outDim] += w · (x_b A_k^T) B_k^T,   A_k = As[k] [r_k, inDim], B_k = Bs[k] [outDim, r_k]
   * (PEFT's lora_A and lora_B; both null where adapter k has no factors at this site). Row b's result is
   * exactly what the two one-row matmuls give, adapter after adapter: xa = x_b A_k^T (transB), then
   * y_b += w · xa B_k^T (transB, alpha w, beta 1). y must not share memory with x or a factor.
   */
  loraRows(y: F32, x: F32, As: readonly (F32 | null)[], Bs: readonly (F32 | null)[], weights: F32, B: number, inDim: number, outDim: number): void;

  /**
   * out[B*T, C] = wte[ids] + wpe[positions]. positions[b*T+t] gives the position id of each token
   * (so right padding and KV-cache offsets are both expressed by the caller).
   */
  embeddingForward(out: F32, ids: I32, positions: I32, wte: F32, wpe: F32, BT: number, C: number): void;
  /** dwte[V, C] += scatter of dout by ids; dwpe likewise by positions (either may be null). */
  embeddingBackward(dwte: F32 | null, dwpe: F32 | null, dout: F32, ids: I32, positions: I32, BT: number, C: number): void;

  /**
   * Softmax cross-entropy per row. logits [N, V]; targets [N] (-100 = ignored, loss 0).
   * losses[N] gets -log p(target); returns nothing (caller reduces).
   */
  crossEntropyForward(losses: F32, logits: F32, targets: I32, N: number, V: number): void;
  /**
   * dlogits[N, V] = (softmax(logits) - onehot(target)) * dloss[n] for rows with a target, 0 for ignored rows
   * (overwrites; dlogits may alias logits).
   */
  crossEntropyBackward(dlogits: F32, logits: F32, targets: I32, dloss: F32, N: number, V: number): void;

  /**
   * Greedy choice per row: out[r] = index of the largest value of row r of x [rows, V] (V >= 1), the first
   * of equal maxima, NaN never larger than anything — exactly `best = 0; for i >= 1: if (x[i] > x[best])
   * best = i`, so a row whose first value is NaN gives 0 (no value is larger than NaN).
   */
  argmaxRows(out: I32, x: F32, rows: number, V: number): void;
  /**
   * Greedy tokens straight from hidden states: out[r] = the argmax of row r of x [rows, C] @ w^T (w [V, C],
   * e.g. the LM head; V >= 1), bit for bit what matmul(logits, x, w, rows, V, C, { transB: true }) followed
   * by argmaxRows(out, logits, rows, V) gives — also inside NativeBackend.withHalfWeights, where that is the
   * argmax of the fp16 logits. A backend may skip logits it can prove are not the largest (the native one
   * screens them at int8 where the CPU has AVX-512 VNNI and w is a packed fp16 region).
   */
  argmaxLogits(out: I32, x: F32, w: F32, rows: number, V: number, C: number): void;
  /**
   * Tokens of sampled rows (inference): out[r] is the token row r of x [rows, V] draws with temperature
   * temperatures[r] > 0, top-k topKs[r] (0: no limit), top-p topPs[r] (1: off) and the uniform draw
   * draws[r] in [0, 1) — sampleToken's steps (src/model/sampling.ts) with that one draw. A row with a NaN
   * logit, or whose largest logit is not finite, gets its argmax. The native backend computes the softmax's
   * terms in float where it sums over the whole vocabulary (no top-k), so a draw within about 1e-6 of the
   * boundary between two tokens may pick the other one.
   */
  sampleRows(out: I32, x: F32, rows: number, V: number, temperatures: Float64Array, topKs: I32, topPs: Float64Array, draws: Float64Array): void;

  /**
   * Fills mask[n] with 0 (dropped) or 1/(1-p) (kept) from the shared counter-based hash of (seed, offset+i).
   * p = 0 gives all ones.
   */
  dropoutMask(mask: F32, n: number, p: number, seed: number, offset: number): void;
  /** out = x * mask, elementwise (also the backward: dx = dout * mask). out may alias x or mask. */
  mul(out: F32, x: F32, mask: F32, n: number): void;

  /**
   * One AdamW step (decoupled weight decay, bias-corrected moments) over n parameters.
   * step is 1-based.
   */
  adamw(
    params: F32, grads: F32, m: F32, v: F32, n: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number,
  ): void;

  /** Sum of squares of x[0..n) as a double (for global-norm clipping). */
  sumSquares(x: F32, n: number): number;
  /** x *= s over n. */
  scale(x: F32, s: number, n: number): void;
}
