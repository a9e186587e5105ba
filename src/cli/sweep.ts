import type { Command } from 'commander';
import { collectSet } from '../config/index.js';
import { parseSeeds, renderSweepMarkdown, runSweep } from '../system/sweep.js';
import { interruptSignal } from './options.js';

interface SweepFlags {
  config?: string;
  set: string[];
  out: string;
  seeds: string;
  model?: string;
  data?: string[];
  debug?: boolean;
  quiet?: boolean;
}

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('train and evaluate the same config once per seed (OUT/seed-S), then report every comparison per seed and as mean ± spread')
    .option('--config <yaml>', 'run config (see docs/config.md)')
    .option('--set <key=value>', 'override one config key (repeatable)', collectSet, [])
    .requiredOption('--out <dir>', 'sweep folder: seed-S/ run folders, sweep.json, sweep.md (an interrupted sweep continues where it stopped)')
    .requiredOption('--seeds <list>', 'training seeds, e.g. 42,7,123')
    .option('--model <dir>', 'base GPT-2 folder (overrides model.base_model_name)')
    .option('--data <file...>', 'Alpaca JSON / JSONL (.gz) files (overrides data.paths)')
    .option('--debug', 'shrink each run to a few steps on a few records')
    .option('--quiet', 'no progress output')
    .action(async (f: SweepFlags) => {
      const seeds = parseSeeds(f.seeds);
      const signal = interruptSignal();
      try {
        const s = await runSweep({ configPath: f.config, sets: f.set, out: f.out, seeds, modelDir: f.model, data: f.data, debug: f.debug, quiet: f.quiet, signal, log: f.quiet ? undefined : (l) => process.stderr.write(l + '\n') });
        if (!s) {
          process.exitCode = 130;
          return;
        }
        process.stdout.write(renderSweepMarkdown(s) + '\n');
      } finally {
        signal.dispose();
      }
    });
}
