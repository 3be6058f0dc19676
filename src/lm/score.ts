// Scoring with a GPT: per-token log-probabilities of given text (rolling, with a sliding window over long texts),
// and log-likelihood of continuations after contexts with an is-greedy flag (the API the few-shot harness and the
// extraction audit use).

import { Program } from '../engine/runtime.js';
import { input } from '../engine/ops/core.js';
import * as T from '../engine/index.js';
import { withBound } from '../nn/module.js';
import { EVAL } from '../nn/layers.js';
import type { GPT } from './model.js';
import { bakeMap, paramInputs, weightFeeds } from './weights.js';
import type { TopLogprob } from './generate.js';

export interface ContinuationScore {
  /** Sum of log p(continuation token | everything before it). */
  logprob: number;
  /** Whether every continuation token is the argmax prediction. */
  isGreedy: boolean;
  tokenLogprobs: number[];
}

export interface TokenLogprobs {
  /** log p(ids[i] | ids[<i]); null at i = 0. */
  logprobs: (number | null)[];
  /** Whether ids[i] is the argmax prediction; null at i = 0. */
  greedy: (boolean | null)[];
  /** With topK > 0: the topK most likely tokens at each position, most likely first (null at i = 0). */
  top?: (TopLogprob[] | null)[];
}

interface Window {
  lp: number[];
  greedy: boolean[];
  top?: TopLogprob[][];
}

export class Scorer {
  private programs = new Map<string, Promise<Program>>();
  private baked = false;
  constructor(readonly model: GPT) {}

  /** The scoring graph for windows of Tn tokens; with topK > 0 it also returns the topK alternatives per position. */
  private program(Tn: number, topK: number): Promise<Program> {
    const key = `${Tn}:${topK}`;
    let p = this.programs.get(key);
    if (!p) {
      const model = this.model;
      const { named, inputs: pT } = paramInputs(model);
      const idx = input('idx', [1, Tn], 'int64');
      const tgt = input('targets', [1, Tn], 'int64');
      const outputs = withBound(named, pT, (): Record<string, T.Tensor> => {
        const lsm = T.logSoftmax(model.forward(idx, EVAL), -1); // (1, T, V)
        const lp = T.squeeze(T.takeAlongAxis(lsm, T.unsqueeze(tgt, -1), -1), -1); // (1, T)
        if (topK <= 0) return { logprobs: lp, best: T.max(lsm, -1) }; // (1, T)
        const top = T.topK(lsm, topK, -1); // (1, T, k), sorted: values[..., 0] is the max
        return { logprobs: lp, top_logprobs: top.values, top_ids: top.indices };
      });
      const bake = bakeMap(model, pT);
      this.baked = bake !== undefined;
      p = Program.create({ inputs: [...pT.values(), idx, tgt], outputs, bake, name: `tessera_score_T${Tn}${topK > 0 ? `_top${topK}` : ''}` });
      this.programs.set(key, p);
    }
    return p;
  }

  /** log p(ids[i] | ids[start..i-1]) for i in [from, ids.length), using one forward over ids[start..]. */
  private async window(ids: number[], start: number, from: number, topK = 0): Promise<Window> {
    const S = this.model.config.blockSize;
    const seg = ids.slice(start, Math.min(ids.length, start + S + 1));
    const L = seg.length - 1; // predictions available
    const Tn = Math.min(S, 2 ** Math.ceil(Math.log2(Math.max(1, L))));
    const idx = new BigInt64Array(Tn);
    const tg = new BigInt64Array(Tn);
    for (let t = 0; t < L; t++) {
      idx[t] = BigInt(seg[t]!);
      tg[t] = BigInt(seg[t + 1]!);
    }
    const prog = await this.program(Tn, topK);
    const feeds: Record<string, T.TypedArray> = { idx, targets: tg };
    weightFeeds(this.model, this.baked, feeds);
    const out = await prog.run(feeds);
    const lp = out.logprobs!.data as Float32Array;
    const topLp = out.top_logprobs?.data as Float32Array | undefined;
    const topIds = out.top_ids?.data as BigInt64Array | undefined;
    const best = topLp ? (t: number) => topLp[t * topK]! : (t: number) => (out.best!.data as Float32Array)[t]!;
    const r: Window = { lp: [], greedy: [], ...(topLp ? { top: [] } : {}) };
    for (let t = from - start - 1; t < L; t++) {
      r.lp.push(lp[t]!);
      r.greedy.push(lp[t]! >= best(t) - 1e-6);
      if (topLp) r.top!.push(Array.from({ length: topK }, (_, j) => ({ id: Number(topIds![t * topK + j]!), logprob: topLp[t * topK + j]! })));
    }
    return r;
  }

  /**
   * Per-token log-probabilities: result[i] = log p(ids[i] | ids[<i]) for i ≥ 1 (null for i = 0), and with topK > 0
   * the topK most likely tokens at each position (computed in the graph; only (T, k) values leave it). Texts longer
   * than the context are scored with overlapping windows so every token sees at least half a context.
   */
  async tokenLogprobs(ids: number[], topK = 0): Promise<TokenLogprobs> {
    const S = this.model.config.blockSize;
    const V = this.model.config.vocabSize;
    if (!Number.isInteger(topK) || topK < 0 || topK > V) throw new Error(`topK must be an integer in [0, ${V}], got ${topK}`);
    const logprobs: (number | null)[] = [null];
    const greedy: (boolean | null)[] = [null];
    const top: (TopLogprob[] | null)[] | undefined = topK > 0 ? [null] : undefined;
    let next = 1; // next token index to score
    while (next < ids.length) {
      const start = next <= S ? 0 : next - Math.floor(S / 2);
      const w = await this.window(ids, start, next, topK);
      const take = Math.min(w.lp.length, ids.length - next);
      if (take <= 0) throw new Error('internal error: scoring window made no progress');
      for (let k = 0; k < take; k++) {
        logprobs.push(w.lp[k]!);
        greedy.push(w.greedy[k]!);
        top?.push(w.top![k]!);
      }
      next += take;
    }
    return { logprobs, greedy, ...(top ? { top } : {}) };
  }

  /** Log-likelihood of `continuation` after `context` (token ids); context is truncated from the left to fit. */
  async continuation(context: number[], continuation: number[]): Promise<ContinuationScore> {
    if (continuation.length === 0) return { logprob: 0, isGreedy: true, tokenLogprobs: [] };
    const S = this.model.config.blockSize;
    let all = [...context, ...continuation];
    if (all.length > S + 1) all = all.slice(all.length - (S + 1));
    const first = all.length - continuation.length;
    if (first < 1) throw new Error(`continuation of ${continuation.length} tokens does not fit the context (${S})`);
    const w = await this.window(all, 0, first);
    return { logprob: w.lp.reduce((a, b) => a + b, 0), isGreedy: w.greedy.every(Boolean), tokenLogprobs: w.lp };
  }

  async release(): Promise<void> {
    for (const p of this.programs.values()) await (await p).release();
    this.programs.clear();
  }
}
