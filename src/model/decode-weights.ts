import { HalfWeights, NativeBackend, type HalfRegion } from '../tensor/native.js';
import type { GPT2Config } from './config.js';
import type { DecodeWeights, GPT2 } from './gpt2.js';
import { LINEAR_MODULES, weightLayout } from './weights.js';
import { weightsVersion } from './weights-version.js';

/** Columns per panel of the native backend's packed fp16 weights (native/gemv.h LR_PANEL). */
const PANEL = 16;

/**
 * The weights a decode step multiplies by, as fp16 regions packed in panels: the LM head (the tied wte
 * [V, C], the B of logits = h @ wte^T) and the blocks' linear weights (Conv1D [in, out], the B of x @ W)
 * whose width is a multiple of the panel (every GPT-2 width is). A decode step of up to 16 rows reads each
 * once, as one stream.
 */
function panelRegions(cfg: GPT2Config): HalfRegion[] {
  const out: HalfRegion[] = [];
  let offset = 0;
  for (const t of weightLayout(cfg)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.name === 'wte.weight') out.push({ offset, K: t.shape[1], N: t.shape[0], transposed: true });
    if (LINEAR_MODULES.some((m) => t.name.endsWith(`.${m}.weight`)) && t.shape[1] % PANEL === 0) {
      out.push({ offset, K: t.shape[0], N: t.shape[1] });
    }
    offset += n;
  }
  return out;
}

/**
 * fp16 weights for generation — a prefill into a KV cache and the decode steps through it: the native
 * backend's fp16 copy of GPT2Weights.buffer (the LM head and the blocks' linear weights packed in panels),
 * read by matmuls of up to 16 rows (a prefill's rows in passes of 16). Scoring and training never see it. The copy
 * belongs to one version of the weights (src/model/weights-version.ts): after a write (mergeAdapter,
 * loadWeights, ...) the next decode step makes a fresh copy first, so it never reads weights that are no
 * longer there.
 */
class HalfDecodeWeights implements DecodeWeights {
  /** fp16 keys and values: what a decode step of a batch reads most of after the weights (its attention). */
  readonly kvCache = 'float16';
  private copy: HalfWeights | null = null;
  private version = -1;

  constructor(private readonly backend: NativeBackend, private readonly buffer: Float32Array, private readonly cfg: GPT2Config) {}

  /** Makes the copy of the current weights if there is none (false where the CPU cannot use one). */
  refresh(): boolean {
    const version = weightsVersion(this.buffer);
    if (this.copy && this.version === version) return true;
    this.release();
    this.copy = this.backend.halfWeights(this.buffer, panelRegions(this.cfg));
    this.version = version;
    return this.copy !== null;
  }

  run<T>(step: () => T): T {
    return this.refresh() ? this.backend.withHalfWeights(this.copy as HalfWeights, step) : step();
  }

  release(): void {
    this.copy?.release();
    this.copy = null;
  }
}

/**
 * For generation: lets passes through a KV cache (a prompt's prefill and every decode step) read an fp16
 * copy of the weights (2 bytes per weight more memory), widened to fp32 on the fly: half the memory traffic
 * that bounds decoding, and a prefill in the packed panels that OpenBLAS would first have to pack itself;
 * results within the fp16 rounding of the weights (~5e-4 relative). Generation's KV caches (GPT2.createCache:
 * `generate`, the server) then store fp16 keys and values too, half of what a batch's attention reads.
 * Forward passes without a cache, scoring and training stay fp32, and the copy follows every write to the
 * weights through the library's APIs.
 * `on = false` drops it. Returns whether generation now uses fp16 (false, changing nothing, on backends or
 * CPUs without it).
 */
export function useHalfWeightsForDecode(model: GPT2, on = true): boolean {
  if (model.decodeWeights instanceof HalfDecodeWeights) model.decodeWeights.release();
  model.decodeWeights = null;
  if (!on || !(model.backend instanceof NativeBackend)) return false;
  const half = new HalfDecodeWeights(model.backend, model.weights.buffer, model.config);
  if (!half.refresh()) return false;
  model.decodeWeights = half;
  return true;
}
