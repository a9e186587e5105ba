/**
 * The report's plot as a standalone SVG, two panels: the score histogram (uniform on the calibration
 * split by construction) and the histogram of the weighted sum before the CDF (its real shape); bars
 * coloured by tier, thresholds dashed.
 */
import type { StratifyReport, SplitKey } from './report.js';

const TIER_COLOURS = ['#4e9a06', '#c4a000', '#cc0000', '#3465a4', '#75507b', '#ce5c00'];
const W = 720;
const PANEL_H = 300;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmt(v: number): string {
  return Math.abs(v) >= 10 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(2);
}

interface Panel {
  top: number;
  title: string;
  xLabel: string;
  edges: number[];
  counts: number[];
  thresholds: number[];
}

function panel(p: Panel): string[] {
  const m = { left: 60, right: 20, top: p.top + 30, bottom: 44 };
  const pw = W - m.left - m.right;
  const ph = PANEL_H - 30 - m.bottom;
  const x0 = p.edges[0]!;
  const x1 = p.edges[p.edges.length - 1]!;
  const maxCount = Math.max(1, ...p.counts);
  const mag = 10 ** Math.floor(Math.log10(maxCount));
  const yMax = [1, 2, 5, 10].map((f) => f * mag).find((v) => v >= maxCount) ?? maxCount;
  const x = (v: number): number => m.left + ((v - x0) / (x1 - x0)) * pw;
  const y = (c: number): number => m.top + ph - (c / yMax) * ph;
  const tierOf = (v: number): number => p.thresholds.filter((t) => v > t).length;
  const out: string[] = [];
  out.push(`<text x="${W / 2}" y="${p.top + 18}" text-anchor="middle" font-size="14">${esc(p.title)}</text>`);
  for (let i = 0; i < p.counts.length; i++) {
    const a = x(p.edges[i]!);
    const b = x(p.edges[i + 1]!);
    const c = p.counts[i]!;
    const fill = TIER_COLOURS[tierOf((p.edges[i]! + p.edges[i + 1]!) / 2) % TIER_COLOURS.length];
    out.push(`<rect x="${a.toFixed(1)}" y="${y(c).toFixed(1)}" width="${Math.max(0, b - a - 1).toFixed(1)}" height="${(y(0) - y(c)).toFixed(1)}" fill="${fill}"/>`);
  }
  out.push(`<line x1="${m.left}" y1="${y(0)}" x2="${m.left + pw}" y2="${y(0)}" stroke="black"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${y(0)}" stroke="black"/>`);
  for (let i = 0; i <= 10; i++) {
    const v = x0 + ((x1 - x0) * i) / 10;
    out.push(`<line x1="${x(v)}" y1="${y(0)}" x2="${x(v)}" y2="${y(0) + 5}" stroke="black"/>`);
    out.push(`<text x="${x(v)}" y="${y(0) + 18}" text-anchor="middle">${fmt(v)}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const c = (yMax * i) / 4;
    out.push(`<line x1="${m.left - 5}" y1="${y(c)}" x2="${m.left}" y2="${y(c)}" stroke="black"/>`);
    out.push(`<text x="${m.left - 8}" y="${y(c) + 4}" text-anchor="end">${Math.round(c)}</text>`);
  }
  out.push(`<text x="${m.left + pw / 2}" y="${y(0) + 36}" text-anchor="middle">${esc(p.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">records per bin</text>`);
  for (const t of p.thresholds) {
    out.push(`<line x1="${x(t)}" y1="${m.top}" x2="${x(t)}" y2="${y(0)}" stroke="black" stroke-dasharray="5 4"/>`);
    out.push(`<text x="${x(t) + 4}" y="${m.top + 12}">${t.toFixed(3)}</text>`);
  }
  return out;
}

export function histogramSvg(r: StratifyReport, split: SplitKey = 'all'): string {
  const counts = r.histogram.counts[split];
  const legendH = 30;
  const H = legendH + 2 * PANEL_H;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  r.tiers.forEach((name, t) => {
    const lx = 70 + t * 170;
    out.push(`<rect x="${lx}" y="10" width="12" height="12" fill="${TIER_COLOURS[t % TIER_COLOURS.length]}"/>`);
    out.push(`<text x="${lx + 16}" y="20">${esc(name)}: ${r.counts[split][t]}</text>`);
  });
  out.push(
    ...panel({
      top: legendH,
      title: `Complexity score, ${split} (${counts.reduce((s, v) => s + v, 0)} records)`,
      xLabel: 'score (share of the calibration split scoring no higher)',
      edges: r.histogram.edges,
      counts,
      thresholds: r.thresholds,
    }),
    ...panel({
      top: legendH + PANEL_H,
      title: 'Weighted sum of normalised features (before the CDF), all records',
      xLabel: 'weighted sum',
      edges: r.weightedSum.edges,
      counts: r.weightedSum.counts,
      thresholds: r.weightedSum.thresholds,
    }),
  );
  out.push('</svg>');
  return out.join('\n') + '\n';
}
