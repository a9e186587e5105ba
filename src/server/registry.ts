import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ComplexityAnalyzer } from '../complexity/analyzer.js';
import type { FeatureName } from '../complexity/features.js';
import { defaultConfig, type Config } from '../config/index.js';
import { LoraRouteError } from '../errors.js';
import type { RoutingPolicy } from '../system/policy.js';
import type { LoraAdapter } from '../lora/adapter.js';
import { ADAPTER_CONFIG, loadPeftAdapter } from '../lora/peft.js';
import type { GPT2 } from '../model/gpt2.js';
import { loadGPT2, useHalfWeightsForDecode } from '../model/load.js';
import { findBaseline } from '../system/evaluate-command.js';
import { LoraRouteModel, type Instruction } from '../system/routed-model.js';
import type { BackendName } from '../tensor/select.js';
import { GPT2Tokenizer } from '../tokenizer/gpt2.js';

/** Where a served model id comes from. */
export type ModelKind = 'auto' | 'expert' | 'one_lora' | 'shared' | 'base' | 'adapter';

export interface ModelEntry {
  id: string;
  kind: ModelKind;
  adapter: LoraAdapter | null;
  /** Folder it was loaded from (adapters), if any. */
  path?: string;
}

/** One adapter of a request's row and its weight (gate). */
export interface MixPart {
  adapter: LoraAdapter;
  weight: number;
}

/** The routing trace a response carries (top-level `routing`). */
export interface RoutingInfo {
  /** auto = the run's router chose; forced = the request named the model; base = no adapter. */
  policy: 'auto' | 'forced' | 'base';
  model: string;
  features: Record<FeatureName, number>;
  score: number;
  tier: number;
  /** Router probabilities by expert name (null without a trained run). */
  probabilities: Record<string, number> | null;
  /** The router's top-1 expert (null without a trained run). */
  router_expert: string | null;
  /** With `auto`: the run's routing policy in words (e.g. a fallback to the shared LoRA below τ). */
  routing_policy?: string;
  /** The adapters applied and their weights ([] = the base model). */
  mixture: Array<{ name: string; weight: number }>;
}

export interface Resolved {
  mix: MixPart[];
  routing: RoutingInfo;
  /** The value of the X-LoraRoute-Expert header: the adapter used, names joined by "+", or "base". */
  expert: string;
}

export interface LoadSystemOptions {
  /** A trained folder (RUN/best_model): experts, router, config, baseline. */
  modelDir?: string;
  /** A Hugging Face GPT-2 folder (alone: a plain model; with modelDir: overrides the saved base). */
  model?: string;
  /** Extra PEFT adapters, by name. */
  adapters?: Array<{ name: string; dir: string }>;
  backend?: BackendName;
  /** Decode with the fp32 weights and fp32 KV caches (default: an fp16 copy and fp16 caches on the native backend, as `generate` does). */
  fp32Weights?: boolean;
}

const argmax = (p: number[]): number => p.reduce((best, v, k) => (v > p[best] ? k : best), 0);

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/**
 * The models a server offers: `auto` (the run's router), each expert, `one_lora` (the run's baseline),
 * `shared` (a warm-start LoRA), `base`, and PEFT adapters loaded at start or at run time. All share one base.
 */
export class ModelRegistry {
  readonly analyzer: ComplexityAnalyzer;
  readonly config: Config;
  /** Bumped whenever the adapter list changes. */
  version = 0;
  private readonly entries = new Map<string, ModelEntry>();
  private adapterList: LoraAdapter[] = [];

  constructor(readonly model: GPT2, readonly tokenizer: GPT2Tokenizer, readonly routed: LoraRouteModel | null, readonly created = Math.floor(Date.now() / 1000)) {
    this.config = routed?.config ?? defaultConfig();
    this.analyzer = routed?.analyzer ?? new ComplexityAnalyzer({ thresholds: this.config.model.complexity_thresholds });
    if (routed) {
      this.add({ id: 'auto', kind: 'auto', adapter: null });
      for (const e of routed.experts) this.add({ id: e.name, kind: 'expert', adapter: e });
    }
    this.add({ id: 'base', kind: 'base', adapter: null });
  }

  /** Loads what `loraroute serve` was given. */
  static load(o: LoadSystemOptions): ModelRegistry {
    if (!o.modelDir && !o.model) throw new LoraRouteError('serve: give --model-dir RUN/best_model (a trained run) or --model DIR (a plain GPT-2)');
    let reg: ModelRegistry;
    if (o.modelDir) {
      const sys = LoraRouteModel.fromPretrained(o.modelDir, { model: o.model, backend: o.backend });
      reg = new ModelRegistry(sys.model, sys.tokenizer, sys);
      const base = findBaseline(o.modelDir, sys.model.config);
      if (base.adapter && base.dir) reg.add({ id: 'one_lora', kind: 'one_lora', adapter: base.adapter, path: base.dir });
      // the warm-start LoRA: the routed model's own copy (its fallback policy's target), so `auto` and `shared` share one adapter
      const shared = join(o.modelDir, 'shared');
      if (sys.shared) reg.add({ id: 'shared', kind: 'shared', adapter: sys.shared, path: shared });
      else if (existsSync(join(shared, ADAPTER_CONFIG))) reg.add({ id: 'shared', kind: 'shared', adapter: loadPeftAdapter(shared, sys.model.config, 'shared'), path: shared });
    } else {
      const dir = o.model as string;
      const model = loadGPT2(dir, { backend: o.backend });
      reg = new ModelRegistry(model, GPT2Tokenizer.fromDir(dir), null);
    }
    if (!o.fp32Weights) useHalfWeightsForDecode(reg.model);
    for (const a of o.adapters ?? []) reg.loadAdapter(a.name, a.dir);
    return reg;
  }

  /** Model ids in order: auto first. */
  list(): ModelEntry[] {
    return [...this.entries.values()];
  }

  get(id: string): ModelEntry | undefined {
    return this.entries.get(id);
  }

  /** Every adapter a row may use, in a fixed order (the gate columns of a batch). */
  get adapters(): LoraAdapter[] {
    return this.adapterList;
  }

  /** Loads a PEFT adapter folder under `name` (vLLM's load_lora_adapter). */
  loadAdapter(name: string, dir: string): ModelEntry {
    if (!ID_RE.test(name)) throw new LoraRouteError(`adapter name "${name}": use 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit`, 'E_BAD_NAME');
    if (this.entries.has(name)) throw new LoraRouteError(`adapter name "${name}" is already a model id (see GET /v1/models); unload it first or pick another name`, 'E_EXISTS');
    const adapter = loadPeftAdapter(dir, this.model.config, name);
    const entry: ModelEntry = { id: name, kind: 'adapter', adapter, path: dir };
    this.add(entry);
    return entry;
  }

  /** Unloads an adapter loaded by name; `inUse` says whether a request still needs it. */
  unloadAdapter(name: string, inUse: (a: LoraAdapter) => boolean): void {
    const e = this.entries.get(name);
    if (!e) throw new LoraRouteError(`no model "${name}" is loaded`, 'E_NOT_FOUND');
    if (e.kind !== 'adapter') throw new LoraRouteError(`model "${name}" is part of the served run (${e.kind}) and cannot be unloaded; only adapters loaded with --adapter or /v1/load_lora_adapter can`, 'E_BUILTIN');
    if (e.adapter && inUse(e.adapter)) throw new LoraRouteError(`adapter "${name}" is serving requests right now; try again when they finish`, 'E_IN_USE');
    this.entries.delete(name);
    this.syncAdapters();
  }

  /** The adapters and routing trace of one request for model `id`. */
  resolve(id: string, prompt: Instruction, topK?: number): Resolved {
    const e = this.entries.get(id);
    if (!e) throw new LoraRouteError(`model "${id}" does not exist; available: ${[...this.entries.keys()].join(', ')}`, 'E_MODEL');
    const trace = this.trace(prompt, topK);
    let mix: MixPart[];
    if (e.kind === 'auto') {
      // the routed model's adapters: its experts, then the shared LoRA (the fallback policy's target) when there is one
      const adapters = (this.routed as LoraRouteModel).mixture.adapters;
      mix = trace.mixture.map((m) => ({ adapter: adapters.find((x) => x.name === m.name) as LoraAdapter, weight: m.weight }));
    } else {
      mix = e.adapter ? [{ adapter: e.adapter, weight: 1 }] : [];
      trace.mixture = mix.map((m) => ({ name: m.adapter.name, weight: 1 }));
      trace.policy = e.adapter ? 'forced' : 'base';
    }
    trace.model = id;
    return { mix, routing: trace, expert: mix.length ? mix.map((m) => m.adapter.name).join('+') : 'base' };
  }

  /** Analyzer (and router, for a trained run) on one prompt. */
  trace(prompt: Instruction, topK?: number): RoutingInfo {
    if (this.routed) {
      const policy: RoutingPolicy | undefined = topK === undefined ? undefined : topK > 1 ? { kind: 'topk', k: Math.min(topK, this.routed.experts.length) } : { kind: 'top1' };
      const [t] = this.routed.route([prompt], policy);
      const names = this.routed.expertNames;
      return {
        policy: 'auto', routing_policy: t.policy, model: 'auto', features: t.features, score: t.score, tier: t.tier,
        probabilities: Object.fromEntries(names.map((n, k) => [n, t.probabilities[k]])), router_expert: names[argmax(t.probabilities)],
        mixture: t.mixture.map((m) => ({ name: m.name, weight: m.weight })),
      };
    }
    const a = this.analyzer.analyze(prompt.instruction, prompt.input ?? '');
    return { policy: 'base', model: 'base', features: a.features, score: a.score, tier: a.tier, probabilities: null, router_expert: null, mixture: [] };
  }

  private add(e: ModelEntry): void {
    this.entries.set(e.id, e);
    this.syncAdapters();
  }

  private syncAdapters(): void {
    this.adapterList = [...this.entries.values()].flatMap((e) => (e.adapter ? [e.adapter] : []));
    this.version++;
  }
}
