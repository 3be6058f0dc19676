// Documents of a corpus spec for LM training: the shared corpus loader (src/data/corpora.ts — built-in npm corpora,
// text files, folders, `file.jsonl:field`) with empty documents dropped, as plain {id, text} documents.

import { loadCorpus } from './corpora.js';
import type { Document } from './tokens.js';

export async function loadCorpusDocuments(spec: string, opts: { field?: string } = {}): Promise<Document[]> {
  const corpus = loadCorpus(spec, { field: opts.field, emptyDocuments: 'skip' });
  if (corpus.documents.length === 0) throw new Error(`corpus '${spec}' is empty`);
  return corpus.documents.map((d) => ({ id: d.id, text: d.text }));
}
