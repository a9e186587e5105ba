import type { Command } from 'commander';
import { finetune } from '../train/finetune.js';
import { collectSet } from '../config/index.js';
import { interruptSignal } from './options.js';

interface FinetuneFlags {
  model?: string;
  data?: string[];
  out: string;
  config?: string;
  set: string[];
  resume?: boolean;
  debug?: boolean;
  quiet?: boolean;
}

export function registerFinetune(program: Command): void {
  program
    .command('finetune')
    .description('fine-tune one LoRA adapter on Alpaca data; saves the best adapter as a PEFT folder in OUT/adapter')
    .option('--model <dir>', 'Hugging Face GPT-2 folder (default: model.base_model_name of the config, else the bundled model)')
    .option('--data <file...>', 'Alpaca JSON / JSONL (.gz) files (default: data.paths, else the bundled Alpaca)')
    .requiredOption('--out <dir>', 'run folder (adapter/, final_adapter/, metrics.jsonl, state/)')
    .option('--config <yaml>', 'config file (see docs/config.md)')
    .option('--set <key=value>', 'override one config key, e.g. --set training.learning_rate=1e-3 (repeatable)', collectSet, [])
    .option('--resume', 'continue the interrupted run in --out')
    .option('--debug', 'shrink the run to a few steps on a few records')
    .option('--quiet', 'no progress output')
    .action(async (f: FinetuneFlags) => {
      const signal = interruptSignal();
      try {
        const r = await finetune({
          configPath: f.config, sets: f.set, modelDir: f.model, data: f.data, out: f.out,
          resume: f.resume, debug: f.debug, quiet: f.quiet, signal,
        });
        if (r.status === 'interrupted') process.exitCode = 130;
        else process.stderr.write(`finetune: ${r.steps} steps, best validation loss ${r.bestValLoss?.toFixed(4)}; adapter in ${f.out}/adapter\n`);
      } finally {
        signal.dispose();
      }
    });
}
