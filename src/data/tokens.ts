// Token streams for LM training: documents joined with the end-of-text token (or a newline where the tokenizer has
// none), tokenized once and cached as a binary file, split by position (first 90% train, last 10% validation, as
// nanoGPT does), and sampled into (B, T) batches of inputs and next-token targets from a resumable seeded RNG.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Tokenizer } from '../tokenizer/types.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { Rng } from '../nn/init.js';

export interface Document {
  id: string;
  text: string;
}

export interface TokenSplits {
  train: Uint32Array;
  val: Uint32Array;
  /** All tokens in corpus order. */
  all: Uint32Array;
}

const MAGIC = 0x544b4e53; // 'TKNS'

export function cacheDir(): string {
  const base = process.env.TESSERA_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tessera');
  mkdirSync(base, { recursive: true });
  return base;
}

/** Tokenize documents joined by EOT (or "\n\n" without one); cached by (corpus key, tokenizer id). */
export function tokenizeCorpus(docs: readonly Document[], tok: Tokenizer, corpusKey: string, opts: { cache?: boolean } = {}): Uint32Array {
  if (docs.length === 0 || docs.every((d) => d.text.length === 0)) throw new Error(`corpus ${corpusKey} is empty`);
  const key = createHash('sha256').update(`${corpusKey}\u0000${tok.id}\u0000${docs.length}`).digest('hex').slice(0, 24);
  const path = join(cacheDir(), `tokens-${key}.bin`);
  if (opts.cache !== false && existsSync(path)) {
    const b = readFileSync(path);
    if (b.length >= 16 && b.readUInt32LE(0) === MAGIC) {
      const n = Number(b.readBigUInt64LE(8));
      if (b.length === 16 + 4 * n) return new Uint32Array(b.buffer.slice(b.byteOffset + 16, b.byteOffset + 16 + 4 * n));
    }
  }
  const parts: number[][] = [];
  let total = 0;
  docs.forEach((d, i) => {
    let ids = tok.encode(d.text, { allowedSpecial: 'none' });
    if (i < docs.length - 1 || tok.eotId !== undefined) {
      ids = tok.eotId !== undefined ? [...ids, tok.eotId] : i < docs.length - 1 ? [...ids, ...tok.encode('\n\n')] : ids;
    }
    parts.push(ids);
    total += ids.length;
  });
  const out = new Uint32Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  if (opts.cache !== false) {
    const header = Buffer.alloc(16);
    header.writeUInt32LE(MAGIC, 0);
    header.writeUInt32LE(1, 4);
    header.writeBigUInt64LE(BigInt(total), 8);
    writeFileAtomicSync(path, [header, new Uint8Array(out.buffer)]);
  }
  return out;
}

/** Split by position: the first `trainFraction` of tokens train, the rest validate. */
export function splitTokens(all: Uint32Array, trainFraction = 0.9): TokenSplits {
  const n = Math.floor(all.length * trainFraction);
  return { all, train: all.subarray(0, n), val: all.subarray(n) };
}

/** nanoGPT-style random windows: x = data[i : i+T], y = data[i+1 : i+1+T]. */
export class BatchSampler {
  readonly rng: Rng;
  constructor(
    readonly data: Uint32Array,
    readonly batch: number,
    readonly block: number,
    seed: number,
    readonly name = 'data',
  ) {
    if (data.length < block + 1) {
      throw new Error(`${name} split has ${data.length} tokens, fewer than one context of ${block + 1}; use a smaller --block or a larger corpus`);
    }
    this.rng = new Rng(seed);
  }

  next(): { idx: BigInt64Array; targets: BigInt64Array } {
    const { batch: B, block: T, data } = this;
    const idx = new BigInt64Array(B * T);
    const targets = new BigInt64Array(B * T);
    for (let b = 0; b < B; b++) {
      const start = this.rng.int(data.length - T);
      for (let t = 0; t < T; t++) {
        idx[b * T + t] = BigInt(data[start + t]!);
        targets[b * T + t] = BigInt(data[start + t + 1]!);
      }
    }
    return { idx, targets };
  }
}
