import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { openSafetensors, type SafetensorsFile } from '../../src/io/safetensors.js';
import { shiftTargets, type GPT2 } from '../../src/model/gpt2.js';
import type { LoraMixture } from '../../src/lora/mixture.js';
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

/**
 * The fixture's padded batch through `model` with adapter 0 of `mix` trained (eval mode: no dropout):
 * asserts the batch loss within 1e-4 and every LoRA gradient within 1e-4 relative of PEFT's.
 */
export function checkBatchGradients(
  model: GPT2, mix: LoraMixture, tensors: SafetensorsFile, batchLoss: number, logits: 'targets' | 'all' = 'targets',
): void {
  const adapter = mix.adapters[0];
  const ids = tensors.getI32('batch.input_ids');
  const mask = tensors.getI32('batch.attention_mask');
  const [B, T] = tensors.info('batch.input_ids').shape;
  const labels = ids.map((id, i) => (mask[i] ? id : -100));
  mix.useOnly(0, B);
  mix.trainable[0] = true;
  adapter.zeroGrads();
  try {
    const res = model.forward({ ids, B, T, keyMask: mask }, { hook: mix, train: true, dropout: false, targets: shiftTargets(labels, B, T), logits });
    assert.ok(Math.abs(res.loss - batchLoss) < 1e-4, `batch loss ${res.loss} vs PEFT ${batchLoss}`);
    model.backward();
    let checked = 0;
    for (const s of adapter.sites) {
      for (const which of ['A', 'B'] as const) {
        const key = `grad.base_model.model.${s.name}.lora_${which}.default.weight`;
        const err = relativeError(which === 'A' ? s.gradA : s.gradB, tensors.getF32(key));
        assert.ok(err < 1e-4, `${key}: relative error ${err}`);
        checked++;
      }
    }
    assert.equal(checked, tensors.names().filter((n) => n.startsWith('grad.')).length, 'every fixture gradient checked');
  } finally {
    mix.trainable[0] = false;
  }
}
