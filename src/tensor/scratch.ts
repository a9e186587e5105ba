/**
 * Named, growable scratch buffers: `f32(name, n)` returns a view of n floats that stays the same memory
 * while n fits, so a training loop with varying batch shapes does not allocate each step.
 */
export class Scratch {
  private f32s = new Map<string, Float32Array>();
  private i32s = new Map<string, Int32Array>();

  f32(name: string, n: number): Float32Array {
    let b = this.f32s.get(name);
    if (!b || b.length < n) {
      b = new Float32Array(n);
      this.f32s.set(name, b);
    }
    return b.subarray(0, n);
  }

  i32(name: string, n: number): Int32Array {
    let b = this.i32s.get(name);
    if (!b || b.length < n) {
      b = new Int32Array(n);
      this.i32s.set(name, b);
    }
    return b.subarray(0, n);
  }

  /** Frees everything (the next pass reallocates). */
  clear(): void {
    this.f32s.clear();
    this.i32s.clear();
  }

  /** Bytes held, for memory reports. */
  bytes(): number {
    let n = 0;
    for (const b of this.f32s.values()) n += b.byteLength;
    for (const b of this.i32s.values()) n += b.byteLength;
    return n;
  }
}
