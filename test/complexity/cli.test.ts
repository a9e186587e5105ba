import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Runs `analyze` / `stratify` in a child process through a program holding only these two commands
// (so the test does not depend on the rest of the CLI); the harness lives in a temp folder, so it
// imports everything by absolute URL.
const here = fileURLToPath(new URL('.', import.meta.url));
const cliDir = join(here, '../../src/cli');
const dir = mkdtempSync(join(tmpdir(), 'loraroute-cli-'));
const harness = join(dir, 'cli.mjs');
writeFileSync(
  harness,
  `import { Command } from ${JSON.stringify(import.meta.resolve('commander'))};
import { registerAnalyze } from ${JSON.stringify(pathToFileURL(join(cliDir, 'analyze.js')).href)};
import { registerStratify } from ${JSON.stringify(pathToFileURL(join(cliDir, 'stratify.js')).href)};
const program = new Command();
program.name('loraroute');
registerAnalyze(program);
registerStratify(program);
program.parseAsync(process.argv).catch((e) => { console.error('loraroute: ' + e.message); process.exit(1); });
`,
);

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [harness, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const rows = [
  { instruction: 'What is the capital of France?', input: '', output: 'Paris.' },
  { instruction: 'Translate the sentence into French.', input: 'I like apples.', output: "J'aime les pommes." },
  { instruction: 'Write a Python function that parses a CSV file, removes duplicate rows, and returns the result as a JSON array; the code must not use external libraries.', input: '', output: 'def f(): pass' },
  { instruction: 'Name a color.', input: '', output: 'Blue.' },
];
const data = join(dir, 'data.jsonl');
writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

test('analyze TEXT prints features, score and tier; --json prints one object', () => {
  const human = cli('analyze', 'What is the capital of France?');
  assert.equal(human.status, 0, human.stderr);
  assert.match(human.stdout, /^score 0\.\d{3} {2}tier 0 \(simple\)/);
  assert.match(human.stdout, /syntactic_depth/);
  const json = cli('analyze', 'Translate the sentence into French.', '--input', 'I like apples.', '--json');
  assert.equal(json.status, 0, json.stderr);
  const out = JSON.parse(json.stdout) as { score: number; tier: number; features: Record<string, number>; vector: number[] };
  assert.equal(out.features.has_input, 1);
  assert.equal(out.features.input_words, 3);
  assert.equal(out.vector.length, Object.keys(out.features).length);
});

test('analyze --data --json prints one line per record, in order, with index, score, tier, features', () => {
  const r = cli('analyze', '--data', data, '--json');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { index: number; split: string; score: number; tier: number; features: Record<string, number> });
  assert.deepEqual(lines.map((l) => l.index), [0, 1, 2, 3]);
  assert.deepEqual(lines.map((l) => l.split), ['test', 'validation', 'train', 'train']);
  assert.equal(lines[1]!.features.has_input, 1);
  assert.equal(lines[0]!.tier, 0);
  assert.equal(lines[2]!.tier, 2);
  assert.ok(lines[2]!.score > lines[3]!.score);
});

test('analyze --data --field reads another text field; bad rows name file and record', () => {
  const f = join(dir, 'texts.json');
  writeFileSync(f, JSON.stringify([{ text: 'Name a color.' }, { text: 'Write a story about a dragon.' }]));
  const r = cli('analyze', '--data', f, '--field', 'text', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 2);
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"instruction": "ok", "output": "x"}\n{"instruction": 5, "output": "x"}\n');
  const e = cli('analyze', '--data', bad, '--json');
  assert.equal(e.status, 1);
  assert.match(e.stderr, new RegExp(`bad\\.jsonl record 1 \\(line 2\\): "instruction" must be a string`));
  const s = cli('analyze', '--data', bad, '--json', '--skip-invalid');
  assert.equal(s.status, 0, s.stderr);
  assert.equal(s.stdout.trim().split('\n').length, 1);
  assert.match(s.stderr, /skipped 1 malformed record/);
});

test('stratify writes one JSONL per tier, report.json, report.md and an SVG', () => {
  const out = join(dir, 'strat');
  const r = cli('stratify', '--data', data, '--out', out, '--thresholds', '0.3,0.7');
  assert.equal(r.status, 0, r.stderr);
  for (const f of ['simple.jsonl', 'medium.jsonl', 'complex.jsonl', 'report.json', 'report.md', 'scores.svg']) assert.ok(existsSync(join(out, f)), f);
  const tiers = ['simple', 'medium', 'complex'].map((t) =>
    readFileSync(join(out, `${t}.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { index: number; split: string; tier: number; output: string }),
  );
  const all = tiers.flat();
  assert.deepEqual(all.map((x) => x.index).sort(), [0, 1, 2, 3]);
  tiers.forEach((rowsOfTier, t) => rowsOfTier.forEach((x) => assert.equal(x.tier, t)));
  assert.ok(all.every((x) => typeof x.split === 'string' && typeof x.output === 'string'));
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
    records: number; counts: Record<string, number[]>; thresholds: number[]; histogram: { counts: Record<string, number[]> }; features: Record<string, { mean: number; tierMeans: number[] }>;
  };
  assert.equal(report.records, 4);
  assert.deepEqual(report.thresholds, [0.3, 0.7]);
  assert.deepEqual(report.counts.all, tiers.map((x) => x.length));
  assert.equal(report.counts.test!.reduce((a, b) => a + b, 0), 1);
  assert.equal(report.histogram.counts.all!.reduce((a, b) => a + b, 0), 4);
  assert.ok('syntactic_depth' in report.features);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /\| train \|/);
  assert.match(readFileSync(join(out, 'scores.svg'), 'utf8'), /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
});

test('stratify --quantiles makes equal tiers; --skip-invalid counts bad rows; bad rows fail otherwise', () => {
  const mixed = join(dir, 'mixed.jsonl');
  writeFileSync(mixed, [...rows, { instruction: '', output: 'x' }, { instruction: 'Hi', input: '' }, ...rows].map((r) => JSON.stringify(r)).join('\n') + '\n');
  const out = join(dir, 'q');
  const fail = cli('stratify', '--data', mixed, '--out', out);
  assert.equal(fail.status, 1);
  assert.match(fail.stderr, /mixed\.jsonl record 4 \(line 5\): "instruction" is empty/);
  const r = cli('stratify', '--data', mixed, '--out', out, '--quantiles', '2', '--skip-invalid');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { skipped: number; records: number; tiers: string[]; thresholdSource: string };
  assert.equal(report.skipped, 2);
  assert.equal(report.records, 8);
  assert.deepEqual(report.tiers, ['tier0', 'tier1']);
  assert.equal(report.thresholdSource, 'quantiles');
  const both = cli('stratify', '--data', data, '--out', out, '--quantiles', '--thresholds', '0.5');
  assert.equal(both.status, 1);
});
