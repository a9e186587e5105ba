/**
 * Where the time of a training step goes (bench:train --profile): wraps a backend so that every op call is
 * timed and filed under the phase of the step it ran in (forward, backward, the LoRA hook's forward and
 * backward, AdamW), with the language-model head (the vocabulary matmuls and cross-entropy) apart from the
 * transformer blocks. Matmuls also count their FLOPs, so each row shows the rate it reached.
 * Only the bench uses it; timing adds one performance.now() pair per op call (a few hundred per step).
 */
import type { Backend, F32 } from '../src/tensor/backend.js';
import type { LinearHook, LinearSite, PassInfo } from '../src/model/hooks.js';
import type { LinearModule } from '../src/model/weights.js';

export type StepPhase = 'forward' | 'backward' | 'adamw' | 'other';

export interface ProfileRow {
  label: string;
  seconds: number;
  calls: number;
  flops: number;
}

const GROUPS = ['fwd', 'lm_head', 'bwd', 'lora fwd', 'lora bwd', 'adamw', 'other'];

export class PhaseProfiler {
  private phase: StepPhase = 'other';
  private inHook: 'lora fwd' | 'lora bwd' | null = null;
  private table = new Map<string, ProfileRow>();

  /** vocab: the vocabulary size, to tell the lm_head matmuls from the blocks' ones. */
  constructor(private readonly vocab: number) {}

  enter(phase: StepPhase): void {
    this.phase = phase;
  }

  reset(): void {
    this.table.clear();
  }

  /** Rows grouped by phase (forward blocks, lm_head, backward blocks, LoRA, AdamW), slowest first in each. */
  rows(): ProfileRow[] {
    const group = (l: string) => GROUPS.findIndex((g) => l === g || l.startsWith(g + ':'));
    return [...this.table.values()].sort((a, b) => group(a.label) - group(b.label) || b.seconds - a.seconds);
  }

  wrapBackend(be: Backend): Backend {
    return new Proxy(be, {
      get: (target, prop, receiver) => {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function' || typeof prop !== 'string') return v;
        const fn = v as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          const t0 = performance.now();
          const out = fn.apply(target, args);
          const dt = (performance.now() - t0) / 1000;
          const flops = prop === 'matmul' ? 2 * (args[3] as number) * (args[4] as number) * (args[5] as number) : 0;
          this.record(this.label(prop, args), dt, flops);
          return out;
        };
      },
    });
  }

  /** The hook, with its calls filed under "lora fwd" / "lora bwd". */
  wrapHook(hook: LinearHook): LinearHook {
    return {
      applies: (m: LinearModule) => hook.applies(m),
      forward: (site: LinearSite, x: F32, y: F32, pass: PassInfo) => {
        this.inHook = 'lora fwd';
        try {
          hook.forward(site, x, y, pass);
        } finally {
          this.inHook = null;
        }
      },
      backward: (site: LinearSite, x: F32, dy: F32, dx: F32, pass: PassInfo) => {
        this.inHook = 'lora bwd';
        try {
          hook.backward(site, x, dy, dx, pass);
        } finally {
          this.inHook = null;
        }
      },
    };
  }

  private record(label: string, seconds: number, flops: number): void {
    const row = this.table.get(label) ?? { label, seconds: 0, calls: 0, flops: 0 };
    row.seconds += seconds;
    row.calls++;
    row.flops += flops;
    this.table.set(label, row);
  }

  private label(op: string, args: unknown[]): string {
    const kind = op === 'dropoutMask' || op === 'mul' ? 'dropout (mask, mul)' : op === 'addBias' || op === 'add' ? 'add, bias' : op;
    if (this.inHook) return `${this.inHook}: ${kind}`;
    if (this.phase === 'adamw') return `adamw: ${op}`;
    if (this.phase === 'other') return `other: ${op}`;
    const V = this.vocab;
    if (op === 'matmul') {
      const [N, K] = [args[4] as number, args[5] as number];
      if (this.phase === 'forward' && N === V) return 'lm_head: logits matmul (fwd)';
      if (this.phase === 'backward' && K === V) return 'lm_head: dlogits x wte matmul (bwd)';
      return this.phase === 'forward' ? 'fwd: base matmul (x W)' : 'bwd: base matmul (dy W^T)';
    }
    if (op.startsWith('crossEntropy')) return `lm_head: ${op}`;
    return `${this.phase === 'forward' ? 'fwd' : 'bwd'}: ${kind}`;
  }
}
