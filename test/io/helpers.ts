import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A temporary directory removed after the test file. */
export function tempDir(prefix = 'loraroute-io-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A safetensors file from a header object and raw data bytes (for writing corrupt files by hand). */
export function rawSafetensors(header: unknown, data: Uint8Array | number = 0, opts: { headerText?: string; lengthField?: bigint } = {}): Uint8Array {
  const json = Buffer.from(opts.headerText ?? JSON.stringify(header), 'utf8');
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.byteLength + body.byteLength);
  new DataView(out.buffer).setBigUint64(0, opts.lengthField ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(body, 8 + json.byteLength);
  return out;
}
