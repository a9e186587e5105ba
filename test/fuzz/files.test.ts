// Fuzz suite (fixed seed): valid files of every kind a user gives loraroute, mutated at the byte level and at
// the JSON level. Every case must either load or end in a LoraRouteError whose message names the file (its
// folder's path) — never another error type, a crash or a hang — and memory must stay under a stated limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadConfig } from '../../src/config/index.js';
import { loadAlpaca } from '../../src/data/alpaca.js';
import { LoraRouteError } from '../../src/errors.js';
import { loadPeftAdapter } from '../../src/lora/peft.js';
import { loadGPT2 } from '../../src/model/load.js';
import { ReferenceBackend } from '../../src/tensor/reference.js';
import { GPT2Tokenizer } from '../../src/tokenizer/gpt2.js';
import { tempDir } from '../io/helpers.js';
import { ALPACA_ROWS, byteVocab, jsonl, microCfg, RUN_YAML, tokenizerJson, writeAdapterDir, writeModelDir } from './fixtures.js';
import { mutateBytes, mutateJson, prng, type Rng } from './mutate.js';

const SEED = 20_261_201;
/** Cases per file kind (a few seconds in all). */
const CASES = 250;
/** Resident memory the process may reach while fuzzing (the largest valid fixture is ~60 KB). */
const MAX_RSS_BYTES = 1.5 * 1024 ** 3;
/** One case may take this long at most (a hang or a quadratic blow-up shows here). */
const MAX_CASE_MS = 3000;

const root = tempDir('loraroute-fuzz-');
const backend = new ReferenceBackend();

interface Outcome {
  loaded: number;
  refused: number;
  bad: string[];
}

/** Runs `load` and classifies the outcome; `where` must appear in the message of a refusal. */
function run(o: Outcome, label: string, where: string, load: () => void): void {
  const t0 = Date.now();
  try {
    load();
    o.loaded++;
  } catch (e) {
    if (!(e instanceof LoraRouteError)) o.bad.push(`${label}: ${(e as Error)?.constructor?.name}: ${String((e as Error)?.message ?? e).slice(0, 300)}`);
    else if (!e.message.includes(where)) o.bad.push(`${label}: message names no file: ${e.message.slice(0, 300)}`);
    else o.refused++;
  }
  const ms = Date.now() - t0;
  if (ms > MAX_CASE_MS) o.bad.push(`${label}: took ${ms} ms`);
  const rss = process.memoryUsage().rss;
  if (rss > MAX_RSS_BYTES) o.bad.push(`${label}: resident memory ${rss} bytes`);
}

function report(o: Outcome, what: string): void {
  assert.deepEqual(o.bad.slice(0, 5), [], `${what}: ${o.bad.length} bad case(s)`);
  // the mutations must reach both outcomes, or they test nothing
  assert.ok(o.refused > 0 && o.loaded > 0, `${what}: ${o.loaded} loaded, ${o.refused} refused`);
  if (process.env.LORAROUTE_FUZZ_VERBOSE) console.log(`${what}: ${o.loaded} loaded, ${o.refused} refused`);
}

/** A mutated safetensors file: header JSON mutated (length fixed or not), or bytes anywhere, or the body. */
function mutateSafetensors(rng: Rng, file: Uint8Array): Uint8Array {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const r = rng();
  if (r < 0.45) {
    const header = JSON.parse(Buffer.from(file.subarray(8, 8 + n)).toString('utf8')) as unknown;
    const text = Buffer.from(JSON.stringify(mutateJson(rng, header)), 'utf8');
    const out = Buffer.alloc(8 + text.byteLength + file.byteLength - 8 - n);
    out.writeBigUInt64LE(BigInt(rng() < 0.9 ? text.byteLength : Math.floor(rng() * 2 ** 40)), 0);
    text.copy(out, 8);
    out.set(file.subarray(8 + n), 8 + text.byteLength);
    return out;
  }
  if (r < 0.7) {
    // inside the header only
    const head = mutateBytes(rng, file.subarray(8, 8 + n));
    const out = Buffer.concat([file.subarray(0, 8), head, file.subarray(8 + n)]);
    if (rng() < 0.7) out.writeBigUInt64LE(BigInt(head.byteLength), 0);
    return out;
  }
  if (r < 0.85) {
    // the body: NaN patterns and random bytes
    const out = Uint8Array.from(file);
    const at = 8 + n + Math.floor(rng() * (file.byteLength - 8 - n - 4));
    out.fill(rng() < 0.5 ? 0xff : Math.floor(rng() * 256), at, at + 4);
    return out;
  }
  return mutateBytes(rng, file);
}

/** Mutated text or JSON: half the time a JSON value change, else a byte change. */
function mutateText(rng: Rng, text: Uint8Array, json: boolean): Uint8Array {
  if (json && rng() < 0.5) {
    try {
      return Buffer.from(JSON.stringify(mutateJson(rng, JSON.parse(Buffer.from(text).toString('utf8')))), 'utf8');
    } catch {
      // not JSON any more: mutate its bytes
    }
  }
  return mutateBytes(rng, text);
}

test('fuzz: model.safetensors and config.json of a GPT-2 folder', () => {
  const rng = prng(SEED);
  const dir = writeModelDir(join(root, 'model'));
  const st = readFileSync(join(dir, 'model.safetensors'));
  const cfg = readFileSync(join(dir, 'config.json'));
  const o: Outcome = { loaded: 0, refused: 0, bad: [] };
  for (let i = 0; i < CASES; i++) {
    writeFileSync(join(dir, 'model.safetensors'), mutateSafetensors(rng, st));
    run(o, `model.safetensors case ${i}`, dir, () => loadGPT2(dir, { backend }));
  }
  writeFileSync(join(dir, 'model.safetensors'), st);
  for (let i = 0; i < CASES; i++) {
    writeFileSync(join(dir, 'config.json'), mutateText(rng, cfg, true));
    run(o, `config.json case ${i}`, dir, () => loadGPT2(dir, { backend }));
  }
  report(o, 'model folder');
});

test('fuzz: tokenizer.json, vocab.json, merges.txt, tokenizer_config.json', () => {
  const rng = prng(SEED + 1);
  const o: Outcome = { loaded: 0, refused: 0, bad: [] };
  const use = (dir: string) => () => {
    const tok = GPT2Tokenizer.fromDir(dir);
    // a loaded tokenizer must also work
    const ids = tok.encode('Hello, wörld <|endoftext|> 123', { allowSpecial: true });
    tok.decode(ids);
  };
  const tj = join(root, 'tok-json');
  mkdirSync(tj);
  const tjText = Buffer.from(JSON.stringify(tokenizerJson()));
  for (let i = 0; i < CASES; i++) {
    writeFileSync(join(tj, 'tokenizer.json'), mutateText(rng, tjText, true));
    run(o, `tokenizer.json case ${i}`, tj, use(tj));
  }
  const tf = join(root, 'tok-files');
  mkdirSync(tf);
  const vocab = Buffer.from(JSON.stringify(byteVocab()));
  const merges = Buffer.from('#version: 0.2\nĠ t\n');
  const vocabWithMerge = Buffer.from(JSON.stringify({ ...byteVocab(), 'Ġt': 257 }));
  const config = Buffer.from(JSON.stringify({ eos_token: '<|endoftext|>', added_tokens_decoder: { '256': { content: '<|endoftext|>', special: true } } }));
  for (let i = 0; i < CASES; i++) {
    const which = i % 3;
    writeFileSync(join(tf, 'vocab.json'), which === 0 ? mutateText(rng, vocabWithMerge, true) : vocabWithMerge);
    writeFileSync(join(tf, 'merges.txt'), which === 1 ? mutateBytes(rng, merges) : merges);
    writeFileSync(join(tf, 'tokenizer_config.json'), which === 2 ? mutateText(rng, config, true) : config);
    run(o, `vocab/merges/config case ${i}`, tf, use(tf));
  }
  assert.ok(vocab.byteLength > 0);
  report(o, 'tokenizer');
});

test('fuzz: YAML run configs', () => {
  const rng = prng(SEED + 2);
  const o: Outcome = { loaded: 0, refused: 0, bad: [] };
  const f = join(root, 'run.yaml');
  const yaml = Buffer.from(RUN_YAML + 'generation:\n  top_k: &k 4\n  seed: *k\n');
  for (let i = 0; i < CASES; i++) {
    writeFileSync(f, mutateBytes(rng, i % 2 ? yaml : mutateBytes(rng, yaml)));
    run(o, `config.yaml case ${i}`, f, () => loadConfig(f));
  }
  report(o, 'yaml config');
});

test('fuzz: adapter_config.json and adapter_model.safetensors', () => {
  const rng = prng(SEED + 3);
  const o: Outcome = { loaded: 0, refused: 0, bad: [] };
  const dir = writeAdapterDir(join(root, 'adapter'));
  const cfgText = readFileSync(join(dir, 'adapter_config.json'));
  const st = readFileSync(join(dir, 'adapter_model.safetensors'));
  const model = microCfg();
  for (let i = 0; i < CASES; i++) {
    const onConfig = i % 2 === 0;
    writeFileSync(join(dir, 'adapter_config.json'), onConfig ? mutateText(rng, cfgText, true) : cfgText);
    writeFileSync(join(dir, 'adapter_model.safetensors'), onConfig ? st : mutateSafetensors(rng, st));
    run(o, `adapter case ${i}`, dir, () => loadPeftAdapter(dir, model));
  }
  report(o, 'adapter');
});

test('fuzz: data files (JSONL, JSON array, gzip)', () => {
  const rng = prng(SEED + 4);
  const o: Outcome = { loaded: 0, refused: 0, bad: [] };
  const kinds: Array<[string, Uint8Array]> = [
    ['data.jsonl', Buffer.from(jsonl(ALPACA_ROWS))],
    ['data.json', Buffer.from(JSON.stringify(ALPACA_ROWS))],
    ['data.jsonl.gz', gzipSync(jsonl(ALPACA_ROWS))],
  ];
  for (let i = 0; i < CASES; i++) {
    const [name, bytes] = kinds[i % kinds.length]!;
    const f = join(root, name);
    writeFileSync(f, name.endsWith('.json') ? mutateText(rng, bytes, true) : mutateBytes(rng, bytes));
    run(o, `${name} case ${i}`, f, () => loadAlpaca([f], { warn: () => {} }));
  }
  report(o, 'data');
});
