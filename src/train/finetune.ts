import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, resolveModelDir, serializeConfig, type Config } from '../config/index.js';
import { loadGPT2 } from '../model/load.js';
import { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import { LoraAdapter } from '../lora/adapter.js';
import { LoraMixture } from '../lora/mixture.js';
import { defaultLoraConfig, type LoraConfig } from '../lora/config.js';
import { savePeftAdapter } from '../lora/peft.js';
import { writeFileAtomic } from '../io/atomic.js';
import { cleanStaleTemps, replaceDirAtomic } from '../io/atomic-dir.js';
import { checkWritableDir } from '../io/writable.js';
import { LoraRouteError } from '../errors.js';
import type { GPT2Config } from '../model/config.js';
import { makeExamples } from './examples.js';
import { loadRunData, splitRecords } from './data.js';
import { adapterTask } from './adapter-task.js';
import { runTraining, type LoopOptions, type LoopResult } from './loop.js';
import { MetricsLog } from './metrics.js';
import { createProgress, type Progress } from './progress.js';
import { trainingFinished } from './checkpoint.js';

export interface FinetuneOptions {
  configPath?: string;
  sets?: string[];
  /** Overrides model.base_model_name. */
  modelDir?: string;
  /** Overrides data.paths. */
  data?: string[];
  out: string;
  resume?: boolean;
  debug?: boolean;
  quiet?: boolean;
  signal?: { interrupted: boolean };
}

/** The LoRA settings of a run config, as PEFT's adapter config. */
export function loraConfigOf(config: Config, baseModel: string | null): LoraConfig {
  const m = config.model;
  return defaultLoraConfig({
    r: m.lora_rank, loraAlpha: m.lora_alpha, loraDropout: m.lora_dropout, targetModules: [...m.target_modules],
    useRslora: m.use_rslora, baseModelNameOrPath: baseModel,
  });
}

/** Loop settings shared by every LoRA training run of a config. */
export function loopOptionsOf(config: Config, peak: number, epochs: number, rest: Pick<LoopOptions, 'backend' | 'stateDir' | 'resume' | 'metrics' | 'progress' | 'signal'>): LoopOptions {
  const t = config.training;
  return {
    epochs, batchSize: t.batch_size, gradientAccumulationSteps: t.gradient_accumulation_steps, maxGradNorm: t.max_grad_norm,
    schedule: { peak, warmupSteps: t.warmup_steps, kind: t.schedule, minRatio: t.min_lr_ratio }, weightDecay: t.weight_decay,
    evalEvery: t.eval_every, saveEvery: t.save_every, logEvery: t.log_every, maxSteps: t.max_steps, seed: t.seed, ...rest,
  };
}

/**
 * Checks --out before any work: it must be writable (made if missing). Without --resume, refuses any non-empty
 * --out (a run, a trained model, anything): nothing is overwritten. With --resume, a missing or empty --out, or
 * a run killed before its first checkpoint, starts the run; any other folder must be a run (config.yaml or
 * state/ in it). Temporaries an interrupted run left (only names matching our own pattern) are removed.
 */
export function checkOutDir(out: string, stateDir: string, resume: boolean): void {
  checkWritableDir(out, '--out', true);
  if (!statSync(out).isDirectory()) throw new LoraRouteError(`--out ${out} is a file, not a folder`);
  if (resume) cleanStaleTemps(out);
  const entries = readdirSync(out);
  if (entries.length === 0) return;
  const isRun = existsSync(join(out, 'config.yaml')) || existsSync(stateDir);
  if (!resume) {
    throw new LoraRouteError(
      isRun
        ? `${out} already holds a training run (${stateDir}); pass --resume to continue it, or choose another --out`
        : `${out} is not empty; choose a new --out (loraroute never writes a run into a folder that holds other files)`,
    );
  }
  if (!isRun) {
    throw new LoraRouteError(`--resume: ${out} is not a loraroute run (no config.yaml, no ${stateDir}; it holds ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}); choose the run's folder`);
  }
}

/**
 * The config of a run. A new run: --config (or the defaults) + --set (+ --debug). A resumed run: the
 * config saved in OUT/config.yaml; a --config / --set / --debug given again must agree with it, key by key
 * (a resumed run with other settings would continue from a state that does not match them).
 */
export function runConfig(o: { configPath?: string; sets?: string[]; debug?: boolean; out: string; resume?: boolean }): Config {
  const given = (): Config => {
    return loadConfig(o.configPath, o.sets ?? [], { debug: o.debug }).config;
  };
  const savedPath = join(o.out, 'config.yaml');
  if (!o.resume || !existsSync(savedPath)) return given();
  const saved = loadConfig(savedPath).config;
  if (o.configPath === undefined && !(o.sets ?? []).length && !o.debug) return saved;
  const now = given();
  const differ: string[] = [];
  for (const section of Object.keys(saved) as Array<keyof Config>) {
    const a = saved[section] as Record<string, unknown>;
    const b = now[section] as Record<string, unknown>;
    for (const key of Object.keys(a)) if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) differ.push(`${section}.${key} (saved ${JSON.stringify(a[key])}, now ${JSON.stringify(b[key])})`);
  }
  if (differ.length) {
    throw new LoraRouteError(`--resume: the config given now differs from the run's ${savedPath} in ${differ.join(', ')}; resume without --config/--set/--debug to use the saved one`, 'E_CONFIG');
  }
  return saved;
}

export function checkMaxLength(config: Config, model: GPT2Config): void {
  if (config.data.max_length > model.nPositions) {
    throw new LoraRouteError(`data.max_length (${config.data.max_length}) exceeds the model's n_positions (${model.nPositions})`, 'E_CONFIG');
  }
}

/**
 * `loraroute finetune`: one LoRA adapter on Alpaca (train split, validation each epoch), the best adapter saved
 * as a PEFT folder in OUT/adapter, the last one in OUT/final_adapter; resumable.
 */
export async function finetune(o: FinetuneOptions, progress: Progress = createProgress(process.stderr, o.quiet)): Promise<LoopResult> {
  const config = runConfig(o);
  const stateDir = join(o.out, 'state');
  checkOutDir(o.out, stateDir, o.resume ?? false);
  const wasFinished = (o.resume ?? false) && trainingFinished(stateDir);
  const modelDir = o.modelDir ?? resolveModelDir(config);
  const model = loadGPT2(modelDir, { backend: config.model.backend });
  checkMaxLength(config, model.config);
  const tokenizer = GPT2Tokenizer.fromDir(modelDir);
  const data = loadRunData(config, o.data);
  const paths = data.paths;
  const seed = config.training.seed;
  const trainRecords = splitRecords(data.records, 'train', config.data.train_subset, seed);
  const valRecords = splitRecords(data.records, 'validation', config.data.validation_subset, seed);
  const train = makeExamples(trainRecords, tokenizer, config.data.max_length, config.data.loss_on);
  const val = makeExamples(valRecords, tokenizer, config.data.max_length, config.data.loss_on);
  if (train.examples.length === 0) throw new LoraRouteError(`no training examples in ${paths.join(', ')} (train split)`);
  if (val.examples.length === 0) throw new LoraRouteError(`no validation examples in ${paths.join(', ')} (validation split)`);
  progress.log(
    `data: ${train.examples.length} train / ${val.examples.length} validation examples; skipped ${data.skippedInvalid} invalid, ` +
      `${train.stats.skippedEmpty + val.stats.skippedEmpty} empty outputs, ${train.stats.skippedLongPrompt + val.stats.skippedLongPrompt} over-long prompts; ` +
      `${train.stats.truncated + val.stats.truncated} responses truncated at ${config.data.max_length} tokens`,
  );

  writeFileAtomic(join(o.out, 'config.yaml'), serializeConfig(config, o.out));
  const metrics = new MetricsLog(join(o.out, 'metrics.jsonl'));
  metrics.write({ event: 'data', ...train.stats, validation: val.stats.examples, skipped_invalid: data.skippedInvalid });

  const adapter = new LoraAdapter(loraConfigOf(config, modelDir), model.config, 'default');
  adapter.initialize(seed);
  const mixture = new LoraMixture([adapter], model.backend);
  const task = adapterTask('finetune', model, mixture, 0, train.examples, val.examples, {
    evalBatchSize: config.eval.batch_size,
    padId: tokenizer.eosTokenId,
    onBest: () => replaceDirAtomic(join(o.out, 'adapter'), (d) => savePeftAdapter(adapter, d)),
  });
  const result = await runTraining(task, loopOptionsOf(config, config.training.learning_rate, config.training.num_epochs, {
    backend: model.backend, stateDir, resume: o.resume ?? false, metrics, progress, signal: o.signal,
  }));
  if (result.status === 'finished') {
    // a run resumed after its end keeps its folders as they are (unless a kill came before they were written)
    const final = join(o.out, 'final_adapter');
    if (!wasFinished || !existsSync(final)) replaceDirAtomic(final, (d) => savePeftAdapter(adapter, d));
    if (!existsSync(join(o.out, 'adapter'))) replaceDirAtomic(join(o.out, 'adapter'), (d) => savePeftAdapter(adapter, d));
  }
  metrics.write({ event: 'end', status: result.status, steps: result.steps, best_val_loss: result.bestValLoss, seconds: result.seconds });
  return result;
}
