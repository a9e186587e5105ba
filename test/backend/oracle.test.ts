/**
 * The oracle the shared suite compares backends with is itself checked: its backward ops against finite
 * differences of its forward ops (the same checks every backend passes), so a wrong formula in the oracle
 * cannot hide behind a backend that shares it.
 */
import { describe } from 'node:test';
import { gradientTests } from './gradcheck.js';
import { Float64Oracle } from './oracle.js';

describe('float64 oracle', () => {
  const oracle = new Float64Oracle();
  gradientTests(() => oracle, 1e-2);
});
