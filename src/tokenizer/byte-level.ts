/**
 * GPT-2's byte-level alphabet: every byte 0..255 gets a printable Unicode character so that BPE tokens are
 * strings without spaces or control characters (space -> "Ġ", newline -> "Ċ").
 */
export interface ByteAlphabet {
  /** byte -> its character */
  byteToChar: string[];
  /** character code -> byte, or -1 */
  charToByte: Int16Array;
}

export function byteAlphabet(): ByteAlphabet {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b); // '!'..'~'
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b); // '¡'..'¬'
  for (let b = 0xae; b <= 0xff; b++) printable.push(b); // '®'..'ÿ'
  const byteToChar = new Array<string>(256);
  const charToByte = new Int16Array(512).fill(-1);
  const isPrintable = new Set(printable);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const code = isPrintable.has(b) ? b : 256 + extra++;
    byteToChar[b] = String.fromCharCode(code);
    charToByte[code] = b;
  }
  return { byteToChar, charToByte };
}

/** UTF-8 bytes of a JS string, written into `buf` (grown if needed); lone surrogates become U+FFFD. */
export function utf8Encode(s: string, buf: Uint8Array): { buf: Uint8Array; len: number } {
  if (buf.length < s.length * 3) buf = new Uint8Array(s.length * 3);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[n++] = c;
      continue;
    }
    if (c < 0x800) {
      buf[n++] = 0xc0 | (c >> 6);
      buf[n++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        buf[n++] = 0xf0 | (c >> 18);
        buf[n++] = 0x80 | ((c >> 12) & 0x3f);
        buf[n++] = 0x80 | ((c >> 6) & 0x3f);
        buf[n++] = 0x80 | (c & 0x3f);
        continue;
      }
      c = 0xfffd; // lone surrogate, as TextEncoder does
    }
    buf[n++] = 0xe0 | (c >> 12);
    buf[n++] = 0x80 | ((c >> 6) & 0x3f);
    buf[n++] = 0x80 | (c & 0x3f);
  }
  return { buf, len: n };
}
