/**
 * Turns a stream of token ids into text for display while generating: `push` returns only complete UTF-8
 * characters (a character split across tokens appears once its last byte arrives); `flush` returns what is
 * left (an incomplete tail becomes U+FFFD). The concatenation of all outputs equals `decode(allIds)`.
 *
 * Most tokens are ASCII: while no character is left incomplete, such a token's text is its bytes as they are
 * (from `asciiText`), without a TextDecoder call (a decoder call per streamed token was a fifth of the
 * server's per-token bookkeeping).
 */
export class StreamDecoder {
  private readonly utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
  /** The last (up to 4) bytes fed to the decoder, to tell whether it may hold an incomplete character. */
  private readonly last = new Uint8Array(4);
  private lastLength = 0;
  /** The decoder may hold the start of a character (false only where it surely holds nothing). */
  private pending = false;

  constructor(private readonly tokenBytes: (id: number) => Uint8Array, private readonly asciiText: (id: number) => string | null = () => null) {}

  push(id: number): string {
    if (!this.pending) {
      const ascii = this.asciiText(id);
      if (ascii !== null) {
        this.lastLength = 0; // the stream now ends in an ASCII byte: what came before no longer matters
        return ascii;
      }
    }
    const bytes = this.tokenBytes(id);
    const text = this.utf8.decode(bytes, { stream: true });
    this.remember(bytes);
    return text;
  }

  /** Ends the stream; the decoder can be used again afterwards for a new one. */
  flush(): string {
    this.pending = false;
    this.lastLength = 0;
    return this.utf8.decode();
  }

  /**
   * Notes the tail of the bytes fed so far: the decoder holds nothing when the last lead byte within the
   * last four has all its continuation bytes, or there is none (then every byte after an ASCII one was
   * already a replacement character). Invalid sequences may make this say "pending" when nothing is: that
   * only takes the decoder path for the next token.
   */
  private remember(bytes: Uint8Array): void {
    for (const b of bytes.subarray(Math.max(0, bytes.length - 4))) {
      if (this.lastLength === 4) {
        this.last.copyWithin(0, 1);
        this.lastLength = 3;
      }
      this.last[this.lastLength++] = b;
    }
    this.pending = false;
    for (let i = this.lastLength - 1; i >= 0; i--) {
      const b = this.last[i];
      if ((b & 0xc0) === 0x80) continue; // a continuation byte
      const need = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf8 ? 4 : 1;
      this.pending = this.lastLength - i < need;
      return;
    }
  }
}
