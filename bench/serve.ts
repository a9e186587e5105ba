/**
 * `npm run bench:serve`: the bundled tiny GPT-2 with three experts behind `loraroute serve` on 127.0.0.1, under a
 * bounded client loop at concurrency 1, 4 and 16, next to the same requests served one at a time without a
 * server (the peer: `generateText` with the request's expert, one request after another, in this process while
 * the server idles). Peer and server levels alternate in rounds (--rounds, default 3); the RESULT line is the
 * round with the median ratio, and every round's ratio is printed.
 *
 * Every request streams (stream: true, so the time to first token is seen), is greedy (or samples, with
 * --temperature T and --top-p P; request i seeded with i on both sides), ignores
 * <|endoftext|> (every request generates exactly --tokens tokens), and cycles over the models auto, simple,
 * medium, complex — so a batch mixes experts. Per concurrency: requests/s, generated tokens/s, p50/p99
 * latency, p50/p99 time to first token. The server runs in its own process (`bin/loraroute.js serve`).
 *
 * The experts are a fixture run at the default rank (random LoRA weights, untrained router: what serving costs
 * does not depend on training) unless --model-dir RUN/best_model names a real one. Its base is the bundled
 * model, or with --shape gpt2 a GPT-2 folder of GPT-2 124M's shapes with random weights (bench/shaped-model.ts),
 * written to a temporary folder first: where the blocks' weights, not the vocabulary projection, are most of
 * a decode step.
 *
 * Options: --requests N (default 48), --tokens N (64), --concurrency 1,4,16, --model-dir DIR, --shape tiny|gpt2
 * (tiny), --max-batch N (16), --rounds N (3), --temperature T (0: greedy), --top-p P (1), --prefix-cache-mb N (the
 * server's default). Every round and concurrency has prompts of its own (a tag at the start of each
 * instruction), so the server's prefix cache shares only the template's head between them, as between
 * different users' requests; each row says how many prompt tokens it restored. The timed peer runs the
 * concurrency-16 prompts just before and just after the server's concurrency-16 run (one figure for both);
 * the other levels' texts are checked against an untimed peer run of their own prompts. Last line: `RESULT serve_tokens_per_s_c16 ours=<server tokens/s at 16> peer=<sequential
 * tokens/s> ratio=…`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { percentile } from '../src/eval/stats.js';
import { ModelRegistry } from '../src/server/registry.js';
import { writeFixtureRun } from '../test/server/fixture.js';
import { defaultConfig } from '../src/config/index.js';
import { PROMPTS } from '../test/server/helpers.js';
import { loadAverage, parseShape, printEngineHeader, repoRoot, resultLine, SHAPES } from './common.js';
import { writeShapedModel } from './shaped-model.js';
import { servePeerOne, type Req, type Timing } from './serve-peer.js';

const MODELS = ['auto', 'simple', 'medium', 'complex'];


interface Row {
  label: string;
  wallS: number;
  requests: number;
  tokens: number;
  latency: number[];
  ttft: number[];
  /** Generated texts by request index. */
  texts: Map<number, string>;
  /** CPU time (all threads) of the server process and of this client process over the run, ms (null: unknown). */
  serverCpuMs?: number | null;
  clientCpuMs?: number;
}

/** CPU time (user + system, all threads) of process `pid` so far, ms, from /proc (null where there is none). */
function procCpuMs(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function summary(label: string, wallMs: number, t: Map<number, Timing>): Row {
  const all = [...t.values()];
  return {
    label, wallS: wallMs / 1000, requests: all.length, tokens: all.reduce((a, x) => a + x.tokens, 0), latency: all.map((x) => x.latencyMs), ttft: all.map((x) => x.ttftMs),
    texts: new Map([...t].map(([i, x]) => [i, x.text])),
  };
}

function print(r: Row): void {
  const p = (xs: number[], q: number) => percentile(xs, q).toFixed(0).padStart(6);
  const perToken = (ms: number | null | undefined) => (ms == null ? '   ?' : (ms / r.tokens).toFixed(3));
  const cpu = r.clientCpuMs === undefined ? '' : `   CPU/token: server ${perToken(r.serverCpuMs)} ms, client ${perToken(r.clientCpuMs)} ms`;
  console.log(`${r.label.padEnd(22)} ${(r.requests / r.wallS).toFixed(2).padStart(7)} req/s ${(r.tokens / r.wallS).toFixed(0).padStart(6)} tok/s` +
    `   latency p50 ${p(r.latency, 50)} p99 ${p(r.latency, 99)} ms   ttft p50 ${p(r.ttft, 50)} p99 ${p(r.ttft, 99)} ms${cpu}`);
}

/** The peer: each request alone through generateText with its expert (servePeerOne), one after another. */
function sequential(reg: ModelRegistry, reqs: Req[], tokens: number): Row {
  const times = new Map<number, Timing>();
  const t0 = performance.now();
  for (const [i, r] of reqs.entries()) times.set(i, servePeerOne(reg, r, tokens));
  return summary('sequential (no server)', performance.now() - t0, times);
}

/** Two runs of the peer over the same requests as one row (their time and tokens added; the first's texts). */
function together(a: Row, b: Row): Row {
  return { ...a, label: 'sequential (no server)', wallS: a.wallS + b.wallS, requests: a.requests + b.requests, tokens: a.tokens + b.tokens, latency: [...a.latency, ...b.latency], ttft: [...a.ttft, ...b.ttft] };
}

/**
 * One streamed completion over node:http (lighter than fetch: the client shares the machine with the
 * server, and its CPU time per token is printed); its latency, time to first text and generated tokens
 * (from usage).
 */
function streamOne(url: string, r: Req, tokens: number, agent: Agent): Promise<Timing> {
  const t0 = performance.now();
  const sampling = r.sampling ? { temperature: r.sampling.temperature, top_p: r.sampling.topP, seed: r.sampling.seed } : { temperature: 0 };
  const body = JSON.stringify({ model: r.model, prompt: r.prompt, max_tokens: tokens, ...sampling, ignore_eos: true, stream: true, stream_options: { include_usage: true } });
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let ttft = 0;
      let n = 0;
      let buf = '';
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (part: string) => {
        if (res.statusCode !== 200) { buf += part; return; }
        buf += part;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const data = buf.slice(0, i).replace(/^data: /, '');
          buf = buf.slice(i + 2);
          if (data === '[DONE]') continue;
          const j = JSON.parse(data) as { choices: Array<{ text?: string }>; usage?: { completion_tokens: number } };
          if (!ttft && j.choices[0]?.text) ttft = performance.now() - t0;
          text += j.choices[0]?.text ?? '';
          if (j.usage) n = j.usage.completion_tokens;
        }
      });
      res.on('end', () => (res.statusCode === 200 ? resolve({ latencyMs: performance.now() - t0, ttftMs: ttft, tokens: n, text }) : reject(new Error(`HTTP ${res.statusCode}: ${buf}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A bounded client loop: `c` workers take the next request until none is left. */
async function loadTest(url: string, reqs: Req[], c: number, tokens: number, serverPid?: number): Promise<Row> {
  const times = new Map<number, Timing>();
  let next = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: c });
  const s0 = procCpuMs(serverPid), c0 = ownCpuMs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c }, async () => {
    while (next < reqs.length) {
      const i = next++;
      times.set(i, await streamOne(url, reqs[i], tokens, agent));
    }
  }));
  agent.destroy();
  const row = summary(`server, concurrency ${c}`, performance.now() - t0, times);
  const s1 = procCpuMs(serverPid);
  return { ...row, serverCpuMs: s0 === null || s1 === null ? null : s1 - s0, clientCpuMs: ownCpuMs() - c0 };
}

/**
 * The server's count of prompt tokens restored from its prefix cache (0 when it keeps none), over a connection
 * of its own (a pooled one may be closed by the server's keep-alive timeout just as it is reused).
 */
function restoredTokens(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(`${url}/metrics`, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve(Number(/^loraroute_prefix_cache\{what="restored_tokens"\} (\d+)$/m.exec(text)?.[1] ?? 0)));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}

function startServer(root: string, modelDir: string, maxBatch: number, prefixMb: string | undefined): Promise<{ url: string; pid?: number; stop: () => Promise<void> }> {
  const args = ['serve', '--model-dir', modelDir, '--port', '0', '--max-batch', String(maxBatch), '--max-queue', '1024', ...(prefixMb === undefined ? [] : ['--prefix-cache-mb', prefixMb])];
  const child = spawn(process.execPath, [join(root, 'bin', 'loraroute.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1], pid: child.pid, stop: () => new Promise<void>((r) => { child.removeAllListeners('exit'); child.once('exit', () => r()); child.kill('SIGTERM'); }) });
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    requests: { type: 'string', default: '48' }, tokens: { type: 'string', default: '64' }, concurrency: { type: 'string', default: '1,4,16' },
    'model-dir': { type: 'string' }, shape: { type: 'string', default: 'tiny' }, 'max-batch': { type: 'string', default: '16' }, rounds: { type: 'string', default: '3' },
    temperature: { type: 'string', default: '0' }, 'top-p': { type: 'string', default: '1' }, 'prefix-cache-mb': { type: 'string' },
  } });
  const root = repoRoot(import.meta.url);
  const N = Number(values.requests), tokens = Number(values.tokens), maxBatch = Number(values['max-batch']);
  const levels = (values.concurrency as string).split(',').map(Number);
  const rounds = Math.max(1, Number(values.rounds));
  const tmp = mkdtempSync(join(tmpdir(), 'loraroute-bench-serve-'));
  try {
    const shape = parseShape(values.shape as string, 'bench:serve');
    if (values['model-dir'] && shape !== 'tiny') throw new Error('bench:serve: --shape makes a fixture run, --model-dir names one: give one of them');
    const base = shape === 'gpt2' ? writeShapedModel(join(tmp, 'gpt2-shaped'), SHAPES.gpt2) : undefined;
    const modelDir = values['model-dir'] ?? writeFixtureRun(tmp, defaultConfig().model.lora_rank, base).modelDir;
    const temperature = Number(values.temperature), topP = Number(values['top-p']);
    if (!(temperature >= 0 && topP > 0 && topP <= 1)) throw new Error(`bench:serve: --temperature ${values.temperature} must be >= 0 and --top-p ${values['top-p']} in (0, 1]`);
    // sampled requests: request i is seeded with i, on both sides; round r's prompts start with their own tag
    const requests = (tag: string): Req[] => Array.from({ length: N }, (_, i) => ({
      model: MODELS[i % MODELS.length], prompt: `(${i}/${tag}) ${PROMPTS[i % PROMPTS.length]}`, ...(temperature > 0 ? { sampling: { temperature, topP, seed: i } } : {}),
    }));
    const warm = requests('w');
    printEngineHeader();
    const what = values['model-dir'] ? `run ${modelDir}` : `fixture run on ${shape === 'gpt2' ? `${SHAPES.gpt2.label} (random weights)` : 'the bundled model'}`;
    const how = temperature > 0 ? `sampled (temperature ${temperature}, top-p ${topP}, request i seeded with i)` : 'greedy';
    console.log(`bench:serve — ${what}; ${N} streamed ${how} requests x ${tokens} tokens, models ${MODELS.join('/')}, max batch ${maxBatch}; ${cpus()[0]?.model ?? '?'} x ${cpus().length}; load ${loadAverage()}`);
    const reg = ModelRegistry.load({ modelDir });
    sequential(reg, warm.slice(0, 4), 8); // warm-up
    const server = await startServer(root, modelDir, maxBatch, values['prefix-cache-mb']);
    const seqRuns: Row[] = [];
    const runs = new Map<number, Row[]>(levels.map((c) => [c, []]));
    try {
      await loadTest(server.url, warm.slice(0, 8), 4, 8); // warm-up
      // rounds of peer then server: this machine's speed drifts by a quarter from minute to minute, and
      // a ratio of neighbouring runs is steadier than one of runs minutes apart
      for (let round = 1; round <= rounds; round++) {
        console.log(`round ${round} of ${rounds} (load ${loadAverage()})`);
        // the timed peer runs the concurrency-16 prompts just before and just after the server's run of them
        // (the peer's figure is the two together): a drift of the machine's speed during the pair cancels
        const peerReqs = requests(`${round}c16`);
        let seq: Row | null = null;
        if (!levels.includes(16)) {
          seq = sequential(reg, peerReqs, tokens);
          seqRuns.push(seq);
          print(seq);
        }
        for (const c of [...levels.filter((x) => x !== 16), ...levels.filter((x) => x === 16)]) {
          const reqs = c === 16 ? peerReqs : requests(`${round}c${c}`);
          const before = c === 16 ? sequential(reg, peerReqs, tokens) : null;
          const restored0 = await restoredTokens(server.url);
          const r = await loadTest(server.url, reqs, c, tokens, server.pid);
          if (before) {
            seq = together(before, sequential(reg, peerReqs, tokens));
            seqRuns.push(seq);
            print(seq);
          }
          runs.get(c)?.push(r);
          print(r);
          const restored = (await restoredTokens(server.url)) - restored0;
          console.log(`${''.padEnd(22)} prefix cache: ${(restored / r.requests).toFixed(1)} prompt tokens per request restored, not prefilled`);
          const peer = c === 16 && seq ? seq : sequential(reg, reqs, tokens); // untimed: the texts of these prompts alone
          // the same work as the peer: texts (greedy, or sampled with the same seeds) must match request by request
          const same = [...r.texts].filter(([i, t]) => peer.texts.get(i) === t).length;
          console.log(`${''.padEnd(22)} texts equal to the sequential peer's: ${same}/${r.texts.size}`);
        }
      }
    } finally {
      await server.stop();
    }
    const tps = (r: Row) => r.tokens / r.wallS;
    const median = (xs: number[]) => percentile(xs, 50);
    console.log(`load after: ${loadAverage()}`);
    console.log(`median over ${rounds} rounds: sequential ${median(seqRuns.map(tps)).toFixed(0)} tok/s; ` +
      levels.map((c) => `concurrency ${c} ${median((runs.get(c) ?? []).map(tps)).toFixed(0)} tok/s`).join(', '));
    const c16 = runs.get(16) ?? [], c1 = runs.get(1) ?? [];
    if (c16.length) {
      const ratios = c16.map((r, i) => tps(r) / tps(seqRuns[i]));
      console.log(`concurrency 16 / sequential, round by round: ${ratios.map((x) => x.toFixed(2)).join(', ')}`);
      if (c1.length) console.log(`concurrency 16 / concurrency 1 (batching through the same server), median: ${median(c16.map((r, i) => tps(r) / tps(c1[i]))).toFixed(2)}`);
    }
    // ours and peer: the medians of the round that gives the median ratio (a pair measured side by side)
    const order = c16.map((r, i) => ({ i, ratio: tps(r) / tps(seqRuns[i]) })).sort((x, y) => x.ratio - y.ratio);
    const mid = order.length ? order[(order.length - 1) >> 1].i : -1;
    console.log(resultLine(temperature > 0 ? 'serve_sampled_tokens_per_s_c16' : 'serve_tokens_per_s_c16', mid >= 0 ? tps(c16[mid]) : null, mid >= 0 ? tps(seqRuns[mid]) : median(seqRuns.map(tps))));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
