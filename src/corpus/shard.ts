// One suffix-array shard of a corpus index: its token and suffix-array files (read by offset through a page cache),
// its document table (document starts, per-token SA buckets, document frequencies, ids) and the primitive lookups
// the queries are built from: SA range of a pattern, longest match, one-token narrowing, per-document tallies and
// next-token counts. Opening and checking the files is open.ts; the queries over all shards are queries.ts.
import { docsLayout, type ShardManifest } from './format.js';
import type { ElemArray, PagedFile } from './paged-file.js';

const SCAN_CHUNK = 1 << 16;
const BLOCK_SHIFT = 10;

/** One shard of an index: its token and suffix-array files (read by offset) and its in-memory document table. */
export class Shard {
  readonly meta: ShardManifest;
  readonly n: number;
  readonly D: number;
  readonly V: number;
  readonly tok: PagedFile;
  readonly sa: PagedFile;
  readonly starts: Uint32Array;
  readonly buckets: Uint32Array;
  readonly docFreq: Uint32Array;
  private readonly idsBuf: Buffer;
  private idsCache: string[] | undefined;
  private scanBuf: Uint32Array | undefined;
  private seen: Uint8Array | undefined;
  private perDoc: Uint32Array | undefined;
  private firstPos: Float64Array | undefined;
  /** blockDoc[b]: the document holding token b << BLOCK_SHIFT (a shortcut for docOf). */
  private readonly blockDoc: Uint32Array;
  /** Tokens matched by the last `cmp` call. */
  lcp = 0;

  constructor(meta: ShardManifest, tok: PagedFile, sa: PagedFile, docsPayload: Buffer, V: number) {
    this.meta = meta;
    this.n = meta.tokens;
    this.D = meta.docs;
    this.V = V;
    this.tok = tok;
    this.sa = sa;
    const lay = docsLayout(this.D, V);
    const ab = new ArrayBuffer(lay.ids);
    new Uint8Array(ab).set(docsPayload.subarray(0, lay.ids));
    this.starts = new Uint32Array(ab, lay.starts, this.D + 1);
    this.buckets = new Uint32Array(ab, lay.buckets, V + 1);
    this.docFreq = new Uint32Array(ab, lay.docFreq, V);
    this.idsBuf = docsPayload.subarray(lay.ids);
    const nb = (this.n >>> BLOCK_SHIFT) + 1;
    this.blockDoc = new Uint32Array(nb);
    for (let b = 0, d = 0; b < nb; b++) {
      const pos = b << BLOCK_SHIFT;
      while (d + 1 < this.D && this.starts[d + 1]! <= pos) d++;
      this.blockDoc[b] = d;
    }
  }

  get ids(): string[] {
    if (!this.idsCache) {
      const len = this.idsBuf.readUInt32LE(0);
      this.idsCache = JSON.parse(this.idsBuf.subarray(4, 4 + len).toString('utf8')) as string[];
    }
    return this.idsCache;
  }

  saAt(i: number): number {
    return this.sa.at(i);
  }

  token(pos: number): number {
    return this.tok.at(pos);
  }

  tokens(pos: number, len: number): number[] {
    const out: number[] = [];
    this.tok.scan(pos, len, (p, s, e) => {
      for (let j = s; j < e; j++) out.push(p[j]!);
      return true;
    });
    return out;
  }

  /** Local document holding token `pos`. */
  docOf(pos: number): number {
    const s = this.starts;
    let lo = this.blockDoc[pos >>> BLOCK_SHIFT]!;
    if (s[lo + 1]! > pos) return lo;
    // Several documents start inside this block: binary search between its first and the next block's.
    let hi = this.blockDoc[(pos >>> BLOCK_SHIFT) + 1] ?? this.D - 1;
    if (hi > this.D - 1) hi = this.D - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  docEnd(pos: number): number {
    return this.starts[this.docOf(pos) + 1]!;
  }

  /**
   * Compare the suffix at `pos` (cut at its document's end) with P[ps+k .. pe), its first k tokens being known
   * equal to P's. Returns <0 if the suffix sorts before P, >0 after, 0 if P is a prefix of it; sets `lcp`.
   */
  cmp(P: ArrayLike<number>, ps: number, pe: number, pos: number, k: number): number {
    const m = pe - ps;
    const avail = this.docEnd(pos) - pos;
    const lim = m < avail ? m : avail;
    const tok = this.tok;
    let i = k;
    while (i < lim) {
      const arr = tok.locate(pos + i);
      const o = tok.off - i;
      const stop = Math.min(lim, arr.length - o);
      for (; i < stop; i++) {
        const a = arr[o + i]!;
        const b = P[ps + i]!;
        if (a !== b) {
          this.lcp = i;
          return a < b ? -1 : 1;
        }
      }
    }
    this.lcp = lim;
    return lim < m ? -1 : 0;
  }

  /** SA range [lo, hi) of the suffixes with prefix P[ps..pe). */
  range(P: ArrayLike<number>, ps: number, pe: number): [number, number] {
    const m = pe - ps;
    if (m === 0) return [0, this.n];
    const t = P[ps]!;
    if (!(t >= 0 && t < this.V)) return [0, 0];
    let lo = this.buckets[t]!;
    const b1 = this.buckets[t + 1]!;
    if (m === 1 || lo === b1) return [lo, b1];
    // Lower bound: first suffix >= P.
    let hi = b1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(P, ps, pe, this.saAt(mid), 1) < 0) lo = mid + 1;
      else hi = mid;
    }
    const first = lo;
    if (first === b1 || this.cmp(P, ps, pe, this.saAt(first), 1) !== 0) return [first, first];
    // Upper bound by galloping from the first match: first suffix > P.
    let a = first + 1;
    let step = 1;
    let b = b1;
    for (;;) {
      const probe = a + step - 1;
      if (probe >= b1) break;
      if (this.cmp(P, ps, pe, this.saAt(probe), 1) !== 0) {
        b = probe;
        break;
      }
      a = probe + 1;
      step *= 2;
    }
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (this.cmp(P, ps, pe, this.saAt(mid), 1) === 0) a = mid + 1;
      else b = mid;
    }
    return [first, a];
  }

  /** Token at offset k of suffix SA[i], or -1 when its document ends before. */
  tokAt(i: number, k: number): number {
    const pos = this.sa.at(i);
    return pos + k < this.docEnd(pos) ? this.tok.at(pos + k) : -1;
  }

  /** Sub-range of SA[lo..hi) (suffixes sharing k tokens) whose token at offset k is t; sets rlo/rhi. */
  narrow(lo: number, hi: number, k: number, t: number): void {
    if (hi - lo <= 8) {
      let a = lo;
      while (a < hi && this.tokAt(a, k) < t) a++;
      let b = a;
      while (b < hi && this.tokAt(b, k) === t) b++;
      this.rlo = a;
      this.rhi = b;
      return;
    }
    let a = lo;
    let b = hi;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (this.tokAt(mid, k) < t) a = mid + 1;
      else b = mid;
    }
    const first = a;
    b = hi;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (this.tokAt(mid, k) <= t) a = mid + 1;
      else b = mid;
    }
    this.rlo = first;
    this.rhi = a;
  }

  /** Result of `narrow`. */
  rlo = 0;
  rhi = 0;

  /** Length of the longest prefix of P[ps..pe) that occurs in this shard. */
  longestMatch(P: ArrayLike<number>, ps: number, pe: number): number {
    if (pe <= ps) return 0;
    const t = P[ps]!;
    if (!(t >= 0 && t < this.V)) return 0;
    let lo = this.buckets[t]!;
    let hi = this.buckets[t + 1]!;
    if (lo === hi) return 0;
    if (pe - ps === 1) return 1;
    // Binary search for P's insertion point; the longest match is with one of its neighbours, both of which the
    // search compares against, so the best lcp seen is the answer.
    let best = 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.cmp(P, ps, pe, this.saAt(mid), 1);
      if (this.lcp > best) best = this.lcp;
      if (c === 0) return pe - ps;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return best;
  }

  /**
   * Call f(chunk, start, end) over SA[lo..hi) in order: chunk[start..end) are the entries. Long ranges are read in
   * bulk into a reusable buffer, bypassing the page cache.
   */
  forEachChunk(lo: number, hi: number, f: (chunk: ElemArray, start: number, end: number) => void): void {
    if (hi - lo <= this.sa.pageElems * 4) {
      this.sa.scan(lo, hi - lo, (p, s, e) => {
        f(p, s, e);
        return true;
      });
      return;
    }
    const buf = (this.scanBuf ??= new Uint32Array(SCAN_CHUNK));
    for (let i = lo; i < hi; i += SCAN_CHUNK) {
      const k = Math.min(SCAN_CHUNK, hi - i);
      this.sa.readInto(i, k, buf);
      f(buf, 0, k);
    }
  }

  /** Call f(pos) for each entry of SA[lo..hi). */
  forEachPos(lo: number, hi: number, f: (pos: number) => void): void {
    this.forEachChunk(lo, hi, (c, s, e) => {
      for (let j = s; j < e; j++) f(c[j]!);
    });
  }

  /** Distinct documents among SA[lo..hi). */
  docsInRange(lo: number, hi: number): number {
    if (hi - lo <= 1) return hi - lo;
    const seen = (this.seen ??= new Uint8Array(this.D));
    const touched: number[] = [];
    const starts = this.starts;
    const blockDoc = this.blockDoc;
    this.forEachChunk(lo, hi, (c, s, e) => {
      for (let j = s; j < e; j++) {
        const pos = c[j]!;
        // Inline fast path of docOf: the block's first document usually holds the position.
        let d = blockDoc[pos >>> BLOCK_SHIFT]!;
        if (starts[d + 1]! <= pos) d = this.docOf(pos);
        if (seen[d] === 0) {
          seen[d] = 1;
          touched.push(d);
        }
      }
    });
    for (const d of touched) seen[d] = 0;
    return touched.length;
  }

  /** Occurrences per document among SA[lo..hi): local doc, count and first offset in the document. */
  perDocument(lo: number, hi: number): { d: number; count: number; first: number }[] {
    const cnt = (this.perDoc ??= new Uint32Array(this.D));
    const first = (this.firstPos ??= new Float64Array(this.D));
    const touched: number[] = [];
    const starts = this.starts;
    const blockDoc = this.blockDoc;
    this.forEachChunk(lo, hi, (c, s, e) => {
      for (let j = s; j < e; j++) {
        const pos = c[j]!;
        let d = blockDoc[pos >>> BLOCK_SHIFT]!;
        if (starts[d + 1]! <= pos) d = this.docOf(pos);
        if (cnt[d] === 0) {
          touched.push(d);
          first[d] = pos;
        } else if (pos < first[d]!) first[d] = pos;
        cnt[d]!++;
      }
    });
    const out = touched.map((d) => ({ d, count: cnt[d]!, first: first[d]! - starts[d]! }));
    for (const d of touched) cnt[d] = 0;
    return out;
  }

  /** Counts of the token following P (of length m) for the suffixes in SA[lo..hi). */
  nextCounts(m: number, lo: number, hi: number, into: Map<number, number>): number {
    let continued = 0;
    const add = (t: number, c: number) => {
      into.set(t, (into.get(t) ?? 0) + c);
      continued += c;
    };
    if (m === 0) {
      for (let t = 0; t < this.V; t++) {
        const c = this.buckets[t + 1]! - this.buckets[t]!;
        if (c > 0) add(t, c);
      }
      return continued;
    }
    if (hi - lo <= 512) {
      this.forEachPos(lo, hi, (pos) => {
        if (pos + m < this.docEnd(pos)) add(this.token(pos + m), 1);
      });
      return continued;
    }
    // Suffixes whose document ends right after P sort first; skip them.
    const hasNext = (i: number) => {
      const pos = this.saAt(i);
      return pos + m < this.docEnd(pos);
    };
    let a = lo;
    let b = hi;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (hasNext(mid)) b = mid;
      else a = mid + 1;
    }
    // Then runs of equal next tokens, found by galloping.
    const nextTok = (i: number) => this.token(this.saAt(i) + m);
    let i = a;
    while (i < hi) {
      const t = nextTok(i);
      let x = i + 1;
      let step = 1;
      let y = hi;
      for (;;) {
        const probe = x + step - 1;
        if (probe >= hi) break;
        if (nextTok(probe) !== t) {
          y = probe;
          break;
        }
        x = probe + 1;
        step *= 2;
      }
      while (x < y) {
        const mid = (x + y) >>> 1;
        if (nextTok(mid) === t) x = mid + 1;
        else y = mid;
      }
      add(t, x - i);
      i = x;
    }
    return continued;
  }

  /** Close the token and suffix-array files. */
  close(): void {
    this.tok.close();
    this.sa.close();
  }
}
