import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainSystem } from '../../src/system/pipeline.js';
import { loadBudget } from '../../src/system/budget.js';
import { foldOf } from '../../src/system/phases.js';
import { loadPeftAdapter } from '../../src/lora/peft.js';
import { readGPT2Config } from '../../src/model/config.js';
import { bundledModelDir } from '../../src/config/paths.js';
import { createProgress } from '../../src/train/progress.js';

/** The two methods past clusters, on a run small enough for CI: EM reassignment and shared-A joint experts. */
const BASE = [
  'data.train_subset=36', 'data.validation_subset=12', 'data.test_subset=8', 'data.max_length=80',
  'training.batch_size=6', 'training.warmup_steps=1', 'training.router_batch_size=12', 'training.shared_epochs=1',
  'training.router_epochs=2', 'eval.batch_size=12', 'model.lora_rank=4', 'model.lora_alpha=8', 'model.router_hidden_dim=16',
  'model.router_use_hidden_state=true', 'training.router_label=group', 'generation.routing_policy=auto', 'eval.bootstrap_samples=50',
];
const quiet = createProgress(process.stderr, true);
const events = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

test('oracle_em: groups are reassigned by cross-fitted copies (balanced), the experts train on them, and the copies count as labelling tokens', async () => {
  const out = mkdtempSync(join(tmpdir(), 'loraroute-em-'));
  try {
    const r = await trainSystem({ sets: [...BASE, 'model.expert_assignment=oracle_em', 'training.em_rounds=1', 'training.num_epochs=1', 'training.joint_epochs=0'], out }, quiet);
    assert.equal(r.status, 'finished');
    const round = JSON.parse(readFileSync(join(out, 'em', 'round0.json'), 'utf8')) as { index: number[]; label: number[]; fold: number[]; validation: number[]; tokens: number };
    const m = events(out);
    const start = m.find((e) => e.event === 'start') as { train: number; validation: number };
    const N = round.label.length;
    assert.equal(N, start.train);
    // balanced: no expert holds more than ceil(N / K)
    const sizes = [0, 1, 2].map((k) => round.label.filter((l) => l === k).length);
    assert.ok(sizes.every((s) => s <= Math.ceil(N / 3)), `sizes ${sizes}`);
    assert.equal(round.validation.length, start.validation);
    // each example's fold is the one whose copies did not train on it (crossFitSets is tested in routing.test.ts)
    assert.deepEqual(round.fold, round.index.map((i) => foldOf(i, 2)));
    const em = m.find((e) => e.event === 'em_round') as { train_sizes: number[]; tokens: number };
    assert.deepEqual(em.train_sizes, sizes);
    // the experts' phase trains on the EM groups: their token counts follow the new sizes, one pass each
    const budget = loadBudget(join(out, 'best_model'));
    assert.ok(budget);
    assert.equal(budget.labelling_tokens, round.tokens);
    assert.ok(round.tokens > 0);
    assert.equal(budget.phases.experts.reduce((a, b) => a + b, 0), budget.phases.shared, 'one pass over every training example, in its new group');
    const loraCfg = JSON.parse(readFileSync(join(out, 'best_model', 'loraroute.json'), 'utf8')) as { experts: string[] };
    assert.deepEqual(loraCfg.experts, ['expert0', 'expert1', 'expert2']);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('share_expert_a: phase 3 trains experts with one A per module and their own B, saved as PEFT adapters with equal A', async () => {
  const out = mkdtempSync(join(tmpdir(), 'loraroute-hydra-'));
  try {
    const sets = [...BASE, 'model.expert_assignment=cluster', 'training.num_epochs=0', 'training.joint_epochs=1', 'training.share_expert_a=true'];
    const r = await trainSystem({ sets, out }, quiet);
    assert.equal(r.status, 'finished');
    const budget = loadBudget(join(out, 'final_model'));
    assert.ok(budget);
    assert.deepEqual(budget.phases.experts, [0, 0, 0], 'num_epochs 0: no phase 1');
    assert.equal(budget.phases.joint, budget.phases.shared, 'one joint pass over all the data');
    assert.equal(budget.system_tokens, budget.phases.shared + budget.phases.joint);
    const cfg = readGPT2Config(bundledModelDir());
    const shared = loadPeftAdapter(join(out, 'final_model', 'shared'), cfg, 'shared');
    const experts = ['cluster0', 'cluster1', 'cluster2'].map((n) => loadPeftAdapter(join(out, 'final_model', 'experts', n), cfg, n));
    experts[0].sites.forEach((s, i) => {
      for (const e of experts.slice(1)) {
        assert.deepEqual(Array.from(e.sites[i].A), Array.from(s.A), `${s.name}: A is shared`);
        assert.notDeepEqual(Array.from(e.sites[i].B), Array.from(s.B), `${s.name}: B is the expert's own`);
      }
      assert.notDeepEqual(Array.from(s.A), Array.from(shared.sites[i].A), `${s.name}: the shared A trained in phase 3`);
    });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
