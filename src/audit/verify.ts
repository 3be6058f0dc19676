// Verification of samples against the training corpus with the suffix-array index (src/corpus): a sample is
// memorized when it contains a verbatim run of at least `minTokens` (M, default 50, as Nasr et al. 2023) tokens of
// the corpus. For each sample: the longest run (its tokens, text, count, document count k — k-eidetic — and a few
// source documents with the passage in context), and every maximal run of ≥ M tokens with its character range in
// the sample's text (for highlighting). Runs never cross a document boundary (the index counts within documents).
// Character ranges come from decoding the token prefix; with byte-level BPE a run that starts inside a multi-byte
// character is placed at the character's start.

import type { CorpusIndex } from '../corpus/index.js';
import type { LongestMatch, VerbatimSpan } from './types.js';
import type { StoredVerdict } from './store.js';

export interface VerifyOptions {
  minTokens: number;
  /** Source documents kept per longest match (default 3). */
  sources?: number;
  /** Tokens of context around each source passage (default 48). */
  context?: number;
  /** Categories of the memorized text (categories.ts); none when absent. */
  categorize?: (text: string) => string[];
}

function decode(index: CorpusIndex, tokens: number[]): string {
  return index.decode(tokens) ?? '';
}

/** Character offset in the decoded text where token `t` starts. */
function charOffset(index: CorpusIndex, tokens: number[], t: number): number {
  return decode(index, tokens.slice(0, t)).replace(/\uFFFD+$/, '').length;
}

export function longestMatch(index: CorpusIndex, tokens: number[], o: Pick<VerifyOptions, 'sources' | 'context'> = {}): LongestMatch | null {
  if (tokens.length === 0) return null;
  const { lengths } = index.longest(tokens);
  let best = 0;
  let end = 0;
  lengths.forEach((l, i) => {
    if (l > best) {
      best = l;
      end = i + 1;
    }
  });
  if (best === 0) return null;
  const run = tokens.slice(end - best, end);
  const loc = index.locate(run, { limit: o.sources ?? 3, context: o.context ?? 48, exhaustive: 100_000 });
  return {
    tokens: run,
    text: decode(index, run),
    count: loc.count,
    docs: loc.docs,
    sources: loc.hits.map((h) => ({ doc: h.doc, offset: h.offset, ...(h.snippet ? { before: h.snippet.before, match: h.snippet.match, after: h.snippet.after } : {}) })),
  };
}

/** Verify one sample given its tokens under the index's tokenizer. */
export function verifySample(index: CorpusIndex, tokens: number[], o: VerifyOptions): StoredVerdict {
  const longest = longestMatch(index, tokens, o);
  const memorized = longest !== null && longest.tokens.length >= o.minTokens;
  let spans: VerbatimSpan[] = [];
  if (memorized) {
    spans = index.trace(tokens, { minTokens: o.minTokens, topDocs: 0 }).spans.map((s) => ({
      start: s.start,
      end: s.end,
      char_start: charOffset(index, tokens, s.start),
      char_end: charOffset(index, tokens, s.end),
      count: s.count,
      docs: s.docs,
    }));
  }
  const categories = memorized && o.categorize ? o.categorize(spans.length ? spans.map((s) => decode(index, tokens.slice(s.start, s.end))).join('\n') : longest!.text) : [];
  return { tokens, memorized, longest_match: longest, spans, categories };
}
