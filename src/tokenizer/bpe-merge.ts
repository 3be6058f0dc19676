// The byte-pair merge loop: an integer-keyed pair table and the lowest-rank-first merge of one pre-token's symbols.

const EMPTY = -1;
/** Rank returned for pairs that do not merge. */
export const NO_RANK = 0x7fffffff;

/** Open-addressing hash table (a, b) -> (rank, merged id) over typed arrays; no strings on the hot path. */
export class PairTable {
  private keyA: Int32Array;
  private keyB: Int32Array;
  private ranks: Int32Array;
  private mergedIds: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.keyA = new Int32Array(cap).fill(EMPTY);
    this.keyB = new Int32Array(cap);
    this.ranks = new Int32Array(cap);
    this.mergedIds = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private slot(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** Insert or overwrite (later definitions win, like GPT-2's and Hugging Face's merge dictionaries). */
  set(a: number, b: number, rank: number, merged: number): void {
    if ((this.size + 1) * 2 > this.keyA.length) this.grow();
    let i = this.slot(a, b);
    const { keyA, keyB, mask } = this;
    while (keyA[i] !== EMPTY) {
      if (keyA[i] === a && keyB[i] === b) {
        this.ranks[i] = rank;
        this.mergedIds[i] = merged;
        return;
      }
      i = (i + 1) & mask;
    }
    keyA[i] = a;
    keyB[i] = b;
    this.ranks[i] = rank;
    this.mergedIds[i] = merged;
    this.size++;
  }

  /** Slot of (a, b), or -1. Read rankAt/mergedAt with it. */
  find(a: number, b: number): number {
    const { keyA, keyB, mask } = this;
    let i = this.slot(a, b);
    let k: number;
    while ((k = keyA[i]) !== EMPTY) {
      if (k === a && keyB[i] === b) return i;
      i = (i + 1) & mask;
    }
    return -1;
  }

  rankAt(slot: number): number {
    return this.ranks[slot];
  }

  mergedAt(slot: number): number {
    return this.mergedIds[slot];
  }

  private grow(): void {
    const { keyA, keyB, ranks, mergedIds } = this;
    const cap = keyA.length * 2;
    this.keyA = new Int32Array(cap).fill(EMPTY);
    this.keyB = new Int32Array(cap);
    this.ranks = new Int32Array(cap);
    this.mergedIds = new Int32Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < keyA.length; i++) if (keyA[i] !== EMPTY) this.set(keyA[i], keyB[i], ranks[i], mergedIds[i]);
  }
}

/** Words longer than this use the heap-based merge (O(n log n)) instead of the quadratic scan. */
const LONG_WORD = 96;

/**
 * Merge ids[0..n) in place: repeatedly merge the adjacent pair of lowest rank (leftmost on ties) while its rank is
 * below maxRank. Returns the new length. Scratch arrays are grown as needed.
 */
export class BpeMerger {
  private pr = new Int32Array(128); // rank of pair (i, i+1)
  private pm = new Int32Array(128); // merged id of pair (i, i+1)
  // Heap-path scratch.
  private next = new Int32Array(0);
  private prev = new Int32Array(0);
  private ver = new Int32Array(0);
  private hRank = new Int32Array(0);
  private hPos = new Int32Array(0);
  private hVer = new Int32Array(0);
  private hMerged = new Int32Array(0);
  private hLen = 0;

  constructor(private readonly table: PairTable) {}

  merge(ids: Int32Array, n: number, maxRank = NO_RANK): number {
    if (n < 2) return n;
    return n > LONG_WORD ? this.mergeLong(ids, n, maxRank) : this.mergeShort(ids, n, maxRank);
  }

  private mergeShort(ids: Int32Array, n: number, maxRank: number): number {
    if (this.pr.length < n) {
      this.pr = new Int32Array(n * 2);
      this.pm = new Int32Array(n * 2);
    }
    const { pr, pm, table } = this;
    for (let i = 0; i < n - 1; i++) {
      const s = table.find(ids[i], ids[i + 1]);
      if (s >= 0) {
        const r = table.rankAt(s);
        pr[i] = r < maxRank ? r : NO_RANK;
        pm[i] = table.mergedAt(s);
      } else pr[i] = NO_RANK;
    }
    let len = n;
    for (;;) {
      let best = NO_RANK;
      let bi = -1;
      for (let i = 0; i < len - 1; i++) {
        if (pr[i] < best) {
          best = pr[i];
          bi = i;
        }
      }
      if (bi < 0) break;
      ids[bi] = pm[bi];
      // Remove symbol bi+1 and the pair starting at it.
      for (let j = bi + 1; j < len - 1; j++) {
        ids[j] = ids[j + 1];
        pr[j] = pr[j + 1];
        pm[j] = pm[j + 1];
      }
      len--;
      if (bi < len - 1) this.rankPair(ids, bi, maxRank);
      if (bi > 0) this.rankPair(ids, bi - 1, maxRank);
      if (len === 1) break;
    }
    return len;
  }

  private rankPair(ids: Int32Array, i: number, maxRank: number): void {
    const s = this.table.find(ids[i], ids[i + 1]);
    if (s >= 0) {
      const r = this.table.rankAt(s);
      this.pr[i] = r < maxRank ? r : NO_RANK;
      this.pm[i] = this.table.mergedAt(s);
    } else this.pr[i] = NO_RANK;
  }

  // ---- Heap path: a doubly linked list of symbols plus a lazy min-heap of (rank, position). ----

  private mergeLong(ids: Int32Array, n: number, maxRank: number): number {
    if (this.next.length < n) {
      this.next = new Int32Array(n);
      this.prev = new Int32Array(n);
      this.ver = new Int32Array(n);
      const h = n * 3 + 4;
      this.hRank = new Int32Array(h);
      this.hPos = new Int32Array(h);
      this.hVer = new Int32Array(h);
      this.hMerged = new Int32Array(h);
    }
    const { next, prev, ver } = this;
    for (let i = 0; i < n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
      ver[i] = 0;
    }
    this.hLen = 0;
    for (let i = 0; i < n - 1; i++) this.pushPair(ids, i, i + 1, maxRank);
    while (this.hLen > 0) {
      const pos = this.hPos[0];
      const v = this.hVer[0];
      const merged = this.hMerged[0];
      this.popTop();
      if (ids[pos] < 0 || ver[pos] !== v) continue; // stale entry
      const j = next[pos];
      ids[pos] = merged;
      ids[j] = -1;
      const k = next[j];
      next[pos] = k;
      if (k < n) prev[k] = pos;
      ver[pos]++;
      const p = prev[pos];
      if (p >= 0) {
        ver[p]++;
        this.pushPair(ids, p, pos, maxRank);
      }
      if (k < n) this.pushPair(ids, pos, k, maxRank);
    }
    let len = 0;
    for (let i = 0; i < n; i = next[i]) ids[len++] = ids[i];
    return len;
  }

  private pushPair(ids: Int32Array, i: number, j: number, maxRank: number): void {
    const s = this.table.find(ids[i], ids[j]);
    if (s < 0) return;
    const r = this.table.rankAt(s);
    if (r >= maxRank) return;
    const { hRank, hPos, hVer, hMerged } = this;
    let c = this.hLen++;
    // Sift up; order by (rank, position).
    while (c > 0) {
      const p = (c - 1) >> 1;
      if (hRank[p] < r || (hRank[p] === r && hPos[p] < i)) break;
      hRank[c] = hRank[p];
      hPos[c] = hPos[p];
      hVer[c] = hVer[p];
      hMerged[c] = hMerged[p];
      c = p;
    }
    hRank[c] = r;
    hPos[c] = i;
    hVer[c] = this.ver[i];
    hMerged[c] = this.table.mergedAt(s);
  }

  private popTop(): void {
    const { hRank, hPos, hVer, hMerged } = this;
    const last = --this.hLen;
    if (last === 0) return;
    const r = hRank[last];
    const p = hPos[last];
    const v = hVer[last];
    const m = hMerged[last];
    let c = 0;
    for (;;) {
      let l = 2 * c + 1;
      if (l >= last) break;
      const rr = l + 1;
      if (rr < last && (hRank[rr] < hRank[l] || (hRank[rr] === hRank[l] && hPos[rr] < hPos[l]))) l = rr;
      if (r < hRank[l] || (r === hRank[l] && p < hPos[l])) break;
      hRank[c] = hRank[l];
      hPos[c] = hPos[l];
      hVer[c] = hVer[l];
      hMerged[c] = hMerged[l];
      c = l;
    }
    hRank[c] = r;
    hPos[c] = p;
    hVer[c] = v;
    hMerged[c] = m;
  }
}
