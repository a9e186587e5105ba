/**
 * The config schema: every key of a loraroute run in one declarative table — type, default, allowed
 * range or values, one-line doc. Validation (load.ts), the `Config` type and docs/config.md are all derived
 * from this table, so code, checks and documentation cannot drift apart.
 *
 * Adding a key: add one line here, use it, run `npm run docs:config`, and list it in configs/default.yaml
 * (a test checks that default.yaml names every key).
 */
import { bool, int, num, numList, oneOf, str, strList, type Field } from './fields.js';
import { closest } from './suggest.js';

/** The word for "the repo's models/tiny-gpt2" in `model.base_model_name`. */
export const BUNDLED = 'bundled';

/** Most experts a run may have: each needs its own tier of training data, and the router one output each. */
export const MAX_EXPERTS = 64;

/** GPT-2 Conv1D module names LoRA can target (PEFT matches a target by name suffix). */
export const GPT2_LORA_MODULES = ['c_attn', 'c_proj', 'c_fc'] as const;

function checkTargetModule(name: string): string | undefined {
  // PEFT matches by suffix: `c_proj`, `attn.c_proj` and `transformer.h.0.attn.c_proj` are all fine.
  const leaf = name.split('.').pop() ?? name;
  if ((GPT2_LORA_MODULES as readonly string[]).includes(leaf)) return undefined;
  const hint = closest(leaf, GPT2_LORA_MODULES);
  return `not a GPT-2 module LoRA can target (expected a name ending in ${GPT2_LORA_MODULES.join(', ')})${
    hint ? `; did you mean '${hint}'?` : ''
  }`;
}

export const SCHEMA = {
  model: {
    base_model_name: str({
      default: BUNDLED,
      path: true,
      keep: [BUNDLED],
      doc: 'Hugging Face GPT-2 folder (config.json, model.safetensors, tokenizer), relative to the config file; `bundled` = the repo\'s models/tiny-gpt2',
    }),
    num_experts: int({ default: 3, min: 1, max: MAX_EXPERTS, doc: 'Number of LoRA experts (one per complexity tier)' }),
    complexity_thresholds: numList({
      default: [0.3, 0.7],
      item: { min: 0, max: 1, minExclusive: true, maxExclusive: true },
      ascending: true,
      doc: 'Score cut points between tiers, num_experts - 1 of them; when omitted and num_experts is not 3, evenly spaced k/num_experts',
    }),
    lora_rank: int({ default: 16, min: 1, doc: 'LoRA rank r of every expert' }),
    lora_alpha: num({ default: 32, min: 0, minExclusive: true, doc: 'LoRA alpha; the update is scaled by alpha/r (alpha/sqrt(r) with use_rslora)' }),
    lora_dropout: num({ default: 0.05, min: 0, max: 1, maxExclusive: true, doc: 'Dropout on the LoRA input during training' }),
    use_rslora: bool({ default: false, doc: 'Rank-stabilised LoRA scaling alpha/sqrt(r) (PEFT use_rslora)' }),
    target_modules: strList({
      default: ['c_attn', 'c_proj'],
      nonEmpty: true,
      unique: true,
      allowed: `names ending in ${GPT2_LORA_MODULES.map((m) => `\`${m}\``).join(', ')}`,
      item: checkTargetModule,
      doc: 'Modules that get LoRA, matched by name suffix as PEFT does (`c_proj` = attn.c_proj and mlp.c_proj)',
    }),
    router_hidden_dim: int({ default: 256, min: 1, doc: 'Width of the router MLP hidden layer' }),
    router_dropout: num({ default: 0.1, min: 0, max: 1, maxExclusive: true, doc: 'Dropout in the router MLP during training' }),
    router_use_hidden_state: bool({
      default: true,
      doc: 'Also feed the router the base model\'s masked mean-pooled last hidden state of the prompt (besides features and score)',
    }),
    expert_assignment: oneOf(['complexity', 'cluster', 'oracle_em'], {
      default: 'cluster',
      doc: 'How training examples are split among the experts: `complexity` = analyzer tiers (the original system), `cluster` = balanced k-means on the base model\'s mean-pooled prompt states, `oracle_em` = clusters, then `training.em_rounds` rounds of reassigning each example to the expert copy that fits it best (cross-fitted: copies trained on the other folds; balanced)',
    }),
    backend: oneOf(['auto', 'native', 'reference'], {
      default: 'auto',
      doc: 'Compute backend: `native` (C addon + OpenBLAS), `reference` (pure TypeScript), `auto` = native when it loads',
    }),
  },
  training: {
    batch_size: int({ default: 8, min: 1, doc: 'Examples per micro-batch in phases 1 and 3 (and the one-LoRA baseline)' }),
    learning_rate: num({ default: 2e-4, min: 0, minExclusive: true, doc: 'Peak learning rate of phase 1 (each expert on its tier) and of the one-LoRA baseline' }),
    router_learning_rate: num({ default: 1e-3, min: 0, minExclusive: true, doc: 'Peak learning rate of phase 2 (the router alone)' }),
    joint_learning_rate: num({ default: 5e-5, min: 0, minExclusive: true, doc: 'Peak learning rate of phase 3 (experts and router jointly)' }),
    shared_epochs: int({
      default: 1,
      min: 0,
      doc: 'Warm start (branch-train-mix): epochs of one shared LoRA on all training data before the experts branch from it and continue on their groups; 0 = cold-start experts',
    }),
    branch_learning_rate: num({
      default: 0,
      min: 0,
      doc: 'With a warm start: peak learning rate of everything that continues from the shared LoRA (the experts, their cross-fitted copies and the one-LoRA baseline\'s continuation); 0 = learning_rate',
    }),
    num_epochs: int({
      default: 1,
      min: 0,
      doc: 'Epochs of phase 1 (each expert over its own group); 0 = the experts stay at their branch point (the shared LoRA, or their initialisation) and only phase 3 trains them',
    }),
    router_epochs: int({ default: 5, min: 0, doc: 'Epochs of phase 2 (router); 0 skips the phase' }),
    joint_epochs: int({ default: 0, min: 0, doc: 'Epochs of phase 3 (joint); 0 skips the phase' }),
    share_expert_a: bool({
      default: false,
      doc: 'Phase 3: the experts share one A matrix per module (the mean of theirs at the start) and keep their own B (HydraLoRA); saved as ordinary PEFT adapters with equal A',
    }),
    em_rounds: int({
      default: 1,
      min: 1,
      max: 5,
      doc: '`expert_assignment: oracle_em`: rounds of cross-fitted reassignment before phase 1 (each round trains `crossfit_folds` copies of every expert; their tokens count as budget.labelling_tokens)',
    }),
    router_batch_size: int({ default: 32, min: 1, doc: 'Examples per batch in phase 2 (the router trains on features, so larger batches are cheap)' }),
    warmup_steps: int({ default: 100, min: 0, doc: 'Linear warm-up optimiser steps at the start of each training run (each expert, the router, the joint phase)' }),
    schedule: oneOf(['cosine', 'linear', 'constant'], { default: 'cosine', doc: 'Learning-rate decay after warm-up' }),
    min_lr_ratio: num({
      default: 0.1,
      min: 0,
      max: 1,
      doc: 'Floor of the decay as a fraction of the peak rate, reached only at the last step (never zero early)',
    }),
    weight_decay: num({ default: 0.01, min: 0, doc: 'AdamW decoupled weight decay' }),
    gradient_accumulation_steps: int({ default: 1, min: 1, doc: 'Micro-batches per optimiser step' }),
    max_grad_norm: num({ default: 1.0, min: 0, doc: 'Clip gradients to this global L2 norm; 0 = no clipping' }),
    load_balance_weight: num({ default: 0.1, min: 0, doc: 'Weight of the Switch-style load-balance loss on the router (phases 2 and 3)' }),
    score_regression_weight: num({ default: 0, min: 0, doc: 'Weight of an auxiliary loss regressing the complexity score from the router; 0 = off' }),
    router_label: oneOf(['group', 'tier', 'oracle'], {
      default: 'group',
      doc: 'Phase-2 target: `oracle` = the expert with the lowest loss on the example, scored by cross-fitted expert copies that never trained on it; `group` = the group the expert trained on (tier or cluster); `tier` = the analyzer\'s tier',
    }),
    crossfit_folds: int({
      default: 2,
      min: 2,
      max: 10,
      doc: 'Oracle labels: folds of the cross-fitting; each training example is labelled by expert copies trained on the other folds (their tokens are reported as budget.labelling_tokens)',
    }),
    baseline_lora: bool({
      default: true,
      doc: 'Also train one LoRA on all training data with the experts\' token budget, for the evaluation baseline',
    }),
    eval_every: int({ default: 0, min: 0, doc: 'Validation loss every N optimiser steps; 0 = at the end of each epoch' }),
    save_every: int({ default: 0, min: 0, doc: 'Resumable checkpoint every N optimiser steps; 0 = at the end of each epoch' }),
    log_every: int({ default: 10, min: 1, doc: 'Metrics line (JSONL + progress) every N optimiser steps' }),
    seed: int({ default: 42, min: 0, doc: 'Seed for initialisation, shuffling, dropout and data subsets' }),
    max_steps: int({ default: 0, min: 0, doc: 'Cap on optimiser steps of each training run (each expert, router, joint); 0 = no cap' }),
  },
  data: {
    paths: strList({
      default: [],
      path: true,
      doc: 'Alpaca JSON / JSONL (optionally .gz) files, relative to the config file; [] = the bundled Alpaca shards in data/alpaca',
    }),
    split_modulus: int({
      default: 20,
      min: 3,
      doc: 'Record i (in file order) is test when i % split_modulus == 0, validation when == 1, else train; keep 20 on the bundled data (the bundled model saw only that train split)',
    }),
    max_length: int({ default: 256, min: 8, doc: 'Tokens per example (prompt + response); longer examples lose the end of the response. At most the model\'s n_positions' }),
    train_subset: int({ default: 0, min: 0, doc: 'Train on a seeded random subset of this many train records; 0 = all' }),
    validation_subset: int({ default: 0, min: 0, doc: 'Seeded subset size of the validation split; 0 = all' }),
    test_subset: int({ default: 0, min: 0, doc: 'Seeded subset size of the test split loaded for evaluation; 0 = all' }),
    skip_invalid: bool({ default: false, doc: 'Skip (and count) malformed records instead of stopping with an error naming the record' }),
    loss_on: oneOf(['response', 'all'], { default: 'response', doc: 'Tokens the LM loss covers: `response` (response + end token) or `all` (prompt too)' }),
  },
  eval: {
    bootstrap_samples: int({ default: 1000, min: 0, doc: 'Paired bootstrap resamples for confidence intervals; 0 = no intervals' }),
    seed: int({ default: 42, min: 0, doc: 'Seed for the bootstrap, random routing and the evaluation subset' }),
    subset: int({ default: 0, min: 0, doc: 'Evaluate on a seeded subset of this many loaded test records; 0 = all of them' }),
    batch_size: int({ default: 16, min: 1, doc: 'Examples per forward pass in evaluation' }),
  },
  generation: {
    max_new_tokens: int({ default: 128, min: 1, doc: 'Tokens to generate at most (stops earlier at `<|endoftext|>`)' }),
    temperature: num({ default: 0, min: 0, doc: 'Sampling temperature; 0 = greedy' }),
    top_k: int({ default: 0, min: 0, doc: 'Sample among the k most likely tokens; 0 = no limit (ignored when greedy)' }),
    top_p: num({ default: 1, min: 0, max: 1, minExclusive: true, doc: 'Nucleus sampling mass; 1 = off (ignored when greedy)' }),
    seed: int({ default: 42, min: 0, doc: 'Seed for sampling (temperature > 0)' }),
    template: oneOf(['alpaca', 'raw'], { default: 'alpaca', doc: 'Prompt wrapping: `alpaca` = the Stanford Alpaca template (no input), `raw` = the text as is' }),
    top_k_experts: int({ default: 1, min: 1, doc: 'Experts mixed per prompt by the `topk` policy (top-k renormalised); 1 = top-1' }),
    routing_policy: oneOf(['auto', 'top1', 'topk', 'soft', 'fallback'], {
      default: 'auto',
      doc: 'How router probabilities become adapter gates: `top1`, `topk` (top_k_experts, renormalised), `soft` (all experts weighted by probability), `fallback` (the top expert when its probability exceeds fallback_threshold, else the shared warm-start LoRA), `auto` = the one with the lowest validation loss (chosen after training and saved in the model\'s config)',
    }),
    fallback_threshold: num({
      default: 0.5,
      min: 0,
      max: 1,
      doc: 'τ of the `fallback` policy: route to an expert only when the router\'s top probability exceeds τ (0 = always an expert, 1 = always the shared LoRA); `auto` chooses τ on validation',
    }),
  },
} as const satisfies Record<string, Record<string, Field<unknown>>>;

export type Schema = typeof SCHEMA;
export type SectionName = keyof Schema;
type ValueOf<F> = F extends Field<infer T> ? T : never;

/** A complete, validated run configuration; its shape is derived from SCHEMA. */
export type Config = { -readonly [S in SectionName]: { -readonly [K in keyof Schema[S]]: ValueOf<Schema[S][K]> } };
export type ModelConfig = Config['model'];
export type TrainingConfig = Config['training'];
export type DataConfig = Config['data'];
export type EvalConfig = Config['eval'];
export type GenerationConfig = Config['generation'];
/** `section.key`, e.g. `model.lora_rank`. */
export type ConfigKey = { [S in SectionName]: `${S}.${keyof Schema[S] & string}` }[SectionName];

export const SECTIONS = Object.keys(SCHEMA) as SectionName[];

/** The field of `section.key`, or undefined. */
export function fieldOf(section: string, key: string): Field<unknown> | undefined {
  if (!Object.hasOwn(SCHEMA, section)) return undefined;
  const s = SCHEMA[section as SectionName] as Record<string, Field<unknown>>;
  return Object.hasOwn(s, key) ? s[key] : undefined;
}

/** Every key as `section.key`, in schema order. */
export function allKeys(): ConfigKey[] {
  const out: string[] = [];
  for (const s of SECTIONS) for (const k of Object.keys(SCHEMA[s])) out.push(`${s}.${k}`);
  return out as ConfigKey[];
}

/** A fresh config holding every default (arrays copied, so callers may mutate it). */
export function defaultConfig(): Config {
  const out: Record<string, Record<string, unknown>> = {};
  for (const s of SECTIONS) {
    out[s] = {};
    for (const [k, f] of Object.entries(SCHEMA[s] as Record<string, Field<unknown>>)) out[s][k] = structuredClone(f.default);
  }
  return out as Config;
}

/** Evenly spaced tier cut points k/n, k = 1..n-1 (the default when num_experts is not 3). */
export function evenThresholds(numExperts: number): number[] {
  return Array.from({ length: Math.max(0, numExperts - 1) }, (_, i) => Math.round(((i + 1) / numExperts) * 1e4) / 1e4);
}

/** A rule that involves more than one key. `check` returns a problem text or undefined. */
export interface CrossCheck {
  keys: readonly ConfigKey[];
  doc: string;
  check(c: Config): string | undefined;
}

export const CROSS_CHECKS: readonly CrossCheck[] = [
  {
    keys: ['model.complexity_thresholds', 'model.num_experts'],
    doc: '`model.complexity_thresholds` has exactly `model.num_experts - 1` values',
    check: (c) =>
      c.model.complexity_thresholds.length === c.model.num_experts - 1
        ? undefined
        : `model.complexity_thresholds has ${c.model.complexity_thresholds.length} value(s) ${JSON.stringify(c.model.complexity_thresholds)} ` +
          `but model.num_experts = ${c.model.num_experts} needs ${c.model.num_experts - 1} (one cut point between neighbouring tiers)`,
  },
  {
    keys: ['generation.top_k_experts', 'model.num_experts'],
    doc: '`generation.top_k_experts` is at most `model.num_experts`',
    check: (c) =>
      c.generation.top_k_experts <= c.model.num_experts
        ? undefined
        : `generation.top_k_experts = ${c.generation.top_k_experts} exceeds model.num_experts = ${c.model.num_experts}`,
  },
  {
    keys: ['training.warmup_steps', 'training.max_steps'],
    doc: 'with a step cap, `training.warmup_steps` is below `training.max_steps` (else the rate never leaves warm-up)',
    check: (c) =>
      c.training.max_steps === 0 || c.training.warmup_steps < c.training.max_steps
        ? undefined
        : `training.warmup_steps = ${c.training.warmup_steps} is not below training.max_steps = ${c.training.max_steps}: ` +
          'the learning rate would never leave warm-up',
  },
  {
    keys: ['training.share_expert_a', 'training.joint_epochs'],
    doc: '`training.share_expert_a` needs a joint phase (`training.joint_epochs` ≥ 1): A is shared there',
    check: (c) =>
      !c.training.share_expert_a || c.training.joint_epochs > 0
        ? undefined
        : 'training.share_expert_a = true needs training.joint_epochs ≥ 1 (the experts share A in the joint phase)',
  },
  {
    keys: ['training.num_epochs', 'training.joint_epochs'],
    doc: '`training.num_epochs` = 0 needs a joint phase: else the experts are never trained',
    check: (c) =>
      c.training.num_epochs > 0 || c.training.joint_epochs > 0
        ? undefined
        : 'training.num_epochs = 0 and training.joint_epochs = 0: the experts would never train; set one of them ≥ 1',
  },
  {
    keys: ['eval.subset', 'data.test_subset'],
    doc: '`eval.subset` is at most `data.test_subset` when both are set',
    check: (c) =>
      c.eval.subset === 0 || c.data.test_subset === 0 || c.eval.subset <= c.data.test_subset
        ? undefined
        : `eval.subset = ${c.eval.subset} exceeds data.test_subset = ${c.data.test_subset} (only that many test records are loaded)`,
  },
];
