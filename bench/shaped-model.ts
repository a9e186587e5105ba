/**
 * Models of a given shape with random weights, for the benches: the weights every bench and its Python peer
 * draw from the shared counter hash (src/tensor/hash.ts), and a Hugging Face GPT-2 folder holding them, for
 * benches that load a model from disk (bench:serve --shape gpt2: GPT-2 124M's shapes, which no file bundled
 * with the package has).
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundledModelDir } from '../src/config/index.js';
import { writeSafetensors, type TensorToWrite } from '../src/io/safetensors-write.js';
import { parseGPT2Config, type GPT2Config } from '../src/model/config.js';
import { weightLayout } from '../src/model/weights.js';
import { hashUniform } from '../src/tensor/hash.js';
import type { BenchShape } from './common.js';

/** The GPT-2 config of a bench shape, with `layers` blocks. */
export function shapeConfig(s: BenchShape, layers = s.layers): GPT2Config {
  return parseGPT2Config({
    model_type: 'gpt2', n_layer: layers, n_head: s.heads, n_embd: s.embd, n_positions: s.positions, vocab_size: s.vocab,
  }, 'bench config');
}

/**
 * Fills `buffer` (the weight buffer of cfg, in weightLayout order) from the shared hash, tensor i of the HF
 * layout seeded i + 1 (bench/peer/infer.py makes the same): matrices uniform with std 0.02, biases std 0.01,
 * layernorm weights 1 + uniform(std 0.1).
 */
export function fillHashWeights(cfg: GPT2Config, buffer: Float32Array): void {
  const root3 = 2 * Math.sqrt(3);
  let off = 0;
  weightLayout(cfg).forEach((t, i) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const isLnW = /ln_[12f]\.weight$/.test(t.name);
    const [std, base] = t.shape.length === 2 ? [0.02, 0] : isLnW ? [0.1, 1] : [0.01, 0];
    const seed = i + 1;
    for (let j = 0; j < n; j++) buffer[off + j] = base + std * ((hashUniform(seed, j) - 0.5) * root3);
    off += n;
  });
}

/** Tokenizer files of the bundled model that a GPT-2 folder of the same vocabulary shares. */
const TOKENIZER_FILES = ['vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json'];

/**
 * Writes a Hugging Face GPT-2 folder at `dir` (config.json, fp16 model.safetensors with fillHashWeights'
 * weights, the bundled model's tokenizer) for shape `s`, whose vocabulary must be GPT-2's. Returns `dir`.
 */
export function writeShapedModel(dir: string, s: BenchShape): string {
  const cfg = shapeConfig(s);
  const layout = weightLayout(cfg);
  const buffer = new Float32Array(layout.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0));
  fillHashWeights(cfg, buffer);
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  let off = 0;
  for (const t of layout) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    tensors[`transformer.${t.name}`] = { dtype: 'F16', shape: t.shape, data: buffer.subarray(off, off + n) };
    off += n;
  }
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', activation_function: 'gelu_new', n_layer: s.layers, n_head: s.heads,
    n_embd: s.embd, n_positions: s.positions, vocab_size: s.vocab, layer_norm_epsilon: 1e-5, bos_token_id: 50256,
    eos_token_id: 50256, tie_word_embeddings: true,
  }, null, 2));
  const src = bundledModelDir();
  for (const f of TOKENIZER_FILES) if (existsSync(join(src, f))) copyFileSync(join(src, f), join(dir, f));
  return dir;
}
