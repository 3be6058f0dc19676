// The KV-cache implementation of beam search's stepper: the prompt is prefilled once and forked into W rows; each
// step reorders the cache rows to the surviving beams' parents (KVCache.reorder copies only rows whose parent is
// another row) and runs one token per row. The cache is sized for prompt + maxTokens, not the whole context.

import type { BeamStepper } from './beam-search.js';
import { CachedStepRunner } from './cached-step.js';
import type { KVCache } from './kv-cache.js';

export class CachedBeamStepper implements BeamStepper {
  private cache: KVCache | undefined;

  constructor(
    readonly runner: CachedStepRunner,
    /** Most tokens any hypothesis will add (sizes the cache). */
    readonly maxTokens: number,
  ) {}

  get vocabSize(): number {
    return this.runner.vocabSize;
  }

  async start(prompt: number[], rows: number): Promise<Float32Array> {
    const S = this.runner.model.tcfg.blockSize;
    if (prompt.length === 0) throw new Error('beam search needs a prompt of at least one token');
    if (prompt.length + this.maxTokens > S) {
      throw new Error(`prompt (${prompt.length} tokens) + maxTokens (${this.maxTokens}) exceed the context length ${S}`);
    }
    const cap = Math.min(S, Math.ceil((prompt.length + this.maxTokens) / 64) * 64);
    const one = this.runner.newCache(1, cap);
    const r = await this.runner.step(one, [prompt], { kind: 'last' });
    this.cache = this.runner.newCache(rows, cap);
    for (let i = 0; i < rows; i++) this.cache.copyRowFrom(one, 0, i);
    return r.logits!.slice(0, this.vocabSize);
  }

  async step(parents: number[], tokens: number[]): Promise<Float32Array> {
    const c = this.cache;
    if (!c) throw new Error('CachedBeamStepper.step before start');
    c.reorder(parents);
    const r = await this.runner.step(c, tokens.map((t) => [t]), { kind: 'last' });
    return r.logits!;
  }
}
