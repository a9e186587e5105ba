import { LoraRouteError } from '../errors.js';
import { quoteText, quoteValue } from '../io/user-file.js';
import type { GPT2Config } from '../model/config.js';

/**
 * LoRA settings, in the shape of PEFT's `adapter_config.json` (snake_case keys are the file format;
 * see `toAdapterConfigJson` / `parseAdapterConfig`).
 */
export interface LoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  /** Module-name suffixes (`c_attn` matches `transformer.h.0.attn.c_attn`), or one regex matched in full. */
  targetModules: string[] | string;
  useRslora: boolean;
  /** GPT-2's Conv1D stores weights [in, out]; PEFT sets this true for it (and so do we). */
  fanInFanOut: boolean;
  /** Only these block indices get adapters (null or empty = all). Applies to suffix matches only, as in PEFT. */
  layersToTransform: number[] | null;
  /** Modules never adapted even when targeted (PEFT's exclude_modules): suffixes, or one regex matched in full. */
  excludeModules?: string[] | string | null;
  /** Per-module rank / alpha overrides (PEFT's rank_pattern / alpha_pattern). */
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  /** Recorded in the file for provenance. */
  baseModelNameOrPath: string | null;
}

export function defaultLoraConfig(over: Partial<LoraConfig> = {}): LoraConfig {
  return {
    r: 16, loraAlpha: 32, loraDropout: 0.05, targetModules: ['c_attn', 'c_proj'], useRslora: false, fanInFanOut: true,
    layersToTransform: null, excludeModules: null, rankPattern: {}, alphaPattern: {}, baseModelNameOrPath: null, ...over,
  };
}

/** PEFT's rule: a pattern key matches a module when the module name ends with it (at a dot boundary). */
function patternValue(pattern: Record<string, number>, moduleName: string): number | undefined {
  for (const [key, value] of Object.entries(pattern)) {
    if (new RegExp(`^(.*\\.)?(${key})$`).test(moduleName)) return value;
  }
  return undefined;
}

/** A list of names matches a module by full name or by suffix at a dot; a string is a regex over the full name. */
function namesMatch(names: string[] | string, moduleName: string): boolean {
  if (typeof names === 'string') return new RegExp(`^(?:${names})$`).test(moduleName);
  return names.some((t) => moduleName === t || moduleName.endsWith('.' + t));
}

/**
 * Does `moduleName` (e.g. `transformer.h.3.mlp.c_proj`) get an adapter under this config? PEFT's rule
 * (check_target_module_exists): excluded modules never; a regex or an exact full name regardless of
 * layers_to_transform; a suffix match only in the listed layers.
 */
export function targetsModule(cfg: LoraConfig, moduleName: string, layer: number): boolean {
  if (cfg.excludeModules && namesMatch(cfg.excludeModules, moduleName)) return false;
  const t = cfg.targetModules;
  if (typeof t === 'string' || t.includes(moduleName)) return namesMatch(t, moduleName);
  if (!namesMatch(t, moduleName)) return false;
  const layers = cfg.layersToTransform;
  return !layers || layers.length === 0 || layers.includes(layer);
}

/** Rank and scaling of one module (patterns applied; rslora scales by alpha / sqrt(r)). */
export function moduleRankScaling(cfg: LoraConfig, moduleName: string): { r: number; scaling: number } {
  const r = patternValue(cfg.rankPattern, moduleName) ?? cfg.r;
  const alpha = patternValue(cfg.alphaPattern, moduleName) ?? cfg.loraAlpha;
  return { r, scaling: cfg.useRslora ? alpha / Math.sqrt(r) : alpha / r };
}

/** Compiles a regex from a config key (target_modules, exclude_modules, a pattern key); a bad one names both. */
function checkRegex(pattern: string, wrap: (p: string) => string, key: string, where: string): void {
  try {
    new RegExp(wrap(pattern));
  } catch (e) {
    throw new LoraRouteError(`${where}: ${key} ${quoteValue(pattern)} is not a valid regular expression (${quoteText((e as Error).message, 200)})`);
  }
}
const fullMatch = (p: string): string => `^(?:${p})$`;

/** Checks a rank_pattern / alpha_pattern object: regex keys, positive values (integers for ranks). */
function checkPattern(pattern: Record<string, unknown>, key: 'rank_pattern' | 'alpha_pattern', where: string): void {
  for (const [k, v] of Object.entries(pattern)) {
    checkRegex(k, (p) => `^(.*\\.)?(${p})$`, `${key} key`, where);
    const ok = typeof v === 'number' && Number.isFinite(v) && v > 0 && (key === 'alpha_pattern' || Number.isInteger(v));
    if (!ok) {
      throw new LoraRouteError(`${where}: ${key}[${quoteValue(k)}] must be a positive ${key === 'rank_pattern' ? 'integer' : 'number'}, got ${quoteValue(v)}`);
    }
  }
}

export function validateLoraConfig(cfg: LoraConfig, where: string): void {
  if (!Number.isInteger(cfg.r) || cfg.r <= 0) throw new LoraRouteError(`${where}: r must be a positive integer, got ${cfg.r}`);
  if (!(typeof cfg.loraAlpha === 'number' && cfg.loraAlpha > 0)) throw new LoraRouteError(`${where}: lora_alpha must be a positive number, got ${cfg.loraAlpha}`);
  if (!(cfg.loraDropout >= 0 && cfg.loraDropout < 1)) throw new LoraRouteError(`${where}: lora_dropout must be in [0, 1), got ${cfg.loraDropout}`);
  const t = cfg.targetModules;
  if (!(typeof t === 'string' ? t.length > 0 : Array.isArray(t) && t.length > 0 && t.every((x) => typeof x === 'string' && x.length > 0))) {
    throw new LoraRouteError(`${where}: target_modules must be a non-empty list of module names or a regex string`);
  }
  // PEFT's LoraConfig refuses this pair, so an adapter saved with it would not load there
  if (typeof t === 'string' && cfg.layersToTransform !== null) {
    throw new LoraRouteError(`${where}: layers_to_transform cannot be used when target_modules is a regex string (PEFT refuses it); put the layers in the regex`);
  }
  const x = cfg.excludeModules;
  if (!(x === undefined || x === null || typeof x === 'string' || (Array.isArray(x) && x.every((e) => typeof e === 'string')))) {
    throw new LoraRouteError(`${where}: exclude_modules must be a list of module names, a regex string or null`);
  }
  if (typeof t === 'string') checkRegex(t, fullMatch, 'target_modules (a regex)', where);
  if (typeof x === 'string') checkRegex(x, fullMatch, 'exclude_modules (a regex)', where);
  const layers = cfg.layersToTransform;
  if (layers !== null && !(Array.isArray(layers) && layers.every((l) => Number.isInteger(l) && l >= 0))) {
    throw new LoraRouteError(`${where}: layers_to_transform must be a list of layer indices (integers >= 0), got ${quoteValue(layers)}`);
  }
  checkPattern(cfg.rankPattern, 'rank_pattern', where);
  checkPattern(cfg.alphaPattern, 'alpha_pattern', where);
}

/**
 * A LoRA rank above a module's smaller side adds nothing (B A has rank at most min(in, out)) and a huge one
 * only exhausts memory: every rank (r and rank_pattern values) is at most min(n_embd, n_inner), the smaller
 * side of GPT-2's narrowest linear module.
 */
export function checkRankForModel(cfg: LoraConfig, model: GPT2Config, where: string): void {
  const limit = Math.min(model.nEmbd, model.nInner);
  const ranks: Array<[string, number]> = [['r', cfg.r], ...Object.entries(cfg.rankPattern).map(([k, v]): [string, number] => [`rank_pattern[${quoteValue(k)}]`, v])];
  for (const [key, r] of ranks) {
    if (r > limit) {
      throw new LoraRouteError(
        `${where}: ${key} = ${r} exceeds the layer widths of this model (at most min(n_embd ${model.nEmbd}, n_inner ${model.nInner}) = ${limit})`,
      );
    }
  }
}

/** The `adapter_config.json` object PEFT writes for this config (PEFT loads it unchanged). */
export function toAdapterConfigJson(cfg: LoraConfig): Record<string, unknown> {
  return {
    alpha_pattern: cfg.alphaPattern,
    auto_mapping: null,
    base_model_name_or_path: cfg.baseModelNameOrPath,
    bias: 'none',
    fan_in_fan_out: cfg.fanInFanOut,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: cfg.layersToTransform,
    exclude_modules: cfg.excludeModules ?? null,
    lora_alpha: cfg.loraAlpha,
    lora_dropout: cfg.loraDropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: cfg.r,
    rank_pattern: cfg.rankPattern,
    revision: null,
    target_modules: cfg.targetModules,
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: cfg.useRslora,
  };
}

/** Reads PEFT's `adapter_config.json` object; refuses what loraroute does not implement, by name. */
export function parseAdapterConfig(raw: unknown, file: string): LoraConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new LoraRouteError(`${file}: expected a JSON object`);
  const o = raw as Record<string, unknown>;
  if (o.peft_type !== undefined && o.peft_type !== 'LORA') throw new LoraRouteError(`${file}: peft_type ${quoteValue(o.peft_type)} is not supported (expected LORA)`);
  const refuse = (key: string, ok: (v: unknown) => boolean, what: string) => {
    if (o[key] !== undefined && !ok(o[key])) throw new LoraRouteError(`${file}: ${key} = ${quoteValue(o[key])} is not supported (${what})`);
  };
  const empty = (v: unknown) => v === null || v === false || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
  refuse('use_dora', (v) => v === false || v === null, 'DoRA adapters');
  refuse('bias', (v) => v === 'none', 'only bias "none"');
  refuse('modules_to_save', empty, 'modules_to_save');
  refuse('layers_pattern', (v) => v === null || typeof v === 'string', 'layers_pattern');
  refuse('lora_bias', (v) => v === false, 'lora_bias');
  const num = (key: string, fallback?: number): number => {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new LoraRouteError(`${file}: "${key}" must be a number, got ${quoteValue(o[key])}`);
    return v;
  };
  const target = o.target_modules;
  if (!(typeof target === 'string' || (Array.isArray(target) && target.every((t) => typeof t === 'string')))) {
    throw new LoraRouteError(`${file}: "target_modules" must be a list of module names or a regex string, got ${quoteValue(target)}`);
  }
  let layers: number[] | null = null;
  const lt = o.layers_to_transform;
  if (typeof lt === 'number') layers = [lt];
  else if (Array.isArray(lt)) layers = lt as number[]; // checked by validateLoraConfig
  else if (lt !== undefined && lt !== null) throw new LoraRouteError(`${file}: "layers_to_transform" must be a layer index or a list of them, got ${quoteValue(lt)}`);
  const patterns = (key: string): Record<string, number> => {
    const v = o[key];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw new LoraRouteError(`${file}: "${key}" must be an object {module pattern: number}, got ${quoteValue(v)}`);
    return v as Record<string, number>;
  };
  const cfg: LoraConfig = {
    r: num('r', 8),
    loraAlpha: num('lora_alpha', 8),
    loraDropout: num('lora_dropout', 0),
    targetModules: target as string[] | string,
    useRslora: o.use_rslora === true,
    fanInFanOut: o.fan_in_fan_out === true,
    layersToTransform: layers,
    excludeModules: o.exclude_modules === undefined ? null : (o.exclude_modules as string[] | string | null),
    rankPattern: patterns('rank_pattern'),
    alphaPattern: patterns('alpha_pattern'),
    baseModelNameOrPath: typeof o.base_model_name_or_path === 'string' ? o.base_model_name_or_path : null,
  };
  validateLoraConfig(cfg, file);
  return cfg;
}
