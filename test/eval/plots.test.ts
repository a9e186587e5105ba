import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChartSvg, escapeXml, heatmapSvg, linePlotSvg, niceTicks, parseMetricsJsonl, seriesFromMetrics } from '../../src/eval/plots.js';

test('nice ticks', () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(2.13, 2.97, 4), [2.2, 2.4, 2.6, 2.8]);
  assert.deepEqual(niceTicks(0, 1000, 5), [0, 200, 400, 600, 800, 1000]);
  assert.deepEqual(niceTicks(0.3, 0.81, 5, true), [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]); // outer: encloses the data
  assert.ok(niceTicks(3, 3).length >= 2); // degenerate range still gets an axis
});

test('SVG text is escaped', () => {
  assert.equal(escapeXml('a<b & "c"'), 'a&lt;b &amp; &quot;c&quot;');
  const svg = linePlotSvg([{ name: 'x<y', points: [[0, 1], [1, 2]] }], { title: 'A & B' });
  assert.match(svg, />x&lt;y</);
  assert.match(svg, />A &amp; B</);
  assert.doesNotMatch(svg, /x<y/);
});

test('line plot breaks lines at non-finite values; empty data says so', () => {
  const svg = linePlotSvg([{ name: 's', points: [[0, 1], [1, 2], [2, NaN], [3, 1], [4, 0.5]] }]);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 2);
  assert.match(linePlotSvg([]), /no data/);
});

test('heatmap shows counts and row shares; bar chart one rect per value', () => {
  const svg = heatmapSvg([[3, 1], [0, 4]], { rowLabels: ['a', 'b'], colLabels: ['a', 'b'] });
  assert.match(svg, />3</);
  assert.match(svg, />75%</);
  assert.match(svg, />100%</);
  const bars = barChartSvg(['e0', 'e1', 'e2'], [{ name: 'learned', values: [0.5, 0.25, 0.25] }, { name: 'tier', values: [0.2, 0.3, 0.5] }]);
  assert.equal((bars.match(/<rect x="[\d.]+" y="[\d.]+" width="\d+\.\d" height="[\d.]+" fill="#/g) ?? []).length, 6); // legend swatches are width 14
  assert.match(bars, />learned</);
  assert.throws(() => barChartSvg(['a'], [{ name: 's', values: [1, 2] }]), /2 values for 1 categories/);
});

test('metrics JSONL: parse, group by phase, errors name the line', () => {
  const recs = parseMetricsJsonl('{"phase":"a","step":1,"train_loss":2}\n\n{"phase":"b","step":1,"val_loss":1.5,"lr":0.1}\n');
  assert.equal(recs.length, 2);
  const s = seriesFromMetrics(recs);
  assert.deepEqual(s, [{ name: 'a/train_loss', points: [[1, 2]] }, { name: 'b/val_loss', points: [[1, 1.5]] }]);
  assert.deepEqual(seriesFromMetrics(recs, { keys: ['lr'], groupBy: 'none' }), [{ name: 'lr', points: [[1, 0.1]] }]);
  assert.throws(() => parseMetricsJsonl('{"a":1}\nnot json\n{"a":2}\n', 'm.jsonl'), /m\.jsonl: line 2 is not valid JSON/);
  assert.throws(() => parseMetricsJsonl('[1]\n'), /line 1 is not a JSON object/);
});
