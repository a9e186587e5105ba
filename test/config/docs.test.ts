import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allKeys, packageRoot, renderConfigDocs } from '../../src/config/index.js';

test('docs/config.md is generated from the current schema (run `npm run docs:config` if this fails)', () => {
  const file = readFileSync(join(packageRoot(), 'docs', 'config.md'), 'utf8');
  assert.ok(file === renderConfigDocs(), 'docs/config.md is out of date: run `npm run docs:config`');
});

test('the generated docs document every key with its type and default', () => {
  const md = renderConfigDocs();
  for (const k of allKeys()) assert.match(md, new RegExp(`\\| \`${k.replace('.', '\\.')}\` \\| \\S+ \\| \``), k);
  assert.match(md, /\| `model\.lora_rank` \| integer \| `16` \| >= 1 \|/);
  assert.match(md, /\| `training\.schedule` \| enum \| `cosine` \| one of `cosine`, `linear`, `constant` \|/);
  assert.match(md, /\| `training\.learning_rate` \| number \| `2e-4` \| > 0 \|/);
  assert.match(md, /exactly `model\.num_experts - 1` values/);
});
