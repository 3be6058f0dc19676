// Discoverable memorization (Carlini et al. 2022, "Quantifying Memorization Across Neural Language Models"): a
// training sequence of L tokens is discoverably memorized when prompting the model with its first L − 50 tokens and
// greedy-decoding 50 tokens reproduces its last 50 exactly. The rate is reported by the sequence's duplicate count in
// the corpus and by L, per model.
//
// Sampling (sampleTrainingSequences): token positions are drawn uniformly, without replacement, over every place a
// sequence of the largest L (Lmax) fits inside one document (documents shorter than Lmax are never drawn). The draw's
// sequence is the Lmax tokens from that position; a shorter L uses the LAST L tokens of the same sequence, so the
// 50-token suffix is identical across L and only the prompt grows. The duplicate count of a draw is
// index.count(the whole Lmax sequence): occurrences within documents (the count of a shorter L's subsequence can be
// higher). Draws fill the duplicate-count buckets (stratified set, one sequence per distinct token content, so a
// sequence repeated 30 times fills a bucket once, not 30 times) until each holds `perBucket` or `maxDraws` positions
// were drawn; the first `uniform` draws (distinct positions, no stratification) form the uniform set, whose rate
// estimates the corpus-wide one.
//
// Scoring (discoverableMemorization): a model with token-level generation (LocalLanguageModel: generateTokens) is
// prompted with token ids and its 50 greedy tokens compared with the suffix's ids. A remote model (generate on text
// only) gets detokenize(prompt ids) and its completion text must start with detokenize(suffix ids): the server
// re-tokenizes the prompt text, which may give other ids than the corpus's (non-canonical splits, a multi-byte
// character cut at the prompt/suffix boundary), so remote rates are an approximation of the token-level criterion.

import type { CorpusIndex } from '../corpus/reader.js';
import type { LanguageModel, TokenLevelModel } from '../lm/language-model.js';
import { prng } from './generate.js';
import type { DiscoverableRow } from './types.js';

/** Duplicate-count buckets [lo, hi] (inclusive), as the paper's log-spaced bins. */
export const DEFAULT_BUCKETS: readonly (readonly [number, number])[] = [
  [1, 1],
  [2, 3],
  [4, 7],
  [8, 15],
  [16, 31],
  [32, Infinity],
];
export const DEFAULT_LENGTHS: readonly number[] = [100, 150, 200];
export const DEFAULT_SUFFIX = 50;

/** One sampled training sequence. */
export interface TrainingSequence {
  /** Global document number (corpus order). */
  docIndex: number;
  /** Document id. */
  doc: string;
  /** Token offset of the sequence's first token in the document. */
  offset: number;
  /** The Lmax token ids (a shorter L is the last L of them). */
  tokens: number[];
  /** Occurrences of `tokens` in the corpus (within documents). */
  count: number;
  /** Distinct documents holding `tokens`. */
  docs: number;
  /** Index into the buckets of the count (−1 when no bucket holds it). */
  bucket: number;
}

export interface SampleOptions {
  /** Sequence lengths L in tokens (default [100, 150, 200]); those longer than the longest document are dropped. */
  lengths?: readonly number[];
  /** Tokens to reproduce (default 50); every L must exceed it. */
  suffix?: number;
  /** Stratified sequences wanted per bucket (default 50). */
  perBucket?: number;
  /** Duplicate-count buckets [lo, hi], inclusive (default DEFAULT_BUCKETS). */
  buckets?: readonly (readonly [number, number])[];
  /** Size of the uniform set (default perBucket). */
  uniform?: number;
  /** Seed of the position draws (default 0). */
  seed?: number;
  /** Most positions drawn (default max(10,000, 100 · perBucket · buckets)). */
  maxDraws?: number;
}

export interface SampledSequences {
  /** The L values kept (ascending; the last is Lmax, the length of every sequence's tokens). */
  lengths: number[];
  suffix: number;
  buckets: [number, number][];
  /** Stratified sequences, grouped by bucket in bucket order, in draw order within a bucket. */
  sequences: TrainingSequence[];
  /** The first `uniform` distinct positions drawn, in draw order (may share sequences with `sequences`). */
  uniform: TrainingSequence[];
  /** Positions drawn. */
  drawn: number;
  /** Positions a sequence of Lmax fits at (the population drawn from). */
  population: number;
  /** bucketFill[b]: stratified sequences in bucket b (≤ perBucket). */
  bucketFill: number[];
}

function bucketOf(buckets: readonly (readonly [number, number])[], count: number): number {
  for (let b = 0; b < buckets.length; b++) if (count >= buckets[b]![0] && count <= buckets[b]![1]) return b;
  return -1;
}

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
}

/** Draw training sequences, stratified by duplicate count, plus a uniform set; deterministic for a seed. */
export function sampleTrainingSequences(index: CorpusIndex, opts: SampleOptions = {}): SampledSequences {
  const suffix = opts.suffix ?? DEFAULT_SUFFIX;
  const perBucket = opts.perBucket ?? 50;
  const buckets = (opts.buckets ?? DEFAULT_BUCKETS).map(([lo, hi]) => [lo, hi] as [number, number]);
  const uniformWanted = opts.uniform ?? perBucket;
  const maxDraws = opts.maxDraws ?? Math.max(10_000, 100 * perBucket * buckets.length);
  checkPositiveInt('suffix', suffix);
  if (!Number.isInteger(perBucket) || perBucket < 0) throw new RangeError(`perBucket must be a non-negative integer, got ${perBucket}`);
  if (!Number.isInteger(uniformWanted) || uniformWanted < 0) throw new RangeError(`uniform must be a non-negative integer, got ${uniformWanted}`);
  checkPositiveInt('maxDraws', maxDraws);
  for (const [lo, hi] of buckets) if (!(lo >= 0 && hi >= lo)) throw new RangeError(`bad bucket [${lo}, ${hi}]`);

  // document lengths; the longest bounds the usable L
  const D = index.totalDocs;
  const lens = new Float64Array(D);
  let longest = 0;
  for (let d = 0; d < D; d++) {
    lens[d] = index.documentLength(d);
    if (lens[d]! > longest) longest = lens[d]!;
  }
  const asked = [...(opts.lengths ?? DEFAULT_LENGTHS)].sort((a, b) => a - b);
  if (asked.length === 0) throw new RangeError('lengths is empty');
  for (const L of asked) {
    checkPositiveInt('each length', L);
    if (L <= suffix) throw new RangeError(`length ${L} must exceed the suffix (${suffix} tokens): the prompt would be empty`);
  }
  let lengths = [...new Set(asked.filter((L) => L <= longest))];
  if (lengths.length === 0) {
    if (longest <= suffix) throw new RangeError(`the longest document has ${longest} tokens: no sequence longer than the suffix (${suffix}) fits`);
    lengths = [longest];
  }
  const Lmax = lengths[lengths.length - 1]!;

  // population: every (document, offset) where Lmax tokens fit; cum[i] = positions in eligible docs before i
  const eligible: number[] = [];
  const cum: number[] = [0];
  for (let d = 0; d < D; d++) {
    const k = lens[d]! - Lmax + 1;
    if (k > 0) {
      eligible.push(d);
      cum.push(cum[cum.length - 1]! + k);
    }
  }
  const population = cum[cum.length - 1]!;
  const locate = (p: number): { d: number; off: number } => {
    let lo = 0;
    let hi = eligible.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (cum[mid]! <= p) lo = mid;
      else hi = mid - 1;
    }
    return { d: eligible[lo]!, off: p - cum[lo]! };
  };

  // without replacement: a sparse Fisher–Yates shuffle of [0, population), drawn lazily
  const rand = prng(opts.seed ?? 0);
  const swapped = new Map<number, number>();
  const drawPosition = (i: number): number => {
    const j = i + Math.floor(rand() * (population - i));
    const vj = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(i) ?? i);
    swapped.delete(i);
    return vj;
  };

  const strat: TrainingSequence[][] = buckets.map(() => []);
  const seenContent = new Set<string>();
  const uniform: TrainingSequence[] = [];
  const idCache = new Map<number, string>();
  const full = () => uniform.length >= uniformWanted && strat.every((s) => s.length >= perBucket);
  let drawn = 0;
  while (drawn < population && drawn < maxDraws && !full()) {
    const p = drawPosition(drawn);
    drawn++;
    const { d, off } = locate(p);
    const tokens = index.documentTokens(d, off, Lmax);
    const { count, docs } = index.count(tokens);
    let doc = idCache.get(d);
    if (doc === undefined) idCache.set(d, (doc = index.documentId(d)));
    const b = bucketOf(buckets, count);
    const seq: TrainingSequence = { docIndex: d, doc, offset: off, tokens, count, docs, bucket: b };
    if (uniform.length < uniformWanted) uniform.push(seq);
    if (b >= 0 && strat[b]!.length < perBucket) {
      const key = tokens.join(',');
      if (!seenContent.has(key)) {
        seenContent.add(key);
        strat[b]!.push(seq);
      }
    }
  }
  return { lengths, suffix, buckets, sequences: strat.flat(), uniform, drawn, population, bucketFill: strat.map((s) => s.length) };
}

/** A model with token-level generation (LocalLanguageModel): prompts and outputs as token ids. */
export function hasTokenGeneration(lm: LanguageModel): lm is LanguageModel & Pick<TokenLevelModel, 'generateTokens'> {
  return typeof (lm as Partial<TokenLevelModel>).generateTokens === 'function';
}

export interface DiscoverableProgress {
  model: string;
  length: number;
  /** Sequences scored so far for this model and length, of `total`. */
  done: number;
  total: number;
}

export interface DiscoverableOptions {
  /** L values (default: the sample's lengths, or the sequences' token length). Each must be ≤ every sequence's length. */
  lengths?: readonly number[];
  /** Tokens to reproduce (default: the sample's suffix, or 50). */
  suffix?: number;
  /** Prompts per generate call (default 16). */
  batch?: number;
  /** Buckets of `dup_lo`/`dup_hi` for plain sequence arrays (default: the sample's, or DEFAULT_BUCKETS). */
  buckets?: readonly (readonly [number, number])[];
  onProgress?: (p: DiscoverableProgress) => void;
}

export interface DiscoverableResult {
  /** Per (model, L, bucket) over the stratified sequences; buckets with no sequence have no row. */
  rows: DiscoverableRow[];
  /** Per (model, L) over the uniform set, with dup_lo = 1, dup_hi = Infinity (every count). */
  uniformRows: DiscoverableRow[];
  /** (model, L) pairs not scored and why (a prompt + suffix longer than the model's context). */
  skipped: string[];
}

/** Per sequence: whether the greedy continuation reproduced the suffix, for one model and L. */
async function extractedFlags(
  name: string,
  model: LanguageModel,
  seqs: TrainingSequence[],
  L: number,
  suffix: number,
  batch: number,
  onProgress: ((p: DiscoverableProgress) => void) | undefined,
): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let i = 0; i < seqs.length; i += batch) {
    const part = seqs.slice(i, i + batch);
    // tokens: [Lmax − L, Lmax − suffix) is the prompt, the last `suffix` tokens are the target
    const split = part.map((s) => {
      const n = s.tokens.length;
      return { prompt: s.tokens.slice(n - L, n - suffix), target: s.tokens.slice(n - suffix) };
    });
    if (hasTokenGeneration(model)) {
      const { rows } = await model.generateTokens(
        split.map((x) => x.prompt),
        { maxTokens: suffix, temperature: 0 },
      );
      split.forEach((x, j) => {
        const got = rows[j]?.tokens ?? [];
        out.push(got.length >= suffix && x.target.every((t, k) => got[k] === t));
      });
    } else {
      const prompts = await Promise.all(split.map((x) => model.detokenize(x.prompt)));
      const targets = await Promise.all(split.map((x) => model.detokenize(x.target)));
      const gens = await model.generate(prompts, { maxTokens: suffix, temperature: 0 });
      targets.forEach((t, j) => out.push((gens[j]?.[0]?.text ?? '').startsWith(t)));
    }
    onProgress?.({ model: name, length: L, done: out.length, total: seqs.length });
  }
  return out;
}

/**
 * Discoverable-memorization rates of each model, by L and duplicate-count bucket (stratified sequences) and by L
 * over the uniform set. `seqs` is sampleTrainingSequences' result, or sequences alone (then only `rows`, from their
 * `bucket`). A sequence in both sets is generated once per (model, L).
 */
export async function discoverableMemorization(
  models: readonly { name: string; model: LanguageModel }[],
  seqs: SampledSequences | readonly TrainingSequence[],
  opts: DiscoverableOptions = {},
): Promise<DiscoverableResult> {
  const sample = Array.isArray(seqs) ? undefined : (seqs as SampledSequences);
  const strat: TrainingSequence[] = sample ? sample.sequences : [...(seqs as readonly TrainingSequence[])];
  const uniform: TrainingSequence[] = sample ? sample.uniform : [];
  const buckets = opts.buckets ?? sample?.buckets ?? DEFAULT_BUCKETS;
  const suffix = opts.suffix ?? sample?.suffix ?? DEFAULT_SUFFIX;
  const batch = opts.batch ?? 16;
  checkPositiveInt('suffix', suffix);
  checkPositiveInt('batch', batch);
  const all = [...strat, ...uniform];
  const minLen = all.length ? Math.min(...all.map((s) => s.tokens.length)) : 0;
  const lengths = [...(opts.lengths ?? sample?.lengths ?? (all.length ? [minLen] : []))];
  for (const L of lengths) {
    checkPositiveInt('each length', L);
    if (L <= suffix) throw new RangeError(`length ${L} must exceed the suffix (${suffix} tokens)`);
    if (all.length && L > minLen) throw new RangeError(`length ${L} is longer than the sampled sequences (${minLen} tokens)`);
  }

  // one generation per distinct (document, offset) and L
  const keyOf = (s: TrainingSequence) => `${s.docIndex}:${s.offset}:${s.tokens.length}`;
  const distinct = new Map<string, TrainingSequence>();
  for (const s of all) if (!distinct.has(keyOf(s))) distinct.set(keyOf(s), s);
  const todo = [...distinct.values()];

  const rows: DiscoverableRow[] = [];
  const uniformRows: DiscoverableRow[] = [];
  const skipped: string[] = [];
  for (const { name, model } of models) {
    const ctx = await model.maxContext();
    for (const L of lengths) {
      if (L > ctx) {
        skipped.push(`${name}, L = ${L}: prompt + suffix exceed the model's context (${ctx} tokens)`);
        continue;
      }
      const flags = await extractedFlags(name, model, todo, L, suffix, batch, opts.onProgress);
      const hit = new Map<string, boolean>();
      todo.forEach((s, i) => hit.set(keyOf(s), flags[i]!));
      buckets.forEach(([lo, hi], b) => {
        const inB = strat.filter((s) => s.bucket === b);
        if (inB.length === 0) return;
        const extracted = inB.filter((s) => hit.get(keyOf(s))).length;
        rows.push({ model: name, length: L, dup_lo: lo, dup_hi: hi, sequences: inB.length, extracted, rate: extracted / inB.length });
      });
      if (uniform.length) {
        const extracted = uniform.filter((s) => hit.get(keyOf(s))).length;
        uniformRows.push({ model: name, length: L, dup_lo: 1, dup_hi: Infinity, sequences: uniform.length, extracted, rate: extracted / uniform.length });
      }
    }
  }
  return { rows, uniformRows, skipped };
}
