// One language-model interface for evaluation, extraction and serving, with a local implementation over a loaded GPT
// (Scorer + KV-cache Generator). src/lm/openai-client.ts implements the same interface over an OpenAI-compatible
// /v1/completions server (vLLM, llama.cpp's server, or `tessera serve`, which serves a LocalLanguageModel).
//
// Log-likelihood semantics follow lm-evaluation-harness: trailing whitespace of the context moves to the continuation;
// the continuation's tokens are those of encode(context + continuation) after the tokens of encode(context); an empty
// context is replaced by the end-of-text token. Rolling log-likelihood scores a whole text conditioned on the
// end-of-text token only (overlapping windows for texts longer than the context).

import type { ByteTokenizer, Tokenizer } from '../tokenizer/index.js';
import { BatchScorer } from '../runtime/batch-scorer.js';
import { beamSearch } from '../runtime/beam-search.js';
import { CachedBeamStepper } from '../runtime/beam-stepper.js';
import { CachedStepRunner } from '../runtime/cached-step.js';
import { loadModel } from './checkpoint.js';
import { Generator, type TopLogprob } from './generate.js';
import type { GPT } from './model.js';

export type { TopLogprob } from './generate.js';

export interface LoglikelihoodRequest {
  context: string;
  continuation: string;
}

export interface LoglikelihoodResult {
  /** Sum of log p(continuation token | everything before it), natural log (NaN when `error` is set). */
  logprob: number;
  /** Whether every continuation token is the model's argmax prediction. */
  isGreedy: boolean;
  /** Number of continuation tokens scored (GPT-3's per-token normalisation divides by it). */
  tokens?: number;
  /** Why this request could not be scored (the other requests of the call still are). */
  error?: string;
}

export interface RollingResult {
  /** Sum of the log-probabilities of all scored tokens. */
  logprob: number;
  /** Number of tokens scored (the text's tokens; one fewer when the tokenizer has no end-of-text token). */
  tokens: number;
}

export interface ScoreResult {
  /** The text's token ids. */
  tokens: number[];
  /** logprobs[i] = log p(tokens[i] | tokens[<i]); null for i = 0 (same contract as `lm score --json`). */
  logprobs: (number | null)[];
}

export type FinishReason = 'stop' | 'length' | 'eot';

export interface GenerateRequestOptions {
  maxTokens: number;
  /** 0 = greedy (default 1). */
  temperature?: number;
  topP?: number;
  /** 0 or undefined = no top-k truncation. */
  topK?: number;
  stop?: string[];
  /** Completions per prompt (default 1). */
  n?: number;
  /** Sampling seed (default: random). Same request + same seed = same samples. */
  seed?: number;
  /** Linear decay from `start` to `end` over the first `over` tokens (overrides temperature). */
  temperatureSchedule?: { start: number; end: number; over: number };
}

export interface Completion {
  text: string;
  finishReason: FinishReason;
}

/** A language model for scoring and sampling, local or remote. Every method is async. */
export interface LanguageModel {
  readonly name: string;
  /** Context length in tokens. */
  maxContext(): Promise<number>;
  tokenize(text: string): Promise<number[]>;
  detokenize(ids: number[]): Promise<string>;
  loglikelihood(reqs: LoglikelihoodRequest[]): Promise<LoglikelihoodResult[]>;
  loglikelihoodRolling(texts: string[]): Promise<RollingResult[]>;
  score(text: string): Promise<ScoreResult>;
  /** score() of many texts, batched where the model can (optional; callers fall back to score per text). */
  scoreMany?(texts: string[]): Promise<ScoreResult[]>;
  /** n completions per prompt: result[p][j] is completion j of prompt p. */
  generate(prompts: string[], opts: GenerateRequestOptions): Promise<Completion[][]>;
  /** Beam search, best hypothesis per prompt (local models; OpenAI-compatible servers have no beam search). */
  generateBeam?(prompts: string[], opts: BeamRequestOptions): Promise<Completion[]>;
  close(): Promise<void>;
}

export interface BeamRequestOptions {
  numBeams: number;
  maxTokens: number;
  /** α of the length penalty (default 1). */
  lengthPenalty?: number;
  /** 'gnmt': ((5 + |y|) / 6)^α, GPT-3's; 'hf' (default): |y|^α, Hugging Face's. */
  lengthPenaltyStyle?: 'hf' | 'gnmt';
  stop?: string[];
}

/** lm-evaluation-harness: move the context's trailing whitespace to the front of the continuation. */
export function moveTrailingWhitespace(context: string, continuation: string): { context: string; continuation: string } {
  const trimmed = context.trimEnd();
  const n = context.length - trimmed.length;
  return n > 0 ? { context: trimmed, continuation: context.slice(trimmed.length) + continuation } : { context, continuation };
}

/**
 * Token ids of a (context, continuation) pair, lm-evaluation-harness `_encode_pair`: the continuation is what
 * encode(context + continuation) has after encode(context)'s length. An empty context becomes [eot] (an error when
 * the tokenizer has none: the first continuation token could not be scored).
 */
export function encodePair(tok: Pick<Tokenizer, 'encode' | 'eotId'>, context: string, continuation: string): { context: number[]; continuation: number[] } {
  if (context === '') {
    if (tok.eotId === undefined) throw new Error('loglikelihood with an empty context needs a tokenizer with an end-of-text token');
    return { context: [tok.eotId], continuation: tok.encode(continuation) };
  }
  const m = moveTrailingWhitespace(context, continuation);
  if (m.context === '') {
    // the context was all whitespace: it moved into the continuation
    if (tok.eotId === undefined) throw new Error('loglikelihood with a whitespace-only context needs a tokenizer with an end-of-text token');
    return { context: [tok.eotId], continuation: tok.encode(m.continuation) };
  }
  const whole = tok.encode(m.context + m.continuation);
  const ctx = tok.encode(m.context);
  return { context: ctx, continuation: whole.slice(ctx.length) };
}

/** Per-token scores of a token sequence (index 0 has no prediction). */
export interface TokenScores {
  logprobs: (number | null)[];
  greedy: (boolean | null)[];
  /** With topK > 0: the topK most likely tokens at each position (null at 0). */
  top?: (TopLogprob[] | null)[];
}

export interface TokenGenerateOptions extends GenerateRequestOptions {
  /** Report log-probabilities of generated tokens and this many alternatives per step. */
  logprobs?: number;
  /** Streaming: newly decoded visible text of output row `row` (rows are prompt-major: p * n + j). */
  onText?: (row: number, text: string) => void;
  signal?: AbortSignal;
}

export interface TokenGeneration {
  /** Generated token ids (stop text excluded). */
  tokens: number[];
  text: string;
  finishReason: FinishReason;
  tokenLogprobs?: number[];
  topLogprobs?: TopLogprob[][];
}

/** What `tessera serve` needs beyond LanguageModel: token-level scoring with alternatives, and token-level generation. */
export interface TokenLevelModel {
  readonly name: string;
  readonly contextLength: number;
  readonly tokenizer: ByteTokenizer;
  scoreTokens(ids: number[], topK: number, signal?: AbortSignal): Promise<TokenScores>;
  /** rows[p * n + j] is completion j of prompt p; warnings (e.g. prompt truncation) are returned, not thrown. */
  generateTokens(prompts: number[][], o: TokenGenerateOptions): Promise<{ rows: TokenGeneration[]; warnings: string[] }>;
}

export interface LocalModelOptions {
  /** Model id (default 'tessera'). */
  name?: string;
  /** Rows decoded together; bigger requests run with continuous batching. Default 8. */
  maxBatch?: number;
  /** Rows scored together by loglikelihood / rolling / scoreTokens. Default 16. */
  scoreBatch?: number;
}

const randomSeed = () => Math.floor(Math.random() * 2 ** 32);

/** A GPT loaded in this process. Operations run one at a time (the ONNX sessions and KV caches are shared). */
export class LocalLanguageModel implements LanguageModel, TokenLevelModel {
  readonly name: string;
  readonly maxBatch: number;
  private readonly runner: CachedStepRunner;
  private readonly scorer: BatchScorer;
  private readonly generator: Generator;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly model: GPT,
    readonly tokenizer: ByteTokenizer,
    opts: LocalModelOptions = {},
  ) {
    if (tokenizer.vocabSize > model.config.vocabSize) {
      throw new Error(`tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${model.config.vocabSize}`);
    }
    this.name = opts.name ?? 'tessera';
    const mb = opts.maxBatch ?? 8;
    if (!Number.isInteger(mb) || mb < 1) throw new Error(`maxBatch must be a positive integer, got ${mb}`);
    this.maxBatch = mb;
    // one runner: scoring and decoding share its compiled programs
    this.runner = new CachedStepRunner(model);
    this.scorer = new BatchScorer(this.runner, { batch: opts.scoreBatch ?? 16 });
    this.generator = new Generator(model, mb, tokenizer, this.runner);
  }

  /** Load a model directory (see loadModel); the directory must carry a tokenizer, or pass one. */
  static load(dir: string, opts: LocalModelOptions & { tokenizer?: string } = {}): LocalLanguageModel {
    const { model, tokenizer, dir: resolved } = loadModel(dir, { tokenizer: opts.tokenizer });
    if (!tokenizer) throw new Error(`${resolved}: no tokenizer files in the model directory; pass a tokenizer (gpt2 | bytes | PATH)`);
    const name = opts.name ?? (resolved.split(/[\\/]/).filter(Boolean).filter((p) => p !== 'checkpoint').pop() || 'tessera');
    return new LocalLanguageModel(model, tokenizer, { ...opts, name });
  }

  get contextLength(): number {
    return this.model.config.blockSize;
  }

  async maxContext(): Promise<number> {
    return this.contextLength;
  }

  /** Run `fn` after every earlier operation has finished (errors do not block the queue). */
  private exclusive<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.queue.then(() => {
      if (this.closed) throw new Error(`model '${this.name}' is closed`);
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async tokenize(text: string): Promise<number[]> {
    return this.tokenizer.encode(text);
  }

  async detokenize(ids: number[]): Promise<string> {
    return this.tokenizer.decode(ids);
  }

  async loglikelihood(reqs: LoglikelihoodRequest[]): Promise<LoglikelihoodResult[]> {
    const pairs: { context: number[]; continuation: number[] }[] = [];
    const errors = new Map<number, string>();
    reqs.forEach((r, i) => {
      try {
        pairs.push(encodePair(this.tokenizer, r.context, r.continuation));
      } catch (err) {
        errors.set(i, `request ${i}: ${(err as Error).message}`);
        pairs.push({ context: [], continuation: [] });
      }
    });
    const scored = await this.exclusive(() => this.scorer.loglikelihood(pairs));
    return scored.map((s, i) => {
      const e = errors.get(i) ?? (s instanceof Error ? s.message : undefined);
      if (e !== undefined || s instanceof Error) return { logprob: NaN, isGreedy: false, error: e };
      return { logprob: s.logprob, isGreedy: s.isGreedy, tokens: s.tokenLogprobs.length };
    });
  }

  async loglikelihoodRolling(texts: string[]): Promise<RollingResult[]> {
    const eot = this.tokenizer.eotId;
    const seqs = texts.map((text) => {
      const ids = this.tokenizer.encode(text);
      return eot !== undefined ? [eot, ...ids] : ids;
    });
    const r = await this.exclusive(() => this.scorer.rolling(seqs));
    return r.map((x) => ({ logprob: x.logprob, tokens: x.tokens }));
  }

  async score(text: string): Promise<ScoreResult> {
    const ids = this.tokenizer.encode(text);
    if (ids.length === 0) return { tokens: [], logprobs: [] };
    const [r] = await this.exclusive(() => this.scorer.tokenLogprobs([ids]));
    return { tokens: ids, logprobs: r!.logprobs };
  }

  /** score() of many texts in shared batches (same results as calling score on each). */
  async scoreMany(texts: string[]): Promise<ScoreResult[]> {
    const ids = texts.map((t) => this.tokenizer.encode(t));
    // texts of similar lengths (an audit's samples): pad windows over 256 tokens to a multiple of 32 rather than a
    // power of two, and keep each forward's logits within 64 MiB (bench/README.md § Extraction audit)
    const long = ids.some((x) => x.length > 257);
    const r = await this.exclusive(() => this.scorer.tokenLogprobs(ids, 0, { ...(long ? { lengthStep: 32 } : {}), logitsBudgetBytes: 64 << 20 }));
    return ids.map((tokens, i) => ({ tokens, logprobs: r[i]!.logprobs }));
  }

  async generate(prompts: string[], opts: GenerateRequestOptions): Promise<Completion[][]> {
    const n = opts.n ?? 1;
    const ids = prompts.map((p) => this.tokenizer.encode(p));
    const { rows } = await this.generateTokens(ids, opts);
    return prompts.map((_, p) => rows.slice(p * n, (p + 1) * n).map((r) => ({ text: r.text, finishReason: r.finishReason })));
  }

  /**
   * Beam search per prompt (one at a time, W cache rows each); the prompt keeps its last blockSize − maxTokens tokens,
   * as the harness truncates generation contexts from the left.
   */
  async generateBeam(prompts: string[], o: BeamRequestOptions): Promise<Completion[]> {
    const S = this.model.config.blockSize;
    if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1 || o.maxTokens >= S) throw new Error(`maxTokens must be an integer in [1, ${S - 1}], got ${o.maxTokens}`);
    const eot = this.tokenizer.eotId;
    const out: Completion[] = [];
    for (const prompt of prompts) {
      let ids = this.tokenizer.encode(prompt);
      if (ids.length === 0 && eot !== undefined) ids = [eot];
      if (ids.length === 0) throw new Error('beam search needs a non-empty prompt (the tokenizer has no end-of-text token)');
      if (ids.length + o.maxTokens > S) ids = ids.slice(ids.length + o.maxTokens - S);
      const [best] = await this.exclusive(() =>
        beamSearch(new CachedBeamStepper(this.runner, o.maxTokens), ids, {
          numBeams: o.numBeams,
          maxTokens: o.maxTokens,
          lengthPenalty: o.lengthPenalty,
          lengthPenaltyStyle: o.lengthPenaltyStyle,
          eotId: eot,
          numReturn: 1,
          stop: o.stop,
          decode: (t) => this.tokenizer.decode(t),
        }),
      );
      out.push({ text: best!.text ?? this.tokenizer.decode(best!.tokens), finishReason: best!.finish });
    }
    return out;
  }

  /** Per-token log-probabilities of `ids`, with the topK alternatives per position when topK > 0. */
  scoreTokens(ids: number[], topK: number, signal?: AbortSignal): Promise<TokenScores> {
    return this.exclusive(async () => {
      if (signal?.aborted) throw new Error('aborted');
      if (ids.length === 0) return { logprobs: [], greedy: [], ...(topK > 0 ? { top: [] } : {}) };
      return (await this.scorer.tokenLogprobs([ids], Math.max(0, Math.min(topK, this.model.config.vocabSize))))[0]!;
    });
  }

  async generateTokens(prompts: number[][], o: TokenGenerateOptions): Promise<{ rows: TokenGeneration[]; warnings: string[] }> {
    const n = o.n ?? 1;
    if (!Number.isInteger(o.maxTokens) || o.maxTokens < 0) throw new Error(`maxTokens must be a non-negative integer, got ${o.maxTokens}`);
    if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
    if (prompts.length === 0) return { rows: [], warnings: [] };
    const V = this.tokenizer.vocabSize;
    prompts.forEach((p, i) =>
      p.forEach((id) => {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`prompt ${i}: token id ${id} is outside 0..${V - 1}`);
      }),
    );
    const all = prompts.flatMap((p) => Array.from({ length: n }, () => p));
    if (o.maxTokens === 0) {
      return {
        rows: all.map(() => ({ tokens: [], text: '', finishReason: 'length' as const, ...(o.logprobs !== undefined ? { tokenLogprobs: [], topLogprobs: [] } : {}) })),
        warnings: [],
      };
    }
    return this.exclusive(async () => {
      const warnings = new Set<string>();
      const greedy = o.temperature === 0 && !o.temperatureSchedule;
      const r = await this.generator.generate(all, {
        maxTokens: o.maxTokens,
        greedy,
        temperature: o.temperature,
        temperatureSchedule: o.temperatureSchedule,
        topK: o.topK && o.topK > 0 ? o.topK : undefined,
        topP: o.topP,
        stop: o.stop,
        seed: o.seed ?? randomSeed(),
        logprobs: o.logprobs,
        signal: o.signal,
        onText: o.onText,
        warn: (m) => warnings.add(m),
      });
      if (o.signal?.aborted) throw new Error('aborted');
      const rows: TokenGeneration[] = all.map((_, b) => ({
        tokens: r.tokens[b]!,
        text: r.texts[b]!,
        finishReason: r.finish[b]!,
        ...(r.tokenLogprobs ? { tokenLogprobs: r.tokenLogprobs[b]!, topLogprobs: r.topLogprobs![b]! } : {}),
      }));
      return { rows, warnings: [...warnings] };
    });
  }

  async close(): Promise<void> {
    await this.exclusive(async () => {
      this.closed = true;
      await this.runner.release();
    }).catch(() => undefined);
  }
}
