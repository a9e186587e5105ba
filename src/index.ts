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
