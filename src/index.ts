export { writeFileAtomic, writeFileAtomicChunks } from './io/atomic.js';
export {
  openSafetensors, parseSafetensors, SafetensorsFile, writeSafetensors, serializeSafetensors, openCheckpoint, ShardedCheckpoint,
  type TensorToWrite, type WritableDtype, type TensorInfo, type WeightSource,
} from './io/safetensors.js';
export { GPT2Tokenizer, StreamDecoder, type EncodeOptions, type DecodeOptions } from './tokenizer/index.js';
export {
  ComplexityAnalyzer, FEATURE_NAMES, CALIBRATION, DEFAULT_THRESHOLDS, TIER_NAMES, DEFAULT_WEIGHTS, DEFAULT_TRANSFORMS,
  stratify, quantileThresholds, checkThresholds, tierName, calibrate, cdf, normalise, weightedSum, checkCalibration,
  type Analysis, type AnalyzerOptions, type FeatureName, type Calibration, type CalibrateOptions, type Transform,
} from './complexity/index.js';
export { loadAlpaca, loadField, defaultDataPaths, type AlpacaRecord, type LoadAlpacaOptions, type LoadedAlpaca } from './data/alpaca.js';
export { alpacaPrompt, instructionText } from './data/template.js';
export { splitOf, SPLITS, type Split } from './data/split.js';
export { LoraRouteError } from './errors.js';
export type { Backend, MatmulOptions } from './tensor/backend.js';
export { ReferenceBackend } from './tensor/reference.js';
export { getBackend, type BackendName } from './tensor/select.js';
export { loadNativeBackend } from './tensor/native.js';
export { NativeBackend, type NativeInfo } from './tensor/native.js';
export { parseGPT2Config, readGPT2Config, type GPT2Config } from './model/config.js';
export { GPT2, createKVCache, shiftTargets, type Batch, type ForwardOptions, type ForwardResult, type KVCache } from './model/gpt2.js';
export { loadGPT2, useHalfWeightsForDecode, type LoadModelOptions } from './model/load.js';
export { loadWeights, randomWeights, viewWeights, LINEAR_MODULES, type GPT2Weights, type LinearModule } from './model/weights.js';
export { generateIds, type GenerateIdsOptions, type GeneratedIds, type FinishReason } from './model/generate.js';
export { generateText, type GenerateTextOptions, type GeneratedText } from './model/text.js';
export type { LinearHook, LinearSite, PassInfo } from './model/hooks.js';
export { defaultLoraConfig, parseAdapterConfig, toAdapterConfigJson, type LoraConfig } from './lora/config.js';
export { LoraAdapter, type LoraSite } from './lora/adapter.js';
export { LoraMixture } from './lora/mixture.js';
export { loadPeftAdapter, savePeftAdapter, readAdapterConfig } from './lora/peft.js';
export { mergeAdapter, unmergeAdapter } from './lora/merge.js';
export { finetune, type FinetuneOptions } from './train/finetune.js';
export { runTraining, type TrainingTask, type LoopOptions, type LoopResult } from './train/loop.js';
export { learningRateAt, type ScheduleOptions } from './train/schedule.js';
export { makeExamples, type Example } from './train/examples.js';
export { LoraRouteModel, type Instruction, type RoutingTrace, type RoutedGeneration, type FromPretrainedOptions } from './system/routed-model.js';
export { trainSystem, type TrainSystemOptions, type TrainSystemResult } from './system/pipeline.js';
export * from './config/index.js';
export * from './router/config.js';
export * from './router/mlp.js';
export * from './router/loss.js';
export * from './router/normalizer.js';
export * from './router/router.js';
export * from './router/io.js';
export * from './eval/stats.js';
export * from './eval/report.js';
export * from './eval/plots.js';
export { evaluateSystem, evaluateSystemDetailed, randomChoices, tierChoices, oracleChoices, assembleLosses, routeExamples, type EvaluateOptions, type EvalDetails, type RoutingPolicy } from './system/evaluate.js';
export { runEvaluate, loadEvalSplit, findBaseline, type RunEvaluateOptions, type EvaluateResult } from './system/evaluate-command.js';
