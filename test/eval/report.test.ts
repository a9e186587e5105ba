import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { makeComparison, renderMarkdown, verdictLine, verdictWord, writeReport, type EvalReport } from '../../src/eval/report.js';
import { accuracyVsMajority, confusionMatrix, expertUsage, latencySummary, type PairedDiff } from '../../src/eval/stats.js';

function diff(d: number, lo: number, hi: number, pGreater: number): PairedDiff {
  return { diff: d, lossA: 2 + d, lossB: 2, lo, hi, level: 0.95, pGreater, samples: 2000, seed: 0, n: 100 };
}

function sampleReport(): EvalReport {
  const tier = [0, 0, 1, 2, 2, 2, 1, 0];
  const learned = [0, 1, 1, 2, 2, 0, 1, 0];
  const oracle = [1, 1, 1, 2, 0, 2, 1, 1];
  const bl = (loss: number) => ({ loss, perplexity: Math.exp(loss), tokens: 1234, examples: 100 });
  const r: EvalReport = {
    version: 1,
    createdAt: '2025-01-01T00:00:00.000Z',
    split: { name: 'test', examples: 100, tokens: 1234, subsetSeed: 3 },
    experts: ['simple', 'medium', 'complex'],
    baselines: { base: bl(2.9), one_lora: bl(2.4567), expert_0: bl(2.5), random: bl(2.47), tier: bl(2.45), learned: bl(2.4447), oracle: bl(2.3) },
    comparisons: [],
    routing: [
      { policy: 'learned', target: 'tier', ...accuracyVsMajority(tier, learned, 3), confusion: confusionMatrix(tier, learned, 3) },
      { policy: 'learned', target: 'oracle', ...accuracyVsMajority(oracle, learned, 3), confusion: confusionMatrix(oracle, learned, 3) },
    ],
    usage: { learned: expertUsage(learned, 3), tier: expertUsage(tier, 3) },
    complexityMse: 0.0123,
    latency: { 'analyze+route': latencySummary([0.5, 0.7, 0.6, 2.5]) },
    notes: ['seeded subset of 100 test examples'],
  };
  r.comparisons.push(
    makeComparison(r, 'learned', 'one_lora', diff(-0.012, -0.02, -0.004, 0.001)),
    makeComparison(r, 'learned', 'random', diff(0.003, -0.002, 0.008, 0.88)),
    makeComparison(r, 'learned', 'oracle', diff(0.1447, 0.13, 0.16, 1)),
  );
  return r;
}

test('verdict lines say better / worse / no clear difference from the interval', () => {
  const r = sampleReport();
  assert.equal(verdictLine(r, r.comparisons[0]), 'learned router vs one LoRA: Δloss = -0.012 [95% CI -0.020, -0.004] — better');
  assert.equal(verdictLine(r, r.comparisons[1]), 'learned router vs random routing: Δloss = +0.003 [95% CI -0.002, +0.008] — no clear difference');
  assert.equal(verdictWord({ lo: 0.13, hi: 0.16 }), 'worse');
  // A narrow interval gets more decimals.
  assert.match(verdictLine(r, { ...r.comparisons[0], diff: -0.00012, lo: -0.0002, hi: -0.00004 }), /Δloss = -0\.00012 \[95% CI -0\.00020, -0\.00004\] — better/);
  assert.throws(() => makeComparison(r, 'learned', 'nope', diff(0, 0, 0, 0)), /both must be baselines/);
});

test('markdown report holds the loss table, verdicts, accuracy with majority rates, confusion, usage, latency', () => {
  const md = renderMarkdown(sampleReport());
  assert.match(md, /\| oracle \(lowest\) \| 2\.3000 \| 9\.974 \|/);
  assert.match(md, /\| one LoRA \| 2\.4567 \| 11\.666 \| 1234 \| 100 \|/);
  assert.match(md, /\| simple alone \| 2\.5000 \|/);
  assert.match(md, /- learned router vs one LoRA: Δloss = -0\.012 \[95% CI -0\.020, -0\.004\] — better/);
  assert.match(md, /- learned router vs oracle: .* — worse/);
  // learned accuracy vs tier: 6/8 = 75.0%, majority of tier labels (class 0, 3 of 8) = 37.5%.
  assert.match(md, /\| learned \| tier \| 75\.0% \| 37\.5% \| simple \| 8 \|/);
  assert.match(md, /\| simple \| 2 \| 1 \| 0 \|/); // confusion row: tier 0 examples were routed to experts 0, 1, 0
  assert.match(md, /closes 7\.7% of the loss gap/); // (2.4567 − 2.4447) / (2.4567 − 2.3) = 0.0766
  assert.match(md, /\| analyze\+route \| 0\.650 \| 2\.446 \| 1\.075 \|/); // p99: 0.7 + 0.97·(2.5 − 0.7)
  assert.match(md, /MSE .*0\.01230/);
});

test('writeReport writes report.json, report.md and SVG plots containing the numbers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-'));
  try {
    const metrics = join(dir, 'metrics.jsonl');
    const lines = [];
    for (let s = 0; s <= 20; s += 5) lines.push(JSON.stringify({ run: 'expert-simple', step: s, loss: 3 - s / 20, lr: 1e-3 }));
    lines.push(JSON.stringify({ run: 'expert-simple', step: 20, val_loss: 2.6 }));
    for (let s = 0; s <= 10; s += 5) lines.push(JSON.stringify({ run: 'joint', step: s, loss: 3.1 - s / 50 }));
    for (let s = 0; s <= 10; s += 5) lines.push(JSON.stringify({ run: 'router', step: s, loss: 1.1 - s / 50 })); // a routing loss: not plotted
    lines.push(JSON.stringify({ event: 'system_validation', val_loss: 2.9 })); // no step: not plotted
    writeFileSync(metrics, lines.join('\n') + '\n{"run":"router","st'); // a truncated last line is tolerated
    const report = sampleReport();
    const files = writeReport(join(dir, 'out'), report, { metricsPath: metrics });
    const names = files.map((f) => f.slice(join(dir, 'out').length + 1)).sort();
    assert.deepEqual(names, ['confusion_learned_vs_oracle.svg', 'confusion_learned_vs_tier.svg', 'loss_curves.svg', 'report.json', 'report.md', 'usage.svg']);
    const json = JSON.parse(readFileSync(join(dir, 'out', 'report.json'), 'utf8'));
    assert.deepEqual(json, JSON.parse(JSON.stringify(report)));
    assert.equal(json.baselines.one_lora.loss, 2.4567);
    const md = readFileSync(join(dir, 'out', 'report.md'), 'utf8');
    assert.match(md, /!\[confusion learned vs tier\]\(confusion_learned_vs_tier\.svg\)/);
    assert.match(md, /!\[loss curves\]\(loss_curves\.svg\)/);
    const curves = readFileSync(join(dir, 'out', 'loss_curves.svg'), 'utf8');
    assert.equal((curves.match(/<polyline/g) ?? []).length, 2); // expert-simple/loss, joint/loss (val is one point)
    assert.equal((curves.match(/<circle/g) ?? []).length, 1); // expert-simple/val_loss
    assert.match(curves, />expert-simple\/loss</);
    assert.match(curves, />joint\/loss</);
    assert.doesNotMatch(curves, /router/);
    const conf = readFileSync(join(dir, 'out', 'confusion_learned_vs_tier.svg'), 'utf8');
    assert.match(conf, /^<svg xmlns/);
    assert.equal((conf.match(/<rect x="\d+" y="\d+" width="70"/g) ?? []).length, 9);
    assert.match(conf, />67%</); // tier 0 row: 2 of 3 chosen as expert 0
    const usage = readFileSync(join(dir, 'out', 'usage.svg'), 'utf8');
    assert.match(usage, />38%</); // learned: 3 of 8 to expert 0 = 37.5% → "38%"
    assert.match(usage, />complex</);
    // Render to PNG when rsvg-convert exists (an optional visual check, skipped otherwise).
    const probe = spawnSync('rsvg-convert', ['--version']);
    if (probe.status === 0) {
      for (const f of ['loss_curves', 'confusion_learned_vs_tier', 'usage']) {
        const r = spawnSync('rsvg-convert', ['-o', join(dir, 'out', `${f}.png`), join(dir, 'out', `${f}.svg`)]);
        assert.equal(r.status, 0, r.stderr.toString());
        assert.ok(existsSync(join(dir, 'out', `${f}.png`)));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
