import type { F32 } from '../tensor/backend.js';
import type { GPT2Config } from '../model/config.js';
import { LINEAR_MODULES, linearShape, type LinearModule } from '../model/weights.js';
import { makeRng } from '../model/sampling.js';
import { LoraRouteError } from '../errors.js';
import { checkRankForModel, moduleRankScaling, targetsModule, validateLoraConfig, type LoraConfig } from './config.js';

/** One adapted module: A [r, in] and B [out, r] as PEFT stores them, views into the adapter's buffer. */
export interface LoraSite {
  layer: number;
  module: LinearModule;
  /** Full module name as in HF/PEFT, e.g. `transformer.h.0.attn.c_attn`. */
  name: string;
  r: number;
  scaling: number;
  inDim: number;
  outDim: number;
  A: F32; // [r, in]
  B: F32; // [out, r]
  gradA: F32;
  gradB: F32;
}

export const moduleName = (layer: number, module: LinearModule) => `transformer.h.${layer}.${module}`;

/** GPT2LMHeadModel's other named modules (HF names, layer -1 outside the blocks): none of them takes LoRA here. */
function otherModules(nLayer: number): Array<{ name: string; layer: number }> {
  const out = ['transformer', 'transformer.wte', 'transformer.wpe', 'transformer.drop', 'transformer.h', 'transformer.ln_f', 'lm_head']
    .map((name) => ({ name, layer: -1 }));
  for (let l = 0; l < nLayer; l++) {
    out.push({ name: `transformer.h.${l}`, layer: -1 }); // PEFT finds no layer index in a block's own name
    for (const m of ['ln_1', 'attn', 'attn.attn_dropout', 'attn.resid_dropout', 'ln_2', 'mlp', 'mlp.act', 'mlp.dropout']) {
      out.push({ name: `transformer.h.${l}.${m}`, layer: l });
    }
  }
  return out;
}

/**
 * One LoRA adapter for a GPT-2 base: all its parameters in one buffer (and gradients in a second, same
 * layout), with a site per adapted module. The base is not copied: many adapters share one frozen GPT2.
 */
export class LoraAdapter {
  readonly params: F32;
  readonly grads: F32;
  readonly sites: LoraSite[];
  private byKey = new Map<string, LoraSite>();
  private modules = new Set<LinearModule>();

  constructor(readonly config: LoraConfig, readonly model: GPT2Config, readonly name = 'default') {
    validateLoraConfig(config, `adapter "${name}"`);
    checkRankForModel(config, model, `adapter "${name}"`);
    const layout: Array<Omit<LoraSite, 'A' | 'B' | 'gradA' | 'gradB'> & { offset: number }> = [];
    let total = 0;
    for (let layer = 0; layer < model.nLayer; layer++) {
      for (const module of LINEAR_MODULES) {
        const full = moduleName(layer, module);
        if (!targetsModule(config, full, layer)) continue;
        const [inDim, outDim] = linearShape(model, module);
        const { r, scaling } = moduleRankScaling(config, full);
        layout.push({ layer, module, name: full, r, scaling, inDim, outDim, offset: total });
        total += r * (inDim + outDim);
      }
    }
    // PEFT matches target_modules against every module, not only the linear ones: it refuses dropouts, norms and
    // blocks, and would put LoRA on wte / lm_head. Either way the adapter would not mean the same there.
    for (const m of otherModules(model.nLayer)) {
      if (targetsModule(config, m.name, m.layer)) {
        throw new LoraRouteError(
          `adapter "${name}": target_modules ${JSON.stringify(config.targetModules)} also matches ${m.name}, which is not one of ` +
            `GPT-2's linear modules (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj); PEFT would refuse it or adapt it differently — narrow the target`,
        );
      }
    }
    if (layout.length === 0) {
      throw new LoraRouteError(
        `adapter "${name}": target_modules ${JSON.stringify(config.targetModules)} match no module of this GPT-2 ` +
          `(its linear modules are attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj in each of ${model.nLayer} blocks)`,
      );
    }
    this.params = new Float32Array(total);
    this.grads = new Float32Array(total);
    this.sites = layout.map((s) => {
      const a = s.offset, b = a + s.r * s.inDim, e = b + s.outDim * s.r;
      const site: LoraSite = {
        layer: s.layer, module: s.module, name: s.name, r: s.r, scaling: s.scaling, inDim: s.inDim, outDim: s.outDim,
        A: this.params.subarray(a, b), B: this.params.subarray(b, e), gradA: this.grads.subarray(a, b), gradB: this.grads.subarray(b, e),
      };
      this.byKey.set(`${s.layer}.${s.module}`, site);
      this.modules.add(s.module);
      return site;
    });
  }

  site(layer: number, module: LinearModule): LoraSite | undefined {
    return this.byKey.get(`${layer}.${module}`);
  }

  hasModule(module: LinearModule): boolean {
    return this.modules.has(module);
  }

  /** PEFT's initialisation: A ~ kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0. Seeded. */
  initialize(seed: number): void {
    const rng = makeRng(seed);
    for (const s of this.sites) {
      const bound = 1 / Math.sqrt(s.inDim);
      for (let i = 0; i < s.A.length; i++) s.A[i] = (2 * rng() - 1) * bound;
      s.B.fill(0);
    }
  }

  zeroGrads(): void {
    this.grads.fill(0);
  }

  get parameterCount(): number {
    return this.params.length;
  }
}
