/**
 * The fixed Alpaca split (../shared/README.md): by the record's position `i` over the data files taken in
 * order, `i % 20 == 0` → test, `i % 20 == 1` → validation, everything else → train (46,800 / 2,601 / 2,601
 * of the 52,002 records).
 */
export type Split = 'train' | 'validation' | 'test';

export const SPLITS: readonly Split[] = ['train', 'validation', 'test'];

export function splitOf(index: number): Split {
  const r = index % 20;
  return r === 0 ? 'test' : r === 1 ? 'validation' : 'train';
}
