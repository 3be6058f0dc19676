// Text formats of a byte-level BPE (GPT-2 vocab.json + merges.txt) and the content hash that names it ("bpe:<hash>").
import { createHash } from 'node:crypto';
import { bytesToToken } from './bytes-unicode.js';

/** What is needed to write a BPE out: token bytes by id (null for special ids), special strings by id, merges in rank order. */
export interface BpeTables {
  tokens: ReadonlyArray<Uint8Array | null>;
  specialsById: ReadonlyMap<number, string>;
  merges: ReadonlyArray<readonly [number, number]>;
}

/** The string spelling of token `id`: byte-unicode for ordinary tokens, the literal text for specials. */
export function tokenString(t: BpeTables, id: number): string {
  const b = t.tokens[id];
  if (b) return bytesToToken(b);
  const s = t.specialsById.get(id);
  if (s === undefined) throw new Error(`BPE: token id ${id} has neither bytes nor special text`);
  return s;
}

/** vocab.json in id order (written by hand so the key order is the id order, as in GPT-2's encoder.json). */
export function formatVocabJson(t: BpeTables): string {
  const parts: string[] = [];
  for (let id = 0; id < t.tokens.length; id++) parts.push(`${JSON.stringify(tokenString(t, id))}: ${id}`);
  return `{${parts.join(', ')}}\n`;
}

/** merges.txt: a "#version: 0.2" header, then one "left right" line per merge, in rank order. */
export function formatMergesTxt(t: BpeTables): string {
  const lines = ['#version: 0.2'];
  for (const [a, b] of t.merges) lines.push(`${tokenString(t, a)} ${tokenString(t, b)}`);
  return `${lines.join('\n')}\n`;
}

/** First 16 hex chars of sha256 over the canonical vocab.json and merges.txt text. */
export function bpeContentHash(t: BpeTables): string {
  return createHash('sha256').update(formatVocabJson(t)).update('\n').update(formatMergesTxt(t)).digest('hex').slice(0, 16);
}
