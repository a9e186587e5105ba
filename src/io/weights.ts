/** What the readers of model and adapter weights see: one flat name space of tensors. */

export interface TensorInfo {
  /** Safetensors dtype name, e.g. "F32", "F16", "BF16", "I64" (may be one this library cannot convert). */
  dtype: string;
  shape: number[];
  byteLength: number;
}

/**
 * A read-only set of named tensors (one safetensors file, or a sharded checkpoint). Every getter returns a
 * fresh array the caller owns and may modify.
 */
export interface WeightSource {
  /** The file (or index file) the tensors come from, for messages. */
  readonly path: string;
  /** Tensor names, sorted. */
  names(): string[];
  has(name: string): boolean;
  /** Throws LoraRouteError for a missing tensor. */
  info(name: string): TensorInfo;
  /** F32 as is; F16 and BF16 widened exactly; F64 rounded to nearest f32. */
  getF32(name: string): Float32Array;
  /** I32 as is; I64/U64/U32 narrowed with a range check; U8/BOOL/I8/I16/U16 widened. */
  getI32(name: string): Int32Array;
  /** The stored little-endian bytes, whatever the dtype. */
  getRaw(name: string): Uint8Array;
}
