/**
 * (a) Every case agrees with the float64 oracle (test/backend/oracle.ts, written independently of every
 * backend, the reference one included) within float rounding; (d) every case writes nothing outside its
 * output buffers' ranges, reads nothing outside any buffer's range, and leaves its inputs alone.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/tensor/backend.js';
import { allCases, caseSeed, type OpCase } from './cases.js';
import { Float64Oracle } from './oracle.js';
import { assertClose, assertExact, clone, maxAbs, Rng, runPadded } from './util.js';

function byOp(cases: OpCase[]): Map<string, OpCase[]> {
  const m = new Map<string, OpCase[]>();
  for (const c of cases) m.set(c.op, [...(m.get(c.op) ?? []), c]);
  return m;
}

export function agreementTests(backend: () => Backend, tol: number): void {
  const oracle = new Float64Oracle();
  const groups = byOp(allCases());

  describe('agrees with the float64 oracle', () => {
    for (const [op, cases] of groups) {
      describe(op, () => {
        for (const c of cases) {
          test(c.name, () => {
            const init = c.init(new Rng(caseSeed(c)));
            const want = clone(init);
            const wantRet = c.run(oracle, want);
            const { bufs: got, ret: gotRet } = runPadded(backend(), init, c.outputs, c.run, `${op} ${c.name}`);
            for (const k of c.outputs) {
              if (c.exact) assertExact(got[k], want[k], `${op} ${c.name}: ${k}`);
              else assertClose(got[k], want[k], tol, `${op} ${c.name}: ${k}`);
            }
            if (typeof wantRet === 'number') {
              assert.equal(typeof gotRet, 'number', `${op} returns a number`);
              const err = Math.abs((gotRet as number) - wantRet);
              assert.ok(err <= tol * Math.abs(wantRet), `${op} ${c.name}: returned ${String(gotRet)}, expected ${wantRet}`);
            }
          });
        }
      });
    }
  });

  describe('never touches memory outside its buffers, nor its inputs', () => {
    for (const [op, cases] of groups) {
      test(`${op} (${cases.length} configurations)`, () => {
        for (const c of cases) {
          // runPadded asserts on the padding and the inputs; outputs must at least be finite
          const { bufs } = runPadded(backend(), c.init(new Rng(caseSeed(c))), c.outputs, c.run, `${op} ${c.name}`);
          for (const k of c.outputs) assert.ok(Number.isFinite(maxAbs(bufs[k])), `${op} ${c.name}: ${k} has a non-finite value`);
        }
      });
    }
  });
}
