import { join } from 'node:path';
import { LoraRouteError } from '../errors.js';
import { entryExists, MAX_JSON_FILE_BYTES, MAX_TOKENIZER_FILE_BYTES, quoteText, quoteValue, readUserJson, readUserText } from '../io/user-file.js';

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
  if (entryExists(tj)) return fromTokenizerJson(tj, readConfig(dir));
  const vj = join(dir, 'vocab.json');
  const mt = join(dir, 'merges.txt');
  if (entryExists(vj) && entryExists(mt)) return fromVocabMerges(vj, mt, readConfig(dir));
  const missing = entryExists(vj) ? ' (vocab.json is there but merges.txt is missing)' : entryExists(mt) ? ' (merges.txt is there but vocab.json is missing)' : '';
  throw new LoraRouteError(`${dir}: no tokenizer found: looked for tokenizer.json, or vocab.json + merges.txt${missing}`);
}

function readJson(path: string, maxBytes = MAX_TOKENIZER_FILE_BYTES): unknown {
  return readUserJson(path, 'tokenizer file', maxBytes);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/**
 * {token: id}: ids are distinct integers below the vocabulary size (the number of tokens), so a single huge
 * id cannot make the tokenizer allocate or loop over billions of slots.
 */
function parseVocab(v: unknown, where: string): Map<string, number> {
  if (!isObject(v)) throw new LoraRouteError(`${where}: vocab must be an object {token: id}`);
  const entries = Object.entries(v);
  const vocab = new Map<string, number>();
  const byId = new Map<number, string>();
  for (const [tok, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= entries.length) {
      throw new LoraRouteError(
        `${where}: vocab id of '${quoteText(tok)}' must be an integer in [0, ${entries.length}) (the vocabulary size), got ${quoteValue(id)}`,
      );
    }
    const other = byId.get(id);
    if (other !== undefined) throw new LoraRouteError(`${where}: vocab id ${id} is given to both '${quoteText(other)}' and '${quoteText(tok)}'`);
    byId.set(id, tok);
    vocab.set(tok, id);
  }
  return vocab;
}

/**
 * One added token's id: an integer in [0, limit), where limit = vocabulary size + number of added tokens
 * (added tokens reuse vocabulary ids or take the next ones).
 */
function addedId(id: unknown, content: string, limit: number, where: string): number {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= limit) {
    throw new LoraRouteError(
      `${where}: id of added token '${quoteText(content)}' must be an integer in [0, ${limit}) (vocabulary plus added tokens), got ${quoteValue(id)}`,
    );
  }
  return id;
}

/** Added tokens must not disagree with the vocabulary or with each other about an id. */
function checkAdded(added: AddedToken[], vocab: Map<string, number>, where: string): void {
  const vocabTok = new Map<number, string>();
  for (const [tok, id] of vocab) vocabTok.set(id, tok);
  const seen = new Map<number, string>();
  for (const t of added) {
    if (t.content === '') throw new LoraRouteError(`${where}: added token ${t.id} has empty content`);
    const v = vocabTok.get(t.id);
    if (v !== undefined && v !== t.content) {
      throw new LoraRouteError(`${where}: added token '${quoteText(t.content)}' has id ${t.id}, which is the vocabulary's token '${quoteText(v)}'`);
    }
    const prev = seen.get(t.id);
    if (prev !== undefined && prev !== t.content) {
      throw new LoraRouteError(`${where}: added tokens '${quoteText(prev)}' and '${quoteText(t.content)}' have the same id ${t.id}`);
    }
    seen.set(t.id, t.content);
  }
}

function parseMerge(m: unknown, i: number, where: string): [string, string] {
  if (typeof m === 'string') {
    const sp = m.indexOf(' ');
    if (sp > 0 && sp < m.length - 1 && m.indexOf(' ', sp + 1) === -1) return [m.slice(0, sp), m.slice(sp + 1)];
  } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
    return [m[0], m[1]];
  }
  throw new LoraRouteError(`${where}: merge ${i} must be "a b" or ["a", "b"], got ${quoteValue(m)}`);
}

/** Special-token names from tokenizer_config.json (strings or {content}), if the file exists. */
interface TokenizerConfig {
  /** The tokenizer_config.json path (read or not). */
  path: string;
  specials: string[];
  eos?: string;
  added: AddedToken[];
}

function readConfig(dir: string): TokenizerConfig {
  const path = join(dir, 'tokenizer_config.json');
  const out: TokenizerConfig = { path, specials: [], added: [] };
  if (!entryExists(path)) return out;
  const cfg = readJson(path, MAX_JSON_FILE_BYTES);
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
      // the id is a JSON key: a decimal integer string; it is bounded against the vocabulary once that is read
      const n = /^\d{1,15}$/.test(id) ? Number(id) : NaN;
      if (isObject(t) && typeof t.content === 'string') {
        if (Number.isNaN(n)) throw new LoraRouteError(`${path}: added_tokens_decoder key ${quoteValue(id)} must be a token id (a non-negative integer)`);
        out.added.push({ id: n, content: t.content, special: t.special === true });
      }
    }
  }
  return out;
}

function fromTokenizerJson(path: string, cfg: TokenizerConfig): TokenizerFiles {
  const json = readJson(path);
  if (!isObject(json) || !isObject(json.model)) throw new LoraRouteError(`${path}: expected an object with "model"`);
  const model = json.model;
  if (model.type !== undefined && model.type !== 'BPE') {
    throw new LoraRouteError(`${path}: model.type is '${quoteText(String(model.type))}'; only GPT-2 byte-level BPE is supported`);
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
  if (json.added_tokens !== undefined && json.added_tokens !== null && !Array.isArray(json.added_tokens)) {
    throw new LoraRouteError(`${path}: added_tokens must be an array, got ${quoteValue(json.added_tokens)}`);
  }
  if (Array.isArray(json.added_tokens)) {
    const limit = vocab.size + json.added_tokens.length;
    for (const t of json.added_tokens) {
      if (!isObject(t) || typeof t.content !== 'string' || typeof t.id !== 'number') {
        throw new LoraRouteError(`${path}: added_tokens entries need id and content, got ${quoteValue(t)}`);
      }
      added.push({ id: addedId(t.id, t.content, limit, `${path} added_tokens`), content: t.content, special: t.special === true });
    }
  }
  checkAdded(added, vocab, `${path} added_tokens`);
  return { source: path, vocab, merges, added, addPrefixSpace: pre.add_prefix_space === true, eosToken: cfg.eos ?? EOT };
}

function fromVocabMerges(vocabPath: string, mergesPath: string, cfg: TokenizerConfig): TokenizerFiles {
  const vocab = parseVocab(readJson(vocabPath), vocabPath);
  const merges: Array<[string, string]> = [];
  const text = readUserText(mergesPath, 'tokenizer file', MAX_TOKENIZER_FILE_BYTES);
  // A truncated download is empty; a tokenizer with no merges on purpose still has its `#version` line.
  if (text.trim() === '') throw new LoraRouteError(`${mergesPath} is empty: expected a '#version' line and one merge "a b" per line`);
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    merges.push(parseMerge(line, i + 1, `${mergesPath} line`));
  });
  // Added tokens: those tokenizer_config.json declares, plus the special tokens it names that are in the vocab.
  const added = new Map<string, AddedToken>();
  const configFile = `${cfg.path} added_tokens_decoder`;
  for (const t of cfg.added) {
    added.set(t.content, { ...t, id: addedId(t.id, t.content, vocab.size + cfg.added.length, configFile) });
  }
  checkAdded([...added.values()], vocab, configFile);
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
