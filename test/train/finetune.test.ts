/**
 * `finetune` end to end on the bundled model and data, shrunk to a smoke run (16 train / 8 validation records,
 * 96 tokens, 2 steps of 4).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkOutDir, finetune } from '../../src/train/finetune.js';
import { loadPeftAdapter, ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../../src/lora/peft.js';
import { readGPT2Config } from '../../src/model/config.js';
import { bundledModelDir } from '../../src/config/paths.js';
import { LoraRouteError } from '../../src/errors.js';
import { loadNativeBackend } from '../../src/tensor/native.js';
import { silentProgress, tempDir } from '../helpers/micro.js';

// Without the native addon the run takes the pure-TypeScript backend: smaller still, to stay fast.
const NATIVE = loadNativeBackend() !== null;
const [TRAIN, VAL, MAXLEN, BATCH] = NATIVE ? [16, 8, 96, 4] : [4, 2, 80, 2];
const SETS = [
  `data.train_subset=${TRAIN}`, `data.validation_subset=${VAL}`, `data.max_length=${MAXLEN}`, 'training.max_steps=2', 'training.warmup_steps=1',
  `training.batch_size=${BATCH}`, 'eval.batch_size=8', 'training.log_every=1',
];
const tmp = tempDir();
after(() => tmp.cleanup());
const modelConfig = readGPT2Config(bundledModelDir());
const readJsonl = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('finetune (bundled model, smoke sizes)', () => {
  const out = join(tmp.dir, 'run');

  test('trains (--resume on a missing --out starts the run), and writes the best adapter, the final adapter, metrics and the config', async () => {
    const progress = silentProgress();
    const r = await finetune({ sets: SETS, out, resume: true }, progress);
    assert.deepEqual([r.status, r.steps], ['finished', 2]);
    for (const dir of ['adapter', 'final_adapter']) {
      assert.ok(existsSync(join(out, dir, ADAPTER_CONFIG)) && existsSync(join(out, dir, ADAPTER_WEIGHTS)), dir);
      assert.match(readlinkSync(join(out, dir)), new RegExp(`^\\.${dir}\\.v\\d+$`), `${dir} is published as one link switch`);
    }
    const best = loadPeftAdapter(join(out, 'adapter'), modelConfig);
    const final = loadPeftAdapter(join(out, 'final_adapter'), modelConfig);
    // one validation (at the end), so the best adapter is the final one; training moved B away from zero
    assert.deepEqual(best.params, final.params);
    assert.ok(final.sites.every((s) => s.B.some((x) => x !== 0)));
    assert.deepEqual(final.sites.map((s) => s.name).slice(0, 2), ['transformer.h.0.attn.c_attn', 'transformer.h.0.attn.c_proj']);
    const peftJson = JSON.parse(readFileSync(join(out, 'adapter', ADAPTER_CONFIG), 'utf8')) as Record<string, unknown>;
    assert.equal(peftJson.peft_type, 'LORA');

    const metrics = readJsonl(join(out, 'metrics.jsonl'));
    const data = metrics.find((m) => m.event === 'data');
    assert.ok(data && data.examples === TRAIN && data.validation === VAL, JSON.stringify(data));
    assert.deepEqual(metrics.filter((m) => 'loss' in m).map((m) => m.step), [1, 2]);
    assert.equal(metrics.filter((m) => 'val_loss' in m).length, 1);
    assert.deepEqual(metrics.at(-1)?.event, 'end');
    assert.equal(metrics.at(-1)?.status, 'finished');
    const yaml = readFileSync(join(out, 'config.yaml'), 'utf8');
    assert.match(yaml, new RegExp(`max_length: ${MAXLEN}`));
    assert.match(yaml, /max_steps: 2/);
    assert.ok(progress.lines.some((l) => l.startsWith(`data: ${TRAIN} train / ${VAL} validation examples`)), progress.lines.join('\n'));
  });

  test('running again into the same folder without resume is an error', async () => {
    await assert.rejects(finetune({ sets: SETS, out }, silentProgress()), (e: unknown) =>
      e instanceof LoraRouteError && /already holds a training run .*pass --resume/.test(e.message));
  });

  test('with resume, a finished run finishes at once and keeps its adapter', async () => {
    const before = readFileSync(join(out, 'final_adapter', ADAPTER_WEIGHTS));
    const links = ['adapter', 'final_adapter'].map((d) => readlinkSync(join(out, d)));
    const r = await finetune({ sets: SETS, out, resume: true }, silentProgress());
    assert.deepEqual([r.status, r.steps], ['finished', 2]);
    assert.ok(r.tokens > 0, 'the finished run keeps its token count (its budget); no step ran (steps unchanged)');
    assert.deepEqual(loadPeftAdapter(join(out, 'final_adapter'), modelConfig).params, loadPeftAdapter(join(out, 'adapter'), modelConfig).params);
    const after = loadPeftAdapter(join(out, 'final_adapter'), modelConfig);
    assert.ok(after.params.length > 0);
    assert.equal(readFileSync(join(out, 'final_adapter', ADAPTER_WEIGHTS)).equals(before), true);
    assert.deepEqual(['adapter', 'final_adapter'].map((d) => readlinkSync(join(out, d))), links, 'the same versions: nothing rewritten');
  });

  // (the pure-TypeScript backend needs ~25 s a run; resume equality on it is covered by test/train/loop.test.ts)
  const skip = NATIVE ? false : 'slow without the native addon';
  test('interrupted after step 1 then resumed: the same final adapter as the straight run', { skip }, async () => {
    const out2 = join(tmp.dir, 'interrupted');
    const signal = { interrupted: true };
    const r1 = await finetune({ sets: SETS, out: out2, signal }, silentProgress());
    assert.deepEqual([r1.status, r1.steps], ['interrupted', 1]);
    assert.ok(!existsSync(join(out2, 'final_adapter')));
    assert.ok(existsSync(join(out2, 'state', 'state.json')));
    const r2 = await finetune({ sets: SETS, out: out2, resume: true }, silentProgress());
    assert.deepEqual([r2.status, r2.steps], ['finished', 2]);
    assert.deepEqual(loadPeftAdapter(join(out2, 'final_adapter'), modelConfig).params, loadPeftAdapter(join(out, 'final_adapter'), modelConfig).params);
  });
});

test('checkOutDir --resume: an empty --out, or a run killed before its first checkpoint, starts; stale temporaries go, user files stay', () => {
  const t = tempDir();
  try {
    const empty = join(t.dir, 'empty');
    mkdirSync(empty);
    checkOutDir(empty, join(empty, 'state'), true);
    // what a kill before the first checkpoint leaves: the config, metrics, a half-written file and a half-written adapter version
    const run = join(t.dir, 'run');
    mkdirSync(join(run, '.adapter.v1.tmp-4242-0123456789ab'), { recursive: true });
    writeFileSync(join(run, 'config.yaml'), 'x');
    writeFileSync(join(run, 'metrics.jsonl'), '{}\n');
    writeFileSync(join(run, 'state.safetensors.tmp-4242-0123456789ab'), 'half');
    writeFileSync(join(run, 'my-notes.txt'), 'mine');
    assert.throws(() => checkOutDir(run, join(run, 'state'), false), /already holds a training run.*--resume/);
    checkOutDir(run, join(run, 'state'), true);
    assert.deepEqual(readdirSync(run).sort(), ['config.yaml', 'metrics.jsonl', 'my-notes.txt']);
  } finally {
    t.cleanup();
  }
});
