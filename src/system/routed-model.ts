import { ComplexityAnalyzer } from '../complexity/analyzer.js';
import type { FeatureName } from '../complexity/features.js';
import type { Config } from '../config/index.js';
import { alpacaPrompt } from '../data/template.js';
import type { GPT2 } from '../model/gpt2.js';
import { loadGPT2 } from '../model/load.js';
import { generateText, type GenerateTextOptions, type GeneratedText } from '../model/text.js';
import type { LoraAdapter } from '../lora/adapter.js';
import { LoraMixture } from '../lora/mixture.js';
import type { Router } from '../router/router.js';
import { describePolicy, policyGates, policyOfConfig, type RoutingPolicy } from './policy.js';
import type { Clusters } from './clusters.js';
import type { Selection } from './selection.js';
import type { Backend } from '../tensor/backend.js';
import type { BackendName } from '../tensor/select.js';
import { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import { LoraRouteError } from '../errors.js';
import { routerFeatures, ROUTER_FEATURE_NAMES } from './prepared.js';
import { pooledPromptStates } from './pooled.js';
import { loadSystemParts, readSystemConfig } from './saved.js';

/** An instruction, with an optional input, as in Alpaca. */
export interface Instruction {
  instruction: string;
  input?: string;
}

/** Why a prompt went where it went. */
export interface RoutingTrace {
  features: Record<FeatureName, number>;
  score: number;
  /** The analyzer's tier (by the configured thresholds). */
  tier: number;
  /** Router probabilities over the experts. */
  probabilities: number[];
  /** The adapter used (the heaviest one of a mix): an expert's index, or K for the shared LoRA; and its name. */
  expert: number;
  expertName: string;
  /** Adapters actually mixed and their weights (one entry with weight 1 for a hard policy); `shared` has index K. */
  mixture: Array<{ expert: number; name: string; weight: number }>;
  /** The routing policy that turned probabilities into the mixture. */
  policy: string;
}

export interface RoutedGeneration extends GeneratedText {
  routing: RoutingTrace;
}

export interface FromPretrainedOptions {
  /** Base GPT-2 folder; default: the one the saved config names. */
  model?: string;
  backend?: Backend | BackendName;
}

/**
 * A trained mixture of LoRA experts: analyzer → router → expert(s) → GPT-2. Experts share one frozen base
 * in memory; a batch of prompts runs as one batch with a different expert (or mix) per row.
 */
export class LoraRouteModel {
  readonly mixture: LoraMixture;
  readonly analyzer: ComplexityAnalyzer;

  /** The policy this model serves (from its config). */
  readonly policy: RoutingPolicy;

  constructor(
    readonly model: GPT2, readonly tokenizer: GPT2Tokenizer, readonly experts: LoraAdapter[], readonly router: Router,
    readonly config: Config, analyzer?: ComplexityAnalyzer, readonly parts: { shared?: LoraAdapter | null; clusters?: Clusters | null; selection?: Selection | null } = {},
  ) {
    this.mixture = new LoraMixture(parts.shared ? [...experts, parts.shared] : experts, model.backend);
    const rp = config.generation.routing_policy;
    this.policy = policyOfConfig(rp === 'auto' ? { ...config.generation, routing_policy: 'topk' } : config.generation, experts.length);
    if (this.policy.kind === 'fallback' && !parts.shared) throw new LoraRouteError('the config serves the fallback policy but the model folder has no shared/ LoRA');
    this.analyzer = analyzer ?? new ComplexityAnalyzer({ thresholds: config.model.complexity_thresholds });
    const F = router.meta.featureNames;
    if (F.length !== ROUTER_FEATURE_NAMES.length || F.some((n, i) => n !== ROUTER_FEATURE_NAMES[i])) {
      throw new LoraRouteError(`router was trained on features [${F.slice(0, 4).join(', ')}, ...] (${F.length}), this analyzer gives ${ROUTER_FEATURE_NAMES.length}: retrain the router`);
    }
  }

  /** Loads RUN/best_model or RUN/final_model (or any folder saveSystem wrote). */
  static fromPretrained(dir: string, opts: FromPretrainedOptions = {}): LoraRouteModel {
    const { config, modelDir } = readSystemConfig(dir, opts.model);
    const model = loadGPT2(modelDir, { backend: opts.backend ?? config.model.backend });
    const tokenizer = GPT2Tokenizer.fromDir(modelDir);
    const { experts, router, shared, clusters, selection } = loadSystemParts(dir, model.config);
    return new LoraRouteModel(model, tokenizer, experts, router, config, undefined, { shared, clusters, selection });
  }

  get expertNames(): string[] {
    return this.experts.map((e) => e.name);
  }

  /** The shared warm-start LoRA, or null. */
  get shared(): LoraAdapter | null {
    return this.parts.shared ?? null;
  }

  /** Names of the adapters the gates index: the experts, then `shared` when there is one. */
  get adapterNames(): string[] {
    return this.mixture.adapters.map((a) => a.name);
  }

  /** Routes prompts: features, score, router probabilities, and the adapters the policy mixes (default: the served one). */
  route(prompts: Instruction[], policy: RoutingPolicy = this.policy): RoutingTrace[] {
    const B = prompts.length;
    const F = ROUTER_FEATURE_NAMES.length;
    const K = this.experts.length;
    const x = new Float32Array(B * F);
    const analyses = prompts.map((p, b) => {
      const a = this.analyzer.analyze(p.instruction, p.input ?? '');
      x.set(routerFeatures(a), b * F);
      return a;
    });
    let pooled: Float32Array | null = null;
    if (this.router.meta.pooledDim > 0) {
      const ids = prompts.map((p) => {
        const t = this.tokenizer.encode(alpacaPrompt(p.instruction, p.input));
        return { ids: t, promptLength: t.length };
      });
      pooled = pooledPromptStates(this.model, ids, 16, this.tokenizer.eosTokenId);
    }
    const { probs } = this.router.route(x, pooled, B);
    const W = this.mixture.K;
    const gates = policyGates(probs, B, K, policy, W > K);
    const names = this.adapterNames;
    return analyses.map((a, b) => {
      const p = Array.from(probs.subarray(b * K, (b + 1) * K));
      const mixture = Array.from({ length: W }, (_, e) => ({ expert: e, name: names[e], weight: gates[b * W + e] }))
        .filter((m) => m.weight > 0)
        .sort((u, v) => v.weight - u.weight || u.expert - v.expert);
      const expert = mixture[0].expert;
      return { features: a.features, score: a.score, tier: a.tier, probabilities: p, expert, expertName: names[expert], mixture, policy: describePolicy(policy) };
    });
  }

  /**
   * Routes each prompt and generates its response with the Alpaca template, all prompts as one batch
   * (each row with its own expert or mix). Every result carries its routing trace.
   */
  generate(prompts: Array<Instruction | string>, opts: GenerateTextOptions & { policy?: RoutingPolicy } = {}): RoutedGeneration[] {
    const items = prompts.map((p) => (typeof p === 'string' ? { instruction: p } : p));
    const traces = this.route(items, opts.policy);
    const W = this.mixture.K;
    const gates = new Float32Array(items.length * W);
    traces.forEach((t, b) => { for (const m of t.mixture) gates[b * W + m.expert] = m.weight; });
    this.mixture.setGates(gates, items.length);
    const g = this.config.generation;
    const texts = items.map((p) => alpacaPrompt(p.instruction, p.input));
    const { policy: _p, ...gen } = opts;
    const out = generateText(this.model, this.tokenizer, texts, {
      maxNewTokens: g.max_new_tokens, temperature: g.temperature, topK: g.top_k, topP: g.top_p, seed: g.seed, ...gen, hook: this.mixture,
    });
    return out.map((r, b) => ({ ...r, routing: traces[b] }));
  }
}
