import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PrefixCache } from './prefix-cache.js';

/** A gauge with one label whose values `read` gives at each scrape, by label value (none while it gives null). */
function labelledGauge<L extends string>(registers: Registry[], name: string, label: L, help: string, read: () => Record<string, number> | null): Gauge<L> {
  return new Gauge({
    name, help, labelNames: [label], registers,
    collect() {
      for (const [value, n] of Object.entries(read() ?? {})) this.set({ [label]: value } as Partial<Record<L, string>>, n);
    },
  });
}

/** Prometheus metrics of one server (its own registry, so several servers can live in one process). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'endpoint' | 'model' | 'expert' | 'status'>;
  readonly queueLength: Gauge;
  readonly activeRows: Gauge;
  readonly batchSize: Histogram;
  readonly tokens: Counter;
  readonly tokensPerSecond: Gauge;
  readonly ttft: Histogram;
  readonly latency: Histogram<'endpoint'>;
  readonly screenRows: Gauge<'how'>;
  readonly prefixCache: Gauge<'what'>;
  /** Generated-token counts of the last seconds, for tokens/s. */
  private readonly window: Array<{ t: number; n: number }> = [];

  /**
   * `screen`: the engine's counts of greedy LM-head rows so far (NativeBackend.info's logitScreenRows and
   * logitExactRows), or null where nothing screens them.
   */
  constructor(
    queue: () => number, active: () => number, private readonly windowMs = 10_000, screen: () => { screened: number; exact: number } | null = () => null,
    prefixes: () => PrefixCache | null = () => null,
  ) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'loraroute_requests_total', help: 'Requests by endpoint, model id, expert used and HTTP status', labelNames: ['endpoint', 'model', 'expert', 'status'], registers });
    this.queueLength = new Gauge({ name: 'loraroute_queue_length', help: 'Requests waiting for a batch row', registers, collect() { this.set(queue()); } });
    this.activeRows = new Gauge({ name: 'loraroute_active_sequences', help: 'Sequences in the running batch (prefilling or decoding)', registers, collect() { this.set(active()); } });
    this.batchSize = new Histogram({ name: 'loraroute_batch_size', help: 'Rows per decode pass', buckets: [1, 2, 4, 8, 12, 16, 24, 32, 64], registers });
    this.tokens = new Counter({ name: 'loraroute_generated_tokens_total', help: 'Tokens generated', registers });
    const rate = () => this.rate();
    this.tokensPerSecond = new Gauge({ name: 'loraroute_tokens_per_second', help: `Generated tokens per second over the last ${windowMs / 1000} s`, registers, collect() { this.set(rate()); } });
    this.ttft = new Histogram({ name: 'loraroute_time_to_first_token_seconds', help: 'From request accepted to its first generated token', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers });
    this.screenRows = labelledGauge(registers, 'loraroute_lm_head_screen_rows', 'how',
      'Greedy rows of batched LM heads since the process started: decided by the int8 screen (screened), or given their whole logits by it (exact)',
      () => { const c = screen(); return c && { screened: c.screened, exact: c.exact }; });
    this.prefixCache = labelledGauge(registers, 'loraroute_prefix_cache', 'what',
      'The prefix cache: prompt tokens restored from it instead of prefilled since the server started (restored_tokens), its entries and bytes',
      () => { const p = prefixes(); return p && { restored_tokens: p.hitTokens, entries: p.count, bytes: p.bytes }; });
    this.latency = new Histogram({ name: 'loraroute_request_duration_seconds', help: 'Whole request duration by endpoint', labelNames: ['endpoint'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers });
  }

  addTokens(n: number): void {
    this.tokens.inc(n);
    const t = Date.now();
    const last = this.window[this.window.length - 1];
    if (last && t - last.t < 100) last.n += n;
    else this.window.push({ t, n });
    this.prune(t);
  }

  rate(): number {
    const t = Date.now();
    this.prune(t);
    return this.window.reduce((a, w) => a + w.n, 0) / (this.windowMs / 1000);
  }

  private prune(t: number): void {
    while (this.window.length && t - this.window[0].t > this.windowMs) this.window.shift();
  }
}
