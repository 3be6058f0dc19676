// lm-evaluation-harness 0.4.13's metrics, aggregations and standard errors (lm_eval/api/metrics.py), ported to
// reproduce its numbers: exact_match (the HF-evaluate port with regexes / case / punctuation / digits options),
// SQuAD F1 (the transformers / SQuAD-v2 script the harness's QA tasks call), sacrebleu's corpus BLEU with its
// defaults (13a tokenizer, 'exp' smoothing, 4-grams) and the harness's `bleu` aggregation around it, the
// perplexity-style aggregations, sklearn's binary F1 and MCC, and the stderr machinery: `mean_stderr`, and
// `bootstrap_stderr` drawing the very same resamples as the harness (chunk i seeded `random.Random(i)`).
// Python string semantics that matter are mirrored (str.split()'s Unicode whitespace, Unicode `\b`, NumPy
// stripping trailing NULs); the option `regexesToIgnore` takes Python `re` syntax, translated by `pyRegExp`.

import { PyRandom } from './py-random.js';

/** An aggregation: many per-document values in, one corpus-level number out. */
export type Aggregation<T> = (items: readonly T[]) => number;

// ---------------------------------------------------------------------------------------------------------
// Python string helpers

/** The characters Python's str.isspace() accepts (str.split() / str.strip() with no argument). */
const PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** Python's Unicode `\w`: letters, numbers, underscore. */
const PY_WORD = '\\p{L}\\p{N}_';
const WS_RUN = new RegExp(`[${PY_WS}]+`, 'u');
const TRAILING_WS = new RegExp(`[${PY_WS}]+$`, 'u');

/** Python's `s.split()`: split on runs of Unicode whitespace, dropping empty pieces. */
export function pySplit(s: string): string[] {
  return s.split(WS_RUN).filter((t) => t !== '');
}

/** Python's `s.rstrip()`. */
export function pyRstrip(s: string): string {
  return s.replace(TRAILING_WS, '');
}

/** Python's `string.punctuation`. */
export const PY_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const PUNCTUATION_RE = /[!-/:-@[-`{-~]/g;
const DIGITS_RE = /[0-9]/g;

/** NumPy's fixed-width unicode arrays drop trailing NUL characters. */
function numpyStr(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** A literal code point, written so that it is valid anywhere in a `u`-mode pattern. */
function literal(ch: string): string {
  return `\\u{${ch.codePointAt(0)!.toString(16)}}`;
}

/**
 * Translates a Python `re` pattern to an equivalent global, `u`-mode JS RegExp: leading inline flags
 * ((?i) (?s) (?m) (?a)), Python's `$` (also before a final newline), `.` (everything but \n), `\A` `\Z`,
 * Unicode `\d` `\w` `\s` `\b` `\B`, `(?P<name>…)` / `(?P=name)`, `{,n}`, literal `{` `}` `]`, and escaped
 * punctuation. Scoped flags, verbose mode and Python-only constructs are rejected with a SyntaxError.
 */
export function pyRegExp(pattern: string): RegExp {
  let src = pattern;
  let dotAll = false;
  let ignoreCase = false;
  let multiline = false;
  let ascii = false;
  for (let m = /^\(\?([aiLmsux]+)\)/.exec(src); m; m = /^\(\?([aiLmsux]+)\)/.exec(src)) {
    for (const f of m[1]!) {
      if (f === 's') dotAll = true;
      else if (f === 'i') ignoreCase = true;
      else if (f === 'm') multiline = true;
      else if (f === 'a') ascii = true;
      else if (f !== 'u') throw new SyntaxError(`unsupported Python regex flag (?${f}) in ${JSON.stringify(pattern)}`);
    }
    src = src.slice(m[0].length);
  }
  const W = ascii ? 'A-Za-z0-9_' : PY_WORD;
  const D = ascii ? '0-9' : '\\p{Nd}';
  const S = ascii ? ' \\t\\n\\r\\f\\v' : PY_WS;
  const chars = Array.from(src);
  let out = '';
  let inClass = false;
  let classStart = false;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\') {
      const e = chars[++i];
      if (e === undefined) throw new SyntaxError(`bad escape (end of pattern) in ${JSON.stringify(pattern)}`);
      classStart = false;
      switch (e) {
        case 'd': out += inClass ? D : `[${D}]`; break;
        case 'D': out += inClass ? (ascii ? '\\D' : '\\P{Nd}') : `[^${D}]`; break;
        case 'w': out += inClass ? W : `[${W}]`; break;
        case 'W': out += inClass ? '\\W' : `[^${W}]`; break;
        case 's': out += inClass ? S : `[${S}]`; break;
        case 'S': out += inClass ? '\\S' : `[^${S}]`; break;
        case 'b': out += inClass ? '\\x08' : `(?:(?<=[${W}])(?![${W}])|(?<![${W}])(?=[${W}]))`; break;
        case 'B': out += `(?:(?<=[${W}])(?=[${W}])|(?<![${W}])(?![${W}]))`; break;
        case 'A': out += '(?<![\\s\\S])'; break;
        case 'Z': out += '(?![\\s\\S])'; break;
        case 'a': out += '\\x07'; break;
        case 'U': {
          const hex = chars.slice(i + 1, i + 9).join('');
          if (!/^[0-9a-fA-F]{8}$/.test(hex)) throw new SyntaxError(`bad \\U escape in ${JSON.stringify(pattern)}`);
          out += `\\u{${hex}}`;
          i += 8;
          break;
        }
        default:
          out += /[A-Za-z0-9]/.test(e) ? `\\${e}` : literal(e);
      }
      continue;
    }
    if (inClass) {
      if (c === ']' && !classStart) {
        inClass = false;
        out += ']';
      } else out += c === '[' || c === ']' ? literal(c) : c;
      classStart = false;
      continue;
    }
    switch (c) {
      case '[':
        inClass = true;
        classStart = true;
        out += '[';
        if (chars[i + 1] === '^') {
          out += '^';
          i++;
        }
        break;
      case '$': out += multiline ? '(?=\\n|(?![\\s\\S]))' : '(?=\\n?(?![\\s\\S]))'; break;
      case '^': out += multiline ? '(?:(?<![\\s\\S])|(?<=\\n))' : '^'; break;
      case '.': out += dotAll ? '[\\s\\S]' : '[^\\n]'; break;
      case '(': {
        const rest = chars.slice(i, i + 4).join('');
        if (rest.startsWith('(?P<')) {
          out += '(?<';
          i += 3;
        } else if (rest.startsWith('(?P=')) {
          const close = chars.indexOf(')', i);
          out += `\\k<${chars.slice(i + 4, close).join('')}>`;
          i = close;
        } else if (rest.startsWith('(?#')) {
          i = chars.indexOf(')', i);
        } else if (/^\(\?[aiLmsux-]/.test(rest)) {
          throw new SyntaxError(`scoped regex flags are not supported: ${JSON.stringify(pattern)}`);
        } else out += '(';
        break;
      }
      case '{': {
        const m = /^\{(\d*)(?:(,)(\d*))?\}/.exec(chars.slice(i, i + 24).join(''));
        if (m && (m[1] !== '' || m[2] !== undefined)) {
          out += m[2] === undefined ? `{${m[1]}}` : `{${m[1] || '0'},${m[3]}}`;
          i += m[0].length - 1;
        } else out += '\\{';
        break;
      }
      case '}': out += '\\}'; break;
      case ']': out += '\\]'; break;
      default: out += c;
    }
  }
  return new RegExp(out, ignoreCase ? 'giu' : 'gu');
}

// ---------------------------------------------------------------------------------------------------------
// Basic statistics (Python float semantics: left-to-right sums, as `sum()` in 3.11)

function pySum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

/** Harness `mean`: sum(arr) / len(arr). */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('division by zero (mean of an empty list)');
  return pySum(xs) / xs.length;
}

/** Harness `median`: the upper median sorted(arr)[len // 2], no averaging. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('list index out of range (median of an empty list)');
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** NumPy's pairwise summation of a float64 array (what np.sum / np.mean use on contiguous data). */
export function numpySum(xs: readonly number[], start = 0, n = xs.length - start): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += xs[start + i]!;
    return res;
  }
  if (n <= 128) {
    const r = xs.slice(start, start + 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j]! += xs[start + i + j]!;
    let res = (r[0]! + r[1]! + (r[2]! + r[3]!)) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) res += xs[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return numpySum(xs, start, n2) + numpySum(xs, start + n2, n - n2);
}

/** Harness `nanmean`: NaN when empty or all-NaN, else np.nanmean (NaNs count as 0 in the sum, not in n). */
export function nanmean(xs: readonly number[]): number {
  const count = xs.reduce((c, x) => (Number.isNaN(x) ? c : c + 1), 0);
  if (count === 0) return NaN;
  return numpySum(xs.map((x) => (Number.isNaN(x) ? 0 : x))) / count;
}

/** Harness `pop_stddev` (divides by n). */
export function popStddev(xs: readonly number[]): number {
  const mu = mean(xs);
  return Math.sqrt(pySum(xs.map((x) => (x - mu) * (x - mu))) / xs.length);
}

/** Harness `sample_stddev` (Bessel-corrected, divides by n - 1). */
export function sampleStddev(xs: readonly number[]): number {
  if (xs.length < 2) throw new RangeError('sample_stddev needs at least two values');
  const mu = mean(xs);
  return Math.sqrt(pySum(xs.map((x) => (x - mu) * (x - mu))) / (xs.length - 1));
}

/** Harness `mean_stderr`: sample_stddev / sqrt(n). */
export function meanStderr(xs: readonly number[]): number {
  return sampleStddev(xs) / Math.sqrt(xs.length);
}

/** Harness `weighted_mean`: sum of values over sum of weights. */
export function weightedMean(items: readonly (readonly [number, number])[]): number {
  if (items.length === 0) throw new RangeError('not enough values to unpack (weighted mean of nothing)');
  return pySum(items.map((it) => it[0])) / pySum(items.map((it) => it[1]));
}

/** Harness `perplexity` aggregation: exp(-mean(loglikelihoods)). */
export function perplexity(lls: readonly number[]): number {
  return Math.exp(-mean(lls));
}

/** Harness `weighted_perplexity` (word_perplexity, byte_perplexity): exp(-Σll / Σweight). */
export function weightedPerplexity(items: readonly (readonly [number, number])[]): number {
  return Math.exp(-weightedMean(items));
}

/** Harness `bits_per_byte`: -Σll / Σbytes / ln 2. */
export function bitsPerByte(items: readonly (readonly [number, number])[]): number {
  return -weightedMean(items) / Math.log(2);
}

// ---------------------------------------------------------------------------------------------------------
// exact_match (lm_eval.api.metrics.exact_match_hf_evaluate on one prediction / reference pair)

export interface ExactMatchOptions {
  ignoreCase?: boolean;
  ignorePunctuation?: boolean;
  ignoreNumbers?: boolean;
  /** Python `re` patterns, each removed (re.sub(p, "", s)) from both strings, in order, before anything else. */
  regexesToIgnore?: readonly string[];
}

const regexCache = new Map<string, RegExp>();
function cachedPyRegExp(p: string): RegExp {
  let re = regexCache.get(p);
  if (!re) {
    re = pyRegExp(p);
    regexCache.set(p, re);
  }
  return re;
}

function exactMatchNormalize(s: string, opts: ExactMatchOptions): string {
  let x = numpyStr(s);
  if (opts.regexesToIgnore) {
    x = s;
    for (const p of opts.regexesToIgnore) x = numpyStr(x.replace(cachedPyRegExp(p), ''));
  }
  if (opts.ignoreCase) x = x.toLowerCase();
  if (opts.ignorePunctuation) x = x.replace(PUNCTUATION_RE, '');
  if (opts.ignoreNumbers) x = x.replace(DIGITS_RE, '');
  return x;
}

/** 1 when prediction and reference are equal after the harness's optional normalisations, else 0. */
export function exactMatch(prediction: string, reference: string, opts: ExactMatchOptions = {}): 0 | 1 {
  return exactMatchNormalize(prediction, opts) === exactMatchNormalize(reference, opts) ? 1 : 0;
}

/** `multiple_target` tasks: 1 when the prediction exactly matches any of the references. */
export function exactMatchAny(prediction: string, references: readonly string[], opts: ExactMatchOptions = {}): 0 | 1 {
  return references.some((r) => exactMatch(prediction, r, opts) === 1) ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------
// SQuAD (transformers.data.metrics.squad_metrics, the SQuAD-v2 official script's normalisation and F1)

const ARTICLES = new RegExp(`(?<![${PY_WORD}])(?:a|an|the)(?![${PY_WORD}])`, 'gu');

/** Lowercase, drop ASCII punctuation, replace the words a/an/the by spaces, collapse whitespace. */
export function squadNormalize(s: string): string {
  const noPunct = s.toLowerCase().replace(PUNCTUATION_RE, '');
  return pySplit(noPunct.replace(ARTICLES, ' ')).join(' ');
}

function squadTokens(s: string): string[] {
  return s === '' ? [] : pySplit(squadNormalize(s));
}

/** SQuAD exact match on normalised strings (compute_exact). */
export function squadExact(prediction: string, reference: string): 0 | 1 {
  return squadNormalize(prediction) === squadNormalize(reference) ? 1 : 0;
}

/** SQuAD token-overlap F1 (compute_f1): if either side has no tokens, 1 when both have none, else 0. */
export function squadF1(prediction: string, reference: string): number {
  const predToks = squadTokens(prediction);
  const goldToks = squadTokens(reference);
  if (goldToks.length === 0 || predToks.length === 0) return goldToks.length === predToks.length ? 1 : 0;
  const goldCounts = new Map<string, number>();
  for (const t of goldToks) goldCounts.set(t, (goldCounts.get(t) ?? 0) + 1);
  let numSame = 0;
  for (const t of predToks) {
    const left = goldCounts.get(t) ?? 0;
    if (left > 0) {
      numSame++;
      goldCounts.set(t, left - 1);
    }
  }
  if (numSame === 0) return 0;
  const precision = numSame / predToks.length;
  const recall = numSame / goldToks.length;
  return (2 * precision * recall) / (precision + recall);
}

/** metric_max_over_ground_truths(squadF1, prediction, references). */
export function squadF1Max(prediction: string, references: readonly string[]): number {
  if (references.length === 0) throw new RangeError('max() arg is an empty sequence');
  return Math.max(...references.map((r) => squadF1(prediction, r)));
}

// ---------------------------------------------------------------------------------------------------------
// sacrebleu BLEU (metrics/bleu.py, tokenizers/tokenizer_13a.py + tokenizer_re.py)

const MAX_NGRAM_ORDER = 4;
const RE_SYMBOLS = /([\x7B-\x7E\x5B-\x60\x20-\x26\x28-\x2B\x3A-\x40\x2F])/gu;
const RE_PERIOD_AFTER = /([^0-9])([.,])/gu;
const RE_PERIOD_BEFORE = /([.,])([^0-9])/gu;
const RE_DASH = /([0-9])(-)/gu;

/** sacrebleu's '13a' tokenizer (mteval-v13a): returns the tokens joined by single spaces. */
export function tokenize13a(line: string): string {
  let s = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (s.includes('&')) {
    s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  s = ` ${s} `;
  s = s.replace(RE_SYMBOLS, ' $1 ');
  s = s.replace(RE_PERIOD_AFTER, '$1 $2 ');
  s = s.replace(RE_PERIOD_BEFORE, ' $1 $2');
  s = s.replace(RE_DASH, '$1 $2 ');
  return pySplit(s).join(' ');
}

/** Counts of all 1..4-grams (keyed by the tokens joined with spaces; tokens hold no whitespace). */
function ngramCounts(tokens: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= MAX_NGRAM_ORDER; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

function preprocess(sent: string): string[] {
  return pySplit(tokenize13a(pyRstrip(sent)));
}

/** Closest reference length to the hypothesis length; ties go to the shorter reference; -1 without refs. */
function closestRefLen(hypLen: number, refLens: readonly number[]): number {
  let closestDiff = -1;
  let closestLen = -1;
  for (const len of refLens) {
    const diff = Math.abs(hypLen - len);
    if (closestDiff === -1 || diff < closestDiff) {
      closestDiff = diff;
      closestLen = len;
    } else if (diff === closestDiff && len < closestLen) closestLen = len;
  }
  return closestLen;
}

/**
 * One segment's sufficient statistics, sacrebleu's layout: [hypLen, refLen, correct1..4, total1..4].
 * `null` references are skipped (sacrebleu's way of giving segments different numbers of references).
 */
export function bleuSegmentStats(hypothesis: string, references: readonly (string | null)[]): number[] {
  const refNgrams = new Map<string, number>();
  const refLens: number[] = [];
  for (const ref of references) {
    if (ref === null) continue;
    const toks = preprocess(ref);
    refLens.push(toks.length);
    for (const [g, c] of ngramCounts(toks)) refNgrams.set(g, Math.max(refNgrams.get(g) ?? 0, c));
  }
  const hypToks = preprocess(hypothesis);
  if (refLens.length === 0 && hypToks.length > 0) throw new TypeError('BLEU: a segment has no reference');
  const correct = new Array<number>(MAX_NGRAM_ORDER).fill(0);
  const total = new Array<number>(MAX_NGRAM_ORDER).fill(0);
  for (const [g, c] of ngramCounts(hypToks)) {
    const n = g.split(' ').length - 1;
    total[n]! += c;
    const r = refNgrams.get(g);
    if (r !== undefined) correct[n]! += Math.min(c, r);
  }
  return [hypToks.length, closestRefLen(hypToks.length, refLens), ...correct, ...total];
}

export interface BleuScore {
  score: number;
  counts: number[];
  totals: number[];
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
}

/** BLEU.compute_bleu with 'exp' smoothing and no effective order, from summed segment statistics. */
export function bleuFromStats(stats: readonly number[]): BleuScore {
  const sysLen = stats[0]!;
  const refLen = stats[1]!;
  const counts = stats.slice(2, 2 + MAX_NGRAM_ORDER);
  const totals = stats.slice(2 + MAX_NGRAM_ORDER, 2 + 2 * MAX_NGRAM_ORDER);
  let bp = 1;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  const precisions = new Array<number>(MAX_NGRAM_ORDER).fill(0);
  if (!counts.some((c) => c !== 0)) return { score: 0, counts, totals, precisions, bp, sysLen, refLen };
  let smooth = 1;
  for (let n = 0; n < MAX_NGRAM_ORDER; n++) {
    if (totals[n] === 0) break;
    if (counts[n] === 0) {
      smooth *= 2;
      precisions[n] = 100 / (smooth * totals[n]!);
    } else precisions[n] = (100 * counts[n]!) / totals[n]!;
  }
  const logSum = pySum(precisions.map((p) => (p === 0 ? -9999999999 : Math.log(p))));
  return { score: bp * Math.exp(logSum / MAX_NGRAM_ORDER), counts, totals, precisions, bp, sysLen, refLen };
}

/** Sums segment statistics (sacrebleu's sum_of_lists). */
export function sumBleuStats(stats: readonly (readonly number[])[]): number[] {
  const total = new Array<number>(2 + 2 * MAX_NGRAM_ORDER).fill(0);
  for (const s of stats) for (let i = 0; i < total.length; i++) total[i]! += s[i]!;
  return total;
}

const segmentCache = new Map<string, number[]>();
function cachedSegmentStats(hyp: string, refs: readonly (string | null)[]): number[] {
  const key = JSON.stringify([hyp, refs]);
  let stats = segmentCache.get(key);
  if (!stats) {
    if (segmentCache.size >= 65536) segmentCache.clear();
    stats = bleuSegmentStats(hyp, refs);
    segmentCache.set(key, stats);
  }
  return stats;
}

/**
 * `sacrebleu.corpus_bleu(hypotheses, references)` with its defaults, returning the full score. `references`
 * is sacrebleu's layout: one stream per reference *position*, each as long as `hypotheses`.
 */
export function corpusBleuScore(
  hypotheses: readonly string[],
  references: readonly (readonly (string | null)[])[],
): BleuScore {
  if (typeof hypotheses[0] !== 'string') throw new TypeError('BLEU: Each element of `hyps` should be a string.');
  if (hypotheses.some((h) => typeof h !== 'string')) throw new TypeError('BLEU: Undefined line in hypotheses stream!');
  if (references.length === 0) throw new Error('No references provided and the cache is empty.');
  const ref0 = references[0]!;
  if (ref0.length > 0 && typeof ref0[0] !== 'string' && ref0[0] !== null) {
    throw new TypeError('BLEU: `refs` should be a sequence of sequence of strings.');
  }
  // zip(hypotheses, zip(*references)): the shortest stream decides the number of segments.
  const segments = Math.min(hypotheses.length, ...references.map((r) => r.length));
  const stats: number[][] = [];
  for (let i = 0; i < segments; i++) {
    stats.push(cachedSegmentStats(hypotheses[i]!, references.map((stream) => stream[i]!)));
  }
  return bleuFromStats(sumBleuStats(stats));
}

/** `sacrebleu.corpus_bleu(hypotheses, references).score`. */
export function corpusBleu(hypotheses: readonly string[], references: readonly (readonly (string | null)[])[]): number {
  return corpusBleuScore(hypotheses, references).score;
}

/** One harness `bleu` item as process_results builds it: `[gold, prediction]` (gold first!). */
export type BleuItem = readonly [refs: string | readonly string[], prediction: string | readonly string[]];

/**
 * The harness's `bleu` aggregation: `_sacreformat` then corpus_bleu(preds, refs). Mirrors its quirks: the
 * first item decides whether golds are strings (each wrapped as one reference) or lists; lists are
 * transposed with zip, so every segment gets as many references as the item with the fewest (a string
 * gold among lists is iterated character by character); list predictions must hold exactly one string.
 */
export function harnessBleu(items: readonly BleuItem[]): number {
  if (items.length === 0) throw new RangeError('list index out of range (bleu of no items)');
  const golds = items.map((it) => it[0]);
  const preds = items.map((it) => it[1]);
  let refLists: (readonly string[])[];
  if (typeof golds[0] === 'string') {
    refLists = golds.map((g) => {
      if (typeof g !== 'string') throw new TypeError("'list' object has no attribute 'rstrip'");
      return [g];
    });
  } else refLists = golds.map((g) => (typeof g === 'string' ? Array.from(g) : g));
  const numRefs = Math.min(...refLists.map((r) => r.length));
  const streams: string[][] = [];
  for (let j = 0; j < numRefs; j++) streams.push(refLists.map((r) => r[j]!));
  let hyps: string[];
  if (typeof preds[0] === 'string') {
    hyps = preds.map((p) => {
      if (typeof p !== 'string') throw new TypeError("'list' object has no attribute 'endswith'");
      return p;
    });
  } else {
    if (preds[0]!.length !== 1) throw new Error(`Pred must be a str, was ${JSON.stringify(preds[0])}`);
    hyps = preds.map((p) => {
      const first = typeof p === 'string' ? Array.from(p)[0] : p[0];
      if (first === undefined) throw new RangeError('string index out of range');
      return first;
    });
  }
  return corpusBleu(hyps, streams);
}

// ---------------------------------------------------------------------------------------------------------
// sklearn aggregations the harness registers (f1, matthews_corrcoef), on [gold, pred] items

export type Label = number | string | boolean;

/** Harness `f1` aggregation: sklearn f1_score(golds, preds), binary with pos_label 1; 0 when undefined. */
export function f1Aggregation(items: readonly (readonly [Label, Label])[]): number {
  const labels = new Set<Label>();
  for (const [g, p] of items) labels.add(g).add(p);
  if (labels.size > 2) throw new Error("Target is multiclass but average='binary'.");
  if (labels.size === 2 && !labels.has(1)) throw new Error('pos_label=1 is not a valid label.');
  let tp = 0;
  let trueSum = 0;
  let predSum = 0;
  for (const [g, p] of items) {
    if (g === 1 || g === true) trueSum++;
    if (p === 1 || p === true) predSum++;
    if ((g === 1 || g === true) && (p === 1 || p === true)) tp++;
  }
  const denom = trueSum + predSum;
  return denom === 0 ? 0 : (2 * tp) / denom;
}

/** Harness `matthews_corrcoef` aggregation: sklearn's multiclass MCC over [gold, pred] items. */
export function matthewsCorrcoef(items: readonly (readonly [Label, Label])[]): number {
  const tSum = new Map<Label, number>();
  const pSum = new Map<Label, number>();
  let nCorrect = 0;
  for (const [g, p] of items) {
    tSum.set(g, (tSum.get(g) ?? 0) + 1);
    pSum.set(p, (pSum.get(p) ?? 0) + 1);
    if (g === p) nCorrect++;
  }
  const n = items.length;
  let tp = 0;
  for (const [label, t] of tSum) tp += t * (pSum.get(label) ?? 0);
  const pp = pySum([...pSum.values()].map((p) => p * p));
  const tt = pySum([...tSum.values()].map((t) => t * t));
  const covYtYp = nCorrect * n - tp;
  const covYpYp = n * n - pp;
  const covYtYt = n * n - tt;
  const prod = covYpYp * covYtYt;
  return prod === 0 ? 0 : covYtYp / Math.sqrt(prod);
}

// ---------------------------------------------------------------------------------------------------------
// acc_all (SuperGLUE MultiRC): a question counts only if all its answers are right

export interface AccAllDoc {
  idx: { paragraph: number | string; question: number | string };
  label: number;
}

/** Harness `acc_all` over [prediction, doc] items, grouped by (paragraph, question). */
export function accAll(items: readonly (readonly [boolean | number, AccAllDoc])[]): number {
  return mean(accAllGroups(items, (d) => JSON.stringify([d.idx.paragraph, d.idx.question])));
}

/** Harness `acc_all_stderr`: mean_stderr of the per-question scores, grouped by question id only. */
export function accAllStderr(items: readonly (readonly [boolean | number, AccAllDoc])[]): number {
  return meanStderr(accAllGroups(items, (d) => JSON.stringify(d.idx.question)));
}

function accAllGroups(
  items: readonly (readonly [boolean | number, AccAllDoc])[],
  key: (d: AccAllDoc) => string,
): number[] {
  const groups = new Map<string, boolean>();
  for (const [pred, doc] of items) {
    const k = key(doc);
    const ok = (doc.label === 1) === Boolean(pred) && (typeof pred === 'boolean' || pred === 0 || pred === 1);
    groups.set(k, (groups.get(k) ?? true) && ok);
  }
  return [...groups.values()].map((ok) => (ok ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------------------
// Standard errors

/**
 * Harness `bootstrap_stderr`: floor(iters / chunk) chunks of chunk = min(1000, iters) resamples; chunk i
 * draws with `random.Random(i).choices(xs, k=len(xs))`; the result is sample_stddev of all the replicates
 * (the harness's process pool returns the chunks in order, so the replicate list is the same).
 */
export function bootstrapStderr<T>(f: Aggregation<T>, xs: readonly T[], iters: number): number {
  if (!Number.isInteger(iters) || iters <= 0) throw new RangeError('bootstrap iterations must be a positive integer');
  const chunkSize = Math.min(1000, iters);
  const replicates: number[] = [];
  const chunks = Math.floor(iters / chunkSize);
  for (let i = 0; i < chunks; i++) {
    const rnd = new PyRandom(i);
    for (let j = 0; j < chunkSize; j++) replicates.push(f(rnd.choices(xs, xs.length)));
  }
  return sampleStddev(replicates);
}

/** The aggregations ported here, by the harness's registered name. */
export const AGGREGATIONS: Readonly<Record<string, Aggregation<never>>> = {
  mean,
  median,
  nanmean,
  perplexity,
  weighted_perplexity: weightedPerplexity,
  bits_per_byte: bitsPerByte,
  f1: f1Aggregation,
  matthews_corrcoef: matthewsCorrcoef,
  bleu: harnessBleu,
  acc_all: accAll,
};

/** Aggregations stderr_for_metric bootstraps (chrf, chrf++ and ter need an aggregation passed in). */
export const BOOTSTRAPPABLE: readonly string[] = [
  'median', 'matthews_corrcoef', 'f1', 'perplexity', 'bleu', 'chrf', 'chrf++', 'ter', 'nanmean',
];

/**
 * Harness `stderr_for_metric`, keyed by aggregation name: null when bootstrapIters <= 0; bootstrap_stderr
 * with exactly `bootstrapIters` draws for the bootstrappable aggregations; the closed forms for `mean`
 * (mean_stderr) and `acc_all`; null for everything else (weighted_perplexity, bits_per_byte, brier_score, …).
 * The 100-iteration cap is applied by the caller per *metric* name: see `bootstrapItersForMetric`.
 */
export function stderrForAggregation<T>(
  name: string,
  bootstrapIters: number,
  aggregate?: Aggregation<T>,
): Aggregation<T> | null {
  if (bootstrapIters <= 0) return null;
  if (BOOTSTRAPPABLE.includes(name)) {
    const f = aggregate ?? (AGGREGATIONS[name] as Aggregation<T> | undefined);
    if (!f) throw new Error(`no TypeScript implementation of the '${name}' aggregation; pass one in`);
    return (xs) => bootstrapStderr(f, xs, bootstrapIters);
  }
  if (name === 'mean') return meanStderr as unknown as Aggregation<T>;
  if (name === 'acc_all') return accAllStderr as unknown as Aggregation<T>;
  return null;
}

/** _compute_task_aggregations: metrics *named* bleu, chrf, chrf++ or ter bootstrap with min(iters, 100). */
export function bootstrapItersForMetric(metricName: string, bootstrapIters: number): number {
  return ['bleu', 'chrf', 'chrf++', 'ter'].includes(metricName) ? Math.min(bootstrapIters, 100) : bootstrapIters;
}

/**
 * The `<metric>_stderr` value the harness reports for one metric: 'N/A' when bootstrapping is off, the
 * aggregation has no stderr, or there is at most one item.
 */
export function harnessStderr<T>(
  metricName: string,
  aggregationName: string,
  items: readonly T[],
  bootstrapIters: number,
  aggregate?: Aggregation<T>,
): number | 'N/A' {
  if (!Number.isInteger(bootstrapIters) || bootstrapIters <= 0) return 'N/A';
  const fn = stderrForAggregation(aggregationName, bootstrapItersForMetric(metricName, bootstrapIters), aggregate);
  return fn && items.length > 1 ? fn(items) : 'N/A';
}
