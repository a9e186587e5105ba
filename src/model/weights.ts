import type { F32 } from '../tensor/backend.js';
import type { GPT2Config } from './config.js';
import { LoraRouteError } from '../errors.js';
import type { WeightSource } from '../io/weights.js';
import { markWeightsWritten } from './weights-version.js';
import { assertFinite } from '../io/finite.js';

/** The linear (Conv1D) modules of a block, by their HF names. PEFT's target_modules match these by suffix. */
export const LINEAR_MODULES = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

/** [in, out] of each linear module (Conv1D stores its weight as [in, out]). */
export function linearShape(cfg: GPT2Config, module: LinearModule): [number, number] {
  const C = cfg.nEmbd;
  switch (module) {
    case 'attn.c_attn': return [C, 3 * C];
    case 'attn.c_proj': return [C, C];
    case 'mlp.c_fc': return [C, cfg.nInner];
    case 'mlp.c_proj': return [cfg.nInner, C];
  }
}

export interface BlockWeights {
  ln1W: F32; ln1B: F32; // [C]
  qkvW: F32; qkvB: F32; // [C, 3C], [3C]
  attnProjW: F32; attnProjB: F32; // [C, C], [C]
  ln2W: F32; ln2B: F32; // [C]
  fcW: F32; fcB: F32; // [C, 4C], [4C]
  fcProjW: F32; fcProjB: F32; // [4C, C], [C]
}

/** All parameters of GPT-2 in one Float32Array, with named views into it (llm.c style). */
export interface GPT2Weights {
  buffer: F32;
  wte: F32; // [V, C] (also the tied lm_head)
  wpe: F32; // [P, C]
  blocks: BlockWeights[];
  lnfW: F32; lnfB: F32; // [C]
}

/** HF names (without the `transformer.` prefix) and shapes, in buffer order. */
export function weightLayout(cfg: GPT2Config): Array<{ name: string; shape: number[] }> {
  const C = cfg.nEmbd;
  const out: Array<{ name: string; shape: number[] }> = [
    { name: 'wte.weight', shape: [cfg.vocabSize, C] },
    { name: 'wpe.weight', shape: [cfg.nPositions, C] },
  ];
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `h.${l}.`;
    out.push(
      { name: p + 'ln_1.weight', shape: [C] }, { name: p + 'ln_1.bias', shape: [C] },
      { name: p + 'attn.c_attn.weight', shape: linearShape(cfg, 'attn.c_attn') }, { name: p + 'attn.c_attn.bias', shape: [3 * C] },
      { name: p + 'attn.c_proj.weight', shape: linearShape(cfg, 'attn.c_proj') }, { name: p + 'attn.c_proj.bias', shape: [C] },
      { name: p + 'ln_2.weight', shape: [C] }, { name: p + 'ln_2.bias', shape: [C] },
      { name: p + 'mlp.c_fc.weight', shape: linearShape(cfg, 'mlp.c_fc') }, { name: p + 'mlp.c_fc.bias', shape: [cfg.nInner] },
      { name: p + 'mlp.c_proj.weight', shape: linearShape(cfg, 'mlp.c_proj') }, { name: p + 'mlp.c_proj.bias', shape: [C] },
    );
  }
  out.push({ name: 'ln_f.weight', shape: [C] }, { name: 'ln_f.bias', shape: [C] });
  return out;
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Floats in the one buffer that holds every parameter. */
export function weightCount(cfg: GPT2Config): number {
  return weightLayout(cfg).reduce((s, t) => s + numel(t.shape), 0);
}

/** Makes the named views over one buffer (which it allocates when not given). */
export function viewWeights(cfg: GPT2Config, buffer?: F32): GPT2Weights {
  const layout = weightLayout(cfg);
  const total = layout.reduce((s, t) => s + numel(t.shape), 0);
  const buf = buffer ?? new Float32Array(total);
  if (buf.length !== total) throw new Error(`weight buffer has ${buf.length} floats, layout needs ${total}`);
  const views = new Map<string, F32>();
  let off = 0;
  for (const t of layout) {
    const n = numel(t.shape);
    views.set(t.name, buf.subarray(off, off + n));
    off += n;
  }
  const v = (name: string) => views.get(name) as F32;
  const blocks: BlockWeights[] = [];
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `h.${l}.`;
    blocks.push({
      ln1W: v(p + 'ln_1.weight'), ln1B: v(p + 'ln_1.bias'),
      qkvW: v(p + 'attn.c_attn.weight'), qkvB: v(p + 'attn.c_attn.bias'),
      attnProjW: v(p + 'attn.c_proj.weight'), attnProjB: v(p + 'attn.c_proj.bias'),
      ln2W: v(p + 'ln_2.weight'), ln2B: v(p + 'ln_2.bias'),
      fcW: v(p + 'mlp.c_fc.weight'), fcB: v(p + 'mlp.c_fc.bias'),
      fcProjW: v(p + 'mlp.c_proj.weight'), fcProjB: v(p + 'mlp.c_proj.bias'),
    });
  }
  return { buffer: buf, wte: v('wte.weight'), wpe: v('wpe.weight'), blocks, lnfW: v('ln_f.weight'), lnfB: v('ln_f.bias') };
}

/** Tensors a GPT-2 checkpoint may hold besides the parameters: HF's saved attention-mask buffers and the tied head. */
const IGNORED = /^(h\.\d+\.attn\.(bias|masked_bias)|lm_head\.weight)$/;

/**
 * Checks an HF GPT-2 checkpoint against config.json before anything is allocated: the `transformer.` prefix
 * (or none), every tensor the config implies with its shape, and no tensor the config does not know (a
 * layer past n_layer is an error naming it, not silently ignored). Returns the key prefix.
 */
export function checkCheckpoint(cfg: GPT2Config, src: WeightSource): string {
  const prefix = src.has('transformer.wte.weight') ? 'transformer.' : src.has('wte.weight') ? '' : null;
  if (prefix === null) {
    throw new LoraRouteError(`${src.path}: no "transformer.wte.weight" or "wte.weight" tensor: not a GPT-2 checkpoint`);
  }
  const layout = weightLayout(cfg);
  const expected = new Set(layout.map((t) => prefix + t.name));
  for (const name of src.names()) {
    const bare = name.startsWith(prefix) ? name.slice(prefix.length) : name;
    if (expected.has(name) || IGNORED.test(bare)) continue;
    const layer = /^h\.(\d+)\./.exec(bare);
    throw new LoraRouteError(
      layer && Number(layer[1]) >= cfg.nLayer
        ? `${src.path}: tensor "${name}" belongs to layer ${layer[1]}, but config.json has n_layer = ${cfg.nLayer} (layers 0..${cfg.nLayer - 1})`
        : `${src.path}: tensor "${name}" is not a parameter of the GPT-2 that config.json describes`,
    );
  }
  for (const t of layout) {
    const key = prefix + t.name;
    if (!src.has(key)) throw new LoraRouteError(`${src.path}: missing tensor "${key}" (expected shape [${t.shape}])`);
    const shape = src.info(key).shape;
    if (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i])) {
      throw new LoraRouteError(`${src.path}: tensor "${key}" has shape [${shape}], config.json implies [${t.shape}]`);
    }
  }
  if (src.has(prefix + 'lm_head.weight') || src.has('lm_head.weight')) {
    const key = src.has('lm_head.weight') ? 'lm_head.weight' : prefix + 'lm_head.weight';
    const shape = src.info(key).shape;
    if (shape[0] !== cfg.vocabSize || shape[1] !== cfg.nEmbd) {
      throw new LoraRouteError(`${src.path}: "${key}" has shape [${shape}], expected [${cfg.vocabSize},${cfg.nEmbd}] (tied to wte)`);
    }
  }
  return prefix;
}

/**
 * Copies an HF GPT-2 checkpoint into one buffer (after checkCheckpoint). Accepts keys with or without the
 * `transformer.` prefix; `lm_head.weight`, when present, must equal the tied `wte` shape (it is not used
 * separately). A tensor holding NaN or Inf is refused, naming it.
 */
export function loadWeights(cfg: GPT2Config, src: WeightSource, buffer?: F32): GPT2Weights {
  const prefix = checkCheckpoint(cfg, src);
  const w = viewWeights(cfg, buffer);
  markWeightsWritten(w.buffer); // copies made from an earlier content of this buffer are stale
  let off = 0;
  for (const t of weightLayout(cfg)) {
    const key = prefix + t.name;
    const data = src.getF32(key);
    assertFinite(data, src.path, key);
    w.buffer.set(data, off);
    off += data.length;
  }
  return w;
}

/** GPT-2-style random initialisation (normal(0, 0.02), layer norms at 1/0), seeded; for benches and tests. */
export function randomWeights(cfg: GPT2Config, seed = 1): GPT2Weights {
  const w = viewWeights(cfg);
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  for (let i = 0; i < w.buffer.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const th = 2 * Math.PI * uniform();
    w.buffer[i] = 0.02 * r * Math.cos(th);
    if (i + 1 < w.buffer.length) w.buffer[i + 1] = 0.02 * r * Math.sin(th);
  }
  for (const b of w.blocks) {
    b.ln1W.fill(1); b.ln1B.fill(0); b.ln2W.fill(1); b.ln2B.fill(0);
    b.qkvB.fill(0); b.attnProjB.fill(0); b.fcB.fill(0); b.fcProjB.fill(0);
  }
  w.lnfW.fill(1); w.lnfB.fill(0);
  return w;
}
