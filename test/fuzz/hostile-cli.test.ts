// Each hostile input of issue 9 ("Files and inputs") through the real CLI, in a child process under a 4 GB
// address-space cap (`ulimit -v 4000000`) and a 30 s timeout: it must exit 1 or 2 — no signal, no abort, no
// stack — with a message naming the file or key. A few benign variants (a BOM, non-UTF-8 data) must work.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { writeSafetensors } from '../../src/io/safetensors.js';
import {
  adapterConfig, adapterTensors, ALPACA_ROWS, jsonl, MICRO_CONFIG, microCfg, microTensors, RUN_YAML, tokenizerJson, type TokenizerJson, writeAdapterDir, writeModelDir,
} from './fixtures.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const CLI = join(REPO, 'bin', 'loraroute.js');
/** The address-space cap of issue 9, in KiB. */
const ULIMIT_KB = 4_000_000;
/** Issue 9's 30 s on an idle machine; on a loaded one, scaled by how long `--help` takes (see below). */
const TIMEOUT_MS = 30_000;
const PARALLEL = 2;
let timeoutMs = TIMEOUT_MS;

const root = mkdtempSync(join(tmpdir(), 'loraroute-hostile-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name = 'x'): string => join(root, `${name}-${n++}`);

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  ms: number;
}

function cli(args: string[]): Promise<Result> {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', `ulimit -v ${ULIMIT_KB} && exec "$0" ${JSON.stringify(CLI)} ${quoted}`, process.execPath], {
      cwd: root,
      env: { ...process.env, LORAROUTE_DEBUG: '' },
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { if (stdout.length < 100_000) stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < 100_000) stderr += d.toString(); });
    child.on('close', (code, signal) => resolve({ code, signal, stderr, stdout, ms: Date.now() - t0 }));
  });
}

interface Case {
  name: string;
  args: () => string[];
  /** What the message must say (the file or key). */
  expect: RegExp;
  /** Exit codes accepted; default user error 1 or 2. */
  ok?: number[];
}

const gen = (model: string, ...more: string[]) => ['generate', '--model', model, '--prompt', 'hi', '--max-new-tokens', '1', '--backend', 'reference', ...more];
const modelWith = (o: Parameters<typeof writeModelDir>[1]) => writeModelDir(fresh('model'), o);
const tokWith = (mutate: (j: TokenizerJson) => void): string => {
  const dir = writeModelDir(fresh('model'));
  const j = tokenizerJson();
  mutate(j);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(j));
  return dir;
};
const fifo = (path: string): string => {
  execFileSync('mkfifo', [path]);
  return path;
};
const file = (name: string, data: string | Uint8Array): string => {
  const f = join(fresh('f'), name);
  mkdirSync(join(f, '..'), { recursive: true });
  writeFileSync(f, data);
  return f;
};
const MODEL = writeModelDir(fresh('good-model'));

const CASES: Case[] = [
  { name: 'analyze --data /dev/zero', args: () => ['analyze', '--data', '/dev/zero', '--json'], expect: /\/dev\/zero is a character device/ },
  { name: 'train --config /dev/zero', args: () => ['train', '--config', '/dev/zero', '--out', fresh('out')], expect: /\/dev\/zero is a character device/ },
  { name: 'analyze --data FIFO', args: () => ['analyze', '--data', fifo(join(root, `pipe-${n++}.jsonl`)), '--json'], expect: /pipe-\d+\.jsonl is a FIFO/ },
  {
    name: 'model.safetensors is a FIFO',
    args: () => {
      const dir = writeModelDir(fresh('model'));
      rmSync(join(dir, 'model.safetensors'));
      fifo(join(dir, 'model.safetensors'));
      return gen(dir);
    },
    expect: /model\.safetensors is a FIFO/,
  },
  { name: 'tokenizer.json vocab id 4e9', args: () => gen(tokWith((j) => { j.model.vocab['a'] = 4e9; })), expect: /tokenizer\.json model\.vocab: vocab id of 'a'/ },
  { name: 'added_tokens id 3e9', args: () => gen(tokWith((j) => { j.added_tokens.push({ id: 3e9, content: '<|x|>' }); })), expect: /tokenizer\.json added_tokens: id of added token/ },
  { name: 'added_tokens id -1', args: () => gen(tokWith((j) => { j.added_tokens.push({ id: -1, content: '<|x|>' }); })), expect: /tokenizer\.json added_tokens: id of added token '<\|x\|>'/ },
  { name: 'added_tokens id 256.5', args: () => gen(tokWith((j) => { j.added_tokens.push({ id: 256.5, content: '<|x|>' }); })), expect: /tokenizer\.json added_tokens: id of added token '<\|x\|>'/ },
  { name: 'duplicate vocab ids', args: () => gen(tokWith((j) => { j.model.vocab['a'] = 66; })), expect: /tokenizer\.json model\.vocab: vocab id 66 is given to both/ },
  {
    name: 'empty merges.txt',
    args: () => {
      const dir = writeModelDir(fresh('model'), { tokenizer: 'files' });
      writeFileSync(join(dir, 'merges.txt'), '');
      return gen(dir);
    },
    expect: /merges\.txt is empty/,
  },
  { name: 'config.json n_layer 1e8', args: () => gen(modelWith({ config: { ...MICRO_CONFIG, n_layer: 1e8 } })), expect: /config\.json: "n_layer" = 100000000 is above the limit/ },
  {
    name: 'a 600 KB gzip that expands to 600 MB',
    args: () => {
      const member = gzipSync(Buffer.alloc(1 << 20));
      return ['analyze', '--data', file('bomb.jsonl.gz', Buffer.concat(Array.from({ length: 600 }, () => member))), '--json'];
    },
    expect: /data file .*bomb\.jsonl\.gz decompresses to more than the limit of 256 MiB/,
  },
  {
    name: 'NaN model weights',
    args: () => {
      const t = microTensors();
      (t['transformer.h.0.attn.c_proj.weight']!.data as Float32Array).fill(NaN);
      return gen(modelWith({ tensors: t }));
    },
    expect: /model\.safetensors: tensor 'transformer\.h\.0\.attn\.c_proj\.weight' is not finite/,
  },
  {
    name: 'a checkpoint with more layers than config.json',
    args: () => gen(modelWith({ tensors: microTensors({ ...microCfg(), nLayer: 3 }) })),
    expect: /tensor "transformer\.h\.2\..*" belongs to layer 2, but config\.json has n_layer = 2/,
  },
  {
    name: 'a dangling model.safetensors link',
    args: () => {
      const dir = writeModelDir(fresh('model'));
      rmSync(join(dir, 'model.safetensors'));
      symlinkSync(join(dir, 'missing.safetensors'), join(dir, 'model.safetensors'));
      return gen(dir);
    },
    expect: /model\.safetensors is a dangling symbolic link/,
  },
  {
    name: 'a shard index entry ../../../../etc/passwd',
    args: () => {
      const dir = writeModelDir(fresh('model'));
      rmSync(join(dir, 'model.safetensors'));
      writeSafetensors(join(dir, 'part1.safetensors'), microTensors());
      const map = Object.fromEntries(Object.keys(microTensors()).map((k) => [k, 'part1.safetensors']));
      map['transformer.wpe.weight'] = '../../../../etc/passwd';
      writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: map }));
      return gen(dir);
    },
    expect: /weight_map\['transformer\.wpe\.weight'\] = "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" is outside the model folder/,
  },
  { name: 'adapter alpha_pattern string', args: () => gen(MODEL, '--adapter', writeAdapterDir(fresh('ad'), adapterConfig({ alpha_pattern: { c_attn: 'x' } }))), expect: /adapter_config\.json: alpha_pattern\["c_attn"\]/ },
  { name: 'adapter r 1e8', args: () => gen(MODEL, '--adapter', writeAdapterDir(fresh('ad'), adapterConfig({ r: 1e8 }))), expect: /adapter_config\.json: .*r = 100000000 exceeds the layer widths/ },
  { name: 'adapter bad target_modules regex', args: () => gen(MODEL, '--adapter', writeAdapterDir(fresh('ad'), adapterConfig({ target_modules: 'c_attn(' }))), expect: /adapter_config\.json: target_modules \(a regex\) "c_attn\(" is not a valid regular expression/ },
  {
    name: 'NaN adapter values',
    args: () => {
      const t = adapterTensors();
      (t['base_model.model.transformer.h.1.attn.c_attn.lora_A.weight']!.data as Float32Array)[0] = Infinity;
      return gen(MODEL, '--adapter', writeAdapterDir(fresh('ad'), adapterConfig(), t));
    },
    expect: /adapter_model\.safetensors: tensor 'base_model\.model\.transformer\.h\.1\.attn\.c_attn\.lora_A\.weight' is not finite/,
  },
  {
    name: 'a YAML alias bomb',
    args: () => {
      const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
      for (let i = 1; i < 9; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
      return ['train', '--config', file('bomb.yaml', lines.join('\n') + '\n'), '--out', fresh('out')];
    },
    expect: /bomb\.yaml: cannot expand the YAML: Excessive alias count/,
  },
  { name: 'a 50 MB config file', args: () => ['train', '--config', file('big.yaml', `model:\n  backend: "${'x'.repeat(50_000_000)}"\n`), '--out', fresh('out')], expect: /config file .*big\.yaml has 47\.7 MiB, above the limit of 4 MiB/ },
  { name: 'a 3 MB config string', args: () => ['train', '--config', file('long.yaml', `model:\n  backend: "${'x'.repeat(3_000_000)}"\n`), '--out', fresh('out')], expect: /model\.backend: expected one of auto, native, reference, got string "x+… \(3000002 characters\)/ },
  { name: 'num_experts: 1000', args: () => ['train', '--config', file('experts.yaml', `${RUN_YAML.replace('num_experts: 3', 'num_experts: 1000')}`), '--out', fresh('out')], expect: /model\.num_experts: expected an integer in \[1, 64\], got 1000/ },
  { name: '--max-new-tokens ""', args: () => ['generate', '--model', MODEL, '--prompt', 'hi', '--max-new-tokens', ''], expect: /--max-new-tokens must be an integer >= 0, got ""/ },
  // benign: these must work
  {
    name: 'config.json and tokenizer.json with a UTF-8 BOM (works)',
    args: () => {
      const dir = writeModelDir(fresh('model'));
      writeFileSync(join(dir, 'config.json'), '\uFEFF' + JSON.stringify(MICRO_CONFIG));
      writeFileSync(join(dir, 'tokenizer.json'), '\uFEFF' + JSON.stringify(tokenizerJson()));
      return gen(dir);
    },
    expect: /^/,
    ok: [0],
  },
  {
    name: 'non-UTF-8 bytes in data (works, with a counted warning)',
    args: () => ['analyze', '--data', file('latin1.jsonl', Buffer.concat([Buffer.from(jsonl(ALPACA_ROWS)), Buffer.from('{"instruction": "caf'), Buffer.from([0xe9, 0xe9]), Buffer.from('"}\n')])), '--json'],
    expect: /data file .*latin1\.jsonl: 2 invalid UTF-8 byte sequence\(s\) replaced by U\+FFFD/,
    ok: [0],
  },
];

test('every hostile input ends in exit 1 or 2 naming the file or key, under a 4 GB address-space cap', { timeout: 1_800_000 }, async () => {
  // A shared, busy machine can make a child 10x slower than usual: the timeout (which catches hangs, which
  // never end) grows with the time of a command that does nothing; ~0.3 s on an idle machine keeps 30 s.
  const help = await cli(['--help']);
  assert.equal(help.code, 0, help.stderr);
  timeoutMs = Math.min(300_000, Math.max(TIMEOUT_MS, 100 * help.ms));
  const problems: string[] = [];
  const queue = [...CASES];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const r = await cli(c.args());
      const accepted = c.ok ?? [1, 2];
      const where = `${c.name}: exit ${r.code} signal ${r.signal} after ${r.ms} ms; stderr: ${r.stderr.slice(0, 600)}`;
      if (r.signal !== null || r.code === null || !accepted.includes(r.code)) problems.push(`wrong exit — ${where}`);
      else if (!c.expect.test(r.stderr)) problems.push(`message does not match ${c.expect} — ${where}`);
      else if (/FATAL ERROR|Segmentation fault|Aborted|core dumped|^\s+at .+:\d+:\d+\)?$/m.test(r.stderr)) problems.push(`crash or stack — ${where}`);
      else if (r.stderr.length > 5000) problems.push(`stderr of ${r.stderr.length} characters — ${c.name}`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  assert.deepEqual(problems, []);
});
