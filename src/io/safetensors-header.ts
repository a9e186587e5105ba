import { LoraRouteError } from '../errors.js';
import { dtypeSize } from './dtype.js';

/** One tensor entry of a safetensors header; offsets are relative to the start of the data section. */
export interface TensorEntry {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export interface ParsedHeader {
  metadata: Record<string, string>;
  tensors: Map<string, TensorEntry>;
  /** Absolute file offset where the data section starts (8 + header length). */
  dataStart: number;
}

/** The Python library refuses headers above 100 MB; so do we (a corrupt length would otherwise allocate GBs). */
const MAX_HEADER_BYTES = 100_000_000;

/** Reads the 8-byte little-endian header length; `prefix` holds at least the first 8 bytes of the file. */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, label: string): number {
  if (fileSize < 8) {
    throw new LoraRouteError(`${label}: not a safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const big = view.getBigUint64(0, true);
  const n = Number(big);
  if (8n + big > BigInt(fileSize)) {
    throw new LoraRouteError(
      `${label}: header length ${big} goes past the end of the file (${fileSize} bytes): truncated or not a safetensors file`,
    );
  }
  if (n > MAX_HEADER_BYTES) {
    throw new LoraRouteError(`${label}: header length ${n} is above the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  return n;
}

/** Parses and validates the JSON header (`headerBytes`) of a file of `fileSize` bytes. */
export function parseHeader(headerBytes: Uint8Array, fileSize: number, label: string): ParsedHeader {
  const dataStart = 8 + headerBytes.byteLength;
  const dataSize = fileSize - dataStart;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    throw new LoraRouteError(`${label}: header is not valid JSON (${(err as Error).message}): corrupt or not a safetensors file`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new LoraRouteError(`${label}: header is JSON but not an object`);
  }
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorEntry>();
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      Object.assign(metadata, parseMetadata(value, label));
      continue;
    }
    tensors.set(name, parseEntry(name, value, label));
  }
  checkOffsets(tensors, dataSize, label);
  return { metadata, tensors, dataStart };
}

function parseMetadata(value: unknown, label: string): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new LoraRouteError(`${label}: __metadata__ must be an object of strings`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') {
      throw new LoraRouteError(`${label}: __metadata__.${k} must be a string, got ${JSON.stringify(v)}`);
    }
    out[k] = v;
  }
  return out;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function parseEntry(name: string, value: unknown, label: string): TensorEntry {
  const where = `${label}: tensor '${name}'`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new LoraRouteError(`${where}: header entry must be an object with dtype, shape and data_offsets`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw new LoraRouteError(`${where}: dtype must be a string, got ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new LoraRouteError(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw new LoraRouteError(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const size = dtypeSize(dtype);
  if (size !== undefined) {
    // An unknown dtype is only an error when the tensor is read, so its length cannot be checked here.
    const count = shape.reduce((a: number, b: number) => a * b, 1);
    if (count * size !== end - begin) {
      throw new LoraRouteError(
        `${where}: shape ${JSON.stringify(shape)} of ${dtype} needs ${count * size} bytes but data_offsets ` +
          `[${begin}, ${end}] give ${end - begin}`,
      );
    }
  }
  return { dtype, shape: shape.slice(), begin, end };
}

/** The tensors must tile the data section exactly: inside it, no overlaps, no gaps, nothing left over. */
function checkOffsets(tensors: Map<string, TensorEntry>, dataSize: number, label: string): void {
  const sorted = [...tensors.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  for (const [name, t] of sorted) {
    if (t.end > dataSize) {
      throw new LoraRouteError(
        `${label}: tensor '${name}': data_offsets [${t.begin}, ${t.end}] lie outside the data section ` +
          `(${dataSize} bytes): truncated file or corrupt header`,
      );
    }
  }
  let pos = 0;
  let prev = '';
  for (const [name, t] of sorted) {
    if (t.begin < pos) {
      throw new LoraRouteError(
        `${label}: tensor '${name}': data_offsets [${t.begin}, ${t.end}] overlap tensor '${prev}' (which ends at ${pos})`,
      );
    }
    if (t.begin > pos) {
      throw new LoraRouteError(
        `${label}: data_offsets do not cover the data section: bytes ${pos}..${t.begin} belong to no tensor ` +
          `(before tensor '${name}')`,
      );
    }
    pos = t.end;
    prev = name;
  }
  if (pos !== dataSize) {
    throw new LoraRouteError(
      `${label}: data_offsets do not cover the data section: tensors end at ${pos} but the data section has ${dataSize} bytes`,
    );
  }
}
