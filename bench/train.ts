/**
 * `npm run bench:train`: one LoRA training step of GPT-2 124M on the CPU, ours next to PyTorch + PEFT in
 * the same run.
 *
 *   model:  GPT-2 124M shapes (12 layers, 768 wide, 12 heads, 1024 positions, 50,257 vocab), fp32, random
 *           weights made here (`randomWeights`; the peer uses transformers' own random init)
 *   LoRA:   r 16, alpha 32, lora_dropout 0.05 on c_attn + c_proj (PEFT suffix match: attn.c_attn,
 *           attn.c_proj, mlp.c_proj); GPT-2's 0.1 dropouts on (training mode), on both sides
 *   batch:  4 x 128 random token ids, every token labelled (HF shift: 127 targets per row)
 *   step:   forward + backward + AdamW (collate -> mixture.useOnly -> model.forward({train, hook, targets,
 *           seed}) -> model.backward() -> optimizer.update, as src/train/adapter-task.ts does)
 *   figure: tokens/s = 4 * 128 / median of 5 step times after one untimed warm-up step; peak RSS
 *
 * Each side runs in its own process, one after the other, so that a peak RSS is that side's alone and the
 * two do not compete for the cores. The peer is bench/peer/train.py; its Python is the first of
 * $LORAROUTE_PEER_PYTHON, the bench/peer/setup.sh venv, /opt/ref-venv, python3 that imports torch,
 * transformers and peft; without one the bench says why and prints peer=none.
 *
 * Options: --shape gpt2|tiny (tiny: the bundled model's shapes, 6 layers, 128 wide, 4 heads, 512 positions,
 * batch 8 x 128), --with-load (one busy process started here runs while both sides are measured, then is
 * stopped), --backend auto|native|reference, --runs N, --layers N (a smaller model for a quick look),
 * --no-peer, --profile (one more child of ours that times every backend op of a few steps by phase: not
 * part of the measured figures). The header prints the engine (CPU, ISA, kernels, BLAS core, threads, as
 * `loraroute doctor`); the last two lines are `RESULT <name> ours=<n> peer=<n|none> ratio=<ours/peer|none>`,
 * exactly one `RESULT train_tokens_per_s` per run.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseGPT2Config, type GPT2Config } from '../src/model/config.js';
import { GPT2 } from '../src/model/gpt2.js';
import { randomWeights } from '../src/model/weights.js';
import { LoraAdapter } from '../src/lora/adapter.js';
import { defaultLoraConfig } from '../src/lora/config.js';
import { LoraMixture } from '../src/lora/mixture.js';
import { AdamW } from '../src/train/optimizer.js';
import { collate } from '../src/train/batches.js';
import type { Example } from '../src/train/examples.js';
import type { Backend } from '../src/tensor/backend.js';
import { getBackend, type BackendName } from '../src/tensor/select.js';
import {
  findPeerPython, loadAverage, median, parseShape, peakRssMb, printEngineHeader, repoRoot, resultLine, runTagged, shapeArgs, SHAPES,
  startBusyProcess, type BenchShape, type ShapeName,
} from './common.js';
import { PhaseProfiler, type ProfileRow } from './train-profile.js';

interface Opts {
  phase: 'main' | 'ours' | 'profile';
  backend: BackendName;
  runs: number;
  layers: number;
  peer: boolean;
  profile: boolean;
  shape: ShapeName;
  withLoad: boolean;
}

const LORA = { r: 16, alpha: 32, dropout: 0.05, targets: ['c_attn', 'c_proj'] };
const ADAMW = { lr: 2e-4, weightDecay: 0.01 };

function parseArgs(argv: string[]): Opts {
  const o: Opts = { phase: 'main', backend: 'auto', runs: 5, layers: 0, peer: true, profile: false, shape: 'gpt2', withLoad: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench:train: ${a} needs a value`);
      return v;
    };
    if (a === '--phase') o.phase = next() as Opts['phase'];
    else if (a === '--backend') o.backend = next() as BackendName;
    else if (a === '--runs') o.runs = Number(next());
    else if (a === '--layers') o.layers = Number(next());
    else if (a === '--no-peer') o.peer = false;
    else if (a === '--profile') o.profile = true;
    else if (a === '--shape') o.shape = parseShape(next(), 'bench:train');
    else if (a === '--with-load') o.withLoad = true;
    else throw new Error(`bench:train: unknown option ${a} (expected --shape, --with-load, --backend, --runs, --layers, --no-peer, --profile)`);
  }
  if (!(Number.isInteger(o.runs) && o.runs > 0)) throw new Error('bench:train: --runs must be a positive integer');
  if (o.layers === 0) o.layers = SHAPES[o.shape].layers;
  if (!(Number.isInteger(o.layers) && o.layers > 0)) throw new Error('bench:train: --layers must be a positive integer');
  return o;
}

/** The shape's config (with `layers` blocks); dropouts at GPT-2's defaults (0.1). */
function benchConfig(shape: BenchShape, layers: number): GPT2Config {
  return parseGPT2Config({
    model_type: 'gpt2', n_layer: layers, n_head: shape.heads, n_embd: shape.embd, n_positions: shape.positions, vocab_size: shape.vocab,
  }, 'bench config');
}

interface OursResult {
  backend: string;
  engine?: unknown;
  tokens_per_s: number;
  seconds: number[];
  losses: number[];
  peak_rss_mb: number;
  trainable: number;
  lora_modules: string[];
  profile?: { steps: number; stepSeconds: number; rows: ProfileRow[] };
  error?: string;
}

interface PeerResult {
  tokens_per_s: number;
  seconds: number[];
  losses: number[];
  peak_rss_mb: number;
  trainable: number;
  lora_modules: string[];
  torch: string;
  transformers: string;
  peft: string;
  threads: number;
  attn_implementation: string | null;
  error?: string;
}

/** Random token ids as training examples, every token labelled (the model shifts them into targets). */
function randomExamples(B: number, T: number, vocab: number, seed: number): Example[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s;
  };
  return Array.from({ length: B }, (_, index) => {
    const ids = Array.from({ length: T }, () => next() % vocab);
    return { index, ids, labels: [...ids], promptLength: 0 };
  });
}

/** Our side, in this process: prints `OURS {json}` (with a per-phase profile in the 'profile' phase). */
function runOurs(o: Opts): void {
  const SHAPE = SHAPES[o.shape];
  const cfg = benchConfig(SHAPE, o.layers);
  const plain = getBackend(o.backend);
  const profiler = o.phase === 'profile' ? new PhaseProfiler(cfg.vocabSize) : null;
  const backend: Backend = profiler ? profiler.wrapBackend(plain) : plain;
  const model = new GPT2(cfg, randomWeights(cfg, 1), backend);
  const adapter = new LoraAdapter(defaultLoraConfig({ r: LORA.r, loraAlpha: LORA.alpha, loraDropout: LORA.dropout, targetModules: LORA.targets }), cfg);
  adapter.initialize(2);
  const mixture = new LoraMixture([adapter], backend);
  const hook = profiler ? profiler.wrapHook(mixture) : mixture;
  const optimizer = new AdamW([{ name: 'lora', params: adapter.params, grads: adapter.grads }], backend, { weightDecay: ADAMW.weightDecay });
  const examples = randomExamples(SHAPE.batch, SHAPE.seq, cfg.vocabSize, 7);

  let seed = 100;
  const step = (): number => {
    const eb = collate(examples, 0);
    mixture.trainable = [true];
    mixture.trackGateGrads = false;
    mixture.useOnly(0, eb.batch.B);
    profiler?.enter('forward');
    const res = model.forward(eb.batch, { hook, train: true, seed: seed++, targets: eb.targets });
    profiler?.enter('backward');
    model.backward();
    profiler?.enter('adamw');
    optimizer.update(ADAMW.lr);
    profiler?.enter('other');
    return res.loss;
  };

  step(); // warm-up: allocates every scratch buffer
  profiler?.reset();
  const seconds: number[] = [];
  const losses: number[] = [];
  for (let r = 0; r < o.runs; r++) {
    const t0 = performance.now();
    losses.push(step());
    seconds.push((performance.now() - t0) / 1000);
  }
  const info = 'info' in plain && typeof plain.info === 'function' ? (plain.info as () => unknown)() : undefined;
  const res: OursResult = {
    backend: plain.name,
    engine: info,
    tokens_per_s: (SHAPE.batch * SHAPE.seq) / median(seconds),
    seconds,
    losses,
    peak_rss_mb: peakRssMb(),
    trainable: adapter.parameterCount,
    lora_modules: [...new Set(adapter.sites.map((s) => s.module))],
  };
  if (profiler) res.profile = { steps: o.runs, stepSeconds: seconds.reduce((a, b) => a + b, 0), rows: profiler.rows() };
  console.log('OURS ' + JSON.stringify(res));
}

function printProfile(p: NonNullable<OursResult['profile']>): void {
  const perStep = (s: number) => (1000 * s) / p.steps;
  const total = perStep(p.stepSeconds);
  console.log(`profile (ours, ${p.steps} steps, per-step ms; matmul GFLOP/s where it applies; a separate run, not the measured one):`);
  console.log(`  ${'phase / op'.padEnd(44)} ${'ms'.padStart(8)} ${'share'.padStart(6)} ${'calls'.padStart(6)} ${'GFLOP/s'.padStart(8)}`);
  let accounted = 0;
  for (const r of p.rows) {
    const ms = perStep(r.seconds);
    accounted += ms;
    const gf = r.flops > 0 ? (r.flops / r.seconds / 1e9).toFixed(1) : '';
    console.log(`  ${r.label.padEnd(44)} ${ms.toFixed(1).padStart(8)} ${((100 * ms) / total).toFixed(1).padStart(5)}% ${String(Math.round(r.calls / p.steps)).padStart(6)} ${gf.padStart(8)}`);
  }
  const rest = total - accounted;
  console.log(`  ${'outside backend ops (JS, copies, hook glue)'.padEnd(44)} ${rest.toFixed(1).padStart(8)} ${((100 * rest) / total).toFixed(1).padStart(5)}%`);
  console.log(`  ${'step total'.padEnd(44)} ${total.toFixed(1).padStart(8)}`);
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  if (o.phase !== 'main') {
    runOurs(o);
    return;
  }
  const root = repoRoot(import.meta.url);
  const self = fileURLToPath(import.meta.url);
  const SHAPE = SHAPES[o.shape];
  const common = ['--runs', String(o.runs), '--layers', String(o.layers)];
  const ourArgs = [...common, '--shape', o.shape];
  const peerArgs = [...shapeArgs(SHAPE, o.layers), '--runs', String(o.runs), '--batch', String(SHAPE.batch), '--seq', String(SHAPE.seq)];
  const cpu = cpus();
  const tokens = SHAPE.batch * SHAPE.seq;
  console.log(
    `bench:train  ${SHAPE.label} (${o.layers} layers, ${SHAPE.embd} wide, ${SHAPE.heads} heads, ${SHAPE.positions} positions, ` +
      `${SHAPE.vocab} vocab), fp32, random weights; LoRA r=${LORA.r} alpha=${LORA.alpha} dropout=${LORA.dropout} on ${LORA.targets.join(' + ')}; ` +
      `batch ${SHAPE.batch} x ${SHAPE.seq}, all tokens labelled; dropouts on; step = forward + backward + AdamW`,
  );
  console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? '?'}; node ${process.version}; median of ${o.runs} steps after 1 warm-up step`);
  printEngineHeader();
  console.log(`load average at start: ${loadAverage()}`);
  const load = o.withLoad ? startBusyProcess() : null;
  if (load) console.log(`--with-load: one busy process (pid ${load.pid}) runs while both sides are measured`);

  const timeoutMs = 30 * 60_000;
  const mine = runTagged<OursResult>(process.execPath, [self, '--phase', 'ours', '--backend', o.backend, ...ourArgs], 'OURS', { cwd: root, timeoutMs });
  if (!mine.res) throw new Error(`bench:train: our training step failed: ${mine.why}`);
  const ours = mine.res;
  console.log(`ours: backend ${ours.backend}${ours.engine ? ' ' + JSON.stringify(ours.engine) : ''}; ${ours.trainable} trainable (${ours.lora_modules.join(', ')})`);
  console.log(`  ours  ${ours.tokens_per_s.toFixed(1).padStart(8)} tokens/s  steps ${ours.seconds.map((x) => x.toFixed(3)).join(' ')} s  loss ${ours.losses[0].toFixed(3)}  peak RSS ${ours.peak_rss_mb.toFixed(0)} MB`);
  console.log(`load average after ours: ${loadAverage()}`);

  let peer: PeerResult | null = null;
  if (!o.peer) {
    console.log('peer: not measured (--no-peer); peer=none');
  } else {
    const found = findPeerPython(['torch', 'transformers', 'peft']);
    if (!found.python) {
      console.log(`peer: not measured: no Python imports torch, transformers and peft (${found.why}); peer=none. Set LORAROUTE_PEER_PYTHON`);
    } else {
      const theirs = runTagged<PeerResult>(found.python, [join(root, 'bench', 'peer', 'train.py'), ...peerArgs], 'PEER', { cwd: root, timeoutMs });
      if (!theirs.res) {
        console.log(`peer: not measured: ${found.python} bench/peer/train.py failed (${theirs.why}); peer=none`);
      } else {
        peer = theirs.res;
        console.log(
          `peer: PyTorch ${peer.torch} + transformers ${peer.transformers} + PEFT ${peer.peft} on CPU, ${peer.threads} threads, ` +
            `attention ${peer.attn_implementation ?? '?'}; ${peer.trainable} trainable (${peer.lora_modules.join(', ')}) (${found.python})`,
        );
        console.log(`  peer  ${peer.tokens_per_s.toFixed(1).padStart(8)} tokens/s  steps ${peer.seconds.map((x) => x.toFixed(3)).join(' ')} s  loss ${peer.losses[0].toFixed(3)}  peak RSS ${peer.peak_rss_mb.toFixed(0)} MB`);
      }
    }
  }
  console.log(`load average at end: ${loadAverage()}`);
  if (load) {
    load.stop();
    console.log(`--with-load: busy process ${load.pid} stopped`);
  }

  if (o.profile) {
    const prof = runTagged<OursResult>(process.execPath, [self, '--phase', 'profile', '--backend', o.backend, ...ourArgs], 'OURS', { cwd: root, timeoutMs });
    if (prof.res?.profile) printProfile(prof.res.profile);
    else console.log(`profile: failed (${prof.why})`);
  }

  const ratio = (a: number, b: number | undefined) => (b ? (a / b).toFixed(3) : 'none');
  console.log('');
  console.log(`  ${''.padEnd(22)} ${'ours'.padStart(10)} ${'peer'.padStart(10)} ${'ours/peer'.padStart(10)}`);
  console.log(`  ${'train tokens/s'.padEnd(22)} ${ours.tokens_per_s.toFixed(1).padStart(10)} ${(peer ? peer.tokens_per_s.toFixed(1) : 'none').padStart(10)} ${ratio(ours.tokens_per_s, peer?.tokens_per_s).padStart(10)}`);
  console.log(`  ${'step time (median) s'.padEnd(22)} ${(tokens / ours.tokens_per_s).toFixed(3).padStart(10)} ${(peer ? (tokens / peer.tokens_per_s).toFixed(3) : 'none').padStart(10)}`);
  console.log(`  ${'peak RSS MB'.padEnd(22)} ${ours.peak_rss_mb.toFixed(0).padStart(10)} ${(peer ? peer.peak_rss_mb.toFixed(0) : 'none').padStart(10)} ${ratio(ours.peak_rss_mb, peer?.peak_rss_mb).padStart(10)}`);
  console.log(`  ${'trainable params'.padEnd(22)} ${String(ours.trainable).padStart(10)} ${(peer ? String(peer.trainable) : 'none').padStart(10)}`);
  console.log('');
  console.log(resultLine('train_tokens_per_s', ours.tokens_per_s, peer?.tokens_per_s ?? null));
  console.log(resultLine('train_peak_rss_mb', ours.peak_rss_mb, peer?.peak_rss_mb ?? null, 0));
}

main();
