/**
 * `npm run bench:infer`: GPT-2 124M inference on the CPU, ours next to PyTorch in the same run.
 *
 *   forward: tokens/s of one full forward pass (logits for every position) at batch 4 x 128
 *   decode:  tokens/s of greedy generation at batch 1 (16-token prompt, 128 new tokens, KV cache,
 *            stopAtEos false; time of the whole generate call, prefill included)
 *   memory:  peak RSS of the decode process
 *
 * Our decode runs twice: with fp32 weights, and with an fp16 copy of the weights widened on the fly
 * (useHalfWeightsForDecode, half the memory traffic). The RESULT lines report the fp16 run unless
 * --decode-weights f32; both are printed, and so is whether each gives the peer's greedy tokens.
 *
 * Each figure is the median of 5 runs after one warm-up. Each phase runs in its own process (ours and the
 * peer alike), one at a time, so that a peak RSS belongs to that phase alone and nothing else competes for
 * the two cores. Both sides build the same random weights from the shared counter hash (src/tensor/hash.ts)
 * and the same token ids, so the bench also reports whether the two engines agree (greedy tokens, logits).
 *
 * The peer is bench/peer/infer.py (plain PyTorch, fp32, torch.set_num_threads(2)); its Python is
 * $LORAROUTE_PEER_PYTHON, else the venv of bench/peer/setup.sh, else python3. Without an importable torch
 * the bench says so and prints peer=none.
 *
 * Options: --backend auto|native|reference, --runs N, --layers N (a smaller model for a quick look),
 * --no-peer, --decode-weights f16|f32. The last three lines are `RESULT <name> ours=<n> peer=<n|none> ratio=<ours/peer|none>`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, homedir, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseGPT2Config, type GPT2Config } from '../src/model/config.js';
import { GPT2 } from '../src/model/gpt2.js';
import { useHalfWeightsForDecode } from '../src/model/decode-weights.js';
import { generateIds } from '../src/model/generate.js';
import { viewWeights, weightLayout, type GPT2Weights } from '../src/model/weights.js';
import type { Backend } from '../src/tensor/backend.js';
import { hashUniform } from '../src/tensor/hash.js';
import { NativeBackend } from '../src/tensor/native.js';
import { getBackend, type BackendName } from '../src/tensor/select.js';
import { median, resultLine } from './common.js';

interface Opts {
  phase: 'main' | 'forward' | 'decode';
  backend: BackendName;
  runs: number;
  layers: number;
  peer: boolean;
  batch: number;
  seq: number;
  prompt: number;
  newTokens: number;
  /** decode with fp16 weights (useHalfWeightsForDecode) */
  half: boolean;
  /** which decode figure the RESULT lines report (default f16: the weights generation uses) */
  decodeWeights: 'f32' | 'f16';
}

const SHAPE = { embd: 768, heads: 12, vocab: 50257, positions: 1024 };

function parseArgs(argv: string[]): Opts {
  const o: Opts = { phase: 'main', backend: 'auto', runs: 5, layers: 12, peer: true, batch: 4, seq: 128, prompt: 16, newTokens: 128, half: false, decodeWeights: 'f16' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench:infer: ${a} needs a value`);
      return v;
    };
    if (a === '--phase') o.phase = next() as Opts['phase'];
    else if (a === '--backend') o.backend = next() as BackendName;
    else if (a === '--runs') o.runs = Number(next());
    else if (a === '--layers') o.layers = Number(next());
    else if (a === '--new') o.newTokens = Number(next());
    else if (a === '--no-peer') o.peer = false;
    else if (a === '--half') o.half = true;
    else if (a === '--decode-weights') o.decodeWeights = next() === 'f16' ? 'f16' : 'f32';
    else throw new Error(`bench:infer: unknown option ${a} (expected --backend, --runs, --layers, --new, --no-peer, --decode-weights f32|f16)`);
  }
  if (!(Number.isInteger(o.runs) && o.runs > 0)) throw new Error('bench:infer: --runs must be a positive integer');
  if (!(Number.isInteger(o.layers) && o.layers > 0)) throw new Error('bench:infer: --layers must be a positive integer');
  return o;
}

/** The config of GPT-2 124M (with `layers` blocks). */
function benchConfig(layers: number): GPT2Config {
  return parseGPT2Config({
    model_type: 'gpt2', n_layer: layers, n_head: SHAPE.heads, n_embd: SHAPE.embd, n_positions: SHAPE.positions, vocab_size: SHAPE.vocab,
  }, 'bench config');
}

/**
 * Weights from the shared hash, tensor i of the HF layout seeded i + 1 (bench/peer/infer.py makes the same):
 * matrices uniform with std 0.02, biases std 0.01, layernorm weights 1 + uniform(std 0.1).
 */
function hashWeights(cfg: GPT2Config, backend: Backend): GPT2Weights {
  const w = viewWeights(cfg);
  // 2 MB pages for the weights, asked for before they are touched (free then; see NativeBackend)
  if (backend instanceof NativeBackend) backend.adviseHugePages(w.buffer);
  const root3 = 2 * Math.sqrt(3);
  let off = 0;
  weightLayout(cfg).forEach((t, i) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const isLnW = /ln_[12f]\.weight$/.test(t.name);
    const [std, base] = t.shape.length === 2 ? [0.02, 0] : isLnW ? [0.1, 1] : [0.01, 0];
    const seed = i + 1;
    for (let j = 0; j < n; j++) w.buffer[off + j] = base + std * ((hashUniform(seed, j) - 0.5) * root3);
    off += n;
  });
  return w;
}

/** token ids from the shared hash (the peer draws the same) */
function hashIds(n: number, vocab: number, seed: number): Int32Array {
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = Math.floor(hashUniform(seed, i) * vocab);
  return ids;
}

interface PhaseResult {
  phase: string;
  backend?: string;
  engine?: unknown;
  weights?: string;
  tokens_per_s: number;
  seconds: number[];
  peak_rss_mb: number;
  checksum?: number[];
  argmax?: number[];
  tokens?: number[];
  torch?: string;
  threads?: number;
  error?: string;
}

/** One phase, in this process: prints `OURS {json}`. */
function runPhase(o: Opts): void {
  const cfg = benchConfig(o.layers);
  const backend = getBackend(o.backend);
  const weights = hashWeights(cfg, backend);
  const model = new GPT2(cfg, weights, backend);
  let half = false;
  if (o.half) {
    if (!(backend instanceof NativeBackend)) throw new Error('bench:infer: --half needs the native backend');
    half = useHalfWeightsForDecode(model);
    if (!half) throw new Error('bench:infer: fp16 weights are not supported on this CPU (no AVX2/F16C)');
  }
  const info = 'info' in backend && typeof backend.info === 'function' ? (backend.info as () => unknown)() : undefined;
  const seconds: number[] = [];
  const res: PhaseResult = {
    phase: o.phase, backend: backend.name, engine: info, weights: half ? 'f16' : 'f32', tokens_per_s: 0, seconds, peak_rss_mb: 0,
  };
  if (o.phase === 'forward') {
    const { batch: B, seq: T } = o;
    const V = cfg.vocabSize;
    const ids = hashIds(B * T, V, 7);
    model.forward({ ids, B, T }, { logits: 'all' }); // warm-up
    let logits: Float32Array | null = null;
    for (let r = 0; r < o.runs; r++) {
      const t0 = performance.now();
      logits = model.forward({ ids, B, T }, { logits: 'all' }).logits; // [B*T, V]
      seconds.push((performance.now() - t0) / 1000);
    }
    res.tokens_per_s = (B * T) / median(seconds);
    // rows (b, 0) and (b, T-1) of every sequence, for the agreement check with the peer
    const rows = Array.from({ length: B }, (_, b) => [b * T, b * T + T - 1]).flat();
    const lg = logits as Float32Array;
    res.checksum = rows.map((r) => lg.subarray(r * V, (r + 1) * V).reduce((s, x) => s + x, 0));
    res.argmax = rows.map((r) => {
      const row = lg.subarray(r * V, (r + 1) * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
      return best;
    });
  } else {
    const prompt = Array.from(hashIds(o.prompt, cfg.vocabSize, 11));
    generateIds(model, [prompt], { maxNewTokens: 4, stopAtEos: false }); // warm-up
    let tokens: number[] = [];
    for (let r = 0; r < o.runs; r++) {
      const t0 = performance.now();
      tokens = generateIds(model, [prompt], { maxNewTokens: o.newTokens, stopAtEos: false })[0].tokenIds;
      seconds.push((performance.now() - t0) / 1000);
    }
    res.tokens_per_s = o.newTokens / median(seconds);
    res.tokens = tokens;
  }
  res.peak_rss_mb = process.resourceUsage().maxRSS / 1024;
  console.log('OURS ' + JSON.stringify(res));
}

function lastJson(stdout: string, tag: string): PhaseResult | null {
  const line = stdout.split('\n').reverse().find((l) => l.startsWith(tag + ' '));
  return line ? (JSON.parse(line.slice(tag.length + 1)) as PhaseResult) : null;
}

const here = dirname(fileURLToPath(import.meta.url));
/** the repository root, from dist/bench/ or bench/ */
const root = existsSync(join(here, '..', 'package.json')) ? resolve(here, '..') : resolve(here, '..', '..');

function peerPython(): string {
  const env = process.env.LORAROUTE_PEER_PYTHON;
  if (env) return env;
  const venv = process.env.LORAROUTE_PEER_VENV ?? join(homedir(), '.cache', 'loraroute', 'peer');
  const py = join(venv, 'bin', 'python');
  return existsSync(py) ? py : 'python3';
}

function child(cmd: string, args: string[], tag: string, timeoutMs: number): { res: PhaseResult | null; why: string } {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) return { res: null, why: r.error.message };
  const res = lastJson(r.stdout ?? '', tag);
  if (!res) return { res: null, why: `exit ${r.status}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}` };
  if (res.error) return { res: null, why: res.error };
  return { res, why: '' };
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  if (o.phase !== 'main') {
    runPhase(o);
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const common = ['--runs', String(o.runs), '--layers', String(o.layers), '--new', String(o.newTokens)];
  const cpu = cpus();
  console.log(`bench:infer  GPT-2 124M shapes (${o.layers} layers, ${SHAPE.embd} wide, ${SHAPE.heads} heads, ${SHAPE.positions} positions, ${SHAPE.vocab} vocab), fp32, random weights`);
  console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? '?'}; node ${process.version}; median of ${o.runs} runs after a warm-up`);
  // other work on the machine shows up in every figure: say how busy it was
  console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  // ours then the peer, phase by phase, so that both sides of a ratio run close together in time
  const ours: Record<string, PhaseResult | null> = { forward: null, decode: null };
  const peer: Record<string, PhaseResult | null> = { forward: null, decode: null };
  const py = peerPython();
  const script = join(root, 'bench', 'peer', 'infer.py');
  let peerOk = o.peer;
  if (!o.peer) console.log('peer: skipped (--no-peer); peer=none');
  for (const phase of ['forward', 'decode']) {
    const mine = child(process.execPath, [self, '--phase', phase, '--backend', o.backend, ...common], 'OURS', 30 * 60_000);
    if (!mine.res) throw new Error(`bench:infer: our ${phase} phase failed: ${mine.why}`);
    const res = mine.res;
    ours[phase] = res;
    if (phase === 'forward') console.log(`ours: backend ${res.backend} ${res.engine ? JSON.stringify(res.engine) : ''}`);
    console.log(`  ours ${phase.padEnd(8)} ${res.tokens_per_s.toFixed(1).padStart(8)} tokens/s  runs ${res.seconds.map((x) => x.toFixed(3)).join(' ')} s  peak RSS ${res.peak_rss_mb.toFixed(0)} MB`);
    if (!peerOk) continue;
    const theirs = child(py, [script, '--phase', phase, ...common], 'PEER', 30 * 60_000);
    if (!theirs.res) {
      console.log(`peer: PyTorch is not available (${py}: ${theirs.why}); peer=none. Set it up with bench/peer/setup.sh`);
      peerOk = false;
      continue;
    }
    const p = theirs.res;
    peer[phase] = p;
    if (phase === 'forward') console.log(`peer: PyTorch ${p.torch} on CPU, ${p.threads} threads (${py})`);
    console.log(`  peer ${phase.padEnd(8)} ${p.tokens_per_s.toFixed(1).padStart(8)} tokens/s  runs ${p.seconds.map((x) => x.toFixed(3)).join(' ')} s  peak RSS ${p.peak_rss_mb.toFixed(0)} MB`);
  }

  // decode again with fp16 weights (half the memory traffic), where the native backend offers it
  let halfDecode: PhaseResult | null = null;
  if (ours.forward?.backend === 'native') {
    const h = child(process.execPath, [self, '--phase', 'decode', '--backend', o.backend, '--half', ...common], 'OURS', 30 * 60_000);
    if (h.res) {
      halfDecode = h.res;
      console.log(`  ours decode, fp16 weights ${h.res.tokens_per_s.toFixed(1).padStart(8)} tokens/s  runs ${h.res.seconds.map((x) => x.toFixed(3)).join(' ')} s  peak RSS ${h.res.peak_rss_mb.toFixed(0)} MB`);
    } else {
      console.log(`  ours decode, fp16 weights: not available (${h.why})`);
    }
  }
  const useHalf = o.decodeWeights === 'f16' && halfDecode !== null;
  const chosen = useHalf ? halfDecode : ours.decode;
  console.log(`the decode RESULT lines below are ours with ${useHalf ? 'f16 weights (useHalfWeightsForDecode; the peer is fp32)' : 'f32 weights'}`);
  console.log(`load average at end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  // same weights, same ids: do the engines compute the same thing?
  const of = ours.forward, pf = peer.forward, od = chosen, pd = peer.decode;
  if (of?.checksum && pf?.checksum) {
    const worst = Math.max(...of.checksum.map((c, i) => Math.abs(c - (pf.checksum as number[])[i]) / Math.max(1, Math.abs((pf.checksum as number[])[i]))));
    const same = of.argmax?.every((a, i) => a === pf.argmax?.[i]) ?? false;
    console.log(`agreement: forward logits row sums within ${worst.toExponential(1)} (relative), argmax ${same ? 'identical' : 'differs'}`);
  }
  const sameTokens = (a: number[], b: number[]): string => {
    const n = Math.min(a.length, b.length);
    let first = n;
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) { first = i; break; }
    return first === n ? `identical (${n}/${n})` : `identical for the first ${first} of ${n}`;
  };
  const f32Decode = ours.decode;
  if (f32Decode?.tokens && pd?.tokens) console.log(`agreement: greedy tokens, fp32 weights: ${sameTokens(f32Decode.tokens, pd.tokens)}`);
  if (halfDecode?.tokens && pd?.tokens) console.log(`agreement: greedy tokens, fp16 weights: ${sameTokens(halfDecode.tokens, pd.tokens)}`);

  console.log(resultLine('forward_tokens_per_s', of?.tokens_per_s ?? null, pf?.tokens_per_s ?? null));
  console.log(resultLine('decode_tokens_per_s', od?.tokens_per_s ?? null, pd?.tokens_per_s ?? null));
  console.log(resultLine('decode_peak_rss_mb', od?.peak_rss_mb ?? null, pd?.peak_rss_mb ?? null, 0));
}

main();
