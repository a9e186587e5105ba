import type { Config } from '../config/index.js';
import type { ComplexityAnalyzer } from '../complexity/analyzer.js';
import type { GPT2 } from '../model/gpt2.js';
import type { LoraAdapter } from '../lora/adapter.js';
import type { LoraMixture } from '../lora/mixture.js';
import type { Router } from '../router/router.js';
import type { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import type { MetricsLog } from '../train/metrics.js';
import type { Progress } from '../train/progress.js';
import type { PreparedExample } from './prepared.js';

/** Everything the training phases share: one frozen base, the experts on it, the router, the data. */
export interface RunContext {
  config: Config;
  /** The run folder. */
  out: string;
  modelDir: string;
  model: GPT2;
  tokenizer: GPT2Tokenizer;
  analyzer: ComplexityAnalyzer;
  train: PreparedExample[];
  validation: PreparedExample[];
  /** Pooled base hidden states [N, C] per split when the router or the clustering uses them, else null. */
  pooled: { train: Float32Array; validation: Float32Array } | null;
  /** The expert each training / validation example belongs to (its tier or its cluster). */
  groups: { train: Int32Array; validation: Int32Array };
  experts: LoraAdapter[];
  /** The warm-start LoRA every expert branched from, or null for cold-start experts. */
  shared: LoraAdapter | null;
  /** The experts, then the shared LoRA (index K) when there is one. */
  mixture: LoraMixture;
  router: Router;
  progress: Progress;
  metrics: MetricsLog;
  resume: boolean;
  signal?: { interrupted: boolean };
}

/** The rows of a [N, D] matrix for the given item positions. */
export function gatherRows(m: Float32Array, D: number, rows: number[]): Float32Array {
  const out = new Float32Array(rows.length * D);
  rows.forEach((r, i) => out.set(m.subarray(r * D, (r + 1) * D), i * D));
  return out;
}
