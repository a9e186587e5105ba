import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrate, cdf, checkCalibration, normalise, weightedSum, DEFAULT_WEIGHTS } from '../../src/complexity/calibration.js';
import { CALIBRATION } from '../../src/complexity/calibration.generated.js';
import { FEATURE_NAMES } from '../../src/complexity/features.js';
import { SYNTAX_MODEL } from '../../src/complexity/syntax-model.generated.js';
import { SYNTAX_INPUT_NAMES } from '../../src/complexity/syntax.js';
import { stratify } from '../../src/complexity/tiers.js';
import { LoraRouteError } from '../../src/errors.js';

test('cdf is 0 below the first knot, 1 at and above the last, linear and monotone in between', () => {
  const knots = [0, 1, 2, 4];
  assert.equal(cdf(-1, knots), 0);
  assert.equal(cdf(0, knots), 0);
  assert.equal(cdf(0.5, knots), 0.5 / 3);
  assert.equal(cdf(3, knots), 2.5 / 3);
  assert.equal(cdf(4, knots), 1);
  assert.equal(cdf(9, knots), 1);
  // ties: the right-continuous CDF jumps past tied knots
  assert.equal(cdf(1, [0, 1, 1, 1, 2]), 3 / 4);
  let prev = -1;
  for (let s = -0.5; s < 4.5; s += 0.01) {
    const v = cdf(s, knots);
    assert.ok(v >= prev);
    prev = v;
  }
});

test('calibrate: lo/hi from percentiles, vector in [0, 1], default thresholds give 30/40/30 on the calibration set', () => {
  // synthetic rows: features are noisy functions of a hidden difficulty
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const rows = Array.from({ length: 5000 }, () => {
    const d = rand();
    return Float64Array.from(FEATURE_NAMES, (_, i) => (i % 3 === 0 ? Math.round(20 * d + 5 * rand()) : d + 0.3 * rand()));
  });
  const cal = calibrate(rows);
  checkCalibration(cal);
  assert.equal(cal.knots.length, 201);
  assert.deepEqual(cal.weights, FEATURE_NAMES.map((f) => DEFAULT_WEIGHTS[f]));
  const counts = [0, 0, 0];
  for (const row of rows) {
    const v = normalise(row, cal);
    for (const x of v) assert.ok(x >= 0 && x <= 1);
    counts[stratify(cdf(weightedSum(v, cal), cal.knots))]!++;
  }
  assert.ok(Math.abs(counts[0]! - 1500) <= 10, String(counts));
  assert.ok(Math.abs(counts[1]! - 2000) <= 10, String(counts));
  assert.ok(Math.abs(counts[2]! - 1500) <= 10, String(counts));
});

test('normalise clamps and applies log1p to counts', () => {
  const cal = { ...CALIBRATION, lo: FEATURE_NAMES.map(() => 0), hi: FEATURE_NAMES.map(() => Math.log1p(9)) };
  const raw = FEATURE_NAMES.map(() => 9);
  const v = normalise(raw, cal);
  FEATURE_NAMES.forEach((_, i) => {
    if (cal.transforms[i] === 'log1p') assert.ok(Math.abs(v[i]! - 1) < 1e-6);
    else assert.equal(v[i], 1); // 9 / 2.30 clamps to 1
  });
  assert.ok(normalise(FEATURE_NAMES.map(() => -5), cal).every((x) => x === 0));
});

test('the shipped calibration matches FEATURE_NAMES and was made on the Alpaca train split', () => {
  checkCalibration(CALIBRATION);
  assert.equal(CALIBRATION.source.split, 'train');
  assert.equal(CALIBRATION.source.rows, 46800);
  assert.throws(() => checkCalibration({ ...CALIBRATION, features: CALIBRATION.features.slice(1) }), LoraRouteError);
  assert.throws(() => checkCalibration({ ...CALIBRATION, knots: [1, 0] }), /non-decreasing/);
});

test('the shipped syntax model has one coefficient per input, in the same order', () => {
  assert.deepEqual([...SYNTAX_MODEL.inputs], [...SYNTAX_INPUT_NAMES]);
  for (const key of ['depth', 'clauses', 'subordinate'] as const) {
    assert.equal(SYNTAX_MODEL[key].length, SYNTAX_INPUT_NAMES.length);
    assert.ok(SYNTAX_MODEL.fit[key].r_test > 0.8, `${key} r_test ${SYNTAX_MODEL.fit[key].r_test}`);
  }
});
