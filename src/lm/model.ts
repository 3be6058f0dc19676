// The GPT (GPT-2 / GPT-3 architecture) is one configuration of the shared decoder-only transformer
// (src/nn/transformer.ts): one vocabulary, learned positions, and attention that is dense everywhere or GPT-3's
// alternating dense / locally banded layers — or any per-layer pattern list given in the config. Parameter names
// follow Hugging Face GPT-2 (`h.0.attn.c_attn.weight`, …).

import { gpt3Patterns, DENSE, type AttentionPattern } from '../nn/attention-pattern.js';
import { Transformer, type TransformerConfig } from '../nn/transformer.js';
import type { GptConfig } from './config.js';

/** The per-layer attention patterns a GPT config asks for. */
export function gptPatterns(c: GptConfig): AttentionPattern[] {
  if (c.patterns) return c.patterns;
  return c.attention === 'sparse' ? gpt3Patterns(c.nLayer, c.bandWidth) : Array.from({ length: c.nLayer }, () => DENSE);
}

export function transformerConfig(c: GptConfig): TransformerConfig {
  return {
    vocabSize: c.vocabSize,
    vocabRanges: c.vocabRanges,
    blockSize: c.blockSize,
    nLayer: c.nLayer,
    nHead: c.nHead,
    nEmbd: c.nEmbd,
    dropout: c.dropout,
    bias: c.bias,
    tiedEmbeddings: c.tiedEmbeddings,
    layerNormEps: c.layerNormEps,
    patterns: gptPatterns(c),
    imageGrid: c.imageGrid,
  };
}

export class GPT extends Transformer {
  constructor(readonly config: GptConfig) {
    super(transformerConfig(config));
  }
}
