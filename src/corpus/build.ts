// Build a corpus index: tokenize the documents into a spool, plan shards at document boundaries, build each
// shard's suffix array (in worker threads, `jobs` at a time), then write the manifest. A build interrupted after
// the spool is complete resumes shard by shard: finished shards are kept.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Tokenizer } from '../tokenizer/types.js';
import type { CorpusDocument } from '../data/corpora.js';
import {
  FileKind,
  HEADER_SIZE,
  INDEX_FORMAT_VERSION,
  MANIFEST_FORMAT,
  MANIFEST_NAME,
  IndexError,
  decodeHeader,
  headerTokenizerId,
  shardFileName,
  tokenWidthFor,
  type IndexManifest,
  type ShardManifest,
} from './format.js';
import { buildShard, readSpool, type ShardResult, type ShardSpec, type SpoolRange } from './shard-build.js';

/** What the index needs to know about the tokenizer (a full Tokenizer, or just its identity for pre-tokenized data). */
export interface TokenizerIdentity {
  readonly id: string;
  readonly vocabSize: number;
  save?(dir: string): void;
}

export interface TokenizedDocument {
  id: string;
  tokens: ArrayLike<number>;
}

export type BuildProgress =
  | { phase: 'tokenize'; docs: number; totalDocs: number | undefined; tokens: number }
  | { phase: 'plan'; shards: number; tokens: number; docs: number; resumed: number }
  | {
      phase: 'shard';
      shard: number;
      shards: number;
      /** read, sort, sort:lms, sort:name, sort:recurse, sort:induce, write, done */
      stage: string;
      /** Rough fraction of this shard's work done at this stage. */
      fraction: number;
      shardTokens: number;
      shardsDone: number;
      /** Tokens in finished shards. */
      tokensDone: number;
      tokens: number;
    }
  | { phase: 'done'; seconds: number };

export interface BuildOptions {
  /** Output directory (created). */
  out: string;
  tokenizer: TokenizerIdentity;
  /** Corpus label recorded in the manifest (and used to recognise a build to resume). */
  corpus?: string;
  /** Largest shard in tokens (a single longer document gets a shard of its own). Default 2^27. */
  maxShardTokens?: number;
  /** Shards built at once, each in a worker thread (1 builds in this thread). Default: min(2, cores). */
  jobs?: number;
  /** Corpora with at least this many tokens are split into at least `jobs` shards. Default 2^22. */
  parallelMinTokens?: number;
  /** Replace an existing index or partial build in `out`. */
  force?: boolean;
  /** Drop documents with no tokens instead of refusing them. */
  skipEmpty?: boolean;
  /** Number of documents, for progress reporting. */
  totalDocs?: number;
  onProgress?: (p: BuildProgress) => void;
}

export interface BuildReport {
  manifest: IndexManifest;
  dir: string;
  seconds: number;
  /** Seconds spent tokenizing and writing the spool. */
  spoolSeconds: number;
  /** Seconds spent building shards (wall clock). */
  shardSeconds: number;
  /** Shards found complete from an earlier, interrupted build. */
  resumedShards: number[];
  shardResults: ShardResult[];
  /** Total bytes of the index files (shards + manifest). */
  indexBytes: number;
}

const SPOOL = '.build';
/** Rough share of a shard's build time done when each stage starts (for progress bars). */
const STAGE_FRACTION: Record<string, number> = { read: 0, sort: 0.02, 'sort:lms': 0.05, 'sort:name': 0.35, 'sort:recurse': 0.45, 'sort:induce': 0.6, write: 0.95, done: 1 };
const STATE = 'state.json';

interface BuildState {
  version: number;
  fingerprint: string;
  buildId: string;
  width: 1 | 2 | 4;
  totalTokens: number;
  totalDocs: number;
  plan: (ShardManifest & { idsByteStart: number; idsByteEnd: number })[];
  done: number[];
}

function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

/** Files a build may leave in its output directory (what --force removes; nothing else is touched). */
function isIndexEntry(name: string): boolean {
  return name === MANIFEST_NAME || name === SPOOL || name === 'tokenizer' || /^shard-\d{5}\.(tokens|sa|docs)(\.tmp)?$/.test(name) || name === `${MANIFEST_NAME}.tmp`;
}

function prepareOutDir(out: string, force: boolean): void {
  if (existsSync(out) && !statSync(out).isDirectory()) throw new IndexError(out, 'exists and is not a directory');
  mkdirSync(out, { recursive: true });
  const entries = readdirSync(out);
  if (force) {
    for (const e of entries) if (isIndexEntry(e)) rmSync(join(out, e), { recursive: true, force: true });
    return;
  }
  if (entries.includes(MANIFEST_NAME)) throw new IndexError(join(out, MANIFEST_NAME), 'an index already exists here; pass force (--force) to rebuild it');
  const foreign = entries.filter((e) => !isIndexEntry(e));
  if (foreign.length > 0) throw new IndexError(out, `directory is not empty (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}); choose an empty or new directory`);
}

class GrowU32 {
  a = new Uint32Array(1024);
  n = 0;
  push(v: number) {
    if (this.n === this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
}

class GrowF64 {
  a = new Float64Array(1024);
  n = 0;
  push(v: number) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
}

/** Buffered sequential writer. */
class SpoolWriter {
  private readonly fd: number;
  private readonly buf: Buffer;
  private used = 0;
  bytes = 0;
  constructor(path: string, size = 1 << 22) {
    this.fd = openSync(path, 'w');
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number) {
    if (this.used + n > this.buf.length) this.flush();
  }
  flush() {
    let done = 0;
    while (done < this.used) done += writeSync(this.fd, this.buf, done, this.used - done);
    this.used = 0;
  }
  writeTokens(tokens: ArrayLike<number>, width: number, vocab: number, docId: string) {
    const cap = Math.floor(this.buf.length / width);
    for (let off = 0; off < tokens.length; off += cap) {
      const end = Math.min(tokens.length, off + cap);
      this.ensure((end - off) * width);
      const b = this.buf;
      let u = this.used;
      for (let i = off; i < end; i++) {
        const t = tokens[i]!;
        if (!(t >= 0 && t < vocab && Number.isInteger(t))) throw new Error(`document ${JSON.stringify(docId)}: token id ${t} at position ${i} is outside the vocabulary (0..${vocab - 1})`);
        if (width === 2) {
          b[u] = t & 0xff;
          b[u + 1] = t >>> 8;
        } else if (width === 1) b[u] = t;
        else b.writeUInt32LE(t, u);
        u += width;
      }
      this.bytes += u - this.used;
      this.used = u;
    }
  }
  writeString(s: string) {
    const n = Buffer.byteLength(s, 'utf8');
    if (n > this.buf.length) {
      this.flush();
      const b = Buffer.from(s, 'utf8');
      let done = 0;
      while (done < b.length) done += writeSync(this.fd, b, done, b.length - done);
      this.bytes += n;
      return;
    }
    this.ensure(n);
    this.buf.write(s, this.used, 'utf8');
    this.used += n;
    this.bytes += n;
  }
  writeU32Array(a: Uint32Array) {
    const b = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    this.flush();
    let done = 0;
    while (done < b.length) done += writeSync(this.fd, b, done, b.length - done);
    this.bytes += b.length;
  }
  close() {
    this.flush();
    closeSync(this.fd);
  }
}

/** Split documents into shards of about equal size, at document boundaries, none over maxShard (unless one document is). */
export function planShards(docLens: Uint32Array, maxShard: number, minShards: number): { docStart: number; docCount: number; tokenStart: number; tokenCount: number }[] {
  const D = docLens.length;
  let remaining = 0;
  for (let d = 0; d < D; d++) remaining += docLens[d]!;
  const out: { docStart: number; docCount: number; tokenStart: number; tokenCount: number }[] = [];
  const shardsLeft = () => Math.max(1, Math.ceil(remaining / maxShard), minShards - out.length);
  let target = remaining / shardsLeft();
  let start = 0;
  let cur = 0;
  let cum = 0;
  for (let d = 0; d < D; d++) {
    const len = docLens[d]!;
    if (cur > 0 && (cur + len > maxShard || (shardsLeft() > 1 && cur + len / 2 > target))) {
      out.push({ docStart: start, docCount: d - start, tokenStart: cum - cur, tokenCount: cur });
      remaining -= cur;
      target = remaining / shardsLeft();
      start = d;
      cur = 0;
    }
    cur += len;
    cum += len;
  }
  out.push({ docStart: start, docCount: D - start, tokenStart: cum - cur, tokenCount: cur });
  return out;
}

function workerFor(data: unknown): Worker {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    // Running from TypeScript sources (tsx): register tsx inside the worker before loading the .ts entry.
    const api = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./shard-worker.ts', self).href;
    const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(boot, { eval: true, workerData: data });
  }
  return new Worker(new URL('./shard-worker.js', self), { workerData: data });
}

function runShardInWorker(spec: ShardSpec, range: SpoolRange, onStage: (s: string) => void): Promise<ShardResult> {
  return new Promise((resolvePromise, reject) => {
    const w = workerFor({ spec, range });
    let settled = false;
    w.on('message', (m: { type: string; stage?: string; result?: ShardResult; message?: string }) => {
      if (m.type === 'stage') onStage(m.stage!);
      else if (m.type === 'done') {
        settled = true;
        resolvePromise(m.result!);
      } else if (m.type === 'error') {
        settled = true;
        reject(new Error(m.message));
      }
    });
    w.on('error', (err) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
    w.on('exit', (code) => {
      if (!settled) {
        settled = true;
        reject(new Error(`shard ${spec.shard}: worker exited with code ${code}`));
      }
    });
  });
}

/** True when the three files of a finished shard are present with matching headers and sizes. */
function shardComplete(out: string, s: ShardManifest, buildId: string): boolean {
  for (const kind of [FileKind.Tokens, FileKind.SuffixArray, FileKind.Docs]) {
    const p = join(out, shardFileName(s.index, kind));
    if (!existsSync(p)) return false;
    try {
      const fd = openSync(p, 'r');
      const b = Buffer.alloc(HEADER_SIZE);
      try {
        readSync(fd, b, 0, HEADER_SIZE, 0);
      } finally {
        closeSync(fd);
      }
      const h = decodeHeader(b, p);
      if (h.buildId !== buildId || h.shard !== s.index || h.tokenCount !== s.tokens || h.docCount !== s.docs) return false;
      if (statSync(p).size !== HEADER_SIZE + h.payloadBytes) return false;
    } catch {
      return false;
    }
  }
  return true;
}

function fingerprintOf(opts: BuildOptions, maxShard: number): string {
  return JSON.stringify({ v: INDEX_FORMAT_VERSION, corpus: opts.corpus ?? null, tok: opts.tokenizer.id, vocab: opts.tokenizer.vocabSize, maxShard });
}

function dirBytes(out: string): number {
  let n = 0;
  for (const e of readdirSync(out)) {
    if (e === MANIFEST_NAME || /^shard-\d{5}\.(tokens|sa|docs)$/.test(e)) n += statSync(join(out, e)).size;
  }
  return n;
}

/**
 * Build an index over pre-tokenized documents. Documents must have at least one token (or pass skipEmpty) and
 * ids below the tokenizer's vocabulary size.
 */
export async function buildIndex(docs: Iterable<TokenizedDocument> | AsyncIterable<TokenizedDocument>, opts: BuildOptions): Promise<BuildReport> {
  const t0 = performance.now();
  const out = opts.out;
  const maxShard = opts.maxShardTokens ?? 1 << 27;
  if (!(maxShard >= 1 && maxShard <= 2 ** 30)) throw new Error(`maxShardTokens must be between 1 and 2^30, got ${maxShard}`);
  const jobs = Math.max(1, opts.jobs ?? Math.min(2, availableParallelism()));
  const parallelMin = opts.parallelMinTokens ?? 1 << 22;
  const V = opts.tokenizer.vocabSize;
  if (!Number.isInteger(V) || V < 1 || V > 0xfffffffe) throw new Error(`tokenizer ${opts.tokenizer.id}: invalid vocabulary size ${V}`);
  const width = tokenWidthFor(V);
  const spoolDir = join(out, SPOOL);
  const stateFile = join(spoolDir, STATE);
  const fingerprint = fingerprintOf(opts, maxShard);
  const progress = opts.onProgress ?? (() => {});

  // Resume a build whose spool is complete, if it is the same build.
  let state: BuildState | undefined;
  if (!opts.force && existsSync(stateFile) && !existsSync(join(out, MANIFEST_NAME))) {
    let st: BuildState | undefined;
    try {
      st = JSON.parse(readFileSync(stateFile, 'utf8')) as BuildState;
    } catch {
      st = undefined; // unreadable state: start over
    }
    if (st && st.fingerprint !== fingerprint) {
      throw new IndexError(stateFile, 'a partial build of a different corpus, tokenizer or shard size is here; pass force (--force) to start over');
    }
    state = st;
  }
  let spoolSeconds = 0;
  if (!state) {
    prepareOutDir(out, opts.force ?? false);
    rmSync(spoolDir, { recursive: true, force: true });
    mkdirSync(spoolDir, { recursive: true });
    const ts = performance.now();
    const tokW = new SpoolWriter(join(spoolDir, 'tokens.bin'));
    const idsW = new SpoolWriter(join(spoolDir, 'ids.jsonl'), 1 << 20);
    const lens = new GrowU32();
    const idOffsets = new GrowF64();
    let total = 0;
    let lastReport = 0;
    let skipped = 0;
    let ok = false;
    try {
      for await (const doc of docs) {
        const n = doc.tokens.length;
        if (n === 0) {
          if (opts.skipEmpty) {
            skipped++;
            continue;
          }
          throw new Error(`document ${JSON.stringify(doc.id)} has no tokens (an empty document); pass skipEmpty (--skip-empty) to drop empty documents`);
        }
        if (n > 0x7ffffff0) throw new Error(`document ${JSON.stringify(doc.id)} has ${n} tokens, more than one shard can hold (2^31)`);
        tokW.writeTokens(doc.tokens, width, V, doc.id);
        idOffsets.push(idsW.bytes);
        idsW.writeString(`${JSON.stringify(String(doc.id))}\n`);
        lens.push(n);
        total += n;
        const now = performance.now();
        if (now - lastReport > 100) {
          lastReport = now;
          progress({ phase: 'tokenize', docs: lens.n, totalDocs: opts.totalDocs, tokens: total });
        }
      }
      ok = true;
    } finally {
      tokW.close();
      idsW.close();
      // A spool that did not finish is useless (only finished spools are resumed): do not leave it behind.
      if (!ok) rmSync(spoolDir, { recursive: true, force: true });
    }
    idOffsets.push(idsW.bytes);
    if (lens.n === 0) {
      rmSync(spoolDir, { recursive: true, force: true });
      throw new Error(`empty corpus: no documents${skipped ? ` (${skipped} empty document(s) skipped)` : ''}`);
    }
    progress({ phase: 'tokenize', docs: lens.n, totalDocs: opts.totalDocs, tokens: total });
    const docLens = lens.a.subarray(0, lens.n);
    const lw = new SpoolWriter(join(spoolDir, 'doclens.bin'));
    lw.writeU32Array(docLens);
    lw.close();
    const minShards = jobs > 1 && total >= parallelMin ? jobs : 1;
    const raw = planShards(docLens, maxShard, minShards);
    const plan = raw.map((r, i) => ({
      index: i,
      firstDoc: r.docStart,
      docs: r.docCount,
      tokens: r.tokenCount,
      firstToken: r.tokenStart,
      idsByteStart: idOffsets.a[r.docStart]!,
      idsByteEnd: idOffsets.a[r.docStart + r.docCount]!,
    }));
    state = { version: INDEX_FORMAT_VERSION, fingerprint, buildId: randomBytes(16).toString('hex'), width, totalTokens: total, totalDocs: lens.n, plan, done: [] };
    writeJsonAtomic(stateFile, state);
    spoolSeconds = (performance.now() - ts) / 1000;
  }
  const st = state;
  const resumed = st.plan.filter((s) => st.done.includes(s.index) && shardComplete(out, s, st.buildId)).map((s) => s.index);
  st.done = resumed.slice();
  progress({ phase: 'plan', shards: st.plan.length, tokens: st.totalTokens, docs: st.totalDocs, resumed: resumed.length });

  // Build the remaining shards, `jobs` at a time.
  const tShards = performance.now();
  const todo = st.plan.filter((s) => !st.done.includes(s.index));
  const results: ShardResult[] = [];
  let tokensDone = st.plan.filter((s) => st.done.includes(s.index)).reduce((a, s) => a + s.tokens, 0);
  const tokenizerId = headerTokenizerId(opts.tokenizer.id);
  const runOne = async (s: (typeof st.plan)[number]) => {
    const spec: ShardSpec = { outDir: out, shard: s.index, buildId: st.buildId, tokenizerId, vocabSize: V, width: st.width };
    const range: SpoolRange = {
      spoolDir,
      tokenStart: s.firstToken,
      tokenCount: s.tokens,
      docStart: s.firstDoc,
      docCount: s.docs,
      idsByteStart: s.idsByteStart,
      idsByteEnd: s.idsByteEnd,
    };
    const onStage = (stage: string) =>
      progress({
        phase: 'shard',
        shard: s.index,
        shards: st.plan.length,
        stage,
        fraction: STAGE_FRACTION[stage] ?? 0,
        shardTokens: s.tokens,
        shardsDone: st.done.length,
        tokensDone,
        tokens: st.totalTokens,
      });
    onStage('read');
    let r: ShardResult;
    if (jobs === 1 || todo.length === 1) {
      const { tokens, docLens, ids } = readSpool(range, st.width);
      r = buildShard(spec, tokens, docLens, ids, onStage);
    } else {
      r = await runShardInWorker(spec, range, onStage);
    }
    results.push(r);
    st.done.push(s.index);
    tokensDone += s.tokens;
    writeJsonAtomic(stateFile, st);
    onStage('done');
  };
  const queue = todo.slice();
  const lanes = Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let s = queue.shift(); s; s = queue.shift()) await runOne(s);
  });
  await Promise.all(lanes);
  const shardSeconds = (performance.now() - tShards) / 1000;

  // Tokenizer files, manifest, then drop the spool.
  if (opts.tokenizer.save) {
    const tdir = join(out, 'tokenizer');
    mkdirSync(tdir, { recursive: true });
    opts.tokenizer.save(tdir);
  }
  const manifest: IndexManifest = {
    format: MANIFEST_FORMAT,
    version: INDEX_FORMAT_VERSION,
    buildId: st.buildId,
    tokenizer: { id: opts.tokenizer.id, vocabSize: V },
    tokenWidth: st.width,
    corpus: opts.corpus ?? '',
    totalTokens: st.totalTokens,
    totalDocs: st.totalDocs,
    shards: st.plan.map(({ index, firstDoc, docs, tokens, firstToken }) => ({ index, firstDoc, docs, tokens, firstToken })),
    created: new Date().toISOString(),
  };
  writeJsonAtomic(join(out, MANIFEST_NAME), manifest);
  rmSync(spoolDir, { recursive: true, force: true });
  const seconds = (performance.now() - t0) / 1000;
  progress({ phase: 'done', seconds });
  return { manifest, dir: out, seconds, spoolSeconds, shardSeconds, resumedShards: resumed, shardResults: results.sort((a, b) => a.shard - b.shard), indexBytes: dirBytes(out) };
}

/** Tokenize a corpus (documents in order) with `tokenizer` and build its index. */
export async function buildCorpusIndex(
  corpus: Iterable<CorpusDocument> & { total?: number | undefined; spec?: string },
  tokenizer: Tokenizer,
  opts: Omit<BuildOptions, 'tokenizer'> & { tokenizer?: TokenizerIdentity },
): Promise<BuildReport> {
  function* tokenized(): Generator<TokenizedDocument> {
    for (const d of corpus) yield { id: d.id, tokens: tokenizer.encode(d.text, { allowedSpecial: 'none' }) };
  }
  return buildIndex(tokenized(), { corpus: corpus.spec, totalDocs: corpus.total, ...opts, tokenizer: opts.tokenizer ?? tokenizer });
}
