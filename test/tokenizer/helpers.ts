import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { bundledModelDir, packageRoot } from '../../src/config/paths.js';

let fromJson: GPT2Tokenizer | null = null;
let fromVocab: GPT2Tokenizer | null = null;

/** The bundled GPT-2 tokenizer loaded from tokenizer.json (shared within a test file: loading takes ~0.5 s). */
export function jsonTokenizer(): GPT2Tokenizer {
  fromJson ??= GPT2Tokenizer.fromDir(bundledModelDir());
  return fromJson;
}

/** The same tokenizer loaded from vocab.json + merges.txt (copied to a dir without tokenizer.json). */
export function vocabTokenizer(): GPT2Tokenizer {
  if (!fromVocab) {
    const dir = tempDir();
    for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json']) copyFileSync(join(bundledModelDir(), f), join(dir, f));
    fromVocab = GPT2Tokenizer.fromDir(dir);
  }
  return fromVocab;
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'loraroute-tok-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Reference {
  cases: Array<{ text: string; ids: number[]; plain_ids?: number[] }>;
  special_cases: Array<{ text: string; ids: number[] }>;
  decode_cases: Array<{ ids: number[]; text: string }>;
}

/** Ids from HF `tokenizers` for many texts (test/fixtures/tokenizer/gen_reference.py). */
export function reference(): Reference {
  return JSON.parse(readFileSync(join(packageRoot(), 'test', 'fixtures', 'tokenizer', 'hf-reference.json'), 'utf8')) as Reference;
}

/** Deterministic PRNG (mulberry32). */
export { makeRng as rng } from '../../src/model/sampling.js';

