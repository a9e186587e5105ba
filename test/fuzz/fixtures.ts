/**
 * Small, valid files to attack: a micro HF GPT-2 folder (2 layers, 16 wide, byte-level tokenizer of 257 tokens),
 * a PEFT adapter folder for it, data files and a run config. Tests mutate them into hostile ones.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { parseGPT2Config, type GPT2Config } from '../../src/model/config.js';
import { randomWeights } from '../../src/model/weights.js';
import { hfTensors } from '../helpers/micro.js';
import { byteAlphabet } from '../../src/tokenizer/byte-level.js';

export const MICRO_CONFIG = {
  model_type: 'gpt2', n_layer: 2, n_head: 2, n_embd: 16, n_positions: 64, vocab_size: 257, bos_token_id: 256, eos_token_id: 256,
} as const;

export const microCfg = (): GPT2Config => parseGPT2Config({ ...MICRO_CONFIG });

/** The model's tensors by HF name (with the `transformer.` prefix). */
export function microTensors(cfg = microCfg(), seed = 3): Record<string, TensorToWrite> {
  return hfTensors(cfg, randomWeights(cfg, seed));
}

/** 256 byte tokens and `<|endoftext|>` = 256. */
export function byteVocab(): Record<string, number> {
  const { byteToChar } = byteAlphabet();
  const vocab: Record<string, number> = {};
  byteToChar.forEach((ch, b) => {
    vocab[ch] = b;
  });
  vocab['<|endoftext|>'] = 256;
  return vocab;
}

/** An HF tokenizer.json for the byte vocabulary, with no merges (allowed: a byte-level tokenizer). */
export interface TokenizerJson {
  added_tokens: Array<{ id: unknown; content: string; special?: boolean }>;
  model: { type: string; vocab: Record<string, unknown>; merges: unknown[] };
  [key: string]: unknown;
}

export function tokenizerJson(): TokenizerJson {
  return {
    version: '1.0',
    added_tokens: [{ id: 256, content: '<|endoftext|>', special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', vocab: byteVocab(), merges: [] },
  };
}

export interface ModelDirOptions {
  config?: Record<string, unknown>;
  tensors?: Record<string, TensorToWrite>;
  /** 'json' writes tokenizer.json; 'files' writes vocab.json + merges.txt. Default 'json'. */
  tokenizer?: 'json' | 'files';
}

/** Writes a micro HF GPT-2 folder at `dir`. */
export function writeModelDir(dir: string, o: ModelDirOptions = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(o.config ?? MICRO_CONFIG));
  writeSafetensors(join(dir, 'model.safetensors'), o.tensors ?? microTensors());
  if ((o.tokenizer ?? 'json') === 'json') {
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  } else {
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(byteVocab()));
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
  }
  return dir;
}

/** PEFT's adapter_config.json for r 2 on c_attn. */
export function adapterConfig(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    peft_type: 'LORA', r: 2, lora_alpha: 4, lora_dropout: 0, target_modules: ['c_attn'], fan_in_fan_out: true, bias: 'none',
    use_rslora: false, layers_to_transform: null, rank_pattern: {}, alpha_pattern: {}, task_type: 'CAUSAL_LM', ...over,
  };
}

/** The adapter tensors for adapterConfig() on the micro model (A small random, B ones). */
export function adapterTensors(cfg = microCfg(), r = 2): Record<string, TensorToWrite> {
  const C = cfg.nEmbd;
  const tensors: Record<string, TensorToWrite> = {};
  for (let l = 0; l < cfg.nLayer; l++) {
    const m = `base_model.model.transformer.h.${l}.attn.c_attn`;
    tensors[`${m}.lora_A.weight`] = { dtype: 'F32', shape: [r, C], data: Float32Array.from({ length: r * C }, (_, i) => ((i % 7) - 3) * 0.01) };
    tensors[`${m}.lora_B.weight`] = { dtype: 'F32', shape: [3 * C, r], data: new Float32Array(3 * C * r).fill(0.01) };
  }
  return tensors;
}

/** Writes a PEFT adapter folder for the micro model. */
export function writeAdapterDir(dir: string, config: Record<string, unknown> = adapterConfig(), tensors = adapterTensors()): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config));
  writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors);
  return dir;
}

/** A few Alpaca records. */
export const ALPACA_ROWS = [
  { instruction: 'Name a color.', input: '', output: 'Blue.' },
  { instruction: 'Translate the sentence into French.', input: 'I like apples.', output: "J'aime les pommes." },
  { instruction: 'List three prime numbers and explain why each is prime.', input: '', output: '2, 3, 5.' },
];

export const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** A small valid run config (YAML). */
export const RUN_YAML = `model:
  num_experts: 3
  lora_rank: 4
  target_modules: [c_attn, c_proj]
training:
  batch_size: 2
  learning_rate: 1.0e-3
data:
  max_length: 64
`;
