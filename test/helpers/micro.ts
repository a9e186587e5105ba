/**
 * A micro GPT-2 (2 layers, 2 heads, 16 wide, 64 positions, 97 tokens) with seeded random weights, and small
 * helpers around it: logic tests of the model, LoRA and training run on it in milliseconds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGPT2Config, type GPT2Config } from '../../src/model/config.js';
import { GPT2 } from '../../src/model/gpt2.js';
import { randomWeights, weightLayout, type GPT2Weights } from '../../src/model/weights.js';
import type { TensorToWrite } from '../../src/io/safetensors.js';
import { makeRng } from '../../src/model/sampling.js';
import { LoraAdapter } from '../../src/lora/adapter.js';
import { defaultLoraConfig, type LoraConfig } from '../../src/lora/config.js';
import type { Backend } from '../../src/tensor/backend.js';
import { ReferenceBackend } from '../../src/tensor/reference.js';
import type { Progress } from '../../src/train/progress.js';
import type { LoopOptions } from '../../src/train/loop.js';
import { MetricsLog } from '../../src/train/metrics.js';

export const MICRO_RAW = { n_layer: 2, n_head: 2, n_embd: 16, n_positions: 64, vocab_size: 97, eos_token_id: 96 } as const;

/** The micro config; `over` takes HF config.json keys (e.g. `{ embd_pdrop: 0 }`). */
export function microConfig(over: Record<string, unknown> = {}): GPT2Config {
  return parseGPT2Config({ ...MICRO_RAW, ...over });
}

/** All of GPT-2's dropouts at 0 (for training-loop equalities with the dropout path out of the way). */
export const NO_DROPOUT = { embd_pdrop: 0, attn_pdrop: 0, resid_pdrop: 0 } as const;

export interface MicroOptions {
  backend?: Backend;
  seed?: number;
  /** HF config keys to override. */
  config?: Record<string, unknown>;
  /** Standard deviation of the random weights (default GPT-2's 0.02); larger gives a less uniform model. */
  std?: number;
}

/** A micro GPT-2 on the reference backend (or the one given). */
export function microModel(o: MicroOptions = {}): GPT2 {
  const cfg = microConfig(o.config);
  const w = randomWeights(cfg, o.seed ?? 1);
  if (o.std !== undefined && o.std !== 0.02) {
    // rescale the normal(0, 0.02) entries (layer norms stay 1/0, biases 0)
    const f = o.std / 0.02;
    for (const t of [w.wte, w.wpe, ...w.blocks.flatMap((b) => [b.qkvW, b.attnProjW, b.fcW, b.fcProjW])]) {
      for (let i = 0; i < t.length; i++) t[i] *= f;
    }
  }
  return new GPT2(cfg, w, o.backend ?? new ReferenceBackend());
}

/**
 * A LoRA adapter for `cfg` with PEFT's A initialisation and a random (non-zero) B, so it changes the output.
 * Default: r 4, alpha 8, dropout 0, targets c_attn + c_proj.
 */
export function microAdapter(cfg: GPT2Config, over: Partial<LoraConfig> = {}, seed = 7, bStd = 0.2, name = 'default'): LoraAdapter {
  const a = new LoraAdapter(defaultLoraConfig({ r: 4, loraAlpha: 8, loraDropout: 0, ...over }), cfg, name);
  a.initialize(seed);
  const rng = makeRng(seed + 1000);
  for (const s of a.sites) for (let i = 0; i < s.B.length; i++) s.B[i] = bStd * gaussian(rng);
  return a;
}

export function gaussian(rng: () => number): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** n token ids in [0, V) from a seeded RNG (never the end-of-text id unless `allowEos`). */
export function randomIds(n: number, seed: number, V = MICRO_RAW.vocab_size, allowEos = false): number[] {
  const rng = makeRng(seed);
  const out: number[] = [];
  while (out.length < n) {
    const id = Math.floor(rng() * V);
    if (allowEos || id !== MICRO_RAW.eos_token_id) out.push(id);
  }
  return out;
}

/** A progress that prints nothing but records the log lines. */
export function silentProgress(): Progress & { lines: string[] } {
  const lines: string[] = [];
  return { lines, start() {}, update() {}, log: (l: string) => { lines.push(l); }, warn: (l: string) => { lines.push(`warning: ${l}`); }, stop() {} };
}

/** A fresh temporary folder, and a function that removes it. */
export function tempDir(prefix = 'loraroute-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** max |a - b| (lengths must agree). */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Training-loop options for micro tests: one epoch, batch 2, constant rate 1e-2, no state, silent; `over` wins. */
export function microLoopOptions(model: GPT2, over: Partial<LoopOptions> = {}): LoopOptions {
  return {
    epochs: 1, batchSize: 2, gradientAccumulationSteps: 1, maxGradNorm: 1,
    schedule: { peak: 1e-2, warmupSteps: 0, kind: 'constant', minRatio: 0.1 }, weightDecay: 0.01,
    evalEvery: 0, saveEvery: 0, logEvery: 1, maxSteps: 0, seed: 3, backend: model.backend,
    stateDir: null, resume: false, metrics: new MetricsLog(null), progress: silentProgress(), ...over,
  };
}

/** The tensors of a weight buffer by HF name (with the `transformer.` prefix), ready for writeSafetensors. */
export function hfTensors(cfg: GPT2Config, w: GPT2Weights): Record<string, TensorToWrite> {
  const tensors: Record<string, TensorToWrite> = {};
  let off = 0;
  for (const t of weightLayout(cfg)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    tensors[`transformer.${t.name}`] = { dtype: 'F32', shape: t.shape, data: w.buffer.slice(off, off + n) };
    off += n;
  }
  return tensors;
}
