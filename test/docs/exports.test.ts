import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as api from '../../src/index.js';

// The public API, by topic (as src/index.ts groups it). A name added to or dropped from src/index.ts must be
// added to or dropped from this list, on purpose — internals (routerTensorSpecs, heatmapSvg, ...) stay out.
const INTENDED: Record<string, string[]> = {
  errors: ['LoraRouteError'],
  backends: ['getBackend', 'ReferenceBackend', 'NativeBackend', 'loadNativeBackend'],
  models: ['loadGPT2', 'useHalfWeightsForDecode', 'GPT2', 'createKVCache', 'parseGPT2Config', 'readGPT2Config', 'LINEAR_MODULES',
    'GPT2Tokenizer', 'StreamDecoder', 'openSafetensors', 'SafetensorsFile', 'writeSafetensors'],
  generation: ['generateText', 'generateIds'],
  lora: ['LoraAdapter', 'LoraMixture', 'defaultLoraConfig', 'loadPeftAdapter', 'savePeftAdapter', 'readAdapterConfig', 'mergeAdapter', 'unmergeAdapter'],
  analyzer: ['ComplexityAnalyzer', 'FEATURE_NAMES', 'DEFAULT_THRESHOLDS', 'TIER_NAMES', 'stratify', 'quantileThresholds', 'tierName'],
  data: ['loadAlpaca', 'alpacaPrompt', 'instructionText', 'splitOf', 'SPLITS'],
  routing: ['LoraRouteModel', 'Router', 'loadRouter', 'saveRouter'],
  training: ['trainSystem', 'finetune', 'runSweep', 'runTraining', 'AdamW', 'learningRateAt', 'makeExamples', 'collate', 'scoreExamples', 'meanLoss'],
  evaluation: ['runEvaluate', 'pairedBootstrap', 'tokenWeightedLoss', 'renderMarkdown', 'writeReport'],
  config: ['loadConfig', 'defaultConfig', 'validateConfig', 'serializeConfig'],
};

test('the runtime exports of the package are exactly the intended public API', () => {
  const want = Object.values(INTENDED).flat().sort();
  assert.equal(new Set(want).size, want.length, 'a name listed twice');
  const got = Object.keys(api).sort();
  const extra = got.filter((n) => !want.includes(n));
  const missing = want.filter((n) => !got.includes(n));
  assert.deepEqual({ extra, missing }, { extra: [], missing: [] });
  for (const n of want) assert.notEqual((api as Record<string, unknown>)[n], undefined, `${n} is exported as undefined`);
});

test('what users need is there; internals are not', () => {
  const names = new Set(Object.keys(api));
  for (const n of ['scoreExamples', 'AdamW', 'LoraRouteModel', 'loadPeftAdapter', 'ComplexityAnalyzer', 'runEvaluate', 'loadConfig']) assert.ok(names.has(n), n);
  for (const n of ['routerTensorSpecs', 'heatmapSvg', 'writeFileAtomic', 'adamwStep', 'escapeXml', 'randomWeights']) assert.ok(!names.has(n), n);
});

test('docs/api.md (npm run docs:api) documents every runtime export', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../../docs/api.md', import.meta.url)), 'utf8');
  const headings = new Set([...doc.matchAll(/^#{2,4} ([\w\\]+)(?:\(\))?$/gm)].map((m) => m[1].replace(/\\_/g, '_'))); // Markdown escapes _
  const undocumented = Object.keys(api).filter((n) => !headings.has(n));
  assert.deepEqual(undocumented, [], 'run `npm run docs:api` after changing src/index.ts');
});
