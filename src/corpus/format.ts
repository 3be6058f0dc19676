// On-disk format of a corpus index.
//
// An index is a directory:
//   index.json              manifest: format version, build id, tokenizer identity, token width, shards
//   tokenizer/              the tokenizer's own files (Tokenizer.save), so the index carries its tokenizer
//   shard-NNNNN.tokens      the shard's token ids, `width` bytes each (1, 2 or 4, little-endian), documents
//                           concatenated with no separator
//   shard-NNNNN.sa          the shard's suffix array: one u32 (little-endian) token offset per token
//   shard-NNNNN.docs        document table: u32 start offset of each document (+ the end), the SA range of each
//                           first token (u32 × vocab+1), the document frequency of each token (u32 × vocab), then
//                           the document ids (u32 byte length + a UTF-8 JSON array of strings)
// Every shard file starts with a 256-byte header (below) carrying the format version, the file kind, the shard
// number, the tokenizer identity, the token and document counts, the payload length and a SHA-256 of the
// payload; the header has its own check value. Files are read by offset, never loaded whole (except .docs).
import { createHash } from 'node:crypto';

export const INDEX_FORMAT_VERSION = 1;
export const MANIFEST_NAME = 'index.json';
export const MANIFEST_FORMAT = 'tessera-corpus-index';
export const HEADER_SIZE = 256;
const MAGIC = Buffer.from('TSRCIDX\0', 'latin1');
const TOKENIZER_ID_MAX = 160;

export const FileKind = { Tokens: 1, SuffixArray: 2, Docs: 3 } as const;
export type FileKind = (typeof FileKind)[keyof typeof FileKind];

export const FILE_KIND_NAMES: Record<number, string> = { 1: 'tokens', 2: 'suffix array', 3: 'document table' };
export const FILE_EXT: Record<number, string> = { 1: 'tokens', 2: 'sa', 3: 'docs' };

export function shardFileName(shard: number, kind: FileKind): string {
  return `shard-${String(shard).padStart(5, '0')}.${FILE_EXT[kind]}`;
}

/** An error about a specific index file; the message starts with the file path. */
export class IndexError extends Error {
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'IndexError';
    this.file = file;
  }
}

export interface FileHeader {
  version: number;
  kind: FileKind;
  shard: number;
  /** Bytes per element: token width for .tokens, 4 for .sa and .docs. */
  width: number;
  tokenCount: number;
  docCount: number;
  payloadBytes: number;
  vocabSize: number;
  /** 32 hex digits, shared by all files of one build. */
  buildId: string;
  /** 64 hex digits: SHA-256 of the payload. */
  checksum: string;
  tokenizerId: string;
}

/** Token ids are stored in 1 byte for vocabularies up to 256, 2 up to 65536, else 4. */
export function tokenWidthFor(vocabSize: number): 1 | 2 | 4 {
  return vocabSize <= 0x100 ? 1 : vocabSize <= 0x10000 ? 2 : 4;
}

/** Tokenizer ids longer than the header field are stored as "sha256:<hex>". */
export function headerTokenizerId(id: string): string {
  return Buffer.byteLength(id, 'utf8') <= TOKENIZER_ID_MAX ? id : `sha256:${createHash('sha256').update(id).digest('hex')}`;
}

function headerCheck(buf: Buffer): Buffer {
  return createHash('sha256').update(buf.subarray(0, HEADER_SIZE - 8)).digest().subarray(0, 8);
}

export function encodeHeader(h: FileHeader): Buffer {
  const b = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(b, 0);
  b.writeUInt32LE(h.version, 8);
  b.writeUInt32LE(h.kind, 12);
  b.writeUInt32LE(h.shard, 16);
  b.writeUInt32LE(h.width, 20);
  b.writeBigUInt64LE(BigInt(h.tokenCount), 24);
  b.writeBigUInt64LE(BigInt(h.docCount), 32);
  b.writeBigUInt64LE(BigInt(h.payloadBytes), 40);
  b.writeUInt32LE(h.vocabSize, 48);
  Buffer.from(h.buildId, 'hex').copy(b, 56, 0, 16);
  Buffer.from(h.checksum, 'hex').copy(b, 72, 0, 32);
  const tid = Buffer.from(headerTokenizerId(h.tokenizerId), 'utf8');
  b.writeUInt16LE(tid.length, 104);
  tid.copy(b, 106);
  headerCheck(b).copy(b, HEADER_SIZE - 8);
  return b;
}

/** Decode and check a header; throws IndexError naming `file` on any problem. */
export function decodeHeader(b: Buffer, file: string): FileHeader {
  if (b.length < HEADER_SIZE) throw new IndexError(file, `truncated: ${b.length} bytes, shorter than the ${HEADER_SIZE}-byte header`);
  if (!b.subarray(0, 8).equals(MAGIC)) throw new IndexError(file, 'not a tessera corpus index file (bad magic bytes)');
  if (!headerCheck(b).equals(b.subarray(HEADER_SIZE - 8, HEADER_SIZE))) throw new IndexError(file, 'corrupted header (header check value mismatch)');
  const version = b.readUInt32LE(8);
  if (version !== INDEX_FORMAT_VERSION) throw new IndexError(file, `unsupported index format version ${version} (this tessera reads version ${INDEX_FORMAT_VERSION}); rebuild the index`);
  const tlen = b.readUInt16LE(104);
  if (tlen > TOKENIZER_ID_MAX + 71) throw new IndexError(file, 'corrupted header (tokenizer id length)');
  return {
    version,
    kind: b.readUInt32LE(12) as FileKind,
    shard: b.readUInt32LE(16),
    width: b.readUInt32LE(20),
    tokenCount: Number(b.readBigUInt64LE(24)),
    docCount: Number(b.readBigUInt64LE(32)),
    payloadBytes: Number(b.readBigUInt64LE(40)),
    vocabSize: b.readUInt32LE(48),
    buildId: b.subarray(56, 72).toString('hex'),
    checksum: b.subarray(72, 104).toString('hex'),
    tokenizerId: b.subarray(106, 106 + tlen).toString('utf8'),
  };
}

export interface ShardManifest {
  index: number;
  /** Global index of the shard's first document. */
  firstDoc: number;
  docs: number;
  tokens: number;
  /** Global offset of the shard's first token. */
  firstToken: number;
}

export interface IndexManifest {
  format: typeof MANIFEST_FORMAT;
  version: number;
  buildId: string;
  tokenizer: { id: string; vocabSize: number };
  tokenWidth: number;
  corpus: string;
  totalTokens: number;
  totalDocs: number;
  shards: ShardManifest[];
  created: string;
}

/** Byte layout of a .docs payload. */
export function docsLayout(docCount: number, vocabSize: number) {
  const starts = 0;
  const buckets = starts + 4 * (docCount + 1);
  const docFreq = buckets + 4 * (vocabSize + 1);
  const ids = docFreq + 4 * vocabSize;
  return { starts, buckets, docFreq, ids };
}
