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

export { useHalfWeightsForDecode } from './decode-weights.js';
