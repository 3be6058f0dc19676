// CLIP reranking of generated samples (dalle-and-clip.md §3): every sample is scored against its caption by cosine
// similarity of the CLIP embeddings and the k best are kept. Ties are broken by generation order (the earlier sample
// ranks first), and the returned per-sample arrays stay in generation order.

import type { ClipScorer } from './clip.js';
import type { RgbImage } from './types.js';

export interface RerankResult {
  /** Cosine similarity of sample i with the caption, in generation order. */
  scores: number[];
  /** Sample indices best first (score descending, ties by generation order). */
  order: number[];
  /** Whether sample i is among the top k, in generation order. */
  kept: boolean[];
}

/** Rank samples by their CLIP score against `textIds` (one caption's token ids); keep the top k (all when k ≥ N). */
export async function rerank(clip: ClipScorer, textIds: readonly number[], images: readonly RgbImage[], k: number): Promise<RerankResult> {
  if (!Number.isInteger(k) || k < 0) throw new Error(`rerank: k must be a non-negative integer, got ${k}`);
  if (images.length === 0) return { scores: [], order: [], kept: [] };
  const sims = await clip.score(textIds, images);
  if (sims.length !== images.length) throw new Error(`rerank: the scorer returned ${sims.length} scores for ${images.length} images`);
  return rankScores(Array.from(sims), k);
}

/** The ranking part of rerank on given scores (NaN ranks last). */
export function rankScores(scores: number[], k: number): RerankResult {
  const key = (s: number) => (Number.isNaN(s) ? -Infinity : s);
  const order = scores.map((_, i) => i).sort((a, b) => key(scores[b]!) - key(scores[a]!) || a - b);
  const kept = new Array<boolean>(scores.length).fill(false);
  for (const i of order.slice(0, k)) kept[i] = true;
  return { scores, order, kept };
}
