// The extraction audit's HTML report: one self-contained page (inline CSS, plots as data: URI PNGs, no scripts, a
// Content-Security-Policy that forbids fetching anything) with the run's settings, the paper's Table 2, precision@N
// curves, duplicate rates, categories, discoverable memorization and canary exposure when present, and every
// memorized sample with its verbatim spans highlighted beside the training documents that hold its longest match.
// Sample text is arbitrary (e-mail, HTML, `<script>`): everything is HTML-escaped.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import { renderLinePlot, type LinePlotOptions, type PlotSeries } from '../report/line-plot.js';
import { CATEGORIES } from './categories.js';
import type { AuditResults, DiscoverableRow, ExposureRow, RankedCell, SampleRecord, SourceRef, VerbatimSpan } from './types.js';

export interface AuditReportInput {
  results: AuditResults;
  /** At least every memorized sample and every sample in a top list. */
  samples: SampleRecord[];
  cells: RankedCell[];
  title?: string;
  /** Memorized samples shown in full (longest match first); default 500. */
  maxSamples?: number;
}

const DEFAULT_MAX_SAMPLES = 500;
/** Characters of source context kept either side of a match. */
const CONTEXT_CHARS = 400;
/** Rows listed per top-N list. */
const TOP_LIST_ROWS = 100;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML-escape text for element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function num(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toFixed(digits);
}

const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : `${(v * 100).toFixed(1)}%`);

/** Sorted, merged [start, end) character ranges of the spans, clamped to the text (overlapping or touching ones joined). */
export function mergeSpans(spans: readonly Pick<VerbatimSpan, 'char_start' | 'char_end'>[], length: number): [number, number][] {
  const ranges = spans
    .map((s) => [Math.max(0, Math.min(length, s.char_start)), Math.max(0, Math.min(length, s.char_end))] as [number, number])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: [number, number][] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** The text, escaped, with the merged spans wrapped in <mark>. */
export function highlightSpans(text: string, spans: readonly Pick<VerbatimSpan, 'char_start' | 'char_end'>[]): string {
  let html = '';
  let at = 0;
  for (const [a, b] of mergeSpans(spans, text.length)) {
    html += `${escapeHtml(text.slice(at, a))}<mark>${escapeHtml(text.slice(a, b))}</mark>`;
    at = b;
  }
  return html + escapeHtml(text.slice(at));
}

/** A table from a header row and body rows of already-escaped cell HTML. */
function table(head: string[], rows: string[][], cls = ''): string {
  const th = head.map((h) => `<th>${h}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A PNG plot as an <img> with a data: URI; a note instead when it cannot be drawn. */
function plotImg(o: LinePlotOptions): string {
  try {
    const png = renderLinePlot(o);
    return `<img class="plot" alt="${escapeHtml(o.title)}" src="data:image/png;base64,${png.toString('base64')}">`;
  } catch (e) {
    return `<p class="note">plot “${escapeHtml(o.title)}” not drawn: ${escapeHtml(e instanceof Error ? e.message : String(e))}</p>`;
  }
}

const section = (id: string, title: string, body: string) => `<section id="${id}"><h2>${escapeHtml(title)}</h2>\n${body}\n</section>`;

function headerSection(r: AuditResults): string {
  const samples = r.strategies.map((s) => `${escapeHtml(s)}: ${num(r.samples[s] ?? 0)}`).join(', ') || '—';
  const rows: [string, string][] = [
    ['target', escapeHtml(r.target)],
    ['references', r.references.length ? r.references.map(escapeHtml).join(', ') : '—'],
    ['strategies', r.strategies.map(escapeHtml).join(', ') || '—'],
    ['samples per strategy', samples],
    ['tokens per sample', num(r.tokens)],
    ['min_tokens (verbatim run)', num(r.min_tokens)],
    ['top N', num(r.top_n)],
    ['metrics', r.metrics.map(escapeHtml).join(', ') || '—'],
    ['temperature schedule', escapeHtml(r.temperature_schedule || '—')],
    ['memorized (all samples)', num(r.memorized_total)],
  ];
  const timings = Object.entries(r.timings ?? {});
  if (timings.length) rows.push(['timings (s)', timings.map(([k, v]) => `${escapeHtml(k)} ${num(v, 1)}`).join(', ')]);
  const dl = `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
  const skipped = Object.entries(r.skipped_metrics ?? {});
  const skippedHtml = skipped.length
    ? `<h3>Skipped metrics</h3><ul>${skipped.map(([m, why]) => `<li><code>${escapeHtml(m)}</code>: ${escapeHtml(why)}</li>`).join('')}</ul>`
    : '';
  const notes = r.notes?.length ? `<h3>Notes</h3><ul>${r.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  return section('settings', 'Settings', dl + skippedHtml + notes);
}

/** Table 2: memorized in the top N per metric (rows) × strategy (columns), best per column bold, the Unique row. */
function table2Section(r: AuditResults): string {
  const best = new Map(r.strategies.map((s) => [s, Math.max(-Infinity, ...r.metrics.map((m) => r.table2[s]?.[m] ?? -Infinity))]));
  const rows = r.metrics.map((m) => [
    `<code>${escapeHtml(m)}</code>`,
    ...r.strategies.map((s) => {
      const v = r.table2[s]?.[m];
      if (v === undefined) return '—';
      return v === best.get(s) && v > 0 ? `<b>${num(v)}</b>` : num(v);
    }),
  ]);
  rows.push(['<b>Unique</b>', ...r.strategies.map((s) => num(r.unique_by_strategy[s]))]);
  const head = ['metric', ...r.strategies.map(escapeHtml)];
  const caption = `<p>Memorized samples among the top ${num(r.top_n)} of each strategy × metric after de-duplication (best per column in bold). ` +
    `Unique memorized over all strategies and metrics: <b class="total">${num(r.unique_memorized)}</b>; memorized among all samples: ${num(r.memorized_total)}.</p>`;
  return section('table2', 'Table 2: memorized in the top N', caption + table(head, rows, 'grid'));
}

/** precision@N for one strategy, from results.precision or, failing that, the cells. */
function precisionOf(r: AuditResults, cells: readonly RankedCell[], strategy: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of r.metrics) {
    const p = r.precision[strategy]?.[m] ?? cells.find((c) => c.strategy === strategy && c.metric === m)?.precision;
    if (p && p.length) out.set(m, p);
  }
  return out;
}

function precisionSection(r: AuditResults, cells: readonly RankedCell[]): string {
  const plots = r.strategies.map((s) => {
    const series: PlotSeries[] = [...precisionOf(r, cells, s)].map(([m, p]) => ({ name: m, points: p.map((y, i) => ({ x: i + 1, y })) }));
    if (!series.length) return `<p class="note">${escapeHtml(s)}: no precision curve.</p>`;
    return plotImg({ title: `precision@N: ${s}`, xLabel: 'N (top N after de-duplication)', yLabel: 'precision', series, yRange: [0, 1] });
  });
  return section('precision', 'Precision@N', `<div class="plots">${plots.join('\n')}</div>`);
}

function duplicatesSection(r: AuditResults, cells: readonly RankedCell[]): string {
  const rows = r.strategies.map((s) => {
    const removed = r.metrics.map((m) => cells.find((c) => c.strategy === s && c.metric === m)?.duplicates);
    return [escapeHtml(s), num(r.samples[s] ?? 0), pct(r.duplicate_rate[s]), ...removed.map((v) => num(v))];
  });
  const head = ['strategy', 'samples', 'near-duplicate rate', ...r.metrics.map((m) => `removed before top N: <code>${escapeHtml(m)}</code>`)];
  return section('duplicates', 'Duplicate rates', table(head, rows));
}

function categoriesSection(r: AuditResults): string {
  const known = new Set(CATEGORIES.map((c) => c.name));
  const names = [...CATEGORIES.map((c) => c.name), ...Object.keys(r.categories).filter((k) => !known.has(k)).sort()];
  const rows = names.map((n) => {
    const count = r.categories[n] ?? 0;
    const desc = CATEGORIES.find((c) => c.name === n)?.description ?? '';
    return [`<code>${escapeHtml(n)}</code>`, escapeHtml(desc), num(count), r.memorized_total ? pct(count / r.memorized_total) : '—'];
  });
  return section('categories', 'Categories of memorized text', table(['category', 'what', 'memorized samples', 'share'], rows));
}

const bucketLabel = (d: DiscoverableRow) => (d.dup_lo === d.dup_hi ? String(d.dup_lo) : `${d.dup_lo}-${d.dup_hi}`);

function discoverableSection(rows: readonly DiscoverableRow[]): string {
  const buckets = [...new Map(rows.map((d) => [`${d.dup_lo}:${d.dup_hi}`, d])).values()].sort((a, b) => a.dup_lo - b.dup_lo || a.dup_hi - b.dup_hi);
  const index = new Map(buckets.map((d, i) => [`${d.dup_lo}:${d.dup_hi}`, i + 1]));
  const groups = new Map<string, DiscoverableRow[]>();
  for (const d of rows) {
    const k = `${d.model} L=${d.length}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(d);
  }
  const series: PlotSeries[] = [...groups].map(([name, ds]) => ({
    name,
    points: ds.map((d) => ({ x: index.get(`${d.dup_lo}:${d.dup_hi}`)!, y: d.rate })).sort((a, b) => a.x - b.x),
  }));
  const plot = plotImg({
    title: 'discoverable extraction rate vs duplicates',
    xLabel: 'duplicate count in the corpus (bucket)',
    yLabel: 'exact-match rate',
    series,
    xTicks: buckets.map((d, i) => ({ value: i + 1, label: bucketLabel(d) })),
    yRange: [0, 1],
  });
  const sorted = [...rows].sort((a, b) => a.model.localeCompare(b.model) || a.length - b.length || a.dup_lo - b.dup_lo);
  const body = sorted.map((d) => [escapeHtml(d.model), num(d.length), bucketLabel(d), num(d.sequences), num(d.extracted), pct(d.rate)]);
  return section('discoverable', 'Discoverable memorization', plot + table(['model', 'length L', 'duplicates', 'sequences', 'extracted', 'rate'], body));
}

/** Mean of a value per (format, repeats), as plot points sorted by repeats. */
function meanByRepeats(rows: readonly ExposureRow[], value: (e: ExposureRow) => number): { x: number; y: number }[] {
  const acc = new Map<number, number[]>();
  for (const e of rows) {
    const v = value(e);
    if (!Number.isFinite(v)) continue;
    if (!acc.has(e.repeats)) acc.set(e.repeats, []);
    acc.get(e.repeats)!.push(v);
  }
  return [...acc].map(([x, vs]) => ({ x, y: vs.reduce((a, b) => a + b, 0) / vs.length })).sort((a, b) => a.x - b.x);
}

function exposureSection(rows: readonly ExposureRow[], found: Record<string, number[]> | undefined): string {
  const formats = [...new Set(rows.map((e) => e.format))].sort();
  const series: PlotSeries[] = [];
  for (const f of formats) {
    const of = rows.filter((e) => e.format === f);
    const exact = meanByRepeats(of, (e) => e.exposure);
    const extra = meanByRepeats(of, (e) => e.exposure_extrapolated);
    if (exact.length) series.push({ name: f, points: exact });
    if (extra.length) series.push({ name: `${f} (extrapolated)`, points: extra });
  }
  const xLog = rows.length > 0 && rows.every((e) => e.repeats > 0) && Math.max(...rows.map((e) => e.repeats)) >= 10 * Math.min(...rows.map((e) => e.repeats));
  const plot = series.length
    ? plotImg({ title: 'canary exposure vs repeats', xLabel: 'repeats of the canary in training', yLabel: 'exposure (bits)', series, xLog })
    : '<p class="note">no finite exposures to plot.</p>';
  const foundOf = (e: ExposureRow) => {
    const f = e.found_by_attack ?? (found ? (found[e.id]?.length ?? 0) > 0 : undefined);
    return f === undefined ? '—' : f ? '<b>yes</b>' : 'no';
  };
  const sorted = [...rows].sort((a, b) => a.format.localeCompare(b.format) || a.repeats - b.repeats || a.id.localeCompare(b.id));
  const body = sorted.map((e) => [
    `<code>${escapeHtml(e.id)}</code>`, escapeHtml(e.format), `<code>${escapeHtml(e.secret)}</code>`, num(e.repeats), num(e.rank), num(e.candidates),
    num(e.exposure, 2), num(e.exposure_extrapolated, 2), foundOf(e),
  ]);
  const head = ['canary', 'format', 'secret', 'repeats', 'rank', 'candidates', 'exposure', 'extrapolated', 'found by attack'];
  return section('exposure', 'Canary exposure', plot + table(head, body));
}

/** Sample id → "strategy/metric #rank" for every top list it is in. */
function ranksById(cells: readonly RankedCell[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const c of cells) {
    c.top.forEach((id, i) => {
      if (!out.has(id)) out.set(id, []);
      out.get(id)!.push(`${c.metric} #${i + 1}`);
    });
  }
  return out;
}

const clipStart = (s: string) => (s.length > CONTEXT_CHARS ? `…${s.slice(s.length - CONTEXT_CHARS)}` : s);
const clipEnd = (s: string) => (s.length > CONTEXT_CHARS ? `${s.slice(0, CONTEXT_CHARS)}…` : s);

function sourceHtml(src: SourceRef): string {
  const head = `<div class="src-head">doc <code>${escapeHtml(src.doc)}</code>, token offset ${num(src.offset)}</div>`;
  if (src.match === undefined) return `<div class="src">${head}<p class="note">context not decodable</p></div>`;
  const body = `${escapeHtml(clipStart(src.before ?? ''))}<mark>${escapeHtml(src.match)}</mark>${escapeHtml(clipEnd(src.after ?? ''))}`;
  return `<div class="src">${head}<pre>${body}</pre></div>`;
}

function scoresHtml(s: SampleRecord): string {
  const parts = Object.entries(s.scores).map(([k, v]) => `${escapeHtml(k)} ${num(v)}`);
  parts.push(`ppl ${num(s.ppl)}`, `zlib ${num(s.zlib)}`);
  for (const [k, v] of Object.entries(s.ref_ppl ?? {})) parts.push(`ppl[${escapeHtml(k)}] ${num(v)}`);
  return parts.join(' · ');
}

function sampleHtml(s: SampleRecord, ranks: readonly string[]): string {
  const lm = s.longest_match;
  const meta = [
    `<b>#${s.id}</b> <span class="tag">${escapeHtml(s.strategy)}</span>`,
    lm ? `longest match ${lm.tokens.length} tokens, ${num(lm.count)} occurrence${lm.count === 1 ? '' : 's'} in ${num(lm.docs)} doc${lm.docs === 1 ? '' : 's'} (k = ${num(lm.docs)})` : 'no longest match recorded',
    `categories: ${s.categories.length ? s.categories.map((c) => `<span class="tag">${escapeHtml(c)}</span>`).join(' ') : '—'}`,
  ];
  const prompt = s.prompt ? `<div class="prompt">prompt: <code>${escapeHtml(s.prompt)}</code></div>` : '';
  const rankLine = ranks.length ? `<div class="ranks">in top lists: ${ranks.map(escapeHtml).join(', ')}</div>` : '';
  const sources = lm?.sources.length ? lm.sources.map(sourceHtml).join('\n') : '<p class="note">no source documents recorded</p>';
  return `<article class="sample" id="s-${s.id}"><div class="meta">${meta.join(' — ')}</div><div class="scores">${scoresHtml(s)}</div>${rankLine}${prompt}
<div class="pair"><pre class="text">${highlightSpans(s.text, s.spans)}</pre><div class="sources">${sources}</div></div></article>`;
}

/** Longest match (tokens) first, then more occurrences, then id. */
function byLongestMatch(a: SampleRecord, b: SampleRecord): number {
  const la = a.longest_match?.tokens.length ?? 0;
  const lb = b.longest_match?.tokens.length ?? 0;
  return lb - la || (b.longest_match?.count ?? 0) - (a.longest_match?.count ?? 0) || a.id - b.id;
}

function samplesSection(samples: readonly SampleRecord[], cells: readonly RankedCell[], max: number): { html: string; shown: Set<number> } {
  const memorized = samples.filter((s) => s.memorized).sort(byLongestMatch);
  const shownList = memorized.slice(0, max);
  const ranks = ranksById(cells);
  const note = memorized.length > shownList.length
    ? `<p class="note">Showing the ${shownList.length} memorized samples with the longest matches of ${memorized.length}; the rest are in samples.jsonl.</p>`
    : `<p>${memorized.length} memorized sample${memorized.length === 1 ? '' : 's'}, longest verbatim match first; highlighted: runs found in the training corpus.</p>`;
  const body = shownList.map((s) => sampleHtml(s, ranks.get(s.id) ?? [])).join('\n');
  return { html: section('samples', 'Memorized samples', note + body), shown: new Set(shownList.map((s) => s.id)) };
}

const snippet = (t: string, n = 120) => escapeHtml(t.length > n ? `${t.slice(0, n)}…` : t).replace(/\s+/g, ' ');

/** Each strategy × metric top list, collapsed: rank, id (linked when shown above), memorized, score, a snippet. */
function topListsSection(cells: readonly RankedCell[], byId: Map<number, SampleRecord>, shown: Set<number>): string {
  if (!cells.length) return '';
  const blocks = cells.map((c) => {
    const rows = c.top.slice(0, TOP_LIST_ROWS).map((id, i) => {
      const s = byId.get(id);
      const idHtml = shown.has(id) ? `<a href="#s-${id}">#${id}</a>` : `#${id}`;
      return [String(i + 1), idHtml, s ? (s.memorized ? '<b>yes</b>' : 'no') : '?', num(s?.scores[c.metric]), s ? snippet(s.text) : ''];
    });
    const more = c.top.length > TOP_LIST_ROWS ? `<p class="note">first ${TOP_LIST_ROWS} of ${c.top.length}</p>` : '';
    const summary = `${escapeHtml(c.strategy)} × <code>${escapeHtml(c.metric)}</code>: ${c.memorized} memorized of ${c.top.length}, ${c.duplicates} duplicates removed`;
    return `<details><summary>${summary}</summary>${table(['rank', 'sample', 'memorized', 'score', 'text'], rows, 'top')}${more}</details>`;
  });
  return section('top-lists', 'Top lists', blocks.join('\n'));
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1400px;padding:1em 2em;color:#222;background:#fff}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{font-weight:600}dd{margin:0}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}table.grid td:not(:first-child){text-align:right}
.plots{display:flex;flex-wrap:wrap;gap:1em}img.plot{max-width:100%;border:1px solid #eee}
.note{color:#666;font-style:italic}.tag{background:#eef;border-radius:3px;padding:0 .35em;font-size:.9em}
.sample{border:1px solid #ddd;border-radius:4px;margin:1em 0;padding:.6em .8em}.scores,.ranks,.prompt{color:#555;font-size:.9em}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em;margin-top:.5em}
pre{white-space:pre-wrap;word-break:break-word;background:#fafafa;border:1px solid #eee;padding:.5em;margin:0;font-size:12.5px;max-height:32em;overflow:auto}
mark{background:#ffe26a;color:#000}.src{margin-bottom:.6em}.src-head{font-size:.9em;color:#444;margin-bottom:.2em}
details{margin:.3em 0}summary{cursor:pointer}table.top td:last-child{font-family:monospace;font-size:12px}
nav a{margin-right:1em}
`;

/** The whole report as one HTML string. */
export function renderAuditReport(input: AuditReportInput): string {
  const { results: r, samples, cells } = input;
  const title = input.title ?? `tessera extraction audit: ${r.target}`;
  const byId = new Map(samples.map((s) => [s.id, s]));
  const samplePart = samplesSection(samples, cells, input.maxSamples ?? DEFAULT_MAX_SAMPLES);
  const parts = [
    headerSection(r),
    table2Section(r),
    precisionSection(r, cells),
    duplicatesSection(r, cells),
    categoriesSection(r),
    r.discoverable?.length ? discoverableSection(r.discoverable) : '',
    r.exposure?.length ? exposureSection(r.exposure, r.canaries_found) : '',
    samplePart.html,
    topListsSection(cells, byId, samplePart.shown),
  ].filter(Boolean);
  const navIds = ['settings', 'table2', 'precision', 'duplicates', 'categories', ...(r.discoverable?.length ? ['discoverable'] : []), ...(r.exposure?.length ? ['exposure'] : []), 'samples', ...(cells.length ? ['top-lists'] : [])];
  const nav = `<nav>${navIds.map((id) => `<a href="#${id}">${id}</a>`).join('')}</nav>`;
  const csp = `default-src 'none'; img-src data:; style-src 'unsafe-inline'`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><h1>${escapeHtml(title)}</h1>
<p>Training-data extraction audit (Carlini et al. 2021): samples ranked by membership metrics, de-duplicated, and verified against the training corpus.</p>
${nav}
${parts.join('\n')}
</body></html>
`;
}

/** Write DIR/index.html atomically (creating DIR); returns its path. */
export function writeAuditReport(dir: string, input: AuditReportInput): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'index.html');
  writeFileAtomicSync(path, renderAuditReport(input));
  return path;
}
