/**
 * The fixed Alpaca split (../shared/README.md): by the record's position `i` over the data files taken in
 * order, `i % 20 == 0` → test, `i % 20 == 1` → validation, everything else → train (46,800 / 2,601 / 2,601
 * of the 52,002 records).
 */
export type Split = 'train' | 'validation' | 'test';

export const SPLITS: readonly Split[] = ['train', 'validation', 'test'];

/** The split of record `index`; `modulus` (default 20) is `data.split_modulus` of the config. */
export function splitOf(index: number, modulus = 20): Split {
  const r = index % modulus;
  return r === 0 ? 'test' : r === 1 ? 'validation' : 'train';
}
