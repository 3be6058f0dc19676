// The GPT model (GPT-2 / GPT-3 architecture): token + learned position embeddings, pre-LN transformer blocks with
// causal self-attention (dense, or GPT-3's alternating dense / locally banded), GELU MLP, final LayerNorm and a head
// tied to the token embedding. Parameter names follow Hugging Face GPT-2 (`h.0.attn.c_attn.weight`, …).

import * as T from '../engine/index.js';
import type { Tensor } from '../engine/tensor.js';
import { normal } from '../nn/init.js';
import { Dropout, Embedding, LayerNorm, Linear, type ForwardCtx } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { GptConfig } from './config.js';

/** Additive attention bias (T, T): 0 where key j is visible from query i, -1e9 elsewhere. */
export function attentionBias(t: number, pattern: 'dense' | 'banded', band: number, offset = 0, total = t): Float32Array {
  // queries are positions offset..offset+t-1 over keys 0..total-1 (offset > 0 when decoding with a cache)
  const m = new Float32Array(t * total);
  for (let i = 0; i < t; i++) {
    const q = offset + i;
    for (let j = 0; j < total; j++) {
      const visible = j <= q && (pattern === 'dense' || q - j < band);
      m[i * total + j] = visible ? 0 : -1e9;
    }
  }
  return m;
}

export class CausalSelfAttention extends Module {
  c_attn: Linear;
  c_proj: Linear;
  attn_dropout: Dropout;
  resid_dropout: Dropout;
  constructor(
    readonly cfg: GptConfig,
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

  /** Whether this layer uses the banded (local) pattern: GPT-3 alternates, dense on even layers. */
  get banded(): boolean {
    return this.cfg.attention === 'sparse' && this.layer % 2 === 1;
  }

  /**
   * Incremental attention over a key/value cache. x (B, T, C) are the new positions; pastK/pastV (B, nh, S, hd) hold
   * S cache slots; bias (B, 1, T, S + T) masks invalid/future slots. Scores against the cache and against the new
   * keys are computed separately and joined, so the cache is read in place, never copied.
   * Returns the output and the new keys/values (B, nh, T, hd) for the host to store.
   */
  forwardCached(x: Tensor, pastK: Tensor, pastV: Tensor, bias: Tensor): { y: Tensor; k: Tensor; v: Tensor } {
    const [B, Tn, C] = x.shape as [number, number, number];
    const nh = this.cfg.nHead;
    const hd = C / nh;
    const S = pastK.shape[2]!;
    const qkv = this.c_attn.forward(x); // (B, T, 3C)
    const [q, k, v] = T.split(qkv, 3, 2).map((z) => T.transpose(T.reshape(z, [B, Tn, nh, hd]), [0, 2, 1, 3])) as [Tensor, Tensor, Tensor];
    const qs = T.mul(q, 1 / Math.sqrt(hd));
    const scorePast = T.matmul(qs, T.transpose(pastK, [0, 1, 3, 2])); // (B, nh, T, S)
    const scoreNew = T.matmul(qs, T.transpose(k, [0, 1, 3, 2])); // (B, nh, T, T)
    const p = T.softmax(T.add(T.concat([scorePast, scoreNew], 3), bias), -1); // (B, nh, T, S + T)
    const [pPast, pNew] = T.split(p, [S, Tn], 3);
    const y = T.add(T.matmul(pPast!, pastV), T.matmul(pNew!, v)); // (B, nh, T, hd)
    const merged = T.reshape(T.transpose(y, [0, 2, 1, 3]), [B, Tn, C]);
    return { y: this.c_proj.forward(merged), k, v };
  }

  forward(x: Tensor, ctx: ForwardCtx): Tensor {
    const [B, Tn, C] = x.shape as [number, number, number];
    const nh = this.cfg.nHead;
    const hd = C / nh;
    const qkv = this.c_attn.forward(x); // (B, T, 3C)
    const [q, k, v] = T.split(qkv, 3, 2).map((z) => T.transpose(T.reshape(z, [B, Tn, nh, hd]), [0, 2, 1, 3])) as [Tensor, Tensor, Tensor]; // (B, nh, T, hd)
    const bias = T.constant(attentionBias(Tn, this.banded ? 'banded' : 'dense', this.cfg.bandWidth), [Tn, Tn]);
    const att = T.add(T.matmul(T.mul(q, 1 / Math.sqrt(hd)), T.transpose(k, [0, 1, 3, 2])), bias); // (B, nh, T, T)
    const p = this.attn_dropout.forward(T.softmax(att, -1), ctx);
    const y = T.matmul(p, v); // (B, nh, T, hd)
    const merged = T.reshape(T.transpose(y, [0, 2, 1, 3]), [B, Tn, C]); // (B, T, C)
    return this.resid_dropout.forward(this.c_proj.forward(merged), ctx);
  }
}

export class Mlp extends Module {
  c_fc: Linear;
  c_proj: Linear;
  dropout: Dropout;
  constructor(cfg: GptConfig, layer: number) {
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
  constructor(cfg: GptConfig, layer: number) {
    super();
    this.ln_1 = new LayerNorm(cfg.nEmbd, cfg.layerNormEps, { bias: cfg.bias });
    this.attn = new CausalSelfAttention(cfg, layer);
    this.ln_2 = new LayerNorm(cfg.nEmbd, cfg.layerNormEps, { bias: cfg.bias });
    this.mlp = new Mlp(cfg, layer);
  }
  forward(x: Tensor, ctx: ForwardCtx): Tensor {
    const h = T.add(x, this.attn.forward(this.ln_1.forward(x), ctx));
    return T.add(h, this.mlp.forward(this.ln_2.forward(h), ctx));
  }
}

export interface CacheInputs {
  /** Positions of the new tokens (B, T) int64. */
  pos: Tensor;
  /** Additive masks (B, 1, T, S + T) for dense and (GPT-3 sparse) banded layers. */
  biasDense: Tensor;
  biasBanded?: Tensor;
  pastK: Tensor[];
  pastV: Tensor[];
}

export class GPT extends Module {
  wte: Embedding;
  wpe: Embedding;
  drop: Dropout;
  h: Block[];
  ln_f: LayerNorm;
  lm_head: Linear | undefined;

  constructor(readonly config: GptConfig) {
    super();
    const c = config;
    this.wte = new Embedding(c.vocabSize, c.nEmbd);
    this.wpe = new Embedding(c.blockSize, c.nEmbd);
    this.drop = new Dropout(c.dropout, 'drop');
    this.h = Array.from({ length: c.nLayer }, (_, i) => new Block(c, i));
    this.ln_f = new LayerNorm(c.nEmbd, c.layerNormEps, { bias: c.bias });
    this.lm_head = c.tiedEmbeddings ? undefined : new Linear(c.nEmbd, c.vocabSize, { bias: false });
  }

  /** Hidden states after ln_f for token ids `idx` (B, T). */
  hidden(idx: Tensor, ctx: ForwardCtx): Tensor {
    const [, Tn] = idx.shape as [number, number];
    if (Tn > this.config.blockSize) throw new Error(`sequence length ${Tn} exceeds the context length ${this.config.blockSize}`);
    const pos = T.slice(this.wpe.weight.t, [[0, 0, Tn]]); // (T, C)
    let x = this.drop.forward(T.add(this.wte.forward(idx), pos), ctx); // (B, T, C)
    for (const block of this.h) x = block.forward(x, ctx);
    return this.ln_f.forward(x);
  }

  /** Hidden states (B, T, C) for new tokens given a KV cache; also returns each layer's new keys and values. */
  hiddenCached(idx: Tensor, c: CacheInputs): { h: Tensor; k: Tensor[]; v: Tensor[] } {
    let x = T.add(this.wte.forward(idx), T.gather(this.wpe.weight.t, c.pos)); // (B, T, C)
    const ks: Tensor[] = [];
    const vs: Tensor[] = [];
    this.h.forEach((block, i) => {
      const bias = block.attn.banded ? c.biasBanded! : c.biasDense;
      const a = block.attn.forwardCached(block.ln_1.forward(x), c.pastK[i]!, c.pastV[i]!, bias);
      ks.push(a.k);
      vs.push(a.v);
      x = T.add(x, a.y);
      x = T.add(x, block.mlp.forward(block.ln_2.forward(x), { training: false }));
    });
    return { h: this.ln_f.forward(x), k: ks, v: vs };
  }

  /** Project hidden states to vocabulary logits (tied: x @ wteᵀ). */
  head(x: Tensor): Tensor {
    if (this.lm_head) return this.lm_head.forward(x);
    return T.matmulNT(x, this.wte.weight.t); // (B, T, C) @ (V, C)ᵀ -> (B, T, V)
  }

  /** Logits (B, T, V) for token ids (B, T). */
  forward(idx: Tensor, ctx: ForwardCtx): Tensor {
    return this.head(this.hidden(idx, ctx));
  }

  /** Mean next-token cross-entropy; targets of -1 are ignored (nanoGPT). */
  loss(idx: Tensor, targets: Tensor, ctx: ForwardCtx): Tensor {
    const logits = this.forward(idx, ctx);
    const V = this.config.vocabSize;
    return T.crossEntropy(T.reshape(logits, [-1, V]), T.reshape(targets, [-1]), { ignoreIndex: -1 });
  }
}
