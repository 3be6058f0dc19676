// The records an extraction audit produces and shares between its stages (generation, scoring, verification,
// ranking, report). Field names in snake_case are a public contract: they are written as-is to `samples.jsonl` and
// `results.json` (issue: `tessera audit run`).

/** JSON.stringify replacer for these records: JSON has no NaN / Infinity, so they are written as null. */
export function finite(_k: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}

/** The paper's three generation strategies (§4.1, §6.1). */
export type Strategy = 'top-n' | 'temperature' | 'internet';
export const STRATEGIES: readonly Strategy[] = ['top-n', 'temperature', 'internet'];

/** One training document holding a verbatim run, with the passage in context (from the corpus index). */
export interface SourceRef {
  /** Document id in the corpus ("spam-assassin/easy-ham-1/00012.…", "corpus.jsonl:17"). */
  doc: string;
  /** Token offset of the run in the document. */
  offset: number;
  /** Text before the run, the run itself and after it (decoded from the index; absent when it cannot decode). */
  before?: string;
  match?: string;
  after?: string;
}

/** The longest verbatim run of a sample found in the training corpus. */
export interface LongestMatch {
  /** The run's token ids. */
  tokens: number[];
  text: string;
  /** Occurrences in the corpus. */
  count: number;
  /** Distinct documents holding it (k of k-eidetic). */
  docs: number;
  /** Up to a few documents holding it, most occurrences first. */
  sources: SourceRef[];
}

/** A maximal verbatim run of at least `min_tokens` tokens, located in the sample's text for highlighting. */
export interface VerbatimSpan {
  /** Token range [start, end) of the sample. */
  start: number;
  end: number;
  /** Character range [char_start, char_end) of the sample's text (UTF-16 code units, as JavaScript strings). */
  char_start: number;
  char_end: number;
  count: number;
  docs: number;
}

/** One line of `samples.jsonl`. */
export interface SampleRecord {
  id: number;
  strategy: Strategy;
  /** The prompt text ('' for top-n and temperature, which start from end-of-text alone). */
  prompt: string;
  /** The sample: prompt + generated text, as the paper scores it. */
  text: string;
  /** The target tokenizer's ids of `text`. */
  tokens: number[];
  ppl: number | null;
  ppl_lower: number | null;
  ppl_window: number | null;
  zlib: number;
  ref_ppl: Record<string, number>;
  /** Sort keys, higher = more likely memorized: perplexity, zlib, lowercase, window, ratio:NAME. Missing when not computable. */
  scores: Record<string, number>;
  /** Contains a verbatim run of at least `min_tokens` tokens of the training corpus. */
  memorized: boolean;
  longest_match: LongestMatch | null;
  /** Every maximal verbatim run of at least `min_tokens` tokens. */
  spans: VerbatimSpan[];
  /** Table 1-style categories of the memorized text (URL, e-mail, …); empty when not memorized. */
  categories: string[];
}

/** A Table 2 cell's detail: the top N after de-duplication for one strategy and metric. */
export interface RankedCell {
  strategy: Strategy;
  metric: string;
  /** Sample ids, best first, after de-duplication. */
  top: number[];
  /** Memorized among the top N. */
  memorized: number;
  /** precision[i] = memorized among the first i+1 / (i+1). */
  precision: number[];
  /** Samples removed as near-duplicates of better-ranked ones, before the top N was cut. */
  duplicates: number;
}

/** Discoverable memorization (Carlini et al. 2022): exact-match rate by duplicate-count bucket and prompt length. */
export interface DiscoverableRow {
  model: string;
  /** Total sequence length L (prompt L − suffix tokens, then the suffix). */
  length: number;
  /** Duplicate-count bucket [lo, hi] of the sequence in the corpus. */
  dup_lo: number;
  dup_hi: number;
  sequences: number;
  extracted: number;
  rate: number;
}

/** One canary's exposure (Secret Sharer). */
export interface ExposureRow {
  id: string;
  format: string;
  secret: string;
  repeats: number;
  /** Rank of the canary (1 = most likely) among itself and the format's unused candidates. */
  rank: number;
  /** |R|: candidates ranked (the canary and the unused ones scored). */
  candidates: number;
  /** log2 |R| − log2 rank. */
  exposure: number;
  /** −log2 SkewNormCDF(log-perplexity of the canary), the skew-normal fitted to the unused candidates. */
  exposure_extrapolated: number;
  /** Log-perplexity of the secret given the format's prefix (sum of NLLs, nats). */
  log_perplexity: number;
  /** The secret appears in some sample of the attack. */
  found_by_attack?: boolean;
}

/** `results.json`. */
export interface AuditResults {
  target: string;
  references: string[];
  strategies: Strategy[];
  samples: Record<string, number>;
  tokens: number;
  min_tokens: number;
  top_n: number;
  metrics: string[];
  /** {strategy: {metric: memorized in the top N}} (the paper's Table 2). */
  table2: Record<string, Record<string, number>>;
  /** {strategy: {metric: precision@1..N}}. */
  precision: Record<string, Record<string, number[]>>;
  /** Distinct memorized samples over every strategy × metric top N (the paper's "Unique" row, all strategies). */
  unique_memorized: number;
  /** Per strategy, distinct memorized samples over its metrics' top N. */
  unique_by_strategy: Record<string, number>;
  /** Memorized samples among all samples (no ranking). */
  memorized_total: number;
  /** Category → memorized samples in that category. */
  categories: Record<string, number>;
  /** Near-duplicate share per strategy (the paper's Fig. 4). */
  duplicate_rate: Record<string, number>;
  /** How the temperature strategy decays (the paper leaves the curve open). */
  temperature_schedule: string;
  /** Metrics that could not be computed and why (e.g. a remote target without log-probabilities). */
  skipped_metrics: Record<string, string>;
  notes: string[];
  discoverable?: DiscoverableRow[];
  exposure?: ExposureRow[];
  /** With --canaries: canary id → ids of the samples that contain its secret. */
  canaries_found?: Record<string, number[]>;
  /** Wall-clock seconds per stage. */
  timings: Record<string, number>;
}
