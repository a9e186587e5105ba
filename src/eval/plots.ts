import { check } from '../errors.js';

/** Small hand-written SVG charts (no dependencies): line plot, heatmap, grouped bar chart. */

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const FONT = 'font-family="sans-serif"';

/** Escapes text for SVG/XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/**
 * Rounded "nice" tick values (steps of 1, 2 or 5 × 10^n), about `count` of them: those inside [lo, hi], or
 * with `outer` the smallest run of ticks that encloses [lo, hi] (for an axis domain).
 */
export function niceTicks(lo: number, hi: number, count = 5, outer = false): number[] {
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const r = raw / mag;
  // Same thresholds as d3's ticks: the step nearest (geometrically) to the raw step.
  const step = (r >= Math.sqrt(50) ? 10 : r >= Math.sqrt(10) ? 5 : r >= Math.sqrt(2) ? 2 : 1) * mag;
  const ticks: number[] = [];
  const first = outer ? Math.floor(lo / step + 1e-9) : Math.ceil(lo / step - 1e-9);
  const last = outer ? Math.ceil(hi / step - 1e-9) : Math.floor(hi / step + 1e-9);
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)) || 0);
  return ticks;
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(6)));
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${FONT} ${attrs}>${escapeXml(s)}</text>`;
}

function svgOpen(width: number, height: number, title?: string): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (title) out.push(text(width / 2, 22, title, 'font-size="15" text-anchor="middle" font-weight="bold"'));
  return out;
}

export interface PlotSeries {
  name: string;
  /** [x, y] points; non-finite y values are skipped (they break the line). */
  points: Array<[number, number]>;
}

export interface LinePlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

/** Line plot of one or more series sharing axes, with a legend. */
export function linePlotSvg(series: PlotSeries[], opts: LinePlotOptions = {}): string {
  const W = opts.width ?? 720;
  const Hh = opts.height ?? 420;
  const m = { l: 70, r: 170, t: 40, b: 55 };
  const pw = W - m.l - m.r;
  const ph = Hh - m.t - m.b;
  const pts = series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const out = svgOpen(W, Hh, opts.title);
  if (pts.length === 0) {
    out.push(text(W / 2, Hh / 2, 'no data', 'font-size="14" text-anchor="middle" fill="#666"'), '</svg>');
    return out.join('\n');
  }
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const xt = niceTicks(Math.min(...xs), Math.max(...xs), 6);
  const yt = niceTicks(Math.min(...ys), Math.max(...ys), 5, true);
  const x0 = Math.min(xt[0], ...xs);
  const x1 = Math.max(xt[xt.length - 1], ...xs);
  const y0 = yt[0];
  const y1 = yt[yt.length - 1];
  const sx = (x: number): number => m.l + (x1 > x0 ? ((x - x0) / (x1 - x0)) * pw : pw / 2);
  const sy = (y: number): number => m.t + ph - (y1 > y0 ? ((y - y0) / (y1 - y0)) * ph : ph / 2);
  for (const t of yt) {
    out.push(`<line x1="${m.l}" y1="${sy(t).toFixed(1)}" x2="${m.l + pw}" y2="${sy(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(text(m.l - 6, sy(t) + 4, fmtTick(t), 'font-size="11" text-anchor="end"'));
  }
  for (const t of xt) {
    out.push(`<line x1="${sx(t).toFixed(1)}" y1="${m.t}" x2="${sx(t).toFixed(1)}" y2="${m.t + ph}" stroke="#f0f0f0"/>`);
    out.push(text(sx(t), m.t + ph + 16, fmtTick(t), 'font-size="11" text-anchor="middle"'));
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    // Split the line at non-finite points.
    let run: string[] = [];
    const flush = (): void => {
      if (run.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${run.join(' ')}"/>`);
      else if (run.length === 1) {
        const [cx, cy] = run[0].split(',');
        out.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
      }
      run = [];
    };
    for (const [x, y] of s.points) {
      if (Number.isFinite(x) && Number.isFinite(y)) run.push(`${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
      else flush();
    }
    flush();
    const ly = m.t + 10 + i * 18;
    out.push(`<line x1="${m.l + pw + 12}" y1="${ly}" x2="${m.l + pw + 32}" y2="${ly}" stroke="${color}" stroke-width="2.5"/>`);
    out.push(text(m.l + pw + 37, ly + 4, s.name, 'font-size="11"'));
  });
  if (opts.xLabel) out.push(text(m.l + pw / 2, Hh - 12, opts.xLabel, 'font-size="12" text-anchor="middle"'));
  if (opts.yLabel) out.push(text(16, m.t + ph / 2, opts.yLabel, `font-size="12" text-anchor="middle" transform="rotate(-90 16 ${(m.t + ph / 2).toFixed(1)})"`));
  out.push('</svg>');
  return out.join('\n');
}

export interface HeatmapOptions {
  title?: string;
  rowLabels?: string[];
  colLabels?: string[];
  xLabel?: string; // default "predicted"
  yLabel?: string; // default "true"
  cell?: number; // cell size in px, default 70
}

/**
 * Confusion-matrix heatmap: each cell shows its count and its share of the row; colour = row share
 * (so a rare true class is as readable as a common one).
 */
export function heatmapSvg(matrix: number[][], opts: HeatmapOptions = {}): string {
  const R = matrix.length;
  check(R > 0, 'heatmap: empty matrix');
  const C = matrix[0].length;
  check(matrix.every((r) => r.length === C), 'heatmap: rows of different lengths');
  const cell = opts.cell ?? 70;
  const m = { l: 110, t: 70, r: 20, b: 20 };
  const W = m.l + C * cell + m.r;
  const Hh = m.t + R * cell + m.b;
  const rowLabels = opts.rowLabels ?? matrix.map((_, i) => String(i));
  const colLabels = opts.colLabels ?? matrix[0].map((_, j) => String(j));
  const out = svgOpen(W, Hh, opts.title);
  out.push(text(m.l + (C * cell) / 2, m.t - 30, opts.xLabel ?? 'predicted', 'font-size="12" text-anchor="middle" font-style="italic"'));
  out.push(text(16, m.t + (R * cell) / 2, opts.yLabel ?? 'true', `font-size="12" text-anchor="middle" font-style="italic" transform="rotate(-90 16 ${(m.t + (R * cell) / 2).toFixed(1)})"`));
  for (let j = 0; j < C; j++) out.push(text(m.l + j * cell + cell / 2, m.t - 8, colLabels[j] ?? String(j), 'font-size="11" text-anchor="middle"'));
  for (let i = 0; i < R; i++) {
    const rowSum = matrix[i].reduce((a, b) => a + b, 0);
    out.push(text(m.l - 8, m.t + i * cell + cell / 2 + 4, rowLabels[i] ?? String(i), 'font-size="11" text-anchor="end"'));
    for (let j = 0; j < C; j++) {
      const v = matrix[i][j];
      const share = rowSum > 0 ? v / rowSum : 0;
      // White → dark blue by row share.
      const r = Math.round(255 - share * (255 - 8));
      const g = Math.round(255 - share * (255 - 48));
      const b = Math.round(255 - share * (255 - 107));
      const x = m.l + j * cell;
      const y = m.t + i * cell;
      out.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="rgb(${r},${g},${b})" stroke="#999"/>`);
      const fg = share > 0.5 ? 'white' : 'black';
      out.push(text(x + cell / 2, y + cell / 2, String(v), `font-size="14" text-anchor="middle" fill="${fg}"`));
      out.push(text(x + cell / 2, y + cell / 2 + 16, `${(share * 100).toFixed(0)}%`, `font-size="10" text-anchor="middle" fill="${fg}"`));
    }
  }
  out.push('</svg>');
  return out.join('\n');
}

export interface BarSeries {
  name: string;
  values: number[];
}

export interface BarChartOptions {
  title?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Format of the value printed above each bar. Default: 3 significant digits. */
  format?: (v: number) => string;
}

/** Grouped bar chart: one group per category, one bar per series (a single series is a plain bar chart). */
export function barChartSvg(categories: string[], series: BarSeries[], opts: BarChartOptions = {}): string {
  check(categories.length > 0 && series.length > 0, 'bar chart: needs at least one category and one series');
  for (const s of series) check(s.values.length === categories.length, `bar chart: series "${s.name}" has ${s.values.length} values for ${categories.length} categories`);
  const fmt = opts.format ?? ((v: number) => String(Number(v.toPrecision(3))));
  const legend = series.length > 1;
  const m = { l: 65, r: legend ? 150 : 20, t: 40, b: 45 };
  const W = opts.width ?? Math.max(360, m.l + m.r + categories.length * (series.length * 34 + 30));
  const Hh = opts.height ?? 340;
  const pw = W - m.l - m.r;
  const ph = Hh - m.t - m.b;
  const vals = series.flatMap((s) => s.values).filter(Number.isFinite);
  const yt = niceTicks(Math.min(0, ...vals), Math.max(0, ...vals), 5, true);
  const y0 = yt[0];
  const y1 = yt[yt.length - 1];
  const sy = (y: number): number => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  const out = svgOpen(W, Hh, opts.title);
  for (const t of yt) {
    out.push(`<line x1="${m.l}" y1="${sy(t).toFixed(1)}" x2="${m.l + pw}" y2="${sy(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(text(m.l - 6, sy(t) + 4, fmtTick(t), 'font-size="11" text-anchor="end"'));
  }
  const groupW = pw / categories.length;
  const barW = Math.min(40, (groupW * 0.8) / series.length);
  categories.forEach((c, ci) => {
    const gx = m.l + ci * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[ci];
      if (!Number.isFinite(v)) return;
      const x = gx + si * barW;
      const top = sy(Math.max(v, 0));
      const h = Math.abs(sy(v) - sy(0));
      out.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"/>`);
      out.push(text(x + (barW - 2) / 2, top - 4, fmt(v), 'font-size="10" text-anchor="middle"'));
    });
    out.push(text(m.l + ci * groupW + groupW / 2, m.t + ph + 18, c, 'font-size="12" text-anchor="middle"'));
  });
  out.push(`<line x1="${m.l}" y1="${sy(0).toFixed(1)}" x2="${m.l + pw}" y2="${sy(0).toFixed(1)}" stroke="#333"/>`);
  if (legend) {
    series.forEach((s, i) => {
      const ly = m.t + 10 + i * 18;
      out.push(`<rect x="${m.l + pw + 12}" y="${ly - 8}" width="14" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`);
      out.push(text(m.l + pw + 32, ly + 2, s.name, 'font-size="11"'));
    });
  }
  if (opts.yLabel) out.push(text(16, m.t + ph / 2, opts.yLabel, `font-size="12" text-anchor="middle" transform="rotate(-90 16 ${(m.t + ph / 2).toFixed(1)})"`));
  out.push('</svg>');
  return out.join('\n');
}

/** Parses a metrics JSONL text (one JSON object a line; blank lines skipped). Bad lines throw, naming the line. */
export function parseMetricsJsonl(textIn: string, source = 'metrics JSONL'): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const lines = textIn.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      // A run killed mid-write leaves a truncated last line; tolerate only that one.
      if (i === lines.length - 1 || lines.slice(i + 1).every((l) => !l.trim())) break;
      check(false, `${source}: line ${i + 1} is not valid JSON (${(e as Error).message})`);
    }
    check(v !== null && typeof v === 'object' && !Array.isArray(v), `${source}: line ${i + 1} is not a JSON object`);
    out.push(v as Record<string, unknown>);
  }
  return out;
}

export interface MetricsSeriesOptions {
  /** Key of the x value. Default "step"; a record without it uses its index. */
  x?: string;
  /** Keys to plot. Default: every numeric key whose name contains "loss". */
  keys?: string[];
  /** Key that splits records into separate series (e.g. the training phase). Default "phase"; absent = no split. */
  groupBy?: string;
}

/** Turns metrics records into plot series: one per (group, key), named "group/key" (or "key" without a group). */
export function seriesFromMetrics(records: Array<Record<string, unknown>>, opts: MetricsSeriesOptions = {}): PlotSeries[] {
  const xKey = opts.x ?? 'step';
  const groupKey = opts.groupBy ?? 'phase';
  const keys = opts.keys ?? [...new Set(records.flatMap((r) => Object.keys(r).filter((k) => k.includes('loss') && typeof r[k] === 'number')))];
  const map = new Map<string, PlotSeries>();
  records.forEach((r, idx) => {
    const xv = r[xKey];
    if (xv === undefined && opts.x === undefined && xKey === 'step' && records.some((q) => typeof q.step === 'number')) return; // events without a step
    const x = typeof xv === 'number' ? xv : idx;
    const g = r[groupKey];
    for (const k of keys) {
      const y = r[k];
      if (typeof y !== 'number') continue;
      const name = g === undefined || g === null ? k : `${String(g)}/${k}`;
      let s = map.get(name);
      if (!s) {
        s = { name, points: [] };
        map.set(name, s);
      }
      s.points.push([x, y]);
    }
  });
  return [...map.values()];
}
