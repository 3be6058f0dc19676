// Query a corpus index: exact counts with document counts (k-eidetic), locate, longest matches (infini-gram suffix
// lengths), trace (maximal verbatim spans) and next-token counts (∞-gram). Files are read by offset through a page
// cache; only the document tables are held in memory.
//
// This file is the public face, CorpusIndex; the work is split by what it does:
//   open.ts     open an index directory and check the manifest, every file's header, size and checksums
//   shard.ts    one suffix-array shard's data and its primitive lookups (SA range, longest match, per-document tallies)
//   queries.ts  the queries over all shards (count, locate, matching statistics, longest, trace, next)
import type { IndexManifest } from './format.js';
import { openIndexFiles, verifyFiles, type IndexFile, type OpenIndexOptions, type TokenizerLike } from './open.js';
import * as queries from './queries.js';
import type { CountResult, IndexView, LocateOptions, LocateResult, LongestResult, NextOptions, NextResult, Query, TraceOptions, TraceResult } from './queries.js';
import type { Shard } from './shard.js';

export type { OpenIndexOptions, TokenizerLike } from './open.js';
export type {
  CountResult,
  DocCount,
  Hit,
  LocateOptions,
  LocateResult,
  LongestResult,
  NextOptions,
  NextResult,
  NextToken,
  Query,
  Snippet,
  TraceOptions,
  TraceResult,
  TraceSpan,
} from './queries.js';

function toTokens(q: ArrayLike<number>): number[] {
  const out = new Array<number>(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i]!;
  return out;
}

export class CorpusIndex {
  readonly dir: string;
  readonly manifest: IndexManifest;
  readonly tokenizer: TokenizerLike | undefined;
  private readonly shards: Shard[];
  private readonly files: IndexFile[] = [];
  private readonly view: IndexView;

  private constructor(dir: string, manifest: IndexManifest, shards: Shard[], tokenizer: TokenizerLike | undefined, files: IndexFile[]) {
    this.dir = dir;
    this.manifest = manifest;
    this.shards = shards;
    this.tokenizer = tokenizer;
    this.files = files;
    this.view = { shards, totalTokens: manifest.totalTokens, totalDocs: manifest.totalDocs, tokenizer };
  }

  /** Open an index directory; throws IndexError naming the file and the problem when anything is wrong. */
  static open(dir: string, opts: OpenIndexOptions = {}): CorpusIndex {
    const { manifest, shards, files } = openIndexFiles(dir, opts);
    return new CorpusIndex(dir, manifest, shards, opts.tokenizer, files);
  }

  /** Hash every token and suffix-array file and compare with its header checksum. */
  verify(): void {
    verifyFiles(this.files);
  }

  close(): void {
    for (const s of this.shards) s.close();
  }

  get totalTokens(): number {
    return this.manifest.totalTokens;
  }

  get totalDocs(): number {
    return this.manifest.totalDocs;
  }

  get shardCount(): number {
    return this.shards.length;
  }

  /** Page reads so far (token and SA files together). */
  get pageReads(): number {
    let n = 0;
    for (const s of this.shards) n += s.tok.reads + s.sa.reads;
    return n;
  }

  /** The shard holding global document `docIndex` and its local number there; RangeError when out of range. */
  private docLocation(docIndex: number): { shard: Shard; local: number } {
    if (!Number.isInteger(docIndex) || docIndex < 0 || docIndex >= this.totalDocs) {
      throw new RangeError(`document ${docIndex} is out of range: the index has documents 0..${this.totalDocs - 1}`);
    }
    // shards are in corpus order: the last one whose first document is <= docIndex
    const sh = this.shards;
    let lo = 0;
    let hi = sh.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (sh[mid]!.meta.firstDoc <= docIndex) lo = mid;
      else hi = mid - 1;
    }
    return { shard: sh[lo]!, local: docIndex - sh[lo]!.meta.firstDoc };
  }

  /** Length in tokens of global document `docIndex` (corpus order, across shards). */
  documentLength(docIndex: number): number {
    const { shard, local } = this.docLocation(docIndex);
    return shard.starts[local + 1]! - shard.starts[local]!;
  }

  /** Id of global document `docIndex`. */
  documentId(docIndex: number): string {
    const { shard, local } = this.docLocation(docIndex);
    return shard.ids[local]!;
  }

  /** Tokens [offset, offset + length) of global document `docIndex`; RangeError unless the range lies inside it. */
  documentTokens(docIndex: number, offset: number, length: number): number[] {
    const { shard, local } = this.docLocation(docIndex);
    const n = shard.starts[local + 1]! - shard.starts[local]!;
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > n) {
      throw new RangeError(`tokens [${offset}, ${offset + length}) are out of range: document ${docIndex} has ${n} tokens`);
    }
    return length === 0 ? [] : shard.tokens(shard.starts[local]! + offset, length);
  }

  /** Tokenize a text query (token-id arrays pass through). */
  encode(q: Query): number[] {
    if (typeof q !== 'string') return toTokens(q);
    const tk = this.tokenizer;
    if (!tk?.encode) throw new Error('text queries need the tokenizer: open the index with { tokenizer }');
    return tk.encode(q, { allowedSpecial: 'none' });
  }

  decode(tokens: ArrayLike<number>): string | undefined {
    return queries.decodeTokens(this.view, tokens);
  }

  /** Occurrences and distinct documents containing the query. */
  count(q: Query): CountResult {
    return queries.count(this.view, this.encode(q));
  }

  /** Occurrences only (no document count, so no scan of the matching range). */
  occurrences(q: Query): number {
    return queries.occurrences(this.view, this.encode(q));
  }

  /**
   * Where the query occurs: up to `limit` hits, each with a context snippet of `context` tokens. When the query
   * occurs at most `exhaustive` times (default 1,000,000) the hits are the first ones in corpus order (document,
   * offset); beyond that, scanning every occurrence would cost too much, and the hits are the first `limit` of
   * the first shards in suffix order (sorted), with `ordered: false`.
   */
  locate(q: Query, opts: LocateOptions = {}): LocateResult {
    return queries.locate(this.view, this.encode(q), opts);
  }

  /** Matching statistics: ms[s] = length of the longest prefix of tokens[s..] that occurs in the corpus. */
  matchingStatistics(tokens: ArrayLike<number>): Int32Array {
    return queries.matchingStatistics(this.view, tokens);
  }

  /** For each token position i of the query, the length of the longest span ending at i that occurs in the corpus. */
  longest(q: Query): LongestResult {
    return queries.longest(this.view, this.encode(q));
  }

  /**
   * The maximal spans of the query (at least `minTokens` tokens) that occur verbatim in the corpus, each with its
   * count, document count and the `topDocs` documents holding it most often.
   */
  trace(q: Query, opts: TraceOptions = {}): TraceResult {
    return queries.trace(this.view, this.encode(q), opts);
  }

  /**
   * Counts of each token that follows the query in the corpus (within a document), most frequent first. With
   * `backoff`, drops tokens from the front until the context has at least one continuation (∞-gram).
   */
  next(q: Query, opts: NextOptions = {}): NextResult {
    return queries.next(this.view, this.encode(q), opts);
  }
}

export function openIndex(dir: string, opts: OpenIndexOptions = {}): CorpusIndex {
  return CorpusIndex.open(dir, opts);
}
