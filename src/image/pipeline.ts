// The text-to-image pipeline: a DALL·E transformer writes N image-token grids for a caption (KV cache, image ids
// only), the dVAE's decoder turns them into images, CLIP scores each against the caption and the top k are kept.
// Opening a pipeline checks that the three models fit together — the dVAE's codebook and grid against the ones the
// transformer was trained on, CLIP's caption tokenizer against the transformer's, CLIP's image size against the
// dVAE's — and names both sides of any mismatch.

import { checkDvaeCompatible, loadDalle, type LoadedDalle } from './dalle.js';
import { sampleImageTokens } from './dalle-sample.js';
import { loadDvae, type Dvae } from './dvae.js';
import { loadClip, readClipConfig, type ClipModel } from './clip.js';
import { rerank } from './rerank.js';
import { checkSameTokenizer, type CaptionTokenizer } from './text-tokenizer.js';
import type { RgbImage } from './types.js';

export interface Pipeline {
  dalle: LoadedDalle;
  tokenizer: CaptionTokenizer;
  vae: Dvae;
  vaeDir: string;
  clip?: ClipModel;
  clipDir?: string;
}

export function openPipeline(o: { model: string; vae: string; clip?: string }): Pipeline {
  const dalle = loadDalle(o.model);
  if (!dalle.tokenizer) throw new Error(`${o.model}: the transformer directory has no caption tokenizer (tokenizer_config.json)`);
  const vae = loadDvae(o.vae);
  checkDvaeCompatible(dalle.config, { imageVocab: vae.config.vocabSize, gridHeight: vae.gridSize, gridWidth: vae.gridSize, name: o.vae }, o.model);
  let clip: ClipModel | undefined;
  if (o.clip) {
    // the config is checked before the weights are read
    const { config, record } = readClipConfig(o.clip);
    checkSameTokenizer({ name: `the transformer ${o.model}`, fingerprint: dalle.tokenizer.fingerprint() }, { name: `the CLIP ${o.clip}`, fingerprint: record.tokenizerFingerprint ?? '(none recorded)' });
    if (config.imageSize !== vae.config.inputSize) {
      throw new Error(`the CLIP ${o.clip} takes ${config.imageSize}×${config.imageSize} images but the dVAE ${o.vae} decodes ${vae.config.inputSize}×${vae.config.inputSize}`);
    }
    clip = loadClip(o.clip);
  }
  return { dalle, tokenizer: dalle.tokenizer, vae, vaeDir: o.vae, clip, clipDir: o.clip };
}

/** CLIP's text ids for a caption: the caption BPE, truncated to CLIP's text length. */
export function clipTextIds(p: Pipeline, caption: string, warn?: (m: string) => void): number[] {
  if (!p.clip) throw new Error('no CLIP model given (--clip DIR)');
  return p.tokenizer.encodeCaption(caption, p.clip.config.textLength, warn).ids;
}

export interface GenerateOptions {
  n: number;
  /** Keep the CLIP top k (default: all n, still scored when a CLIP is present). */
  rerank?: number;
  seed?: number;
  temperature?: number;
  topK?: number;
  condScale?: number;
  batch?: number;
  warn?: (m: string) => void;
  onProgress?: (done: number, total: number) => void;
}

export interface GeneratedSample {
  image: RgbImage;
  /** The h·w codes in raster order. */
  tokens: Int32Array;
  clip_score?: number;
  kept: boolean;
}

export interface Generation {
  caption: string;
  textIds: number[];
  /** In generation order. */
  samples: GeneratedSample[];
  /** Sample indices, best CLIP score first (generation order without a CLIP). */
  order: number[];
}

/** Sample n images for one caption, decode them, and rerank them with CLIP when the pipeline has one. */
export async function generateImages(p: Pipeline, caption: string, o: GenerateOptions): Promise<Generation> {
  if (!Number.isInteger(o.n) || o.n < 1) throw new Error(`--n must be a positive integer, got ${o.n}`);
  const k = o.rerank ?? o.n;
  if (!Number.isInteger(k) || k < 1) throw new Error(`--rerank must be a positive integer, got ${k}`);
  if (k > o.n) throw new Error(`--rerank ${k} keeps more samples than --n ${o.n} generates`);
  if (k < o.n && !p.clip) throw new Error(`--rerank ${k} needs a CLIP model (--clip DIR) to choose ${k} of ${o.n} samples`);
  const enc = p.tokenizer.encodeCaption(caption, p.dalle.config.textLength, o.warn);
  const sampled = await sampleImageTokens(p.dalle.model, [enc.ids], {
    n: o.n,
    seed: o.seed ?? 0,
    temperature: o.temperature ?? 1,
    topK: o.topK,
    condScale: o.condScale,
    batch: o.batch,
    onProgress: o.onProgress,
  });
  const hw = sampled.height * sampled.width;
  const images = await p.vae.decodeTokens(sampled.tokens);
  const tokens = Array.from({ length: sampled.count }, (_, i) => sampled.tokens.slice(i * hw, (i + 1) * hw));
  if (!p.clip) {
    return { caption, textIds: enc.ids, samples: images.map((image, i) => ({ image, tokens: tokens[i]!, kept: true })), order: images.map((_, i) => i) };
  }
  const r = await rerank(p.clip, clipTextIds(p, caption, o.warn), images, k);
  return {
    caption,
    textIds: enc.ids,
    samples: images.map((image, i) => ({ image, tokens: tokens[i]!, clip_score: r.scores[i]!, kept: r.kept[i]! })),
    order: r.order,
  };
}
