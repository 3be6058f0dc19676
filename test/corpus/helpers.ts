// Shared helpers for the corpus-index tests: seeded random corpora and temporary directories.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { mulberry32 as rng } from '../../src/nn/init.js';

export function randInt(r: () => number, n: number): number {
  return Math.floor(r() * n);
}

/** Random documents over a small alphabet (lots of repeats), lengths 1..maxLen, some with long runs. */
export function randomDocs(r: () => number, nDocs: number, maxLen: number, alphabet: number): { id: string; tokens: number[] }[] {
  const docs: { id: string; tokens: number[] }[] = [];
  for (let d = 0; d < nDocs; d++) {
    const len = 1 + randInt(r, maxLen);
    const kind = r();
    const tokens: number[] = [];
    for (let i = 0; i < len; i++) {
      if (kind < 0.1) tokens.push(0); // aaaa…
      else if (kind < 0.2) tokens.push(i % 2); // abab…
      else tokens.push(randInt(r, alphabet));
    }
    docs.push({ id: `doc-${d}`, tokens });
  }
  return docs;
}

export function tempDir(prefix = 'tessera-corpus-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A tokenizer identity for pre-tokenized test corpora. */
export function ident(vocabSize: number, id = `test:${vocabSize}`) {
  return { id, vocabSize };
}
