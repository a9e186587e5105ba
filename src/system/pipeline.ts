import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveModelDir, serializeConfig, type Config } from '../config/index.js';
import { ComplexityAnalyzer } from '../complexity/analyzer.js';
import { tierName } from '../complexity/tiers.js';
import { loadGPT2 } from '../model/load.js';
import { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import { LoraAdapter } from '../lora/adapter.js';
import { LoraMixture } from '../lora/mixture.js';
import { Router } from '../router/router.js';
import { FeatureNormalizer, concatRouterInput } from '../router/normalizer.js';
import { writeFileAtomic } from '../io/atomic.js';
import { MetricsLog } from '../train/metrics.js';
import { createProgress, type Progress } from '../train/progress.js';
import { checkMaxLength, checkOutDir, loraConfigOf, runConfig } from '../train/finetune.js';
import { LoraRouteError } from '../errors.js';
import type { RunContext } from './context.js';
import { loadRunData, prepareSplit } from './data.js';
import { featureMatrix, ROUTER_FEATURE_NAMES, type PreparedExample } from './prepared.js';
import { pooledPromptStates } from './pooled.js';
import { Interrupted, systemValidationLoss, trainBaseline, trainExperts, trainJoint, trainRouter } from './phases.js';
import { saveSystem } from './saved.js';

export interface TrainSystemOptions {
  configPath?: string;
  sets?: string[];
  out: string;
  modelDir?: string;
  data?: string[];
  resume?: boolean;
  debug?: boolean;
  quiet?: boolean;
  signal?: { interrupted: boolean };
}

export interface TrainSystemResult {
  status: 'finished' | 'interrupted';
  out: string;
  bestModel: string;
  finalModel: string;
  bestValidationLoss: number | null;
  seconds: number;
}

/** Expert names: the tier names for three experts (simple / medium / complex), else tier0.. */
export function expertNames(K: number): string[] {
  return Array.from({ length: K }, (_, k) => tierName(k, K));
}

function tierCounts(items: PreparedExample[], K: number): number[] {
  const n = new Array<number>(K).fill(0);
  for (const p of items) n[p.tier]++;
  return n;
}

/**
 * `loraroute train`: the whole system on one shared frozen base — phase 1 experts (each on its tier), the
 * one-LoRA baseline, phase 2 router, phase 3 joint — keeping RUN/best_model (best validation LM loss of the
 * routed system) and RUN/final_model. Every phase resumes from RUN/state with --resume.
 */
export async function trainSystem(o: TrainSystemOptions, progress: Progress = createProgress(process.stderr, o.quiet)): Promise<TrainSystemResult> {
  const t0 = Date.now();
  let config = runConfig(o);
  checkOutDir(o.out, join(o.out, 'state'), o.resume ?? false);
  const modelDir = o.modelDir ?? resolveModelDir(config);
  if (o.modelDir) config = { ...config, model: { ...config.model, base_model_name: o.modelDir } };
  const model = loadGPT2(modelDir, { backend: config.model.backend });
  checkMaxLength(config, model.config);
  const tokenizer = GPT2Tokenizer.fromDir(modelDir);
  const K = config.model.num_experts;
  const analyzer = new ComplexityAnalyzer({ thresholds: config.model.complexity_thresholds });
  progress.log(`model: ${modelDir} (${model.config.nLayer} layers, width ${model.config.nEmbd}) on the ${model.backend.name} backend`);

  const data = loadRunData(config, o.data);
  const train = prepareSplit(data, 'train', config, tokenizer, analyzer);
  const validation = prepareSplit(data, 'validation', config, tokenizer, analyzer);
  if (train.items.length === 0 || validation.items.length === 0) {
    throw new LoraRouteError(`not enough data in ${data.paths.join(', ')}: ${train.items.length} train and ${validation.items.length} validation examples`);
  }
  progress.log(
    `data: ${train.items.length} train / ${validation.items.length} validation examples; tiers (train) ${tierCounts(train.items, K).join(' / ')}, ` +
      `(validation) ${tierCounts(validation.items, K).join(' / ')}; ${train.stats.truncated} responses truncated at ${config.data.max_length} tokens`,
  );

  writeFileAtomic(join(o.out, 'config.yaml'), serializeConfig(config, o.out));
  const metrics = new MetricsLog(join(o.out, 'metrics.jsonl'));
  metrics.write({ event: 'start', train: train.items.length, validation: validation.items.length, tiers_train: tierCounts(train.items, K), resume: o.resume ?? false });

  const pad = tokenizer.eosTokenId;
  const pooled = config.model.router_use_hidden_state
    ? {
        train: pooledPromptStates(model, train.items.map((p) => p.example), config.eval.batch_size, pad),
        validation: pooledPromptStates(model, validation.items.map((p) => p.example), config.eval.batch_size, pad),
      }
    : null;
  const names = expertNames(K);
  const loraCfg = loraConfigOf(config, config.model.base_model_name);
  const experts = names.map((name, k) => {
    const a = new LoraAdapter(loraCfg, model.config, name);
    a.initialize(config.training.seed + k);
    return a;
  });
  const router = createRouter(config, train.items, pooled?.train ?? null, model.config.nEmbd, names);
  const ctx: RunContext = {
    config, out: o.out, modelDir, model, tokenizer, analyzer, train: train.items, validation: validation.items, pooled,
    experts, mixture: new LoraMixture(experts, model.backend), router, progress, metrics, resume: o.resume ?? false, signal: o.signal,
  };

  const bestDir = join(o.out, 'best_model');
  const finalDir = join(o.out, 'final_model');
  const bestFile = join(o.out, 'state', 'best.json');
  let bestVal: number | null = ctx.resume && existsSync(bestFile) ? (JSON.parse(readFileSync(bestFile, 'utf8')) as { loss: number }).loss : null;
  const keepIfBest = (val: number, phase: string) => {
    metrics.write({ event: 'system_validation', phase, val_loss: val });
    if (bestVal !== null && val >= bestVal) return;
    bestVal = val;
    saveSystem(bestDir, config, experts, router);
    writeFileAtomic(bestFile, JSON.stringify({ loss: val, phase }) + '\n');
    progress.log(`best model so far (${phase}): validation loss ${val.toFixed(4)} → ${bestDir}`);
  };

  try {
    const steps = await trainExperts(ctx);
    if (config.training.baseline_lora) {
      const baseline = new LoraAdapter(loraCfg, model.config, 'one_lora');
      baseline.initialize(config.training.seed + 1000);
      await trainBaseline(ctx, baseline, steps);
    }
    const r2 = await trainRouter(ctx);
    metrics.write({ event: 'router', labels: r2.labels, train_accuracy: r2.trainAccuracy });
    keepIfBest(systemValidationLoss(ctx), 'router');
    if (config.training.joint_epochs > 0) await trainJoint(ctx, (v) => keepIfBest(v, 'joint'));
    saveSystem(finalDir, config, experts, router);
  } catch (e) {
    if (e instanceof Interrupted) {
      progress.stop();
      progress.log(`train: interrupted; run again with --resume --out ${o.out} to continue`);
      return { status: 'interrupted', out: o.out, bestModel: bestDir, finalModel: finalDir, bestValidationLoss: bestVal, seconds: (Date.now() - t0) / 1000 };
    }
    throw e;
  }
  metrics.write({ event: 'end', best_val_loss: bestVal, seconds: (Date.now() - t0) / 1000 });
  return { status: 'finished', out: o.out, bestModel: bestDir, finalModel: finalDir, bestValidationLoss: bestVal, seconds: (Date.now() - t0) / 1000 };
}

/** A fresh router whose input normaliser is fitted on the training inputs. */
function createRouter(config: Config, train: PreparedExample[], pooled: Float32Array | null, C: number, names: string[]): Router {
  const F = ROUTER_FEATURE_NAMES.length;
  const H = pooled ? C : 0;
  const x = concatRouterInput(featureMatrix(train), F, pooled, H, train.length);
  return Router.create({
    featureNames: [...ROUTER_FEATURE_NAMES], pooledDim: H, labelMode: config.training.router_label, numExperts: names.length,
    hiddenDim: config.model.router_hidden_dim, dropout: config.model.router_dropout, scoreHead: config.training.score_regression_weight > 0,
    normalizer: FeatureNormalizer.fit(x, train.length, F + H), expertNames: names,
  }, config.training.seed);
}
