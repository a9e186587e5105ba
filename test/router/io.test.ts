import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRouter, saveRouter } from '../../src/router/io.js';
import { FeatureNormalizer } from '../../src/router/normalizer.js';
import { Router } from '../../src/router/router.js';
import { openSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { LoraRouteError } from '../../src/errors.js';
import { randn } from './helpers.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'router-io-'));
}

function makeRouter(scoreHead: boolean): Router {
  const r = Router.create(
    { featureNames: ['len', 'depth', 'verbs'], pooledDim: 4, labelMode: 'oracle', numExperts: 3, hiddenDim: 16, dropout: 0.2, activation: 'relu', scoreHead, expertNames: ['simple', 'medium', 'complex'] },
    5,
  );
  r.normalizer = FeatureNormalizer.fit(randn(10 * 7, 3, 2), 10, 7);
  return r;
}

test('save/load round trip: weights, config, features, normaliser, label mode, outputs', () => {
  const dir = tmp();
  try {
    const r = makeRouter(true);
    saveRouter(dir, r);
    const j = JSON.parse(readFileSync(join(dir, 'router.json'), 'utf8'));
    assert.equal(j.labelMode, 'oracle');
    assert.deepEqual(j.featureNames, ['len', 'depth', 'verbs']);
    assert.deepEqual(j.tensors['fc1.weight'], [16, 7]);
    const st = openSafetensors(join(dir, 'router.safetensors'));
    assert.deepEqual(st.names(), ['fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight', 'score.bias', 'score.weight']);
    assert.equal(st.info('fc2.weight').dtype, 'F32');
    const back = loadRouter(dir);
    assert.deepEqual(back.mlp.params, r.mlp.params);
    assert.deepEqual(back.mlp.config, r.mlp.config);
    assert.deepEqual(back.meta, r.meta);
    assert.deepEqual(back.normalizer.toJSON(), r.normalizer.toJSON());
    const f = randn(2 * 3, 9);
    const p = randn(2 * 4, 10);
    assert.deepEqual(back.route(f, p, 2), r.route(f, p, 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loading a router whose tensors do not match its JSON is a clear error', () => {
  const dir = tmp();
  try {
    const r = makeRouter(false);
    saveRouter(dir, r);
    const st = join(dir, 'router.safetensors');
    const jsonPath = join(dir, 'router.json');
    const good = readFileSync(jsonPath, 'utf8');
    // JSON says hidden 32, the file holds hidden 16.
    const j = JSON.parse(good);
    j.config.hiddenDim = 32;
    writeFileSync(jsonPath, JSON.stringify(j));
    assert.throws(() => loadRouter(dir), (e: unknown) => e instanceof LoraRouteError && /fc1\.weight' has shape \[16, 7\].*implies \[32, 7\]/.test(e.message));
    // inputDim disagrees with the feature list.
    j.config.hiddenDim = 16;
    j.featureNames = ['len'];
    writeFileSync(jsonPath, JSON.stringify(j));
    assert.throws(() => loadRouter(dir), /inputDim 7 != 1 featureNames \+ pooledDim 4/);
    // Missing tensor.
    writeFileSync(jsonPath, good);
    const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    for (const s of r.mlp.specs.filter((t) => t.name !== 'fc2.bias')) tensors[s.name] = { dtype: 'F32', shape: s.shape, data: r.mlp.params.slice(s.offset, s.offset + s.size) };
    writeSafetensors(st, tensors);
    assert.throws(() => loadRouter(dir), /missing tensor 'fc2\.bias'/);
    // Extra tensor (a score head the JSON does not declare).
    tensors['fc2.bias'] = { dtype: 'F32', shape: [3], data: new Float32Array(3) };
    tensors['score.weight'] = { dtype: 'F32', shape: [1, 16], data: new Float32Array(16) };
    writeSafetensors(st, tensors);
    assert.throws(() => loadRouter(dir), /unexpected tensor\(s\) score\.weight/);
    // Bad JSON fields.
    writeFileSync(jsonPath, JSON.stringify({ ...JSON.parse(good), labelMode: 'best' }));
    assert.throws(() => loadRouter(dir), /labelMode/);
    writeFileSync(jsonPath, JSON.stringify({ ...JSON.parse(good), normalizer: { mean: [0], std: [1] } }));
    assert.throws(() => loadRouter(dir), /normaliser has 1 columns, expected inputDim 7/);
    rmSync(st);
    assert.throws(() => loadRouter(dir), /no router\.safetensors/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
