// CLIP (dalle-and-clip.md §3, after openai/CLIP clip/model.py): a text transformer and a small vision transformer
// map captions and images into one embedding space; both embeddings are L2-normalised and compared by cosine
// similarity, with a learned temperature. Used to rerank DALL·E samples (src/image/rerank.ts) and trained by
// src/image/clip-train.ts.
//
//   text:   token + learned position embeddings, pre-LN blocks under a causal mask (as openai/CLIP), a final
//           LayerNorm, the features of the LAST NON-PAD token (openai/CLIP takes the EOT token; with a causal mask the
//           last real token is the only one that has seen the whole caption), then a linear projection.
//   image:  normalised inside the model with openai/CLIP's RGB mean/std; a patch convolution (kernel = stride =
//           patchSize, no bias), a class token, learned positions, ln_pre, pre-LN blocks with full attention,
//           ln_post of the class token, a linear projection.
//   logits: exp(logit_scale) · imageEmb · textEmbᵀ, logit_scale initialised to log(1/0.07) and exp(logit_scale)
//           clamped at 100 inside the graph (so the loss never sees a larger scale, and the scale gets no gradient
//           while clamped); the loss is the mean of the image→text and text→image cross-entropies, diagonal positives.
//
// The blocks are src/nn/transformer.ts's `Block` (GELU tanh approximation rather than openai/CLIP's QuickGELU; the
// PyTorch reference in scripts/make_clip_fixture.py does the same). A model directory is config.json
// (`model_type: "tessera-clip"`, the config, `tokenizer_fingerprint`) + model.safetensors.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../engine/index.js';
import type { Tensor } from '../engine/tensor.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { f32FromSafeTensor, fromFloat32, readSafetensorsSync, writeSafetensorsSync, type SafeTensor } from '../io/safetensors.js';
import { DENSE, MASKED } from '../nn/attention-pattern.js';
import { normal } from '../nn/init.js';
import { Conv2d, EVAL, Embedding, LayerNorm, Linear, type ForwardCtx } from '../nn/layers.js';
import { Module, Parameter } from '../nn/module.js';
import { Block, type TransformerConfig } from '../nn/transformer.js';
import { CompiledModule, type TracedGraph } from '../runtime/compiled-module.js';
import type { CheckpointIO } from '../train/checkpoint-io.js';
import { imageLength, type RgbImage } from './types.js';

export interface ClipConfig {
  /** Number of text token ids (the tokenizer's vocabulary, pad included). */
  textVocab: number;
  /** Caption length in tokens (ids are padded with padId to this length). */
  textLength: number;
  padId: number;
  textWidth: number;
  textLayers: number;
  textHeads: number;
  /** Side of the (square) input images in pixels. */
  imageSize: number;
  /** Side of a ViT patch; imageSize must be a multiple of it. */
  patchSize: number;
  visionWidth: number;
  visionLayers: number;
  visionHeads: number;
  /** Dimension of the joint embedding space. */
  embedDim: number;
}

/**
 * A small default that trains on 2 CPU cores on 32×32 images in a few minutes: 16 patches of 8×8, two 64-wide
 * layers per tower, 64-d embeddings; 0.29 M parameters with a 1k vocabulary, about 4.7 steps/s at batch 32 on 2 cores
 * (1000 steps ≈ 4 minutes). Set textVocab / textLength / padId from the tokenizer.
 */
export const DEFAULT_CLIP_CONFIG: ClipConfig = {
  textVocab: 1024,
  textLength: 24,
  padId: 0,
  textWidth: 64,
  textLayers: 2,
  textHeads: 4,
  imageSize: 32,
  patchSize: 8,
  visionWidth: 64,
  visionLayers: 2,
  visionHeads: 4,
  embedDim: 64,
};

/** The default with `overrides` applied, validated. */
export function clipConfig(overrides: Partial<ClipConfig> = {}): ClipConfig {
  const c = { ...DEFAULT_CLIP_CONFIG, ...overrides };
  validateClipConfig(c);
  return c;
}

const CONFIG_KEYS: (keyof ClipConfig)[] = [
  'textVocab',
  'textLength',
  'padId',
  'textWidth',
  'textLayers',
  'textHeads',
  'imageSize',
  'patchSize',
  'visionWidth',
  'visionLayers',
  'visionHeads',
  'embedDim',
];

export function validateClipConfig(c: ClipConfig, where = 'CLIP config'): void {
  for (const k of CONFIG_KEYS) {
    const v = (c as unknown as Record<string, unknown>)[k];
    const min = k === 'padId' ? 0 : 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`${where}: ${k} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  if (c.padId >= c.textVocab) throw new Error(`${where}: padId ${c.padId} is outside the vocabulary (textVocab ${c.textVocab})`);
  if (c.textWidth % c.textHeads !== 0) throw new Error(`${where}: textWidth ${c.textWidth} must be divisible by textHeads ${c.textHeads}`);
  if (c.visionWidth % c.visionHeads !== 0) throw new Error(`${where}: visionWidth ${c.visionWidth} must be divisible by visionHeads ${c.visionHeads}`);
  if (c.imageSize % c.patchSize !== 0) throw new Error(`${where}: imageSize ${c.imageSize} must be a multiple of patchSize ${c.patchSize}`);
}

/** openai/CLIP's image normalisation (per RGB channel). */
export const CLIP_IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_IMAGE_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** log(1 / 0.07): the initial logit scale (temperature 0.07). */
export const LOGIT_SCALE_INIT = Math.log(1 / 0.07);
/** exp(logit_scale) is clamped at this value. */
export const MAX_LOGIT_SCALE = 100;

/** The block settings of one tower, as the shared decoder blocks take them. */
function towerConfig(width: number, layers: number, heads: number, context: number): TransformerConfig {
  return {
    vocabSize: 1,
    blockSize: context,
    nLayer: layers,
    nHead: heads,
    nEmbd: width,
    dropout: 0,
    bias: true,
    tiedEmbeddings: true,
    layerNormEps: 1e-5,
    patterns: Array.from({ length: layers }, () => DENSE),
  };
}

/** L2-normalise the rows of x (N, D). */
function l2Normalize(x: Tensor): Tensor {
  return T.div(x, T.sqrt(T.sum(T.mul(x, x), -1, true))); // (N, D)
}

export class ClipTextEncoder extends Module {
  token_embedding: Embedding;
  positional_embedding: Embedding;
  h: Block[];
  ln_final: LayerNorm;
  text_projection: Linear;

  constructor(readonly cfg: ClipConfig) {
    super();
    const tc = towerConfig(cfg.textWidth, cfg.textLayers, cfg.textHeads, cfg.textLength);
    this.token_embedding = new Embedding(cfg.textVocab, cfg.textWidth);
    this.positional_embedding = new Embedding(cfg.textLength, cfg.textWidth, { init: normal(0.01), decay: false });
    this.h = Array.from({ length: cfg.textLayers }, (_, i) => new Block(tc, i));
    this.ln_final = new LayerNorm(cfg.textWidth);
    this.text_projection = new Linear(cfg.textWidth, cfg.embedDim, { bias: false, init: normal(cfg.textWidth ** -0.5) });
  }

  /** Unnormalised text features (B, D) of ids (B, L) int64 padded with padId. */
  forward(ids: Tensor, ctx: ForwardCtx): Tensor {
    const [B, L] = ids.shape as [number, number];
    if (L !== this.cfg.textLength) throw new Error(`CLIP text ids have length ${L}, the model takes ${this.cfg.textLength}`);
    let x = T.add(this.token_embedding.forward(ids), this.positional_embedding.weight.t); // (B, L, W)
    const causal = T.constant(causalBias(L), [L, L]); // (L, L)
    for (const block of this.h) x = block.forward(x, causal, ctx);
    x = this.ln_final.forward(x); // (B, L, W)
    // the last non-pad position of each row: max over positions of position · [id ≠ pad]
    const nonPad = T.cast(T.logicalNot(T.equal(ids, this.cfg.padId)), 'float32'); // (B, L)
    const positions = T.arange(L, 'float32'); // (L)
    const last = T.cast(T.max(T.mul(nonPad, positions), -1), 'int64'); // (B)
    const pick = T.reshape(T.oneHot(last, L), [B, L, 1]); // (B, L, 1)
    const features = T.sum(T.mul(x, pick), 1); // (B, W)
    return this.text_projection.forward(features); // (B, D)
  }
}

function causalBias(L: number): Float32Array {
  const m = new Float32Array(L * L);
  for (let q = 0; q < L; q++) m.fill(MASKED, q * L + q + 1, (q + 1) * L);
  return m;
}

export class ClipVisionEncoder extends Module {
  conv1: Conv2d;
  class_embedding: Parameter;
  positional_embedding: Parameter;
  ln_pre: LayerNorm;
  h: Block[];
  ln_post: LayerNorm;
  proj: Linear;

  constructor(readonly cfg: ClipConfig) {
    super();
    const W = cfg.visionWidth;
    const tokens = (cfg.imageSize / cfg.patchSize) ** 2 + 1;
    const scale = W ** -0.5;
    const tc = towerConfig(W, cfg.visionLayers, cfg.visionHeads, tokens);
    this.conv1 = new Conv2d(3, W, cfg.patchSize, { stride: cfg.patchSize, bias: false });
    this.class_embedding = new Parameter([W], normal(scale), { decay: false });
    this.positional_embedding = new Parameter([tokens, W], normal(scale), { decay: false });
    this.ln_pre = new LayerNorm(W);
    this.h = Array.from({ length: cfg.visionLayers }, (_, i) => new Block(tc, i));
    this.ln_post = new LayerNorm(W);
    this.proj = new Linear(W, cfg.embedDim, { bias: false, init: normal(scale) });
  }

  /** Unnormalised image features (B, D) of images (B, 3, S, S) in [0, 1]. */
  forward(images: Tensor, ctx: ForwardCtx): Tensor {
    const [B, C, H, Wd] = images.shape as [number, number, number, number];
    const S = this.cfg.imageSize;
    if (C !== 3 || H !== S || Wd !== S) throw new Error(`CLIP images have shape [${images.shape.join(', ')}], the model takes [B, 3, ${S}, ${S}]`);
    const mean = T.constant(Float32Array.from(CLIP_IMAGE_MEAN), [1, 3, 1, 1]);
    const std = T.constant(Float32Array.from(CLIP_IMAGE_STD), [1, 3, 1, 1]);
    const x0 = T.div(T.sub(images, mean), std); // (B, 3, S, S)
    const W = this.cfg.visionWidth;
    const patches = this.conv1.forward(x0); // (B, W, g, g)
    const N = patches.shape[2]! * patches.shape[3]!;
    const seq = T.transpose(T.reshape(patches, [B, W, N]), [0, 2, 1]); // (B, N, W)
    const cls = T.expand(T.reshape(this.class_embedding.t, [1, 1, W]), [B, 1, W]); // (B, 1, W)
    let x = T.add(T.concat([cls, seq], 1), this.positional_embedding.t); // (B, N + 1, W)
    x = this.ln_pre.forward(x);
    const full = T.zeros([N + 1, N + 1]); // no mask: every token sees every token
    for (const block of this.h) x = block.forward(x, full, ctx);
    const clsOut = T.reshape(T.slice(x, [[1, 0, 1]]), [B, W]); // (B, W)
    return this.proj.forward(this.ln_post.forward(clsOut)); // (B, D)
  }
}

/** What the caller stores with a model to identify its tokenizer. */
export interface ClipTokenizerRecord {
  /** A string that changes whenever the tokenizer would encode differently; the CLI refuses a mismatch. */
  tokenizerFingerprint?: string;
  /** Any JSON describing the tokenizer (stored as config.json `tokenizer`). */
  tokenizer?: unknown;
  /** Extra files written next to the weights (e.g. a vocabulary), by file name. */
  files?: Record<string, string | Uint8Array>;
}

/** Anything that scores one caption against images (a ClipModel, or a stand-in in tests). */
export interface ClipScorer {
  score(textIds: readonly number[], images: readonly RgbImage[]): Promise<Float32Array>;
}

export class ClipModel extends Module implements ClipScorer {
  text: ClipTextEncoder;
  visual: ClipVisionEncoder;
  logit_scale: Parameter;
  /** Tokenizer record written with the model (not a parameter). */
  tokenizerRecord: ClipTokenizerRecord;
  private _runtime: CompiledModule<ClipModel> | undefined;

  constructor(
    readonly config: ClipConfig,
    tokenizerRecord: ClipTokenizerRecord = {},
  ) {
    super();
    validateClipConfig(config);
    this.text = new ClipTextEncoder(config);
    this.visual = new ClipVisionEncoder(config);
    this.logit_scale = new Parameter([], { kind: 'constant', value: LOGIT_SCALE_INIT }, { decay: false });
    this.tokenizerRecord = tokenizerRecord;
  }

  get embedDim(): number {
    return this.config.embedDim;
  }

  // ---- graph pieces (parameters bound) ----

  /** L2-normalised image embeddings (B, D). */
  imageEmbeddings(images: Tensor, ctx: ForwardCtx = EVAL): Tensor {
    return l2Normalize(this.visual.forward(images, ctx));
  }

  /** L2-normalised text embeddings (B, D). */
  textEmbeddings(ids: Tensor, ctx: ForwardCtx = EVAL): Tensor {
    return l2Normalize(this.text.forward(ids, ctx));
  }

  /** exp(logit_scale) clamped at 100 (scalar). */
  scale(): Tensor {
    return T.minimum(T.exp(this.logit_scale.t), MAX_LOGIT_SCALE);
  }

  /** logits_per_image (B, B): scale · img · txtᵀ; row i holds image i against every caption. */
  logits(images: Tensor, ids: Tensor, ctx: ForwardCtx = EVAL): Tensor {
    const img = this.imageEmbeddings(images, ctx); // (B, D)
    const txt = this.textEmbeddings(ids, ctx); // (B, D)
    return T.mul(T.matmulNT(img, txt), this.scale()); // (B, B)
  }

  /** Symmetric contrastive loss: mean of the image→text and text→image cross-entropies, pair i ↔ i positive. */
  loss(images: Tensor, ids: Tensor, ctx: ForwardCtx = EVAL): Tensor {
    return contrastiveLoss(this.logits(images, ids, ctx));
  }

  // ---- host API ----

  private get runtime(): CompiledModule<ClipModel> {
    this._runtime ??= new CompiledModule<ClipModel>(this, { name: 'tessera_clip' });
    return this._runtime;
  }

  /** Embeddings (N, D) of images (each imageSize × imageSize); one compiled program per N. */
  async encodeImages(images: readonly RgbImage[]): Promise<Float32Array> {
    const batch = checkImages(images, this.config.imageSize);
    const N = images.length;
    const S = this.config.imageSize;
    if (N === 0) return new Float32Array(0);
    const prog = await this.runtime.program(`image_${N}`, (): TracedGraph => {
      const x = T.input('images', [N, 3, S, S]);
      return { inputs: [x], outputs: { emb: this.imageEmbeddings(x) } };
    });
    return (await this.runtime.run(prog, { images: batch })).emb!.data as Float32Array;
  }

  /** Embeddings (N, D) of captions given as token ids (each at most textLength, padded here); one program per N. */
  async encodeTexts(ids: readonly (readonly number[])[]): Promise<Float32Array> {
    const batch = padTextIds(ids, this.config);
    const N = ids.length;
    const L = this.config.textLength;
    if (N === 0) return new Float32Array(0);
    const prog = await this.runtime.program(`text_${N}`, (): TracedGraph => {
      const x = T.input('ids', [N, L], 'int64');
      return { inputs: [x], outputs: { emb: this.textEmbeddings(x) } };
    });
    return (await this.runtime.run(prog, { ids: batch })).emb!.data as Float32Array;
  }

  /**
   * Cosine similarities. One caption (number[]): (N) against each image. Several captions (number[][]): (M, N)
   * row-major, caption m against image n.
   */
  async score(textIds: readonly number[], images: readonly RgbImage[]): Promise<Float32Array>;
  async score(textIds: readonly (readonly number[])[], images: readonly RgbImage[]): Promise<Float32Array>;
  async score(textIds: readonly number[] | readonly (readonly number[])[], images: readonly RgbImage[]): Promise<Float32Array> {
    const many = textIds.length > 0 && Array.isArray(textIds[0]);
    const captions = (many ? textIds : [textIds]) as readonly (readonly number[])[];
    const txt = await this.encodeTexts(captions);
    const img = await this.encodeImages(images);
    return cosineMatrix(txt, img, this.config.embedDim);
  }

  /** Forget compiled programs (call after the weights changed). */
  async invalidate(): Promise<void> {
    await this._runtime?.invalidate();
  }

  async release(): Promise<void> {
    await this._runtime?.release();
    this._runtime = undefined;
  }
}

/** Mean of the row-wise (image→text) and column-wise (text→image) cross-entropies of logits (B, B), diagonal targets. */
export function contrastiveLoss(logitsPerImage: Tensor): Tensor {
  const B = logitsPerImage.shape[0]!;
  const targets = T.arange(B, 'int64'); // (B)
  const imageToText = T.crossEntropy(logitsPerImage, targets);
  const textToImage = T.crossEntropy(T.transpose(logitsPerImage, [1, 0]), targets);
  return T.mul(T.add(imageToText, textToImage), 0.5);
}

/** a (M, D) · b (N, D)ᵀ on the host: (M, N); with L2-normalised rows these are cosine similarities. */
export function cosineMatrix(a: Float32Array, b: Float32Array, D: number): Float32Array {
  const M = a.length / D;
  const N = b.length / D;
  const out = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += a[m * D + d]! * b[n * D + d]!;
      out[m * N + n] = s;
    }
  }
  return out;
}

/** Stack images into (N, 3, S, S), refusing a wrong size or non-finite pixels with the image's index. */
export function checkImages(images: readonly RgbImage[], size: number): Float32Array {
  const n = imageLength(size);
  const out = new Float32Array(images.length * n);
  images.forEach((im, i) => {
    if (!im || typeof im !== 'object' || !(im.data instanceof Float32Array)) throw new Error(`CLIP: image ${i} is not an RgbImage (planar float32 data)`);
    if (im.width !== size || im.height !== size) throw new Error(`CLIP: image ${i} is ${im.width}×${im.height}, this model takes ${size}×${size} images`);
    if (im.data.length !== n) throw new Error(`CLIP: image ${i} has ${im.data.length} values, a ${size}×${size} RGB image has ${n}`);
    for (let k = 0; k < n; k++) {
      if (!Number.isFinite(im.data[k]!)) throw new Error(`CLIP: image ${i} has a non-finite pixel value at index ${k}`);
    }
    out.set(im.data, i * n);
  });
  return out;
}

/** Captions (each ≤ textLength ids, at least one) padded with padId into (N, L) int64. */
export function padTextIds(ids: readonly (readonly number[])[], cfg: ClipConfig): BigInt64Array {
  const L = cfg.textLength;
  const out = new BigInt64Array(ids.length * L).fill(BigInt(cfg.padId));
  ids.forEach((row, i) => {
    if (!Array.isArray(row)) throw new Error(`CLIP: caption ${i} is not an array of token ids`);
    if (row.length > L) throw new Error(`CLIP: caption ${i} has ${row.length} tokens, longer than the model's textLength ${L} (truncate it when encoding)`);
    if (row.length === 0 || row.every((t) => t === cfg.padId)) throw new Error(`CLIP: caption ${i} is empty (only padding)`);
    row.forEach((t, j) => {
      if (!Number.isInteger(t) || t < 0 || t >= cfg.textVocab) throw new Error(`CLIP: caption ${i} token ${j} is ${t}, not an id in [0, ${cfg.textVocab})`);
      out[i * L + j] = BigInt(t);
    });
  });
  return out;
}

// ---- model directory ----

export const CLIP_MODEL_TYPE = 'tessera-clip';
const WEIGHTS_FILE = 'model.safetensors';
const CONFIG_FILE = 'config.json';

/** Write config.json and model.safetensors (and the tokenizer record's files) into `dir` (created if needed). */
export function saveClip(dir: string, model: ClipModel, record: ClipTokenizerRecord = model.tokenizerRecord, info: { step?: number } = {}): void {
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, p] of model.nameParameters()) tensors[name] = fromFloat32(p.data, [...p.shape]);
  writeSafetensorsSync(join(dir, WEIGHTS_FILE), tensors, { format: 'pt', model_type: CLIP_MODEL_TYPE, ...(info.step !== undefined ? { step: String(info.step) } : {}) });
  for (const [name, content] of Object.entries(record.files ?? {})) {
    if (name === WEIGHTS_FILE || name === CONFIG_FILE || name.includes('/') || name.includes('\\')) throw new Error(`CLIP: cannot write tokenizer file '${name}'`);
    writeFileAtomicSync(join(dir, name), content);
  }
  const config = {
    model_type: CLIP_MODEL_TYPE,
    ...model.config,
    tokenizer_fingerprint: record.tokenizerFingerprint ?? null,
    ...(record.tokenizer !== undefined ? { tokenizer: record.tokenizer } : {}),
    ...(record.files ? { tokenizer_files: Object.keys(record.files) } : {}),
  };
  writeFileAtomicSync(join(dir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
}

/** Read config.json of a CLIP model directory. */
export function readClipConfig(dir: string): { config: ClipConfig; record: ClipTokenizerRecord } {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) throw new Error(`${dir}: not a CLIP model directory (no ${CONFIG_FILE})`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot parse: ${(err as Error).message}`);
  }
  if (raw.model_type !== CLIP_MODEL_TYPE) throw new Error(`${path}: model_type is ${JSON.stringify(raw.model_type)}, expected "${CLIP_MODEL_TYPE}"`);
  const config = Object.fromEntries(CONFIG_KEYS.map((k) => [k, raw[k]])) as unknown as ClipConfig;
  validateClipConfig(config, path);
  const fp = raw.tokenizer_fingerprint;
  if (fp !== undefined && fp !== null && typeof fp !== 'string') throw new Error(`${path}: tokenizer_fingerprint must be a string`);
  const record: ClipTokenizerRecord = { tokenizerFingerprint: typeof fp === 'string' ? fp : undefined };
  if (raw.tokenizer !== undefined) record.tokenizer = raw.tokenizer;
  if (Array.isArray(raw.tokenizer_files)) {
    record.files = {};
    for (const f of raw.tokenizer_files as string[]) {
      if (existsSync(join(dir, f))) record.files[f] = readFileSync(join(dir, f));
    }
  }
  return { config, record };
}

/**
 * Load a CLIP model directory. With `tokenizerFingerprint`, a model recorded with a different tokenizer (or none) is
 * refused. Every parameter must be present with its shape; unknown tensors are refused too.
 */
export function loadClip(dir: string, opts: { tokenizerFingerprint?: string } = {}): ClipModel {
  const { config, record } = readClipConfig(dir);
  if (opts.tokenizerFingerprint !== undefined && record.tokenizerFingerprint !== opts.tokenizerFingerprint) {
    throw new Error(
      `${dir}: the CLIP model was trained with tokenizer ${JSON.stringify(record.tokenizerFingerprint ?? null)}, ` +
        `but the caller's tokenizer is ${JSON.stringify(opts.tokenizerFingerprint)}; use the matching tokenizer`,
    );
  }
  const model = new ClipModel(config, record);
  loadClipWeights(dir, model);
  return model;
}

function loadClipWeights(dir: string, model: ClipModel): void {
  const path = join(dir, WEIGHTS_FILE);
  if (!existsSync(path)) throw new Error(`${dir}: no ${WEIGHTS_FILE}`);
  const st = readSafetensorsSync(path);
  const state = new Map([...st.tensors].map(([k, v]) => [k, { shape: v.shape, data: f32FromSafeTensor(v) }]));
  model.loadStateDict(state, path);
  const known = model.namedParameters();
  const extra = [...state.keys()].filter((k) => !known.has(k));
  if (extra.length) throw new Error(`${path}: tensors that this CLIP model does not have: ${extra.slice(0, 5).join(', ')}`);
}

/** The trainer's CheckpointIO for a ClipModel: saveClip / the weights of a directory of the same config. */
export function clipCheckpointIO(): CheckpointIO<ClipModel> {
  return {
    save: (dir, model, info) => saveClip(dir, model, model.tokenizerRecord, info),
    load: (dir, model) => {
      const { config, record } = readClipConfig(dir);
      const diff = CONFIG_KEYS.filter((k) => config[k] !== model.config[k]);
      if (diff.length) {
        throw new Error(`${dir}: the checkpoint's CLIP config differs from this run's: ${diff.map((k) => `${k} ${config[k]} vs ${model.config[k]}`).join(', ')}`);
      }
      if (record.tokenizerFingerprint !== model.tokenizerRecord.tokenizerFingerprint) {
        throw new Error(`${dir}: the checkpoint was trained with tokenizer ${JSON.stringify(record.tokenizerFingerprint ?? null)}, this run uses ${JSON.stringify(model.tokenizerRecord.tokenizerFingerprint ?? null)}`);
      }
      loadClipWeights(dir, model);
      return model;
    },
  };
}
