import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint, openSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { LoraRouteError } from '../../src/errors.js';
import { bundledModelDir } from '../../src/config/paths.js';
import { tempDir } from './helpers.js';

test('reads the bundled fp16 tiny-gpt2 checkpoint', () => {
  const src = openCheckpoint(bundledModelDir());
  assert.ok(src.path.endsWith('model.safetensors'));
  const info = src.info('transformer.wte.weight');
  assert.deepEqual(info, { dtype: 'F16', shape: [50257, 128], byteLength: 50257 * 128 * 2 });
  assert.deepEqual(src.info('transformer.h.0.attn.c_attn.weight').shape, [128, 384]); // Conv1D: [in, out]
  assert.deepEqual(src.info('transformer.wpe.weight').shape, [512, 128]);
  assert.ok(src.names().includes('transformer.h.5.mlp.c_proj.bias'));
  const w = src.getF32('transformer.ln_f.weight');
  assert.equal(w.length, 128);
  assert.ok(w.every((x) => Number.isFinite(x)) && w.some((x) => x !== 0));
  const f = openSafetensors(join(bundledModelDir(), 'model.safetensors'));
  assert.equal(f.metadata.format, 'pt');
});

function shardedDir(): string {
  const dir = tempDir();
  writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), {
    'h.0.w': { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
    'h.0.b': { dtype: 'BF16', shape: [1], data: new Float32Array([3]) },
  });
  writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), {
    'h.1.w': { dtype: 'F16', shape: [2, 1], data: new Float32Array([4, 5]) },
    ids: { dtype: 'I64', shape: [1], data: new BigInt64Array([7n]) },
  });
  const index = {
    metadata: { total_size: 20 },
    weight_map: {
      'h.0.w': 'model-00001-of-00002.safetensors',
      'h.0.b': 'model-00001-of-00002.safetensors',
      'h.1.w': 'model-00002-of-00002.safetensors',
      ids: 'model-00002-of-00002.safetensors',
    },
  };
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
  return dir;
}

test('a sharded checkpoint presents one name space (from the dir or the index path)', () => {
  const dir = shardedDir();
  for (const src of [openCheckpoint(dir), openCheckpoint(join(dir, 'model.safetensors.index.json'))]) {
    assert.deepEqual(src.names(), ['h.0.b', 'h.0.w', 'h.1.w', 'ids']);
    assert.ok(src.has('h.1.w') && !src.has('h.2.w'));
    assert.deepEqual([...src.getF32('h.0.w')], [1, 2]);
    assert.deepEqual([...src.getF32('h.0.b')], [3]);
    assert.deepEqual([...src.getF32('h.1.w')], [4, 5]);
    assert.deepEqual(src.info('h.1.w'), { dtype: 'F16', shape: [2, 1], byteLength: 4 });
    assert.deepEqual([...src.getI32('ids')], [7]);
    assert.equal(src.getRaw('ids').byteLength, 8);
    assert.throws(() => src.getF32('h.2.w'), /model\.safetensors\.index\.json: no tensor 'h\.2\.w' \(4 tensors, e\.g\. h\.0\.w, h\.1\.w, /);
  }
  // An explicit shard file opens on its own.
  assert.deepEqual(openCheckpoint(join(dir, 'model-00002-of-00002.safetensors')).names(), ['h.1.w', 'ids']);
});

test('model.safetensors wins over an index in the same dir', () => {
  const dir = shardedDir();
  writeSafetensors(join(dir, 'model.safetensors'), { only: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
  assert.deepEqual(openCheckpoint(dir).names(), ['only']);
});

test('sharded checkpoint errors name the index and the shard', () => {
  const dir = tempDir();
  writeSafetensors(join(dir, 'a.safetensors'), { x: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
  const idx = join(dir, 'model.safetensors.index.json');
  writeFileSync(idx, JSON.stringify({ weight_map: { x: 'a.safetensors', y: 'b.safetensors' } }));
  assert.throws(() => openCheckpoint(dir), (e: Error) => e instanceof LoraRouteError && e.message.includes(idx) && /shard 'b\.safetensors' \(holding 'y'\) is missing/.test(e.message));
  writeFileSync(idx, JSON.stringify({ weight_map: { x: 'a.safetensors', z: 'a.safetensors' } }));
  assert.throws(() => openCheckpoint(dir), /weight_map puts 'z' in shard 'a\.safetensors', but .*a\.safetensors has no such tensor/);
  writeFileSync(idx, JSON.stringify({ metadata: {} }));
  assert.throws(() => openCheckpoint(dir), /index\.json: expected an object with "weight_map"/);
  writeFileSync(idx, '{not json');
  assert.throws(() => openCheckpoint(dir), /index\.json: not valid JSON/);
});

test('a folder without weights: the error names it and what was looked for', () => {
  const dir = tempDir();
  assert.throws(() => openCheckpoint(dir), (e: Error) => e instanceof LoraRouteError && e.message.startsWith(dir) && /looked for model\.safetensors and model\.safetensors\.index\.json$/.test(e.message));
  mkdirSync(join(dir, 'sub'));
  writeSafetensors(join(dir, 'adapter_model.safetensors'), {});
  assert.throws(() => openCheckpoint(dir), /found adapter_model\.safetensors; pass the file path itself/);
  assert.throws(() => openCheckpoint(join(dir, 'missing')), /checkpoint path .*missing does not exist/);
});
