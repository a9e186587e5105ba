/** `loraroute stratify`: tier files and a report (JSON, Markdown, SVG histogram) for a data set. */
import type { Command } from 'commander';
import { LoraRouteError } from '../errors.js';
import { ComplexityAnalyzer } from '../complexity/analyzer.js';
import { stratifyData } from '../complexity/stratify-data.js';
import { parseThresholds } from '../complexity/tiers.js';
import { defaultDataPaths } from '../data/alpaca.js';

interface StratifyOpts {
  data?: string[];
  out: string;
  thresholds?: string;
  quantiles?: string | true;
  skipInvalid?: boolean;
}

export function registerStratify(program: Command): void {
  program
    .command('stratify')
    .description('split a data set into complexity tiers: one JSONL file per tier, report.json, report.md and scores.svg')
    .option('--data <files...>', 'Alpaca JSON/JSONL files (optionally .gz), in order (default: the bundled 52,002 records)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--thresholds <list>', 'tier thresholds on the score, comma-separated (default 0.3,0.7)')
    .option('--quantiles [tiers]', 'equal-size tiers by quantiles of the train split scores (default 3 tiers)')
    .option('--skip-invalid', 'skip malformed records (counted in the report) instead of failing')
    .action((opts: StratifyOpts) => {
      if (opts.thresholds && opts.quantiles !== undefined) throw new LoraRouteError('stratify: give --thresholds or --quantiles, not both');
      let quantiles: number | undefined;
      if (opts.quantiles !== undefined) {
        quantiles = opts.quantiles === true ? 3 : Number(opts.quantiles);
        if (!Number.isInteger(quantiles) || quantiles < 1) throw new LoraRouteError(`--quantiles: expected a whole number of tiers >= 1, got '${opts.quantiles}'`);
      }
      const thresholds = opts.thresholds ? parseThresholds(opts.thresholds) : undefined;
      const paths = opts.data ?? defaultDataPaths();
      const analyzer = new ComplexityAnalyzer();
      const { report, files, problems } = stratifyData({ paths, outDir: opts.out, thresholds, quantiles, skipInvalid: opts.skipInvalid, analyzer });
      for (const p of problems) process.stderr.write(`stratify: skipped ${p}\n`);
      const c = report.counts;
      process.stdout.write(
        `stratify: ${report.records} records${report.skipped ? ` (${report.skipped} skipped)` : ''}, thresholds ${report.thresholds.join(',')}, ` +
          `${report.seconds} s\n` +
          ['train', 'validation', 'test', 'all'].map((s) => `  ${s.padEnd(10)} ${c[s as keyof typeof c].join(' / ')}  (${report.tiers.join(' / ')})`).join('\n') +
          `\nwrote ${files.join(', ')}\n`,
      );
    });
}
