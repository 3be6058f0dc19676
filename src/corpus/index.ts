// Corpus index: suffix array over a tokenized corpus, exact counts, k-eidetic document counts, tracing text back to
// the training documents it comes from.
export { sais } from './sais.js';
export { buildIndex, buildCorpusIndex, planShards } from './build.js';
export type { BuildOptions, BuildProgress, BuildReport, TokenizedDocument, TokenizerIdentity } from './build.js';
export { CorpusIndex, openIndex } from './reader.js';
export type {
  CountResult,
  DocCount,
  Hit,
  LocateResult,
  LongestResult,
  NextResult,
  NextToken,
  OpenIndexOptions,
  Query,
  Snippet,
  TokenizerLike,
  TraceResult,
  TraceSpan,
} from './reader.js';
export { IndexError, INDEX_FORMAT_VERSION, MANIFEST_NAME, shardFileName, tokenWidthFor, FileKind } from './format.js';
export type { IndexManifest, ShardManifest } from './format.js';
export { NaiveCorpus, naiveTextCount } from './naive.js';
