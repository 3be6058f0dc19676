// Incremental decoding with a KV cache: a compiled step graph per chunk length T (T = 1 for decoding, power-of-two
// buckets for prompt prefill) reads the cache in place and returns the new keys/values, which the host writes into
// per-layer cache buffers. Batches of prompts of different lengths decode together (per-row positions and masks).

import { Program } from '../engine/runtime.js';
import { input } from '../engine/ops/core.js';
import * as T from '../engine/index.js';
import { withBound } from '../nn/module.js';
import { Rng } from '../nn/init.js';
import type { ByteTokenizer } from '../tokenizer/index.js';
import type { GPT } from './model.js';
import { bakeMap, paramInputs, weightFeeds } from './weights.js';
import { sampleToken, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxTokens: number;
  seed?: number;
  /** Stop a row when its generated text contains one of these (the stop text is cut off). */
  stop?: string[];
  /** Stop a row at the end-of-text token (default true). */
  stopAtEot?: boolean;
  /** Called with each row's newly decoded text (streaming). */
  onText?: (row: number, text: string) => void;
  warn?: (msg: string) => void;
  /**
   * Report the log-probability (natural log, from the raw logits before temperature or truncation) of each generated
   * token, and this many most likely alternatives per step (0 = the chosen token only). Off when undefined.
   */
  logprobs?: number;
  /** Stop decoding when aborted (unfinished rows report 'length'). */
  signal?: AbortSignal;
}

/** One alternative at a generation step: a token id and its log-probability. */
export interface TopLogprob {
  id: number;
  logprob: number;
}

export interface GenerateResult {
  /** Generated token ids per row (after the prompt, stop text excluded). */
  tokens: number[][];
  texts: string[];
  finish: ('stop' | 'length' | 'eot')[];
  /** With `logprobs`: log p of each token in `tokens`, per row. */
  tokenLogprobs?: number[][];
  /** With `logprobs`: the `logprobs` most likely tokens (descending) at each step of `tokens`, per row. */
  topLogprobs?: TopLogprob[][][];
}

export class Generator {
  private programs = new Map<number, Promise<Program>>();
  readonly S: number;
  readonly nh: number;
  readonly hd: number;
  private cacheK: Float32Array[];
  private cacheV: Float32Array[];
  /** Weights are baked into the compiled graphs (captured when a graph is first compiled). */
  private baked = false;

  constructor(
    readonly model: GPT,
    readonly batch: number,
    readonly tokenizer?: ByteTokenizer,
  ) {
    const c = model.config;
    this.S = c.blockSize;
    this.nh = c.nHead;
    this.hd = c.nEmbd / c.nHead;
    const n = batch * this.nh * this.S * this.hd;
    this.cacheK = Array.from({ length: c.nLayer }, () => new Float32Array(n));
    this.cacheV = Array.from({ length: c.nLayer }, () => new Float32Array(n));
  }

  private program(Tn: number): Promise<Program> {
    let p = this.programs.get(Tn);
    if (!p) {
      p = this.build(Tn);
      this.programs.set(Tn, p);
    }
    return p;
  }

  private build(Tn: number): Promise<Program> {
    const { model, batch: B, S, nh, hd } = this;
    const { named, inputs: pT } = paramInputs(model);
    const idx = input('idx', [B, Tn], 'int64');
    const pos = input('pos', [B, Tn], 'int64');
    const sel = input('sel', [B, 1, 1], 'int64');
    const biasDense = input('bias_dense', [B, 1, Tn, S + Tn]);
    const sparse = model.config.attention === 'sparse';
    const biasBanded = sparse ? input('bias_banded', [B, 1, Tn, S + Tn]) : undefined;
    const L = model.config.nLayer;
    const pastK = Array.from({ length: L }, (_, i) => input(`past_k.${i}`, [B, nh, S, hd]));
    const pastV = Array.from({ length: L }, (_, i) => input(`past_v.${i}`, [B, nh, S, hd]));
    const outputs = withBound(named, pT, () => {
      const r = model.hiddenCached(idx, { pos, biasDense, biasBanded, pastK, pastV });
      const C = model.config.nEmbd;
      const last = T.takeAlongAxis(r.h, T.expand(sel, [B, 1, C]), 1); // (B, 1, C)
      const logits = T.reshape(model.head(last), [B, -1]); // (B, V)
      const o: Record<string, T.Tensor> = { logits };
      r.k.forEach((k, i) => (o[`new_k.${i}`] = k));
      r.v.forEach((v, i) => (o[`new_v.${i}`] = v));
      return o;
    });
    const inputs = [...pT.values(), idx, pos, sel, biasDense, ...(biasBanded ? [biasBanded] : []), ...pastK, ...pastV];
    const bake = bakeMap(model, pT);
    this.baked = bake !== undefined;
    return Program.create({ inputs, outputs, bake, name: `tessera_decode_T${Tn}` });
  }

  /**
   * Run T new tokens per row at positions start[b] .. start[b] + len[b] - 1 (rows shorter than T are padded; their
   * pad positions are masked and not cached). Returns logits (B, V) at each row's last real token.
   */
  async stepChunk(tokens: number[][], start: number[]): Promise<Float32Array> {
    const { batch: B, S, nh, hd } = this;
    const maxLen = Math.max(...tokens.map((t) => t.length));
    const Tn = maxLen === 1 ? 1 : Math.min(2 ** Math.ceil(Math.log2(maxLen)), S);
    const prog = await this.program(Tn);
    const idx = new BigInt64Array(B * Tn);
    const pos = new BigInt64Array(B * Tn);
    const sel = new BigInt64Array(B);
    const W = S + Tn;
    const biasD = new Float32Array(B * Tn * W).fill(-1e9);
    const band = this.model.config.bandWidth;
    const sparse = this.model.config.attention === 'sparse';
    const biasB = sparse ? new Float32Array(B * Tn * W).fill(-1e9) : undefined;
    for (let b = 0; b < B; b++) {
      const toks = tokens[b] ?? [];
      const n = toks.length;
      sel[b] = BigInt(Math.max(0, n - 1));
      for (let t = 0; t < Tn; t++) {
        const real = t < n;
        idx[b * Tn + t] = BigInt(real ? toks[t]! : 0);
        const q = start[b]! + t;
        pos[b * Tn + t] = BigInt(Math.min(q, S - 1));
        const row = (b * Tn + t) * W;
        if (!real) {
          biasD[row] = 0; // keep one visible column so the (ignored) softmax stays finite
          if (biasB) biasB[row] = 0;
          continue;
        }
        for (let j = 0; j < start[b]!; j++) {
          biasD[row + j] = 0;
          if (biasB && q - j < band) biasB[row + j] = 0;
        }
        for (let u = 0; u <= t; u++) {
          biasD[row + S + u] = 0;
          if (biasB && t - u < band) biasB[row + S + u] = 0;
        }
      }
    }
    const feeds: Record<string, T.TypedArray> = { idx, pos, sel, bias_dense: biasD };
    if (biasB) feeds.bias_banded = biasB;
    weightFeeds(this.model, this.baked, feeds);
    this.cacheK.forEach((c, i) => (feeds[`past_k.${i}`] = c));
    this.cacheV.forEach((c, i) => (feeds[`past_v.${i}`] = c));
    const out = await prog.run(feeds);
    // write the new keys/values of real tokens into their cache slots: (B, nh, T, hd) -> (B, nh, S, hd)
    for (let l = 0; l < this.cacheK.length; l++) {
      const nk = out[`new_k.${l}`]!.data as Float32Array;
      const nv = out[`new_v.${l}`]!.data as Float32Array;
      for (let b = 0; b < B; b++) {
        const n = tokens[b]?.length ?? 0;
        for (let h = 0; h < nh; h++) {
          for (let t = 0; t < n; t++) {
            const slot = start[b]! + t;
            if (slot >= S) continue;
            const src = ((b * nh + h) * Tn + t) * hd;
            const dst = ((b * nh + h) * S + slot) * hd;
            this.cacheK[l]!.set(nk.subarray(src, src + hd), dst);
            this.cacheV[l]!.set(nv.subarray(src, src + hd), dst);
          }
        }
      }
    }
    return out.logits!.data as Float32Array;
  }

  /** Generate continuations for up to `batch` prompts (token ids). */
  async generate(prompts: number[][], o: GenerateOptions): Promise<GenerateResult> {
    const B = this.batch;
    if (prompts.length === 0 || prompts.length > B) throw new Error(`generate takes 1..${B} prompts, got ${prompts.length}`);
    const S = this.S;
    const V = this.model.config.vocabSize;
    const tok = this.tokenizer;
    const rng = new Rng(o.seed ?? 0);
    const rows = prompts.map((p) => {
      let ids = p.length === 0 ? [tok?.eotId ?? 0] : p;
      if (ids.length > S - 1) {
        o.warn?.(`prompt of ${ids.length} tokens is longer than the context (${S}); keeping the last ${S - 1}`);
        ids = ids.slice(ids.length - (S - 1));
      }
      return {
        context: [...ids],
        generated: [] as number[],
        lps: [] as number[],
        tops: [] as TopLogprob[][],
        done: false,
        finish: 'length' as GenerateResult['finish'][number],
        text: '',
        emitted: 0,
      };
    });
    const pad = (arr: number[][]) => [...arr, ...Array.from({ length: B - arr.length }, () => [] as number[])];
    let lens = rows.map((r) => r.context.length);
    const zeros = new Array<number>(B).fill(0);
    let logits = await this.stepChunk(pad(rows.map((r) => r.context)), zeros);
    const stopAtEot = o.stopAtEot ?? true;
    for (let i = 0; i < o.maxTokens; i++) {
      if (o.signal?.aborted) break;
      const next: number[][] = [];
      for (let b = 0; b < rows.length; b++) {
        const r = rows[b]!;
        if (r.done) {
          next.push([]);
          continue;
        }
        const id = sampleToken(logits.subarray(b * V, (b + 1) * V), i, o, rng);
        if (stopAtEot && tok?.eotId !== undefined && id === tok.eotId) {
          r.done = true;
          r.finish = 'eot';
          next.push([]);
          continue;
        }
        r.generated.push(id);
        r.context.push(id);
        if (o.logprobs !== undefined) {
          const row = logits.subarray(b * V, (b + 1) * V);
          const lse = logSumExp(row);
          r.lps.push(row[id]! - lse);
          r.tops.push(topKIndices(row, o.logprobs).map((j) => ({ id: j, logprob: row[j]! - lse })));
        }
        if (tok) {
          const text = tok.decode(r.generated);
          const hit = o.stop?.map((s) => (s ? text.indexOf(s) : -1)).filter((x) => x >= 0).sort((a, c) => a - c)[0];
          const visible = hit !== undefined ? text.slice(0, hit) : text.endsWith('\uFFFD') ? text.slice(0, -1) : text;
          if (visible.length > r.emitted) {
            o.onText?.(b, visible.slice(r.emitted));
            r.emitted = visible.length;
          }
          r.text = visible;
          if (hit !== undefined) {
            r.done = true;
            r.finish = 'stop';
            next.push([]);
            continue;
          }
        }
        next.push([id]);
      }
      if (rows.every((r) => r.done) || i === o.maxTokens - 1) break;
      if (lens.some((n, b) => !rows[b]!.done && n >= S)) {
        // context full: re-encode each row's most recent half-context from scratch (learned positions restart at 0)
        const keep = Math.floor(S / 2);
        const ctx = rows.map((r) => r.context.slice(-keep));
        lens = ctx.map((c) => c.length);
        logits = await this.stepChunk(pad(ctx), zeros);
        continue;
      }
      logits = await this.stepChunk(pad(next), zeros.map((_, b) => lens[b] ?? 0));
      lens = lens.map((n, b) => n + (next[b]?.length ?? 0));
    }
    const kept = rows.map((r) => (tok ? countTokensFor(tok, r.generated, r.text) : r.generated.length));
    return {
      tokens: rows.map((r, b) => r.generated.slice(0, kept[b])),
      texts: rows.map((r) => (tok ? r.text : '')),
      finish: rows.map((r) => r.finish),
      ...(o.logprobs !== undefined
        ? { tokenLogprobs: rows.map((r, b) => r.lps.slice(0, kept[b])), topLogprobs: rows.map((r, b) => r.tops.slice(0, kept[b])) }
        : {}),
    };
  }

  async release(): Promise<void> {
    for (const p of this.programs.values()) await (await p).release();
    this.programs.clear();
  }
}

/** log Σ exp(x), computed stably in double precision. */
export function logSumExp(x: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!;
  if (m === -Infinity || !Number.isFinite(m)) return m;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp(x[i]! - m);
  return m + Math.log(s);
}

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topKIndices(x: ArrayLike<number>, k: number): number[] {
  const n = Math.min(Math.max(0, Math.floor(k)), x.length);
  const idx: number[] = [];
  if (n === 0) return idx;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (idx.length === n && !(v > x[idx[n - 1]!]!)) continue;
    let j = idx.length < n ? idx.length : n - 1;
    if (idx.length < n) idx.push(i);
    while (j > 0 && x[idx[j - 1]!]! < v) {
      idx[j] = idx[j - 1]!;
      j--;
    }
    idx[j] = i;
  }
  return idx;
}

/** Number of leading tokens whose decoding is `text` (drops the tokens of a cut-off stop sequence). */
function countTokensFor(tok: ByteTokenizer, ids: number[], text: string): number {
  for (let n = ids.length; n >= 0; n--) if (tok.decode(ids.slice(0, n)).length <= text.length) return n;
  return 0;
}
