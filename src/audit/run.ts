// `tessera audit run`: Carlini et al.'s extraction attack end to end — generate with the three strategies, score with
// the six membership metrics under the target and reference models, verify every sample exactly against the
// training corpus's suffix-array index, rank / de-duplicate / cut the top N per strategy × metric (Table 2), and
// write OUT/samples.jsonl, OUT/results.json (and, with a report directory, the HTML report).
// State lives in OUT/audit.sqlite (store.ts): every stage commits a batch at a time, so kill -9 loses at most the
// batch in flight and `--resume` continues; the output files are replaced atomically, so a failed write (a full
// disk) leaves the earlier ones intact.

import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadCorpus } from '../data/corpora.js';
import { CorpusIndex } from '../corpus/index.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import type { LanguageModel } from '../lm/language-model.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { drawPrompts, generateBatch, hashSeed, isTokenLevel, TEMPERATURE_SCHEDULE_TEXT } from './generate.js';
import { rankSamples } from './rank.js';
import { scoreBatch, type NamedModel } from './score.js';
import { AuditStore } from './store.js';
import { finite, STRATEGIES, type AuditResults, type RankedCell, type SampleRecord, type Strategy } from './types.js';
import { verifySample } from './verify.js';

export const DEFAULT_PROMPT_CORPUS = 'sotu';

export interface AuditRunOptions {
  /** The target, opened (local model or OpenAI-compatible client). */
  target: NamedModel;
  references: NamedModel[];
  /** Corpus index directory (the target's training data). */
  corpusIndex: string;
  /** Tokenizer to query the index with (the index's own); for a local target it must be the target's. */
  indexTokenizer: Tokenizer;
  strategies: Strategy[];
  /** Samples per strategy. */
  samples: number;
  tokens: number;
  promptCorpus: string;
  minTokens: number;
  top: number;
  out: string;
  resume: boolean;
  batch: number;
  seed: number;
  /** Whether the target returns log-probabilities of a text's tokens (false: no metric needs them runs). */
  targetLogprobs: boolean;
  categorize?: (text: string) => string[];
  /** A canary directory (audit canaries): which canaries the attack's samples contain. */
  canaries?: string;
  /** Writes the HTML report into this directory (index.html). */
  report?: string;
  renderReport?: (dir: string, input: { results: AuditResults; samples: SampleRecord[]; cells: RankedCell[] }) => string;
  log?: (msg: string) => void;
  progress?: (stage: string, done: number, total: number) => void;
}

export interface AuditRun {
  results: AuditResults;
  samples: SampleRecord[];
  cells: RankedCell[];
  files: { samples: string; results: string; report?: string };
}

/** The identity of a run, checked on --resume (a different configuration would mix samples). */
function runConfig(o: AuditRunOptions): Record<string, unknown> {
  return {
    target: o.target.name,
    references: o.references.map((r) => r.name),
    corpus_index: resolve(o.corpusIndex),
    strategies: o.strategies,
    samples: o.samples,
    tokens: o.tokens,
    prompt_corpus: o.strategies.includes('internet') ? o.promptCorpus : null,
    min_tokens: o.minTokens,
    batch: o.batch,
    seed: o.seed,
  };
}

function checkResume(store: AuditStore, o: AuditRunOptions): void {
  const want = runConfig(o);
  const have = store.getMeta<Record<string, unknown>>('config');
  if (!have) {
    store.setMeta('config', want);
    return;
  }
  if (!o.resume) throw new Error(`${o.out} already holds an audit run (audit.sqlite); pass --resume to continue it, or choose another --out`);
  const diff = Object.keys(want).filter((k) => JSON.stringify(want[k]) !== JSON.stringify(have[k]));
  if (diff.length > 0) {
    throw new Error(`--resume: ${o.out} holds a run with a different configuration: ${diff.map((k) => `${k} was ${JSON.stringify(have[k])}, now ${JSON.stringify(want[k])}`).join('; ')}`);
  }
}

/** Fixed id ranges [lo, hi) per strategy and batch. */
function batches(o: AuditRunOptions): { strategy: Strategy; lo: number; hi: number }[] {
  const out: { strategy: Strategy; lo: number; hi: number }[] = [];
  o.strategies.forEach((strategy) => {
    const base = STRATEGIES.indexOf(strategy) * o.samples;
    for (let lo = 0; lo < o.samples; lo += o.batch) out.push({ strategy, lo: base + lo, hi: base + Math.min(o.samples, lo + o.batch) });
  });
  return out;
}

async function generateAll(store: AuditStore, o: AuditRunOptions): Promise<void> {
  const plan = batches(o);
  let promptTexts: string[] | undefined;
  const total = o.strategies.length * o.samples;
  let done = store.count('samples');
  o.progress?.('generate', done, total);
  for (const b of plan) {
    const present = store.presentIds('samples', b.lo, b.hi);
    if (present.size === b.hi - b.lo) continue;
    let prompts: string[] = new Array<string>(b.hi - b.lo).fill('');
    if (b.strategy === 'internet') {
      if (!promptTexts) {
        promptTexts = loadCorpus(o.promptCorpus).documents.map((d) => d.text);
      }
      prompts = await drawPrompts(o.target.lm, promptTexts, b.hi - b.lo, hashSeed(o.seed, 'prompts', b.lo), `prompt corpus ${JSON.stringify(o.promptCorpus)}`);
    }
    const gen = await generateBatch(o.target.lm, { strategy: b.strategy, prompts, tokens: o.tokens, seed: hashSeed(o.seed, 'sample', b.lo) });
    store.putSamples(gen.map((g, i) => ({ id: b.lo + i, strategy: b.strategy, prompt: g.prompt, text: g.text })));
    done += b.hi - b.lo - present.size;
    o.progress?.('generate', done, total);
  }
}

async function scoreAll(store: AuditStore, o: AuditRunOptions): Promise<void> {
  const samples = store.samples();
  const have = store.presentIds('scores', 0, Number.MAX_SAFE_INTEGER);
  const todo = samples.filter((s) => !have.has(s.id));
  let done = samples.length - todo.length;
  o.progress?.('score', done, samples.length);
  for (let i = 0; i < todo.length; i += o.batch) {
    const chunk = todo.slice(i, i + o.batch);
    const scores = await scoreBatch(o.target, o.references, chunk.map((s) => s.text), { targetLogprobs: o.targetLogprobs });
    store.putScores(chunk.map((s, j) => ({ id: s.id, scores: scores[j]! })));
    done += chunk.length;
    o.progress?.('score', done, samples.length);
  }
}

function verifyAll(store: AuditStore, index: CorpusIndex, o: AuditRunOptions): void {
  const samples = store.samples();
  const have = store.presentIds('verdicts', 0, Number.MAX_SAFE_INTEGER);
  const todo = samples.filter((s) => !have.has(s.id));
  let done = samples.length - todo.length;
  o.progress?.('verify', done, samples.length);
  for (let i = 0; i < todo.length; i += 64) {
    const chunk = todo.slice(i, i + 64);
    store.putVerdicts(chunk.map((s) => ({ id: s.id, verdict: verifySample(index, o.indexTokenizer.encode(s.text, { allowedSpecial: 'none' }), { minTokens: o.minTokens, categorize: o.categorize }) })));
    done += chunk.length;
    o.progress?.('verify', done, samples.length);
  }
}

/** The metric names a run ranks by. */
export function metricNames(references: readonly NamedModel[], targetLogprobs: boolean): string[] {
  if (!targetLogprobs) return [];
  return ['perplexity', ...references.map((r) => `ratio:${r.name}`), 'zlib', 'lowercase', 'window'];
}

export async function runAudit(o: AuditRunOptions): Promise<AuditRun> {
  const log = o.log ?? (() => {});
  if (o.strategies.length === 0) throw new Error('--strategies: at least one of top-n, temperature, internet');
  mkdirSync(o.out, { recursive: true });
  const index = CorpusIndex.open(o.corpusIndex, { tokenizer: o.indexTokenizer });
  const store = new AuditStore(join(o.out, 'audit.sqlite'));
  const timings: Record<string, number> = {};
  const time = async (stage: string, f: () => Promise<void> | void) => {
    const t0 = performance.now();
    await f();
    timings[stage] = (timings[stage] ?? 0) + (performance.now() - t0) / 1000;
  };
  try {
    checkResume(store, o);
    const notes: string[] = [];
    const skipped: Record<string, string> = {};
    if (!o.targetLogprobs) {
      const why = `${o.target.name} returns no log-probabilities for a text's own tokens, which perplexity, the reference ratios, zlib, lowercase and window all need`;
      for (const m of ['perplexity', 'zlib', 'lowercase', 'window', ...o.references.map((r) => `ratio:${r.name}`)]) skipped[m] = why;
      notes.push(`${why}: samples were generated and verified, but not ranked.`);
    }
    if (isTokenLevel(o.target.lm)) {
      for (const r of o.references) {
        if (isTokenLevel(r.lm) && r.lm.tokenizer.id !== o.target.lm.tokenizer.id) {
          notes.push(`reference ${r.name} uses another tokenizer (${r.lm.tokenizer.id}) than the target (${o.target.lm.tokenizer.id}): its ratio compares per-text perplexities, each under its own tokenizer.`);
        }
      }
    }
    if (!isTokenLevel(o.target.lm) && o.strategies.includes('temperature')) {
      notes.push('the temperature schedule is sent as tessera serve\'s `temperature_schedule` extension; other servers may ignore it and sample at temperature 1.');
    }
    await time('generate', () => generateAll(store, o));
    await time('score', () => scoreAll(store, o));
    await time('verify', () => verifyAll(store, index, o));

    const stored = store.samples();
    const scores = store.scores();
    const verdicts = store.verdicts();
    const samples: SampleRecord[] = stored.map((s) => {
      const sc = scores.get(s.id)!;
      const v = verdicts.get(s.id)!;
      return { id: s.id, strategy: s.strategy, prompt: s.prompt, text: s.text, tokens: v.tokens, ...sc, memorized: v.memorized, longest_match: v.longest_match, spans: v.spans, categories: v.categories };
    });
    const metrics = metricNames(o.references, o.targetLogprobs);
    let ranked!: ReturnType<typeof rankSamples>;
    await time('rank', () => {
      ranked = rankSamples(samples, o.strategies, metrics, o.top);
    });
    const categories: Record<string, number> = {};
    for (const s of samples) for (const c of s.categories) categories[c] = (categories[c] ?? 0) + 1;
    const results: AuditResults = {
      target: o.target.name,
      references: o.references.map((r) => r.name),
      strategies: o.strategies,
      samples: Object.fromEntries(o.strategies.map((st) => [st, samples.filter((s) => s.strategy === st).length])),
      tokens: o.tokens,
      min_tokens: o.minTokens,
      top_n: o.top,
      metrics,
      table2: ranked.table2,
      precision: ranked.precision,
      unique_memorized: ranked.unique_memorized,
      unique_by_strategy: ranked.unique_by_strategy,
      memorized_total: samples.filter((s) => s.memorized).length,
      categories,
      duplicate_rate: ranked.duplicate_rate,
      temperature_schedule: TEMPERATURE_SCHEDULE_TEXT,
      skipped_metrics: skipped,
      notes,
      timings,
    };
    if (o.canaries) {
      const { readCanaryManifest, canariesFound } = await import('./canaries.js');
      const found = canariesFound(readCanaryManifest(o.canaries), samples.map((s) => s.text));
      results.canaries_found = Object.fromEntries([...found.entries()].map(([id, rows]) => [id, rows.map((r) => samples[r]!.id)]));
    }
    const files: AuditRun['files'] = { samples: join(o.out, 'samples.jsonl'), results: join(o.out, 'results.json') };
    writeFileAtomicSync(files.samples, samples.map((s) => JSON.stringify(s, finite)).join('\n') + (samples.length ? '\n' : ''));
    writeFileAtomicSync(files.results, JSON.stringify(results, finite, 2) + '\n');
    if (o.report && o.renderReport) {
      if (!existsSync(o.report)) mkdirSync(o.report, { recursive: true });
      files.report = o.renderReport(o.report, { results, samples, cells: ranked.cells });
    }
    log(`audit: ${samples.length} samples, ${results.memorized_total} memorized, ${results.unique_memorized} unique memorized in the top ${o.top} lists`);
    return { results, samples, cells: ranked.cells, files };
  } finally {
    store.close();
    index.close();
  }
}
