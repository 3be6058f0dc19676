// Opening a corpus index directory and checking it before any query runs: the manifest (format, version, tokenizer,
// shard entries), then every shard file's header against the manifest, its size, and the checksums (document tables
// always; token and suffix-array files when verification is 'full'). Every problem is an IndexError naming the file
// and what was expected versus found. The checked files become Shards (shard.ts).
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
} from './format.js';
import { PagedFile } from './paged-file.js';
import { Shard } from './shard.js';

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

/** A token or suffix-array file whose payload checksum `verifyFiles` checks. */
export interface IndexFile {
  path: string;
  base: number;
  length: number;
  checksum: string;
}

/** What `openIndexFiles` found and checked. */
export interface OpenedIndex {
  manifest: IndexManifest;
  shards: Shard[];
  files: IndexFile[];
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

/** Open and check an index directory; throws IndexError naming the file and the problem when anything is wrong. */
export function openIndexFiles(dir: string, opts: OpenIndexOptions = {}): OpenedIndex {
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
  const files: IndexFile[] = [];
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
    for (const s of shards) s.close();
    throw err;
  }
  return { manifest, shards, files };
}

/** Hash every token and suffix-array file and compare with its header checksum. */
export function verifyFiles(files: readonly IndexFile[]): void {
  for (const f of files) {
    if (hashFile(f.path, f.base, f.length) !== f.checksum) throw new IndexError(f.path, 'corrupted: checksum mismatch');
  }
}
