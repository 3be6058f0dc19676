// The key/value cache of a batch of decoding rows, as an object. Per layer it holds keys and values (rows, nh, S, hd)
// with S = the capacity actually needed (a 256-token sample does not attend over 1,024 slots), and each row's length.
// Rows can be forked (a prefix computed once, copied into N rows), reordered (beam search), trimmed and reset; new
// keys/values come out of a step as (rows, nh, T, hd) and are appended with one contiguous copy per (layer, row,
// head) covering all T tokens. Slot s of a row holds stream position s (learned positions).

export interface KVShape {
  layers: number;
  rows: number;
  heads: number;
  headDim: number;
  capacity: number;
}

export class KVCache {
  readonly layers: number;
  readonly rows: number;
  readonly heads: number;
  readonly headDim: number;
  readonly capacity: number;
  /** Per layer: (rows, nh, capacity, hd). */
  k: Float32Array[];
  v: Float32Array[];
  /** Tokens stored per row (the next token of row b goes to slot lengths[b]). */
  readonly lengths: Int32Array;

  constructor(s: KVShape) {
    for (const [k, v] of Object.entries(s)) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`KVCache: ${k} must be a positive integer, got ${v}`);
    }
    this.layers = s.layers;
    this.rows = s.rows;
    this.heads = s.heads;
    this.headDim = s.headDim;
    this.capacity = s.capacity;
    const n = s.rows * s.heads * s.capacity * s.headDim;
    this.k = Array.from({ length: s.layers }, () => new Float32Array(n));
    this.v = Array.from({ length: s.layers }, () => new Float32Array(n));
    this.lengths = new Int32Array(s.rows);
  }

  /** Bytes held by the keys and values. */
  get bytes(): number {
    return 2 * this.layers * this.rows * this.heads * this.capacity * this.headDim * 4;
  }

  private checkRow(row: number, what: string): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.rows) throw new Error(`KVCache.${what}: row ${row} is outside 0..${this.rows - 1}`);
  }

  /** Offset of (row, head, slot) in a layer buffer. */
  private at(row: number, head: number, slot: number): number {
    return ((row * this.heads + head) * this.capacity + slot) * this.headDim;
  }

  /**
   * Append new keys/values of one step. newK/newV[layer] are (rows, nh, T, hd); row b appends its first counts[b]
   * tokens at slot lengths[b] (the rest of its T are padding). Lengths advance by counts.
   */
  append(newK: Float32Array[], newV: Float32Array[], T: number, counts: ArrayLike<number>): void {
    const { heads: nh, headDim: hd } = this;
    for (let b = 0; b < this.rows; b++) {
      const n = counts[b] ?? 0;
      if (n === 0) continue;
      const start = this.lengths[b]!;
      if (start + n > this.capacity) throw new Error(`KVCache.append: row ${b} holds ${start} tokens; ${n} more exceed the capacity ${this.capacity}`);
    }
    for (let l = 0; l < this.layers; l++) {
      const nk = newK[l]!;
      const nv = newV[l]!;
      const K = this.k[l]!;
      const V = this.v[l]!;
      for (let b = 0; b < this.rows; b++) {
        const n = counts[b] ?? 0;
        if (n === 0) continue;
        const start = this.lengths[b]!;
        const len = n * hd;
        for (let h = 0; h < nh; h++) {
          const src = (b * nh + h) * T * hd;
          const dst = this.at(b, h, start);
          if (len <= 512) {
            // short runs (decoding: one token per head): a plain loop beats subarray + set, which allocate views
            for (let i = 0; i < len; i++) {
              K[dst + i] = nk[src + i]!;
              V[dst + i] = nv[src + i]!;
            }
          } else {
            K.set(nk.subarray(src, src + len), dst);
            V.set(nv.subarray(src, src + len), dst);
          }
        }
      }
    }
    for (let b = 0; b < this.rows; b++) this.lengths[b]! += counts[b] ?? 0;
  }

  /** Copy row `srcRow` of `src` (same layers, heads, head size; any capacity ≥ its length) into row `dstRow`. */
  copyRowFrom(src: KVCache, srcRow: number, dstRow: number): void {
    src.checkRow(srcRow, 'copyRowFrom');
    this.checkRow(dstRow, 'copyRowFrom');
    if (src.layers !== this.layers || src.heads !== this.heads || src.headDim !== this.headDim) {
      throw new Error(`KVCache.copyRowFrom: source cache has ${src.layers} layers × ${src.heads} heads × ${src.headDim}, this one ${this.layers} × ${this.heads} × ${this.headDim}`);
    }
    const len = src.lengths[srcRow]!;
    if (len > this.capacity) throw new Error(`KVCache.copyRowFrom: the source row holds ${len} tokens, more than the capacity ${this.capacity}`);
    const n = len * this.headDim;
    for (let l = 0; l < this.layers; l++) {
      for (let h = 0; h < this.heads; h++) {
        const s = src.at(srcRow, h, 0);
        const d = this.at(dstRow, h, 0);
        this.k[l]!.set(src.k[l]!.subarray(s, s + n), d);
        this.v[l]!.set(src.v[l]!.subarray(s, s + n), d);
      }
    }
    this.lengths[dstRow] = len;
  }

  /**
   * A copy of this cache with another capacity (≥ every row's length). Decoding grows its cache in steps as rows get
   * longer, so each step attends over about the slots in use instead of the final capacity.
   */
  resized(capacity: number): KVCache {
    const c = new KVCache({ layers: this.layers, rows: this.rows, heads: this.heads, headDim: this.headDim, capacity });
    for (let r = 0; r < this.rows; r++) c.copyRowFrom(this, r, r);
    return c;
  }

  /** Fork: copy row `src` into each of `dsts` (a prefix computed once, shared by N rows). */
  fork(src: number, dsts: readonly number[]): void {
    for (const d of dsts) if (d !== src) this.copyRowFrom(this, src, d);
  }

  /**
   * Reorder rows: afterwards row i holds what row parents[i] held (beam search). Only rows whose parent is another
   * row are written; a source row that is itself overwritten is snapshotted first, so one parent can feed several rows.
   */
  reorder(parents: readonly number[]): void {
    if (parents.length !== this.rows) throw new Error(`KVCache.reorder: ${parents.length} parents for ${this.rows} rows`);
    parents.forEach((p) => this.checkRow(p, 'reorder'));
    const moved = parents.map((p, i) => (p !== i ? i : -1)).filter((i) => i >= 0);
    if (moved.length === 0) return;
    const lens = Int32Array.from(this.lengths);
    const { heads: nh, headDim: hd } = this;
    const clobbered = new Set(moved);
    const snapshots = new Map<number, { k: Float32Array[]; v: Float32Array[] }>();
    for (const i of moved) {
      const p = parents[i]!;
      if (!clobbered.has(p) || snapshots.has(p)) continue;
      const n = lens[p]! * hd;
      const snap = { k: [] as Float32Array[], v: [] as Float32Array[] };
      for (let l = 0; l < this.layers; l++) {
        const k = new Float32Array(nh * n);
        const v = new Float32Array(nh * n);
        for (let h = 0; h < nh; h++) {
          const s0 = this.at(p, h, 0);
          k.set(this.k[l]!.subarray(s0, s0 + n), h * n);
          v.set(this.v[l]!.subarray(s0, s0 + n), h * n);
        }
        snap.k.push(k);
        snap.v.push(v);
      }
      snapshots.set(p, snap);
    }
    for (const i of moved) {
      const p = parents[i]!;
      const n = lens[p]! * hd;
      const snap = snapshots.get(p);
      for (let l = 0; l < this.layers; l++) {
        for (let h = 0; h < nh; h++) {
          const d = this.at(i, h, 0);
          if (snap) {
            this.k[l]!.set(snap.k[l]!.subarray(h * n, (h + 1) * n), d);
            this.v[l]!.set(snap.v[l]!.subarray(h * n, (h + 1) * n), d);
          } else {
            const s0 = this.at(p, h, 0);
            this.k[l]!.set(this.k[l]!.subarray(s0, s0 + n), d);
            this.v[l]!.set(this.v[l]!.subarray(s0, s0 + n), d);
          }
        }
      }
    }
    parents.forEach((p, i) => (this.lengths[i] = lens[p]!));
  }

  /** Keep the first `length` tokens of `row`. */
  trim(row: number, length: number): void {
    this.checkRow(row, 'trim');
    if (!Number.isInteger(length) || length < 0 || length > this.lengths[row]!) {
      throw new Error(`KVCache.trim: length must be an integer in [0, ${this.lengths[row]}], got ${length}`);
    }
    this.lengths[row] = length;
  }

  /** Empty a row (its slots are reused by the next prompt). */
  reset(row: number): void {
    this.trim(row, 0);
  }
}
