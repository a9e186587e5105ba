import type { AlpacaRecord } from '../data/alpaca.js';
import type { Analysis, ComplexityAnalyzer } from '../complexity/analyzer.js';
import { FEATURE_NAMES } from '../complexity/features.js';
import type { Example } from '../train/examples.js';

/** The router's input features: the analyzer's normalised features, then its score. */
export const ROUTER_FEATURE_NAMES: readonly string[] = [...FEATURE_NAMES, 'score'];

/** An example with what the analyzer says about its instruction (never its response). */
export interface PreparedExample {
  record: AlpacaRecord;
  example: Example;
  /** ROUTER_FEATURE_NAMES order. */
  features: Float32Array;
  score: number;
  tier: number;
}

/** Analyzes the records behind `examples` (matched by index). */
export function prepareExamples(examples: Example[], records: AlpacaRecord[], analyzer: ComplexityAnalyzer): PreparedExample[] {
  const byIndex = new Map(records.map((r) => [r.index, r]));
  return examples.map((example) => {
    const record = byIndex.get(example.index) as AlpacaRecord;
    return { record, example, ...analyzeRecord(analyzer, record.instruction, record.input) };
  });
}

export function analyzeRecord(analyzer: ComplexityAnalyzer, instruction: string, input: string): { features: Float32Array; score: number; tier: number } {
  const a = analyzer.analyze(instruction, input);
  return { features: routerFeatures(a), score: a.score, tier: a.tier };
}

/** The router's feature row of an analysis (ROUTER_FEATURE_NAMES order). */
export function routerFeatures(a: Analysis): Float32Array {
  const features = new Float32Array(a.vector.length + 1);
  features.set(a.vector);
  features[a.vector.length] = a.score;
  return features;
}

/** Stacks the feature rows of some prepared examples: [N, F]. */
export function featureMatrix(items: Array<{ features: Float32Array }>): Float32Array {
  const F = ROUTER_FEATURE_NAMES.length;
  const out = new Float32Array(items.length * F);
  items.forEach((it, i) => out.set(it.features, i * F));
  return out;
}
