#!/usr/bin/env node
// The README's ablation table: every policy of one or more evaluated runs against the one-LoRA baseline at
// its matched budget, Δloss with a 95% paired-bootstrap CI, per run (seed). Reads RUN/report/per_example.jsonl
// and RUN/budget.json, which `loraroute evaluate` / `train` / `sweep` write; nothing is re-scored.
//   node scripts/ablation.mjs LABEL=RUN [LABEL=RUN ...] [--ids learned,shared,...] [--against one_lora]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pairedBootstrap } from '../dist/src/eval/stats.js';
import { verdictWord } from '../dist/src/eval/report.js';

const args = process.argv.slice(2);
const flag = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : dflt; };
const against = flag('--against', 'one_lora');
const ids = flag('--ids', 'learned,learned_top1,learned_soft,shared,cluster,tier,random,oracle').split(',');
if (args.length === 0) { console.error('usage: node scripts/ablation.mjs LABEL=RUN_DIR ... [--ids a,b] [--against one_lora]'); process.exit(2); }
const sgn = (v) => (v > 0 ? '+' : '') + v.toFixed(4);
console.log(`| run | policy | loss | Δ vs ${against} | 95% CI | verdict | tokens (system / ${against}) |`);
console.log('| --- | --- | ---: | ---: | --- | --- | --- |');
for (const spec of args) {
  const [label, dir] = spec.includes('=') ? spec.split('=') : [spec, spec];
  const file = join(dir, 'report', 'per_example.jsonl');
  if (!existsSync(file)) { console.error(`${file}: missing (evaluate the run first)`); process.exit(2); }
  const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const budget = existsSync(join(dir, 'budget.json')) ? JSON.parse(readFileSync(join(dir, 'budget.json'), 'utf8')) : null;
  const of = (id) => rows.map((r) => ({ lossSum: r.loss[id] * r.tokens, tokens: r.tokens }));
  if (rows[0].loss[against] === undefined) { console.error(`${file}: no ${against} losses`); process.exit(2); }
  const b = of(against);
  const lossOf = (x) => x.reduce((s, e) => s + e.lossSum, 0) / x.reduce((s, e) => s + e.tokens, 0);
  for (const id of ids) {
    if (rows[0].loss[id] === undefined) continue;
    const a = of(id);
    const d = pairedBootstrap(a, b, { samples: 1000, seed: 42 });
    const tok = budget ? `${budget.system_tokens} / ${budget.one_lora_tokens}` : '—';
    console.log(`| ${label} | ${id} | ${lossOf(a).toFixed(4)} | ${sgn(d.diff)} | [${sgn(d.lo)}, ${sgn(d.hi)}] | ${verdictWord(d)} | ${tok} |`);
  }
}
