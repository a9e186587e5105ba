/** Open-addressing hash map from a pair of token ids (a, b) to a merge rank; faster than a Map for this. */
export class PairTable {
  private readonly mask: number;
  private readonly keyA: Int32Array;
  private readonly keyB: Int32Array;
  private readonly value: Int32Array;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.mask = cap - 1;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.value = new Int32Array(cap);
  }

  private slot(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & this.mask;
  }

  /** Sets (a, b) -> v unless (a, b) is already present; returns false when it was. */
  setIfAbsent(a: number, b: number, v: number): boolean {
    let i = this.slot(a, b);
    while (this.keyA[i] !== -1) {
      if (this.keyA[i] === a && this.keyB[i] === b) return false;
      i = (i + 1) & this.mask;
    }
    this.keyA[i] = a;
    this.keyB[i] = b;
    this.value[i] = v;
    return true;
  }

  /** The value of (a, b), or -1. */
  get(a: number, b: number): number {
    let i = this.slot(a, b);
    for (;;) {
      const k = this.keyA[i]!;
      if (k === -1) return -1;
      if (k === a && this.keyB[i] === b) return this.value[i]!;
      i = (i + 1) & this.mask;
    }
  }
}
