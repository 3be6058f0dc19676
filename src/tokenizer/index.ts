// Tokenizer entry point: resolve a spec ("gpt2", "bytes", a directory or a tokenizer.json path) to a Tokenizer.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Tokenizer } from './types.js';
import { BpeTokenizer } from './bpe.js';
import { loadHfTokenizerJson, loadVocabMerges, parseHfTokenizerJson } from './bpe-files.js';
import { BytesTokenizer } from './bytes.js';
import { CharTokenizer, charTokenizerFromJson, trainCharTokenizer } from './char.js';
import { gpt2Tokenizer } from './gpt2.js';
import { trainBpe } from './bpe-train.js';

export type { Tokenizer } from './types.js';
export { BpeTokenizer, BytesTokenizer, CharTokenizer, gpt2Tokenizer, trainBpe, trainCharTokenizer, loadVocabMerges, loadHfTokenizerJson };
export type { TrainBpeOptions, TrainProgress } from './bpe-train.js';

/** Every tokenizer tessera builds also returns raw bytes (decode of partial UTF-8 sequences is lossy, this is not). */
export interface ByteTokenizer extends Tokenizer {
  decodeBytes(ids: ArrayLike<number>): Uint8Array;
}

/**
 * Resolve a tokenizer spec:
 * - "gpt2": the built-in GPT-2 BPE (offline, from js-tiktoken's ranks);
 * - "bytes" / "bytes+eot": raw UTF-8 bytes (vocab 256, or 257 with `<|endoftext|>` = 256);
 * - a directory holding vocab.json + merges.txt, or a tokenizer.json (Hugging Face BPE, or tessera's char/bytes type);
 * - a path to such a tokenizer.json file.
 */
export function loadTokenizer(spec: string): ByteTokenizer {
  if (spec === 'gpt2') return gpt2Tokenizer();
  if (spec === 'bytes') return new BytesTokenizer();
  if (spec === 'bytes+eot') return new BytesTokenizer({ eot: true });
  if (!existsSync(spec)) throw new Error(`tokenizer ${JSON.stringify(spec)}: not "gpt2", "bytes" or "bytes+eot", and no such file or directory`);
  if (statSync(spec).isDirectory()) {
    const vocab = join(spec, 'vocab.json');
    const merges = join(spec, 'merges.txt');
    const tj = join(spec, 'tokenizer.json');
    const hasV = existsSync(vocab);
    const hasM = existsSync(merges);
    if (hasV && hasM) return loadVocabMerges(vocab, merges);
    if (existsSync(tj)) return loadTokenizerJson(tj);
    if (hasV || hasM) throw new Error(`${spec}: has ${hasV ? 'vocab.json' : 'merges.txt'} but no ${hasV ? 'merges.txt' : 'vocab.json'} (a GPT-2 BPE needs both)`);
    throw new Error(`${spec}: no tokenizer files found (expected vocab.json + merges.txt, or tokenizer.json)`);
  }
  const name = basename(spec);
  if (name === 'vocab.json' || name === 'merges.txt') throw new Error(`${spec}: give the directory holding vocab.json and merges.txt, not one of the files`);
  return loadTokenizerJson(spec);
}

/** A tokenizer.json of type "char" or "bytes" (tessera's own), or a Hugging Face tokenizer.json with a BPE model. */
export function loadTokenizerJson(path: string): ByteTokenizer {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read tokenizer JSON: ${(err as Error).message}`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error(`${path}: expected a JSON object`);
  const o = j as Record<string, unknown>;
  if (o.type === 'char') return charTokenizerFromJson(j, path);
  if (o.type === 'bytes') {
    if (o.eot !== undefined && typeof o.eot !== 'boolean') throw new Error(`${path}: "eot" must be true or false`);
    return new BytesTokenizer({ eot: o.eot === true });
  }
  if ('model' in o) return parseHfTokenizerJson(j, path);
  throw new Error(`${path}: not a tokenizer file: expected "type": "char" | "bytes", or a Hugging Face tokenizer.json with a "model"`);
}
