// Scoring with a GPT, one request at a time: per-token log-probabilities of a text (rolling, with overlapping windows
// over long texts) and the log-likelihood of a continuation after a context with an is-greedy flag. A thin front of
// the batched scorer (src/runtime/batch-scorer.ts), which LocalLanguageModel uses directly for many requests.

import { BatchScorer, type SequenceLogprobs } from '../runtime/batch-scorer.js';
import { CachedStepRunner } from '../runtime/cached-step.js';
import type { GPT } from './model.js';

export interface ContinuationScore {
  /** Sum of log p(continuation token | everything before it). */
  logprob: number;
  /** Whether every continuation token is the argmax prediction. */
  isGreedy: boolean;
  tokenLogprobs: number[];
}

export type TokenLogprobs = SequenceLogprobs;

export class Scorer {
  readonly batch: BatchScorer;
  constructor(
    readonly model: GPT,
    runner?: CachedStepRunner,
  ) {
    this.batch = new BatchScorer(runner ?? new CachedStepRunner(model));
  }

  /**
   * Per-token log-probabilities: result[i] = log p(ids[i] | ids[<i]) for i ≥ 1 (null for i = 0), and with topK > 0
   * the topK most likely tokens at each position (computed in the graph; only (T, k) values leave it). Texts longer
   * than the context are scored with overlapping windows so every token sees at least half a context.
   */
  async tokenLogprobs(ids: number[], topK = 0): Promise<TokenLogprobs> {
    return (await this.batch.tokenLogprobs([ids], topK))[0]!;
  }

  /** Log-likelihood of `continuation` after `context` (token ids); context is truncated from the left to fit. */
  async continuation(context: number[], continuation: number[]): Promise<ContinuationScore> {
    if (continuation.length === 0) return { logprob: 0, isGreedy: true, tokenLogprobs: [] };
    const [r] = await this.batch.loglikelihood([{ context, continuation }]);
    if (r instanceof Error) throw r;
    return r!;
  }

  async release(): Promise<void> {
    await this.batch.release();
  }
}
