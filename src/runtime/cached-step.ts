// A cached step of the transformer: T new tokens per row on top of a KVCache, in one ONNX Runtime run. One program
// per (what it returns, rows, T, capacity); T is 1 for decoding and a power-of-two bucket for prefill and scoring.
// The masks come from the layers' pattern objects (one per distinct pattern, shared by its layers), built on the host
// from each row's positions, so cached decoding sees exactly what a full forward sees. What a step returns:
//   none     — only the new keys/values (prefill)
//   last     — logits (B, V) at each row's last new token
//   lastTopK — the K largest logits (B, K), their ids, and log Σ exp over the vocabulary (B), at the last new token
//   targets  — log p(target) (B, T) at every new position and the best log p (B, T) (is-greedy checks)

import * as T from '../engine/index.js';
import { input } from '../engine/ops/core.js';
import type { TypedArray } from '../engine/dtype.js';
import { MASKED, visible } from '../nn/attention-pattern.js';
import { gridIds, type Transformer } from '../nn/transformer.js';
import { CompiledModule, type CompileOptions } from './compiled-module.js';
import { KVCache } from './kv-cache.js';

export type StepOutput = { kind: 'none' } | { kind: 'last' } | { kind: 'lastTopK'; k: number } | { kind: 'targets' };

export interface StepResult {
  logits?: Float32Array;
  topValues?: Float32Array;
  topIds?: BigInt64Array;
  logSumExp?: Float32Array;
  logprobs?: Float32Array;
  best?: Float32Array;
  /** The T the step ran with (rows of logprobs/best are T wide). */
  T: number;
}

/** Smallest power of two ≥ n (n ≥ 1). */
export function bucket(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}

export class CachedStepRunner {
  readonly compiled: CompiledModule<Transformer>;

  constructor(
    readonly model: Transformer,
    opts: CompileOptions = {},
  ) {
    this.compiled = new CompiledModule(model, { name: 'tessera_step', ...opts });
  }

  get vocabSize(): number {
    return this.model.tcfg.vocabSize;
  }

  /** A cache for `rows` rows of `capacity` slots (at most the context length). */
  newCache(rows: number, capacity: number): KVCache {
    const c = this.model.tcfg;
    if (capacity > c.blockSize) throw new Error(`cache capacity ${capacity} exceeds the context length ${c.blockSize}`);
    return new KVCache({ layers: c.nLayer, rows, heads: c.nHead, headDim: c.nEmbd / c.nHead, capacity });
  }

  private key(out: StepOutput, B: number, Tn: number, S: number): string {
    const o = out.kind === 'lastTopK' ? `top${out.k}` : out.kind;
    return `${o}_B${B}_T${Tn}_S${S}`;
  }

  private build(out: StepOutput, B: number, Tn: number, S: number) {
    const model = this.model;
    const c = model.tcfg;
    const nh = c.nHead;
    const hd = c.nEmbd / nh;
    return () => {
      const idx = input('idx', [B, Tn], 'int64');
      const pos = input('pos', [B, Tn], 'int64');
      const bias = new Map([...model.patternsByKey().keys()].map((k) => [k, input(`bias.${k}`, [B, 1, Tn, S + Tn])]));
      const pastK = Array.from({ length: c.nLayer }, (_, i) => input(`past_k.${i}`, [B, nh, S, hd]));
      const pastV = Array.from({ length: c.nLayer }, (_, i) => input(`past_v.${i}`, [B, nh, S, hd]));
      const grid = c.imageGrid
        ? { gridRow: input('grid_row', [B, Tn], 'int64'), gridCol: input('grid_col', [B, Tn], 'int64'), gridMask: input('grid_mask', [B, Tn, 1]) }
        : {};
      const inputs = [idx, pos, ...bias.values(), ...pastK, ...pastV, ...Object.values(grid)];
      const r = model.hiddenCached(idx, { pos, bias, pastK, pastV, ...grid });
      const outputs: Record<string, T.Tensor> = {};
      r.k.forEach((k, i) => (outputs[`new_k.${i}`] = k));
      r.v.forEach((v, i) => (outputs[`new_v.${i}`] = v));
      if (out.kind === 'last' || out.kind === 'lastTopK') {
        const sel = input('sel', [B, 1, 1], 'int64');
        inputs.push(sel);
        const last = T.takeAlongAxis(r.h, T.expand(sel, [B, 1, c.nEmbd]), 1); // (B, 1, C)
        const logits = T.reshape(model.head(last), [B, c.vocabSize]); // (B, V)
        if (out.kind === 'last') outputs.logits = logits;
        else {
          const top = T.topK(logits, out.k, -1); // (B, K), sorted descending
          outputs.top_values = top.values;
          outputs.top_ids = top.indices;
          const m = T.slice(top.values, [[1, 0, 1]]); // (B, 1): the largest logit, already found by top-k
          outputs.lse = T.reshape(T.add(m, T.log(T.sum(T.exp(T.sub(logits, m)), -1, true))), [B]); // log Σ exp (B)
        }
      } else if (out.kind === 'targets') {
        const tgt = input('targets', [B, Tn], 'int64');
        inputs.push(tgt);
        const lsm = T.logSoftmax(model.head(r.h), -1); // (B, T, V)
        outputs.logprobs = T.squeeze(T.takeAlongAxis(lsm, T.unsqueeze(tgt, -1), -1), -1); // (B, T)
        outputs.best = T.max(lsm, -1); // (B, T)
      }
      return { inputs, outputs };
    };
  }

  /**
   * Run tokens[b] (possibly empty) as the next tokens of cache row b, append their keys/values, and return what `out`
   * asks for. With 'targets', targets[b][t] is the token whose log-probability position t predicts.
   */
  async step(cache: KVCache, tokens: readonly (readonly number[])[], out: StepOutput, targets?: readonly (readonly number[])[]): Promise<StepResult> {
    const c = this.model.tcfg;
    const B = cache.rows;
    const S = cache.capacity;
    if (tokens.length !== B) throw new Error(`step: ${tokens.length} token lists for a cache of ${B} rows`);
    const maxLen = Math.max(1, ...tokens.map((t) => t.length));
    const Tn = bucket(maxLen);
    for (let b = 0; b < B; b++) {
      const n = tokens[b]!.length;
      if (cache.lengths[b]! + n > S) throw new Error(`step: row ${b} holds ${cache.lengths[b]} tokens; ${n} more exceed the cache capacity ${S}`);
      for (const id of tokens[b]!) {
        if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new Error(`step: token id ${id} in row ${b} is outside 0..${c.vocabSize - 1}`);
      }
    }
    if (out.kind === 'lastTopK' && (!Number.isInteger(out.k) || out.k < 1 || out.k > c.vocabSize)) {
      throw new Error(`top-k must be an integer in [1, ${c.vocabSize}], got ${out.k}`);
    }
    const prog = await this.compiled.program(this.key(out, B, Tn, S), this.build(out, B, Tn, S));
    const feeds: Record<string, TypedArray> = {};
    const idx = new BigInt64Array(B * Tn);
    const pos = new BigInt64Array(B * Tn);
    for (let b = 0; b < B; b++) {
      const toks = tokens[b]!;
      const start = cache.lengths[b]!;
      for (let t = 0; t < Tn; t++) {
        idx[b * Tn + t] = BigInt(t < toks.length ? toks[t]! : 0);
        pos[b * Tn + t] = BigInt(Math.min(start + t, c.blockSize - 1));
      }
    }
    feeds.idx = idx;
    feeds.pos = pos;
    for (const [key, p] of this.model.patternsByKey()) feeds[`bias.${key}`] = stepBias(p, cache, tokens, Tn);
    for (let l = 0; l < c.nLayer; l++) {
      feeds[`past_k.${l}`] = cache.k[l]!;
      feeds[`past_v.${l}`] = cache.v[l]!;
    }
    if (c.imageGrid) {
      const row = new BigInt64Array(B * Tn);
      const col = new BigInt64Array(B * Tn);
      const mask = new Float32Array(B * Tn);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < Tn; t++) {
          const [r, cc, m] = gridIds(c.imageGrid, cache.lengths[b]! + t);
          row[b * Tn + t] = BigInt(r);
          col[b * Tn + t] = BigInt(cc);
          mask[b * Tn + t] = t < tokens[b]!.length ? m : 0;
        }
      }
      feeds.grid_row = row;
      feeds.grid_col = col;
      feeds.grid_mask = mask;
    }
    if (out.kind === 'last' || out.kind === 'lastTopK') {
      feeds.sel = BigInt64Array.from(tokens, (t) => BigInt(Math.max(0, t.length - 1)));
    }
    if (out.kind === 'targets') {
      if (!targets || targets.length !== B) throw new Error(`step: 'targets' output needs one target list per row (${B})`);
      const tg = new BigInt64Array(B * Tn);
      targets.forEach((ts, b) => ts.forEach((id, t) => (tg[b * Tn + t] = BigInt(id))));
      feeds.targets = tg;
    }
    // cache-sized inputs are read in place; only the new keys/values (B, nh, T, hd) come back
    // (onnxruntime-node copies every output into a new buffer, so the cache is never an output)
    const r = await this.compiled.run(prog, feeds);
    cache.append(
      Array.from({ length: c.nLayer }, (_, l) => r[`new_k.${l}`]!.data as Float32Array),
      Array.from({ length: c.nLayer }, (_, l) => r[`new_v.${l}`]!.data as Float32Array),
      Tn,
      tokens.map((t) => t.length),
    );
    return {
      T: Tn,
      logits: r.logits?.data as Float32Array | undefined,
      topValues: r.top_values?.data as Float32Array | undefined,
      topIds: r.top_ids?.data as BigInt64Array | undefined,
      logSumExp: r.lse?.data as Float32Array | undefined,
      logprobs: r.logprobs?.data as Float32Array | undefined,
      best: r.best?.data as Float32Array | undefined,
    };
  }

  async release(): Promise<void> {
    await this.compiled.release();
  }
}

/**
 * The additive mask (B, 1, T, S + T) of one pattern for a step: query t of row b sits at stream position
 * lengths[b] + t; columns 0..S-1 are the row's cache slots (valid below lengths[b]), columns S..S+T-1 the new tokens.
 * Padding queries keep one visible column so their (ignored) softmax stays finite.
 */
export function stepBias(p: Parameters<typeof visible>[0], cache: KVCache, tokens: readonly (readonly number[])[], Tn: number): Float32Array {
  const S = cache.capacity;
  const W = S + Tn;
  const m = new Float32Array(cache.rows * Tn * W).fill(MASKED);
  const dense = p.kind === 'dense';
  for (let b = 0; b < cache.rows; b++) {
    const n = tokens[b]!.length;
    const start = cache.lengths[b]!;
    for (let t = 0; t < Tn; t++) {
      const row = (b * Tn + t) * W;
      if (t >= n) {
        m[row] = 0;
        continue;
      }
      const q = start + t;
      if (dense) {
        m.fill(0, row, row + start);
        m.fill(0, row + S, row + S + t + 1);
        continue;
      }
      for (let j = 0; j < start; j++) if (visible(p, q, j)) m[row + j] = 0;
      for (let u = 0; u <= t; u++) if (visible(p, q, start + u)) m[row + S + u] = 0;
    }
  }
  return m;
}
