// Tests for the audit HTML report: escaping of hostile sample text, merged <mark> highlights of overlapping spans,
// Table 2 numbers and bold bests, embedded PNG plots, no network assets, the sample cap and order, and the atomic
// write of DIR/index.html.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeHtml, highlightSpans, mergeSpans, renderAuditReport, writeAuditReport, type AuditReportInput } from '../../src/audit/report.js';
import type { AuditResults, RankedCell, SampleRecord, Strategy } from '../../src/audit/types.js';

const HOSTILE = 'Hello <script>alert(1)</script> from "jm" & co\nbye';
// '<script>' is chars 6..14, 'alert(1)' 14..22, '</script>' 22..31; ' & co' is 41..46.

function sample(id: number, strategy: Strategy, text: string, o: Partial<SampleRecord> = {}): SampleRecord {
  return {
    id, strategy, prompt: '', text, tokens: [], ppl: 12.5, ppl_lower: 20, ppl_window: 30, zlib: 40, ref_ppl: { small: 25 },
    scores: { perplexity: -Math.log(12.5), zlib: 0.1 * id }, memorized: false, longest_match: null, spans: [], categories: [], ...o,
  };
}

function fixture(): AuditReportInput {
  const samples: SampleRecord[] = [
    sample(1, 'top-n', HOSTILE, {
      memorized: true,
      categories: ['code', 'email-header'],
      spans: [
        { start: 1, end: 5, char_start: 6, char_end: 22, count: 2, docs: 1 },
        { start: 3, end: 8, char_start: 14, char_end: 31, count: 2, docs: 1 },
        { start: 10, end: 12, char_start: 41, char_end: 46, count: 1, docs: 1 },
      ],
      longest_match: {
        tokens: [1, 2, 3, 4, 5, 6, 7], text: '<script>alert(1)</script>', count: 2, docs: 1,
        sources: [
          { doc: 'easy-ham/0001.<b>', offset: 42, before: 'X-Evil: <img src=x onerror=1>', match: '<script>alert(1)</script>', after: ' tail & more' },
          { doc: 'corpus.jsonl:17', offset: 7 },
        ],
      },
    }),
    sample(2, 'top-n', 'a short memorized run', {
      memorized: true, categories: ['other'],
      spans: [{ start: 0, end: 3, char_start: 2, char_end: 13, count: 5, docs: 3 }],
      longest_match: { tokens: [1, 2, 3], text: 'short memori', count: 5, docs: 3, sources: [{ doc: 'd2', offset: 0, before: '', match: 'short memori', after: '' }] },
    }),
    sample(3, 'temperature', 'visit http://example.com/x.png now', {
      memorized: true, categories: ['url'],
      spans: [{ start: 0, end: 9, char_start: 0, char_end: 34, count: 1, docs: 1 }],
      longest_match: { tokens: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], text: 'visit http://example.com/x.png now', count: 1, docs: 1, sources: [] },
    }),
    sample(4, 'temperature', 'not memorized at all'),
  ];
  const cells: RankedCell[] = [
    { strategy: 'top-n', metric: 'perplexity', top: [1, 2], memorized: 2, precision: [1, 1], duplicates: 1 },
    { strategy: 'top-n', metric: 'zlib', top: [2, 1], memorized: 2, precision: [1, 1], duplicates: 0 },
    { strategy: 'temperature', metric: 'perplexity', top: [4, 3], memorized: 1, precision: [0, 0.5], duplicates: 0 },
    { strategy: 'temperature', metric: 'zlib', top: [3, 4], memorized: 1, precision: [1, 0.5], duplicates: 2 },
  ];
  const results: AuditResults = {
    target: 'gpt2-<small>', references: ['small'], strategies: ['top-n', 'temperature'], samples: { 'top-n': 2, temperature: 2 },
    tokens: 256, min_tokens: 50, top_n: 2, metrics: ['perplexity', 'zlib'],
    table2: { 'top-n': { perplexity: 17, zlib: 23 }, temperature: { perplexity: 11, zlib: 9 } },
    precision: { 'top-n': { perplexity: [1, 1], zlib: [1, 1] }, temperature: { perplexity: [0, 0.5], zlib: [1, 0.5] } },
    unique_memorized: 31, unique_by_strategy: { 'top-n': 29, temperature: 13 }, memorized_total: 3,
    categories: { code: 1, 'email-header': 1, other: 1, url: 1 }, duplicate_rate: { 'top-n': 0.25, temperature: 0.5 },
    temperature_schedule: 'linear 10 → 1 over the first 20 tokens', skipped_metrics: { window: 'remote target <no logprobs>' },
    notes: ['note with <b>markup</b>'],
    discoverable: [
      { model: 'm', length: 50, dup_lo: 1, dup_hi: 1, sequences: 10, extracted: 1, rate: 0.1 },
      { model: 'm', length: 50, dup_lo: 2, dup_hi: 3, sequences: 10, extracted: 4, rate: 0.4 },
      { model: 'm', length: 100, dup_lo: 1, dup_hi: 1, sequences: 10, extracted: 2, rate: 0.2 },
      { model: 'm', length: 100, dup_lo: 2, dup_hi: 3, sequences: 10, extracted: 6, rate: 0.6 },
    ],
    exposure: [
      { id: 'c1', format: 'ssn', secret: '123-45-6789', repeats: 1, rank: 50, candidates: 1000, exposure: 4.3, exposure_extrapolated: 4.5, log_perplexity: 30 },
      { id: 'c2', format: 'ssn', secret: '<987>', repeats: 10, rank: 1, candidates: 1000, exposure: 9.97, exposure_extrapolated: 14.2, log_perplexity: 5, found_by_attack: true },
    ],
    canaries_found: { c2: [3] },
    timings: { generate: 1.5 },
  };
  return { results, samples, cells };
}

test('mergeSpans / highlightSpans: overlapping and touching spans merge, ranges clamp, text escapes', () => {
  assert.deepEqual(mergeSpans([{ char_start: 5, char_end: 9 }, { char_start: 0, char_end: 3 }, { char_start: 2, char_end: 4 }, { char_start: 9, char_end: 12 }], 10), [[0, 4], [5, 10]]);
  assert.deepEqual(mergeSpans([{ char_start: 3, char_end: 3 }, { char_start: -2, char_end: 1 }], 5), [[0, 1]]);
  assert.equal(highlightSpans('a<b>c&d', [{ char_start: 1, char_end: 4 }]), 'a<mark>&lt;b&gt;</mark>c&amp;d');
  assert.equal(highlightSpans('plain', []), 'plain');
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('renderAuditReport: sample text is escaped, no <script> anywhere', () => {
  const html = renderAuditReport(fixture());
  assert.ok(!/<script/i.test(html), 'no <script element in the page');
  assert.ok(!/<img src=x/i.test(html), 'source context escaped');
  assert.ok(!html.includes('<b>markup</b>') && html.includes('&lt;b&gt;markup&lt;/b&gt;'), 'notes escaped');
  assert.ok(html.includes('gpt2-&lt;small&gt;'));
  assert.ok(html.includes('easy-ham/0001.&lt;b&gt;'));
  assert.ok(html.includes('remote target &lt;no logprobs&gt;'));
});

test('renderAuditReport: <mark> holds exactly the merged verbatim text', () => {
  const html = renderAuditReport(fixture());
  const text = html.match(/id="s-1">[\s\S]*?<pre class="text">([\s\S]*?)<\/pre>/)![1]!;
  assert.equal(text, 'Hello <mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark> from &quot;jm&quot;<mark> &amp; co</mark>\nbye');
  assert.ok(html.includes('X-Evil: &lt;img src=x onerror=1&gt;<mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark> tail &amp; more'), 'source match highlighted');
  assert.ok(html.includes('doc <code>corpus.jsonl:17</code>, token offset 7') && html.includes('context not decodable'));
  assert.ok(html.includes('2 occurrences in 1 doc (k = 1)'));
});

test('renderAuditReport: Table 2 numbers, best per column bold, Unique row and total', () => {
  const html = renderAuditReport(fixture());
  const grid = html.match(/<table class="grid">([\s\S]*?)<\/table>/)![1]!;
  assert.ok(grid.includes('<th>metric</th><th>top-n</th><th>temperature</th>'));
  assert.ok(grid.includes('<tr><td><code>perplexity</code></td><td>17</td><td><b>11</b></td></tr>'), grid);
  assert.ok(grid.includes('<tr><td><code>zlib</code></td><td><b>23</b></td><td>9</td></tr>'), grid);
  assert.ok(grid.includes('<tr><td><b>Unique</b></td><td>29</td><td>13</td></tr>'), grid);
  assert.ok(html.includes('<b class="total">31</b>'));
  assert.ok(html.includes('25.0%') && html.includes('50.0%'), 'duplicate rates');
  assert.ok(html.includes('linear 10 → 1 over the first 20 tokens'));
});

test('renderAuditReport: plots are embedded PNGs; no network assets', () => {
  const html = renderAuditReport(fixture());
  const imgs = [...html.matchAll(/src="data:image\/png;base64,([A-Za-z0-9+/=]+)"/g)];
  assert.equal(imgs.length, 2 + 1 + 1, 'two precision plots, discoverable, exposure');
  for (const m of imgs) assert.deepEqual([...Buffer.from(m[1]!, 'base64').subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  assert.ok(!/(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i.test(html), 'no remote src/href');
  assert.ok(!/<link\b/i.test(html) && !/@import/i.test(html) && !/url\(/i.test(html));
  assert.ok(html.includes('http://example.com/x.png'), 'URLs in sample text stay text');
  assert.ok(html.includes('Discoverable memorization') && html.includes('Canary exposure'));
  assert.ok(html.includes('<code>&lt;987&gt;</code>') && html.includes('<b>yes</b>'));
});

test('renderAuditReport: memorized samples longest match first; cap with a note', () => {
  const input = fixture();
  const html = renderAuditReport(input);
  const ids = [...html.matchAll(/<article class="sample" id="s-(\d+)"/g)].map((m) => Number(m[1]));
  assert.deepEqual(ids, [3, 1, 2]);
  const capped = renderAuditReport({ ...input, maxSamples: 1 });
  assert.deepEqual([...capped.matchAll(/<article class="sample" id="s-(\d+)"/g)].map((m) => Number(m[1])), [3]);
  assert.ok(capped.includes('Showing the 1 memorized samples with the longest matches of 3'));
  assert.ok(capped.includes('<a href="#s-3">#3</a>') && !capped.includes('href="#s-1"'), 'top lists link only shown samples');
});

test('renderAuditReport: no discoverable / exposure sections when absent; empty cells ok', () => {
  const { results, samples } = fixture();
  const html = renderAuditReport({ results: { ...results, discoverable: undefined, exposure: undefined }, samples, cells: [], title: 'T <x>' });
  assert.ok(!html.includes('Discoverable memorization') && !html.includes('Canary exposure'));
  assert.ok(html.includes('<title>T &lt;x&gt;</title>'));
  assert.equal([...html.matchAll(/data:image\/png;base64,/g)].length, 2);
});

test('writeAuditReport: writes DIR/index.html atomically and returns its path', () => {
  const root = mkdtempSync(join(tmpdir(), 'audit-report-'));
  try {
    const dir = join(root, 'nested', 'report');
    const input = fixture();
    const path = writeAuditReport(dir, input);
    assert.equal(path, join(dir, 'index.html'));
    assert.equal(readFileSync(path, 'utf8'), renderAuditReport(input));
    assert.deepEqual(readdirSync(dir), ['index.html'], 'no temp file left');
    writeAuditReport(dir, { ...input, title: 'second' });
    assert.ok(readFileSync(path, 'utf8').includes('<title>second</title>'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
