export { ComplexityAnalyzer, type Analysis, type AnalyzerOptions } from './analyzer.js';
export { FEATURE_NAMES, type FeatureName } from './features.js';
export {
  calibrate,
  cdf,
  checkCalibration,
  normalise,
  weightedSum,
  DEFAULT_TRANSFORMS,
  DEFAULT_WEIGHTS,
  type Calibration,
  type CalibrateOptions,
  type Transform,
} from './calibration.js';
export { CALIBRATION } from './calibration.generated.js';
export { stratify, quantileThresholds, checkThresholds, tierName, DEFAULT_THRESHOLDS, TIER_NAMES } from './tiers.js';
export { SYNTAX_INPUT_NAMES, sentenceSyntax, type SentenceSyntax } from './syntax.js';
