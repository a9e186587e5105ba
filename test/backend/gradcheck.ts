/**
 * (b) Backward ops checked against finite differences of the forward ops, on the backend under test alone.
 * The scalar loss is L = sum(out * R) for a fixed random R, summed in float64; each input is perturbed by
 * ±h in float32 and the difference quotient uses the perturbation actually stored (so float32 rounding of
 * x ± h does not count as an error). Two checks per input: every coordinate (or a sample of them) against
 * the tensor's largest gradient, and a directional derivative along a random direction.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, MatmulOptions } from '../../src/tensor/backend.js';
import { padMask } from './cases.js';
import { dot64, maxAbs, Rng } from './util.js';

const H = 1e-3;
const MAX_COORDS = 400;

/**
 * Compares `grad` (dL/dx from a backward op) with finite differences of `loss` (which reads x, so x is
 * perturbed in place and restored).
 */
export function checkGrad(what: string, x: Float32Array, grad: ArrayLike<number>, loss: () => number, tol: number, rng: Rng): void {
  assert.equal(grad.length, x.length, `${what}: gradient length`);
  const n = x.length;
  const coords: number[] = [];
  if (n <= MAX_COORDS) for (let i = 0; i < n; i++) coords.push(i);
  else for (let i = 0; i < MAX_COORDS; i++) coords.push(rng.int(n));

  const fds: number[] = [];
  for (const i of coords) {
    const x0 = x[i];
    x[i] = x0 + H;
    const xp = x[i];
    const lp = loss();
    x[i] = x0 - H;
    const xm = x[i];
    const lm = loss();
    x[i] = x0;
    fds.push((lp - lm) / (xp - xm));
  }
  const scale = Math.max(maxAbs(grad), maxAbs(fds), 1e-6);
  coords.forEach((i, j) => {
    const err = Math.abs(fds[j] - grad[i]);
    if (!(err <= tol * scale)) {
      assert.fail(`${what}: dL/dx[${i}] is ${grad[i]}, finite differences give ${fds[j]} (error ${err}, allowed ${tol * scale})`);
    }
  });

  // directional derivative: L(x + h d) - L(x - h d) ≈ grad · (x+ - x-)
  const x0 = x.slice();
  const dir = rng.rand(n);
  for (let i = 0; i < n; i++) x[i] = x0[i] + H * dir[i];
  const xp = x.slice();
  const lp = loss();
  for (let i = 0; i < n; i++) x[i] = x0[i] - H * dir[i];
  const lm = loss();
  let predicted = 0;
  let mag = 0;
  for (let i = 0; i < n; i++) {
    const d = xp[i] - x[i];
    predicted += grad[i] * d;
    mag += Math.abs(grad[i] * d);
  }
  x.set(x0);
  const err = Math.abs(lp - lm - predicted);
  assert.ok(
    err <= tol * Math.max(mag, 1e-9),
    `${what}: along a random direction L changes by ${lp - lm}, the gradient predicts ${predicted} (error ${err})`,
  );
}

function matmulGradTest(be: () => Backend, tol: number, transA: boolean, transB: boolean): void {
  test(`matmul ${transA ? 'A^T' : 'A'} ${transB ? 'B^T' : 'B'} alpha=0.7: dA and dB`, () => {
    const b = be();
    const [M, N, K, alpha] = [3, 4, 5, 0.7];
    const rng = new Rng(101 + (transA ? 2 : 0) + (transB ? 1 : 0));
    const A = rng.randn(M * K);
    const Bm = rng.randn(K * N);
    const R = rng.randn(M * N);
    const out = new Float32Array(M * N);
    const loss = (): number => {
      b.matmul(out, A, Bm, M, N, K, { transA, transB, alpha });
      return dot64(out, R);
    };
    // dop(A) = alpha R op(B)^T, dop(B) = alpha op(A)^T R, written in each operand's storage layout
    const dA = new Float32Array(M * K);
    const dB = new Float32Array(K * N);
    const o = (t: MatmulOptions): MatmulOptions => ({ ...t, alpha });
    if (!transA) b.matmul(dA, R, Bm, M, K, N, o({ transB: !transB }));
    else b.matmul(dA, Bm, R, K, M, N, o({ transA: transB, transB: true }));
    if (!transB) b.matmul(dB, A, R, K, N, M, o({ transA: !transA }));
    else b.matmul(dB, R, A, N, K, M, o({ transA: true, transB: transA }));
    checkGrad('dA', A, dA, loss, tol, rng);
    checkGrad('dB', Bm, dB, loss, tol, rng);
  });
}

export function gradientTests(be: () => Backend, tol: number): void {
  describe('backward ops match finite differences', () => {
    for (const transA of [false, true]) for (const transB of [false, true]) matmulGradTest(be, tol, transA, transB);

    test('layernormBackward: dx, dweight, dbias', () => {
      const b = be();
      const [N, C, eps] = [3, 7, 1e-5];
      const rng = new Rng(201);
      const x = rng.randn(N * C, 1.5);
      const w = rng.randn(C);
      const bias = rng.randn(C);
      const R = rng.randn(N * C);
      const [out, mean, rstd] = [new Float32Array(N * C), new Float32Array(N), new Float32Array(N)];
      const loss = (): number => {
        b.layernormForward(out, mean, rstd, x, w, bias, N, C, eps);
        return dot64(out, R);
      };
      loss();
      const [dx, dw, db] = [new Float32Array(N * C), new Float32Array(C), new Float32Array(C)];
      b.layernormBackward(dx, dw, db, R, x, w, mean, rstd, N, C, false);
      checkGrad('dx', x, dx, loss, tol, rng);
      checkGrad('dweight', w, dw, loss, tol, rng);
      checkGrad('dbias', bias, db, loss, tol, rng);
    });

    test('geluBackward', () => {
      const b = be();
      const n = 31;
      const rng = new Rng(301);
      const x = rng.rand(n, -4, 4);
      const R = rng.randn(n);
      const out = new Float32Array(n);
      const dx = new Float32Array(n);
      b.geluBackward(dx, x, R, n);
      checkGrad('dx', x, dx, () => {
        b.geluForward(out, x, n);
        return dot64(out, R);
      }, tol, rng);
    });

    for (const [masked, p] of [[false, 0], [true, 0], [true, 0.3]] as const) {
      const label = `${masked ? 'key mask with a fully padded row' : 'no mask'}${p ? `, attention dropout ${p}` : ''}`;
      test(`attentionBackward: dqkv, ${label}`, () => {
        const b = be();
        const [B, T, C, NH, seed] = [3, 4, 8, 2, 4321];
        const rng = new Rng(401 + (masked ? 1 : 0) + (p ? 2 : 0));
        const qkv = rng.randn(B * T * 3 * C);
        const mask = masked ? padMask(B, T) : null;
        const R = rng.randn(B * T * C);
        const out = new Float32Array(B * T * C);
        const att = new Float32Array(B * NH * T * T);
        b.attentionForward(out, att, qkv, mask, B, T, C, NH, p, seed);
        const dqkv = new Float32Array(B * T * 3 * C);
        b.attentionBackward(dqkv, R, qkv, att, B, T, C, NH, p, seed);
        const scratch = new Float32Array(att.length);
        checkGrad('dqkv', qkv, dqkv, () => {
          b.attentionForward(out, scratch, qkv, mask, B, T, C, NH, p, seed);
          return dot64(out, R);
        }, tol, rng);
      });
    }

    test('crossEntropyBackward (with ignored rows and per-row dloss)', () => {
      const b = be();
      const [N, V] = [6, 5];
      const rng = new Rng(501);
      const logits = rng.randn(N * V, 2);
      const targets = rng.ints(N, V);
      targets[2] = -100;
      targets[5] = -100;
      const dloss = rng.rand(N, -2, 2);
      const losses = new Float32Array(N);
      const dlogits = new Float32Array(N * V);
      b.crossEntropyBackward(dlogits, logits, targets, dloss, N, V);
      checkGrad('dlogits', logits, dlogits, () => {
        b.crossEntropyForward(losses, logits, targets, N, V);
        return dot64(losses, dloss);
      }, tol, rng);
    });

    test('embeddingBackward: dwte, dwpe (repeated ids)', () => {
      const b = be();
      const [BT, C, V, P] = [7, 3, 4, 5];
      const rng = new Rng(601);
      const wte = rng.randn(V * C);
      const wpe = rng.randn(P * C);
      const ids = Int32Array.from([1, 3, 1, 0, 1, 3, 2]);
      const positions = Int32Array.from([0, 1, 2, 3, 0, 1, 4]);
      const R = rng.randn(BT * C);
      const out = new Float32Array(BT * C);
      const loss = (): number => {
        b.embeddingForward(out, ids, positions, wte, wpe, BT, C);
        return dot64(out, R);
      };
      const [dwte, dwpe] = [new Float32Array(V * C), new Float32Array(P * C)];
      b.embeddingBackward(dwte, dwpe, R, ids, positions, BT, C);
      checkGrad('dwte', wte, dwte, loss, tol, rng);
      checkGrad('dwpe', wpe, dwpe, loss, tol, rng);
    });

    test('biasBackward (gradient of addBias)', () => {
      const b = be();
      const [M, N] = [5, 3];
      const rng = new Rng(701);
      const x = rng.randn(M * N);
      const bias = rng.randn(N);
      const R = rng.randn(M * N);
      const out = new Float32Array(M * N);
      const dbias = new Float32Array(N);
      b.biasBackward(dbias, R, M, N, false);
      checkGrad('dbias', bias, dbias, () => {
        out.set(x);
        b.addBias(out, bias, M, N);
        return dot64(out, R);
      }, tol, rng);
    });

    test('mul as dropout backward: dx = dout * mask', () => {
      const b = be();
      const n = 23;
      const rng = new Rng(801);
      const x = rng.randn(n);
      const mask = new Float32Array(n);
      b.dropoutMask(mask, n, 0.3, 99, 0);
      const R = rng.randn(n);
      const out = new Float32Array(n);
      const dx = new Float32Array(n);
      b.mul(dx, R, mask, n);
      checkGrad('dx', x, dx, () => {
        b.mul(out, x, mask, n);
        return dot64(out, R);
      }, tol, rng);
    });
  });
}
