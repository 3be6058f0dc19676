// Build one shard of a corpus index: suffix array (SA-IS) over the shard's tokens with document boundaries as
// separators, the document table, and the three shard files.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { sais } from './sais.js';
import { FileKind, INDEX_FORMAT_VERSION, docsLayout, encodeHeader, shardFileName } from './format.js';

export type TokenArray = Uint8Array | Uint16Array | Uint32Array;

export interface ShardSpec {
  outDir: string;
  shard: number;
  buildId: string;
  tokenizerId: string;
  vocabSize: number;
  width: 1 | 2 | 4;
}

/** Where a shard's input lies in the build spool (.build/ in the output directory). */
export interface SpoolRange {
  spoolDir: string;
  tokenStart: number;
  tokenCount: number;
  docStart: number;
  docCount: number;
  idsByteStart: number;
  idsByteEnd: number;
}

export interface ShardResult {
  shard: number;
  tokens: number;
  docs: number;
  seconds: number;
  saSeconds: number;
}

if (endianness() !== 'LE') {
  // The files are little-endian and typed arrays are written as they are in memory.
  throw new Error('the corpus index needs a little-endian machine');
}

function readExact(fd: number, buf: Uint8Array, pos: number, file: string): void {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, pos + done);
    if (n === 0) throw new Error(`${file}: unexpected end of file (the build spool is truncated; rebuild with --force)`);
    done += n;
  }
}

/** Read a shard's tokens, document lengths and ids from the spool. */
export function readSpool(r: SpoolRange, width: 1 | 2 | 4): { tokens: TokenArray; docLens: Uint32Array; ids: string[] } {
  const tokFile = join(r.spoolDir, 'tokens.bin');
  const lenFile = join(r.spoolDir, 'doclens.bin');
  const idsFile = join(r.spoolDir, 'ids.jsonl');
  const tb = new Uint8Array(new ArrayBuffer(r.tokenCount * width));
  let fd = openSync(tokFile, 'r');
  try {
    readExact(fd, tb, r.tokenStart * width, tokFile);
  } finally {
    closeSync(fd);
  }
  const tokens: TokenArray = width === 1 ? tb : width === 2 ? new Uint16Array(tb.buffer) : new Uint32Array(tb.buffer);
  const lb = new Uint8Array(new ArrayBuffer(r.docCount * 4));
  fd = openSync(lenFile, 'r');
  try {
    readExact(fd, lb, r.docStart * 4, lenFile);
  } finally {
    closeSync(fd);
  }
  const docLens = new Uint32Array(lb.buffer);
  const ib = Buffer.alloc(r.idsByteEnd - r.idsByteStart);
  fd = openSync(idsFile, 'r');
  try {
    readExact(fd, ib, r.idsByteStart, idsFile);
  } finally {
    closeSync(fd);
  }
  const lines = ib.toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length !== r.docCount) throw new Error(`${idsFile}: expected ${r.docCount} ids for this shard, found ${lines.length}`);
  const ids = lines.map((l) => JSON.parse(l) as string);
  return { tokens, docLens, ids };
}

/** Write a file as header + payload chunks to `path.tmp`, fsync, and rename into place. */
function writeShardFile(path: string, header: (checksum: string) => Buffer, chunks: Uint8Array[]): void {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  const checksum = h.digest('hex');
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const hb = header(checksum);
    writeSync(fd, hb, 0, hb.length, 0);
    let pos = hb.length;
    for (const c of chunks) {
      // Write big arrays in 64 MiB pieces (writeSync has a 2 GiB limit and large writes stall progress).
      for (let off = 0; off < c.length; off += 1 << 26) {
        const n = Math.min(1 << 26, c.length - off);
        let done = 0;
        while (done < n) done += writeSync(fd, c, off + done, n - done, pos + done);
        pos += n;
      }
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Build the shard files from its tokens (documents concatenated) and document lengths.
 * The suffix array sorts every token position by the tokens that follow it *within its document*: the string
 * sorted is doc0 · $ · doc1 · $ · … · # with token t mapped to t+2, $ = 1 and # = 0, so a suffix that reaches its
 * document's end sorts before every suffix that continues with a token. The separator and sentinel suffixes come
 * first in that order and are dropped, leaving one entry per token.
 */
export function buildShard(
  spec: ShardSpec,
  tokens: TokenArray,
  docLens: Uint32Array,
  ids: string[],
  onStage?: (stage: string) => void,
): ShardResult {
  const t0 = performance.now();
  const N = tokens.length;
  const D = docLens.length;
  const V = spec.vocabSize;
  if (D === 0 || N === 0) throw new Error(`shard ${spec.shard}: no tokens`);
  if (ids.length !== D) throw new Error(`shard ${spec.shard}: ${ids.length} ids for ${D} documents`);
  const n = N + D + 1;
  if (n > 0x7fffffff) throw new Error(`shard ${spec.shard}: ${N} tokens + ${D} documents exceed the 2^31 positions one shard can hold; use a smaller shard size`);
  // Document starts (local token offsets).
  const starts = new Uint32Array(D + 1);
  {
    let acc = 0;
    for (let d = 0; d < D; d++) {
      starts[d] = acc;
      acc += docLens[d]!;
    }
    starts[D] = acc;
    if (acc !== N) throw new Error(`shard ${spec.shard}: document lengths add up to ${acc}, not ${N} tokens`);
  }
  // The string to sort.
  onStage?.('sort');
  const s = new Int32Array(n);
  {
    let o = 0;
    for (let d = 0; d < D; d++) {
      const a = starts[d]!;
      const b = starts[d + 1]!;
      for (let i = a; i < b; i++) {
        const tk = tokens[i]!;
        if (tk >= V) throw new Error(`shard ${spec.shard}: token id ${tk} in document ${JSON.stringify(ids[d])} is outside the vocabulary (0..${V - 1})`);
        s[o++] = tk + 2;
      }
      s[o++] = 1;
    }
    s[o] = 0;
  }
  const ts = performance.now();
  const SA = sais(s, V + 1, undefined, (phase) => onStage?.(`sort:${phase}`));
  const saSeconds = (performance.now() - ts) / 1000;
  // Map positions in s to token offsets (s is free now): position p of document d is p - d.
  for (let d = 0; d < D; d++) {
    const a = starts[d]! + d;
    const b = starts[d + 1]! + d;
    for (let p = a; p < b; p++) s[p] = p - d;
  }
  // Entries 0..D are the sentinel and the D separators; check, then compact the token suffixes to SA[0..N).
  if (SA[0] !== n - 1) throw new Error(`shard ${spec.shard}: internal error: suffix array does not start with the sentinel`);
  for (let i = 0; i < N; i++) SA[i] = s[SA[i + D + 1]!]!;
  const sa = SA.subarray(0, N);
  // First-token buckets (SA range of each token id) and document frequency of each token.
  const buckets = new Uint32Array(V + 1);
  const docFreq = new Uint32Array(V);
  {
    const counts = new Float64Array(V);
    const last = new Int32Array(V).fill(-1);
    for (let d = 0; d < D; d++) {
      const b = starts[d + 1]!;
      for (let i = starts[d]!; i < b; i++) {
        const tk = tokens[i]!;
        counts[tk]!++;
        if (last[tk] !== d) {
          last[tk] = d;
          docFreq[tk]!++;
        }
      }
    }
    let acc = 0;
    for (let v = 0; v < V; v++) {
      buckets[v] = acc;
      acc += counts[v]!;
    }
    buckets[V] = acc;
  }
  onStage?.('write');
  const header = (kind: FileKind, width: number, payloadBytes: number) => (checksum: string) =>
    encodeHeader({
      version: INDEX_FORMAT_VERSION,
      kind,
      shard: spec.shard,
      width,
      tokenCount: N,
      docCount: D,
      payloadBytes,
      vocabSize: V,
      buildId: spec.buildId,
      checksum,
      tokenizerId: spec.tokenizerId,
    });
  const tokBytes = bytesOf(tokens);
  const saBytes = bytesOf(sa);
  const idsJson = Buffer.from(JSON.stringify(ids), 'utf8');
  const lay = docsLayout(D, V);
  const idsLen = Buffer.alloc(4);
  idsLen.writeUInt32LE(idsJson.length, 0);
  const docsChunks = [bytesOf(starts), bytesOf(buckets), bytesOf(docFreq), idsLen, idsJson];
  const docsBytes = lay.ids + 4 + idsJson.length;
  const dir = spec.outDir;
  writeShardFile(join(dir, shardFileName(spec.shard, FileKind.Tokens)), header(FileKind.Tokens, spec.width, tokBytes.length), [tokBytes]);
  writeShardFile(join(dir, shardFileName(spec.shard, FileKind.SuffixArray)), header(FileKind.SuffixArray, 4, saBytes.length), [saBytes]);
  writeShardFile(join(dir, shardFileName(spec.shard, FileKind.Docs)), header(FileKind.Docs, 4, docsBytes), docsChunks);
  return { shard: spec.shard, tokens: N, docs: D, seconds: (performance.now() - t0) / 1000, saSeconds };
}
