// Evaluation of a text-to-image pipeline (issue 11 point 6): caption accuracy as a function of the number N of samples
// reranked by CLIP (the paper's Fig. 9c question at our scale), and a memorization check — for each generated image
// its nearest training image by pixel distance and by CLIP embedding — against the baseline of real held-out images.
//
// Accuracy at N: a caption's S samples (in generation order) are cut into ⌊S/N⌋ disjoint consecutive groups of N;
// in each group CLIP keeps the highest-scoring sample (ties: the earlier one) and the group counts as correct when the
// independent checker accepts that sample. Accuracy at N is the mean over the groups of all captions, so N = 1 is the
// plain first-sample accuracy averaged over every sample, and each N uses all S samples.

import type { RgbImage } from './types.js';

/** The samples of one caption with their CLIP scores and the checker's verdicts, in generation order. */
export interface CaptionSamples {
  caption: string;
  heldOut: boolean;
  clipScores: readonly number[];
  correct: readonly boolean[];
}

export interface AccuracyAtN {
  n: number;
  /** Mean accuracy over held-in / held-out captions (NaN when there are none or S < N). */
  held_in: number;
  held_out: number;
  /** Groups that were averaged. */
  groups_in: number;
  groups_out: number;
}

/** Index of the best score in [from, to) (the first on ties). */
function bestIn(scores: readonly number[], from: number, to: number): number {
  let best = from;
  for (let i = from + 1; i < to; i++) if (scores[i]! > scores[best]!) best = i;
  return best;
}

export function accuracyAtN(captions: readonly CaptionSamples[], ns: readonly number[]): AccuracyAtN[] {
  for (const c of captions) {
    if (c.clipScores.length !== c.correct.length) throw new Error(`caption '${c.caption}': ${c.clipScores.length} CLIP scores but ${c.correct.length} verdicts`);
  }
  return ns.map((n) => {
    if (!Number.isInteger(n) || n < 1) throw new Error(`accuracy at N: N must be a positive integer, got ${n}`);
    const acc = { in: [0, 0], out: [0, 0] };
    for (const c of captions) {
      const groups = Math.floor(c.correct.length / n);
      const slot = c.heldOut ? acc.out : acc.in;
      for (let g = 0; g < groups; g++) {
        slot[0]! += c.correct[bestIn(c.clipScores, g * n, (g + 1) * n)] ? 1 : 0;
        slot[1]! += 1;
      }
    }
    return {
      n,
      held_in: acc.in[1] ? acc.in[0]! / acc.in[1] : NaN,
      held_out: acc.out[1] ? acc.out[0]! / acc.out[1] : NaN,
      groups_in: acc.in[1]!,
      groups_out: acc.out[1]!,
    };
  });
}

/** Mean squared pixel difference of two images of the same size. */
export function pixelMse(a: RgbImage, b: RgbImage): number {
  if (a.data.length !== b.data.length) throw new Error(`pixel distance of a ${a.width}×${a.height} and a ${b.width}×${b.height} image`);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i]! - b.data[i]!;
    s += d * d;
  }
  return s / a.data.length;
}

export interface Neighbour {
  /** Index into the reference set. */
  index: number;
  distance: number;
}

/** Nearest reference image of each query by mean squared pixel difference. */
export function nearestByPixels(queries: readonly RgbImage[], refs: readonly RgbImage[]): Neighbour[] {
  if (refs.length === 0) throw new Error('nearest training image: the training set is empty');
  return queries.map((q) => {
    let best = { index: 0, distance: Infinity };
    refs.forEach((r, i) => {
      const d = pixelMse(q, r);
      if (d < best.distance) best = { index: i, distance: d };
    });
    return best;
  });
}

/**
 * Nearest reference of each query by cosine distance 1 − q·r of L2-normalised embeddings (rows of (N, D) arrays,
 * as CLIP returns them).
 */
export function nearestByEmbedding(queries: Float32Array, refs: Float32Array, dim: number): Neighbour[] {
  if (queries.length % dim || refs.length % dim) throw new Error(`nearest by embedding: arrays are not rows of ${dim}`);
  const nq = queries.length / dim;
  const nr = refs.length / dim;
  if (nr === 0) throw new Error('nearest training image: the training set is empty');
  const out: Neighbour[] = [];
  for (let i = 0; i < nq; i++) {
    let best = { index: 0, distance: Infinity };
    for (let j = 0; j < nr; j++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += queries[i * dim + d]! * refs[j * dim + d]!;
      if (1 - dot < best.distance) best = { index: j, distance: 1 - dot };
    }
    out.push(best);
  }
  return out;
}

export interface DistanceSummary {
  count: number;
  median: number;
  p10: number;
  /** Fraction below the threshold the summary was made with (near-copies). */
  below: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarizeDistances(distances: readonly number[], threshold: number): DistanceSummary {
  const s = [...distances].sort((a, b) => a - b);
  return { count: s.length, median: quantile(s, 0.5), p10: quantile(s, 0.1), below: s.length ? s.filter((d) => d < threshold).length / s.length : NaN };
}

/** PSNR in dB of a reconstruction against its original (pixels in [0, 1]). */
export function psnr(original: RgbImage, reconstruction: RgbImage): number {
  const mse = pixelMse(original, reconstruction);
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}
