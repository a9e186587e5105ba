import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { GPT2Config } from '../model/config.js';
import { LINEAR_MODULES } from '../model/weights.js';
import { openSafetensors, writeSafetensors } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { LoraRouteError } from '../errors.js';
import { entryExists, readUserJson } from '../io/user-file.js';
import { assertFinite } from '../io/finite.js';
import { parseAdapterConfig, toAdapterConfigJson, type LoraConfig } from './config.js';
import { LoraAdapter } from './adapter.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** PEFT's key of a LoRA matrix: `base_model.model.<module>.lora_A.weight`. */
export const peftKey = (module: string, which: 'A' | 'B') => `base_model.model.${module}.lora_${which}.weight`;

// base_model.model.<module>.lora_<A|B>[.<adapter name>].weight (the adapter name appears in state dicts, not in files)
const KEY = /^base_model\.model\.(.+)\.lora_([AB])(?:\.([^.]+))?\.weight$/;

export function readAdapterConfig(dir: string): LoraConfig {
  const file = join(dir, ADAPTER_CONFIG);
  if (!entryExists(file)) throw new LoraRouteError(`adapter folder ${dir}: ${ADAPTER_CONFIG} not found (expected a PEFT LoRA adapter folder)`);
  return parseAdapterConfig(readUserJson(file, 'adapter config'), file);
}

/**
 * Loads a PEFT LoRA adapter folder for this base model. Every tensor must belong to a module the config
 * targets and have the shape that module implies; every targeted module must be present.
 */
export function loadPeftAdapter(dir: string, model: GPT2Config, name = 'default'): LoraAdapter {
  const config = readAdapterConfig(dir);
  const file = join(dir, ADAPTER_WEIGHTS);
  if (!entryExists(file)) {
    const alt = join(dir, 'adapter_model.bin');
    throw new LoraRouteError(
      existsSync(alt)
        ? `${alt}: PyTorch pickle adapters are not supported; re-save it with PEFT's save_pretrained(safe_serialization=True)`
        : `adapter folder ${dir}: ${ADAPTER_WEIGHTS} not found`,
    );
  }
  let adapter: LoraAdapter;
  try {
    adapter = new LoraAdapter(config, model, name);
  } catch (e) {
    if (e instanceof LoraRouteError) throw new LoraRouteError(`${join(dir, ADAPTER_CONFIG)}: ${e.message}`);
    throw e;
  }
  const src = openSafetensors(file);
  const seen = new Set<string>();
  for (const key of src.names()) {
    const m = KEY.exec(key);
    if (!m) throw new LoraRouteError(`${file}: tensor "${key}" is not a LoRA weight (expected base_model.model.<module>.lora_A.weight)`);
    const [, module, which] = m;
    const site = adapter.sites.find((s) => s.name === module);
    if (!site) {
      const known = LINEAR_MODULES.some((lm) => module.endsWith(lm)) && /^transformer\.h\.(\d+)\./.test(module);
      throw new LoraRouteError(
        known
          ? `${file}: tensor "${key}" targets ${module}, which ${ADAPTER_CONFIG} does not target or this model (${model.nLayer} layers) lacks`
          : `${file}: tensor "${key}" targets "${module}", which is not a linear module of GPT-2 (expected transformer.h.<i>.attn.c_attn, attn.c_proj, mlp.c_fc or mlp.c_proj)`,
      );
    }
    const want = which === 'A' ? [site.r, site.inDim] : [site.outDim, site.r];
    const got = src.info(key).shape;
    if (got.length !== 2 || got[0] !== want[0] || got[1] !== want[1]) {
      throw new LoraRouteError(`${file}: tensor "${key}" has shape [${got}], expected [${want}] for r=${site.r} on this base model`);
    }
    const data = src.getF32(key);
    assertFinite(data, file, key);
    (which === 'A' ? site.A : site.B).set(data);
    seen.add(`${module}.${which}`);
  }
  for (const s of adapter.sites) {
    for (const which of ['A', 'B'] as const) {
      if (!seen.has(`${s.name}.${which}`)) throw new LoraRouteError(`${file}: missing tensor "${peftKey(s.name, which)}"`);
    }
  }
  return adapter;
}

/** Writes a PEFT adapter folder (config + safetensors, each written atomically) that PEFT loads unchanged. */
export function savePeftAdapter(adapter: LoraAdapter, dir: string, extraMetadata: Record<string, string> = {}): void {
  mkdirSync(dir, { recursive: true });
  const tensors: Parameters<typeof writeSafetensors>[1] = {};
  for (const s of adapter.sites) {
    tensors[peftKey(s.name, 'A')] = { dtype: 'F32', shape: [s.r, s.inDim], data: Float32Array.from(s.A) };
    tensors[peftKey(s.name, 'B')] = { dtype: 'F32', shape: [s.outDim, s.r], data: Float32Array.from(s.B) };
  }
  writeSafetensors(join(dir, ADAPTER_WEIGHTS), tensors, extraMetadata);
  writeFileAtomic(join(dir, ADAPTER_CONFIG), JSON.stringify(toAdapterConfigJson(adapter.config), null, 2) + '\n');
}
