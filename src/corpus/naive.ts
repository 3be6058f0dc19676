// Brute-force reference for the corpus index: scan every document with indexOf. Used by the correctness tests
// and as the naive baseline of the benchmark.

export interface NaiveDoc {
  id: string;
  tokens: Uint8Array | Uint16Array | Uint32Array | Int32Array;
}

export class NaiveCorpus {
  readonly docs: NaiveDoc[];
  readonly totalTokens: number;

  constructor(docs: { id: string; tokens: ArrayLike<number> }[]) {
    this.docs = docs.map((d) => ({ id: d.id, tokens: d.tokens instanceof Uint8Array || d.tokens instanceof Uint16Array || d.tokens instanceof Uint32Array || d.tokens instanceof Int32Array ? d.tokens : Int32Array.from(d.tokens as ArrayLike<number>) }));
    this.totalTokens = this.docs.reduce((a, d) => a + d.tokens.length, 0);
  }

  /** Every (document, offset) where P occurs, in corpus order (overlapping occurrences included). */
  positions(P: ArrayLike<number>, limit = Infinity): { docIndex: number; offset: number }[] {
    const out: { docIndex: number; offset: number }[] = [];
    const m = P.length;
    for (let d = 0; d < this.docs.length && out.length < limit; d++) {
      const t = this.docs[d]!.tokens;
      if (m === 0) {
        for (let i = 0; i < t.length && out.length < limit; i++) out.push({ docIndex: d, offset: i });
        continue;
      }
      const first = P[0]!;
      let i = t.indexOf(first);
      while (i >= 0 && i + m <= t.length) {
        let k = 1;
        while (k < m && t[i + k] === P[k]) k++;
        if (k === m) {
          out.push({ docIndex: d, offset: i });
          if (out.length >= limit) break;
        }
        i = t.indexOf(first, i + 1);
      }
    }
    return out;
  }

  count(P: ArrayLike<number>): { count: number; docs: number } {
    let count = 0;
    let docs = 0;
    const m = P.length;
    for (const doc of this.docs) {
      const t = doc.tokens;
      if (m === 0) {
        count += t.length;
        if (t.length > 0) docs++;
        continue;
      }
      const first = P[0]!;
      let c = 0;
      let i = t.indexOf(first);
      while (i >= 0 && i + m <= t.length) {
        let k = 1;
        while (k < m && t[i + k] === P[k]) k++;
        if (k === m) c++;
        i = t.indexOf(first, i + 1);
      }
      count += c;
      if (c > 0) docs++;
    }
    return { count, docs };
  }

  occurs(P: ArrayLike<number>): boolean {
    return this.positions(P, 1).length > 0;
  }

  /** ms[s]: longest prefix of P[s..] occurring somewhere. */
  matchingStatistics(P: ArrayLike<number>): number[] {
    const ms: number[] = [];
    for (let s = 0; s < P.length; s++) {
      let l = 0;
      while (s + l < P.length && this.occurs(Array.prototype.slice.call(P, s, s + l + 1) as number[])) l++;
      ms.push(l);
    }
    return ms;
  }

  /** lengths[i]: longest span ending at i that occurs. */
  longest(P: ArrayLike<number>): number[] {
    const out: number[] = [];
    for (let i = 0; i < P.length; i++) {
      let l = 0;
      while (l <= i && this.occurs(Array.prototype.slice.call(P, i - l, i + 1) as number[])) l++;
      out.push(l);
    }
    return out;
  }

  /** Following-token counts of P (within documents). */
  next(P: ArrayLike<number>): { count: number; continued: number; next: Map<number, number> } {
    const next = new Map<number, number>();
    let count = 0;
    let continued = 0;
    for (const { docIndex, offset } of this.positions(P)) {
      count++;
      const t = this.docs[docIndex]!.tokens;
      const j = offset + P.length;
      if (j < t.length) {
        continued++;
        next.set(t[j]!, (next.get(t[j]!) ?? 0) + 1);
      }
    }
    return { count, continued, next };
  }
}

/** Text-level naive count: String.indexOf over every document (what one would do without an index). */
export function naiveTextCount(texts: readonly string[], q: string): { count: number; docs: number } {
  let count = 0;
  let docs = 0;
  if (q.length === 0) return { count: 0, docs: 0 };
  for (const t of texts) {
    let c = 0;
    let i = t.indexOf(q);
    while (i >= 0) {
      c++;
      i = t.indexOf(q, i + 1);
    }
    count += c;
    if (c > 0) docs++;
  }
  return { count, docs };
}
