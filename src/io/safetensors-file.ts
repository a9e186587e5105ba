import { LoraRouteError } from '../errors.js';
import { FileBytes, MemoryBytes, type ByteSource } from './byte-source.js';
import { assertLittleEndian, dtypeSize } from './dtype.js';
import { bf16ToF32, f16ToF32 } from './float16.js';
import { parseHeader, readHeaderLength, type TensorEntry } from './safetensors-header.js';
import type { TensorInfo, WeightSource } from './weights.js';

/**
 * One safetensors file. The header is read and validated when it is opened; tensor bytes are read only when a
 * getter asks for them, straight into the array that is returned.
 */
export class SafetensorsFile implements WeightSource {
  readonly metadata: Record<string, string>;
  private readonly tensors: Map<string, TensorEntry>;
  private readonly dataStart: number;
  private sortedNames: string[] | null = null;

  constructor(private readonly src: ByteSource, readonly path: string) {
    const prefix = new Uint8Array(Math.min(8, src.size));
    src.readInto(0, prefix);
    const n = readHeaderLength(prefix, src.size, path);
    const headerBytes = new Uint8Array(n);
    src.readInto(8, headerBytes);
    const header = parseHeader(headerBytes, src.size, path);
    this.metadata = header.metadata;
    this.tensors = header.tensors;
    this.dataStart = header.dataStart;
  }

  names(): string[] {
    this.sortedNames ??= [...this.tensors.keys()].sort();
    return this.sortedNames.slice();
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.entry(name);
    return { dtype: t.dtype, shape: t.shape.slice(), byteLength: t.end - t.begin };
  }

  getRaw(name: string): Uint8Array {
    const t = this.entry(name);
    const out = new Uint8Array(t.end - t.begin);
    this.src.readInto(this.dataStart + t.begin, out);
    return out;
  }

  getF32(name: string): Float32Array {
    const t = this.entry(name);
    const n = this.count(name, t);
    switch (t.dtype) {
      case 'F32': {
        const out = new Float32Array(n);
        this.read(t, out);
        return out;
      }
      case 'F16': {
        const bits = new Uint16Array(n);
        this.read(t, bits);
        return f16ToF32(bits);
      }
      case 'BF16': {
        const bits = new Uint16Array(n);
        this.read(t, bits);
        return bf16ToF32(bits);
      }
      case 'F64': {
        const wide = new Float64Array(n);
        this.read(t, wide);
        return new Float32Array(wide); // rounds to nearest
      }
      default:
        throw new LoraRouteError(
          `${this.path}: tensor '${name}' has dtype ${t.dtype}; getF32 reads F32, F16, BF16 or F64` +
            (isIntDtype(t.dtype) ? ' (use getI32 for integers)' : ''),
        );
    }
  }

  getI32(name: string): Int32Array {
    const t = this.entry(name);
    const n = this.count(name, t);
    switch (t.dtype) {
      case 'I32': {
        const out = new Int32Array(n);
        this.read(t, out);
        return out;
      }
      case 'I64':
      case 'U64': {
        // [lo, hi] word pairs; a value fits in i32 iff hi is the sign extension of lo
        const words = new Int32Array(2 * n);
        this.read(t, words);
        const unsigned = t.dtype === 'U64';
        for (let i = 0; i < n; i++) {
          const lo = words[2 * i]!;
          const hi = words[2 * i + 1]!;
          const ok = unsigned ? hi === 0 && lo >= 0 : hi === lo >> 31;
          if (!ok) {
            const v = unsigned ? BigInt.asUintN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0)) : (BigInt(hi) << 32n) | BigInt(lo >>> 0);
            throw new LoraRouteError(`${this.path}: tensor '${name}' (${t.dtype}) element ${i} = ${v} does not fit in int32`);
          }
          words[i] = lo;
        }
        return words.slice(0, n);
      }
      case 'U32': {
        const u = new Uint32Array(n);
        this.read(t, u);
        for (let i = 0; i < n; i++) {
          if (u[i]! > 0x7fffffff) {
            throw new LoraRouteError(`${this.path}: tensor '${name}' (U32) element ${i} = ${u[i]} does not fit in int32`);
          }
        }
        return new Int32Array(u.buffer);
      }
      case 'U8':
      case 'BOOL':
        return this.readWiden(t, new Uint8Array(n));
      case 'I8':
        return this.readWiden(t, new Int8Array(n));
      case 'I16':
        return this.readWiden(t, new Int16Array(n));
      case 'U16':
        return this.readWiden(t, new Uint16Array(n));
      default:
        throw new LoraRouteError(
          `${this.path}: tensor '${name}' has dtype ${t.dtype}; getI32 reads integer or BOOL tensors` +
            (isFloatDtype(t.dtype) ? ' (use getF32 for floats)' : ''),
        );
    }
  }

  /** Reads a tensor's bytes into `dst` (whose byte length matches). */
  private read(t: TensorEntry, dst: ArrayBufferView): void {
    assertLittleEndian();
    this.src.readInto(this.dataStart + t.begin, new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength));
  }

  private readWiden(t: TensorEntry, narrow: Uint8Array | Int8Array | Int16Array | Uint16Array): Int32Array {
    this.read(t, narrow);
    return Int32Array.from(narrow);
  }

  private count(name: string, t: TensorEntry): number {
    const size = dtypeSize(t.dtype);
    if (size === undefined) {
      throw new LoraRouteError(`${this.path}: tensor '${name}' has unknown dtype '${t.dtype}'`);
    }
    return (t.end - t.begin) / size;
  }

  private entry(name: string): TensorEntry {
    const t = this.tensors.get(name);
    if (!t) throw missingTensor(this.path, name, this.names());
    return t;
  }
}

function isIntDtype(d: string): boolean {
  return /^(I|U)\d+$/.test(d) || d === 'BOOL';
}
function isFloatDtype(d: string): boolean {
  return /^(F|BF)\d/.test(d);
}

/** "no tensor 'x' in FILE (N tensors, e.g. a, b, c)" with the names most like `name` first. */
export function missingTensor(path: string, name: string, available: string[]): LoraRouteError {
  const similar = available
    .map((n) => ({ n, score: commonPrefix(n, name) + commonSuffix(n, name) }))
    .sort((a, b) => b.score - a.score || (a.n < b.n ? -1 : 1))
    .slice(0, 5)
    .map((x) => x.n);
  const list = available.length === 0 ? 'it has no tensors' : `${available.length} tensors, e.g. ${similar.join(', ')}`;
  return new LoraRouteError(`${path}: no tensor '${name}' (${list})`);
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
function commonSuffix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[a.length - 1 - i] === b[b.length - 1 - i]) i++;
  return i;
}

/** Opens a safetensors file: the header is read and checked now, tensors when asked for. */
export function openSafetensors(path: string): SafetensorsFile {
  return new SafetensorsFile(new FileBytes(path, 'safetensors file'), path);
}

/** Reads safetensors bytes already in memory; `label` names them in messages. */
export function parseSafetensors(bytes: Uint8Array, label = '<memory>'): SafetensorsFile {
  return new SafetensorsFile(new MemoryBytes(bytes), label);
}
