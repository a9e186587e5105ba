import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainSystem } from '../../src/system/pipeline.js';
import { runEvaluate } from '../../src/system/evaluate-command.js';
import { LoraRouteModel } from '../../src/system/routed-model.js';
import { loadBudget } from '../../src/system/budget.js';
import { loadPeftAdapter } from '../../src/lora/peft.js';
import { readGPT2Config } from '../../src/model/config.js';
import { bundledModelDir } from '../../src/config/paths.js';
import { createProgress } from '../../src/train/progress.js';
import { parseSeeds, summarizeSweep } from '../../src/system/sweep.js';

/**
 * A warm-started run small enough for CI: a shared LoRA, three cluster experts branched from it, cross-fitted
 * oracle labels, the policy chosen on validation, the one-LoRA baseline continuing the shared LoRA. One epoch
 * everywhere and no step cap, so every budget is a whole number of passes over known examples.
 */
const SETS = [
  'data.train_subset=36', 'data.validation_subset=12', 'data.test_subset=8', 'data.max_length=80',
  'training.batch_size=6', 'training.warmup_steps=1', 'training.router_batch_size=12',
  'training.shared_epochs=1', 'training.num_epochs=1', 'training.router_epochs=2', 'training.joint_epochs=0', 'eval.batch_size=12',
  'model.lora_rank=4', 'model.lora_alpha=8', 'model.router_hidden_dim=16', 'model.expert_assignment=cluster',
  'model.router_use_hidden_state=true', 'training.router_label=oracle', 'generation.routing_policy=auto', 'eval.bootstrap_samples=50',
];
const quiet = createProgress(process.stderr, true);

test('warm start: experts branch from the shared LoRA; budgets are counted and matched; oracle labels are cross-fitted; evaluate reports budget and curve', async () => {
  const out = mkdtempSync(join(tmpdir(), 'loraroute-warm-'));
  try {
    const r = await trainSystem({ sets: SETS, out }, quiet);
    assert.equal(r.status, 'finished');
    const cfg = readGPT2Config(bundledModelDir());
    const best = join(out, 'best_model');
    for (const f of ['shared/adapter_config.json', 'clusters.json', 'selection.json', 'budget.json']) assert.ok(existsSync(join(best, f)), f);

    // budget: system = shared + experts, each one pass over its examples; the baseline gets the same tokens
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const budget = loadBudget(best);
    assert.ok(budget);
    assert.equal(budget.system_tokens, budget.phases.shared + budget.phases.experts.reduce((a, b) => a + b, 0));
    assert.ok(budget.phases.shared > 0 && budget.phases.experts.every((t) => t > 0));
    // one epoch over all training examples = the three groups once each: the shared phase and the experts' phase count the same tokens
    assert.equal(budget.phases.experts.reduce((a, b) => a + b, 0), budget.phases.shared);
    assert.ok(budget.one_lora_tokens !== null && Math.abs(budget.one_lora_tokens - budget.system_tokens) <= 0.01 * budget.system_tokens, `one LoRA ${budget.one_lora_tokens} vs system ${budget.system_tokens}`);
    assert.ok(budget.labelling_tokens > 0, 'the cross-fitted copies spent tokens');
    assert.ok(metrics.some((m) => m.event === 'router_labels'));

    // cross-fitting: every training example is labelled, by the copies of its own fold only
    const oracle = JSON.parse(readFileSync(join(out, 'phase2', 'oracle_train.json'), 'utf8')) as { label: number[]; fold: number[] };
    assert.equal(oracle.label.length, metrics.find((m) => m.event === 'start')?.train);
    assert.ok(oracle.label.every((l) => l >= 0 && l < 3));
    assert.deepEqual([...new Set(oracle.fold)].sort(), [0, 1]);

    // warm start: an expert whose best checkpoint is its branch point (no extra steps) equals the shared LoRA
    const shared = loadPeftAdapter(join(best, 'shared'), cfg, 'shared').params;
    const bestStepOf = (run: string) => metrics.filter((m) => m.run === run && m.best === true).map((m) => m.step as number).pop();
    for (const n of ['cluster0', 'cluster1', 'cluster2']) {
      const e = loadPeftAdapter(join(best, 'experts', n), cfg, n).params;
      if (bestStepOf(`expert-${n}`) === 0) assert.deepEqual(Array.from(e), Array.from(shared), `${n} kept its branch point`);
      else assert.notDeepEqual(Array.from(e), Array.from(shared), `${n} moved from its branch point`);
      assert.ok(metrics.some((m) => m.run === `expert-${n}` && m.step === 0 && typeof m.val_loss === 'number'), `${n} validated at its branch point`);
    }

    // the served policy comes from the validation selection, and the model routes with it
    const selection = JSON.parse(readFileSync(join(best, 'selection.json'), 'utf8')) as { policy: { kind: string }; candidates: Array<{ loss: number }> };
    assert.ok(selection.candidates.length >= 3);
    const sys = LoraRouteModel.fromPretrained(best);
    assert.equal(sys.policy.kind, selection.policy.kind);
    assert.equal(sys.adapterNames.at(-1), 'shared');
    const [trace] = sys.route([{ instruction: 'Name three primary colors.' }]);
    assert.ok(Math.abs(trace.mixture.reduce((a, m) => a + m.weight, 0) - 1) < 1e-5);

    const { report } = runEvaluate({ modelDir: best, latencySamples: 0, out: join(out, 'report') });
    assert.deepEqual(report.budget, budget);
    for (const id of ['base', 'one_lora', 'shared', 'cluster', 'random', 'tier', 'learned', 'oracle']) assert.equal(typeof report.baselines[id]?.loss, 'number', id);
    const curve = report.curves?.learned ?? [];
    assert.equal(curve[0].share, 0);
    assert.ok(Math.abs(curve[0].loss - report.baselines.shared.loss) < 1e-9, 'share 0 = the shared LoRA');
    assert.equal(curve.at(-1)?.share, 1);
    const top1 = report.baselines.learned_top1 ?? report.baselines.learned;
    assert.ok(Math.abs((curve.at(-1)?.loss ?? NaN) - top1.loss) < 1e-9, 'share 1 = top-1 routing');
    assert.ok(existsSync(join(out, 'report', 'routing_curve.svg')));
    assert.ok(report.comparisons.some((c) => c.a === 'learned' && c.b === 'one_lora'));

    const sweep = summarizeSweep([42, 7], [report, report], ['a', 'b']);
    const c = sweep.comparisons.find((x) => x.a === 'learned' && x.b === 'one_lora');
    assert.ok(c && c.sd === 0 && c.perSeed.length === 2 && c.verdict !== 'mixed');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('--seeds: distinct non-negative integers', () => {
  assert.deepEqual(parseSeeds('42, 7,123'), [42, 7, 123]);
  assert.throws(() => parseSeeds('42,42'), /distinct/);
  assert.throws(() => parseSeeds('4.5'), /--seeds/);
  assert.throws(() => parseSeeds(''), /--seeds/);
});
