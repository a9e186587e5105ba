import { GPT2, type KVCache } from '../model/gpt2.js';
import { isGreedy, makeRng, sampleRows, type SamplingOptions } from '../model/sampling.js';
import { TextStream } from '../model/text-stream.js';
import { LoraMixture } from '../lora/mixture.js';
import type { LoraAdapter } from '../lora/adapter.js';
import type { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import { LoraRouteError } from '../errors.js';
import { decodeRowsStart, firstTokens, RowCaches } from './decode-backend.js';
import { PrefixCache } from './prefix-cache.js';
import type { MixPart } from './registry.js';

/** One generation request, tokenized and validated (ids fit the context with maxNewTokens). */
export interface SequenceSpec {
  ids: number[];
  maxNewTokens: number;
  sampling: SamplingOptions;
  seed: number;
  stopAtEos: boolean;
  stops: string[];
  /** The adapters of this row and their gates ([] = the base model). */
  mix: MixPart[];
  /** Text as it becomes final (streaming). */
  onText?: (text: string) => void;
  /** Aborting frees the row at the next step. */
  signal?: AbortSignal;
}

export type SequenceFinish = 'stop' | 'length' | 'cancelled';

export interface SequenceResult {
  text: string;
  tokenIds: number[];
  finishReason: SequenceFinish;
  promptTokens: number;
  /** Milliseconds from submit to the first generated token (null when none was). */
  ttftMs: number | null;
}

export interface BatcherOptions {
  /** Rows decoded together at most (default 16). */
  maxBatch?: number;
  /** Requests waiting for a row at most; past it, submit throws QueueFullError (default 64). */
  maxQueue?: number;
  /** Prompt tokens per prefill pass (default 64): a long prompt is prefilled a chunk per step. */
  prefillChunk?: number;
  /** Prompt tokens prefilled per step at most, before the step's decode pass (default 128). */
  prefillBudget?: number;
  /**
   * Bytes of recent prompts' keys and values kept for prompts that start the same way (PrefixCache; default
   * 64 MiB, 0: none). Used while the model decodes with its fp16 weights, whose prefills give every position
   * the same bits whatever it is prefilled with.
   */
  prefixCacheBytes?: number;
  /** Called after every decode pass with its batch size, and with tokens generated. */
  onStep?: (batchSize: number) => void;
  onTokens?: (n: number) => void;
  onFirstToken?: (ms: number) => void;
}

/** The longest prefill chunk whose attention takes each query by itself (native/ops.c LR_CACHED_GEMM_MIN - 1). */
const PREFIX_CHUNK_MAX = 64;

export class QueueFullError extends LoraRouteError {
  constructor(readonly queued: number) {
    super(`the server is busy: ${queued} requests are already waiting; retry later`, 'E_QUEUE_FULL');
  }
}

export class ShuttingDownError extends LoraRouteError {
  constructor() {
    super('the server is shutting down', 'E_SHUTDOWN');
  }
}

/** A request's state from submit to finish. */
class Sequence {
  cache: KVCache | null = null;
  /** Prompt tokens already in the cache. */
  prefilled = 0;
  /** The token to feed at the next decode step, and its position. */
  next = -1;
  /**
   * A greedy row just prefilled: its final hidden state at the last prompt token [C], whose argmax (its
   * first token) the next decode step computes together with the batch's greedy rows.
   */
  first: Float32Array | null = null;
  readonly tokenIds: number[] = [];
  readonly stream: TextStream;
  readonly rng: () => number;
  readonly t0 = performance.now();
  ttftMs: number | null = null;
  done = false;

  constructor(readonly spec: SequenceSpec, tokenizer: GPT2Tokenizer, readonly resolve: (r: SequenceResult) => void, readonly reject: (e: Error) => void) {
    this.stream = new TextStream(tokenizer, spec.stops);
    this.rng = makeRng(spec.seed);
  }

  get cancelled(): boolean {
    return this.spec.signal?.aborted === true;
  }

  /** Position id of the token fed next: the prompt, then one per generated token. */
  get position(): number {
    return this.spec.ids.length + this.tokenIds.length - 1;
  }
}

/**
 * Continuous batching: requests join the running batch at the next step and leave when done. Each step
 * prefills up to `prefillBudget` prompt tokens (in chunks, one sequence at a time, each alone in its pass)
 * and then runs one decode pass for every active row, each row with its own adapters (per-row gates) and
 * sampling settings. A row's tokens are the same in any batch (see RowCaches).
 */
export class Batcher {
  readonly maxBatch: number;
  readonly maxQueue: number;
  private readonly prefillChunk: number;
  private readonly prefillBudget: number;
  private readonly waiting: Sequence[] = [];
  /** Admitted, prompt not fully in the cache yet. */
  private readonly prefilling: Sequence[] = [];
  private readonly active: Sequence[] = [];
  private readonly rows: RowCaches;
  private readonly decodeModel: GPT2;
  /** Recent prompts' keys and values (null: none kept). */
  readonly prefixes: PrefixCache | null;
  private mixtures: { key: LoraAdapter[]; prefill: LoraMixture | null; decode: LoraMixture | null } | null = null;
  private running = false;
  private closed = false;
  private idle: Array<() => void> = [];

  constructor(readonly model: GPT2, readonly tokenizer: GPT2Tokenizer, private readonly adapters: () => LoraAdapter[], private readonly o: BatcherOptions = {}) {
    this.maxBatch = o.maxBatch ?? 16;
    this.maxQueue = o.maxQueue ?? 64;
    this.prefillChunk = o.prefillChunk ?? 64;
    this.prefillBudget = o.prefillBudget ?? 128;
    if (!(this.maxBatch >= 1 && this.maxQueue >= 0 && this.prefillChunk >= 1)) throw new LoraRouteError(`batcher: max batch ${this.maxBatch}, max queue ${this.maxQueue}, prefill chunk ${this.prefillChunk} must be >= 1, >= 0, >= 1`);
    this.rows = new RowCaches(model.config);
    const prefixBytes = o.prefixCacheBytes ?? 64 * 2 ** 20;
    if (!(prefixBytes >= 0)) throw new LoraRouteError(`batcher: prefix cache bytes ${prefixBytes} must be >= 0`);
    // chunks of more positions have their attention by sgemm, whose rounding follows the chunk (native/ops.c)
    this.prefixes = prefixBytes > 0 && this.prefillChunk <= PREFIX_CHUNK_MAX ? new PrefixCache(model.config, prefixBytes) : null;
    // the decode model shares the weights; its backend serves attention from each row's cache
    this.decodeModel = new GPT2(model.config, model.weights, this.rows.wrap(model.backend));
  }

  get queueLength(): number {
    return this.waiting.length;
  }

  /** Rows admitted (prefilling or decoding). */
  get activeCount(): number {
    return this.prefilling.length + this.active.length;
  }

  /** Whether a queued or running request uses adapter `a`. */
  uses(a: LoraAdapter): boolean {
    return [...this.waiting, ...this.prefilling, ...this.active].some((s) => s.spec.mix.some((m) => m.adapter === a));
  }

  /** Queues a request; resolves when it is done (or cancelled). Throws QueueFullError when the queue is full. */
  submit(spec: SequenceSpec): Promise<SequenceResult> {
    if (this.closed) throw new ShuttingDownError();
    // the queue holds maxQueue requests beyond those that will get a free row at the next step
    if (this.waiting.length >= this.maxQueue + Math.max(0, this.maxBatch - this.activeCount)) throw new QueueFullError(this.waiting.length);
    const cfg = this.model.config;
    if (spec.ids.length === 0 || spec.ids.length + spec.maxNewTokens > cfg.nPositions) {
      throw new LoraRouteError(`prompt of ${spec.ids.length} tokens + ${spec.maxNewTokens} new tokens must be 1..${cfg.nPositions} (n_positions)`);
    }
    return new Promise<SequenceResult>((resolve, reject) => {
      this.waiting.push(new Sequence(spec, this.tokenizer, resolve, reject));
      this.kick();
    });
  }

  /**
   * Stops accepting requests: the waiting ones fail with ShuttingDownError, the running ones may finish for
   * `graceMs`, then are cancelled. Resolves once nothing runs.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.closed = true;
    for (const s of this.waiting.splice(0)) s.reject(new ShuttingDownError());
    if (this.activeCount === 0) return;
    const idle = new Promise<void>((r) => this.idle.push(r));
    const timer = setTimeout(() => {
      for (const s of [...this.prefilling, ...this.active]) this.finish(s, 'cancelled');
      this.prefilling.length = 0;
      this.active.length = 0;
    }, graceMs);
    await idle;
    clearTimeout(timer);
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    // the last step's tokens are taken after the await: its LM head may still be running on the pool's
    // other threads (decodeRowsStart) while the event loop writes the step before's tokens to the sockets
    let take: (() => void) | null = null;
    while (take || this.waiting.length || this.prefilling.length || this.active.length) {
      try {
        const t = take;
        take = null;
        t?.();
        if (this.waiting.length || this.prefilling.length || this.active.length) take = this.step();
      } catch (e) {
        // a bug must not take the server down: fail what was running, keep serving
        const err = e instanceof Error ? e : new Error(String(e));
        for (const s of [...this.prefilling, ...this.active]) { s.done = true; s.reject(err); }
        this.prefilling.length = 0;
        this.active.length = 0;
      }
      await new Promise<void>((r) => setImmediate(r)); // let requests, writes and disconnects through
    }
    this.running = false;
    for (const r of this.idle.splice(0)) r();
  }

  /**
   * One scheduler step: drop cancelled rows, admit, prefill a budget of prompt tokens, one decode pass.
   * Returns what takes the decode pass's tokens (null when there was none).
   */
  private step(): (() => void) | null {
    for (const list of [this.waiting, this.prefilling, this.active]) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i].cancelled) { this.finish(list[i], 'cancelled'); list.splice(i, 1); }
      }
    }
    while (this.waiting.length && this.activeCount < this.maxBatch) {
      const s = this.waiting.shift() as Sequence;
      s.cache = this.model.createCache(1, s.spec.ids.length + s.spec.maxNewTokens);
      const reused = this.prefixCache()?.restore(s.spec.mix, s.spec.ids, s.cache) ?? 0;
      s.cache.keyMask.fill(1, 0, reused);
      s.cache.past = s.prefilled = reused;
      this.prefilling.push(s);
    }
    const hooks = this.hooks();
    let budget = this.prefillBudget;
    while (this.prefilling.length && budget > 0) {
      const s = this.prefilling[0];
      budget -= this.prefillStep(s, hooks.prefill);
      if (s.prefilled === s.spec.ids.length) {
        this.prefixCache()?.store(s.spec.mix, s.spec.ids, s.cache as KVCache);
        this.prefilling.shift();
        if (!s.done) this.active.push(s);
      }
    }
    return this.active.length ? this.decodeStep(hooks) : null;
  }

  /** The prefix cache while prefills give every position its own bits (the fp16 decode weights), else null. */
  private prefixCache(): PrefixCache | null {
    return this.model.decodeWeights ? this.prefixes : null;
  }

  /** Mixtures over the current adapter list (rebuilt when it changes); null when there are no adapters. */
  private hooks(): { prefill: LoraMixture | null; decode: LoraMixture | null } {
    const list = this.adapters();
    if (!this.mixtures || this.mixtures.key !== list) {
      this.prefixes?.clear(); // an adapter loaded or unloaded: start afresh
      this.mixtures = list.length
        ? { key: list, prefill: new LoraMixture(list, this.model.backend), decode: new LoraMixture(list, this.decodeModel.backend) }
        : { key: list, prefill: null, decode: null };
    }
    return this.mixtures;
  }

  private setGates(mix: LoraMixture | null, seqs: Sequence[]): void {
    if (!mix) return;
    const K = mix.K;
    const g = new Float32Array(seqs.length * K); // [B, K]
    seqs.forEach((s, b) => {
      for (const m of s.spec.mix) {
        const k = mix.adapters.indexOf(m.adapter);
        if (k < 0) throw new Error(`adapter ${m.adapter.name} is not loaded`);
        g[b * K + k] = m.weight;
      }
    });
    mix.setGates(g, seqs.length);
  }

  /** Prefills the next chunk of s's prompt alone (B = 1); after the last chunk, samples its first token. */
  private prefillStep(s: Sequence, hook: LoraMixture | null): number {
    const cache = s.cache as KVCache;
    const ids = s.spec.ids;
    const t0 = s.prefilled;
    const T = Math.min(this.prefillChunk, ids.length - t0);
    const chunk = Int32Array.from(ids.slice(t0, t0 + T)); // [1, T]
    const positions = Int32Array.from({ length: T }, (_, t) => t0 + t);
    cache.keyMask.fill(1, t0, t0 + T);
    const last = t0 + T === ids.length;
    this.setGates(hook, [s]);
    // a greedy row's first token waits for the decode step's argmax (one screened LM head for every row)
    const greedy = last && isGreedy(s.spec.sampling);
    const res = this.model.forward({ ids: chunk, B: 1, T, positions }, { cache, logits: last && !greedy ? Int32Array.of(T - 1) : 'none', hook });
    s.prefilled += T;
    const C = this.model.config.nEmbd;
    if (greedy) s.first = res.hidden.slice((T - 1) * C, T * C);
    else if (last) this.accept(s, this.sample([s], res.logits as Float32Array)[0]);
    return T;
  }

  /**
   * One forward for every active row (T = 1), each from its own cache; samples each row's next token (the
   * greedy ones in one call). A row alone goes through the model itself over its cache (attentionCached,
   * whose bits attentionRows gives each row), without the per-row wrapper. Returns what accepts the tokens
   * (the loop calls it after an event-loop turn: a batch's LM head may run meanwhile, see decodeRowsStart).
   */
  private decodeStep(hooks: { prefill: LoraMixture | null; decode: LoraMixture | null }): () => void {
    const seqs = this.active.filter((s) => !s.first); // rows with a token to feed
    const firsts = this.active.filter((s) => s.first);
    const B = seqs.length;
    const C = this.model.config.nEmbd;
    const extra = firsts.length ? new Float32Array(firsts.length * C) : null; // [F, C]
    firsts.forEach((s, i) => extra?.set(s.first as Float32Array, i * C));
    const ids = Int32Array.from(seqs, (s) => s.next); // [B, 1]
    const positions = Int32Array.from(seqs, (s) => s.position);
    let tokens: () => Int32Array; // [B + F]: the rows' next tokens, then the new rows' first ones
    if (B >= 2) {
      this.setGates(hooks.decode, seqs);
      const caches = seqs.map((s) => s.cache as KVCache);
      const samplers = seqs.map((s) => ({ sampling: s.spec.sampling, rng: s.rng }));
      tokens = decodeRowsStart(this.model, this.decodeModel, this.rows, caches, { ids, positions }, samplers, hooks.decode, extra);
    } else {
      const t = new Int32Array(B + firsts.length);
      if (B === 1) {
        const cache = seqs[0].cache as KVCache;
        this.setGates(hooks.prefill, seqs);
        cache.keyMask[cache.past] = 1;
        t[0] = this.sample(seqs, this.model.forward({ ids, B, T: 1, positions }, { cache, logits: Int32Array.of(0), hook: hooks.prefill }).logits as Float32Array)[0];
      }
      if (extra) t.set(firstTokens(this.model, extra, firsts.length), B);
      tokens = () => t;
    }
    if (B > 0) this.o.onStep?.(B);
    return () => {
      const t = tokens();
      // rows the shutdown cancelled meanwhile take nothing more
      for (let b = 0; b < B; b++) if (!seqs[b].done) this.accept(seqs[b], t[b]);
      firsts.forEach((s, i) => { s.first = null; if (!s.done) this.accept(s, t[B + i]); });
      for (let i = this.active.length - 1; i >= 0; i--) if (this.active[i].done) this.active.splice(i, 1);
    };
  }

  /** The next token of each of seqs from their logits [seqs.length, V], each with its own settings and stream. */
  private sample(seqs: Sequence[], logits: Float32Array): Int32Array {
    return sampleRows(this.model.backend, logits, this.model.config.vocabSize, seqs.map((s) => ({ sampling: s.spec.sampling, rng: s.rng })));
  }

  /** Takes tok as s's next token and decides whether s is done. */
  private accept(s: Sequence, tok: number): void {
    if (s.ttftMs === null) {
      s.ttftMs = performance.now() - s.t0;
      this.o.onFirstToken?.(s.ttftMs);
    }
    if (s.spec.stopAtEos && tok === this.model.config.eosTokenId) return this.finish(s, 'stop');
    s.tokenIds.push(tok);
    this.o.onTokens?.(1);
    const text = s.stream.push(tok);
    if (text) s.spec.onText?.(text);
    if (s.stream.stopped) return this.finish(s, 'stop');
    if (s.tokenIds.length >= s.spec.maxNewTokens) return this.finish(s, 'length');
    s.next = tok;
  }

  private finish(s: Sequence, reason: SequenceFinish): void {
    if (s.done) return;
    s.done = true;
    s.cache = null;
    const rest = s.stream.finish();
    if (rest && reason !== 'cancelled') s.spec.onText?.(rest);
    s.resolve({ text: s.stream.text, tokenIds: s.tokenIds, finishReason: reason, promptTokens: s.spec.ids.length, ttftMs: s.ttftMs });
  }
}
