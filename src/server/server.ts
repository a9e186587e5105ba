import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { Batcher } from './batcher.js';
import { ServerMetrics } from './metrics.js';
import { NativeBackend } from '../tensor/native.js';
import { ModelRegistry, type LoadSystemOptions } from './registry.js';

export interface ServeOptions {
  host?: string;
  /** 0 = any free port. */
  port?: number;
  maxBatch?: number;
  maxQueue?: number;
  apiKey?: string;
  maxBodyBytes?: number;
  prefillChunk?: number;
  /** Bytes of the prefix cache (Batcher's prefixCacheBytes; default 64 MiB, 0: none). */
  prefixCacheBytes?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  registry: ModelRegistry;
  engine: Batcher;
  /** Stops accepting, lets running requests finish for graceMs (then cancels them), closes every connection. */
  close(graceMs?: number): Promise<void>;
}

/** Starts the HTTP server over loaded models (see ModelRegistry.load). */
export async function startServer(reg: ModelRegistry, o: ServeOptions = {}): Promise<RunningServer> {
  const metrics: { m: ServerMetrics | null } = { m: null };
  const engine = new Batcher(reg.model, reg.tokenizer, () => reg.adapters, {
    maxBatch: o.maxBatch, maxQueue: o.maxQueue, prefillChunk: o.prefillChunk, prefixCacheBytes: o.prefixCacheBytes,
    onStep: (b) => metrics.m?.batchSize.observe(b),
    onTokens: (n) => metrics.m?.addTokens(n),
    onFirstToken: (ms) => metrics.m?.ttft.observe(ms / 1000),
  });
  const be = reg.model.backend;
  const screen = be instanceof NativeBackend && be.info().logitScreen !== 'none'
    ? () => { const i = be.info(); return { screened: i.logitScreenRows, exact: i.logitExactRows }; }
    : () => null;
  metrics.m = new ServerMetrics(() => engine.queueLength, () => engine.activeCount, undefined, screen, () => engine.prefixes);
  let closing = false;
  const app = createApp(reg, engine, metrics.m, { apiKey: o.apiKey, maxBodyBytes: o.maxBodyBytes, closing: () => closing });
  const host = o.host ?? '127.0.0.1';
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: o.port ?? 8080, hostname: host }, () => resolve(s as Server));
    (s as Server).once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, port, registry: reg, engine,
    async close(graceMs = 10_000) {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await engine.close(graceMs);
      // streams that were cancelled end their responses; give them a moment, then drop what is left
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1000).unref())]);
      server.closeAllConnections();
      await closed;
    },
  };
}

export { ModelRegistry, type LoadSystemOptions };
