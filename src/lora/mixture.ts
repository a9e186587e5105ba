import type { Backend, F32, MatmulOptions } from '../tensor/backend.js';
import { matmulInRowBlocks, ROW_BLOCK_NT } from '../tensor/row-blocks.js';
import { Scratch } from '../tensor/scratch.js';
import { siteSeed, type LinearHook, type LinearSite, type PassInfo } from '../model/hooks.js';
import { LINEAR_MODULES, type LinearModule } from '../model/weights.js';
import { LoraRouteError } from '../errors.js';
import type { LoraAdapter, LoraSite } from './adapter.js';

/**
 * Several LoRA adapters on one frozen base, mixed per sequence by gates g [B, K]:
 *   y_b = x_b W + b + Σ_k g[b, k] · scaling_k · B_k A_k dropout_k(x_b)
 * One-hot gates give each row its own adapter (or none: an all-zero row); router probabilities give the
 * differentiable mixture of joint training, and `gateGrads` receives dL/dg.
 */
export class LoraMixture implements LinearHook {
  /** [B, K] */
  gates: F32 = new Float32Array(0);
  /** dL/dgates [B, K], accumulated in backward when `trackGateGrads`. */
  gateGrads: Float64Array = new Float64Array(0);
  trackGateGrads = false;
  /** Which adapters receive parameter gradients. */
  trainable: boolean[];
  private B = 0;
  /** Set by `useOnly(k)` without a row count: one gate row [K] applied to every row of any batch. */
  private broadcast: F32 | null = null;
  private readonly scratch = new Scratch();
  private readonly modules: Set<LinearModule>;

  constructor(readonly adapters: LoraAdapter[], readonly backend: Backend) {
    if (adapters.length === 0) throw new LoraRouteError('a LoRA mixture needs at least one adapter');
    this.trainable = adapters.map(() => false);
    this.modules = new Set(LINEAR_MODULES.filter((m) => adapters.some((a) => a.hasModule(m))));
  }

  get K(): number {
    return this.adapters.length;
  }

  /** Sets the gates of the next passes: gates [B, K] (copied). */
  setGates(gates: ArrayLike<number>, B: number): void {
    if (gates.length !== B * this.K) throw new LoraRouteError(`gates have ${gates.length} entries, expected B*K = ${B}*${this.K}`);
    this.B = B;
    this.gates = Float32Array.from(gates);
    this.gateGrads = new Float64Array(B * this.K);
    this.broadcast = null;
  }

  /** One adapter per row: choice[b] in [0, K) or -1 for the bare base model. */
  route(choice: ArrayLike<number>): void {
    const B = choice.length;
    const g = new Float32Array(B * this.K);
    for (let b = 0; b < B; b++) this.oneHot(g.subarray(b * this.K, (b + 1) * this.K), choice[b], `row ${b}: `);
    this.setGates(g, B);
  }

  /**
   * The same adapter k (or -1: the bare base model) for every row. Without B the choice follows the batch:
   * it applies to each pass whatever its batch size, until the next route() / setGates(). With B the gates
   * are for exactly B rows, as setGates.
   */
  useOnly(k: number, B?: number): void {
    if (B !== undefined) return this.route(new Array<number>(B).fill(k));
    const row = new Float32Array(this.K); // [K]
    this.oneHot(row, k, '');
    this.B = 0;
    this.gates = new Float32Array(0);
    this.gateGrads = new Float64Array(0);
    this.broadcast = row;
  }

  /** Writes the one-hot gate row [K] of adapter k into row (all zero for -1). */
  private oneHot(row: F32, k: number, where: string): void {
    if (k === -1) return;
    if (!(Number.isInteger(k) && k >= 0 && k < this.K)) throw new LoraRouteError(`${where}expert ${k} is not in [0, ${this.K}) or -1`);
    row[k] = 1;
  }

  applies(module: LinearModule): boolean {
    return this.modules.has(module);
  }

  forward(site: LinearSite, x: F32, y: F32, pass: PassInfo): void {
    this.checkRows(pass);
    const { T } = pass;
    // a decode step (inference, one position per row): every row's adapters in one backend call
    if (!pass.train && !this.trackGateGrads && T === 1) return this.forwardRows(site, x, y, pass.B);
    // inference: one product per adapter and gate value, however the rows with it are spread (a decode
    // step of a server, whose rows cycle over the experts); training keeps xa in row order for backward
    const grouped = !pass.train && !this.trackGateGrads && pass.B > 1;
    for (let k = 0; k < this.K; k++) {
      const s = this.adapters[k].site(site.layer, site.module);
      if (!s) continue;
      if (grouped) {
        this.forwardGrouped(k, s, x, y, pass);
        continue;
      }
      const xin = this.dropped(k, s, x, pass);
      const xa = this.scratch.f32(`xa.${k}.${s.layer}.${s.module}`, pass.B * T * s.r); // [BT, r]
      for (const run of this.runs(k, pass.B, this.trackGateGrads)) {
        const o = run.b0 * T, R = (run.b1 - run.b0) * T;
        const xs = xin.subarray(o * s.inDim, (o + R) * s.inDim); // [R, in]
        const xaR = xa.subarray(o * s.r, (o + R) * s.r); // [R, r] = xs A^T
        this.product(pass, xaR, xs, s.A, R, s.r, s.inDim, { transB: true });
        if (run.g === 0) continue; // computed only for the gate gradient
        // y[R, out] += g * scaling * xa B^T
        this.product(pass, y.subarray(o * s.outDim, (o + R) * s.outDim), xaR, s.B, R, s.outDim, s.r, { transB: true, alpha: run.g * s.scaling, beta: 1 });
      }
    }
  }

  /** y [B, out] += Σ_k g[b, k] scaling_k B_k A_k x_b for one position per row: one loraRows call (the bits of the two one-row products per row and adapter that the other paths compute). */
  private forwardRows(site: LinearSite, x: F32, y: F32, B: number): void {
    const K = this.K;
    const sites = this.adapters.map((a) => a.site(site.layer, site.module));
    const first = sites.find((s) => s !== undefined);
    if (!first) return;
    const w = this.scratch.f32('rowWeights', B * K); // [B, K] gate times scaling
    let any = false;
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < K; k++) {
        const s = sites[k];
        w[b * K + k] = s ? this.gates[b * K + k] * s.scaling : 0;
        any ||= w[b * K + k] !== 0;
      }
    }
    if (any) this.backend.loraRows(y, x, sites.map((s) => s?.A ?? null), sites.map((s) => s?.B ?? null), w, B, first.inDim, first.outDim);
  }

  /**
   * y += g scaling B_k A_k x for the rows whose gate for k is g, one pair of products per gate value: rows
   * with it that are not one run are gathered (x into [R, in], y into [R, out]), updated by the same two
   * products a run gets, and y's rows put back. Every row gets the bits it gets in a run of its own: the
   * backends compute each row of a product alone.
   */
  private forwardGrouped(k: number, s: LoraSite, x: F32, y: F32, pass: PassInfo): void {
    const { T } = pass;
    const xin = this.dropped(k, s, x, pass);
    for (const { g, rows } of this.groups(k, pass.B)) {
      const R = rows.length * T;
      const alpha = g * s.scaling;
      const b0 = rows[0];
      if (rows[rows.length - 1] - b0 === rows.length - 1) { // consecutive rows: in place
        const o = b0 * T;
        const xa = this.scratch.f32('gxa', R * s.r); // [R, r]
        this.product(pass, xa, xin.subarray(o * s.inDim, (o + R) * s.inDim), s.A, R, s.r, s.inDim, { transB: true });
        this.product(pass, y.subarray(o * s.outDim, (o + R) * s.outDim), xa, s.B, R, s.outDim, s.r, { transB: true, alpha, beta: 1 });
        continue;
      }
      const xs = this.scratch.f32('gx', R * s.inDim); // [R, in] gathered
      const rowIn = T * s.inDim, rowOut = T * s.outDim;
      rows.forEach((b, i) => xs.set(xin.subarray(b * rowIn, (b + 1) * rowIn), i * rowIn));
      const xa = this.scratch.f32('gxa', R * s.r); // [R, r]
      this.product(pass, xa, xs, s.A, R, s.r, s.inDim, { transB: true });
      const ys = this.scratch.f32('gy', R * s.outDim); // [R, out] gathered, += alpha * xa B^T, put back
      rows.forEach((b, i) => ys.set(y.subarray(b * rowOut, (b + 1) * rowOut), i * rowOut));
      this.product(pass, ys, xa, s.B, R, s.outDim, s.r, { transB: true, alpha, beta: 1 });
      rows.forEach((b, i) => y.set(ys.subarray(i * rowOut, (i + 1) * rowOut), b * rowOut));
    }
  }

  /**
   * out [M, N] = a [M, K] @ b^T (alpha, beta as matmul's). In a generation pass (a prefill through a KV cache)
   * in blocks of at most ROW_BLOCK_NT rows (src/tensor/row-blocks.ts): the native backend computes each row of such a block by
   * itself (its streaming kernels; sgemm's blocking above it rounds a row differently in different M), so a
   * prompt's KV cache has the same bits prefilled in one pass or in chunks, which the server's prefix cache
   * relies on. Scoring and training keep one product.
   */
  private product(pass: PassInfo, out: F32, a: F32, b: F32, M: number, N: number, K: number, opts: MatmulOptions): void {
    if (!pass.generation) return this.backend.matmul(out, a, b, M, N, K, opts);
    matmulInRowBlocks(this.backend, ROW_BLOCK_NT, out, a, b, M, N, K, opts);
  }

  /** The rows (batch indices, ascending) of each non-zero gate value of adapter k, in order of first row. */
  private groups(k: number, B: number): Array<{ g: number; rows: number[] }> {
    const out: Array<{ g: number; rows: number[] }> = [];
    for (let b = 0; b < B; b++) {
      const g = this.gates[b * this.K + k];
      if (g === 0) continue;
      const grp = out.find((x) => x.g === g);
      if (grp) grp.rows.push(b);
      else out.push({ g, rows: [b] });
    }
    return out;
  }

  backward(site: LinearSite, x: F32, dy: F32, dx: F32, pass: PassInfo): void {
    const be = this.backend;
    const { T } = pass;
    for (let k = 0; k < this.K; k++) {
      const s = this.adapters[k].site(site.layer, site.module);
      if (!s) continue;
      const train = this.trainable[k];
      if (!train && !this.trackGateGrads && !this.needsInputGrad()) continue;
      const xin = this.dropped(k, s, x, pass);
      const mask = this.dropoutP(k, pass) > 0 ? this.scratch.f32(`mask.${k}`, pass.B * T * s.inDim) : null;
      const xa = this.scratch.f32(`xa.${k}.${s.layer}.${s.module}`, pass.B * T * s.r);
      const tmp = this.scratch.f32('tmp', pass.B * T * s.r);
      for (const run of this.runs(k, pass.B, this.trackGateGrads)) {
        const o = run.b0 * T, R = (run.b1 - run.b0) * T;
        const dyR = dy.subarray(o * s.outDim, (o + R) * s.outDim); // [R, out]
        const xaR = xa.subarray(o * s.r, (o + R) * s.r); // [R, r]
        const tmpR = tmp.subarray(0, R * s.r);
        be.matmul(tmpR, dyR, s.B, R, s.r, s.outDim); // [R, r] = dy B
        if (this.trackGateGrads) {
          // dL/dg[b, k] = scaling * <xa_b, (dy B)_b>
          for (let b = run.b0; b < run.b1; b++) {
            let d = 0;
            const off = (b - run.b0) * T * s.r;
            for (let i = 0; i < T * s.r; i++) d += xaR[off + i] * tmpR[off + i];
            this.gateGrads[b * this.K + k] += s.scaling * d;
          }
        }
        const gs = run.g * s.scaling;
        if (gs === 0) continue; // a zero gate contributes nothing else
        if (train) {
          // dB[out, r] += gs * dy^T xa
          be.matmul(s.gradB, dyR, xaR, s.outDim, s.r, R, { transA: true, alpha: gs, beta: 1 });
          // dA[r, in] += gs * (dy B)^T x_dropped
          be.matmul(s.gradA, tmpR, xin.subarray(o * s.inDim, (o + R) * s.inDim), s.r, s.inDim, R, { transA: true, alpha: gs, beta: 1 });
        }
        // dx[R, in] += gs * ((dy B) A) * mask
        const dxR = dx.subarray(o * s.inDim, (o + R) * s.inDim);
        if (mask) {
          const part = this.scratch.f32('dxPart', R * s.inDim);
          be.matmul(part, tmpR, s.A, R, s.inDim, s.r, { alpha: gs });
          be.mul(part, part, mask.subarray(o * s.inDim, (o + R) * s.inDim), R * s.inDim);
          be.add(dxR, dxR, part, R * s.inDim);
        } else {
          be.matmul(dxR, tmpR, s.A, R, s.inDim, s.r, { alpha: gs, beta: 1 });
        }
      }
    }
  }

  /** The gradient must flow to x through every adapter (the base below may feed trainable adapters). */
  private needsInputGrad(): boolean {
    return this.trainable.some(Boolean) || this.trackGateGrads;
  }

  private dropoutP(k: number, pass: PassInfo): number {
    return pass.dropout ? this.adapters[k].config.loraDropout : 0;
  }

  /** x, or dropout_k(x) in training (mask regenerated from the pass seed, so backward sees the same one). */
  private dropped(k: number, s: LoraSite, x: F32, pass: PassInfo): F32 {
    const p = this.dropoutP(k, pass);
    if (p <= 0) return x;
    const n = pass.B * pass.T * s.inDim;
    const mask = this.scratch.f32(`mask.${k}`, n);
    const slot = 16 + k * LINEAR_MODULES.length + LINEAR_MODULES.indexOf(s.module);
    this.backend.dropoutMask(mask, n, p, siteSeed(pass.seed, s.layer, slot), 0);
    const out = this.scratch.f32(`xdrop.${k}`, n);
    this.backend.mul(out, x, mask, n);
    return out;
  }

  /**
   * Maximal runs of consecutive rows with the same gate for adapter k: non-zero gates only, or every row
   * when gate gradients are tracked (dL/dg is not zero where g is).
   */
  private runs(k: number, B: number, includeZero = false): Array<{ b0: number; b1: number; g: number }> {
    const out: Array<{ b0: number; b1: number; g: number }> = [];
    let b = 0;
    while (b < B) {
      const g = this.gates[b * this.K + k];
      if (g === 0 && !includeZero) { b++; continue; }
      let e = b + 1;
      while (e < B && this.gates[e * this.K + k] === g) e++;
      out.push({ b0: b, b1: e, g });
      b = e;
    }
    return out;
  }

  private checkRows(pass: PassInfo): void {
    if (this.broadcast && pass.B !== this.B) {
      // useOnly(k) without a row count: widen the one gate row to this batch, [B, K]
      const g = new Float32Array(pass.B * this.K);
      for (let b = 0; b < pass.B; b++) g.set(this.broadcast, b * this.K);
      this.B = pass.B;
      this.gates = g;
      this.gateGrads = new Float64Array(pass.B * this.K);
    }
    if (pass.B !== this.B) {
      throw new LoraRouteError(`LoRA gates were set for ${this.B} rows but the batch has ${pass.B}: call route() / setGates() per batch`);
    }
  }
}
