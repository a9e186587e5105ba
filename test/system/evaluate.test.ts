import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundledModelDir, defaultConfig, type Config } from '../../src/config/index.js';
import { defaultDataPaths } from '../../src/data/alpaca.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import type { LoraAdapter } from '../../src/lora/adapter.js';
import { savePeftAdapter } from '../../src/lora/peft.js';
import type { GPT2 } from '../../src/model/gpt2.js';
import { readGPT2Config } from '../../src/model/config.js';
import { loadGPT2 } from '../../src/model/load.js';
import { randomWeights } from '../../src/model/weights.js';
import { Router, topKRenormalised } from '../../src/router/router.js';
import { loadRunData, prepareSplit } from '../../src/system/data.js';
import { evaluateSystemDetailed, randomChoices, tierChoices, type EvalDetails, type EvaluateOptions } from '../../src/system/evaluate.js';
import { findBaseline, runEvaluate } from '../../src/system/evaluate-command.js';
import { ROUTER_FEATURE_NAMES, type PreparedExample } from '../../src/system/prepared.js';
import { LoraRouteModel } from '../../src/system/routed-model.js';
import { saveSystem } from '../../src/system/saved.js';
import { getBackend } from '../../src/tensor/select.js';
import { byteAlphabet } from '../../src/tokenizer/byte-level.js';
import { GPT2Tokenizer } from '../../src/tokenizer/gpt2.js';
import { scoreExamples } from '../../src/train/score.js';
import { makeComparison, renderMarkdown, type EvalReport } from '../../src/eval/report.js';
import { hfTensors, microAdapter, tempDir } from '../helpers/micro.js';

// Most checks run on a micro GPT-2 (2 layers, 16 wide) with a byte-level tokenizer (256 bytes + end of
// text): the same code paths as the bundled model, fast on either backend (the bundled model's 50,257-way
// LM head costs ~90 ms per position on the reference backend). One check repeats the exactness test on the
// bundled model when the native backend is there.

const backend = getBackend('auto', () => {});
const tmp = tempDir('loraroute-evaluate-');
after(() => tmp.cleanup());
const SHARD = defaultDataPaths()[0];
const EXPERTS = ['simple', 'medium', 'complex'];

/** An HF GPT-2 folder: micro config, seeded random weights (std 0.1, less uniform than 0.02), byte-level tokenizer. */
function writeMicroModelDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const raw = { model_type: 'gpt2', n_layer: 2, n_head: 2, n_embd: 16, n_positions: 512, vocab_size: 257, bos_token_id: 256, eos_token_id: 256 };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(raw));
  const cfg = readGPT2Config(dir);
  const w = randomWeights(cfg, 11);
  for (let i = 0; i < w.buffer.length; i++) w.buffer[i] *= 5;
  for (const b of w.blocks) { b.ln1W.fill(1); b.ln2W.fill(1); }
  w.lnfW.fill(1);
  writeSafetensors(join(dir, 'model.safetensors'), hfTensors(cfg, w));
  const { byteToChar } = byteAlphabet();
  const vocab: Record<string, number> = {};
  byteToChar.forEach((ch, b) => { vocab[ch] = b; });
  vocab['<|endoftext|>'] = 256;
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
}

const MICRO_DIR = join(tmp.dir, 'micro-gpt2');
writeMicroModelDir(MICRO_DIR);

function microConfig(over: (c: Config) => void = () => {}): Config {
  const c = defaultConfig();
  c.model.base_model_name = MICRO_DIR;
  c.model.lora_rank = 4;
  c.model.lora_alpha = 8;
  c.data.paths = [SHARD];
  c.data.max_length = 300; // bytes: the Alpaca template alone is ~150
  c.data.test_subset = 12;
  c.eval.batch_size = 4;
  over(c);
  return c;
}

function makeExperts(model: GPT2): LoraAdapter[] {
  return EXPERTS.map((name, k) => microAdapter(model.config, { r: 4, loraAlpha: 8 }, 20 + k, 0.3, name));
}

function makeRouter(): Router {
  return Router.create({ featureNames: [...ROUTER_FEATURE_NAMES], pooledDim: 0, labelMode: 'oracle', numExperts: 3, hiddenDim: 16, scoreHead: true, expertNames: EXPERTS }, 5);
}

interface Setup {
  sys: LoraRouteModel;
  baseline: LoraAdapter;
  test: PreparedExample[];
}

function microSetup(over?: (c: Config) => void): Setup {
  const config = microConfig(over);
  const model = loadGPT2(MICRO_DIR, { backend });
  const tokenizer = GPT2Tokenizer.fromDir(MICRO_DIR);
  const sys = new LoraRouteModel(model, tokenizer, makeExperts(model), makeRouter(), config);
  const baseline = microAdapter(model.config, { r: 4, loraAlpha: 8 }, 40, 0.3, 'one_lora');
  const { items } = prepareSplit(loadRunData(config), 'test', config, tokenizer, sys.analyzer);
  return { sys, baseline, test: items };
}

const OPTS: Omit<EvaluateOptions, 'baseline'> = { batchSize: 4, bootstrapSamples: 200, seed: 7, latencySamples: 10 };

/** A routed scoring pass done directly (not assembled): example i goes to expert choice[i]. */
function directLosses(s: Setup, choice: ArrayLike<number>, gates?: Float32Array): number[] {
  const row = new Map(s.test.map((p, i) => [p.example, i]));
  const K = s.sys.experts.length;
  const r = scoreExamples(s.sys.model, s.test.map((p) => p.example), OPTS.batchSize, s.sys.tokenizer.eosTokenId, (eb) => {
    const rows = eb.examples.map((e) => row.get(e) as number);
    if (gates) {
      const g = new Float32Array(rows.length * K);
      rows.forEach((i, b) => g.set(gates.subarray(i * K, (i + 1) * K), b * K));
      s.sys.mixture.setGates(g, rows.length);
    } else {
      s.sys.mixture.route(rows.map((i) => choice[i]));
    }
    return s.sys.mixture;
  });
  return r.map((x) => x.lossSum);
}

/**
 * Assembled vs routed losses: bit-identical on the reference backend (each row's matmuls are its own); on the
 * native one, OpenBLAS picks its kernels by matrix height, so a row's float32 rounding can change when its
 * batch is cut into per-expert runs (seen: 1e-8 relative). A wrong expert moves the loss by far more (see
 * the rotated-routing check).
 */
const TOL = backend.name === 'reference' ? 1e-12 : 1e-6;

function assertSameLosses(assembled: EvalDetails['losses'][string], direct: number[], what: string): void {
  assert.equal(assembled.length, direct.length);
  assembled.forEach((a, i) => {
    const rel = Math.abs(a.lossSum - direct[i]) / Math.abs(direct[i]);
    assert.ok(rel <= TOL, `${what}, example ${i}: assembled ${a.lossSum} vs direct ${direct[i]} (relative ${rel})`);
  });
}

const ALL_IDS = ['base', 'one_lora', 'expert_0', 'expert_1', 'expert_2', 'random', 'tier', 'learned', 'learned_soft', 'oracle'];

function checkReportShape(report: EvalReport, n: number): void {
  assert.deepEqual(Object.keys(report.baselines).sort(), [...ALL_IDS].sort());
  for (const id of ALL_IDS) {
    const b = report.baselines[id];
    assert.ok(Number.isFinite(b.loss) && b.loss > 0, `${id} loss`);
    assert.ok(Math.abs(b.perplexity - Math.exp(b.loss)) < 1e-9 * b.perplexity, `${id} perplexity = exp(loss)`);
    assert.equal(b.examples, n);
    assert.equal(b.tokens, report.split.tokens, `${id} scores the same tokens`);
  }
  const routing = report.routing.map((r) => `${r.policy}/${r.target}`);
  assert.ok(routing.includes('learned/tier') && routing.includes('learned/oracle'));
  for (const r of report.routing) {
    assert.ok(r.accuracy >= 0 && r.accuracy <= 1 && r.majorityRate > 0 && r.majorityRate <= 1, `${r.policy}/${r.target} accuracy and majority rate`);
    assert.equal(r.confusion.flat().reduce((a, b) => a + b, 0), n);
  }
  for (const p of ['learned', 'tier', 'random', 'oracle']) assert.equal(report.usage[p].counts.reduce((a, b) => a + b, 0), n, `${p} usage`);
  assert.equal(typeof report.complexityMse, 'number');
  assert.ok(report.latency?.['analyze+route'] && report.latency['analyze+route'].p99 >= report.latency['analyze+route'].p50);
}

test('evaluation: every baseline, oracle below every expert and the learned router, assembled losses equal routed passes', () => {
  const s = microSetup();
  const n = s.test.length;
  assert.ok(n >= 8, `enough test examples (${n})`);
  const { report, details } = evaluateSystemDetailed(s.sys, s.test, { ...OPTS, baseline: s.baseline });
  checkReportShape(report, n);
  const b = report.baselines;
  for (const id of ['expert_0', 'expert_1', 'expert_2', 'learned', 'random', 'tier']) assert.ok(b.oracle.loss <= b[id].loss, `oracle <= ${id}`);
  // the experts really differ (else the routing checks below would prove nothing)
  assert.notEqual(b.expert_0.loss, b.expert_1.loss);
  assert.ok(new Set(details.choices.oracle).size > 1, 'the oracle uses more than one expert');

  // Assembled policy losses equal a routed pass with that routing (different batches, one forward per policy).
  for (const p of ['random', 'tier', 'learned', 'oracle'] as const) assertSameLosses(details.losses[p], directLosses(s, details.choices[p]), p);
  assert.deepEqual(Array.from(details.choices.tier), s.test.map((p) => p.tier));
  // the check can fail: routing every example to the next expert instead misses on every example
  const rotated = directLosses(s, details.choices.random.map((c) => (c + 1) % 3));
  details.losses.random.forEach((a, i) => assert.ok(Math.abs(a.lossSum - rotated[i]) / rotated[i] > 100 * TOL, `example ${i} tells the experts apart`));
  assert.equal(details.learnedGates, null);

  // The comparisons that matter, as loss(a) - loss(b) on the same examples.
  const pairs = report.comparisons.map((c) => `${c.a}-${c.b}`);
  for (const p of ['learned-one_lora', 'learned-random', 'learned-tier', 'learned-base', 'oracle-learned']) assert.ok(pairs.includes(p), p);
  const ol = report.comparisons.find((c) => c.a === 'oracle' && c.b === 'learned');
  assert.ok(ol && ol.diff <= 0 && ol.hi <= 1e-12, 'the oracle is never worse than the learned top-1');
  const lr = report.comparisons.find((c) => c.a === 'learned' && c.b === 'random');
  assert.ok(lr && Math.abs(lr.diff - (b.learned.loss - b.random.loss)) < 1e-12 && lr.lo <= lr.diff && lr.diff <= lr.hi);
  const oracleAcc = report.routing.find((r) => r.policy === 'learned' && r.target === 'oracle');
  const agree = details.choices.learned.filter((c, i) => c === details.choices.oracle[i]).length;
  assert.equal(oracleAcc?.accuracy, agree / n);
});

test('random routing is seeded: same seed, same choices and report; another seed, other choices', () => {
  assert.deepEqual(randomChoices(50, 3, 1), randomChoices(50, 3, 1));
  assert.notDeepEqual(randomChoices(50, 3, 1), randomChoices(50, 3, 2));
  const r = randomChoices(3000, 3, 9);
  for (let k = 0; k < 3; k++) {
    const f = r.filter((c) => c === k).length / r.length;
    assert.ok(Math.abs(f - 1 / 3) < 0.04, `expert ${k} drawn ${f}`);
  }
  const s = microSetup();
  const opts = { ...OPTS, baseline: null, latencySamples: 0 };
  const a = evaluateSystemDetailed(s.sys, s.test, opts);
  const b = evaluateSystemDetailed(s.sys, s.test, opts);
  assert.deepEqual(a.details.choices.random, b.details.choices.random);
  assert.deepEqual(a.details.choices.random, randomChoices(s.test.length, 3, OPTS.seed));
  assert.equal(a.report.baselines.random.loss, b.report.baselines.random.loss);
  assert.deepEqual(a.report.comparisons, b.report.comparisons);
  const c = evaluateSystemDetailed(s.sys, s.test, { ...opts, seed: OPTS.seed + 1 });
  assert.notDeepEqual(c.details.choices.random, a.details.choices.random);
});

test('without a one-LoRA baseline it is reported absent; with top-k > 1 the learned mix gets its own pass', () => {
  const s = microSetup((c) => { c.generation.top_k_experts = 2; });
  const { report, details } = evaluateSystemDetailed(s.sys, s.test, { ...OPTS, baseline: null, baselineMissing: 'none trained', latencySamples: 0 });
  assert.equal(report.baselines.one_lora, undefined);
  assert.deepEqual(report.missing, { one_lora: 'none trained' });
  assert.ok(!report.comparisons.some((c) => c.a === 'one_lora' || c.b === 'one_lora'));
  assert.equal(report.latency, undefined);
  const md = renderMarkdown(report);
  assert.match(md, /\| one LoRA \(absent\) \| — \|/);
  assert.match(md, /one LoRA: not evaluated — none trained\./);
  assert.match(md, /\| learned router \(top-2 renormalised mix\) \| \d\.\d{4} \|/);
  assert.match(md, /\| learned router \(top-1\) \| \d\.\d{4} \|/);
  // learned = the top-2 renormalised mix, scored directly; learned_top1 = its top-1, assembled
  const N = s.test.length;
  const top = topKRenormalised(details.probs, N, 3, 2);
  const gates = new Float32Array(N * 3);
  for (let i = 0; i < N; i++) for (let j = 0; j < 2; j++) gates[i * 3 + top.experts[i * 2 + j]] = top.weights[i * 2 + j];
  assert.deepEqual(details.learnedGates, gates);
  assertSameLosses(details.losses.learned, directLosses(s, [], gates), 'learned top-2 mix');
  assertSameLosses(details.losses.learned_top1, directLosses(s, details.choices.learned), 'learned top-1');
  assert.match(report.baselines.learned.label ?? '', /top-2 renormalised mix/);
  assert.notEqual(report.baselines.learned.loss, report.baselines.learned_top1.loss);

  // no bootstrap: no intervals, and the report says so
  const plain = evaluateSystemDetailed(s.sys, s.test, { ...OPTS, baseline: s.baseline, bootstrapSamples: 0, latencySamples: 0 }).report;
  assert.deepEqual(plain.comparisons, []);
  assert.ok(plain.notes?.some((l) => /No confidence intervals/.test(l)));
  // a one LoRA below the oracle is said plainly, not as a "gap closed" percentage
  const below = { ...plain, baselines: { ...plain.baselines, one_lora: { ...plain.baselines.oracle, loss: plain.baselines.oracle.loss - 0.1 } } };
  below.comparisons = [makeComparison(below, 'learned', 'one_lora', { diff: 0.1, lossA: 1, lossB: 1, lo: 0.05, hi: 0.15, level: 0.95, pGreater: 1, samples: 10, seed: 0, n: 5 })];
  assert.match(renderMarkdown(below), /already at or below the oracle/);
  assert.doesNotMatch(renderMarkdown(below), /closes/);
  // a tier with no expert is an error naming the record
  assert.throws(() => tierChoices([{ ...s.test[0], tier: 3 }], 3), /record \d+: analyzer tier 3 has no expert/);
});

test('runEvaluate on a saved folder writes the report; the CLI prints one JSON object with every baseline', () => {
  const run = join(tmp.dir, 'run');
  const config = microConfig((c) => { c.eval.subset = 9; c.eval.bootstrap_samples = 100; });
  const model = loadGPT2(MICRO_DIR, { backend });
  saveSystem(join(run, 'best_model'), config, makeExperts(model), makeRouter());
  savePeftAdapter(microAdapter(model.config, { r: 4, loraAlpha: 8 }, 40, 0.3, 'one_lora'), join(run, 'baseline_lora'));
  writeFileSync(join(run, 'metrics.jsonl'), [1, 2, 3].map((step) => JSON.stringify({ run: 'expert-simple', phase: 'phase1', step, loss: 5 - step / 10 })).join('\n') + '\n');

  let printed = '';
  const { report, out, markdown, written } = runEvaluate({ modelDir: join(run, 'best_model'), latencySamples: 5, print: (t) => { printed += t; } });
  assert.equal(out, join(run, 'best_model', '..', 'report'));
  for (const f of ['report.json', 'report.md', 'per_example.jsonl', 'usage.svg', 'loss_curves.svg', 'confusion_learned_vs_oracle.svg']) {
    assert.ok(existsSync(join(run, 'report', f)), `${f} written`);
  }
  assert.equal(written.length, 8);
  assert.ok(report.split.examples <= 9 && report.split.examples >= 6, `eval.subset = 9 of the 12 loaded (${report.split.examples} kept)`);
  assert.equal(report.split.subsetSeed, config.eval.seed);
  checkReportShape(report, report.split.examples);
  const saved = JSON.parse(readFileSync(join(run, 'report', 'report.json'), 'utf8')) as EvalReport;
  assert.equal(saved.baselines.learned.loss, report.baselines.learned.loss);
  assert.match(readFileSync(join(run, 'report', 'report.md'), 'utf8'), /!\[loss curves\]\(loss_curves\.svg\)/);
  const lines = readFileSync(join(run, 'report', 'per_example.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, report.split.examples);
  assert.equal(printed, markdown);
  assert.match(markdown, /\| learned router \(top-1 expert\) \| \d+\.\d{4} \|/);
  assert.match(markdown, /majority-class rate/);

  // the same through the CLI, in a child process holding only the evaluate command
  const here = fileURLToPath(new URL('.', import.meta.url));
  const harness = join(tmp.dir, 'cli.mjs');
  writeFileSync(harness, `import { Command } from ${JSON.stringify(import.meta.resolve('commander'))};
import { registerEvaluate } from ${JSON.stringify(pathToFileURL(join(here, '../../src/cli/evaluate.js')).href)};
const program = new Command();
program.name('loraroute');
registerEvaluate(program);
program.parseAsync(process.argv).catch((e) => { console.error('loraroute: ' + e.message); process.exit(1); });
`);
  const cli = (...args: string[]) => spawnSync(process.execPath, [harness, ...args], { encoding: 'utf8' });
  const r = cli('evaluate', '--model-dir', join(run, 'best_model'), '--json', '--quiet', '--latency', '3', '--out', join(tmp.dir, 'cli-report'));
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as EvalReport;
  for (const id of ALL_IDS) {
    assert.equal(typeof j.baselines[id].loss, 'number', `${id}.loss`);
    assert.equal(typeof j.baselines[id].perplexity, 'number', `${id}.perplexity`);
    assert.ok(Math.abs(j.baselines[id].loss - report.baselines[id].loss) <= 1e-12 * report.baselines[id].loss, `${id}: CLI and library agree`);
  }
  assert.ok(existsSync(join(tmp.dir, 'cli-report', 'report.json')));
  const md = cli('evaluate', '--model-dir', join(run, 'best_model'), '--subset', '4', '--latency', '0', '--out', join(tmp.dir, 'cli-md'));
  assert.equal(md.status, 0, md.stderr);
  assert.match(md.stdout, /^# Evaluation report/);
  assert.match(md.stdout, /\| oracle \(lowest\) \|/);
  assert.match(md.stderr, /evaluate: one-LoRA baseline from/);
  const bad = cli('evaluate', '--model-dir', join(run, 'best_model'), '--baseline', join(tmp.dir, 'nope'));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /nope: no adapter_config\.json/);
});

test('findBaseline: an explicit folder must exist; with none and no RUN/baseline_lora it is absent, with the reason', () => {
  const cfg = readGPT2Config(MICRO_DIR);
  assert.throws(() => findBaseline(join(tmp.dir, 'x', 'best_model'), cfg, join(tmp.dir, 'missing')), /missing: no adapter_config\.json/);
  const none = findBaseline(join(tmp.dir, 'x', 'best_model'), cfg);
  assert.equal(none.adapter, null);
  assert.match(none.why ?? '', /baseline_lora/);
});

test('bundled model on the native backend: assembled losses equal routed passes', { skip: backend.name === 'reference' ? 'the reference backend needs minutes for the bundled model\'s LM head; covered by the micro model above' : false }, () => {
  const config = defaultConfig();
  config.data.max_length = 64;
  const model = loadGPT2(undefined, { backend });
  const tokenizer = GPT2Tokenizer.fromDir(bundledModelDir());
  const experts = EXPERTS.map((name, k) => microAdapter(model.config, { r: 4, loraAlpha: 8 }, 60 + k, 0.05, name));
  const sys = new LoraRouteModel(model, tokenizer, experts, makeRouter(), config);
  const data = loadRunData(config, [SHARD]);
  const { items } = prepareSplit(data, 'test', config, tokenizer, sys.analyzer, 12);
  const s: Setup = { sys, baseline: experts[0], test: items };
  const { report, details } = evaluateSystemDetailed(sys, items, { ...OPTS, baseline: null, latencySamples: 0 });
  for (const p of ['random', 'tier', 'learned', 'oracle'] as const) assertSameLosses(details.losses[p], directLosses(s, details.choices[p]), p);
  for (const id of ['expert_0', 'expert_1', 'expert_2', 'learned']) assert.ok(report.baselines.oracle.loss <= report.baselines[id].loss);
});
