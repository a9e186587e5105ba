/**
 * Turns a stream of token ids into text for display while generating: `push` returns only complete UTF-8
 * characters (a character split across tokens appears once its last byte arrives); `flush` returns what is
 * left (an incomplete tail becomes U+FFFD). The concatenation of all outputs equals `decode(allIds)`.
 */
export class StreamDecoder {
  private readonly utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(private readonly tokenBytes: (id: number) => Uint8Array) {}

  push(id: number): string {
    return this.utf8.decode(this.tokenBytes(id), { stream: true });
  }

  /** Ends the stream; the decoder can be used again afterwards for a new one. */
  flush(): string {
    return this.utf8.decode();
  }
}
