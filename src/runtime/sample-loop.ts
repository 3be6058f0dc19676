// Batched sampling with continuous batching: many jobs (a prompt and a seed each: prompts × n samples) run through
// one cache of `batch` rows; every step feeds one token per busy row, and a row that finishes takes the next job, so
// 10,000 samples run at full batch throughout. A job's prompt (all but its last token) is prefilled once in a 1-row
// cache and forked into the row — consecutive jobs with the same prompt share that prefill. Each job has its own RNG
// (seeded from the job), so a sample does not depend on which row or batch it ran in.
//
// Per step: logits processors (temperature, schedule, top-k, top-p, repetition penalty, allowed id range), a sampler
// (greedy or multinomial) and per-row stopping criteria (max tokens, end-of-text, stop strings found incrementally).
// When the processors only need the largest logits (temperature / top-k / top-p, or greedy), the graph returns the
// top K logits and log Σ exp instead of the whole (B, V) row, which is what makes large-vocabulary sampling cheap.

import { Rng } from '../nn/init.js';
import { CachedStepRunner, type StepOutput } from './cached-step.js';
import type { KVCache } from './kv-cache.js';
import { buildSamplingPipeline, isGreedy, logSumExp, topLogprobs, type Sampler } from './sampler.js';
import { applyProcessors, type LogitsProcessor, type ProcessorOptions } from './logits-processors.js';
import { RowStopper, type DecodeBytes, type FinishReason } from './stopping.js';

export interface SampleJob {
  prompt: readonly number[];
  seed: number;
}

export interface SampleLoopOptions extends ProcessorOptions {
  greedy?: boolean;
  /** New tokens per job (≥ 1). */
  maxTokens: number;
  /** Rows decoded together. */
  batch: number;
  /** End-of-text id: a row stops there unless stopAtEot is false. */
  eotId?: number;
  stopAtEot?: boolean;
  stop?: string[];
  /** Token bytes, for text, streaming and stop strings. */
  decodeBytes?: DecodeBytes;
  /** Report the log-probability (of the raw logits) of each generated token and this many alternatives. */
  logprobs?: number;
  /** Newly visible text of job j. */
  onText?: (job: number, text: string) => void;
  /** A job finished (results stream out in completion order). */
  onDone?: (job: number, result: SampleResult) => void;
  signal?: AbortSignal;
  warn?: (msg: string) => void;
}

export interface SampleResult {
  tokens: number[];
  text: string;
  finish: FinishReason;
  tokenLogprobs?: number[];
  topLogprobs?: { id: number; logprob: number }[][];
}

interface Row {
  job: number;
  context: number[];
  promptLength: number;
  pending: number;
  generated: number[];
  lps: number[];
  tops: { id: number; logprob: number }[][];
  stopper: RowStopper;
  rng: Rng;
}

/** Most bytes of baked weight copies the growing cache may cost (one program per capacity). */
const GROWTH_BUDGET = 3e9;

/** Round n up to a multiple of 64 (capacities are bucketed so programs are reused), at most `max`. */
function capacityFor(n: number, max: number): number {
  return Math.min(max, Math.ceil(n / 64) * 64);
}

/**
 * The cache capacities a decode of prompts up to `maxPrompt` tokens and `maxTokens` new ones steps through: multiples
 * of 64 from the prompt up to prompt + maxTokens, or only the last when the per-capacity weight copies of a model of
 * `params` parameters would pass GROWTH_BUDGET (TESSERA_GROW_CACHE=0/1 forces it off/on).
 */
export function decodeCapacities(maxPrompt: number, maxTokens: number, blockSize: number, params: number): number[] {
  const cap = capacityFor(maxPrompt + maxTokens, blockSize);
  const out: number[] = [];
  for (let c = Math.min(cap, capacityFor(maxPrompt + 1, blockSize)); c < cap; c += 64) out.push(c);
  out.push(cap);
  const env = process.env.TESSERA_GROW_CACHE;
  const grow = env !== undefined ? env !== '0' : params * 4 * out.length <= GROWTH_BUDGET;
  return grow ? out : [cap];
}

function needsFullLogits(processors: readonly LogitsProcessor[]): boolean {
  const onLargest = new Set(['temperature', 'temperature-schedule', 'top-k', 'top-p']);
  return processors.some((p) => !onLargest.has(p.name));
}

export async function sampleBatched(runner: CachedStepRunner, jobs: readonly SampleJob[], o: SampleLoopOptions): Promise<SampleResult[]> {
  const cfg = runner.model.tcfg;
  const S = cfg.blockSize;
  const V = cfg.vocabSize;
  if (!Number.isInteger(o.batch) || o.batch < 1) throw new Error(`batch must be a positive integer, got ${o.batch}`);
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) throw new Error(`maxTokens must be an integer ≥ 1, got ${o.maxTokens}`);
  if (o.logprobs !== undefined && (!Number.isInteger(o.logprobs) || o.logprobs < 0 || o.logprobs > V)) {
    throw new Error(`logprobs must be an integer in [0, ${V}], got ${o.logprobs}`);
  }
  if (o.topK !== undefined && o.topK !== 0 && (!Number.isInteger(o.topK) || o.topK < 1 || o.topK > V)) throw new Error(`topK must be an integer in [1, ${V}] (0 = off), got ${o.topK}`);
  const pipeline: { processors: LogitsProcessor[]; sampler: Sampler } = buildSamplingPipeline(o);
  const greedy = isGreedy(o);
  const prompts = jobs.map((j, i) => {
    let p = j.prompt.length === 0 ? [o.eotId ?? 0] : [...j.prompt];
    p.forEach((id) => {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`job ${i}: prompt token id ${id} is outside 0..${V - 1}`);
    });
    if (p.length > S - 1) {
      o.warn?.(`prompt of ${p.length} tokens is longer than the context (${S}); keeping the last ${S - 1}`);
      p = p.slice(p.length - (S - 1));
    }
    return p;
  });
  const results: SampleResult[] = new Array(jobs.length);
  if (jobs.length === 0) return results;
  const B = Math.min(o.batch, jobs.length);
  const maxPrompt = Math.max(...prompts.map((p) => p.length));
  // the cache starts small and grows in steps of 64 slots up to the last capacity (`cap`): a step attends over the slots in use (about),
  // not the final capacity — attention over the cache is memory bound, so unused slots cost as much as used ones
  // Each capacity is its own program with its own baked copy of the weights, so growth is on only while the copies
  // stay under GROWTH_BUDGET bytes (GPT-2 small: 5 × 0.5 GB for 256 tokens; larger models decode at one capacity).
  const steps = decodeCapacities(maxPrompt, o.maxTokens, S, runner.model.parameterCount());
  const cap = steps[steps.length - 1]!;
  /** The capacity for rows of up to n tokens (n ≤ cap): the first step that holds them. */
  const capacityAtLeast = (n: number) => steps.find((c) => c >= n) ?? cap;
  let cache = runner.newCache(B, steps[0]!);
  // what the graph returns: the top K logits when the processors only look at the largest ones
  const K = greedy ? Math.max(1, o.logprobs ?? 0) : o.topK ? Math.max(o.topK, o.logprobs ?? 0) : 0;
  const full = needsFullLogits(pipeline.processors) || K === 0;
  const out: StepOutput = full ? { kind: 'last' } : { kind: 'lastTopK', k: K };
  const stopAtEot = o.stopAtEot ?? true;
  let prefixCache: { key: string; cache: KVCache } | undefined;
  const prefill = async (tokens: number[], row: number) => {
    // all but the last token go into the cache (once per distinct prompt); the last is fed by the next step
    const head = tokens.slice(0, -1);
    cache.reset(row);
    if (head.length === 0) return;
    const key = head.join(',');
    if (prefixCache?.key !== key) {
      const c = runner.newCache(1, cap);
      await runner.step(c, [head], { kind: 'none' });
      prefixCache = { key, cache: c };
    }
    if (head.length + 1 > cache.capacity) cache = cache.resized(capacityAtLeast(head.length + 1));
    cache.copyRowFrom(prefixCache.cache, 0, row);
  };
  const rows: (Row | undefined)[] = new Array(B).fill(undefined);
  let nextJob = 0;
  const assign = async (r: number) => {
    if (nextJob >= jobs.length) {
      rows[r] = undefined;
      cache.reset(r);
      return;
    }
    const j = nextJob++;
    const p = prompts[j]!;
    await prefill(p, r);
    rows[r] = {
      job: j,
      context: [...p],
      promptLength: p.length,
      pending: p[p.length - 1]!,
      generated: [],
      lps: [],
      tops: [],
      stopper: new RowStopper({ maxTokens: o.maxTokens, eotId: stopAtEot ? o.eotId : undefined, stop: o.stop, decodeBytes: o.decodeBytes }),
      rng: new Rng(jobs[j]!.seed),
    };
  };
  const finish = (r: number) => {
    const row = rows[r]!;
    const keep = row.stopper.finish === 'stop' ? row.stopper.tokensForText() : row.generated.length;
    const res: SampleResult = {
      tokens: row.generated.slice(0, keep),
      text: row.stopper.text,
      finish: row.stopper.finish ?? 'length',
      ...(o.logprobs !== undefined ? { tokenLogprobs: row.lps.slice(0, keep), topLogprobs: row.tops.slice(0, keep) } : {}),
    };
    results[row.job] = res;
    o.onDone?.(row.job, res);
  };
  for (let r = 0; r < B; r++) await assign(r);
  const work = new Float32Array(full ? V : K);
  while (rows.some((r) => r !== undefined)) {
    if (o.signal?.aborted) {
      // unfinished rows report what they have, as 'length'
      rows.forEach((row, r) => row && finish(r));
      for (let j = nextJob; j < jobs.length; j++) results[j] ??= { tokens: [], text: '', finish: 'length' };
      break;
    }
    // a row whose context filled the cache re-encodes its most recent half (learned positions restart at 0)
    for (let r = 0; r < B; r++) {
      const row = rows[r];
      if (row && cache.lengths[r]! >= cap) {
        const keep = row.context.slice(-Math.floor(S / 2));
        await prefill(keep, r);
        row.pending = keep[keep.length - 1]!;
      }
    }
    const longest = Math.max(...rows.map((row, r) => (row ? cache.lengths[r]! + 1 : 0)));
    if (longest > cache.capacity) cache = cache.resized(capacityAtLeast(longest));
    const step = await runner.step(cache, rows.map((row) => (row ? [row.pending] : [])), out);
    for (let r = 0; r < B; r++) {
      const row = rows[r];
      if (!row) continue;
      const i = row.generated.length;
      let lse: number;
      let raw: (t: number) => number; // raw logit of compact index t
      let idOf: (t: number) => number;
      if (full) {
        const logits = step.logits!.subarray(r * V, (r + 1) * V);
        work.set(logits);
        raw = (t) => logits[t]!;
        idOf = (t) => t;
        lse = o.logprobs !== undefined ? logSumExp(logits) : 0;
      } else {
        const vals = step.topValues!.subarray(r * K, (r + 1) * K);
        const ids = step.topIds!.subarray(r * K, (r + 1) * K);
        work.set(vals);
        raw = (t) => vals[t]!;
        idOf = (t) => Number(ids[t]!);
        lse = step.logSumExp![r]!;
      }
      applyProcessors(pipeline.processors, work, { step: i, tokens: row.context, promptLength: row.promptLength });
      const t = pipeline.sampler.select(work, row.rng);
      const id = idOf(t);
      if (o.logprobs !== undefined) {
        row.lps.push(raw(t) - lse);
        if (full) row.tops.push(topLogprobs(step.logits!.subarray(r * V, (r + 1) * V), o.logprobs));
        else row.tops.push(Array.from({ length: o.logprobs }, (_, a) => ({ id: idOf(a), logprob: raw(a) - lse })));
      }
      const s = row.stopper.push(id);
      if (s.keepToken) {
        row.generated.push(id);
        row.context.push(id);
      } else {
        row.lps.pop();
        row.tops.pop();
      }
      if (s.text) o.onText?.(row.job, s.text);
      if (s.done) {
        finish(r);
        await assign(r);
      } else row.pending = id;
    }
  }
  return results;
}
