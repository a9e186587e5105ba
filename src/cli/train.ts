import type { Command } from 'commander';
import { collectSet } from '../config/index.js';
import { trainSystem } from '../system/pipeline.js';
import { interruptSignal } from './options.js';
import { afterTraining } from './after-training.js';

interface TrainFlags {
  config?: string;
  set: string[];
  out: string;
  model?: string;
  data?: string[];
  resume?: boolean;
  debug?: boolean;
  quiet?: boolean;
  eval: boolean;
  samples: boolean;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train the experts, the one-LoRA baseline, the router and the joint phase; then evaluate and generate samples')
    .option('--config <yaml>', 'run config (configs/demo.yaml, configs/default.yaml, ...; see docs/config.md)')
    .option('--set <key=value>', 'override one config key (repeatable)', collectSet, [])
    .requiredOption('--out <dir>', 'run folder: best_model/, final_model/, baseline_lora/, metrics.jsonl, report/, state/')
    .option('--model <dir>', 'base GPT-2 folder (overrides model.base_model_name)')
    .option('--data <file...>', 'Alpaca JSON / JSONL (.gz) files (overrides data.paths)')
    .option('--resume', 'continue an interrupted run in --out')
    .option('--debug', 'shrink the run to a few steps on a few records')
    .option('--no-eval', 'skip the evaluation on the test split')
    .option('--no-samples', 'skip the sample generations')
    .option('--quiet', 'no progress output')
    .action(async (f: TrainFlags) => {
      const signal = interruptSignal();
      const started = performance.now();
      try {
        const r = await trainSystem({ configPath: f.config, sets: f.set, out: f.out, modelDir: f.model, data: f.data, resume: f.resume, debug: f.debug, quiet: f.quiet, signal });
        if (r.status === 'interrupted') {
          process.exitCode = 130;
          return;
        }
        process.stderr.write(`train: done in ${r.seconds.toFixed(0)} s; best validation loss ${r.bestValidationLoss?.toFixed(4)}; model in ${r.bestModel}\n`);
        await afterTraining(r, { eval: f.eval, samples: f.samples, model: f.model, data: f.data });
        const wall = (performance.now() - started) / 1000;
        process.stderr.write(`train: wall time ${Math.floor(wall / 60)} min ${(wall % 60).toFixed(0)} s (training, evaluation and samples)\n`);
      } finally {
        signal.dispose();
      }
    });
}
