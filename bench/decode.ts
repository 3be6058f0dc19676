// KV-cache decoding benchmark: a random-weight GPT of the given shape, a batch of 1-token prompts, N generated tokens
// (greedy); reports tokens/s (batch × N / seconds, after a warm-up that compiles the decode graph).
// Peer: bench/pytorch_decode.py (same model, PyTorch KV-cache loop).

import { resolveConfig } from '../src/lm/config.js';
import { GPT } from '../src/lm/model.js';
import { Generator } from '../src/lm/generate.js';

export interface BenchDecodeOptions {
  layers: number;
  heads: number;
  embd: number;
  block: number;
  vocab: number;
  batch: number;
  tokens: number;
  prompt?: number;
}

export async function benchDecode(o: BenchDecodeOptions) {
  const cfg = resolveConfig(undefined, { nLayer: o.layers, nHead: o.heads, nEmbd: o.embd, blockSize: o.block, vocabSize: o.vocab });
  const model = new GPT(cfg).initialize(1);
  const gen = new Generator(model, o.batch);
  const P = o.prompt ?? 1;
  const prompts = Array.from({ length: o.batch }, (_, b) => Array.from({ length: P }, (_, i) => (b * 31 + i * 7) % cfg.vocabSize));
  const t0 = performance.now();
  await gen.generate(prompts, { maxTokens: 2, greedy: true, stopAtEot: false }); // compile prefill + decode graphs
  const compileMs = performance.now() - t0;
  const t1 = performance.now();
  const r = await gen.generate(prompts, { maxTokens: o.tokens, greedy: true, stopAtEot: false });
  const secs = (performance.now() - t1) / 1000;
  const generated = r.tokens.reduce((a, t) => a + t.length, 0);
  await gen.release();
  return {
    engine: 'tessera',
    layers: o.layers,
    heads: o.heads,
    embd: o.embd,
    block: o.block,
    vocab: o.vocab,
    batch: o.batch,
    tokens: o.tokens,
    params: model.parameterCount(),
    tokens_per_s: generated / secs,
    glibc_tunables: process.env.GLIBC_TUNABLES ?? null,
    ms_per_token: (secs * 1000) / o.tokens,
    compile_ms: Math.round(compileMs),
  };
}
