/**
 * `npm run bench:infer`: GPT-2 inference on the CPU, ours next to PyTorch in the same run.
 *
 *   forward: tokens/s of one full forward pass (logits for every position) at batch 4 x 128 (--shape tiny:
 *            the bundled model's shapes, batch 8 x 128)
 *   decode:  tokens/s of greedy generation at batch 1 (16-token prompt, 128 new tokens, KV cache, EOS
 *            ignored; time of the whole generate call, prefill included)
 *   sampled: the same with sampling: temperature 1, top-k 50, top-p 0.95 (the peer: transformers'
 *            GPT2LMHeadModel.generate(do_sample=True, ...) over the same weights)
 *   batched: greedy decode of 4 rows at once (one step computes a token for every row): tokens/s of all rows
 *   memory:  peak RSS of the decode process; read bandwidth of the machine (a STREAM-like probe, all
 *            threads) and each decode as a share of it (the weight bytes a decode step reads x tokens/s)
 *
 * Our decodes run with fp32 weights, and with an fp16 copy of the weights widened on the fly
 * (useHalfWeightsForDecode, half the memory traffic). The RESULT lines report the fp16 runs unless
 * --decode-weights f32; both are printed, and so is whether each gives the peer's greedy tokens.
 *
 * Each figure is the median of 5 runs after one warm-up. Each phase runs in its own process (ours and the
 * peer alike), one at a time, so that a peak RSS belongs to that phase alone. Both sides build the same
 * random weights from the shared counter hash (src/tensor/hash.ts) and the same token ids, so the bench
 * also reports whether the two engines agree (greedy tokens, logits).
 *
 * The peer is bench/peer/infer.py (PyTorch, fp32, torch.set_num_threads(2)); its Python is the first of
 * $LORAROUTE_PEER_PYTHON, the bench/peer/setup.sh venv, /opt/ref-venv, python3 that imports torch (and
 * transformers for the sampled phase). Without one the bench says so and prints peer=none.
 *
 * Options: --shape gpt2|tiny, --with-load (one busy process runs while both sides are measured),
 * --backend auto|native|reference, --runs N, --layers N, --new N, --no-peer, --decode-weights f16|f32.
 * Ends in `RESULT <name> ours=<n> peer=<n|none> ratio=<ours/peer|none>` lines.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { cpus } from 'node:os';
import type { GPT2Config } from '../src/model/config.js';
import { GPT2 } from '../src/model/gpt2.js';
import { useHalfWeightsForDecode } from '../src/model/decode-weights.js';
import { generateIds } from '../src/model/generate.js';
import { viewWeights, weightLayout, type GPT2Weights } from '../src/model/weights.js';
import type { Backend } from '../src/tensor/backend.js';
import { hashUniform } from '../src/tensor/hash.js';
import { fillHashWeights, shapeConfig } from './shaped-model.js';
import { loadNativeBackend, NativeBackend } from '../src/tensor/native.js';
import { getBackend, type BackendName } from '../src/tensor/select.js';
import {
  findPeerPython, fmt, loadAverage, median, parseShape, peakRssMb, printEngineHeader, repoRoot, resultLine, runTagged, shapeArgs,
  SHAPES, startBusyProcess, type ShapeName,
} from './common.js';

type Phase = 'forward' | 'decode' | 'sampled' | 'batched';

interface Opts {
  phase: 'main' | Phase;
  backend: BackendName;
  runs: number;
  layers: number;
  peer: boolean;
  shape: ShapeName;
  withLoad: boolean;
  prompt: number;
  newTokens: number;
  /** rows of the batched decode */
  rows: number;
  /** decode with fp16 weights (useHalfWeightsForDecode) */
  half: boolean;
  /** which decode figures the RESULT lines report (default f16: the weights generation uses) */
  decodeWeights: 'f32' | 'f16';
}

/** the sampling of the sampled phase, on both sides */
const SAMPLING = { temperature: 1, topK: 50, topP: 0.95, seed: 1 };

function parseArgs(argv: string[]): Opts {
  const o: Opts = {
    phase: 'main', backend: 'auto', runs: 5, layers: 0, peer: true, shape: 'gpt2', withLoad: false, prompt: 16, newTokens: 128, rows: 4,
    half: false, decodeWeights: 'f16',
  };
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
    else if (a === '--shape') o.shape = parseShape(next(), 'bench:infer');
    else if (a === '--with-load') o.withLoad = true;
    else if (a === '--no-peer') o.peer = false;
    else if (a === '--half') o.half = true;
    else if (a === '--decode-weights') o.decodeWeights = next() === 'f32' ? 'f32' : 'f16';
    else throw new Error(`bench:infer: unknown option ${a} (expected --shape, --with-load, --backend, --runs, --layers, --new, --no-peer, --decode-weights f32|f16)`);
  }
  if (o.layers === 0) o.layers = SHAPES[o.shape].layers;
  if (!(Number.isInteger(o.runs) && o.runs > 0)) throw new Error('bench:infer: --runs must be a positive integer');
  if (!(Number.isInteger(o.layers) && o.layers > 0)) throw new Error('bench:infer: --layers must be a positive integer');
  if (!(Number.isInteger(o.newTokens) && o.newTokens > 0)) throw new Error('bench:infer: --new must be a positive integer');
  return o;
}

/** forward batch: 4 x 128 at GPT-2 shapes (the README's figure), the training batch at the tiny shapes */
function forwardBatch(o: Opts): { B: number; T: number } {
  return o.shape === 'gpt2' ? { B: 4, T: 128 } : { B: SHAPES[o.shape].batch, T: SHAPES[o.shape].seq };
}

/** The weights from the shared hash (fillHashWeights), on 2 MB pages asked for before they are touched. */
function hashWeights(cfg: GPT2Config, backend: Backend): GPT2Weights {
  const w = viewWeights(cfg);
  if (backend instanceof NativeBackend) backend.adviseHugePages(w.buffer); // free before the first touch (see NativeBackend)
  fillHashWeights(cfg, w.buffer);
  return w;
}

/** Weight elements a decode step reads: every tensor but the position table (one row of it). */
function decodeWeightElements(cfg: GPT2Config): number {
  return weightLayout(cfg).filter((t) => t.name !== 'wpe.weight').reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
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
  weights?: string;
  tokens_per_s: number;
  seconds: number[];
  peak_rss_mb: number;
  checksum?: number[];
  argmax?: number[];
  tokens?: number[];
  torch?: string;
  transformers?: string;
  threads?: number;
  error?: string;
}

/** One phase, in this process: prints `OURS {json}`. */
function runPhase(o: Opts): void {
  const cfg = shapeConfig(SHAPES[o.shape], o.layers);
  const backend = getBackend(o.backend);
  const weights = hashWeights(cfg, backend);
  const model = new GPT2(cfg, weights, backend);
  let half = false;
  if (o.half) {
    if (!(backend instanceof NativeBackend)) throw new Error('bench:infer: --half needs the native backend');
    half = useHalfWeightsForDecode(model);
    if (!half) throw new Error('bench:infer: fp16 weights are not supported on this CPU (no AVX2/F16C)');
  }
  const seconds: number[] = [];
  const res: PhaseResult = { phase: o.phase, backend: backend.name, weights: half ? 'f16' : 'f32', tokens_per_s: 0, seconds, peak_rss_mb: 0 };
  const V = cfg.vocabSize;
  if (o.phase === 'forward') {
    const { B, T } = forwardBatch(o);
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
    const rows = o.phase === 'batched' ? o.rows : 1;
    // batched: each row its own prompt (seeds 11, 12, ...); the others: the prompt of seed 11
    const prompts = Array.from({ length: rows }, (_, r) => Array.from(hashIds(o.prompt, V, 11 + r)));
    const sampling = o.phase === 'sampled' ? SAMPLING : {};
    generateIds(model, prompts, { maxNewTokens: 4, stopAtEos: false, ...sampling }); // warm-up
    let tokens: number[] = [];
    for (let r = 0; r < o.runs; r++) {
      const t0 = performance.now();
      tokens = generateIds(model, prompts, { maxNewTokens: o.newTokens, stopAtEos: false, ...sampling })[0].tokenIds;
      seconds.push((performance.now() - t0) / 1000);
    }
    res.tokens_per_s = (rows * o.newTokens) / median(seconds);
    res.tokens = tokens;
  }
  res.peak_rss_mb = peakRssMb();
  console.log('OURS ' + JSON.stringify(res));
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  if (o.phase !== 'main') {
    runPhase(o);
    return;
  }
  const root = repoRoot(import.meta.url);
  const self = fileURLToPath(import.meta.url);
  const shape = SHAPES[o.shape];
  const cfg = shapeConfig(shape, o.layers);
  const common = ['--runs', String(o.runs), '--layers', String(o.layers), '--new', String(o.newTokens)];
  const fb = forwardBatch(o);
  const peerCommon = [...shapeArgs(shape, o.layers), '--runs', String(o.runs), '--new', String(o.newTokens), '--batch', String(fb.B), '--seq', String(fb.T), '--rows', String(o.rows)];
  const cpu = cpus();
  console.log(`bench:infer  ${shape.label} (${o.layers} layers, ${shape.embd} wide, ${shape.heads} heads, ${shape.positions} positions, ${shape.vocab} vocab), fp32, random weights`);
  console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? '?'}; node ${process.version}; median of ${o.runs} runs after a warm-up`);
  printEngineHeader();
  console.log(`load average at start: ${loadAverage()}`);

  // the machine's read bandwidth (before any load is started): the ceiling of a decode step
  const native = o.backend === 'reference' ? null : loadNativeBackend();
  const bandwidth = native ? native.readBandwidth({ mb: 512, passes: 3 }) : null;
  const bandwidth1 = native ? native.readBandwidth({ mb: 512, passes: 3, threads: 'one' }) : null;
  if (bandwidth) console.log(`read bandwidth (STREAM-like sum over 512 MiB, best of 3): ${fmt(bandwidth)} GB/s on ${native?.info().threads} threads, ${fmt(bandwidth1)} GB/s on one`);

  const load = o.withLoad ? startBusyProcess() : null;
  if (load) console.log(`--with-load: one busy process (pid ${load.pid}) runs while both sides are measured`);

  const found = o.peer ? findPeerPython(['torch']) : { python: null, why: '--no-peer' };
  if (!found.python) console.log(`peer: not measured (${found.why}); peer=none. Set it up with bench/peer/setup.sh`);
  const script = join(root, 'bench', 'peer', 'infer.py');
  const timeoutMs = 30 * 60_000;
  const ours: Partial<Record<string, PhaseResult>> = {};
  const peer: Partial<Record<string, PhaseResult>> = {};
  const isNative = (): boolean => ours.forward?.backend === 'native';
  const runOurs = (phase: Phase, half: boolean): PhaseResult | null => {
    const r = runTagged<PhaseResult>(process.execPath, [self, '--phase', phase, '--backend', o.backend, '--shape', o.shape, ...common, ...(half ? ['--half'] : [])], 'OURS', { cwd: root, timeoutMs });
    if (!r.res) {
      if (phase === 'forward') throw new Error(`bench:infer: our forward phase failed: ${r.why}`);
      console.log(`  ours ${phase}${half ? ', fp16 weights' : ''}: failed (${r.why})`);
    }
    return r.res;
  };
  const show = (who: string, label: string, r: PhaseResult) =>
    console.log(`  ${who} ${label.padEnd(24)} ${r.tokens_per_s.toFixed(1).padStart(8)} tokens/s  runs ${r.seconds.map((x) => x.toFixed(3)).join(' ')} s  peak RSS ${r.peak_rss_mb.toFixed(0)} MB`);
  // ours then the peer, phase by phase, so that both sides of a ratio run close together in time
  for (const phase of ['forward', 'decode', 'sampled', 'batched'] as Phase[]) {
    if (phase === 'forward' || !isNative() || o.decodeWeights === 'f32' || phase === 'decode') {
      const r = runOurs(phase, false);
      if (r) { ours[phase] = r; show('ours', `${phase}${phase === 'forward' ? '' : ', fp32 weights'}`, r); }
    }
    if (phase !== 'forward' && isNative()) {
      const r = runOurs(phase, true);
      if (r) { ours[`${phase}-f16`] = r; show('ours', `${phase}, fp16 weights`, r); }
    }
    if (!found.python) continue;
    const theirs = runTagged<PhaseResult>(found.python, [script, '--phase', phase, ...peerCommon], 'PEER', { cwd: root, timeoutMs });
    if (!theirs.res) { console.log(`  peer ${phase}: not measured (${theirs.why})`); continue; }
    peer[phase] = theirs.res;
    if (phase === 'forward') console.log(`peer: PyTorch ${theirs.res.torch} on CPU, ${theirs.res.threads} threads (${found.python})`);
    if (phase === 'sampled') console.log(`peer: sampled decode is transformers ${theirs.res.transformers} GPT2LMHeadModel.generate(do_sample=True, top_k=50, top_p=0.95, temperature=1.0)`);
    show('peer', phase, theirs.res);
  }
  console.log(`load average at end: ${loadAverage()}`);
  if (load) { load.stop(); console.log(`--with-load: busy process ${load.pid} stopped`); }

  const pick = (phase: Phase): PhaseResult | null => (o.decodeWeights === 'f16' ? ours[`${phase}-f16`] : undefined) ?? ours[phase] ?? null;
  const useHalf = o.decodeWeights === 'f16' && ours['decode-f16'] !== undefined;
  console.log(`the decode RESULT lines below are ours with ${useHalf ? 'fp16 weights (useHalfWeightsForDecode; the peer is fp32)' : 'fp32 weights'}`);

  // same weights, same ids: do the engines compute the same thing?
  const of = ours.forward, pf = peer.forward;
  if (of?.checksum && pf?.checksum) {
    const pc = pf.checksum;
    const worst = Math.max(...of.checksum.map((c, i) => Math.abs(c - pc[i]) / Math.max(1, Math.abs(pc[i]))));
    const same = of.argmax?.every((a, i) => a === pf.argmax?.[i]) ?? false;
    console.log(`agreement: forward logits row sums within ${worst.toExponential(1)} (relative), argmax ${same ? 'identical' : 'differs'}`);
  }
  const sameTokens = (a: number[], b: number[]): string => {
    const n = Math.min(a.length, b.length);
    let first = n;
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) { first = i; break; }
    return first === n ? `identical (${n}/${n})` : `identical for the first ${first} of ${n}`;
  };
  const pd = peer.decode;
  if (ours.decode?.tokens && pd?.tokens) console.log(`agreement: greedy tokens, fp32 weights: ${sameTokens(ours.decode.tokens, pd.tokens)}`);
  if (ours['decode-f16']?.tokens && pd?.tokens) console.log(`agreement: greedy tokens, fp16 weights: ${sameTokens(ours['decode-f16'].tokens, pd.tokens)}`);

  // decode against the memory ceiling: bytes of weights read per step x steps per second
  if (bandwidth) {
    const elems = decodeWeightElements(cfg);
    for (const [key, bytes] of [['decode', 4], ['decode-f16', 2]] as const) {
      const r = ours[key];
      if (r) console.log(`memory: greedy decode, ${bytes === 4 ? 'fp32' : 'fp16'} weights: ${fmt((r.tokens_per_s * elems * bytes) / 1e9)} GB/s of weights = ${((100 * r.tokens_per_s * elems * bytes) / 1e9 / bandwidth).toFixed(0)}% of the read bandwidth (${fmt(bandwidth)} GB/s)`);
    }
    if (pd) console.log(`memory: peer greedy decode (fp32): ${((100 * pd.tokens_per_s * elems * 4) / 1e9 / bandwidth).toFixed(0)}% of the read bandwidth`);
  }
  const dec = pick('decode'), smp = pick('sampled');
  if (dec && smp) console.log(`sampled decode / greedy decode (ours, same weights): ${(smp.tokens_per_s / dec.tokens_per_s).toFixed(3)}`);

  console.log(resultLine('forward_tokens_per_s', of?.tokens_per_s ?? null, pf?.tokens_per_s ?? null));
  console.log(resultLine('decode_tokens_per_s', dec?.tokens_per_s ?? null, pd?.tokens_per_s ?? null));
  console.log(resultLine('decode_fp32_tokens_per_s', ours.decode?.tokens_per_s ?? null, pd?.tokens_per_s ?? null));
  console.log(resultLine('sampled_decode_tokens_per_s', smp?.tokens_per_s ?? null, peer.sampled?.tokens_per_s ?? null));
  console.log(resultLine('batched_decode_tokens_per_s', pick('batched')?.tokens_per_s ?? null, peer.batched?.tokens_per_s ?? null));
  console.log(resultLine('decode_peak_rss_mb', dec?.peak_rss_mb ?? null, pd?.peak_rss_mb ?? null, 0));
}

main();
