// Few-shot evaluation of one task at one K, the way lm-evaluation-harness's simple_evaluate does it: documents in
// order, one few-shot sampler per task (random.Random(seed), seed 1234) drawing each document's examples, the
// requests each output type needs, answers from the model (through the request cache), filters, per-document metrics,
// aggregation with standard errors, and --log_samples-style records. K = 'max' packs, per document, as many of its
// drawn examples as fit the model's context (GPT-3's few-shot setting).

import { createHash } from 'node:crypto';
import type { LanguageModel } from '../lm/language-model.js';
import { applyPipeline, NO_FILTER, type FilterPipeline } from './filters.js';
import { PyRandom } from './py-random.js';
import type { RequestCache } from './request-cache.js';
import { runGenerate, runLoglikelihood, runRolling, type GenRequest, type LlRequest, type LlResult } from './run-requests.js';
import {
  aggregate,
  aggregationOf,
  DEFAULT_ANSWER_CONTEXT,
  generationMetrics,
  higherIsBetter,
  loglikelihoodMetrics,
  metricsOf,
  multipleChoiceMetrics,
  rollingMetrics,
  type MetricSpec,
  type MetricValue,
} from './scoring.js';
import type { Task } from './task.js';
import { pyFloatRepr, pyStr } from './templates.js';

export type Doc = Record<string, unknown>;
export type NumFewshot = number | 'max';

export interface EvaluateOptions {
  /** K; undefined = the task's num_fewshot (else 0). */
  numFewshot?: NumFewshot;
  /** Evaluate the first N documents (or this fraction of them when < 1, as the harness). */
  limit?: number;
  /** Few-shot sampler seed (the harness's fewshot_seed, default 1234). */
  seed?: number;
  /** Standard-error bootstrap iterations (harness default 100000). */
  bootstrapIters?: number;
  /** Requests per model call. */
  batchSize?: number;
  cache?: RequestCache;
  /** Model identity in the request cache. */
  modelId: string;
  progress?: boolean;
  log?: (line: string) => void;
  /** Most examples 'max' tries per document (default 64). */
  maxShots?: number;
}

/** One document's record, in the shape of the harness's samples_<task>.jsonl (--log_samples). */
export interface SampleRecord {
  doc_id: number;
  doc: Doc;
  target: string;
  arguments: Record<string, Record<string, unknown>>;
  resps: unknown[];
  filtered_resps: unknown[];
  filter: string;
  metrics: string[];
  doc_hash: string;
  prompt_hash: string;
  target_hash: string;
  /** tessera: the number of examples in this document's context (differs per document with K = max). */
  num_fewshot: number;
  [metric: string]: unknown;
}

export interface TaskResult {
  task: string;
  numFewshot: NumFewshot;
  seed: number;
  /** "metric,filter" and "metric_stderr,filter" values, as results[task] in results.json. */
  metrics: Record<string, number | 'N/A'>;
  sampleLen: number;
  originalLen: number;
  higherIsBetter: Record<string, boolean>;
  version: number | string | null;
  config: Record<string, unknown>;
  /** Samples per filter name. */
  samples: SampleRecord[];
  /** Mean number of examples per context (equals K except with 'max' or a small few-shot pool). */
  meanShots: number;
  seconds: number;
  warnings: string[];
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Python's json.dumps(doc, indent=2, ensure_ascii=False) for the harness's doc_hash (JSON values). */
function pyJsonIndent(v: unknown): string {
  return JSON.stringify(v, null, 2) ?? 'null';
}

/** The harness writes responses through str(): floats Python-style (templates.ts's repr), booleans True/False. */
const llResp = (a: LlResult) => [pyFloatRepr(a.ll), a.greedy ? 'True' : 'False'];

interface DocPlan {
  doc: Doc;
  docId: number;
  context: string;
  shots: number;
  ll: LlRequest[];
  /** Index ranges of this document's requests in the task-wide lists. */
  llStart: number;
  rolling?: string;
  rollingIndex: number;
  gen?: GenRequest;
  genIndex: number;
  /** multiple_choice: counts of conditional / mutual-info / answer-context requests. */
  nChoices: number;
  nMutual: number;
  nUncond: number;
  choices: string[];
  target: unknown;
}

/** Index of the first `n` documents, or the fraction `limit` (< 1) of them, as the harness's --limit. */
function limitDocs(n: number, limit: number | undefined): number {
  if (limit === undefined) return n;
  if (!(limit > 0)) throw new Error(`--limit must be positive, got ${limit}`);
  return limit < 1 ? Math.ceil(n * limit) : Math.min(n, Math.floor(limit));
}

/** Evaluate `task` on `lm`. */
export async function evaluateTask(task: Task, lm: LanguageModel, o: EvaluateOptions): Promise<TaskResult> {
  const t0 = Date.now();
  const cfg = task.config;
  const name = cfg.task;
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    o.log?.(`warning: task '${name}': ${m}`);
  };
  const outputType = cfg.output_type;
  const metrics = metricsOf(name, outputType, cfg.metric_list as MetricSpec[] | undefined);
  const names = new Set(metrics.map((m) => m.metric));
  const K: NumFewshot = o.numFewshot ?? cfg.num_fewshot ?? 0;
  if (K !== 'max' && !(Number.isInteger(K) && K >= 0)) throw new Error(`task '${name}': num_fewshot must be an integer ≥ 0 or 'max', got ${String(K)}`);
  const seed = o.seed ?? 1234;
  const allDocs = task.evalDocs();
  const docs = allDocs.slice(0, limitDocs(allDocs.length, o.limit));
  const rnd = new PyRandom(seed);
  const maxContext = await lm.maxContext();
  const genKwargs = (cfg.generation_kwargs ?? {}) as Record<string, unknown>;
  const maxGen = outputType === 'generate_until' ? Number(genKwargs.max_gen_toks ?? 256) : 0;

  // ---- contexts and requests, document by document (the sampler's draws follow document order)
  const plans: DocPlan[] = [];
  const ll: LlRequest[] = [];
  const rollingTexts: string[] = [];
  const gens: GenRequest[] = [];
  const answerContext = String(metrics.find((m) => m.metric === 'acc_unconditional')?.answer_context ?? DEFAULT_ANSWER_CONTEXT);
  let shotSum = 0;
  for (let d = 0; d < docs.length; d++) {
    const doc = docs[d]!;
    let context: string;
    let shots: number;
    if (K === 'max') ({ context, shots } = await packedContext(task, doc, lm, rnd, maxContext, maxGen, o.maxShots ?? 64));
    else {
      context = task.fewshotContext(doc, K, rnd);
      shots = K;
    }
    shotSum += shots;
    const plan: DocPlan = { doc, docId: d, context, shots, ll: [], llStart: ll.length, rollingIndex: -1, genIndex: -1, nChoices: 0, nMutual: 0, nUncond: 0, choices: [], target: task.docToTarget(doc) };
    const delim = task.targetDelimiter;
    if (outputType === 'multiple_choice') {
      plan.choices = task.docToChoice(doc);
      plan.nChoices = plan.choices.length;
      for (const c of plan.choices) plan.ll.push({ context, continuation: delim + c });
      if (names.has('acc_mutual_info')) {
        plan.nMutual = plan.nChoices;
        for (const c of plan.choices) plan.ll.push({ context: '', continuation: delim + c });
      }
      if (names.has('acc_unconditional')) {
        plan.nUncond = plan.nChoices;
        for (const c of plan.choices) plan.ll.push({ context: answerContext, continuation: delim + c });
      }
    } else if (outputType === 'loglikelihood') {
      // the harness scores (context, doc_to_target) here: no target_delimiter (lambada's target carries its space)
      plan.ll.push({ context, continuation: targetText(task, doc, plan.target) });
    } else if (outputType === 'loglikelihood_rolling') {
      plan.rolling = targetText(task, doc, plan.target);
      plan.rollingIndex = rollingTexts.length;
      rollingTexts.push(plan.rolling);
    } else if (outputType === 'generate_until') {
      plan.gen = genRequest(name, context, genKwargs, task.fewshotDelimiter);
      plan.genIndex = gens.length;
      gens.push(plan.gen);
    }
    ll.push(...plan.ll);
    plans.push(plan);
  }
  if (outputType === 'generate_until' && names.size === 0) throw new Error(`task '${name}': no metric`);

  // contexts that do not fit are cut from the left, as the harness does (its models keep the last max_length tokens)
  if (K !== 'max') {
    let cut = 0;
    for (const p of plans) {
      const need = (await lm.tokenize(p.context)).length + (outputType === 'generate_until' ? maxGen : 1);
      if (need > maxContext) cut++;
    }
    if (cut > 0) warn(`${cut} of ${plans.length} contexts (${K}-shot) are longer than the model's ${maxContext} tokens; they are truncated from the left`);
  }

  // ---- answers
  const run = { cache: o.cache, modelId: o.modelId, chunk: o.batchSize ? Math.max(o.batchSize, 1) * 4 : undefined, progress: o.progress, log: o.log, label: `${name} (${K}-shot)` };
  const llAnswers = ll.length > 0 ? await runLoglikelihood(lm, ll, run) : [];
  const bad = llAnswers.findIndex((a) => a.error !== undefined || !Number.isFinite(a.ll));
  if (bad >= 0) throw new Error(`task '${name}': request ${bad} could not be scored: ${llAnswers[bad]!.error ?? 'no log-likelihood'}`);
  const rollingAnswers = rollingTexts.length > 0 ? await runRolling(lm, rollingTexts, run) : [];
  const genAnswers = gens.length > 0 ? await runGenerate(lm, gens, run) : [];

  // ---- per-document metrics, per filter
  const pipelines: FilterPipeline[] = outputType === 'generate_until' && cfg.filter_list?.length ? (cfg.filter_list as FilterPipeline[]) : [NO_FILTER];
  const raw = new Map<string, unknown[]>(); // "metric,filter" → items
  const samples: SampleRecord[] = [];
  for (const pipe of pipelines) {
    for (const p of plans) {
      const answers = llAnswers.slice(p.llStart, p.llStart + p.ll.length);
      let values: Record<string, MetricValue>;
      let resps: unknown[];
      let filtered: unknown[];
      const args: unknown[][] = [];
      if (outputType === 'multiple_choice') {
        const cond = answers.slice(0, p.nChoices);
        values = multipleChoiceMetrics(
          metrics,
          p.choices,
          p.target as number | number[] | string,
          {
            conditional: cond,
            mutualInfo: p.nMutual ? answers.slice(p.nChoices, p.nChoices + p.nMutual) : undefined,
            unconditional: p.nUncond ? answers.slice(p.nChoices + p.nMutual) : undefined,
          },
          (m) => warn(`document ${p.docId}: ${m}`),
        );
        p.ll.forEach((r) => args.push([r.context, r.continuation]));
        resps = answers.map((a) => [llResp(a)]);
        filtered = answers.map(llResp);
      } else if (outputType === 'loglikelihood') {
        values = loglikelihoodMetrics(metrics, answers[0]!);
        args.push([p.ll[0]!.context, p.ll[0]!.continuation]);
        resps = [[llResp(answers[0]!)]];
        filtered = [llResp(answers[0]!)];
      } else if (outputType === 'loglikelihood_rolling') {
        const a = rollingAnswers[p.rollingIndex]!;
        values = rollingMetrics(metrics, a.ll, p.rolling!);
        args.push([p.rolling!]);
        resps = [[pyFloatRepr(a.ll)]];
        filtered = [pyFloatRepr(a.ll)];
      } else {
        const text = genAnswers[p.genIndex]!;
        const f = applyPipeline(pipe, [text]);
        const result = Array.isArray(f) ? (f[0] ?? '') : f;
        values = generationMetrics(metrics, goldText(task, p), result);
        args.push([p.gen!.context, genArgsForLog(genKwargs, p.gen!)]);
        resps = [[text]];
        filtered = [result];
      }
      for (const [m, v] of Object.entries(values)) {
        const key = `${m},${pipe.name}`;
        if (!raw.has(key)) raw.set(key, []);
        raw.get(key)!.push(v);
      }
      const arguments_: Record<string, Record<string, unknown>> = {};
      args.forEach((a, i) => (arguments_[`gen_args_${i}`] = Object.fromEntries(a.map((x, j) => [`arg_${j}`, x]))));
      samples.push({
        doc_id: p.docId,
        doc: p.doc,
        target: pyStr(p.target),
        arguments: arguments_,
        resps,
        filtered_resps: filtered,
        filter: pipe.name,
        metrics: Object.keys(values),
        doc_hash: sha256(pyJsonIndent(p.doc)),
        prompt_hash: sha256(String(args[0]?.[0] ?? '')),
        target_hash: sha256(pyStr(p.target)),
        num_fewshot: p.shots,
        ...Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v])),
      });
    }
  }

  // ---- aggregation
  const out: Record<string, number | 'N/A'> = {};
  let sampleLen = 0;
  for (const [key, items] of raw) {
    const [metric, filter] = key.split(',') as [string, string];
    const spec = metrics.find((m) => m.metric === metric)!;
    const { value, stderr } = aggregate(spec, items, o.bootstrapIters ?? 100000);
    out[`${metric},${filter}`] = value;
    out[`${metric}_stderr,${filter}`] = stderr;
    sampleLen = Math.max(sampleLen, items.length);
  }
  return {
    task: name,
    numFewshot: K,
    seed,
    metrics: out,
    sampleLen,
    originalLen: allDocs.length,
    higherIsBetter: Object.fromEntries(metrics.map((m) => [m.metric, higherIsBetter(m)])),
    version: (cfg.metadata as { version?: number | string } | undefined)?.version ?? null,
    config: { ...task.dumpConfig(), num_fewshot: K, metric_list: metrics.map((m) => ({ ...m, aggregation: aggregationOf(m) })) },
    samples,
    meanShots: docs.length > 0 ? shotSum / docs.length : 0,
    seconds: (Date.now() - t0) / 1000,
    warnings,
  };
}

/** The target as text (loglikelihood and rolling tasks): an index picks the choice; a list its first element. */
function targetText(task: Task, doc: Doc, target: unknown): string {
  if (typeof target === 'number' && task.config.doc_to_choice !== undefined) return task.docToChoice(doc)[target] ?? String(target);
  if (Array.isArray(target)) return String(target[0]);
  return String(target);
}

/** The gold text(s) a generation is compared with (the harness: choices[target] when doc_to_choice is set). */
function goldText(task: Task, p: DocPlan): string | string[] {
  const t = p.target;
  if (task.config.doc_to_choice !== undefined && typeof t === 'number') return task.docToChoice(p.doc)[t] ?? String(t);
  if (Array.isArray(t)) return t.map(String);
  return String(t);
}

function genRequest(task: string, context: string, kw: Record<string, unknown>, fewshotDelimiter: string): GenRequest {
  const untilRaw = kw.until ?? [fewshotDelimiter];
  const until = typeof untilRaw === 'string' ? [untilRaw] : (untilRaw as unknown[]);
  if (!Array.isArray(until) || until.some((u) => typeof u !== 'string')) throw new Error(`task '${task}': generation_kwargs.until must be a string or a list of strings`);
  const maxGenToks = Number(kw.max_gen_toks ?? 256);
  if (!Number.isInteger(maxGenToks) || maxGenToks < 1) throw new Error(`task '${task}': generation_kwargs.max_gen_toks must be a positive integer, got ${String(kw.max_gen_toks)}`);
  const doSample = kw.do_sample === true;
  const temperature = doSample ? Number(kw.temperature ?? 1) : 0;
  if (!(temperature >= 0)) throw new Error(`task '${task}': generation_kwargs.temperature must be >= 0, got ${String(kw.temperature)}`);
  const numBeams = Number(kw.num_beams ?? 1);
  if (!Number.isInteger(numBeams) || numBeams < 1) throw new Error(`task '${task}': generation_kwargs.num_beams must be a positive integer, got ${String(kw.num_beams)}`);
  const lengthPenalty = Number(kw.length_penalty ?? 1);
  if (!Number.isFinite(lengthPenalty)) throw new Error(`task '${task}': generation_kwargs.length_penalty must be a number, got ${String(kw.length_penalty)}`);
  // default: Hugging Face's |y|^α, what the harness's hf backend runs for the same YAML; GPT-3's setting is
  // length_penalty_style: gnmt (((5 + |y|) / 6)^α) with num_beams: 4, length_penalty: 0.6
  const style = kw.length_penalty_style ?? 'hf';
  if (style !== 'gnmt' && style !== 'hf') throw new Error(`task '${task}': generation_kwargs.length_penalty_style must be 'gnmt' or 'hf', got ${String(style)}`);
  return { context, until: until as string[], maxGenToks, temperature, numBeams, lengthPenalty, lengthPenaltyStyle: style, seed: Number(kw.seed ?? 1234) };
}

/** The generation kwargs as the harness logs them (its own dict, with `until` filled in). */
function genArgsForLog(kw: Record<string, unknown>, g: GenRequest): Record<string, unknown> {
  return { ...kw, until: g.until, ...(kw.max_gen_toks === undefined ? {} : { max_gen_toks: g.maxGenToks }) };
}

/**
 * K = max: draw up to `cap` examples for the document once (the sampler's one call per document), then keep the
 * longest prefix of them whose context, plus the longest continuation or the generation budget, fits the model.
 */
async function packedContext(task: Task, doc: Doc, lm: LanguageModel, rnd: PyRandom, maxContext: number, maxGen: number, cap: number): Promise<{ context: string; shots: number }> {
  const pool = task.fewshotPoolSize(doc);
  const n = Math.min(cap, pool);
  const examples = task.drawExamples(doc, n, rnd);
  // room kept after the context: the longest choice, the target (loglikelihood), or the generation budget
  const ot = task.config.output_type;
  const tail =
    ot === 'multiple_choice'
      ? Math.max(0, ...(await Promise.all(task.docToChoice(doc).map(async (c) => (await lm.tokenize(task.targetDelimiter + c)).length))))
      : ot === 'loglikelihood'
        ? (await lm.tokenize(targetText(task, doc, task.docToTarget(doc)))).length
        : maxGen;
  const fits = async (k: number) => (await lm.tokenize(task.contextFromExamples(doc, examples.slice(0, k)))).length + tail <= maxContext;
  // the longest fitting prefix, by binary search (the context grows with k)
  let lo = 0;
  let hi = examples.length;
  if (!(await fits(0))) return { context: task.contextFromExamples(doc, []), shots: 0 };
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (await fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return { context: task.contextFromExamples(doc, examples.slice(0, lo)), shots: lo };
}
