// Per-document metric values and their aggregation, as lm-evaluation-harness's ConfigurableTask.process_results and
// aggregation() compute them, plus GPT-3's two multiple-choice rules the harness leaves out:
//   acc_per_token     — argmax of ll / (number of continuation tokens)  (GPT-3 §2.4's default normalisation)
//   acc_unconditional — argmax of ll(choice | context) − ll(choice | answer_context)  (ARC, OpenBookQA, RACE;
//                       answer_context is the metric's `answer_context` kwarg, default "Answer:")
// The harness's rules: acc = argmax ll; acc_norm = argmax ll / characters of the choice; acc_bytes = … / UTF-8 bytes;
// acc_mutual_info = argmax ll − ll("" → choice); ties go to the first index (numpy argmax).

import { AGGREGATIONS as METRIC_AGGREGATIONS, exactMatch, harnessBleu, harnessStderr, squadF1Max } from './metrics.js';

export interface MetricSpec {
  metric: string;
  aggregation?: string;
  higher_is_better?: boolean;
  [kwarg: string]: unknown;
}

/** (log-likelihood, is_greedy, number of continuation tokens) of one request. */
export interface LlAnswer {
  ll: number;
  greedy: boolean;
  tokens?: number;
}

export const DEFAULT_ANSWER_CONTEXT = 'Answer:';

/** The metric each output type reports when a task lists none (the harness's defaults). */
export const DEFAULT_METRICS: Record<string, string[]> = {
  loglikelihood: ['perplexity', 'acc'],
  loglikelihood_rolling: ['word_perplexity', 'byte_perplexity', 'bits_per_byte'],
  multiple_choice: ['acc', 'acc_norm'],
  generate_until: ['exact_match'],
};

const DEFAULT_AGGREGATION: Record<string, string> = {
  acc: 'mean',
  acc_norm: 'mean',
  acc_bytes: 'mean',
  acc_mutual_info: 'mean',
  acc_per_token: 'mean',
  acc_unconditional: 'mean',
  exact_match: 'mean',
  f1: 'mean',
  perplexity: 'perplexity',
  word_perplexity: 'weighted_perplexity',
  byte_perplexity: 'weighted_perplexity',
  bits_per_byte: 'bits_per_byte',
  bleu: 'bleu',
};

const LOWER_IS_BETTER = new Set(['perplexity', 'word_perplexity', 'byte_perplexity', 'bits_per_byte']);

const SUPPORTED: Record<string, readonly string[]> = {
  loglikelihood: ['perplexity', 'acc'],
  loglikelihood_rolling: ['word_perplexity', 'byte_perplexity', 'bits_per_byte'],
  multiple_choice: ['acc', 'acc_norm', 'acc_bytes', 'acc_mutual_info', 'acc_per_token', 'acc_unconditional', 'exact_match'],
  generate_until: ['exact_match', 'f1', 'bleu'],
};

export function aggregationOf(m: MetricSpec): string {
  return m.aggregation ?? DEFAULT_AGGREGATION[m.metric] ?? 'mean';
}

export function higherIsBetter(m: MetricSpec): boolean {
  return m.higher_is_better ?? !LOWER_IS_BETTER.has(m.metric);
}

/** The task's metrics (its metric_list, or the output type's defaults), checked against what the output type computes. */
export function metricsOf(task: string, outputType: string, list: readonly MetricSpec[] | undefined): MetricSpec[] {
  const specs = list && list.length > 0 ? [...list] : (DEFAULT_METRICS[outputType] ?? []).map((metric) => ({ metric }));
  const ok = SUPPORTED[outputType];
  if (!ok) throw new Error(`task '${task}': output_type '${outputType}' is not one of ${Object.keys(SUPPORTED).join(', ')}`);
  for (const s of specs) {
    if (typeof s.metric !== 'string') throw new Error(`task '${task}': metric_list entries need a 'metric' name (custom !function metrics cannot run here)`);
    if (!ok.includes(s.metric)) throw new Error(`task '${task}': metric '${s.metric}' is not available for output_type ${outputType} (available: ${ok.join(', ')})`);
    const agg = aggregationOf(s);
    if (!AGGREGATIONS[agg]) throw new Error(`task '${task}': aggregation '${agg}' of metric '${s.metric}' is not one of ${Object.keys(AGGREGATIONS).join(', ')}`);
  }
  return specs;
}

/** numpy.argmax: the first index of the maximum (NaN wins, as numpy's does). */
export function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isNaN(xs[i]!)) return i;
    if (xs[i]! > xs[best]!) best = i;
  }
  return best;
}

const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');

/** The harness's count_words: len(re.split(r"\s+", text)). */
export function countWords(text: string): number {
  return text.split(/\s+/).length;
}

export type MetricValue = number | [unknown, unknown];

/** loglikelihood: perplexity = ll, acc = is_greedy. */
export function loglikelihoodMetrics(metrics: readonly MetricSpec[], a: LlAnswer): Record<string, MetricValue> {
  const out: Record<string, MetricValue> = {};
  for (const m of metrics) {
    if (m.metric === 'perplexity') out.perplexity = a.ll;
    else if (m.metric === 'acc') out.acc = a.greedy ? 1 : 0;
  }
  return out;
}

/** loglikelihood_rolling: (ll, words) and (ll, bytes) of the target text. */
export function rollingMetrics(metrics: readonly MetricSpec[], ll: number, text: string): Record<string, MetricValue> {
  const out: Record<string, MetricValue> = {};
  for (const m of metrics) {
    if (m.metric === 'word_perplexity') out.word_perplexity = [ll, countWords(text)];
    else if (m.metric === 'byte_perplexity') out.byte_perplexity = [ll, utf8Length(text)];
    else if (m.metric === 'bits_per_byte') out.bits_per_byte = [ll, utf8Length(text)];
  }
  return out;
}

export interface ChoiceAnswers {
  /** One per choice: ll(target_delimiter + choice | context). */
  conditional: LlAnswer[];
  /** acc_mutual_info: ll(choice | ""). */
  mutualInfo?: LlAnswer[];
  /** acc_unconditional: ll(choice | answer_context). */
  unconditional?: LlAnswer[];
}

/**
 * multiple_choice: gold is an index, a list of indices (multiple targets) or a choice string; an index outside the
 * choices counts as wrong (the harness's -100, with a warning).
 */
export function multipleChoiceMetrics(
  metrics: readonly MetricSpec[],
  choices: readonly string[],
  gold: number | number[] | string,
  a: ChoiceAnswers,
  warn: (m: string) => void,
): Record<string, MetricValue> {
  const lls = a.conditional.map((x) => x.ll);
  let golds: number[];
  const multiple = Array.isArray(gold);
  if (Array.isArray(gold)) golds = gold.map((g) => (g < choices.length ? g : -100));
  else if (typeof gold === 'number') golds = [gold < choices.length && gold >= 0 ? gold : -100];
  else golds = [choices.indexOf(gold) >= 0 ? choices.indexOf(gold) : -100];
  if (golds.includes(-100)) warn(`label ${JSON.stringify(gold)} is not within the ${choices.length} choices`);
  const hit = (pred: number) => (multiple ? golds.includes(pred) : pred === golds[0]) ? 1 : 0;
  const out: Record<string, MetricValue> = {};
  for (const m of metrics) {
    switch (m.metric) {
      case 'acc':
        out.acc = hit(argmax(lls));
        break;
      case 'acc_norm':
        out.acc_norm = hit(argmax(lls.map((ll, i) => ll / choices[i]!.length)));
        break;
      case 'acc_bytes':
        out.acc_bytes = hit(argmax(lls.map((ll, i) => ll / utf8Length(choices[i]!))));
        break;
      case 'exact_match':
        out.exact_match = multiple ? (golds.some((g) => g !== -100 && a.conditional[g]!.greedy) ? 1 : 0) : golds[0]! !== -100 && a.conditional[golds[0]!]!.greedy ? 1 : 0;
        break;
      case 'acc_mutual_info':
        out.acc_mutual_info = hit(argmax(lls.map((ll, i) => ll - a.mutualInfo![i]!.ll)));
        break;
      case 'acc_per_token':
        out.acc_per_token = hit(
          argmax(
            a.conditional.map((x) => {
              if (x.tokens === undefined) throw new Error('acc_per_token needs the number of continuation tokens; this backend does not report it');
              return x.ll / Math.max(1, x.tokens);
            }),
          ),
        );
        break;
      case 'acc_unconditional':
        out.acc_unconditional = hit(argmax(lls.map((ll, i) => ll - a.unconditional![i]!.ll)));
        break;
    }
  }
  return out;
}

/** generate_until: each metric of the (filtered) generation against the gold text(s); any gold matching counts. */
export function generationMetrics(metrics: readonly MetricSpec[], gold: string | string[], result: string): Record<string, MetricValue> {
  const golds = Array.isArray(gold) ? gold : [gold];
  const out: Record<string, MetricValue> = {};
  for (const m of metrics) {
    if (m.metric === 'exact_match') {
      const o = {
        ignoreCase: m.ignore_case === true,
        ignorePunctuation: m.ignore_punctuation === true,
        ignoreNumbers: m.ignore_numbers === true,
        regexesToIgnore: Array.isArray(m.regexes_to_ignore) ? (m.regexes_to_ignore as string[]) : undefined,
      };
      out.exact_match = golds.some((g) => exactMatch(result, g, o) > 0) ? 1 : 0;
    } else if (m.metric === 'f1') {
      out.f1 = squadF1Max(result, golds);
    } else if (m.metric === 'bleu') {
      out.bleu = [gold, result]; // the harness's bleu item: [gold, prediction], gold as the task gives it
    }
  }
  return out;
}

type Aggregation = (items: unknown[]) => number;

/** The harness's aggregations by name (mean, median, perplexity, weighted_perplexity, bits_per_byte, bleu, …). */
export const AGGREGATIONS: Record<string, Aggregation> = {
  ...(METRIC_AGGREGATIONS as unknown as Record<string, Aggregation>),
  bleu: (xs) => harnessBleu(xs as [string | string[], string][]),
};

/**
 * Aggregate one metric's per-document values, with the harness's standard error: mean_stderr for means, a bootstrap
 * for the others it bootstraps (100 iterations at most for bleu/chrf/ter, by metric name), "N/A" for one item, for
 * aggregations it does not bootstrap (weighted_perplexity, bits_per_byte) and with bootstrapIters 0.
 */
export function aggregate(spec: MetricSpec, items: unknown[], bootstrapIters: number): { value: number; stderr: number | 'N/A' } {
  const name = aggregationOf(spec);
  const fn = AGGREGATIONS[name]!;
  const value = fn(items);
  const stderr = harnessStderr(spec.metric, name, items, bootstrapIters, fn as never);
  return { value, stderr };
}
