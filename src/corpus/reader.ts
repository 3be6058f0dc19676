// Query a corpus index: exact counts with document counts (k-eidetic), locate, longest matches (infini-gram suffix
// lengths), trace (maximal verbatim spans) and next-token counts (∞-gram). Files are read by offset through a page
// cache; only the document tables are held in memory.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from '../tokenizer/types.js';
import {
  FileKind,
  FILE_KIND_NAMES,
  HEADER_SIZE,
  INDEX_FORMAT_VERSION,
  IndexError,
  MANIFEST_FORMAT,
  MANIFEST_NAME,
  decodeHeader,
  docsLayout,
  headerTokenizerId,
  shardFileName,
  type FileHeader,
  type IndexManifest,
  type ShardManifest,
} from './format.js';
import { PagedFile, type ElemArray } from './paged-file.js';

export interface TokenizerLike {
  readonly id: string;
  readonly vocabSize: number;
  encode?: Tokenizer['encode'];
  decode?: Tokenizer['decode'];
}

export interface OpenIndexOptions {
  /**
   * The tokenizer to query with. It must be the one the index was built with (same id and vocabulary size);
   * text queries need it (token-id queries do not).
   */
  tokenizer?: TokenizerLike;
  /**
   * Checksum verification at open: 'quick' checks headers, sizes and the document tables; 'full' also hashes the
   * token and suffix-array files; 'auto' (default) does 'full' when those files total at most 256 MiB (larger indexes: `verify()`).
   */
  verify?: 'auto' | 'full' | 'quick';
  /** Page-cache budget for the whole index, in bytes (default 64 MiB). */
  cacheBytes?: number;
  /** Page size in bytes of the suffix-array files (default 4096); token pages are a quarter of it (at least 64). */
  pageSize?: number;
  /** Read the token and suffix-array files into memory instead of reading by offset. */
  preload?: boolean;
}

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

const SCAN_CHUNK = 1 << 16;
const BLOCK_SHIFT = 10;

class Shard {
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
}

function readHeader(path: string): { h: FileHeader; size: number } {
  const size = statSync(path).size;
  if (size < HEADER_SIZE) throw new IndexError(path, `truncated: ${size} bytes, shorter than the ${HEADER_SIZE}-byte header`);
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(HEADER_SIZE);
    readSync(fd, b, 0, HEADER_SIZE, 0);
    return { h: decodeHeader(b, path), size };
  } finally {
    closeSync(fd);
  }
}

function hashFile(path: string, base: number, len: number): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 23);
    let off = 0;
    while (off < len) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, len - off), base + off);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

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
  private readonly files: { path: string; base: number; length: number; checksum: string }[] = [];

  private constructor(dir: string, manifest: IndexManifest, shards: Shard[], tokenizer: TokenizerLike | undefined, files: CorpusIndex['files']) {
    this.dir = dir;
    this.manifest = manifest;
    this.shards = shards;
    this.tokenizer = tokenizer;
    this.files = files;
  }

  /** Open an index directory; throws IndexError naming the file and the problem when anything is wrong. */
  static open(dir: string, opts: OpenIndexOptions = {}): CorpusIndex {
    const mpath = join(dir, MANIFEST_NAME);
    if (!existsSync(dir)) throw new IndexError(dir, 'no such index directory');
    if (!existsSync(mpath)) {
      if (existsSync(join(dir, '.build'))) {
        throw new IndexError(mpath, 'missing: the index build did not finish (rerun the same `tessera corpus index` command to resume it)');
      }
      throw new IndexError(mpath, 'missing: not a tessera corpus index directory');
    }
    let manifest: IndexManifest;
    try {
      manifest = JSON.parse(readFileSync(mpath, 'utf8')) as IndexManifest;
    } catch (err) {
      throw new IndexError(mpath, `unreadable manifest (${(err as Error).message})`);
    }
    if (manifest.format !== MANIFEST_FORMAT) throw new IndexError(mpath, 'not a tessera corpus index manifest');
    if (manifest.version !== INDEX_FORMAT_VERSION) throw new IndexError(mpath, `unsupported index format version ${manifest.version} (this tessera reads version ${INDEX_FORMAT_VERSION}); rebuild the index`);
    if (!Array.isArray(manifest.shards) || manifest.shards.length === 0 || !manifest.tokenizer) throw new IndexError(mpath, 'corrupted manifest (no shards or no tokenizer)');
    const tk = opts.tokenizer;
    if (tk && (tk.id !== manifest.tokenizer.id || tk.vocabSize !== manifest.tokenizer.vocabSize)) {
      throw new IndexError(
        mpath,
        `the index was built with tokenizer ${JSON.stringify(manifest.tokenizer.id)} (vocabulary ${manifest.tokenizer.vocabSize}) but is queried with ${JSON.stringify(tk.id)} (vocabulary ${tk.vocabSize}); use the tokenizer it was built with`,
      );
    }
    const V = manifest.tokenizer.vocabSize;
    const width = manifest.tokenWidth;
    if (width !== 1 && width !== 2 && width !== 4) throw new IndexError(mpath, `corrupted manifest (token width ${width})`);
    const tid = headerTokenizerId(manifest.tokenizer.id);
    let bigBytes = 0;
    for (const s of manifest.shards) bigBytes += s.tokens * (width + 4);
    const full = opts.verify === 'full' || ((opts.verify ?? 'auto') === 'auto' && bigBytes <= 256 << 20);
    const nFiles = manifest.shards.length * 2;
    const cacheBytes = opts.cacheBytes ?? 64 << 20;
    const perFile = Math.max(1 << 16, Math.floor(cacheBytes / nFiles));
    const shards: Shard[] = [];
    const files: CorpusIndex['files'] = [];
    let expectFirstDoc = 0;
    let expectFirstToken = 0;
    try {
      for (let si = 0; si < manifest.shards.length; si++) {
        const meta = manifest.shards[si]!;
        if (meta.index !== si || meta.firstDoc !== expectFirstDoc || meta.firstToken !== expectFirstToken || !(meta.tokens > 0) || !(meta.docs > 0)) {
          throw new IndexError(mpath, `corrupted manifest (shard ${si} entry is inconsistent)`);
        }
        expectFirstDoc += meta.docs;
        expectFirstToken += meta.tokens;
        const check = (kind: FileKind, elemWidth: number, payload: number | undefined) => {
          const path = join(dir, shardFileName(si, kind));
          if (!existsSync(path)) throw new IndexError(path, `missing (${FILE_KIND_NAMES[kind]} file of shard ${si} of ${manifest.shards.length})`);
          const { h, size } = readHeader(path);
          if (h.kind !== kind) throw new IndexError(path, `holds a ${FILE_KIND_NAMES[h.kind] ?? `kind-${h.kind}`} payload, expected ${FILE_KIND_NAMES[kind]}`);
          if (h.shard !== si) throw new IndexError(path, `belongs to shard ${h.shard}, expected shard ${si}`);
          if (h.buildId !== manifest.buildId) throw new IndexError(path, 'belongs to a different build of the index (build id mismatch); rebuild the index');
          if (h.tokenizerId !== tid) throw new IndexError(path, `was built with tokenizer ${JSON.stringify(h.tokenizerId)}, but the manifest says ${JSON.stringify(manifest.tokenizer.id)}`);
          if (h.vocabSize !== V || h.width !== elemWidth) throw new IndexError(path, 'header does not match the manifest (vocabulary size or element width)');
          if (h.tokenCount !== meta.tokens || h.docCount !== meta.docs) {
            throw new IndexError(path, `header says ${h.tokenCount} tokens in ${h.docCount} documents, the manifest ${meta.tokens} in ${meta.docs}`);
          }
          if (payload !== undefined && h.payloadBytes !== payload) throw new IndexError(path, `header payload length ${h.payloadBytes} does not match ${payload} expected`);
          const want = HEADER_SIZE + h.payloadBytes;
          if (size < want) throw new IndexError(path, `truncated: ${size} bytes, expected ${want}`);
          if (size > want) throw new IndexError(path, `${size - want} unexpected trailing bytes (expected ${want} bytes)`);
          return { path, h };
        };
        const ft = check(FileKind.Tokens, width, meta.tokens * width);
        const fs = check(FileKind.SuffixArray, 4, meta.tokens * 4);
        const fd = check(FileKind.Docs, 4, undefined);
        // The document table is small: read it whole and always verify its checksum.
        const docsAll = readFileSync(fd.path);
        const docsPayload = docsAll.subarray(HEADER_SIZE);
        if (createHash('sha256').update(docsPayload).digest('hex') !== fd.h.checksum) throw new IndexError(fd.path, 'corrupted: checksum mismatch');
        const lay = docsLayout(meta.docs, V);
        if (docsPayload.length < lay.ids + 4) throw new IndexError(fd.path, 'corrupted: document table shorter than its layout');
        for (const f of [ft, fs]) {
          files.push({ path: f.path, base: HEADER_SIZE, length: f.h.payloadBytes, checksum: f.h.checksum });
          if (full && hashFile(f.path, HEADER_SIZE, f.h.payloadBytes) !== f.h.checksum) throw new IndexError(f.path, 'corrupted: checksum mismatch');
        }
        // Token reads land on random positions (small pages make each read cheaper); SA reads cluster (bigger pages).
        const saPage = opts.pageSize ?? 4096;
        const tokPage = Math.max(64, saPage >> 2);
        const shard = new Shard(
          meta,
          new PagedFile(ft.path, HEADER_SIZE, meta.tokens, width as 1 | 2 | 4, { pageSize: tokPage, cacheBytes: perFile, preload: opts.preload }),
          new PagedFile(fs.path, HEADER_SIZE, meta.tokens, 4, { pageSize: saPage, cacheBytes: perFile, preload: opts.preload }),
          docsPayload,
          V,
        );
        shards.push(shard);
        const st = shard.starts;
        let ok = st[0] === 0 && st[meta.docs] === meta.tokens && shard.buckets[0] === 0 && shard.buckets[V] === meta.tokens;
        for (let d = 0; ok && d < meta.docs; d++) if (!(st[d]! < st[d + 1]!)) ok = false;
        if (!ok) throw new IndexError(fd.path, 'corrupted: inconsistent document offsets or token buckets');
      }
      if (expectFirstDoc !== manifest.totalDocs || expectFirstToken !== manifest.totalTokens) throw new IndexError(mpath, 'corrupted manifest (shard totals do not add up)');
    } catch (err) {
      for (const s of shards) {
        s.tok.close();
        s.sa.close();
      }
      throw err;
    }
    return new CorpusIndex(dir, manifest, shards, tk, files);
  }

  /** Hash every token and suffix-array file and compare with its header checksum. */
  verify(): void {
    for (const f of this.files) {
      if (hashFile(f.path, f.base, f.length) !== f.checksum) throw new IndexError(f.path, 'corrupted: checksum mismatch');
    }
  }

  close(): void {
    for (const s of this.shards) {
      s.tok.close();
      s.sa.close();
    }
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

  /** Tokenize a text query (token-id arrays pass through). */
  encode(q: Query): number[] {
    if (typeof q !== 'string') return toTokens(q);
    const tk = this.tokenizer;
    if (!tk?.encode) throw new Error('text queries need the tokenizer: open the index with { tokenizer }');
    return tk.encode(q, { allowedSpecial: 'none' });
  }

  decode(tokens: ArrayLike<number>): string | undefined {
    return this.tokenizer?.decode ? this.tokenizer.decode(tokens) : undefined;
  }

  private docIdOf(shard: Shard, d: number): string {
    return shard.ids[d]!;
  }

  /** Occurrences and distinct documents containing the query. */
  count(q: Query): CountResult {
    const P = this.encode(q);
    if (P.length === 0) return { count: this.totalTokens, docs: this.totalDocs };
    let count = 0;
    let docs = 0;
    for (const s of this.shards) {
      const [lo, hi] = s.range(P, 0, P.length);
      count += hi - lo;
      if (hi > lo) docs += P.length === 1 ? s.docFreq[P[0]!]! : s.docsInRange(lo, hi);
    }
    return { count, docs };
  }

  /** Occurrences only (no document count, so no scan of the matching range). */
  occurrences(q: Query): number {
    const P = this.encode(q);
    if (P.length === 0) return this.totalTokens;
    let count = 0;
    for (const s of this.shards) {
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
  locate(q: Query, opts: { limit?: number; context?: number; exhaustive?: number } = {}): LocateResult {
    const P = this.encode(q);
    const limit = Math.max(0, opts.limit ?? 10);
    const context = Math.max(0, opts.context ?? 16);
    const exhaustive = opts.exhaustive ?? 1_000_000;
    let count = 0;
    let docs = 0;
    const ranges = this.shards.map((s) => {
      const r = P.length === 0 ? ([0, s.n] as [number, number]) : s.range(P, 0, P.length);
      count += r[1] - r[0];
      if (r[1] > r[0]) docs += P.length === 0 ? s.D : P.length === 1 ? s.docFreq[P[0]!]! : s.docsInRange(r[0], r[1]);
      return r;
    });
    const ordered = P.length === 0 || count <= exhaustive;
    const found: { shard: Shard; pos: number }[] = [];
    // Shards hold consecutive documents, so once `limit` hits are found no later shard can have earlier ones.
    for (let si = 0; si < this.shards.length && found.length < limit; si++) {
      const s = this.shards[si]!;
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
      const hit: Hit = { doc: this.docIdOf(shard, d), docIndex: shard.meta.firstDoc + d, offset: pos - start };
      if (this.tokenizer?.decode) {
        const b0 = Math.max(start, pos - context);
        const m1 = pos + P.length;
        const a1 = Math.min(end, m1 + context);
        // Context cut inside a multi-byte character decodes to U+FFFD at the outer edges: drop those.
        hit.snippet = {
          before: this.tokenizer.decode(shard.tokens(b0, pos - b0)).replace(/^\uFFFD+/, ''),
          match: this.tokenizer.decode(shard.tokens(pos, P.length)),
          after: this.tokenizer.decode(shard.tokens(m1, a1 - m1)).replace(/\uFFFD+$/, ''),
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
  matchingStatistics(tokens: ArrayLike<number>): Int32Array {
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
      for (const sh of this.shards) {
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
  private sweep(P: number[], onMaximal?: (start: number, end: number, lo: Float64Array, hi: Float64Array) => void): number[] {
    const S = this.shards.length;
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
        const [x, y] = this.shards[k]!.range(P, from, to);
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
        const sh = this.shards[k]!;
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
  longest(q: Query): LongestResult {
    const P = this.encode(q);
    return { tokens: P, lengths: this.sweep(P) };
  }

  /**
   * The maximal spans of the query (at least `minTokens` tokens) that occur verbatim in the corpus, each with its
   * count, document count and the `topDocs` documents holding it most often.
   */
  trace(q: Query, opts: { minTokens?: number; topDocs?: number } = {}): TraceResult {
    const P = this.encode(q);
    const minTokens = Math.max(1, opts.minTokens ?? 8);
    const top = Math.max(0, opts.topDocs ?? 5);
    const spans: TraceSpan[] = [];
    this.sweep(P, (start, end, lo, hi) => {
      if (end - start < minTokens) return;
      const per: { sh: Shard; d: number; docIndex: number; count: number; offset: number }[] = [];
      let count = 0;
      let docs = 0;
      this.shards.forEach((sh, k) => {
        const a = lo[k]!;
        const b = hi[k]!;
        if (b <= a) return;
        count += b - a;
        const pd = sh.perDocument(a, b);
        docs += pd.length;
        for (const x of pd) per.push({ sh, d: x.d, docIndex: sh.meta.firstDoc + x.d, count: x.count, offset: x.first });
      });
      per.sort((x, y) => y.count - x.count || x.docIndex - y.docIndex);
      const topDocs: DocCount[] = per.slice(0, top).map((x) => ({ doc: this.docIdOf(x.sh, x.d), docIndex: x.docIndex, count: x.count, offset: x.offset }));
      const span: TraceSpan = { start, end, length: end - start, count, docs, topDocs };
      const text = this.decode(P.slice(start, end));
      if (text !== undefined) span.text = text;
      spans.push(span);
    });
    return { tokens: P.length, minTokens, spans };
  }

  /**
   * Counts of each token that follows the query in the corpus (within a document), most frequent first. With
   * `backoff`, drops tokens from the front until the context has at least one continuation (∞-gram).
   */
  next(q: Query, opts: { limit?: number; backoff?: boolean } = {}): NextResult {
    const P = this.encode(q);
    const limit = opts.limit ?? Infinity;
    for (let drop = 0; drop <= P.length; drop++) {
      const counts = new Map<number, number>();
      let count = 0;
      let continued = 0;
      const m = P.length - drop;
      for (const sh of this.shards) {
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
            const text = this.decode([token]);
            if (text !== undefined) nt.text = text;
            return nt;
          });
        return { count, continued, contextTokens: m, backoff: drop, next };
      }
    }
    /* c8 ignore next */
    throw new Error('unreachable');
  }
}

export function openIndex(dir: string, opts: OpenIndexOptions = {}): CorpusIndex {
  return CorpusIndex.open(dir, opts);
}
