import { existsSync, statSync } from 'node:fs';
import { LoraRouteError } from '../errors.js';
import { openCheckpoint } from '../io/safetensors.js';
import { getBackend, type BackendName } from '../tensor/select.js';
import type { Backend } from '../tensor/backend.js';
import { readGPT2Config } from './config.js';
import { GPT2 } from './gpt2.js';
import { checkCheckpoint, loadWeights, weightCount } from './weights.js';
import { NativeBackend } from '../tensor/native.js';
import { bundledModelDir } from '../config/paths.js';

export interface LoadModelOptions {
  /** A backend instance, or a name for getBackend (default 'auto'). */
  backend?: Backend | BackendName;
}

/** Loads an HF GPT-2 folder (config.json + model.safetensors or shards); `dir` undefined = the bundled model. */
export function loadGPT2(dir: string = bundledModelDir(), opts: LoadModelOptions = {}): GPT2 {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new LoraRouteError(`model folder ${dir} does not exist`);
  const config = readGPT2Config(dir);
  const backend = typeof opts.backend === 'object' ? opts.backend : getBackend(opts.backend ?? 'auto');
  const checkpoint = openCheckpoint(dir);
  checkCheckpoint(config, checkpoint); // sizes come from the tensors present, before the buffer is allocated
  const buffer = new Float32Array(weightCount(config));
  // 2 MB pages under the weights (asked before they are written, when it is free): decode streams them all
  if (backend instanceof NativeBackend) backend.adviseHugePages(buffer);
  const weights = loadWeights(config, checkpoint, buffer);
  return new GPT2(config, weights, backend);
}

/**
 * For generation only: lets the native backend keep an fp16 copy of the frozen weights and read it in
 * decode steps (products of at most 8 rows), widened to fp32 on the fly — half the memory traffic that
 * bounds decoding, 2 bytes per weight more memory. Training, scoring and prefill stay fp32. Returns false
 * (and changes nothing) on other backends.
 */
export function useHalfWeightsForDecode(model: GPT2): boolean {
  return model.backend instanceof NativeBackend ? model.backend.useHalfWeights(model.weights.buffer) : false;
}
