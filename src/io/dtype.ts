/** Safetensors dtype names and their element sizes in bytes. */
export const DTYPE_SIZE: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  F64: 8, I64: 8, U64: 8,
};

/** The dtypes writeSafetensors can write. */
export type WritableDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8' | 'BOOL';

/**
 * Position of each dtype in the Rust library's `Dtype` enum. The Python `safetensors` writer lays tensors out
 * by this order, descending (widest first, so every tensor stays aligned), then by name; we do the same so
 * our files are byte-identical to its output.
 */
export const DTYPE_ORDER: Readonly<Record<string, number>> = {
  BOOL: 0, U8: 4, I8: 5, F8_E5M2: 6, F8_E4M3: 7, I16: 9, U16: 10, F16: 11, BF16: 12,
  I32: 13, U32: 14, F32: 15, F64: 17, I64: 18, U64: 19,
};

export function dtypeSize(dtype: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(DTYPE_SIZE, dtype) ? DTYPE_SIZE[dtype] : undefined;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Safetensors data is little-endian; we read and write it through typed-array views of the host order. */
export function assertLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new Error('safetensors: big-endian hosts are not supported');
}
