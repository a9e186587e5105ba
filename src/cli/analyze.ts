/** `loraroute analyze`: features, score and tier of one instruction, or of every record of a file. */
import type { Command } from 'commander';
import { LoraRouteError } from '../errors.js';
import { ComplexityAnalyzer } from '../complexity/analyzer.js';
import { FEATURE_NAMES } from '../complexity/features.js';
import { parseThresholds, tierName } from '../complexity/tiers.js';
import { loadAlpaca, loadField } from '../data/alpaca.js';
import type { Split } from '../data/split.js';

interface AnalyzeOpts {
  input?: string;
  data?: string[];
  field?: string;
  json?: boolean;
  thresholds: string;
  skipInvalid?: boolean;
}

function round(v: number): number {
  return Number(v.toFixed(6));
}

async function write(chunk: string): Promise<void> {
  if (!process.stdout.write(chunk)) await new Promise<void>((resolve) => process.stdout.once('drain', () => resolve()));
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('complexity features, score and tier of an instruction, or of each record of JSON/JSONL files')
    .argument('[text]', 'the instruction to analyse')
    .option('--input <text>', 'the input (context) that goes with TEXT')
    .option('--data <files...>', 'JSON array or JSONL files (optionally .gz); prints one line per record, in order')
    .option('--field <name>', 'with --data: the text field of each record (default: instruction, plus "\\n\\n" + input)')
    .option('--json', 'print JSON (one object per line with --data)')
    .option('--thresholds <list>', 'tier thresholds on the score, comma-separated', '0.3,0.7')
    .option('--skip-invalid', 'with --data: skip malformed records (counted on stderr) instead of failing')
    .action(async (text: string | undefined, opts: AnalyzeOpts) => {
      // `loraroute analyze --data … | head`: a closed pipe ends the command quietly.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(0);
        throw err;
      });
      const thresholds = parseThresholds(opts.thresholds);
      if (opts.data && text !== undefined) throw new LoraRouteError('analyze: give either TEXT or --data FILE, not both');
      if (!opts.data && text === undefined) throw new LoraRouteError('analyze: give an instruction TEXT or --data FILE');
      if (opts.field && !opts.data) throw new LoraRouteError('analyze: --field needs --data');
      const analyzer = new ComplexityAnalyzer({ thresholds });
      const k = thresholds.length + 1;
      if (!opts.data) {
        const a = analyzer.analyze(text!, opts.input ?? '');
        if (opts.json) {
          const out = { score: round(a.score), tier: a.tier, tier_name: tierName(a.tier, k), features: a.features, vector: Array.from(a.vector, round) };
          await write(JSON.stringify(out) + '\n');
          return;
        }
        const lines = [`score ${a.score.toFixed(3)}  tier ${a.tier} (${tierName(a.tier, k)})  thresholds ${thresholds.join(',')}`];
        const width = Math.max(...FEATURE_NAMES.map((n) => n.length));
        lines.push(`  ${'feature'.padEnd(width)}  ${'value'.padStart(8)}   normalised`);
        FEATURE_NAMES.forEach((name, i) => {
          const v = a.features[name];
          lines.push(`  ${name.padEnd(width)}  ${String(Number.isInteger(v) ? v : v.toFixed(3)).padStart(8)}   ${a.vector[i]!.toFixed(2)}`);
        });
        await write(lines.join('\n') + '\n');
        return;
      }
      let rows: Array<{ index: number; split: Split; instruction: string; input: string }>;
      let skipped: number;
      if (opts.field) {
        const r = loadField(opts.data, opts.field, { skipInvalid: opts.skipInvalid });
        rows = r.records.map((x) => ({ index: x.index, split: x.split, instruction: x.text, input: '' }));
        skipped = r.skipped;
      } else {
        const r = loadAlpaca(opts.data, { skipInvalid: opts.skipInvalid, requireOutput: false });
        rows = r.records;
        skipped = r.skipped;
      }
      let buf: string[] = [];
      if (!opts.json) buf.push('index\tsplit\tscore\ttier\ttext');
      for (const r of rows) {
        const a = analyzer.analyze(r.instruction, r.input);
        buf.push(
          opts.json
            ? JSON.stringify({ index: r.index, split: r.split, score: round(a.score), tier: a.tier, features: a.features })
            : `${r.index}\t${r.split}\t${a.score.toFixed(4)}\t${a.tier}\t${r.instruction.replace(/\s+/g, ' ').slice(0, 80)}`,
        );
        if (buf.length >= 1000) {
          await write(buf.join('\n') + '\n');
          buf = [];
        }
      }
      if (buf.length) await write(buf.join('\n') + '\n');
      if (skipped) process.stderr.write(`analyze: skipped ${skipped} malformed record(s)\n`);
    });
}
