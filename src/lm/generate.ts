// GPT text generation on the shared runtime: a Generator decodes up to `batch` rows at once over a KV cache sized
// for the request (src/runtime/sample-loop.ts: continuous batching, per-job RNG, logits processors, incremental stop
// strings). Kept as the GPT-facing API of `lm generate`, `tessera serve` and the benchmarks.

import type { ByteTokenizer } from '../tokenizer/index.js';
import { CachedStepRunner } from '../runtime/cached-step.js';
import { sampleBatched, type SampleResult } from '../runtime/sample-loop.js';
import { topIndices } from '../runtime/sampler.js';
import type { GPT } from './model.js';
import type { SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxTokens: number;
  seed?: number;
  /** Stop a row when its generated text contains one of these (the stop text is cut off). */
  stop?: string[];
  /** Stop a row at the end-of-text token (default true). */
  stopAtEot?: boolean;
  /** Penalise tokens already in the context (Hugging Face / CTRL repetition penalty; 1 = off). */
  repetitionPenalty?: number;
  /** Only ids in [lo, hi) may be generated. */
  allowedIdRange?: [number, number];
  /** Called with each row's newly decoded text (streaming). */
  onText?: (row: number, text: string) => void;
  warn?: (msg: string) => void;
  /**
   * Report the log-probability (natural log, from the raw logits before temperature or truncation) of each generated
   * token, and this many most likely alternatives per step (0 = the chosen token only). Off when undefined.
   */
  logprobs?: number;
  /** Stop decoding when aborted (unfinished rows report 'length'). */
  signal?: AbortSignal;
}

/** One alternative at a generation step: a token id and its log-probability. */
export interface TopLogprob {
  id: number;
  logprob: number;
}

export interface GenerateResult {
  /** Generated token ids per row (after the prompt; the tokens of a stop string excluded). */
  tokens: number[][];
  texts: string[];
  finish: ('stop' | 'length' | 'eot')[];
  /** With `logprobs`: log p of each token in `tokens`, per row. */
  tokenLogprobs?: number[][];
  /** With `logprobs`: the `logprobs` most likely tokens (descending) at each step of `tokens`, per row. */
  topLogprobs?: TopLogprob[][][];
}

/** Seed of job j of a request seeded with `seed` (splitmix-style mixing, so neighbouring jobs differ). */
export function jobSeed(seed: number, j: number): number {
  let z = (seed + Math.imul(j + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

export class Generator {
  readonly runner: CachedStepRunner;

  constructor(
    readonly model: GPT,
    readonly batch: number,
    readonly tokenizer?: ByteTokenizer,
    runner?: CachedStepRunner,
  ) {
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch must be a positive integer, got ${batch}`);
    this.runner = runner ?? new CachedStepRunner(model);
  }

  /** Generate one continuation per prompt (token ids); more prompts than `batch` run with continuous batching. */
  async generate(prompts: number[][], o: GenerateOptions): Promise<GenerateResult> {
    if (prompts.length === 0) throw new Error('generate needs at least one prompt');
    const tok = this.tokenizer;
    const seed = o.seed ?? 0;
    const greedy = o.greedy || (o.temperature === 0 && !o.temperatureSchedule);
    const rs: SampleResult[] = await sampleBatched(
      this.runner,
      prompts.map((p, j) => ({ prompt: p, seed: jobSeed(seed, j) })),
      {
        batch: this.batch,
        maxTokens: o.maxTokens,
        greedy,
        temperature: greedy ? undefined : o.temperature,
        temperatureSchedule: o.temperatureSchedule,
        topK: o.topK && o.topK > 0 ? o.topK : undefined,
        topP: o.topP,
        repetitionPenalty: o.repetitionPenalty,
        allowedIdRange: o.allowedIdRange,
        eotId: tok?.eotId,
        stopAtEot: o.stopAtEot,
        stop: o.stop?.filter((s) => s !== ''),
        decodeBytes: tok ? (ids) => tok.decodeBytes(ids) : undefined,
        logprobs: o.logprobs,
        onText: o.onText,
        signal: o.signal,
        warn: o.warn,
      },
    );
    return {
      tokens: rs.map((r) => r.tokens),
      texts: rs.map((r) => r.text),
      finish: rs.map((r) => r.finish),
      ...(o.logprobs !== undefined ? { tokenLogprobs: rs.map((r) => r.tokenLogprobs!), topLogprobs: rs.map((r) => r.topLogprobs!) } : {}),
    };
  }

  async release(): Promise<void> {
    await this.runner.release();
  }
}

/** log Σ exp(x), computed stably in double precision. */
export function logSumExp(x: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!;
  if (m === -Infinity || !Number.isFinite(m)) return m;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp(x[i]! - m);
  return m + Math.log(s);
}

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topKIndices(x: ArrayLike<number>, k: number): number[] {
  return topIndices(x, Math.max(0, Math.floor(k)));
}
