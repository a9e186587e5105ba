import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraRouteError } from '../errors.js';

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

/** Everything a GPT-2 tokenizer needs, whichever files it came from. */
export interface TokenizerFiles {
  /** Files it was read from, for messages. */
  source: string;
  vocab: Map<string, number>;
  merges: Array<[string, string]>;
  added: AddedToken[];
  addPrefixSpace: boolean;
  /** Content of the end-of-text token. */
  eosToken: string;
}

const EOT = '<|endoftext|>';

/** Reads `tokenizer.json`, or else `vocab.json` + `merges.txt` (+ `tokenizer_config.json` if present). */
export function loadTokenizerFiles(dir: string): TokenizerFiles {
  const tj = join(dir, 'tokenizer.json');
  if (existsSync(tj)) return fromTokenizerJson(tj, readConfig(dir));
  const vj = join(dir, 'vocab.json');
  const mt = join(dir, 'merges.txt');
  if (existsSync(vj) && existsSync(mt)) return fromVocabMerges(vj, mt, readConfig(dir));
  const missing = existsSync(vj) ? ' (vocab.json is there but merges.txt is missing)' : existsSync(mt) ? ' (merges.txt is there but vocab.json is missing)' : '';
  throw new LoraRouteError(`${dir}: no tokenizer found: looked for tokenizer.json, or vocab.json + merges.txt${missing}`);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new LoraRouteError(`${path}: cannot read JSON (${(err as Error).message})`);
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function parseVocab(v: unknown, where: string): Map<string, number> {
  if (!isObject(v)) throw new LoraRouteError(`${where}: vocab must be an object {token: id}`);
  const vocab = new Map<string, number>();
  for (const [tok, id] of Object.entries(v)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new LoraRouteError(`${where}: vocab id of '${tok}' must be a non-negative integer, got ${JSON.stringify(id)}`);
    }
    vocab.set(tok, id);
  }
  return vocab;
}

function parseMerge(m: unknown, i: number, where: string): [string, string] {
  if (typeof m === 'string') {
    const sp = m.indexOf(' ');
    if (sp > 0 && sp < m.length - 1 && m.indexOf(' ', sp + 1) === -1) return [m.slice(0, sp), m.slice(sp + 1)];
  } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
    return [m[0], m[1]];
  }
  throw new LoraRouteError(`${where}: merge ${i} must be "a b" or ["a", "b"], got ${JSON.stringify(m)}`);
}

/** Special-token names from tokenizer_config.json (strings or {content}), if the file exists. */
interface TokenizerConfig {
  specials: string[];
  eos?: string;
  added: AddedToken[];
}

function readConfig(dir: string): TokenizerConfig {
  const path = join(dir, 'tokenizer_config.json');
  const out: TokenizerConfig = { specials: [], added: [] };
  if (!existsSync(path)) return out;
  const cfg = readJson(path);
  if (!isObject(cfg)) return out;
  const name = (v: unknown): string | undefined =>
    typeof v === 'string' ? v : isObject(v) && typeof v.content === 'string' ? v.content : undefined;
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const n = name(cfg[key]);
    if (n !== undefined) out.specials.push(n);
  }
  out.eos = name(cfg.eos_token);
  if (isObject(cfg.added_tokens_decoder)) {
    for (const [id, t] of Object.entries(cfg.added_tokens_decoder)) {
      if (isObject(t) && typeof t.content === 'string') out.added.push({ id: Number(id), content: t.content, special: t.special === true });
    }
  }
  return out;
}

function fromTokenizerJson(path: string, cfg: TokenizerConfig): TokenizerFiles {
  const json = readJson(path);
  if (!isObject(json) || !isObject(json.model)) throw new LoraRouteError(`${path}: expected an object with "model"`);
  const model = json.model;
  if (model.type !== undefined && model.type !== 'BPE') {
    throw new LoraRouteError(`${path}: model.type is '${String(model.type)}'; only GPT-2 byte-level BPE is supported`);
  }
  if ((model.continuing_subword_prefix ?? '') !== '' || (model.end_of_word_suffix ?? '') !== '') {
    throw new LoraRouteError(`${path}: BPE with continuing_subword_prefix / end_of_word_suffix is not GPT-2 BPE`);
  }
  if (json.normalizer !== null && json.normalizer !== undefined) {
    throw new LoraRouteError(`${path}: a normalizer (${JSON.stringify(json.normalizer).slice(0, 80)}) is not supported; GPT-2 has none`);
  }
  const pre = json.pre_tokenizer;
  if (!isObject(pre) || pre.type !== 'ByteLevel' || pre.use_regex === false) {
    throw new LoraRouteError(`${path}: pre_tokenizer must be GPT-2's ByteLevel (with its regex), got ${JSON.stringify(pre)?.slice(0, 80)}`);
  }
  const vocab = parseVocab(model.vocab, `${path} model.vocab`);
  if (!Array.isArray(model.merges)) throw new LoraRouteError(`${path}: model.merges must be an array`);
  const merges = model.merges.map((m: unknown, i: number) => parseMerge(m, i, `${path} model.merges`));
  const added: AddedToken[] = [];
  if (Array.isArray(json.added_tokens)) {
    for (const t of json.added_tokens) {
      if (!isObject(t) || typeof t.content !== 'string' || typeof t.id !== 'number') {
        throw new LoraRouteError(`${path}: added_tokens entries need id and content, got ${JSON.stringify(t)}`);
      }
      added.push({ id: t.id, content: t.content, special: t.special === true });
    }
  }
  return { source: path, vocab, merges, added, addPrefixSpace: pre.add_prefix_space === true, eosToken: cfg.eos ?? EOT };
}

function fromVocabMerges(vocabPath: string, mergesPath: string, cfg: TokenizerConfig): TokenizerFiles {
  const vocab = parseVocab(readJson(vocabPath), vocabPath);
  const merges: Array<[string, string]> = [];
  const lines = readFileSync(mergesPath, 'utf8').split('\n');
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    merges.push(parseMerge(line, i + 1, `${mergesPath} line`));
  });
  // Added tokens: those tokenizer_config.json declares, plus the special tokens it names that are in the vocab.
  const added = new Map<string, AddedToken>();
  for (const t of cfg.added) added.set(t.content, t);
  for (const s of [...cfg.specials, EOT]) {
    const id = vocab.get(s);
    if (id !== undefined && !added.has(s)) added.set(s, { id, content: s, special: true });
  }
  return {
    source: `${vocabPath} + ${mergesPath}`,
    vocab,
    merges,
    added: [...added.values()],
    addPrefixSpace: false,
    eosToken: cfg.eos ?? EOT,
  };
}
