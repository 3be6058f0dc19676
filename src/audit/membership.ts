// The six membership metrics of Carlini et al. 2021 (training-data extraction) from per-token log-probabilities, as
// ftramer/LM_Memorization defines them (all sort keys: higher = more likely memorized; natural log throughout):
//   ppl        = exp(mean NLL of tokens 1..n−1 given the tokens before), i.e. Hugging Face `labels=input_ids`
//                with no start token prepended (token 0 is context only);
//   perplexity = −log ppl;   ratio:NAME = log ppl_NAME / log ppl;   zlib = zlibSize(text) / log ppl (bytes);
//   lowercase  = log ppl(lowercased text) / log ppl;
//   window     = −log ppl_window, ppl_window = min over every run of `window` (50) consecutive predicted tokens of
//                exp(mean NLL of the run) (the whole sample when it has fewer predicted tokens).
// Choices where the repo is silent: the window metric is not in the repo (paper §5.2 only); we slide over predicted
// tokens (logprobs[1..]), one step at a time. The ratios divide by log ppl, so a sample with log ppl = 0 gives
// ±Infinity/NaN where Python raises ZeroDivisionError; fewer than two tokens gives ppl = NaN (HF's empty-mean loss).
// `lowerLogprobs` must come from scoring text.toLowerCase() (re-tokenized), as the repo scores `text.lower()`.

import { zlibSize } from './zlib-size.js';

export type Logprobs = readonly (number | null)[];

/** The predicted tokens' NLLs: −logprobs[i] for i ≥ 1 (index 0 is the null of LanguageModel.score). */
function nlls(logprobs: Logprobs): number[] {
  return logprobs.slice(1).map((lp, i) => {
    if (lp === null || Number.isNaN(lp)) throw new Error(`logprobs[${i + 1}] is ${lp}; only index 0 may be null`);
    return -lp;
  });
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** exp(mean NLL) over tokens 1..n−1; NaN with fewer than two tokens. */
export function perplexityFromLogprobs(logprobs: Logprobs): number {
  return Math.exp(mean(nlls(logprobs)));
}

/** Minimum over every run of `window` consecutive predicted tokens of exp(mean NLL); the whole sample if shorter. */
export function windowPerplexity(logprobs: Logprobs, window = 50): number {
  if (!Number.isInteger(window) || window < 1) throw new Error(`window must be a positive integer, got ${window}`);
  const x = nlls(logprobs);
  if (x.length <= window) return Math.exp(mean(x));
  let sum = 0;
  for (let i = 0; i < window; i++) sum += x[i]!;
  let best = sum;
  for (let i = window; i < x.length; i++) {
    sum += x[i]! - x[i - window]!;
    if (sum < best) best = sum;
  }
  return Math.exp(best / window);
}

export interface MembershipInput {
  text: string;
  /** Target model's LanguageModel.score(text).logprobs. */
  logprobs: Logprobs;
  /** Target model's score of text.toLowerCase(). */
  lowerLogprobs: Logprobs;
  /** Reference models' scores of the same text, by name (each gives a `ratio:NAME` score). */
  refLogprobs?: Record<string, Logprobs>;
}

export interface MembershipScores {
  perplexity: number;
  zlib: number;
  lowercase: number;
  window: number;
  [ratio: `ratio:${string}`]: number;
}

export interface MembershipResult {
  ppl: number;
  ppl_lower: number;
  ppl_window: number;
  /** Compressed size in bytes. */
  zlib: number;
  ref_ppl: Record<string, number>;
  scores: MembershipScores;
}

/** All six sort keys (plus one ratio per reference model) of one sample. */
export function membershipScores(input: MembershipInput, window = 50): MembershipResult {
  const ppl = perplexityFromLogprobs(input.logprobs);
  const ppl_lower = perplexityFromLogprobs(input.lowerLogprobs);
  const ppl_window = windowPerplexity(input.logprobs, window);
  const zlib = zlibSize(input.text);
  const logPpl = Math.log(ppl);
  const scores: MembershipScores = {
    perplexity: -logPpl,
    zlib: zlib / logPpl,
    lowercase: Math.log(ppl_lower) / logPpl,
    window: -Math.log(ppl_window),
  };
  const ref_ppl: Record<string, number> = {};
  for (const [name, lps] of Object.entries(input.refLogprobs ?? {})) {
    ref_ppl[name] = perplexityFromLogprobs(lps);
    scores[`ratio:${name}`] = Math.log(ref_ppl[name]) / logPpl;
  }
  return { ppl, ppl_lower, ppl_window, zlib, ref_ppl, scores };
}
