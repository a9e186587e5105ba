import { LoraRouteError } from '../errors.js';
import { byteAlphabet } from './byte-level.js';
import { PairTable } from './pair-table.js';

/**
 * Byte-level BPE over token ids: a word (the UTF-8 bytes of one pre-token) starts as one token per byte and
 * the adjacent pair with the lowest merge rank is merged until no pair has a rank, as in GPT-2 and HF
 * `tokenizers`.
 */
export class BytePairEncoder {
  /** byte -> id of the single-byte token */
  readonly byteToId: Int32Array;
  private readonly ranks: PairTable;
  /** merge rank -> id of the merged token */
  private readonly mergedId: Int32Array;

  /** `vocab` maps byte-level token strings to ids; `merges` are pairs of token strings, best first. */
  constructor(vocab: Map<string, number>, merges: Array<[string, string]>, label: string) {
    const { byteToChar } = byteAlphabet();
    this.byteToId = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const id = vocab.get(byteToChar[b]!);
      if (id === undefined) {
        throw new LoraRouteError(
          `${label}: not a byte-level BPE vocabulary: no token for byte 0x${b.toString(16).padStart(2, '0')} ` +
            `('${byteToChar[b]}')`,
        );
      }
      this.byteToId[b] = id;
    }
    this.ranks = new PairTable(merges.length);
    this.mergedId = new Int32Array(merges.length);
    merges.forEach(([a, b], rank) => {
      const ia = vocab.get(a);
      const ib = vocab.get(b);
      const im = vocab.get(a + b);
      if (ia === undefined || ib === undefined || im === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : a + b;
        throw new LoraRouteError(`${label}: merge ${rank} '${a} ${b}' uses token '${missing}', which is not in the vocabulary`);
      }
      // A repeated merge keeps its first (best) rank, as HF does.
      if (this.ranks.setIfAbsent(ia, ib, rank)) this.mergedId[rank] = im;
    });
  }

  /** Token ids of one word given as bytes[0..len). */
  encodeBytes(bytes: Uint8Array, len: number): number[] {
    const ids = new Array<number>(len);
    for (let i = 0; i < len; i++) ids[i] = this.byteToId[bytes[i]!]!;
    return len <= 48 ? this.mergeSimple(ids) : this.mergeHeap(ids);
  }

  /** O(n^2): repeatedly find the best pair and merge its occurrences left to right. Fast for short words. */
  mergeSimple(ids: number[]): number[] {
    const ranks = this.ranks;
    while (ids.length > 1) {
      let best = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = ranks.get(ids[i]!, ids[i + 1]!);
        if (r !== -1 && (best === -1 || r < best)) best = r;
      }
      if (best === -1) break;
      const merged = this.mergedId[best]!;
      const out: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (i + 1 < ids.length && ranks.get(ids[i]!, ids[i + 1]!) === best) {
          out.push(merged);
          i++;
        } else {
          out.push(ids[i]!);
        }
      }
      ids = out;
    }
    return ids;
  }

  /**
   * O(n log n) for long words (e.g. a long run of digits or punctuation): a linked list of symbols and a heap
   * of candidate merges keyed by (rank, position), so ties go left to right as in mergeSimple.
   */
  mergeHeap(ids: number[]): number[] {
    const n = ids.length;
    const sym = Int32Array.from(ids);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new MinHeap();
    const POS = 2 ** 32; // key = rank * 2^32 + position
    const push = (i: number): void => {
      const j = next[i]!;
      if (j === -1) return;
      const r = this.ranks.get(sym[i]!, sym[j]!);
      if (r !== -1) heap.push(r * POS + i);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.size > 0) {
      const key = heap.pop();
      const rank = Math.floor(key / POS);
      const i = key - rank * POS;
      if (sym[i] === -1) continue; // symbol was merged into its left neighbour
      const j = next[i]!;
      if (j === -1 || this.ranks.get(sym[i]!, sym[j]!) !== rank) continue; // stale entry
      sym[i] = this.mergedId[rank]!;
      sym[j] = -1;
      const k = next[j]!;
      next[i] = k;
      if (k !== -1) prev[k] = i;
      if (prev[i] !== -1) push(prev[i]!);
      push(i);
    }
    const out: number[] = [];
    for (let i = 0; i !== -1; i = next[i]!) out.push(sym[i]!);
    return out;
  }
}

/** Binary min-heap of numbers. */
class MinHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(x: number): void {
    const a = this.a;
    let i = a.length;
    a.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= x) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r]! < a[l]! ? r : l;
        if (a[c]! >= last) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
