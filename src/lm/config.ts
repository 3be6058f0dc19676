// GPT model configuration and presets: the eight GPT-3 sizes of the paper's Table 2.1 and small CPU presets.

import { validatePattern, type AttentionPattern, type ImageGrid } from '../nn/attention-pattern.js';
import type { VocabRange } from '../nn/transformer.js';

export interface GptConfig {
  vocabSize: number;
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  dropout: number;
  /** Biases in Linear layers and LayerNorms (GPT-2: true). */
  bias: boolean;
  /** Share the token embedding with the output head (GPT-2: true). */
  tiedEmbeddings: boolean;
  /** 'dense' everywhere, or GPT-3's alternating dense / locally banded sparse attention. */
  attention: 'dense' | 'sparse';
  /** Band width (keys visible to each query, including itself) of the banded layers. */
  bandWidth: number;
  layerNormEps: number;
  /** Explicit attention pattern per layer (overrides `attention`/`bandWidth`), e.g. DALL·E's row/column/conv schedule. */
  patterns?: AttentionPattern[];
  /** Image grid after a text prefix: image positions get row and column embeddings (`wre`, `wce`). */
  imageGrid?: ImageGrid;
  /** Named id ranges in one stream (text ids, then image ids). */
  vocabRanges?: VocabRange[];
}

export const DEFAULT_CONFIG: GptConfig = {
  vocabSize: 50257,
  blockSize: 1024,
  nLayer: 12,
  nHead: 12,
  nEmbd: 768,
  dropout: 0,
  bias: true,
  tiedEmbeddings: true,
  attention: 'dense',
  bandWidth: 128,
  layerNormEps: 1e-5,
};

function gpt3(nLayer: number, nEmbd: number, nHead: number): Partial<GptConfig> {
  return { nLayer, nEmbd, nHead, blockSize: 2048, vocabSize: 50257, attention: 'sparse', bandWidth: 256 };
}

/** GPT-3 Table 2.1 (13B's printed d_model 5140 is a typo for 5120 = 40 × 128; XL's 24 heads do not divide 2048) plus small CPU presets. */
export const PRESETS: Record<string, { config: Partial<GptConfig>; paper?: { params: number; batchTokens: number; lr: number } }> = {
  'gpt3-small': { config: gpt3(12, 768, 12), paper: { params: 125e6, batchTokens: 0.5e6, lr: 6e-4 } },
  'gpt3-medium': { config: gpt3(24, 1024, 16), paper: { params: 350e6, batchTokens: 0.5e6, lr: 3e-4 } },
  'gpt3-large': { config: gpt3(24, 1536, 16), paper: { params: 760e6, batchTokens: 0.5e6, lr: 2.5e-4 } },
  // Table 2.1 prints 24 heads of 128 for d_model 2048 (24 × 128 ≠ 2048); we keep d_head 128, i.e. 16 heads.
  'gpt3-xl': { config: gpt3(24, 2048, 16), paper: { params: 1.3e9, batchTokens: 1e6, lr: 2e-4 } },
  'gpt3-2.7b': { config: gpt3(32, 2560, 32), paper: { params: 2.7e9, batchTokens: 1e6, lr: 1.6e-4 } },
  'gpt3-6.7b': { config: gpt3(32, 4096, 32), paper: { params: 6.7e9, batchTokens: 2e6, lr: 1.2e-4 } },
  'gpt3-13b': { config: gpt3(40, 5120, 40), paper: { params: 13.0e9, batchTokens: 2e6, lr: 1.0e-4 } },
  'gpt3-175b': { config: gpt3(96, 12288, 96), paper: { params: 175.0e9, batchTokens: 3.2e6, lr: 0.6e-4 } },
  'gpt2-small': { config: { nLayer: 12, nHead: 12, nEmbd: 768, blockSize: 1024, vocabSize: 50257 } },
  /** nanoGPT's CPU shakespeare_char recipe shape. */
  'char-tiny': { config: { nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64, bias: false, dropout: 0 } },
  'mini': { config: { nLayer: 4, nHead: 4, nEmbd: 256, blockSize: 128 } },
};

export function resolveConfig(preset: string | undefined, overrides: Partial<GptConfig> = {}): GptConfig {
  let base: Partial<GptConfig> = {};
  if (preset !== undefined) {
    const p = PRESETS[preset];
    if (!p) throw new Error(`unknown preset '${preset}'; presets: ${Object.keys(PRESETS).join(', ')}`);
    base = p.config;
  }
  const cfg = { ...DEFAULT_CONFIG, ...base, ...stripUndefined(overrides) };
  validateConfig(cfg);
  return cfg;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function validateConfig(c: GptConfig): void {
  const pos = (k: keyof GptConfig) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`config.${k} must be a positive integer, got ${String(v)}`);
  };
  (['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd', 'bandWidth'] as const).forEach(pos);
  if (c.nEmbd % c.nHead !== 0) throw new Error(`config.nEmbd (${c.nEmbd}) must be divisible by nHead (${c.nHead})`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`config.dropout must be in [0, 1), got ${c.dropout}`);
  if (c.attention !== 'dense' && c.attention !== 'sparse') throw new Error(`config.attention must be 'dense' or 'sparse', got '${c.attention}'`);
  if (c.patterns !== undefined) {
    if (!Array.isArray(c.patterns) || c.patterns.length !== c.nLayer) throw new Error(`config.patterns must list one attention pattern per layer (${c.nLayer})`);
    c.patterns.forEach((p, i) => validatePattern(p, c.blockSize, `config.patterns[${i}]`));
  }
  if (c.imageGrid !== undefined) validatePattern({ kind: 'row', grid: c.imageGrid }, c.blockSize, 'config.imageGrid');
}

/** Parameter count of a GPT (tied embeddings counted once), computed from the shapes. */
export function countParams(c: GptConfig): number {
  const C = c.nEmbd;
  const b = c.bias ? 1 : 0;
  const ln = C + b * C;
  const block = 2 * ln + (C * 3 * C + b * 3 * C) + (C * C + b * C) + (C * 4 * C + b * 4 * C) + (4 * C * C + b * C);
  const emb = c.vocabSize * C + c.blockSize * C + (c.imageGrid ? (c.imageGrid.height + c.imageGrid.width) * C : 0);
  const head = c.tiedEmbeddings ? 0 : c.vocabSize * C;
  return emb + c.nLayer * block + ln + head;
}
