/**
 * A trained-looking run folder on the bundled tiny GPT-2, made in milliseconds: three experts and a
 * one-LoRA baseline with random (non-zero) B, so each changes the output, and an untrained router.
 * What the server does with a run does not depend on how well it was trained.
 */
import { join } from 'node:path';
import { bundledModelDir, defaultConfig } from '../../src/config/index.js';
import { savePeftAdapter } from '../../src/lora/peft.js';
import { readGPT2Config } from '../../src/model/config.js';
import { Router } from '../../src/router/router.js';
import { ROUTER_FEATURE_NAMES } from '../../src/system/prepared.js';
import { saveSystem } from '../../src/system/saved.js';
import { microAdapter } from '../helpers/micro.js';

export const EXPERTS = ['simple', 'medium', 'complex'];
/** Standard deviation of the adapters' B: each changes the text without wrecking it. */
const B_STD = 0.06;

export interface FixtureRun {
  /** RUN/best_model */
  modelDir: string;
  /** A PEFT folder that is not part of the run, to load at run time. */
  extraAdapter: string;
}

/**
 * Writes RUN/best_model, RUN/baseline_lora and an extra adapter under `dir`. The adapters have rank `rank`
 * (alpha = 2 * rank): 4 keeps the tests fast; the benches use the product's default (16). The base model is
 * the bundled one unless `baseModelDir` names another GPT-2 folder (an absolute path).
 */
export function writeFixtureRun(dir: string, rank = 4, baseModelDir?: string): FixtureRun {
  const cfg = readGPT2Config(baseModelDir ?? bundledModelDir());
  const config = defaultConfig();
  if (baseModelDir) config.model.base_model_name = baseModelDir;
  const lora = { r: rank, loraAlpha: 2 * rank };
  config.model.lora_rank = lora.r;
  config.model.lora_alpha = lora.loraAlpha;
  config.generation.max_new_tokens = 16;
  const experts = EXPERTS.map((name, k) => microAdapter(cfg, lora, 20 + k, B_STD, name));
  const router = Router.create({ featureNames: [...ROUTER_FEATURE_NAMES], pooledDim: 0, labelMode: 'oracle', numExperts: 3, hiddenDim: 16, scoreHead: true, expertNames: EXPERTS }, 5);
  const modelDir = join(dir, 'run', 'best_model');
  saveSystem(modelDir, config, experts, router);
  savePeftAdapter(microAdapter(cfg, lora, 40, B_STD, 'one_lora'), join(dir, 'run', 'baseline_lora'));
  const extraAdapter = join(dir, 'extra-adapter');
  savePeftAdapter(microAdapter(cfg, lora, 60, B_STD, 'extra'), extraAdapter);
  return { modelDir, extraAdapter };
}
