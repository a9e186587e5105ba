import { LoraRouteError } from '../errors.js';
import { writeFileAtomicChunks } from './atomic.js';
import { assertLittleEndian, DTYPE_ORDER, DTYPE_SIZE, type WritableDtype } from './dtype.js';
import { f32ToBf16, f32ToF16 } from './float16.js';

export type { WritableDtype } from './dtype.js';

/**
 * A tensor to write. `data` holds the elements in row-major order:
 * - F32, F16, BF16: Float32Array (F16/BF16 are rounded to nearest even);
 * - I32: Int32Array; I64: BigInt64Array or Int32Array (widened); U8, BOOL: Uint8Array (BOOL must be 0/1);
 * - any dtype: a Uint8Array of exactly the stored little-endian bytes (e.g. from `getRaw`).
 */
export interface TensorToWrite {
  dtype: WritableDtype;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array | BigInt64Array;
}

interface Planned {
  name: string;
  dtype: WritableDtype;
  shape: number[];
  byteLength: number;
  bytes: () => Uint8Array;
}

/**
 * Writes a safetensors file atomically, byte-identical to what Python's `safetensors` writes for the same
 * tensors and metadata: `__metadata__` always present with `format: "pt"` (unless given), tensors laid out
 * by dtype width then name, header padded with spaces to a multiple of 8.
 */
export function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): void {
  const { header, planned } = plan(tensors, metadata, path);
  writeFileAtomicChunks(path, chunks(header, planned));
}

/** The bytes writeSafetensors would write, in memory. */
export function serializeSafetensors(tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = {}): Uint8Array {
  const { header, planned } = plan(tensors, metadata, '<memory>');
  const total = header.byteLength + planned.reduce((a, p) => a + p.byteLength, 0);
  const out = new Uint8Array(total);
  let pos = 0;
  for (const c of chunks(header, planned)) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

function* chunks(header: Uint8Array, planned: Planned[]): Generator<Uint8Array> {
  yield header;
  for (const p of planned) yield p.bytes(); // converted one tensor at a time
}

function plan(tensors: Record<string, TensorToWrite>, metadata: Record<string, string>, label: string) {
  assertLittleEndian();
  const planned: Planned[] = Object.entries(tensors).map(([name, t]) => planTensor(name, t, label));
  planned.sort((a, b) => DTYPE_ORDER[b.dtype]! - DTYPE_ORDER[a.dtype]! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const meta: Record<string, string> = { format: 'pt', ...metadata };
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== 'string') throw new LoraRouteError(`${label}: metadata '${k}' must be a string, got ${typeof v}`);
  }
  // Built by hand: a JS object would move integer-like names ("0", "12") to the front.
  const parts = [`"__metadata__":{${Object.keys(meta).sort().map((k) => `${JSON.stringify(k)}:${JSON.stringify(meta[k])}`).join(',')}}`];
  let offset = 0;
  for (const p of planned) {
    const entry = `{"dtype":"${p.dtype}","shape":${JSON.stringify(p.shape)},"data_offsets":[${offset},${offset + p.byteLength}]}`;
    parts.push(`${JSON.stringify(p.name)}:${entry}`);
    offset += p.byteLength;
  }
  let json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const header = new Uint8Array(8 + json.byteLength);
  new DataView(header.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  header.set(json, 8);
  return { header, planned };
}

function planTensor(name: string, t: TensorToWrite, label: string): Planned {
  const where = `${label}: tensor '${name}'`;
  if (name === '' || name === '__metadata__') throw new LoraRouteError(`${label}: invalid tensor name '${name}'`);
  const size = Object.prototype.hasOwnProperty.call(DTYPE_SIZE, t.dtype) ? DTYPE_SIZE[t.dtype]! : 0;
  if (!['F32', 'F16', 'BF16', 'I32', 'I64', 'U8', 'BOOL'].includes(t.dtype)) {
    throw new LoraRouteError(`${where}: cannot write dtype '${t.dtype}' (F32, F16, BF16, I32, I64, U8 or BOOL)`);
  }
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new LoraRouteError(`${where}: shape must be non-negative integers, got ${JSON.stringify(t.shape)}`);
  }
  const n = t.shape.reduce((a, b) => a * b, 1);
  const byteLength = n * size;
  const d = t.data;
  const base = { name, dtype: t.dtype, shape: t.shape.slice(), byteLength };
  const mismatch = (what: string, got: number): LoraRouteError =>
    new LoraRouteError(`${where}: shape ${JSON.stringify(t.shape)} needs ${what} but data has ${got}`);

  // Raw little-endian bytes of any dtype (for U8/BOOL this is also the element form).
  if (d instanceof Uint8Array) {
    if (d.byteLength !== byteLength) throw mismatch(`${byteLength} bytes`, d.byteLength);
    if (t.dtype === 'BOOL') {
      const bad = d.findIndex((v) => v > 1);
      if (bad >= 0) throw new LoraRouteError(`${where}: BOOL element ${bad} is ${d[bad]}, expected 0 or 1`);
    }
    return { ...base, bytes: () => d };
  }
  if (d.length !== n) throw mismatch(`${n} elements`, d.length);
  const view = (a: ArrayBufferView) => () => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (t.dtype) {
    case 'F32':
      if (d instanceof Float32Array) return { ...base, bytes: view(d) };
      break;
    case 'F16':
      if (d instanceof Float32Array) return { ...base, bytes: () => view(f32ToF16(d))() };
      break;
    case 'BF16':
      if (d instanceof Float32Array) return { ...base, bytes: () => view(f32ToBf16(d))() };
      break;
    case 'I32':
      if (d instanceof Int32Array) return { ...base, bytes: view(d) };
      break;
    case 'I64':
      if (d instanceof BigInt64Array) return { ...base, bytes: view(d) };
      if (d instanceof Int32Array) return { ...base, bytes: () => view(BigInt64Array.from(d, (v) => BigInt(v)))() };
      break;
    default:
      break;
  }
  throw new LoraRouteError(`${where}: ${t.dtype} cannot be written from a ${d.constructor.name}`);
}
