import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOutDir, runConfig } from '../../src/train/finetune.js';
import { loadConfig, serializeConfig } from '../../src/config/index.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'loraroute-runcfg-'));
}

test('checkOutDir: a non-empty --out is refused without --resume; --resume needs a run folder', () => {
  const out = tmp();
  try {
    checkOutDir(join(out, 'new'), join(out, 'new', 'state'), false); // a new folder is fine
    writeFileSync(join(out, 'new', 'notes.txt'), 'x');
    assert.throws(() => checkOutDir(join(out, 'new'), join(out, 'new', 'state'), false), /is not empty; choose a new --out/);
    mkdirSync(join(out, 'new', 'state'));
    writeFileSync(join(out, 'new', 'state', 'state.safetensors'), 'x');
    assert.throws(() => checkOutDir(join(out, 'new'), join(out, 'new', 'state'), false), /already holds a training run.*--resume/);
    checkOutDir(join(out, 'new'), join(out, 'new', 'state'), true);
    writeFileSync(join(out, 'notes.txt'), 'x');
    assert.throws(() => checkOutDir(out, join(out, 'state'), true), /--resume: .* is not a loraroute run/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('runConfig: a resumed run keeps its saved config; settings given again must agree with it', () => {
  const out = tmp();
  try {
    const sets = ['training.learning_rate=0.001', 'data.train_subset=40'];
    const first = runConfig({ sets, out });
    assert.equal(first.training.learning_rate, 0.001);
    writeFileSync(join(out, 'config.yaml'), serializeConfig(first, out));
    // resumed without settings: the saved config, not the defaults
    const resumed = runConfig({ out, resume: true });
    assert.equal(resumed.training.learning_rate, 0.001);
    assert.equal(resumed.data.train_subset, 40);
    assert.notEqual(loadConfig().config.training.learning_rate, 0.001);
    // the same settings again: fine; different ones: an error naming each key
    assert.equal(runConfig({ sets, out, resume: true }).training.learning_rate, 0.001);
    assert.throws(() => runConfig({ sets: ['training.learning_rate=0.05', 'data.train_subset=40'], out, resume: true }),
      /differs from the run's .*config\.yaml in training\.learning_rate \(saved 0\.001, now 0\.05\)/);
    assert.throws(() => runConfig({ sets, debug: true, out, resume: true }), /data\.max_length/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
