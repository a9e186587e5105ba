// Hostile run configs: devices, alias bombs, huge values (not echoed whole), too many experts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraRouteError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/index.js';
import { MAX_CONFIG_FILE_BYTES } from '../../src/io/user-file.js';
import { tempDir } from '../io/helpers.js';

const dir = tempDir('loraroute-hostile-config-');
const errorOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof LoraRouteError, `not a LoraRouteError: ${String(e)}`);
    return e.message;
  }
  assert.fail('no error');
};
const yaml = (name: string, text: string): string => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

test('--config /dev/zero is refused at once, naming it', () => {
  assert.match(errorOf(() => loadConfig('/dev/zero')), /config file \/dev\/zero is a character device, expected a regular file/);
});

test('a YAML alias bomb names the file', () => {
  const lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
  for (let i = 1; i < 10; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
  const f = yaml('bomb.yaml', lines.join('\n') + '\n');
  assert.match(errorOf(() => loadConfig(f)), /bomb\.yaml: cannot expand the YAML: Excessive alias count .* \(at most 100 alias uses\)/);
});

test('a huge value is not echoed whole in the message', () => {
  const f = yaml('huge.yaml', `model:\n  backend: "${'x'.repeat(3_000_000)}"\n`);
  const msg = errorOf(() => loadConfig(f));
  assert.match(msg, /model\.backend: expected one of auto, native, reference, got string "xxx.*… \(3000002 characters\)/);
  assert.ok(msg.length < 3000, `${msg.length} characters`);
});

test('a config file above the size limit is refused naming it', () => {
  const f = yaml('big.yaml', `# ${'x'.repeat(MAX_CONFIG_FILE_BYTES)}\n`);
  assert.match(errorOf(() => loadConfig(f)), /config file .*big\.yaml has 4\.0 MiB, above the limit of 4 MiB/);
});

test('num_experts: 1000 is refused', () => {
  const f = yaml('experts.yaml', 'model:\n  num_experts: 1000\n');
  assert.match(errorOf(() => loadConfig(f)), /model\.num_experts: expected an integer in \[1, 64\], got 1000/);
});

test('a config with a BOM loads', () => {
  const f = yaml('bom.yaml', '\uFEFFmodel:\n  lora_rank: 4\n');
  assert.equal(loadConfig(f).config.model.lora_rank, 4);
});
