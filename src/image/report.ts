// The text-to-image report: one self-contained HTML page (no network; every image an inline PNG data URI, a CSP that
// forbids fetching anything) with the dVAE's reconstructions and PSNR, the generations of each caption before and
// after CLIP reranking, caption accuracy as a function of the number of samples reranked (held-in and held-out
// compositions), and the memorization check (each generation's nearest training image by pixels and by CLIP).

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import { renderLinePlot } from '../report/line-plot.js';
import type { AccuracyAtN, DistanceSummary } from './eval.js';
import { encodePng, imageGrid } from './png.js';
import type { RgbImage } from './types.js';

export interface ReportReconstructions {
  originals: RgbImage[];
  reconstructions: RgbImage[];
  psnr_db: number;
  codebook_perplexity?: number;
  dead_codes?: number;
  vocab_size?: number;
}

export interface ReportCaption {
  caption: string;
  heldOut: boolean;
  /** The first samples in generation order, with CLIP scores and the checker's verdicts. */
  first: { image: RgbImage; score: number; correct: boolean }[];
  /** The CLIP top-k. */
  kept: { image: RgbImage; score: number; correct: boolean }[];
}

export interface ReportMemorization {
  rows: { generated: RgbImage; byPixels: RgbImage; pixelMse: number; byClip: RgbImage; clipDistance: number; caption: string }[];
  generated: { pixels: DistanceSummary; clip: DistanceSummary };
  /** The same distances for real held-out images (decoded through the dVAE), the no-copying baseline. */
  baseline: { pixels: DistanceSummary; clip: DistanceSummary };
  pixelThreshold: number;
  clipThreshold: number;
}

export interface ImageReport {
  title: string;
  summary: Record<string, string | number>;
  reconstructions?: ReportReconstructions;
  captions: ReportCaption[];
  accuracy: AccuracyAtN[];
  memorization?: ReportMemorization;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const dataUri = (png: Buffer) => `data:image/png;base64,${png.toString('base64')}`;
const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '–');
const num = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '–');

/** Nearest-neighbour upscale so small images are visible (integer factor). */
export function upscale(im: RgbImage, factor: number): RgbImage {
  if (factor <= 1) return im;
  const W = im.width * factor;
  const H = im.height * factor;
  const out = new Float32Array(3 * W * H);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) out[c * W * H + y * W + x] = im.data[c * im.width * im.height + Math.floor(y / factor) * im.width + Math.floor(x / factor)]!;
    }
  }
  return { width: W, height: H, data: out };
}

function img(im: RgbImage, title = '', scale = 1): string {
  const f = Math.max(1, Math.round((96 * scale) / im.width));
  return `<img src="${dataUri(encodePng(upscale(im, f)))}" width="${im.width * f}" height="${im.height * f}" title="${esc(title)}" alt="${esc(title)}">`;
}

function tile(s: { image: RgbImage; score: number; correct: boolean }): string {
  return `<figure class="${s.correct ? 'ok' : 'bad'}">${img(s.image, `CLIP ${s.score.toFixed(3)}`)}<figcaption>${s.score.toFixed(3)} ${s.correct ? '✓' : '✗'}</figcaption></figure>`;
}

function accuracyPlot(acc: AccuracyAtN[]): string {
  const series = [
    { name: 'held-in', points: acc.filter((a) => Number.isFinite(a.held_in)).map((a) => ({ x: a.n, y: 100 * a.held_in })) },
    { name: 'held-out', points: acc.filter((a) => Number.isFinite(a.held_out)).map((a) => ({ x: a.n, y: 100 * a.held_out })) },
  ].filter((s) => s.points.length);
  if (!series.length) return '<p>No accuracy measured.</p>';
  const png = renderLinePlot({
    title: 'Caption accuracy vs samples reranked by CLIP',
    xLabel: 'N samples (best of N by CLIP)',
    yLabel: 'accuracy (%)',
    series,
    xLog: true,
    xTicks: acc.map((a) => ({ value: a.n, label: String(a.n) })),
    yRange: [0, 100],
  });
  return `<img src="${dataUri(png)}" alt="accuracy vs N">`;
}

export function renderImageReport(r: ImageReport): string {
  const parts: string[] = [];
  parts.push(`<h1>${esc(r.title)}</h1>`);
  parts.push(`<table class="kv">${Object.entries(r.summary).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('')}</table>`);
  if (r.reconstructions) {
    const rc = r.reconstructions;
    parts.push('<h2>dVAE reconstructions</h2>');
    const usage = rc.codebook_perplexity !== undefined ? `; codebook perplexity ${num(rc.codebook_perplexity, 1)} of ${rc.vocab_size ?? '?'} codes, ${rc.dead_codes ?? '?'} dead` : '';
    parts.push(`<p>Held-out images (top) and the decoder's output from their argmax tokens (bottom): PSNR ${num(rc.psnr_db, 2)} dB${usage}.</p>`);
    const cols = Math.min(16, rc.originals.length);
    parts.push(img(imageGrid([...rc.originals.slice(0, cols), ...rc.reconstructions.slice(0, cols)], cols, { pad: 2 }), 'originals / reconstructions', cols));
  }
  parts.push('<h2>Caption accuracy vs N</h2>');
  parts.push('<p>For each caption the samples (generation order) are cut into disjoint groups of N; CLIP keeps the best of each group; the checker (a deterministic attribute reader, no trained model) says whether it matches the caption.</p>');
  parts.push(accuracyPlot(r.accuracy));
  parts.push(`<table><tr><th>N</th><th>held-in</th><th>groups</th><th>held-out</th><th>groups</th></tr>${r.accuracy
    .map((a) => `<tr><td>${a.n}</td><td>${pct(a.held_in)}</td><td>${a.groups_in}</td><td>${pct(a.held_out)}</td><td>${a.groups_out}</td></tr>`)
    .join('')}</table>`);
  parts.push('<h2>Generations per caption</h2>');
  for (const c of r.captions) {
    parts.push(`<h3>“${esc(c.caption)}” <span class="tag">${c.heldOut ? 'held-out composition' : 'held-in'}</span></h3>`);
    parts.push(`<div class="row"><span class="lbl">first ${c.first.length}</span>${c.first.map(tile).join('')}</div>`);
    parts.push(`<div class="row"><span class="lbl">CLIP top ${c.kept.length}</span>${c.kept.map(tile).join('')}</div>`);
  }
  if (r.memorization) {
    const m = r.memorization;
    parts.push('<h2>Memorization: does the model copy its training images?</h2>');
    const line = (name: string, s: DistanceSummary, thr: number) =>
      `<tr><td>${name}</td><td>${s.count}</td><td>${num(s.p10, 4)}</td><td>${num(s.median, 4)}</td><td>${pct(s.below)} (&lt; ${thr})</td></tr>`;
    parts.push(`<p>Distance of each image to its nearest training image. Generated images that sit much closer to the training set than real held-out images do (decoded through the same dVAE) would be copies.</p>`);
    parts.push(`<table><tr><th>images</th><th>count</th><th>p10</th><th>median</th><th>near-copies</th></tr>
      <tr><th colspan="5">pixel MSE</th></tr>${line('generated', m.generated.pixels, m.pixelThreshold)}${line('held-out real (baseline)', m.baseline.pixels, m.pixelThreshold)}
      <tr><th colspan="5">CLIP cosine distance</th></tr>${line('generated', m.generated.clip, m.clipThreshold)}${line('held-out real (baseline)', m.baseline.clip, m.clipThreshold)}</table>`);
    parts.push(`<table><tr><th>caption</th><th>generated</th><th>nearest by pixels</th><th>MSE</th><th>nearest by CLIP</th><th>cos dist</th></tr>${m.rows
      .map((x) => `<tr><td>${esc(x.caption)}</td><td>${img(x.generated)}</td><td>${img(x.byPixels)}</td><td>${num(x.pixelMse, 4)}</td><td>${img(x.byClip)}</td><td>${num(x.clipDistance, 3)}</td></tr>`)
      .join('')}</table>`);
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${esc(r.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:middle}
.kv th{background:#f4f4f4}figure{display:inline-block;margin:3px;text-align:center}figcaption{font-size:11px}
figure.ok img{outline:3px solid #2a2}figure.bad img{outline:3px solid #c33}.row{margin:4px 0}.lbl{display:inline-block;width:90px;font-size:12px;color:#555}
.tag{font-size:12px;background:#eee;padding:1px 6px;border-radius:3px}img{image-rendering:pixelated}
</style></head><body>
${parts.join('\n')}
</body></html>
`;
}

export function writeImageReport(path: string, r: ImageReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomicSync(path, renderImageReport(r));
}
