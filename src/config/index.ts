/** The config layer: schema, strict loader, paths, serialisation, --debug. */
export {
  BUNDLED,
  CROSS_CHECKS,
  GPT2_LORA_MODULES,
  SCHEMA,
  SECTIONS,
  allKeys,
  defaultConfig,
  evenThresholds,
  fieldOf,
  type Config,
  type ConfigKey,
  type DataConfig,
  type EvalConfig,
  type GenerationConfig,
  type ModelConfig,
  type SectionName,
  type TrainingConfig,
} from './schema.js';
export {
  DEFAULTS_SOURCE,
  collectSet,
  loadConfig,
  parseOverride,
  validateConfig,
  type LoadOptions,
  type LoadedConfig,
  type ParsedOverride,
} from './load.js';
export { debugShrink, DEBUG_SHRINK } from './debug.js';
export { bundledDataFiles, bundledModelDir, packageRoot, relativizeConfig, resolveConfig, resolveModelDir } from './paths.js';
export { serializeConfig } from './serialize.js';
export { renderConfigDocs } from './docs.js';
export type { Field, FieldKind } from './fields.js';
