// Token selection after the logits processors: greedy argmax or a multinomial draw over the surviving (non -Infinity)
// logits, plus log-softmax helpers for reporting logprobs of the raw logits. buildSamplingPipeline() pairs
// buildProcessors() with the matching sampler, dropping the sampling-only warpers in greedy mode as HF does.

import type { Rng } from '../nn/init.js';
import { buildProcessors, keptIndices, type LogitsProcessor, type ProcessorOptions } from './logits-processors.js';

export interface Sampler {
  /** The chosen token id. Throws when every logit is -Infinity or a logit is NaN. */
  select(logits: Float32Array, rng: Rng): number;
}

/** Argmax; the lowest id wins ties. Does not consume randomness. */
export class GreedySampler implements Sampler {
  readonly name = 'greedy';
  select(logits: Float32Array, _rng?: Rng): number {
    let best = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < logits.length; i++) {
      const x = logits[i]!;
      if (x > bestValue) {
        best = i;
        bestValue = x;
      } else if (x !== x) throw new Error(`greedy sampler: logits[${i}] is NaN`);
    }
    if (best < 0) throw new Error(`greedy sampler: no token left (all ${logits.length} logits are -Infinity)`);
    return best;
  }
}

/**
 * Softmax over the surviving logits in float64 and one draw from rng.uniform(), walking the ids in ascending order.
 * One scan collects the survivors, so a row left with k finite entries costs O(V + k).
 */
export class MultinomialSampler implements Sampler {
  readonly name = 'multinomial';
  private ids = new Int32Array(0);
  private weights = new Float64Array(0);
  select(logits: Float32Array, rng: Rng): number {
    if (this.ids.length < logits.length) {
      this.ids = new Int32Array(logits.length);
      this.weights = new Float64Array(logits.length);
    }
    const n = keptIndices(logits, this.ids, 'multinomial sampler');
    if (n === 0) throw new Error(`multinomial sampler: no token left (all ${logits.length} logits are -Infinity)`);
    const ids = this.ids;
    const w = this.weights;
    let max = -Infinity;
    for (let j = 0; j < n; j++) if (logits[ids[j]!]! > max) max = logits[ids[j]!]!;
    let z = 0;
    for (let j = 0; j < n; j++) {
      const e = Math.exp(logits[ids[j]!]! - max);
      w[j] = e;
      z += e;
    }
    let r = rng.uniform() * z;
    for (let j = 0; j < n; j++) {
      r -= w[j]!;
      if (r < 0) return ids[j]!;
    }
    // rounding left r just above zero: the last survivor with non-zero weight
    for (let j = n - 1; j > 0; j--) if (w[j]! > 0) return ids[j]!;
    return ids[0]!;
  }
}

export interface SamplerOptions {
  greedy?: boolean;
  temperature?: number;
  temperatureSchedule?: unknown;
}

/** Greedy when `greedy` is set or temperature is 0 without a schedule; multinomial otherwise. */
export function samplerFor(o: SamplerOptions): Sampler {
  return isGreedy(o) ? new GreedySampler() : new MultinomialSampler();
}

export function isGreedy(o: SamplerOptions): boolean {
  return o.greedy === true || (o.temperature === 0 && o.temperatureSchedule === undefined);
}

export interface SamplingPipeline {
  processors: LogitsProcessor[];
  sampler: Sampler;
}

/**
 * Processors + sampler for one set of options. In greedy mode temperature, top-k and top-p are left out (they cannot
 * change the argmax, and temperature 0 is not a valid TemperatureProcessor); repetition penalty and the allowed id
 * range still apply. Sampling options are validated either way.
 */
export function buildSamplingPipeline(o: ProcessorOptions & { greedy?: boolean }): SamplingPipeline {
  if (!isGreedy(o)) return { processors: buildProcessors(o), sampler: new MultinomialSampler() };
  const { temperature, temperatureSchedule, topK, topP, ...kept } = o;
  const t = temperature === 0 ? undefined : temperature;
  buildProcessors({ temperature: t, temperatureSchedule, topK, topP }); // validation only
  return { processors: buildProcessors(kept), sampler: new GreedySampler() };
}

/** Natural-log probability of `id` under softmax(logits), computed in float64. */
export function logSoftmaxAt(logits: Float32Array, id: number): number {
  if (!Number.isInteger(id) || id < 0 || id >= logits.length) throw new Error(`id must be an integer in [0, ${logits.length}), got ${id}`);
  return logits[id]! - logSumExp(logits);
}

export interface TokenLogprob {
  id: number;
  logprob: number;
}

/** The k most likely ids under softmax(logits) with their log-probabilities, descending (ties: lower id first). */
export function topLogprobs(logits: Float32Array, k: number): TokenLogprob[] {
  if (!Number.isInteger(k) || k < 0) throw new Error(`k must be an integer >= 0, got ${k}`);
  if (Math.min(k, logits.length) === 0) return [];
  const lse = logSumExp(logits);
  return topIndices(logits, k).map((id) => ({ id, logprob: logits[id]! - lse }));
}

/** Indices of the k largest values, largest first (ties: lower index first); one pass, no sort. */
export function topIndices(x: ArrayLike<number>, k: number): number[] {
  const n = Math.min(k, x.length);
  // sorted (descending) buffer of the best ids so far; a later id never displaces an equal earlier one
  const best: number[] = [];
  if (n <= 0) return best;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (best.length === n && !(v > x[best[n - 1]!]!)) continue;
    let j = best.length === n ? n - 1 : best.length;
    while (j > 0 && x[best[j - 1]!]! < v) {
      best[j] = best[j - 1]!;
      j--;
    }
    best[j] = i;
  }
  return best;
}

/** log Σ exp(logits) in float64; a NaN logit is an error. */
export function logSumExp(logits: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    if (x > max) max = x;
    else if (x !== x) throw new Error(`logits[${i}] is NaN`);
  }
  if (max === -Infinity || max === Infinity) return max;
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += Math.exp(logits[i]! - max);
  return max + Math.log(s);
}
