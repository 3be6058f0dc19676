// Line plot PNGs: decoded with pngjs and checked pixel by pixel (size, series colours at their points, the frame,
// grid lines, text in the title/tick/legend areas, log axis spacing, clipping) plus the bitmap font table and the
// errors for bad input.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pngjs from 'pngjs';
import { FONT_CHARS, GLYPH_HEIGHT, GLYPH_WIDTH, glyphRows, textWidth } from '../../src/report/bitmap-font.js';
import { linePlotLayout, renderLinePlot, SERIES_COLOURS, seriesColour, writeLinePlot, type LinePlotOptions } from '../../src/report/line-plot.js';

interface Image {
  width: number;
  height: number;
  at(x: number, y: number): string;
}

function decode(png: Buffer): Image {
  const img = pngjs.PNG.sync.read(png);
  return {
    width: img.width,
    height: img.height,
    at(x, y) {
      const i = (Math.round(y) * img.width + Math.round(x)) * 4;
      return `#${[img.data[i]!, img.data[i + 1]!, img.data[i + 2]!].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
    },
  };
}

/** Pixels in a rectangle that are darker than light grey (text or lines). */
function darkPixels(img: Image, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = Math.max(0, y0); y <= Math.min(img.height - 1, y1); y++) {
    for (let x = Math.max(0, x0); x <= Math.min(img.width - 1, x1); x++) {
      const c = img.at(x, y);
      if (parseInt(c.slice(1, 3), 16) < 100 && parseInt(c.slice(3, 5), 16) < 100 && parseInt(c.slice(5, 7), 16) < 100) n++;
    }
  }
  return n;
}

function countColour(img: Image, colour: string, x0 = 0, y0 = 0, x1 = img.width - 1, y1 = img.height - 1): number {
  let n = 0;
  for (let y = Math.max(0, y0); y <= Math.min(img.height - 1, y1); y++) for (let x = Math.max(0, x0); x <= Math.min(img.width - 1, x1); x++) if (img.at(x, y) === colour) n++;
  return n;
}

const base: LinePlotOptions = {
  title: 'Accuracy vs K',
  xLabel: 'Number of examples in context (K)',
  yLabel: 'Accuracy',
  series: [
    { name: 'small', points: [{ x: 0, y: 0.1 }, { x: 10, y: 0.3 }, { x: 20, y: 0.35 }] },
    { name: 'large', points: [{ x: 0, y: 0.6 }, { x: 10, y: 0.8 }, { x: 20, y: 0.9 }] },
  ],
  yRange: [0, 1],
};

test('renders a PNG of the requested size (default 720×450)', () => {
  const d = decode(renderLinePlot(base));
  assert.equal(d.width, 720);
  assert.equal(d.height, 450);
  const c = decode(renderLinePlot({ ...base, width: 500, height: 300 }));
  assert.deepEqual([c.width, c.height], [500, 300]);
});

test('each series is drawn in its own colour at its points, and in the legend', () => {
  const layout = linePlotLayout(base);
  const img = decode(renderLinePlot(base));
  assert.deepEqual(layout.colours, [SERIES_COLOURS[0], SERIES_COLOURS[1]]);
  base.series.forEach((s, i) => {
    for (const p of s.points) {
      assert.equal(img.at(layout.xToPx(p.x), layout.yToPx(p.y)), layout.colours[i], `${s.name} at (${p.x}, ${p.y})`);
    }
    const lg = layout.legend;
    assert.ok(countColour(img, layout.colours[i]!, lg.left, lg.top, lg.right, lg.bottom) > 10, `${s.name} in the legend`);
  });
  // the line between two points carries the colour too (midpoint of the first segment)
  const [a, b] = base.series[0]!.points;
  const mx = (layout.xToPx(a!.x) + layout.xToPx(b!.x)) / 2;
  const my = (layout.yToPx(a!.y) + layout.yToPx(b!.y)) / 2;
  let near = 0;
  for (let dy = -2; dy <= 2; dy++) if (img.at(mx, my + dy) === layout.colours[0]) near++;
  assert.ok(near > 0, 'line pixels near the segment midpoint');
  // distinct colours well past the palette
  const many = Array.from({ length: 16 }, (_, i) => seriesColour(i));
  assert.equal(new Set(many).size, 16);
  for (const c of many) assert.match(c, /^#[0-9a-f]{6}$/);
});

test('axes frame, tick marks and grid lines are drawn', () => {
  const layout = linePlotLayout(base);
  const img = decode(renderLinePlot(base));
  const { plot } = layout;
  for (let y = plot.top; y <= plot.bottom; y += 7) assert.equal(img.at(plot.left, y), '#000000', `left axis at row ${y}`);
  for (let x = plot.left; x <= plot.right; x += 7) assert.equal(img.at(x, plot.bottom), '#000000', `bottom axis at column ${x}`);
  assert.deepEqual(layout.yTicks.map((t) => t.label), ['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
  const gridY = Math.round(layout.yToPx(0.4));
  assert.equal(img.at(plot.left - 2, gridY), '#000000', 'tick mark left of the axis');
  assert.equal(img.at(plot.left + 3, gridY), '#e4e4e4', 'grid line inside the plot');
  const tickX = Math.round(layout.xToPx(layout.xTicks[1]!.value));
  assert.equal(img.at(tickX, plot.bottom + 2), '#000000', 'x tick mark below the axis');
});

test('text is drawn: title, tick labels, axis labels, legend names', () => {
  const layout = linePlotLayout(base);
  const img = decode(renderLinePlot(base));
  const { plot } = layout;
  assert.ok(darkPixels(img, 0, 0, img.width - 1, plot.top - 4) > 50, 'title');
  assert.ok(darkPixels(img, 0, plot.top, plot.left - 6, plot.bottom) > 30, 'y tick labels and y label');
  assert.ok(darkPixels(img, 0, plot.top, 9 + GLYPH_HEIGHT, plot.bottom) > 20, 'rotated y label at the left edge');
  assert.ok(darkPixels(img, plot.left, plot.bottom + 5, plot.right, img.height - 1) > 50, 'x tick labels and x label');
  const lg = layout.legend;
  assert.ok(darkPixels(img, lg.left + 30, lg.top, lg.right, lg.bottom) > 20, 'legend names');
  // a different title changes exactly the title area
  const other = decode(renderLinePlot({ ...base, title: 'Something else entirely' }));
  let diff = 0;
  for (let y = 0; y < plot.top - 4; y++) for (let x = 0; x < img.width; x++) if (img.at(x, y) !== other.at(x, y)) diff++;
  assert.ok(diff > 50);
});

test('log x axis: decades are evenly spaced and stand-in ticks are honoured', () => {
  const opts: LinePlotOptions = {
    ...base,
    xLog: true,
    xTicks: [{ value: 0.5, label: '0' }, { value: 1, label: '1' }, { value: 10, label: '10' }, { value: 100, label: '100' }],
    series: [{ name: 'GPT-3 175B', points: [0.5, 1, 10, 100].map((x, i) => ({ x, y: 0.2 * i })) }],
  };
  const L = linePlotLayout(opts);
  assert.ok(Math.abs(L.xToPx(10) - L.xToPx(1) - (L.xToPx(100) - L.xToPx(10))) < 1e-9);
  assert.deepEqual(L.xTicks.map((t) => t.label), ['0', '1', '10', '100']);
  const img = decode(renderLinePlot(opts));
  for (const p of opts.series[0]!.points) assert.equal(img.at(L.xToPx(p.x), L.yToPx(p.y)), L.colours[0]);
  const auto = linePlotLayout({ ...opts, xTicks: undefined, series: [{ name: 's', points: [{ x: 1, y: 0 }, { x: 1000, y: 1 }] }] });
  assert.deepEqual(auto.xTicks.map((t) => t.label), ['1', '10', '100', '1000']);
});

test('automatic y range widens to round ticks; points outside a fixed yRange are clipped to the plot', () => {
  const auto = linePlotLayout({ ...base, yRange: undefined, series: [{ name: 's', points: [{ x: 0, y: 1.7 }, { x: 1, y: 4.2 }] }] });
  assert.deepEqual(auto.yRange, [1.5, 4.5]);
  const clipped: LinePlotOptions = { ...base, series: [{ name: 's', points: [{ x: 0, y: 0.5 }, { x: 1, y: 5 }] }] };
  const L = linePlotLayout(clipped);
  const img = decode(renderLinePlot(clipped));
  assert.equal(countColour(img, L.colours[0]!, 0, 0, img.width - 1, L.plot.top - 6), 0, 'nothing above the plot');
  assert.ok(countColour(img, L.colours[0]!, L.plot.left, L.plot.top, L.plot.right, L.plot.bottom) > 20);
});

test('writeLinePlot writes the PNG to a new folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-plot-'));
  try {
    const path = join(dir, 'nested', 'plot.png');
    writeLinePlot(path, base);
    assert.deepEqual(readFileSync(path), renderLinePlot(base));
    assert.equal(decode(readFileSync(path)).width, 720);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input gives clear errors', () => {
  const bad = (o: Partial<LinePlotOptions>, re: RegExp) => assert.throws(() => renderLinePlot({ ...base, ...o } as LinePlotOptions), re);
  bad({ series: [] }, /no series/);
  bad({ title: '' }, /title is empty/);
  bad({ title: '   ' }, /title is empty/);
  bad({ series: [{ name: 's', points: [{ x: 1, y: Number.NaN }] }] }, /series "s" point 0 has y = NaN/);
  bad({ series: [{ name: 's', points: [{ x: 0, y: 1 }, { x: Infinity, y: 1 }] }] }, /point 1 has x = Infinity/);
  bad({ series: [{ name: 's', points: [] }] }, /series "s" has no points/);
  bad({ series: [{ name: '', points: [{ x: 1, y: 1 }] }] }, /series 0 has no name/);
  bad({ xLog: true, series: [{ name: 's', points: [{ x: 0, y: 1 }] }] }, /log x axis cannot show/);
  bad({ yRange: [1, 0] }, /yRange/);
  bad({ xTicks: [{ value: Number.NaN, label: 'x' }] }, /xTicks\[0\]/);
  bad({ width: 10 }, /width must be an integer/);
  bad({ width: 240, series: [{ name: 'a very long series name indeed, far too long for this', points: [{ x: 1, y: 1 }] }] }, /no room/);
});

test('bitmap font: every printable ASCII character has a distinct 5×8 glyph; others fall back to "?"', () => {
  assert.equal(FONT_CHARS.length, 95);
  for (let c = 32; c <= 126; c++) assert.ok(FONT_CHARS.includes(String.fromCharCode(c)));
  const seen = new Map<string, string>();
  for (const ch of FONT_CHARS) {
    const rows = glyphRows(ch);
    assert.equal(rows.length, GLYPH_HEIGHT);
    for (const r of rows) assert.ok(r >= 0 && r < 1 << GLYPH_WIDTH);
    if (ch !== ' ') assert.ok(rows.some((r) => r !== 0), `${ch} has ink`);
    const key = rows.join(',');
    assert.ok(!seen.has(key), `${JSON.stringify(ch)} looks like ${JSON.stringify(seen.get(key))}`);
    seen.set(key, ch);
  }
  assert.deepEqual(glyphRows('é'), glyphRows('?'));
  assert.equal(textWidth('abc'), 17);
  assert.equal(textWidth('abc', 2), 34);
  assert.equal(textWidth(''), 0);
});
