// One decoder-only transformer for the three systems, configured, not copied: a token table (one vocabulary, or
// several ranges in one stream — text ids then image ids), learned positions plus optional row/column tables for an
// image grid (DALL·E), pre-LN blocks (attention + GELU MLP), a final LayerNorm and a head tied to the token table or
// its own. Each layer's attention pattern is data (src/nn/attention-pattern.ts); a forward builds each distinct
// pattern's mask once and every layer using that pattern shares it. The same module runs a full forward (training,
// scoring) and a cached step (decoding, prefix-shared scoring) from the same pattern objects. Parameter names follow
// Hugging Face GPT-2 (`wte`, `wpe`, `h.0.attn.c_attn.weight`, …), so GPT-2 checkpoints load as they are.

import * as T from '../engine/index.js';
import type { Tensor } from '../engine/tensor.js';
import { fullBias, patternKey, validatePattern, type AttentionPattern, type ImageGrid } from './attention-pattern.js';
import { normal } from './init.js';
import { Dropout, Embedding, LayerNorm, Linear, type ForwardCtx } from './layers.js';
import { Module } from './module.js';

export interface VocabRange {
  name: string;
  start: number;
  size: number;
}

export interface TransformerConfig {
  /** Total number of ids (the sum of the ranges when there are several). */
  vocabSize: number;
  /** Optional named id ranges in one stream, e.g. [{text, 0, 16384}, {image, 16384, 8192}]. */
  vocabRanges?: VocabRange[];
  /** Context length (learned position table size). */
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  dropout: number;
  bias: boolean;
  tiedEmbeddings: boolean;
  layerNormEps: number;
  /** The attention pattern of each layer (length nLayer). */
  patterns: AttentionPattern[];
  /** With an image grid, image positions also get a row embedding (`wre`) and a column embedding (`wce`). */
  imageGrid?: ImageGrid;
}

export function validateTransformerConfig(c: TransformerConfig): void {
  for (const k of ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const) {
    const v = c[k];
    if (!Number.isInteger(v) || v <= 0) throw new Error(`config.${k} must be a positive integer, got ${String(v)}`);
  }
  if (c.nEmbd % c.nHead !== 0) throw new Error(`config.nEmbd (${c.nEmbd}) must be divisible by nHead (${c.nHead})`);
  if (!Array.isArray(c.patterns) || c.patterns.length !== c.nLayer) {
    throw new Error(`config.patterns must list one attention pattern per layer (${c.nLayer}), got ${Array.isArray(c.patterns) ? c.patterns.length : typeof c.patterns}`);
  }
  c.patterns.forEach((p, i) => validatePattern(p, c.blockSize, `layer ${i} attention`));
  if (c.imageGrid) validatePattern({ kind: 'row', grid: c.imageGrid }, c.blockSize, 'config.imageGrid');
  if (c.vocabRanges) {
    let next = 0;
    for (const r of c.vocabRanges) {
      if (r.start !== next || !Number.isInteger(r.size) || r.size <= 0) {
        throw new Error(`config.vocabRanges: range '${r.name}' must start at ${next} with a positive size, got start ${r.start} size ${r.size}`);
      }
      next += r.size;
    }
    if (next !== c.vocabSize) throw new Error(`config.vocabRanges cover ${next} ids but vocabSize is ${c.vocabSize}`);
  }
}

/** Masks and position inputs of a cached step: everything that depends on where the new tokens sit. */
export interface CachedStepInputs {
  /** Stream positions of the new tokens (B, T) int64. */
  pos: Tensor;
  /** Additive masks (B, 1, T, S + T) by pattern key: S cache slots then the T new tokens. */
  bias: Map<string, Tensor>;
  /** Per layer: cached keys and values (B, nh, S, hd). */
  pastK: Tensor[];
  pastV: Tensor[];
  /** With an image grid: row / column ids (B, T) int64 and a (B, T, 1) float mask that is 1 at image positions. */
  gridRow?: Tensor;
  gridCol?: Tensor;
  gridMask?: Tensor;
}

/** Host-side grid position ids of stream position p: [row, col, isImage]. */
export function gridIds(grid: ImageGrid, p: number): [number, number, number] {
  const i = p - grid.textLength;
  if (i < 0 || i >= grid.height * grid.width) return [0, 0, 0];
  return [Math.floor(i / grid.width), i % grid.width, 1];
}

export class CausalSelfAttention extends Module {
  c_attn: Linear;
  c_proj: Linear;
  attn_dropout: Dropout;
  resid_dropout: Dropout;
  constructor(
    readonly cfg: TransformerConfig,
    readonly layer: number,
  ) {
    super();
    const C = cfg.nEmbd;
    this.c_attn = new Linear(C, 3 * C, { bias: cfg.bias });
    // GPT-2's scaled init of residual projections: std 0.02 / sqrt(2 · n_layer)
    this.c_proj = new Linear(C, C, { bias: cfg.bias, init: normal(0.02 / Math.sqrt(2 * cfg.nLayer)) });
    this.attn_dropout = new Dropout(cfg.dropout, `h.${layer}.attn.attn_dropout`);
    this.resid_dropout = new Dropout(cfg.dropout, `h.${layer}.attn.resid_dropout`);
  }

  get pattern(): AttentionPattern {
    return this.cfg.patterns[this.layer]!;
  }

  private qkv(x: Tensor): [Tensor, Tensor, Tensor] {
    const [B, Tn, C] = x.shape as [number, number, number];
    const nh = this.cfg.nHead;
    const qkv = this.c_attn.forward(x); // (B, T, 3C)
    return T.split(qkv, 3, 2).map((z) => T.transpose(T.reshape(z, [B, Tn, nh, C / nh]), [0, 2, 1, 3])) as [Tensor, Tensor, Tensor]; // (B, nh, T, hd)
  }

  private merge(y: Tensor): Tensor {
    const [B, nh, Tn, hd] = y.shape as [number, number, number, number];
    return T.reshape(T.transpose(y, [0, 2, 1, 3]), [B, Tn, nh * hd]); // (B, T, C)
  }

  /** Full forward; `bias` (T, T) is the shared mask of this layer's pattern. */
  forward(x: Tensor, bias: Tensor, ctx: ForwardCtx): Tensor {
    const [q, k, v] = this.qkv(x);
    const hd = q.shape[3]!;
    const att = T.add(T.matmul(T.mul(q, 1 / Math.sqrt(hd)), T.transpose(k, [0, 1, 3, 2])), bias); // (B, nh, T, T)
    const p = this.attn_dropout.forward(T.softmax(att, -1), ctx);
    const y = T.matmul(p, v); // (B, nh, T, hd)
    return this.resid_dropout.forward(this.c_proj.forward(this.merge(y)), ctx);
  }

  /**
   * Cached step: x (B, T, C) are the new positions; pastK/pastV (B, nh, S, hd) hold S cache slots; bias
   * (B, 1, T, S + T) masks invalid and invisible slots. Scores against the cache and against the new keys are
   * computed separately and joined, so the cache is read in place, never copied. Returns the output and the new
   * keys/values (B, nh, T, hd), which the host writes into its cache object.
   */
  forwardCached(x: Tensor, pastK: Tensor, pastV: Tensor, bias: Tensor): { y: Tensor; k: Tensor; v: Tensor } {
    const [q, k, v] = this.qkv(x);
    const [, , Tn, hd] = q.shape as [number, number, number, number];
    const S = pastK.shape[2]!;
    const qs = T.mul(q, 1 / Math.sqrt(hd));
    if (Tn === 1) {
      // decoding, one query per row: the cache is the GEMM's left operand, (S, hd) @ (hd, 1) per (row, head) — ONNX
      // Runtime runs that twice as fast as q @ Kᵀ with a transposed cache — and the new token's own score and value
      // are elementwise (B·nh one-element GEMMs cost more than the math)
      const [B, nh] = q.shape as [number, number];
      const scorePast = T.reshape(T.matmul(pastK, T.reshape(qs, [B, nh, hd, 1])), [B, nh, 1, S]); // (B, nh, 1, S)
      const scoreNew = T.sum(T.mul(qs, k), -1, true); // (B, nh, 1, 1)
      const p = T.softmax(T.add(T.concat([scorePast, scoreNew], 3), bias), -1); // (B, nh, 1, S + 1)
      const [pPast, pNew] = T.split(p, [S, 1], 3);
      const y = T.add(T.matmul(pPast!, pastV), T.mul(pNew!, v)); // (B, nh, 1, hd)
      return { y: this.c_proj.forward(this.merge(y)), k, v };
    }
    const scorePast = T.matmul(qs, T.transpose(pastK, [0, 1, 3, 2])); // (B, nh, T, S)
    const scoreNew = T.matmul(qs, T.transpose(k, [0, 1, 3, 2])); // (B, nh, T, T)
    const p = T.softmax(T.add(T.concat([scorePast, scoreNew], 3), bias), -1); // (B, nh, T, S + T)
    const [pPast, pNew] = T.split(p, [S, Tn], 3);
    const y = T.add(T.matmul(pPast!, pastV), T.matmul(pNew!, v)); // (B, nh, T, hd)
    return { y: this.c_proj.forward(this.merge(y)), k, v };
  }
}

export class Mlp extends Module {
  c_fc: Linear;
  c_proj: Linear;
  dropout: Dropout;
  constructor(cfg: TransformerConfig, layer: number) {
    super();
    this.c_fc = new Linear(cfg.nEmbd, 4 * cfg.nEmbd, { bias: cfg.bias });
    this.c_proj = new Linear(4 * cfg.nEmbd, cfg.nEmbd, { bias: cfg.bias, init: normal(0.02 / Math.sqrt(2 * cfg.nLayer)) });
    this.dropout = new Dropout(cfg.dropout, `h.${layer}.mlp.dropout`);
  }
  forward(x: Tensor, ctx: ForwardCtx): Tensor {
    return this.dropout.forward(this.c_proj.forward(T.gelu(this.c_fc.forward(x), 'tanh')), ctx);
  }
}

export class Block extends Module {
  ln_1: LayerNorm;
  attn: CausalSelfAttention;
  ln_2: LayerNorm;
  mlp: Mlp;
  constructor(cfg: TransformerConfig, layer: number) {
    super();
    this.ln_1 = new LayerNorm(cfg.nEmbd, cfg.layerNormEps, { bias: cfg.bias });
    this.attn = new CausalSelfAttention(cfg, layer);
    this.ln_2 = new LayerNorm(cfg.nEmbd, cfg.layerNormEps, { bias: cfg.bias });
    this.mlp = new Mlp(cfg, layer);
  }
  forward(x: Tensor, bias: Tensor, ctx: ForwardCtx): Tensor {
    const h = T.add(x, this.attn.forward(this.ln_1.forward(x), bias, ctx));
    return T.add(h, this.mlp.forward(this.ln_2.forward(h), ctx));
  }
}

export class Transformer extends Module {
  wte: Embedding;
  wpe: Embedding;
  /** Image row / column embeddings (only with an image grid). */
  wre: Embedding | undefined;
  wce: Embedding | undefined;
  drop: Dropout;
  h: Block[];
  ln_f: LayerNorm;
  lm_head: Linear | undefined;

  constructor(readonly tcfg: TransformerConfig) {
    super();
    validateTransformerConfig(tcfg);
    const c = tcfg;
    this.wte = new Embedding(c.vocabSize, c.nEmbd);
    this.wpe = new Embedding(c.blockSize, c.nEmbd);
    this.wre = c.imageGrid ? new Embedding(c.imageGrid.height, c.nEmbd) : undefined;
    this.wce = c.imageGrid ? new Embedding(c.imageGrid.width, c.nEmbd) : undefined;
    this.drop = new Dropout(c.dropout, 'drop');
    this.h = Array.from({ length: c.nLayer }, (_, i) => new Block(c, i));
    this.ln_f = new LayerNorm(c.nEmbd, c.layerNormEps, { bias: c.bias });
    this.lm_head = c.tiedEmbeddings ? undefined : new Linear(c.nEmbd, c.vocabSize, { bias: false });
  }

  /** Distinct patterns of the layers, by key (in first-use order). */
  patternsByKey(): Map<string, AttentionPattern> {
    const m = new Map<string, AttentionPattern>();
    for (const p of this.tcfg.patterns) if (!m.has(patternKey(p))) m.set(patternKey(p), p);
    return m;
  }

  /** Token + position (+ grid) embeddings (B, T, C) of ids at positions 0..T-1. */
  private embedFull(idx: Tensor): Tensor {
    const [, Tn] = idx.shape as [number, number];
    let x = T.add(this.wte.forward(idx), T.slice(this.wpe.weight.t, [[0, 0, Tn]])); // (B, T, C)
    const g = this.tcfg.imageGrid;
    if (g && this.wre && this.wce) {
      const ids = Array.from({ length: Tn }, (_, p) => gridIds(g, p));
      const row = T.constant(BigInt64Array.from(ids, (r) => BigInt(r[0])), [Tn], 'int64');
      const col = T.constant(BigInt64Array.from(ids, (r) => BigInt(r[1])), [Tn], 'int64');
      const mask = T.constant(Float32Array.from(ids, (r) => r[2]), [Tn, 1]);
      x = T.add(x, T.mul(T.add(this.wre.forward(row), this.wce.forward(col)), mask)); // (T, C) broadcast over B
    }
    return x;
  }

  /** Hidden states after ln_f (B, T, C) for ids (B, T) at positions 0..T-1. */
  hidden(idx: Tensor, ctx: ForwardCtx): Tensor {
    const [, Tn] = idx.shape as [number, number];
    if (Tn > this.tcfg.blockSize) throw new Error(`sequence length ${Tn} exceeds the context length ${this.tcfg.blockSize}`);
    let x = this.drop.forward(this.embedFull(idx), ctx);
    // one mask per distinct pattern, shared by the layers that use it
    const masks = new Map<string, Tensor>();
    for (const [key, p] of this.patternsByKey()) masks.set(key, T.constant(fullBias(p, Tn), [Tn, Tn]));
    for (const block of this.h) x = block.forward(x, masks.get(patternKey(block.attn.pattern))!, ctx);
    return this.ln_f.forward(x);
  }

  /** Hidden states (B, T, C) of new tokens given a KV cache; also each layer's new keys and values (B, nh, T, hd). */
  hiddenCached(idx: Tensor, c: CachedStepInputs): { h: Tensor; k: Tensor[]; v: Tensor[] } {
    let x = T.add(this.wte.forward(idx), T.gather(this.wpe.weight.t, c.pos)); // (B, T, C)
    if (this.wre && this.wce && c.gridRow && c.gridCol && c.gridMask) {
      x = T.add(x, T.mul(T.add(this.wre.forward(c.gridRow), this.wce.forward(c.gridCol)), c.gridMask));
    }
    const ks: Tensor[] = [];
    const vs: Tensor[] = [];
    this.h.forEach((block, i) => {
      const bias = c.bias.get(patternKey(block.attn.pattern))!;
      const a = block.attn.forwardCached(block.ln_1.forward(x), c.pastK[i]!, c.pastV[i]!, bias);
      ks.push(a.k);
      vs.push(a.v);
      x = T.add(x, a.y);
      x = T.add(x, block.mlp.forward(block.ln_2.forward(x), { training: false }));
    });
    return { h: this.ln_f.forward(x), k: ks, v: vs };
  }

  /** Hidden states to vocabulary logits (tied: x @ wteᵀ). */
  head(x: Tensor): Tensor {
    if (this.lm_head) return this.lm_head.forward(x);
    return T.matmulNT(x, this.wte.weight.t); // (B, T, C) @ (V, C)ᵀ -> (B, T, V)
  }

  /** Logits (B, T, V) for ids (B, T). */
  forward(idx: Tensor, ctx: ForwardCtx): Tensor {
    return this.head(this.hidden(idx, ctx));
  }

  /** Mean next-token cross-entropy; targets of -1 are ignored (nanoGPT). */
  loss(idx: Tensor, targets: Tensor, ctx: ForwardCtx): Tensor {
    const logits = this.forward(idx, ctx);
    const V = this.tcfg.vocabSize;
    return T.crossEntropy(T.reshape(logits, [-1, V]), T.reshape(targets, [-1]), { ignoreIndex: -1 });
  }
}
