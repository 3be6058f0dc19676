// The queries over all shards of an open index, on token ids (CorpusIndex in reader.ts tokenizes text queries and
// calls these): count and occurrences (exact counts, with distinct-document counts for k-eidetic memorization),
// locate (hits with snippets), matching statistics and longest (infini-gram suffix lengths), trace (maximal
// verbatim spans with the documents holding them) and next (next-token counts, ∞-gram backoff). The per-shard
// suffix-array primitives they use are in shard.ts.
import type { TokenizerLike } from './open.js';
import type { Shard } from './shard.js';

export type Query = string | ArrayLike<number>;

export interface CountResult {
  /** Occurrences of the query in the corpus (never across a document boundary). */
  count: number;
  /** Distinct documents containing it (the k of k-eidetic memorization). */
  docs: number;
}

export interface Snippet {
  before: string;
  match: string;
  after: string;
}

export interface Hit {
  /** Document id. */
  doc: string;
  /** Global document number (corpus order). */
  docIndex: number;
  /** Token offset of the match in its document. */
  offset: number;
  snippet?: Snippet;
}

export interface LocateResult {
  count: number;
  docs: number;
  /** True when `hits` are the first occurrences in corpus order (see `locate`). */
  ordered: boolean;
  /** At most `limit` hits, sorted by (document, offset). */
  hits: Hit[];
}

export interface LongestResult {
  tokens: number[];
  /** lengths[i]: tokens in the longest span of the query ending at token i that occurs in the corpus. */
  lengths: number[];
}

export interface DocCount {
  doc: string;
  docIndex: number;
  /** Occurrences in this document. */
  count: number;
  /** Token offset of the first occurrence in the document. */
  offset: number;
}

export interface TraceSpan {
  /** Token range [start, end) of the query. */
  start: number;
  end: number;
  length: number;
  text?: string;
  count: number;
  docs: number;
  topDocs: DocCount[];
}

export interface TraceResult {
  tokens: number;
  minTokens: number;
  spans: TraceSpan[];
}

export interface NextToken {
  token: number;
  text?: string;
  count: number;
  /** count / continued. */
  prob: number;
}

export interface NextResult {
  /** Occurrences of the context span. */
  count: number;
  /** Occurrences followed by a token in the same document. */
  continued: number;
  /** The context actually used: the whole query, or (with backoff) its longest suffix that has continuations. */
  contextTokens: number;
  /** Tokens dropped from the front of the query by backoff. */
  backoff: number;
  next: NextToken[];
}

export interface LocateOptions {
  limit?: number;
  context?: number;
  exhaustive?: number;
}

export interface TraceOptions {
  minTokens?: number;
  topDocs?: number;
}

export interface NextOptions {
  limit?: number;
  backoff?: boolean;
}

/** What the queries see of an open index. */
export interface IndexView {
  readonly shards: readonly Shard[];
  readonly totalTokens: number;
  readonly totalDocs: number;
  readonly tokenizer: TokenizerLike | undefined;
}

/** Text of the tokens, or undefined when there is no tokenizer that decodes. */
export function decodeTokens(ix: IndexView, tokens: ArrayLike<number>): string | undefined {
  return ix.tokenizer?.decode ? ix.tokenizer.decode(tokens) : undefined;
}

function docIdOf(shard: Shard, d: number): string {
  return shard.ids[d]!;
}

/** Occurrences and distinct documents containing the query. */
export function count(ix: IndexView, P: number[]): CountResult {
  if (P.length === 0) return { count: ix.totalTokens, docs: ix.totalDocs };
  let count = 0;
  let docs = 0;
  for (const s of ix.shards) {
    const [lo, hi] = s.range(P, 0, P.length);
    count += hi - lo;
    if (hi > lo) docs += P.length === 1 ? s.docFreq[P[0]!]! : s.docsInRange(lo, hi);
  }
  return { count, docs };
}

/** Occurrences only (no document count, so no scan of the matching range). */
export function occurrences(ix: IndexView, P: number[]): number {
  if (P.length === 0) return ix.totalTokens;
  let count = 0;
  for (const s of ix.shards) {
    const [lo, hi] = s.range(P, 0, P.length);
    count += hi - lo;
  }
  return count;
}

/**
 * Where the query occurs: up to `limit` hits, each with a context snippet of `context` tokens. When the query
 * occurs at most `exhaustive` times (default 1,000,000) the hits are the first ones in corpus order (document,
 * offset); beyond that, scanning every occurrence would cost too much, and the hits are the first `limit` of
 * the first shards in suffix order (sorted), with `ordered: false`.
 */
export function locate(ix: IndexView, P: number[], opts: LocateOptions = {}): LocateResult {
  const limit = Math.max(0, opts.limit ?? 10);
  const context = Math.max(0, opts.context ?? 16);
  const exhaustive = opts.exhaustive ?? 1_000_000;
  let count = 0;
  let docs = 0;
  const ranges = ix.shards.map((s) => {
    const r = P.length === 0 ? ([0, s.n] as [number, number]) : s.range(P, 0, P.length);
    count += r[1] - r[0];
    if (r[1] > r[0]) docs += P.length === 0 ? s.D : P.length === 1 ? s.docFreq[P[0]!]! : s.docsInRange(r[0], r[1]);
    return r;
  });
  const ordered = P.length === 0 || count <= exhaustive;
  const found: { shard: Shard; pos: number }[] = [];
  // Shards hold consecutive documents, so once `limit` hits are found no later shard can have earlier ones.
  for (let si = 0; si < ix.shards.length && found.length < limit; si++) {
    const s = ix.shards[si]!;
    const [lo, hi] = ranges[si]!;
    if (hi <= lo) continue;
    const need = limit - found.length;
    if (P.length === 0) {
      for (let pos = 0; pos < Math.min(hi, need); pos++) found.push({ shard: s, pos });
      continue;
    }
    const end = ordered ? hi : Math.min(hi, lo + need);
    const pos = new Float64Array(end - lo);
    let k = 0;
    s.forEachPos(lo, end, (p) => {
      pos[k++] = p;
    });
    pos.sort();
    for (let i = 0; i < Math.min(need, pos.length); i++) found.push({ shard: s, pos: pos[i]! });
  }
  const hits = found.map(({ shard, pos }) => {
    const d = shard.docOf(pos);
    const start = shard.starts[d]!;
    const end = shard.starts[d + 1]!;
    const hit: Hit = { doc: docIdOf(shard, d), docIndex: shard.meta.firstDoc + d, offset: pos - start };
    if (ix.tokenizer?.decode) {
      const b0 = Math.max(start, pos - context);
      const m1 = pos + P.length;
      const a1 = Math.min(end, m1 + context);
      // Context cut inside a multi-byte character decodes to U+FFFD at the outer edges: drop those.
      hit.snippet = {
        before: ix.tokenizer.decode(shard.tokens(b0, pos - b0)).replace(/^\uFFFD+/, ''),
        match: ix.tokenizer.decode(shard.tokens(pos, P.length)),
        after: ix.tokenizer.decode(shard.tokens(m1, a1 - m1)).replace(/\uFFFD+$/, ''),
      };
    }
    return hit;
  });
  return { count, docs, ordered, hits };
}

/**
 * Matching statistics: ms[s] = length of the longest prefix of tokens[s..] that occurs in the corpus.
 * Uses ms[s] >= ms[s-1] - 1 to skip searches once a match reaches the end of the query.
 */
export function matchingStatistics(ix: IndexView, tokens: ArrayLike<number>): Int32Array {
  const m = tokens.length;
  const ms = new Int32Array(m);
  let prev = 0;
  for (let s = 0; s < m; s++) {
    const rem = m - s;
    if (prev - 1 >= rem) {
      ms[s] = rem;
      prev = rem;
      continue;
    }
    let best = 0;
    for (const sh of ix.shards) {
      const l = sh.longestMatch(tokens, s, m);
      if (l > best) best = l;
      if (best === rem) break;
    }
    ms[s] = best;
    prev = best;
  }
  return ms;
}

/**
 * One left-to-right pass over the query computing, for every position i, the length of the longest span ending
 * at i that occurs in the corpus, and reporting each maximal occurring span (it occurs, and neither extending it
 * left nor right does) with its suffix-array range in every shard. Extending a span by one token narrows its
 * ranges (one-token comparisons, usually within one page); when the extension fails, the new start is found by
 * galloping and binary search over the start position, each probe a full search.
 */
function sweep(ix: IndexView, P: number[], onMaximal?: (start: number, end: number, lo: Float64Array, hi: Float64Array) => void): number[] {
  const S = ix.shards.length;
  const m = P.length;
  const L = new Array<number>(m).fill(0);
  let lo = new Float64Array(S);
  let hi = new Float64Array(S);
  let nlo = new Float64Array(S);
  let nhi = new Float64Array(S);
  const tlo = new Float64Array(S);
  const thi = new Float64Array(S);
  let a = 0;
  let len = 0;
  // Ranges of P[from..to) into (tlo, thi); true when it occurs.
  const search = (from: number, to: number): boolean => {
    let any = false;
    for (let k = 0; k < S; k++) {
      const [x, y] = ix.shards[k]!.range(P, from, to);
      tlo[k] = x;
      thi[k] = y;
      if (y > x) any = true;
    }
    return any;
  };
  for (let i = 0; i < m; i++) {
    const t = P[i]!;
    let any = false;
    for (let k = 0; k < S; k++) {
      const sh = ix.shards[k]!;
      if (len === 0) {
        const ok = t >= 0 && t < sh.V;
        nlo[k] = ok ? sh.buckets[t]! : 0;
        nhi[k] = ok ? sh.buckets[t + 1]! : 0;
      } else if (hi[k]! > lo[k]!) {
        sh.narrow(lo[k]!, hi[k]!, len, t);
        nlo[k] = sh.rlo;
        nhi[k] = sh.rhi;
      } else {
        nlo[k] = nhi[k] = 0;
      }
      if (nhi[k]! > nlo[k]!) any = true;
    }
    if (any) {
      [lo, nlo] = [nlo, lo];
      [hi, nhi] = [nhi, hi];
      len++;
      L[i] = len;
      continue;
    }
    // P[a..i] does not occur: P[a..i) is maximal. Find the smallest start a' in (a, i] where P[a'..i] occurs.
    if (len > 0) onMaximal?.(a, i, lo, hi);
    if (!search(i, i + 1)) {
      a = i + 1;
      len = 0;
      continue;
    }
    let good = i;
    lo.set(tlo);
    hi.set(thi);
    let bad = a;
    for (let step = 1; ; step *= 2) {
      const cand = good - step;
      if (cand <= bad) break;
      if (search(cand, i + 1)) {
        good = cand;
        lo.set(tlo);
        hi.set(thi);
      } else {
        bad = cand;
        break;
      }
    }
    while (good - bad > 1) {
      const mid = (bad + good) >>> 1;
      if (search(mid, i + 1)) {
        good = mid;
        lo.set(tlo);
        hi.set(thi);
      } else bad = mid;
    }
    a = good;
    len = i + 1 - a;
    L[i] = len;
  }
  if (len > 0) onMaximal?.(a, m, lo, hi);
  return L;
}

/** For each token position i of the query, the length of the longest span ending at i that occurs in the corpus. */
export function longest(ix: IndexView, P: number[]): LongestResult {
  return { tokens: P, lengths: sweep(ix, P) };
}

/**
 * The maximal spans of the query (at least `minTokens` tokens) that occur verbatim in the corpus, each with its
 * count, document count and the `topDocs` documents holding it most often.
 */
export function trace(ix: IndexView, P: number[], opts: TraceOptions = {}): TraceResult {
  const minTokens = Math.max(1, opts.minTokens ?? 8);
  const top = Math.max(0, opts.topDocs ?? 5);
  const spans: TraceSpan[] = [];
  sweep(ix, P, (start, end, lo, hi) => {
    if (end - start < minTokens) return;
    const per: { sh: Shard; d: number; docIndex: number; count: number; offset: number }[] = [];
    let count = 0;
    let docs = 0;
    ix.shards.forEach((sh, k) => {
      const a = lo[k]!;
      const b = hi[k]!;
      if (b <= a) return;
      count += b - a;
      const pd = sh.perDocument(a, b);
      docs += pd.length;
      for (const x of pd) per.push({ sh, d: x.d, docIndex: sh.meta.firstDoc + x.d, count: x.count, offset: x.first });
    });
    per.sort((x, y) => y.count - x.count || x.docIndex - y.docIndex);
    const topDocs: DocCount[] = per.slice(0, top).map((x) => ({ doc: docIdOf(x.sh, x.d), docIndex: x.docIndex, count: x.count, offset: x.offset }));
    const span: TraceSpan = { start, end, length: end - start, count, docs, topDocs };
    const text = decodeTokens(ix, P.slice(start, end));
    if (text !== undefined) span.text = text;
    spans.push(span);
  });
  return { tokens: P.length, minTokens, spans };
}

/**
 * Counts of each token that follows the query in the corpus (within a document), most frequent first. With
 * `backoff`, drops tokens from the front until the context has at least one continuation (∞-gram).
 */
export function next(ix: IndexView, P: number[], opts: NextOptions = {}): NextResult {
  const limit = opts.limit ?? Infinity;
  for (let drop = 0; drop <= P.length; drop++) {
    const counts = new Map<number, number>();
    let count = 0;
    let continued = 0;
    const m = P.length - drop;
    for (const sh of ix.shards) {
      const [lo, hi] = m === 0 ? [0, sh.n] : sh.range(P, drop, P.length);
      count += hi - lo;
      if (hi > lo) continued += sh.nextCounts(m, lo, hi, counts);
    }
    if (continued > 0 || !opts.backoff || m === 0) {
      const next = [...counts.entries()]
        .sort((a, b) => b[1] - a[1] || a[0] - b[0])
        .slice(0, limit)
        .map(([token, c]) => {
          const nt: NextToken = { token, count: c, prob: c / continued };
          const text = decodeTokens(ix, [token]);
          if (text !== undefined) nt.text = text;
          return nt;
        });
      return { count, continued, contextTokens: m, backoff: drop, next };
    }
  }
  /* c8 ignore next */
  throw new Error('unreachable');
}
