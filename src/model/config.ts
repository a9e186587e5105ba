import { join } from 'node:path';
import { LoraRouteError } from '../errors.js';
import { entryExists, quoteValue, readUserJson } from '../io/user-file.js';

/** The GPT-2 hyper-parameters we use, read from an HF `config.json`. */
export interface GPT2Config {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  nPositions: number;
  vocabSize: number;
  nInner: number; // MLP width (HF: n_inner ?? 4 * n_embd)
  layerNormEpsilon: number;
  embdPdrop: number;
  attnPdrop: number;
  residPdrop: number;
  eosTokenId: number;
}

/** Upper bounds on what config.json may ask for, checked before anything is allocated. */
export const CONFIG_LIMITS = {
  n_layer: 1024,
  n_head: 1024,
  n_embd: 65_536,
  n_inner: 262_144,
  n_positions: 1 << 20,
  vocab_size: 1 << 24,
} as const;
/** Parameters a model may have (8 GB of fp32; GPT-2 XL has 1.56 billion). */
export const MAX_MODEL_PARAMS = 2_000_000_000;

function int(raw: Record<string, unknown>, key: keyof typeof CONFIG_LIMITS, file: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  const max = CONFIG_LIMITS[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new LoraRouteError(`${file}: "${key}" must be a positive integer, got ${quoteValue(raw[key])}`);
  }
  if (v > max) throw new LoraRouteError(`${file}: "${key}" = ${v} is above the limit of ${max}`);
  return v;
}

/** Floats in all of a GPT-2's parameters (computed, not listed, so a huge config cannot exhaust memory here). */
export function parameterCount(c: Pick<GPT2Config, 'nLayer' | 'nEmbd' | 'nInner' | 'nPositions' | 'vocabSize'>): number {
  const C = c.nEmbd;
  const I = c.nInner;
  const block = 4 * C /* ln_1, ln_2 */ + C * 3 * C + 3 * C + C * C + C + C * I + I + I * C + C;
  return (c.vocabSize + c.nPositions) * C + c.nLayer * block + 2 * C;
}

function prob(raw: Record<string, unknown>, key: string, file: string, fallback: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
    throw new LoraRouteError(`${file}: "${key}" must be a number in [0, 1), got ${quoteValue(raw[key])}`);
  }
  return v;
}

/** Parses and checks an HF GPT-2 config object (`file` is only used in messages). */
export function parseGPT2Config(raw: Record<string, unknown>, file = 'config.json'): GPT2Config {
  const act = raw.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') {
    throw new LoraRouteError(`${file}: activation_function ${quoteValue(act)} is not supported (expected gelu_new)`);
  }
  if (raw.model_type !== undefined && raw.model_type !== 'gpt2') {
    throw new LoraRouteError(`${file}: model_type ${quoteValue(raw.model_type)} is not supported (expected gpt2)`);
  }
  for (const flag of ['scale_attn_by_inverse_layer_idx', 'reorder_and_upcast_attn', 'add_cross_attention']) {
    if (raw[flag] === true) throw new LoraRouteError(`${file}: "${flag}: true" is not supported`);
  }
  if (raw.scale_attn_weights === false) throw new LoraRouteError(`${file}: "scale_attn_weights: false" is not supported`);
  const nEmbd = int(raw, 'n_embd', file);
  const nHead = int(raw, 'n_head', file);
  if (nEmbd % nHead !== 0) throw new LoraRouteError(`${file}: n_embd (${nEmbd}) must be divisible by n_head (${nHead})`);
  const nInner = raw.n_inner === null || raw.n_inner === undefined ? 4 * nEmbd : int(raw, 'n_inner', file);
  const eps = raw.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw new LoraRouteError(`${file}: "layer_norm_epsilon" must be a positive number`);
  const vocabSize = int(raw, 'vocab_size', file);
  const eos = raw.eos_token_id ?? 50256;
  const nLayer = int(raw, 'n_layer', file);
  const nPositions = int(raw, 'n_positions', file, raw.n_ctx as number | undefined);
  const params = parameterCount({ nLayer, nEmbd, nInner, nPositions, vocabSize });
  if (params > MAX_MODEL_PARAMS) {
    throw new LoraRouteError(
      `${file}: n_layer ${nLayer}, n_embd ${nEmbd}, n_inner ${nInner}, n_positions ${nPositions} and vocab_size ${vocabSize} ` +
        `make ${params} parameters, above the limit of ${MAX_MODEL_PARAMS}`,
    );
  }
  return {
    nLayer,
    nHead,
    nEmbd,
    nPositions,
    vocabSize,
    nInner,
    layerNormEpsilon: eps,
    embdPdrop: prob(raw, 'embd_pdrop', file, 0.1),
    attnPdrop: prob(raw, 'attn_pdrop', file, 0.1),
    residPdrop: prob(raw, 'resid_pdrop', file, 0.1),
    eosTokenId: typeof eos === 'number' && eos >= 0 && eos < vocabSize ? eos : vocabSize - 1,
  };
}

export function readGPT2Config(dir: string): GPT2Config {
  const file = join(dir, 'config.json');
  if (!entryExists(file)) throw new LoraRouteError(`model folder ${dir}: config.json not found (expected an HF GPT-2 folder)`);
  const raw = readUserJson(file, 'model config');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new LoraRouteError(`${file}: expected a JSON object`);
  return parseGPT2Config(raw as Record<string, unknown>, file);
}
