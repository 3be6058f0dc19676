// A tiny random GPT with a character tokenizer (with end-of-text, a BMP '€' and an astral '𝄞' to exercise code-point
// offsets), saved into a temporary model directory, for the server and client tests; and one with the bytes+eot
// tokenizer, where every character past ASCII is split over several tokens.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/lm/config.js';
import { GPT } from '../../src/lm/model.js';
import { saveModel } from '../../src/lm/checkpoint.js';
import { BytesTokenizer, CharTokenizer, type ByteTokenizer } from '../../src/tokenizer/index.js';

export const CHARS = [...'abcdefghijklmnopqrstuvwxyz .,!?€𝄞'];

/** Writes the model into a fresh temp dir (removed at exit); returns the model directory. */
export function makeTinyModelDir(): string {
  return makeModelDir(new CharTokenizer(CHARS, { eot: true }));
}

/** The same shape with raw UTF-8 bytes + end-of-text (vocabulary 257). */
export function makeTinyBytesModelDir(): string {
  return makeModelDir(new BytesTokenizer({ eot: true }));
}

function makeModelDir(tok: ByteTokenizer): string {
  const root = mkdtempSync(join(tmpdir(), 'tessera-serve-'));
  process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  const cfg = resolveConfig(undefined, { vocabSize: tok.vocabSize, blockSize: 32, nLayer: 2, nHead: 2, nEmbd: 16 });
  const model = new GPT(cfg).initialize(3);
  // sharper predictions than at initialization, so greedy paths vary and argmax ties do not occur
  for (const p of model.parameters()) if (p.shape.length === 2) p.data = p.data.map((v) => v * 8);
  const dir = join(root, 'tiny');
  mkdirSync(dir);
  saveModel(dir, model, tok);
  return dir;
}
