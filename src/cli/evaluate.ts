import type { Command } from 'commander';
import { Option } from 'commander';
import { runEvaluate } from '../system/evaluate-command.js';
import type { BackendName } from '../tensor/select.js';
import { intArg } from './options.js';

interface EvaluateFlags {
  modelDir: string;
  model?: string;
  data?: string[];
  subset?: number;
  allRecords?: boolean;
  out?: string;
  baseline?: string;
  bootstrap?: number;
  latency?: number;
  backend?: BackendName;
  json?: boolean;
  quiet?: boolean;
}

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('language-model loss of a trained system against its baselines (base, one LoRA, each expert, random, tier rule, oracle), with confidence intervals, routing accuracy and latency')
    .requiredOption('--model-dir <dir>', 'trained folder, e.g. RUN/best_model')
    .option('--model <dir>', 'base GPT-2 folder (default: the one the saved config names)')
    .option('--data <file...>', 'Alpaca JSON / JSONL (.gz) files (default: the saved config\'s data.paths, else the bundled Alpaca)')
    .option('--subset <n>', 'evaluate a seeded subset of this many test records (default: eval.subset; 0 = all)', intArg('--subset', 0))
    .option('--all-records', 'with --data: score every record of the given files (an outside instruction set), not only their i % 20 == 0 test split')
    .option('--out <dir>', 'report folder (default: <model-dir>/../report)')
    .option('--baseline <dir>', 'one-LoRA baseline PEFT folder (default: <model-dir>/../baseline_lora when present)')
    .option('--bootstrap <n>', 'paired bootstrap resamples (default: eval.bootstrap_samples; 0 = no intervals)', intArg('--bootstrap', 0))
    .option('--latency <n>', 'single prompts timed through analyze + route (0 = skip)', intArg('--latency', 0), 200)
    .addOption(new Option('--backend <name>', 'compute backend (default: model.backend of the saved config)').choices(['auto', 'native', 'reference']))
    .option('--json', 'print the report as one JSON object (baselines.<id>.loss / .perplexity, comparisons, routing, ...)')
    .option('--quiet', 'no progress output')
    .action((f: EvaluateFlags) => {
      runEvaluate({
        modelDir: f.modelDir, model: f.model, data: f.data, subset: f.subset, allRecords: f.allRecords, out: f.out, json: f.json, baselineDir: f.baseline,
        bootstrapSamples: f.bootstrap, latencySamples: f.latency, backend: f.backend,
        log: f.quiet ? undefined : (s) => process.stderr.write(s + '\n'),
        print: (s) => process.stdout.write(s),
      });
    });
}
