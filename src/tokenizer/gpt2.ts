import { LoraRouteError } from '../errors.js';
import { byteAlphabet, utf8Encode } from './byte-level.js';
import { BytePairEncoder } from './bpe.js';
import { loadTokenizerFiles, type AddedToken, type TokenizerFiles } from './load.js';
import { gpt2Regex } from './pretokenize.js';
import { StreamDecoder } from './stream.js';

export interface EncodeOptions {
  /** Turn special tokens written in the text (`<|endoftext|>`) into their ids. Default false: plain text. */
  allowSpecial?: boolean;
}

export interface DecodeOptions {
  /** Leave special tokens (`<|endoftext|>`) out of the text. Default false. */
  skipSpecialTokens?: boolean;
}

/** Words kept in the per-tokenizer BPE cache before it is emptied (bounds memory on odd input). */
const CACHE_LIMIT = 100_000;

/** GPT-2 byte-level BPE tokenizer (HF `tokenizer.json`, or `vocab.json` + `merges.txt`). */
export class GPT2Tokenizer {
  readonly eosTokenId: number;
  /** One past the largest id (50,257 for GPT-2). */
  readonly vocabSize: number;
  readonly source: string;

  private readonly bpe: BytePairEncoder;
  private readonly re = gpt2Regex();
  private readonly utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
  private readonly cache = new Map<string, number[]>();
  private scratch: Uint8Array = new Uint8Array(256);
  private readonly addPrefixSpace: boolean;
  /** Bytes of every token, concatenated; token i is bytes[starts[i] .. ends[i]); starts[i] = -1: no such id. */
  private readonly bytes: Uint8Array;
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  /** asciiText's cache by id (undefined: not looked at yet). */
  private readonly ascii: Array<string | null | undefined> = [];
  private readonly idToTok: Array<string | undefined>;
  private readonly tokToId: Map<string, number>;
  private readonly specialIds: Set<number>;
  /** Splitters for added tokens in text: all of them, or only non-special ones; null if there are none. */
  private readonly splitAll: RegExp | null;
  private readonly splitPlain: RegExp | null;

  /** Loads `dir/tokenizer.json`, or else `dir/vocab.json` + `dir/merges.txt`. */
  static fromDir(dir: string): GPT2Tokenizer {
    return new GPT2Tokenizer(loadTokenizerFiles(dir));
  }

  constructor(files: TokenizerFiles) {
    this.source = files.source;
    this.addPrefixSpace = files.addPrefixSpace;
    this.bpe = new BytePairEncoder(files.vocab, files.merges, files.source);
    this.tokToId = new Map(files.vocab);
    for (const t of files.added) this.tokToId.set(t.content, t.id);

    let size = 0;
    for (const id of this.tokToId.values()) size = Math.max(size, id + 1);
    this.vocabSize = size;
    this.idToTok = new Array<string | undefined>(size);
    for (const [tok, id] of files.vocab) this.idToTok[id] = tok;
    for (const t of files.added) this.idToTok[t.id] = t.content;

    const eos = this.tokToId.get(files.eosToken);
    if (eos === undefined) throw new LoraRouteError(`${files.source}: end-of-text token '${files.eosToken}' is not in the vocabulary`);
    this.eosTokenId = eos;
    this.specialIds = new Set(files.added.filter((t) => t.special).map((t) => t.id));
    this.splitAll = splitter(files.added);
    this.splitPlain = splitter(files.added.filter((t) => !t.special));
    ({ bytes: this.bytes, starts: this.starts, ends: this.ends } = tokenBytesTable(this.idToTok, new Set(files.added.map((t) => t.id))));
  }

  /** Token ids of `text`. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids: number[] = [];
    const split = opts.allowSpecial ? this.splitAll : this.splitPlain;
    if (!split) {
      this.encodeOrdinary(text, ids);
      return ids;
    }
    let last = 0;
    split.lastIndex = 0;
    for (let m = split.exec(text); m !== null; m = split.exec(text)) {
      if (m.index > last) this.encodeOrdinary(text.slice(last, m.index), ids);
      ids.push(this.tokToId.get(m[0])!);
      last = m.index + m[0].length;
    }
    if (last < text.length) this.encodeOrdinary(text.slice(last), ids);
    return ids;
  }

  /** Text of `ids`; invalid UTF-8 (a character cut between tokens) becomes U+FFFD. */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (opts.skipSpecialTokens && this.specialIds.has(id)) continue;
      const b = this.tokenBytes(id);
      parts.push(b);
      total += b.byteLength;
    }
    const all = new Uint8Array(total);
    let pos = 0;
    for (const p of parts) {
      all.set(p, pos);
      pos += p.byteLength;
    }
    return this.utf8.decode(all);
  }

  /** A decoder for streaming generation: `push(id)` returns only complete characters, `flush()` the rest. */
  createStreamDecoder(): StreamDecoder {
    return new StreamDecoder((id) => this.tokenBytes(id), (id) => this.asciiText(id));
  }

  /** The text of a token whose bytes are all ASCII (cached), or null. */
  private asciiText(id: number): string | null {
    let t = this.ascii[id];
    if (t === undefined) {
      const b = this.tokenBytes(id);
      t = b.every((x) => x < 0x80) ? String.fromCharCode(...b) : null;
      this.ascii[id] = t;
    }
    return t;
  }

  /** The token string (byte-level form, e.g. "Ġthe") of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.idToTok[id];
  }

  /** The id of a token string (byte-level form, or an added token's content), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.tokToId.get(token);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** The bytes a token stands for (a view; do not modify). */
  tokenBytes(id: number): Uint8Array {
    const start = Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.starts[id]! : -1;
    if (start < 0) throw new LoraRouteError(`token id ${id} is not in the vocabulary of ${this.source} (0..${this.vocabSize - 1})`);
    return this.bytes.subarray(start, this.ends[id]!);
  }

  /** Pre-tokenize with GPT-2's regex and BPE each piece (cached). */
  private encodeOrdinary(text: string, ids: number[]): void {
    if (this.addPrefixSpace && !text.startsWith(' ')) text = ' ' + text;
    const re = this.re;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const piece = m[0];
      let toks = this.cache.get(piece);
      if (toks === undefined) {
        const enc = utf8Encode(piece, this.scratch);
        this.scratch = enc.buf;
        toks = this.bpe.encodeBytes(enc.buf, enc.len);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(piece, toks);
      }
      for (let i = 0; i < toks.length; i++) ids.push(toks[i]!);
    }
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** A regex matching any of `tokens` (longest first, so "<|a|>x" wins over "<|a|>"), or null. */
function splitter(tokens: AddedToken[]): RegExp | null {
  if (tokens.length === 0) return null;
  const alts = [...new Set(tokens.map((t) => t.content))].sort((a, b) => b.length - a.length).map(escapeRegex);
  return new RegExp(alts.join('|'), 'gu');
}

/** Concatenated bytes of every token: byte-level tokens map back through GPT-2's alphabet, added tokens are UTF-8. */
function tokenBytesTable(idToTok: Array<string | undefined>, addedIds: Set<number>): { bytes: Uint8Array; starts: Int32Array; ends: Int32Array } {
  const { charToByte } = byteAlphabet();
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const starts = new Int32Array(idToTok.length).fill(-1);
  const ends = new Int32Array(idToTok.length).fill(-1);
  let pos = 0;
  for (let id = 0; id < idToTok.length; id++) {
    const tok = idToTok[id];
    if (tok === undefined) continue; // a gap in the ids
    let b: Uint8Array | null = null;
    if (!addedIds.has(id)) {
      b = new Uint8Array(tok.length);
      for (let i = 0; i < tok.length; i++) {
        const c = tok.charCodeAt(i);
        const byte = c < charToByte.length ? charToByte[c]! : -1;
        if (byte < 0) {
          b = null; // not byte-level: HF falls back to the token's own UTF-8
          break;
        }
        b[i] = byte;
      }
    }
    const out: Uint8Array = b ?? enc.encode(tok);
    chunks.push(out);
    starts[id] = pos;
    pos += out.byteLength;
    ends[id] = pos;
  }
  const bytes = new Uint8Array(pos);
  let p = 0;
  for (const c of chunks) {
    bytes.set(c, p);
    p += c.byteLength;
  }
  return { bytes, starts, ends };
}
