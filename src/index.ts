/**
 * loraroute's public API: what a program needs to load GPT-2 models, tokenizers and LoRA adapters, generate,
 * route instructions to experts, train and evaluate. Everything else under src/ is internal and may change.
 *
 * One export statement per module, grouped by topic; to add to the API, add a line in its group, add the
 * name to the list in test/docs/exports.test.ts and run `npm run docs:api` (docs/api.md is generated from this file).
 * @packageDocumentation
 */

// Errors
export { LoraRouteError } from './errors.js';

// Compute backends
export { getBackend, type BackendName } from './tensor/select.js';
export { ReferenceBackend } from './tensor/reference.js';
export { NativeBackend, loadNativeBackend, type NativeInfo, type LoadNativeOptions } from './tensor/native.js';
export type { Backend, MatmulOptions, F32, I32, KVBuffer } from './tensor/backend.js';

// Models, weights and tokenizers
export { loadGPT2, useHalfWeightsForDecode, type LoadModelOptions } from './model/load.js';
export { GPT2, createKVCache, type Batch, type ForwardOptions, type ForwardResult, type KVCache, type KVDtype } from './model/gpt2.js';
export { parseGPT2Config, readGPT2Config, type GPT2Config } from './model/config.js';
export { LINEAR_MODULES, type GPT2Weights, type BlockWeights, type LinearModule } from './model/weights.js';
export { GPT2Tokenizer, StreamDecoder, type EncodeOptions, type DecodeOptions } from './tokenizer/index.js';
export { openSafetensors, SafetensorsFile, writeSafetensors, type TensorToWrite, type WritableDtype, type TensorInfo, type WeightSource } from './io/safetensors.js';

// Generation
export { generateText, type GenerateTextOptions, type GeneratedText } from './model/text.js';
export { generateIds, type GenerateIdsOptions, type GeneratedIds, type FinishReason } from './model/generate.js';
export type { LinearHook, LinearSite, PassInfo } from './model/hooks.js';

// LoRA adapters (PEFT folders)
export { LoraAdapter, type LoraSite } from './lora/adapter.js';
export { LoraMixture } from './lora/mixture.js';
export { defaultLoraConfig, type LoraConfig } from './lora/config.js';
export { loadPeftAdapter, savePeftAdapter, readAdapterConfig } from './lora/peft.js';
export { mergeAdapter, unmergeAdapter } from './lora/merge.js';

// Instruction complexity: features, score, tiers
export {
  ComplexityAnalyzer, FEATURE_NAMES, DEFAULT_THRESHOLDS, TIER_NAMES, stratify, quantileThresholds, tierName,
  type Analysis, type AnalyzerOptions, type FeatureName,
} from './complexity/index.js';
export type { Calibration, Transform } from './complexity/calibration.js';

// Data (Alpaca)
export { loadAlpaca, type AlpacaRecord, type LoadAlpacaOptions, type LoadedAlpaca } from './data/alpaca.js';
export { alpacaPrompt, instructionText } from './data/template.js';
export { splitOf, SPLITS, type Split } from './data/split.js';

// The routed mixture of experts
export { LoraRouteModel, type Instruction, type RoutingTrace, type RoutedGeneration, type FromPretrainedOptions } from './system/routed-model.js';
export { Router, type RouteResult, type RouterMeta, type CreateRouterOptions, type LabelMode } from './router/router.js';
export { loadRouter, saveRouter } from './router/io.js';
export type { RouterConfig, RouterActivation } from './router/config.js';
export type { RoutingPolicy, PolicyKind } from './system/policy.js';

// Training
export { trainSystem, type TrainSystemOptions, type TrainSystemResult } from './system/pipeline.js';
export { finetune, type FinetuneOptions } from './train/finetune.js';
export { runSweep, type SweepResult, type SweepComparison } from './system/sweep.js';
export { runTraining, type TrainingTask, type LoopOptions, type LoopResult } from './train/loop.js';
export type { MetricsLog } from './train/metrics.js';
export type { Progress } from './train/progress.js';
export { AdamW, type ParamGroup, type AdamWOptions } from './train/optimizer.js';
export { learningRateAt, type ScheduleOptions } from './train/schedule.js';
export { makeExamples, type Example, type ExampleStats } from './train/examples.js';
export { collate, type ExampleBatch } from './train/batches.js';
export { scoreExamples, meanLoss, type ExampleLoss } from './train/score.js';

// Evaluation
export { runEvaluate, type RunEvaluateOptions, type EvaluateResult } from './system/evaluate-command.js';
export type { Budget } from './system/budget.js';
export type { CurvePoint } from './system/routing-curve.js';
export {
  pairedBootstrap, tokenWeightedLoss, type PairedDiff, type LossSummary, type BootstrapOptions, type UsageSummary, type LatencySummary, type AccuracySummary,
} from './eval/stats.js';
export {
  renderMarkdown, writeReport, type EvalReport, type BaselineEntry, type ComparisonEntry, type RoutingEntry, type ReportPlots, type WriteReportOptions,
} from './eval/report.js';

// Configuration
export {
  loadConfig, defaultConfig, validateConfig, serializeConfig,
  type Config, type SectionName, type LoadOptions, type LoadedConfig, type DataConfig, type EvalConfig, type GenerationConfig, type ModelConfig, type TrainingConfig,
} from './config/index.js';
