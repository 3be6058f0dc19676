// Sampling image tokens from the DALL·E transformer with the KV cache (src/runtime/cached-step.ts): each row's text
// stream [<bos>, caption, pads] is prefilled in one step, then the h·w image tokens are decoded one step at a time.
// Every prediction is restricted to the K image ids (the logits' image range is sliced out, which is
// AllowedIdRangeProcessor's [textTotal, V) followed by the shift to code space), then temperature and top-k, then a
// draw from the sample's own seeded RNG (so a sample does not depend on the batch it ran in). Classifier-free
// guidance (condScale s given): every conditional row has a null-caption row (all pads) in the same batch, fed the
// same sampled tokens, and the logits are uncond + s·(cond − uncond), computed as cond + (s − 1)·(cond − uncond) so
// that s = 1 gives the conditional logits bit for bit. Returns token grids (N, h, w) in code space 0 … K−1.

import { hashString, Rng } from '../nn/init.js';
import { CachedStepRunner } from '../runtime/cached-step.js';
import { applyProcessors } from '../runtime/logits-processors.js';
import { buildSamplingPipeline } from '../runtime/sampler.js';
import type { DalleModel } from './dalle.js';
import type { CaptionTokenizer } from './text-tokenizer.js';

export interface SampleImageOptions {
  /** Samples per caption (default 1). */
  n?: number;
  /** Default 1; 0 means greedy. */
  temperature?: number;
  /** Keep the k most likely image tokens (0 / undefined: all K). */
  topK?: number;
  greedy?: boolean;
  /** Sample i of caption c uses an RNG seeded from (seed, c·n + i). Default 0. */
  seed?: number;
  /** Classifier-free guidance scale; undefined: no guidance rows (plain conditional sampling). */
  condScale?: number;
  /** Samples decoded together (default 16); with guidance the step runs 2 × batch rows. */
  batch?: number;
  /** Needed when captions are strings. */
  tokenizer?: CaptionTokenizer;
  warn?: (msg: string) => void;
  /** A runner to reuse (its compiled programs); by default one is made and released. */
  runner?: CachedStepRunner;
  /** Called after each batch with the number of samples done. */
  onProgress?: (done: number, total: number) => void;
}

export interface SampledImages {
  /** (count, height, width) codes 0 … K−1, sample-major (caption 0's n samples first). */
  tokens: Int32Array;
  count: number;
  height: number;
  width: number;
  /** The caption index of each sample. */
  caption: Int32Array;
  /** The caption BPE ids that were used (after truncation). */
  textIds: number[][];
}

/** A sample's seed: a function of (seed, job) only. */
export function sampleSeed(seed: number, job: number): number {
  return hashString(`dalle-sample:${seed}:${job}`);
}

/** Sample `n` token grids per caption (a string, or caption BPE ids of at most L tokens). */
export async function sampleImageTokens(model: DalleModel, captions: readonly (string | readonly number[])[], o: SampleImageOptions = {}): Promise<SampledImages> {
  const cfg = model.config;
  const lay = model.layout;
  const { textTotal, vocabSize: V, imageLength: HW } = lay;
  const K = cfg.imageVocab;
  const n = o.n ?? 1;
  const batch = o.batch ?? 16;
  const seed = o.seed ?? 0;
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch must be a positive integer, got ${batch}`);
  if (o.topK !== undefined && o.topK !== 0 && (!Number.isInteger(o.topK) || o.topK < 1 || o.topK > K)) throw new Error(`topK must be an integer in [1, ${K}] (0 = off), got ${o.topK}`);
  const s = o.condScale;
  if (s !== undefined && !Number.isFinite(s)) throw new Error(`condScale must be a finite number, got ${s}`);
  if (s !== undefined && s !== 1 && cfg.nullCaptionProb === 0) o.warn?.('condScale is set but the model was trained without caption dropout (nullCaptionProb 0): its null-caption logits are untrained');
  const textIds = captions.map((c, i) => {
    if (typeof c === 'string') {
      if (!o.tokenizer) throw new Error(`caption ${i} is text; pass the caption tokenizer (options.tokenizer) or BPE ids`);
      return o.tokenizer.encodeCaption(c, cfg.textLength, o.warn).ids;
    }
    return [...c];
  });
  const streams = textIds.map((ids) => lay.textStream(ids)); // validates
  const nullStream = lay.nullTextStream();
  const pipeline = buildSamplingPipeline({ greedy: o.greedy, temperature: o.temperature ?? 1, topK: o.topK || undefined });
  const total = captions.length * n;
  const tokens = new Int32Array(total * HW);
  const capOf = Int32Array.from({ length: total }, (_, j) => Math.floor(j / n));
  const runner = o.runner ?? new CachedStepRunner(model.transformer);
  const guided = s !== undefined;
  const scale = s ?? 1;
  const row = new Float32Array(K);
  try {
    for (let start = 0; start < total; start += batch) {
      const jobs = Array.from({ length: Math.min(batch, total - start) }, (_, i) => start + i);
      const B = jobs.length;
      const rows = guided ? 2 * B : B;
      const rngs = jobs.map((j) => new Rng(sampleSeed(seed, j)));
      const cache = runner.newCache(rows, lay.inputLength);
      const prefill = jobs.map((j) => streams[capOf[j]!]!);
      if (guided) for (let b = 0; b < B; b++) prefill.push(nullStream);
      let r = await runner.step(cache, prefill, { kind: 'last' }); // logits (rows, V) predicting image token 0
      for (let t = 0; t < HW; t++) {
        const logits = r.logits!;
        const next: number[][] = new Array(rows);
        for (let b = 0; b < B; b++) {
          const c0 = b * V + textTotal; // the image range of row b: only image ids may be predicted
          if (guided) {
            const u0 = (B + b) * V + textTotal;
            for (let k = 0; k < K; k++) {
              const c = logits[c0 + k]!;
              row[k] = c + (scale - 1) * (c - logits[u0 + k]!);
            }
          } else row.set(logits.subarray(c0, c0 + K));
          applyProcessors(pipeline.processors, row, { step: t, tokens: [], promptLength: 0 });
          const code = pipeline.sampler.select(row, rngs[b]!);
          tokens[jobs[b]! * HW + t] = code;
          next[b] = [lay.imageId(code)];
          if (guided) next[B + b] = next[b]!;
        }
        if (t < HW - 1) r = await runner.step(cache, next, { kind: 'last' });
      }
      o.onProgress?.(start + B, total);
    }
  } finally {
    if (!o.runner) await runner.release();
  }
  return { tokens, count: total, height: cfg.gridHeight, width: cfg.gridWidth, caption: capOf, textIds };
}
