import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../../src/io/safetensors.js';
import { packageRoot } from '../../src/config/paths.js';
import type { Backend } from '../../src/tensor/backend.js';
import { ReferenceBackend } from '../../src/tensor/reference.js';
import { loadNativeBackend } from '../../src/tensor/native.js';

export interface GoldenMeta {
  prompts: string[];
  input_ids: number[][];
  base_loss: number[];
  adapter_loss: number[];
  base_greedy: number[][];
  adapter_greedy: number[][];
  gen_prompts: string[];
  batch_loss: number;
  lora_config: Record<string, unknown>;
}

/** A fixture set made by ../shared/tools/gen_golden.py and trimmed by scripts/trim-golden.py. */
export function loadGolden(name = 'golden') {
  const dir = join(packageRoot(), 'test', 'fixtures', name);
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as GoldenMeta;
  const tensors = openSafetensors(join(dir, 'tensors.safetensors'));
  const stride = Number(tensors.metadata.logits_stride ?? '1');
  return { dir, meta, tensors, stride, adapterDir: join(dir, 'adapter') };
}

/** Every backend available here: the reference one always, the native one when its addon is built. */
export function availableBackends(): Backend[] {
  const out: Backend[] = [new ReferenceBackend()];
  const native = loadNativeBackend();
  if (native) out.push(native);
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** ||a - b|| / ||b|| */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d) / Math.sqrt(n);
}

/** Columns 0, stride, 2*stride, ... of a [rows, V] matrix. */
export function strided(x: Float32Array, rows: number, V: number, stride: number): Float32Array {
  const cols = Math.ceil(V / stride);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * V + c * stride];
  return out;
}
