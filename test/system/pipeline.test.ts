import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkExpertsFillable, emptyGroupsWarning, trainSystem } from '../../src/system/pipeline.js';
import { LoraRouteModel } from '../../src/system/routed-model.js';
import { loadPeftAdapter } from '../../src/lora/peft.js';
import { loadRouter } from '../../src/router/io.js';
import { readGPT2Config } from '../../src/model/config.js';
import { bundledModelDir } from '../../src/config/paths.js';
import { createProgress } from '../../src/train/progress.js';
import { silentProgress } from '../helpers/micro.js';

/** A run small enough for CI: a few dozen records, short examples, two steps per training run. */
const SETS = [
  'data.train_subset=36', 'data.validation_subset=12', 'data.test_subset=8', 'data.max_length=80',
  'training.batch_size=6', 'training.max_steps=2', 'training.warmup_steps=1', 'training.router_batch_size=12',
  'training.num_epochs=1', 'training.router_epochs=2', 'training.joint_epochs=1', 'eval.batch_size=12',
  'model.lora_rank=4', 'model.lora_alpha=8', 'model.router_hidden_dim=16',
  // the original system's phases: complexity-tier experts from a cold start, oracle router labels, phase 3
  'model.expert_assignment=complexity', 'training.shared_epochs=0', 'training.router_label=oracle', 'model.router_use_hidden_state=false',
];
const quiet = createProgress(process.stderr, true);

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'loraroute-pipeline-'));
}

test('train: three phases produce loadable best/final models, baseline, metrics; an existing run is not overwritten', async () => {
  const out = tmp();
  try {
    const r = await trainSystem({ sets: SETS, out }, quiet);
    assert.equal(r.status, 'finished');
    for (const d of ['best_model', 'final_model']) {
      assert.ok(existsSync(join(out, d, 'loraroute.json')), `${d} written`);
      for (const e of ['simple', 'medium', 'complex']) assert.ok(existsSync(join(out, d, 'experts', e, 'adapter_config.json')));
    }
    assert.ok(existsSync(join(out, 'baseline_lora', 'adapter_model.safetensors')));
    const cfg = readGPT2Config(bundledModelDir());
    const experts = ['simple', 'medium', 'complex'].map((n) => loadPeftAdapter(join(out, 'final_model', 'experts', n), cfg, n));
    // each expert moved away from its zero-B initialisation, and the experts differ from each other
    for (const e of experts) assert.ok(e.sites.some((s) => s.B.some((v) => v !== 0)), `${e.name} trained`);
    assert.notDeepEqual(Array.from(experts[0].params.slice(0, 64)), Array.from(experts[1].params.slice(0, 64)));
    const router = loadRouter(join(out, 'final_model', 'router'));
    assert.equal(router.numExperts, 3);
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const run of ['expert-simple', 'expert-medium', 'expert-complex', 'one-lora', 'router', 'joint']) {
      assert.ok(metrics.some((m) => m.run === run && typeof m.loss === 'number'), `metrics for ${run}`);
    }
    assert.ok(metrics.some((m) => m.event === 'system_validation'));

    const sys = LoraRouteModel.fromPretrained(join(out, 'best_model'));
    const [g] = sys.generate(['Name three primary colors.'], { maxNewTokens: 4 });
    assert.equal(g.routing.probabilities.length, 3);
    assert.ok(Math.abs(g.routing.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.ok(['simple', 'medium', 'complex'].includes(g.routing.expertName));
    // phase 3 trains (and so serves) the soft mix; the best model is phase 2's or phase 3's, each with its policy
    assert.ok(g.routing.mixture.length >= 1 && Math.abs(g.routing.mixture.reduce((a, m) => a + m.weight, 0) - 1) < 1e-5);

    await assert.rejects(trainSystem({ sets: SETS, out }, quiet), /already holds a training run.*--resume/);
    // --resume on the finished run: exit 'finished' with its best loss, and nothing retrained or rewritten
    const published = (d: string) => ({ link: readlinkSync(join(out, d)), manifest: readFileSync(join(out, d, 'loraroute.json'), 'utf8') });
    const before = { best: published('best_model'), final: published('final_model'), metrics: readFileSync(join(out, 'metrics.jsonl'), 'utf8'), config: statSync(join(out, 'config.yaml')).mtimeMs };
    const again = await trainSystem({ sets: SETS, out, resume: true }, quiet);
    assert.equal(again.status, 'finished');
    assert.equal(again.bestValidationLoss, r.bestValidationLoss);
    assert.deepEqual(published('best_model'), before.best);
    assert.deepEqual(published('final_model'), before.final);
    assert.equal(readFileSync(join(out, 'metrics.jsonl'), 'utf8'), before.metrics);
    assert.equal(statSync(join(out, 'config.yaml')).mtimeMs, before.config);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('train: an interrupted run resumed gives the same final model as an uninterrupted one', async () => {
  const a = tmp();
  const b = tmp();
  try {
    await trainSystem({ sets: SETS, out: a }, quiet);
    // interrupt during phase 1: the flag is seen after the first optimiser step
    const signal = { interrupted: true };
    const first = await trainSystem({ sets: SETS, out: b, signal }, quiet);
    assert.equal(first.status, 'interrupted');
    assert.ok(!existsSync(join(b, 'final_model')));
    const second = await trainSystem({ sets: SETS, out: b, resume: true }, quiet);
    assert.equal(second.status, 'finished');
    const cfg = readGPT2Config(bundledModelDir());
    for (const n of ['simple', 'medium', 'complex']) {
      const x = loadPeftAdapter(join(a, 'final_model', 'experts', n), cfg, n).params;
      const y = loadPeftAdapter(join(b, 'final_model', 'experts', n), cfg, n).params;
      assert.deepEqual(Array.from(y), Array.from(x), `expert ${n} identical after resume`);
    }
    assert.deepEqual(Array.from(loadRouter(join(b, 'final_model', 'router')).mlp.params), Array.from(loadRouter(join(a, 'final_model', 'router')).mlp.params));
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('train: more experts than training examples fails before anything is trained or written, naming model.num_experts and the counts', async () => {
  assert.throws(() => checkExpertsFillable(5, 4), (e: Error) => /model\.num_experts = 5/.test(e.message) && /only 4 examples/.test(e.message) && /at most 4/.test(e.message));
  assert.doesNotThrow(() => checkExpertsFillable(4, 4));
  const out = tmp();
  try {
    await assert.rejects(
      trainSystem({ sets: [...SETS, 'data.train_subset=4', 'model.num_experts=6'], out }, quiet),
      (e: Error) => /model\.num_experts = 6, but the training split has only \d example/.test(e.message),
    );
    assert.ok(!existsSync(join(out, 'config.yaml')) && !existsSync(join(out, 'state')), 'nothing written');
    // the cluster assignment is refused by the same check (before the pooled states are computed)
    await assert.rejects(
      trainSystem({ sets: [...SETS, 'data.train_subset=4', 'model.num_experts=6', 'model.expert_assignment=cluster'], out }, quiet),
      /model\.num_experts = 6, but the training split has only/,
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('train: experts whose complexity tier holds no training example are named in a warning (log and metrics)', async () => {
  assert.equal(emptyGroupsWarning(['simple', 'medium', 'complex'], [3, 2, 1], 'complexity tiers', false), null);
  const w = emptyGroupsWarning(['simple', 'medium', 'complex'], [6, 6, 0], 'complexity tiers', false) ?? '';
  assert.match(w, /model\.num_experts = 3/);
  assert.match(w, /6 \/ 6 \/ 0/);
  assert.match(w, /no training examples for complex, so phase 1 leaves it at initialisation/);
  const out = tmp();
  try {
    // every score below the first cut point: all of the data in the first tier; stopped after the first step
    const progress = silentProgress();
    const r = await trainSystem({ sets: [...SETS, 'model.complexity_thresholds=[0.999,0.9995]'], out, signal: { interrupted: true } }, progress);
    assert.equal(r.status, 'interrupted');
    const line = progress.lines.find((l) => l.startsWith('warning:')) ?? '';
    assert.match(line, /model\.num_experts = 3, but the complexity tiers of the training split hold \d+ \/ 0 \/ 0 examples/);
    assert.match(line, /no training examples for medium, complex/);
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(metrics.some((m) => m.event === 'warning' && m.message === line.slice('warning: '.length)));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
