// PNG line charts for reports (GPT-3 Fig. 1.2-style "accuracy vs examples in context (K)" per model size, audit
// curves): a framed plot area with grid lines and tick labels, linear or log10 x axis, one colour and marker shape per
// series, a legend to the right, the title on top and the axis labels, all text in the 5×8 bitmap font.
//
// A log axis cannot show x = 0 (zero-shot): plot it at a stand-in position and label it, e.g. K = 0 at x = 0.5 with
// xTicks [{ value: 0.5, label: '0' }, { value: 1, label: '1' }, { value: 10, label: '10' }, …].

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { GLYPH_HEIGHT, textWidth } from './bitmap-font.js';
import { hexColour, Raster, type MarkerShape, type Rect, type Rgb } from './raster.js';

export interface PlotPoint {
  x: number;
  y: number;
}

export interface PlotSeries {
  name: string;
  points: readonly PlotPoint[];
}

export interface PlotTick {
  value: number;
  label: string;
}

export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly PlotSeries[];
  /** log10 x axis; every x (and xTicks value) must be > 0. */
  xLog?: boolean;
  /** Explicit x ticks (data units) replacing the automatic ones; the x range grows to include them. */
  xTicks?: readonly PlotTick[];
  /** Fixed y range [min, max]; points outside it are clipped. Default: the data's range widened to round ticks. */
  yRange?: readonly [number, number];
  /** Pixels; default 720 × 450. */
  width?: number;
  height?: number;
}

/** Where everything goes: the plot rectangle, the data → pixel maps, ticks and per-series style. */
export interface LinePlotLayout {
  width: number;
  height: number;
  plot: Rect;
  legend: Rect;
  xRange: [number, number];
  yRange: [number, number];
  xTicks: PlotTick[];
  yTicks: PlotTick[];
  /** Data x → pixel column (log10 applied when xLog). */
  xToPx(x: number): number;
  /** Data y → pixel row. */
  yToPx(y: number): number;
  /** "#rrggbb" per series, in series order. */
  colours: string[];
  markers: MarkerShape[];
}

/** matplotlib's tab10, the first ten series' colours. */
export const SERIES_COLOURS: readonly string[] = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
];
const MARKERS: readonly MarkerShape[] = ['circle', 'square', 'diamond', 'triangle'];

const BLACK: Rgb = [0, 0, 0];
const TEXT: Rgb = [34, 34, 34];
const GRID: Rgb = [228, 228, 228];
const LEGEND_BORDER: Rgb = [190, 190, 190];
const MARGIN = 10;
const TICK_LEN = 4;
const GAP = 6;
const X_INSET = 10;
const LEGEND_ROW = 14;
const LEGEND_SAMPLE = 22;

/** Marker "radius" in pixels (squares a size smaller, to match the others' area). */
export function markerRadius(shape: MarkerShape): number {
  return shape === 'square' ? 3 : 4;
}

/** Colour of series i: tab10, then golden-angle hues. */
export function seriesColour(i: number): string {
  if (i < SERIES_COLOURS.length) return SERIES_COLOURS[i]!;
  const h = (i * 137.508) % 360;
  const s = 0.65;
  const l = 0.45;
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    const v = l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(v * 255).toString(16).padStart(2, '0');
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

function fail(msg: string): never {
  throw new Error(`line plot: ${msg}`);
}

/** Array.isArray without narrowing a readonly array type to any[]. */
const isArray = (v: unknown): boolean => Array.isArray(v);

function validate(o: LinePlotOptions): void {
  if (typeof o !== 'object' || o === null) fail('options must be an object');
  if (typeof o.title !== 'string' || o.title.trim().length === 0) fail('the title is empty; give every plot a title');
  if (typeof o.xLabel !== 'string') fail('xLabel must be a string');
  if (typeof o.yLabel !== 'string') fail('yLabel must be a string');
  if (!isArray(o.series) || o.series.length === 0) fail('no series to draw (series is empty)');
  o.series.forEach((s, i) => {
    if (typeof s?.name !== 'string' || s.name.trim().length === 0) fail(`series ${i} has no name`);
    if (!isArray(s.points) || s.points.length === 0) fail(`series ${JSON.stringify(s.name)} has no points`);
    s.points.forEach((p, j) => {
      for (const axis of ['x', 'y'] as const) {
        const v = p?.[axis];
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          fail(`series ${JSON.stringify(s.name)} point ${j} has ${axis} = ${String(v)}; every point needs finite x and y`);
        }
      }
      if (o.xLog && p.x <= 0) fail(`series ${JSON.stringify(s.name)} point ${j} has x = ${p.x}, which a log x axis cannot show (plot x = 0 at a stand-in position with a labelled xTick)`);
    });
  });
  o.xTicks?.forEach((t, i) => {
    if (typeof t?.value !== 'number' || !Number.isFinite(t.value)) fail(`xTicks[${i}] has value ${String(t?.value)}; tick values must be finite`);
    if (o.xLog && t.value <= 0) fail(`xTicks[${i}] has value ${t.value}, which a log x axis cannot show`);
    if (typeof t.label !== 'string') fail(`xTicks[${i}] has no label string`);
  });
  if (o.yRange !== undefined) {
    const [lo, hi] = o.yRange;
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) fail(`yRange must be two finite numbers [min, max] with min < max, got [${String(lo)}, ${String(hi)}]`);
  }
  for (const [key, v, min] of [['width', o.width, 240], ['height', o.height, 160]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > 10000)) fail(`${key} must be an integer from ${min} to 10000 pixels, got ${String(v)}`);
  }
}

/** 1, 2 or 5 × 10^k, the round step nearest to span / target. */
function niceStep(span: number, target: number): number {
  const raw = span / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

function formatNumber(v: number, step?: number): string {
  if (Math.abs(v) < 1e-12) v = 0;
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-4)) return Number(v.toPrecision(3)).toExponential().replace('e+', 'e');
  if (step !== undefined && step < 1) return v.toFixed(Math.min(10, Math.ceil(-Math.log10(step) - 1e-9)));
  return String(Number(v.toPrecision(12)));
}

/** Ticks at multiples of a round step inside [lo, hi]. */
function linearTicks(lo: number, hi: number, target: number): PlotTick[] {
  const step = niceStep(hi - lo, target);
  const ticks: PlotTick[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push({ value: k * step, label: formatNumber(k * step, step) });
  return ticks;
}

/** Powers of ten inside [10^lo, 10^hi]; with fewer than two, the 2× and 5× multiples too. */
function logTicks(lo: number, hi: number): PlotTick[] {
  const ticks: PlotTick[] = [];
  for (let k = Math.ceil(lo - 1e-9); k <= hi + 1e-9; k++) ticks.push({ value: 10 ** k, label: formatNumber(10 ** k) });
  if (ticks.length >= 2) return ticks;
  const more: PlotTick[] = [];
  for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** k;
      const l = Math.log10(v);
      if (l >= lo - 1e-9 && l <= hi + 1e-9) more.push({ value: v, label: formatNumber(v) });
    }
  }
  return more;
}

/** Validate the options and place everything (see LinePlotLayout); renderLinePlot draws from this. */
export function linePlotLayout(o: LinePlotOptions): LinePlotLayout {
  validate(o);
  const width = o.width ?? 720;
  const height = o.height ?? 450;
  const xs = o.series.flatMap((s) => s.points.map((p) => p.x)).concat((o.xTicks ?? []).map((t) => t.value));
  const ys = o.series.flatMap((s) => s.points.map((p) => p.y));
  const tx = (x: number) => (o.xLog ? Math.log10(x) : x);

  let xLo = Math.min(...xs.map(tx));
  let xHi = Math.max(...xs.map(tx));
  if (xHi - xLo < 1e-12) {
    xLo -= o.xLog ? 0.5 : 1;
    xHi += o.xLog ? 0.5 : 1;
  }
  const xTicks = o.xTicks ? o.xTicks.map((t) => ({ value: t.value, label: t.label })) : o.xLog ? logTicks(xLo, xHi) : linearTicks(xLo, xHi, 6);

  let yLo: number;
  let yHi: number;
  let yTicks: PlotTick[];
  if (o.yRange) {
    [yLo, yHi] = o.yRange;
    yTicks = linearTicks(yLo, yHi, 5);
  } else {
    yLo = Math.min(...ys);
    yHi = Math.max(...ys);
    if (yHi - yLo < 1e-12) {
      const pad = Math.abs(yLo) > 1e-12 ? Math.abs(yLo) * 0.1 : 1;
      yLo -= pad;
      yHi += pad;
    }
    const step = niceStep(yHi - yLo, 5);
    yLo = Math.floor(yLo / step + 1e-9) * step;
    yHi = Math.ceil(yHi / step - 1e-9) * step;
    yTicks = linearTicks(yLo, yHi, 5);
  }

  const maxYTick = Math.max(0, ...yTicks.map((t) => textWidth(t.label)));
  const maxName = Math.max(...o.series.map((s) => textWidth(s.name)));
  const legendW = 8 + LEGEND_SAMPLE + GAP + maxName + 8;
  const legendH = o.series.length * LEGEND_ROW + 8;
  const top = MARGIN + 2 * GLYPH_HEIGHT + 12;
  const left = MARGIN + (o.yLabel ? GLYPH_HEIGHT + GAP : 0) + maxYTick + GAP + TICK_LEN;
  const bottom = height - 1 - (MARGIN + (o.xLabel ? GLYPH_HEIGHT + GAP : 0) + GLYPH_HEIGHT + GAP + TICK_LEN);
  const legendLeft = width - MARGIN - legendW;
  const right = legendLeft - 12;
  if (right - left < 80 || bottom - top < 60) {
    fail(`${width}×${height} pixels leave no room for the plot next to the labels and legend; make the plot larger or the series names shorter`);
  }
  const plot: Rect = { left, top, right, bottom };
  const legend: Rect = { left: legendLeft, top, right: legendLeft + legendW - 1, bottom: top + legendH - 1 };

  const x0 = left + X_INSET;
  const x1 = right - X_INSET;
  const xToPx = (x: number) => x0 + ((tx(x) - xLo) / (xHi - xLo)) * (x1 - x0);
  const yToPx = (y: number) => bottom - ((y - yLo) / (yHi - yLo)) * (bottom - top);
  const xRange: [number, number] = o.xLog ? [10 ** xLo, 10 ** xHi] : [xLo, xHi];
  return {
    width,
    height,
    plot,
    legend,
    xRange,
    yRange: [yLo, yHi],
    xTicks,
    yTicks,
    xToPx,
    yToPx,
    colours: o.series.map((_, i) => seriesColour(i)),
    markers: o.series.map((_, i) => MARKERS[i % MARKERS.length]!),
  };
}

/** Render the chart as PNG bytes. Throws on bad input (no series, non-finite points, an empty title, …). */
export function renderLinePlot(o: LinePlotOptions): Buffer {
  const L = linePlotLayout(o);
  const { plot } = L;
  const r = new Raster(L.width, L.height);

  // grid, frame, ticks and tick labels
  for (const t of L.yTicks) {
    const y = Math.round(L.yToPx(t.value));
    r.line(plot.left, y, plot.right, y, GRID);
    r.line(plot.left - TICK_LEN, y, plot.left, y, BLACK);
    r.text(t.label, plot.left - TICK_LEN - GAP + 1 - textWidth(t.label), y - 3, TEXT);
  }
  for (const t of L.xTicks) {
    const x = Math.round(L.xToPx(t.value));
    if (x < plot.left || x > plot.right) continue;
    r.line(x, plot.top, x, plot.bottom, GRID);
    r.line(x, plot.bottom, x, plot.bottom + TICK_LEN, BLACK);
    r.text(t.label, x - Math.floor(textWidth(t.label) / 2), plot.bottom + TICK_LEN + GAP - 2, TEXT);
  }
  r.strokeRect(plot, BLACK);

  // series: lines clipped to the plot area, markers to the plot area plus their radius
  o.series.forEach((s, i) => {
    const c = hexColour(L.colours[i]!);
    const pts = [...s.points].sort((a, b) => a.x - b.x).map((p) => [L.xToPx(p.x), L.yToPx(p.y)] as const);
    r.clip = { left: plot.left + 1, top: plot.top + 1, right: plot.right - 1, bottom: plot.bottom - 1 };
    for (let k = 1; k < pts.length; k++) r.line(pts[k - 1]![0], pts[k - 1]![1], pts[k]![0], pts[k]![1], c, 2);
    r.clip = { left: plot.left - 4, top: plot.top - 4, right: plot.right + 4, bottom: plot.bottom + 4 };
    for (const [x, y] of pts) r.marker(L.markers[i]!, x, y, markerRadius(L.markers[i]!), c);
    r.clip = undefined;
  });

  // legend
  const lg = L.legend;
  r.fillRect(lg.left, lg.top, lg.right - lg.left + 1, lg.bottom - lg.top + 1, [255, 255, 255]);
  r.strokeRect(lg, LEGEND_BORDER);
  o.series.forEach((s, i) => {
    const c = hexColour(L.colours[i]!);
    const cy = lg.top + 4 + i * LEGEND_ROW + LEGEND_ROW / 2;
    r.line(lg.left + 8, cy, lg.left + 8 + LEGEND_SAMPLE, cy, c, 2);
    r.marker(L.markers[i]!, lg.left + 8 + LEGEND_SAMPLE / 2, cy, markerRadius(L.markers[i]!), c);
    r.text(s.name, lg.left + 8 + LEGEND_SAMPLE + GAP, cy - 3, TEXT);
  });

  // title (twice the size when it fits), axis labels
  const titleScale = textWidth(o.title, 2) <= L.width - 2 * MARGIN ? 2 : 1;
  r.text(o.title, Math.max(MARGIN, Math.floor((L.width - textWidth(o.title, titleScale)) / 2)), MARGIN, BLACK, titleScale);
  if (o.xLabel) {
    r.text(o.xLabel, Math.floor((plot.left + plot.right - textWidth(o.xLabel)) / 2), L.height - MARGIN - GLYPH_HEIGHT, BLACK);
  }
  if (o.yLabel) {
    r.textUp(o.yLabel, MARGIN, Math.floor((plot.top + plot.bottom + textWidth(o.yLabel)) / 2), BLACK);
  }
  return r.toPng();
}

/** Render the chart and write it to `path` (creating its folder). */
export function writeLinePlot(path: string, o: LinePlotOptions): void {
  const png = renderLinePlot(o);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, png);
}
