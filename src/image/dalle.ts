// The DALL·E stage-2 transformer (Ramesh et al. 2021, §2.2 and appendix B) on tessera's one decoder transformer
// (src/nn/transformer.ts): a caption of at most L BPE ids and an h×w grid of dVAE tokens (K codes) in one stream,
// text ids then image ids in one table, learned positions plus row/column embeddings on the image, the paper's
// row / column / convolutional attention schedule, and the 1/8 text + 7/8 image loss with logits restricted per kind.
// Saves and loads a model dir (config.json `model_type: "tessera-dalle"`, model.safetensors, caption tokenizer files).
//
// The stream (as DALLE-pytorch, and the paper's "learned padding token per position"):
//
//   stream position   0      1 … L                      L+1 … L+hw
//   token             <bos>  text_1 … text_L            image_1 … image_hw     (image_k = dVAE token k−1, raster order)
//   input             ✓      ✓                          ✓ … image_{hw−1}       (the last image token is never input)
//
// Text ids: 0 … textVocab−1 are the caption BPE; a text position p ∈ 1…L with no caption token holds ITS OWN padding
// id textVocab + p, and <bos> is the padding id of position 0 (textVocab), so the text range has textVocab + L + 1
// ids and each position learns its own pad. Image ids follow: image code c ∈ 0…K−1 is id textVocab + L + 1 + c. The
// input is N = L + hw tokens; the logits at input position t predict the token at stream position t + 1, so positions
// 0 … L−1 predict text (the caption and its pads) and positions L … L+hw−1 predict the image. Each prediction's logits
// are restricted to its kind: text targets over the text range, image targets over the K image ids (DALLE-pytorch
// 58c1e1a draws the text/image line at text_seq_len = L + 1, so the logits that predict its first image token are
// restricted to text ids; here the line is drawn by what is predicted, which is what its mask intends). The text
// loss covers every text target, pads included (as DALLE-pytorch), so a null caption teaches the pads' sequence.
//
// Attention (src/nn/attention-pattern.ts, with imageGrid.textLength = L + 1 so grid cell (r, c) is the input position
// holding image code (r, c)): the paper's masks (its Fig. 11) are drawn over input positions — a query attends from
// the position it holds — and so are ours. With the shift, the query that PREDICTS image cell j = (r, c) HOLDS cell
// j − 1 (the text position L for j = 0). Every image query sees <bos> and all L text positions (pads included), and
// within the image, from the predicted cell's point of view:
//   row    — the hw-raster window of the w + 1 cells before j: j−1, j−2, …, j−w−1 (which includes the cell directly
//            above, j − w, and wraps to the previous row), i.e. the paper's "previous w+1 tokens incl. itself" of the
//            held cell j − 1;
//   column — the earlier cells of the HELD cell's column: (r, c−1), (r−1, c−1), … (for c = 0: column w−1 of rows
//            r−1, r−2, …), as the paper's column mask applied to the held position; the cell above j itself reaches
//            the query through the row layers;
//   conv   — (last layer) the causal k×k window centred on the held cell j − 1 = (r', c'): cells (r'', c'') up to j − 1
//            in raster order with r' − r'' ≤ ⌊k/2⌋ and |c' − c''| ≤ ⌊k/2⌋, so relative to j the window reaches ⌊k/2⌋ + 1
//            columns left and ⌊k/2⌋ − 1 right (no wraparound across the grid's side edges).
// The query for image cell 0 (text position L) is a text query: it sees <bos> and all text. Text queries are causal
// and never see the image. The cached decoder builds its masks from the same pattern objects, so sampling sees the same.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../engine/index.js';
import type { Tensor } from '../engine/tensor.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { f32FromSafeTensor, fromFloat32, readSafetensorsSync, writeSafetensorsSync, type SafeTensor } from '../io/safetensors.js';
import { dallePatterns, type AttentionPattern, type ImageGrid } from '../nn/attention-pattern.js';
import type { ForwardCtx } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { Transformer, type TransformerConfig } from '../nn/transformer.js';
import type { CheckpointIO } from '../train/checkpoint-io.js';
import { CAPTION_TOKENIZER_CONFIG, loadCaptionTokenizer, type CaptionTokenizer } from './text-tokenizer.js';

export const DALLE_MODEL_TYPE = 'tessera-dalle';

/** A layer's attention kind; `dense` is plain causal (for ablations), the others are the paper's. */
export type DalleAttention = 'row' | 'column' | 'conv' | 'dense';

export interface DalleConfig {
  /** Caption BPE ids (the caption tokenizer's vocabulary size). */
  textVocab: number;
  /** L: caption tokens per example (captions are truncated to it, shorter ones padded). */
  textLength: number;
  /** K: the dVAE's codebook size. */
  imageVocab: number;
  /** The dVAE's token grid. */
  gridHeight: number;
  gridWidth: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  dropout: number;
  /** Kernel of the last layer's convolutional attention (odd; the paper uses 11 on a 32×32 grid). */
  convKernel: number;
  /** Weight w of the image loss: loss = (1 − w)·text + w·image (the paper's 7/8). */
  lossImageWeight: number;
  /** Training: probability that a caption is replaced by all padding (classifier-free guidance). */
  nullCaptionProb: number;
  /** Per-layer attention kinds; default the paper's schedule (dallePatterns). */
  attention?: DalleAttention[];
}

/** A small model that trains on two CPU cores: 16 text tokens, an 8×8 grid of K = 512 codes, 4 layers × 128. */
export const DEFAULT_DALLE_CONFIG: DalleConfig = {
  textVocab: 512,
  textLength: 16,
  imageVocab: 512,
  gridHeight: 8,
  gridWidth: 8,
  nLayer: 4,
  nHead: 4,
  nEmbd: 128,
  dropout: 0.1,
  convKernel: 5,
  lossImageWeight: 7 / 8,
  nullCaptionProb: 0.1,
};

/** The default config with `overrides` (set textVocab to the caption tokenizer's vocabSize). */
export function dalleConfig(overrides: Partial<DalleConfig> = {}): DalleConfig {
  const c = { ...DEFAULT_DALLE_CONFIG, ...overrides };
  validateDalleConfig(c);
  return c;
}

export function validateDalleConfig(c: DalleConfig, where = 'DALL·E config'): void {
  for (const k of ['textVocab', 'textLength', 'imageVocab', 'gridHeight', 'gridWidth', 'nLayer', 'nHead', 'nEmbd', 'convKernel'] as const) {
    const v = c[k];
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${where}: ${k} must be a positive integer, got ${String(v)}`);
  }
  if (c.convKernel % 2 === 0) throw new Error(`${where}: convKernel must be odd, got ${c.convKernel}`);
  if (!(c.lossImageWeight >= 0 && c.lossImageWeight <= 1)) throw new Error(`${where}: lossImageWeight must be in [0, 1], got ${c.lossImageWeight}`);
  if (!(c.nullCaptionProb >= 0 && c.nullCaptionProb < 1)) throw new Error(`${where}: nullCaptionProb must be in [0, 1), got ${c.nullCaptionProb}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`${where}: dropout must be in [0, 1), got ${c.dropout}`);
  if (c.attention !== undefined) {
    if (!Array.isArray(c.attention) || c.attention.length !== c.nLayer) throw new Error(`${where}: attention must list one kind per layer (${c.nLayer})`);
    for (const a of c.attention) if (!['row', 'column', 'conv', 'dense'].includes(a)) throw new Error(`${where}: unknown attention kind ${JSON.stringify(a)} (row, column, conv, dense)`);
  }
}

/** Id layout of the stream (see the header). */
export class DalleLayout {
  /** Ids of the text range: caption BPE, then one pad per stream position 0..L (position 0's is <bos>). */
  readonly textTotal: number;
  readonly vocabSize: number;
  readonly bosId: number;
  /** hw. */
  readonly imageLength: number;
  /** Input tokens of a full forward: L + hw (the last image token is not input). */
  readonly inputLength: number;
  /** Stream position of image token 0. */
  readonly imageStart: number;
  constructor(readonly cfg: DalleConfig) {
    this.textTotal = cfg.textVocab + cfg.textLength + 1;
    this.vocabSize = this.textTotal + cfg.imageVocab;
    this.bosId = cfg.textVocab;
    this.imageLength = cfg.gridHeight * cfg.gridWidth;
    this.inputLength = cfg.textLength + this.imageLength;
    this.imageStart = cfg.textLength + 1;
  }

  /** The padding id of stream position p (0 … L; p = 0 is <bos>). */
  padId(p: number): number {
    if (!Number.isInteger(p) || p < 0 || p > this.cfg.textLength) throw new Error(`padId: position ${p} is outside 0..${this.cfg.textLength}`);
    return this.cfg.textVocab + p;
  }

  /** The stream id of image code c (0 … K−1). */
  imageId(c: number): number {
    return this.textTotal + c;
  }

  /** [<bos>, text_1 … text_L] (L + 1 ids): the caption's BPE ids, then each remaining position's own pad. */
  textStream(textIds: readonly number[]): number[] {
    const { textLength: L, textVocab } = this.cfg;
    if (textIds.length > L) throw new Error(`caption has ${textIds.length} tokens, more than the text length ${L} (encode it with encodeCaption, which truncates)`);
    const out = [this.bosId];
    for (let p = 1; p <= L; p++) {
      const id = textIds[p - 1];
      if (id === undefined) out.push(this.padId(p));
      else {
        if (!Number.isInteger(id) || id < 0 || id >= textVocab) throw new Error(`caption token id ${id} is outside the caption vocabulary 0..${textVocab - 1}`);
        out.push(id);
      }
    }
    return out;
  }

  /** The null caption of classifier-free guidance: every position its pad. */
  nullTextStream(): number[] {
    return this.textStream([]);
  }

  /**
   * One training example: the input ids (N = L + hw), the text targets (L, ids in the text range) and the image
   * targets (hw, codes 0 … K−1). `nullCaption` replaces the caption by all-pad.
   */
  example(textIds: readonly number[], imageTokens: ArrayLike<number>, nullCaption = false): { idx: number[]; textTargets: number[]; imageTargets: number[] } {
    const K = this.cfg.imageVocab;
    if (imageTokens.length !== this.imageLength) {
      throw new Error(`image has ${imageTokens.length} tokens, the model's grid is ${this.cfg.gridHeight}×${this.cfg.gridWidth} = ${this.imageLength}`);
    }
    const text = nullCaption ? this.nullTextStream() : this.textStream(textIds);
    const image: number[] = [];
    for (let i = 0; i < imageTokens.length; i++) {
      const c = imageTokens[i]!;
      if (!Number.isInteger(c) || c < 0 || c >= K) throw new Error(`image token ${c} at ${i} is outside the dVAE codebook 0..${K - 1}`);
      image.push(c);
    }
    const idx = [...text, ...image.slice(0, -1).map((c) => this.imageId(c))];
    return { idx, textTargets: text.slice(1), imageTargets: image };
  }
}

/** The transformer configuration of a DALL·E config: two vocabulary ranges, the image grid, the attention schedule. */
export function dalleTransformerConfig(c: DalleConfig): TransformerConfig {
  validateDalleConfig(c);
  const lay = new DalleLayout(c);
  const grid: ImageGrid = { textLength: c.textLength + 1, height: c.gridHeight, width: c.gridWidth };
  const patterns: AttentionPattern[] = c.attention
    ? c.attention.map((a): AttentionPattern => (a === 'conv' ? { kind: 'conv', grid, kernel: c.convKernel } : a === 'dense' ? { kind: 'dense' } : { kind: a, grid }))
    : dallePatterns(c.nLayer, grid, c.convKernel);
  return {
    vocabSize: lay.vocabSize,
    vocabRanges: [
      { name: 'text', start: 0, size: lay.textTotal },
      { name: 'image', start: lay.textTotal, size: c.imageVocab },
    ],
    // the grid must fit the position table, so it has 1 + L + hw rows though inputs are L + hw long (the last row
    // would only serve the dropped last image token; it is never read)
    blockSize: 1 + c.textLength + lay.imageLength,
    nLayer: c.nLayer,
    nHead: c.nHead,
    nEmbd: c.nEmbd,
    dropout: c.dropout,
    bias: true,
    tiedEmbeddings: false, // DALLE-pytorch's to_logits is its own matrix
    layerNormEps: 1e-5,
    patterns,
    imageGrid: grid,
  };
}

export interface DalleLosses {
  text: Tensor;
  image: Tensor;
  total: Tensor;
}

export class DalleModel extends Module {
  transformer: Transformer;
  readonly layout: DalleLayout;

  constructor(readonly config: DalleConfig) {
    super();
    this.transformer = new Transformer(dalleTransformerConfig(config));
    this.layout = new DalleLayout(config);
  }

  /** Logits (B, N, V) over the whole id table for input ids (B, N). */
  logits(idx: Tensor, ctx: ForwardCtx): Tensor {
    return this.transformer.forward(idx, ctx);
  }

  /**
   * The per-kind losses of a batch: idx (B, N) int64 input ids, textTargets (B, L) int64 text-range ids,
   * imageTargets (B, hw) int64 codes. `perRow`: (B) means per example instead of batch means.
   */
  losses(idx: Tensor, textTargets: Tensor, imageTargets: Tensor, ctx: ForwardCtx, perRow = false): DalleLosses {
    const { textLength: L, lossImageWeight: w } = this.config;
    const { textTotal, vocabSize: V, inputLength: N } = this.layout;
    const logits = this.logits(idx, ctx); // (B, N, V)
    const textLogits = T.slice(logits, [[1, 0, L], [2, 0, textTotal]]); // (B, L, textTotal): positions predicting text
    const imageLogits = T.slice(logits, [[1, L, N], [2, textTotal, V]]); // (B, hw, K): positions predicting the image
    const ce = (lg: Tensor, tg: Tensor) => (perRow ? T.mean(T.crossEntropy(lg, tg, { reduction: 'none' }), 1) : T.crossEntropy(lg, tg));
    const text = ce(textLogits, textTargets);
    const image = ce(imageLogits, imageTargets);
    return { text, image, total: T.add(T.mul(text, 1 - w), T.mul(image, w)) };
  }

  /** The scalar training loss (1 − w)·text + w·image. */
  loss(idx: Tensor, textTargets: Tensor, imageTargets: Tensor, ctx: ForwardCtx): Tensor {
    return this.losses(idx, textTargets, imageTargets, ctx).total;
  }
}

// ---- model directory ----

export interface DalleConfigFile {
  model_type: typeof DALLE_MODEL_TYPE;
  /** The full configuration. */
  dalle: DalleConfig;
  /** The dVAE this transformer's image tokens come from (checked before decoding its samples). */
  dvae: { num_tokens: number; grid_height: number; grid_width: number; name?: string };
  /** The caption tokenizer's fingerprint (tokenizer_config.json sits next to this file). */
  tokenizer_fingerprint?: string;
  vocab_ranges: TransformerConfig['vocabRanges'];
  block_size: number;
  step?: number;
}

/** Everything of a DALL·E model dir: config.json, model.safetensors (`transformer.*` names) and the tokenizer files. */
export function saveDalle(dir: string, model: DalleModel, opts: { tokenizer?: CaptionTokenizer; dvaeName?: string; step?: number } = {}): void {
  mkdirSync(dir, { recursive: true });
  const c = model.config;
  if (opts.tokenizer && opts.tokenizer.vocabSize !== c.textVocab) {
    throw new Error(`the caption tokenizer has ${opts.tokenizer.vocabSize} ids but the model's textVocab is ${c.textVocab}`);
  }
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, p] of model.nameParameters()) tensors[name] = fromFloat32(p.data, [...p.shape]);
  writeSafetensorsSync(join(dir, 'model.safetensors'), tensors, { format: 'pt', ...(opts.step !== undefined ? { step: String(opts.step) } : {}) });
  if (opts.tokenizer) opts.tokenizer.save(dir);
  const tc = model.transformer.tcfg;
  const file: DalleConfigFile = {
    model_type: DALLE_MODEL_TYPE,
    dalle: { ...c },
    dvae: { num_tokens: c.imageVocab, grid_height: c.gridHeight, grid_width: c.gridWidth, ...(opts.dvaeName ? { name: opts.dvaeName } : {}) },
    ...(opts.tokenizer ? { tokenizer_fingerprint: opts.tokenizer.fingerprint() } : {}),
    vocab_ranges: tc.vocabRanges,
    block_size: tc.blockSize,
    ...(opts.step !== undefined ? { step: opts.step } : {}),
  };
  writeFileAtomicSync(join(dir, 'config.json'), `${JSON.stringify(file, null, 2)}\n`);
}

/** Read and check a DALL·E config.json. */
export function readDalleConfig(dir: string): DalleConfigFile {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new Error(`${dir}: no config.json (not a model directory)`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read config: ${(err as Error).message}`);
  }
  if (j.model_type !== DALLE_MODEL_TYPE) throw new Error(`${path}: model_type ${JSON.stringify(j.model_type)} is not ${JSON.stringify(DALLE_MODEL_TYPE)} (not a DALL·E transformer)`);
  const cfg = { ...DEFAULT_DALLE_CONFIG, attention: undefined, ...(j.dalle as Partial<DalleConfig>) } as DalleConfig;
  if (cfg.attention === undefined) delete cfg.attention;
  validateDalleConfig(cfg, path);
  return { ...(j as unknown as DalleConfigFile), dalle: cfg };
}

function loadWeights(dir: string, model: DalleModel): void {
  const path = join(dir, 'model.safetensors');
  if (!existsSync(path)) throw new Error(`${dir}: no model.safetensors`);
  const st = readSafetensorsSync(path);
  const state = new Map([...st.tensors].map(([k, v]) => [k, { shape: v.shape, data: f32FromSafeTensor(v) }]));
  model.loadStateDict(state, path);
  const extra = [...state.keys()].filter((k) => !model.namedParameters().has(k));
  if (extra.length) throw new Error(`${path}: tensors not in the model: ${extra.slice(0, 5).join(', ')}`);
}

export interface LoadedDalle {
  model: DalleModel;
  config: DalleConfig;
  file: DalleConfigFile;
  tokenizer: CaptionTokenizer | undefined;
  dir: string;
}

/** Load a DALL·E model dir (DIR, or DIR/checkpoint of an unfinished run). */
export function loadDalle(dirIn: string): LoadedDalle {
  const dir = existsSync(join(dirIn, 'config.json')) || !existsSync(join(dirIn, 'checkpoint', 'config.json')) ? dirIn : join(dirIn, 'checkpoint');
  const file = readDalleConfig(dir);
  const model = new DalleModel(file.dalle);
  loadWeights(dir, model);
  let tokenizer: CaptionTokenizer | undefined;
  if (existsSync(join(dir, CAPTION_TOKENIZER_CONFIG))) {
    tokenizer = loadCaptionTokenizer(dir);
    if (file.tokenizer_fingerprint && tokenizer.fingerprint() !== file.tokenizer_fingerprint) {
      throw new Error(`${dir}: the tokenizer files hash to ${tokenizer.fingerprint()} but config.json records ${file.tokenizer_fingerprint}`);
    }
    if (tokenizer.vocabSize !== file.dalle.textVocab) throw new Error(`${dir}: the caption tokenizer has ${tokenizer.vocabSize} ids, config.json's textVocab is ${file.dalle.textVocab}`);
  }
  return { model, config: file.dalle, file, tokenizer, dir };
}

/** What the transformer needs of a dVAE: its codebook size and token grid. */
export interface DvaeShape {
  imageVocab: number;
  gridHeight: number;
  gridWidth: number;
  /** Names it in messages (a path). */
  name?: string;
}

/** Refuse a dVAE whose codebook or grid differ from the ones the transformer was trained on, naming both. */
export function checkDvaeCompatible(cfg: DalleConfig, dvae: DvaeShape, transformerName = 'the transformer'): void {
  if (dvae.imageVocab === cfg.imageVocab && dvae.gridHeight === cfg.gridHeight && dvae.gridWidth === cfg.gridWidth) return;
  throw new Error(
    `${transformerName} was trained on dVAE tokens with K = ${cfg.imageVocab} codes on a ${cfg.gridHeight}×${cfg.gridWidth} grid, ` +
      `but the dVAE${dvae.name ? ` ${dvae.name}` : ''} has K = ${dvae.imageVocab} codes on a ${dvae.gridHeight}×${dvae.gridWidth} grid; ` +
      'use the dVAE the transformer was trained with',
  );
}

/** The trainer's CheckpointIO for a DALL·E model (its files, plus the tokenizer when given). */
export function dalleCheckpointIO(opts: { tokenizer?: CaptionTokenizer; dvaeName?: string } = {}): CheckpointIO<DalleModel> {
  return {
    save(dir, model, info) {
      saveDalle(dir, model, { ...opts, step: info.step });
    },
    load(dir, model) {
      const file = readDalleConfig(dir);
      const a = canonicalArchitecture(file.dalle);
      const b = canonicalArchitecture(model.config);
      if (a !== b) throw new Error(`${dir}: the checkpoint's DALL·E config ${a} differs from this run's ${b}`);
      loadWeights(dir, model);
      return model;
    },
  };
}

/** The architecture-defining fields of a config as canonical JSON (sorted keys; dropout and caption dropout left out). */
function canonicalArchitecture(c: DalleConfig): string {
  const { dropout: _d, nullCaptionProb: _n, ...rest } = c;
  const o = rest as Record<string, unknown>;
  return JSON.stringify(Object.fromEntries(Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => [k, o[k]])));
}
