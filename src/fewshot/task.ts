// A few-shot task: its config, documents and prompts, byte-identical to lm-evaluation-harness 0.4.13's
// ConfigurableTask on the plain-text (non-chat) path. fewshot_context = description + Σ over the drawn examples of
// (doc_to_text + target_delimiter + answer + fewshot_delimiter) + doc_to_text(doc) (build_qa_turn, with gen_prefix);
// the samplers of api/samplers.py; construct_requests' arguments per output type.
//
// Seeding: the harness seeds one random.Random(1234) per task (simple_evaluate → task.set_fewshot_seed(1234)) and
// its sampler draws from it for each evaluated document in document order. So the caller creates ONE
// `new PyRandom(1234)` per task (and per K) and passes it to fewshotContext for every document, in order.

import { evalSplitName, fewshotSplitName, loadDataset, splitDocs, type Dataset } from './dataset.js';
import type { PyRandom } from './py-random.js';
import type { GenerationKwargs, LoadedTaskConfig, TaskConfig } from './task-config.js';
import { pyIsSpace, pyRepr, pyStr, resolveDocToChoice, resolveDocToTarget, resolveDocToText, resolveField, type Doc, type DocContext } from './templates.js';

export type { Doc };

/** One request of a document, as the harness's Instance: request_type, idx and arguments. */
export type TaskRequest =
  | {
      kind: 'loglikelihood';
      idx: number;
      arguments: [context: string, continuation: string];
      /** multiple_choice with acc_mutual_info: the unconditional ("", delimiter + choice) requests after the choices. */
      unconditional?: true;
    }
  | { kind: 'loglikelihood_rolling'; idx: number; arguments: [text: string] }
  | { kind: 'generate_until'; idx: number; arguments: [context: string, generationKwargs: GenerationKwargs] };

export class TaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskError';
  }
}

/** Python's == on JSON-like values (True == 1, dicts by keys and values): how the samplers compare documents. */
function pyEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const numeric = (x: unknown) => typeof x === 'number' || typeof x === 'boolean';
  if (numeric(a) && numeric(b)) return Number(a) === Number(b);
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => pyEqual(x, b[i]));
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const ka = Object.keys(a);
    const kb = b as Record<string, unknown>;
    return ka.length === Object.keys(kb).length && ka.every((k) => Object.hasOwn(kb, k) && pyEqual((a as Record<string, unknown>)[k], kb[k]));
  }
  return false;
}

/** api/utils.py maybe_delimit: join with the delimiter unless either side already has whitespace at the seam. */
function maybeDelimit(prefix: string | undefined, suffix: string, delimiter: string): string {
  if (!prefix) return suffix;
  if (!suffix) return prefix;
  return pyIsSpace(prefix.at(-1)!) || pyIsSpace(suffix[0]!) ? prefix + suffix : prefix + delimiter + suffix;
}

/** api/utils.py requires_delimiter. */
function requiresDelimiter(prefix: string, suffix: string): boolean {
  if (prefix === '') return false;
  return !(pyIsSpace(prefix.at(-1)!) || pyIsSpace(suffix[0]!));
}

const isPyInt = (x: unknown): x is number | boolean => (typeof x === 'number' && Number.isInteger(x)) || typeof x === 'boolean';

export class Task {
  readonly config: TaskConfig;
  /** Warnings from loading the config (when constructed from loadTaskConfig's result). */
  readonly warnings: readonly string[];
  private data?: Dataset;
  private pool?: Doc[];
  private readonly contexts = new Map<string, DocContext>();

  /** From a TaskConfig, or from loadTaskConfig's { config, warnings }. Python functions (!function) are refused here. */
  constructor(config: TaskConfig | LoadedTaskConfig) {
    const loaded = 'config' in config && 'warnings' in config ? config : { config, warnings: [] };
    this.config = loaded.config;
    this.warnings = loaded.warnings;
    const fn = this.config.functions[0];
    if (fn) {
      throw new TaskError(
        `task '${this.config.task}' (${this.config.yaml_path}): ${fn.field} is the Python function '${fn.name}' (!function), which tessera cannot run; ` +
          'express it as a Jinja template (doc_to_*), preprocess the data files (process_docs), or drop it',
      );
    }
  }

  get name(): string {
    return this.config.task;
  }
  get targetDelimiter(): string {
    return this.config.target_delimiter;
  }
  get fewshotDelimiter(): string {
    return this.config.fewshot_delimiter;
  }
  /** The split evaluated (test_split, else validation_split). */
  get evalSplit(): string {
    return evalSplitName(this.config);
  }

  private dataset(): Dataset {
    return (this.data ??= loadDataset(this.config));
  }

  private ctx(field: string): DocContext {
    let c = this.contexts.get(field);
    if (!c) {
      const ds = this.dataset();
      c = { task: this.config.task, field, features: new Set(ds.columns), hasChoice: this.config.doc_to_choice !== undefined, schema: ds.schema };
      this.contexts.set(field, c);
    }
    return c;
  }

  /** The field's name in messages: fewshot_config.X when the few-shot config overrides X. */
  private fewshotField(name: string): string {
    const own = this.config.raw.fewshot_config;
    return typeof own === 'object' && own !== null && name in own ? `fewshot_config.${name}` : name;
  }

  /** The documents evaluated, in order (the harness's eval_docs). */
  evalDocs(): Doc[] {
    const split = this.evalSplit;
    const docs = splitDocs(this.config, split, 'evaluation');
    if (docs.length === 0) throw new TaskError(`task '${this.name}': the evaluation split '${split}' (${this.config.data_files[split]!.join(', ')}) has no documents`);
    return docs;
  }

  /** The few-shot pool (fewshot_config.split / fewshot_split, else samples, else training → validation → test; then fewshot_indices). */
  fewshotDocs(): Doc[] {
    if (this.pool) return this.pool;
    const fs = this.config.fewshot_config;
    let pool: Doc[];
    if (fs.split !== undefined) pool = splitDocs(this.config, fs.split, 'few-shot');
    else if (fs.samples !== undefined) pool = fs.samples;
    else {
      const split = fewshotSplitName(this.config);
      if (split === undefined) throw new TaskError(`task '${this.name}': no split to draw few-shot examples from`);
      pool = splitDocs(this.config, split, 'few-shot');
    }
    if (fs.fewshot_indices?.length) {
      const all = pool;
      pool = fs.fewshot_indices.map((i) => {
        const d = all[i];
        if (d === undefined) throw new TaskError(`task '${this.name}': fewshot_config.fewshot_indices has ${i}, but the pool has ${all.length} documents`);
        return d;
      });
    }
    return (this.pool = pool);
  }

  /** Where the pool comes from, for messages. */
  private poolName(): string {
    const fs = this.config.fewshot_config;
    if (fs.split !== undefined) return `few-shot split '${fs.split}'`;
    if (fs.samples !== undefined) return 'fewshot_config.samples';
    return `few-shot split '${fewshotSplitName(this.config)}'`;
  }

  /**
   * Whether the sampler gets the evaluated document to leave out: fewshot_context passes it when the few-shot
   * split equals test_split, compared as Python values (so also when both are unset: None == None).
   */
  excludesEvalDoc(): boolean {
    return this.config.fewshot_config.split === this.config.test_split;
  }

  docToText(doc: Doc, spec = this.config.doc_to_text, field = 'doc_to_text'): string | number {
    const v = resolveDocToText(spec, doc, this.ctx(field));
    if (typeof v === 'string' || typeof v === 'number') return v;
    throw new TaskError(`task '${this.name}': ${field} gave ${pyRepr(v)}, not a string`);
  }

  /** doc_to_target as the harness returns it: a string, an int (a choice index), or a list (multiple targets). */
  docToTarget(doc: Doc, spec = this.config.doc_to_target, field = 'doc_to_target'): unknown {
    return resolveDocToTarget(spec, doc, this.ctx(field));
  }

  /** doc_to_choice's choices as they are (the harness's list). */
  docToChoiceValues(doc: Doc, spec = this.config.doc_to_choice, field = 'doc_to_choice'): unknown[] {
    if (spec === undefined) throw new TaskError(`task '${this.name}': doc_to_choice was called but is not set`);
    return resolveDocToChoice(spec, doc, this.ctx(field));
  }

  /** doc_to_choice's choices as text (Python str() of each, as the continuations f"{delimiter}{choice}" use them). */
  docToChoice(doc: Doc, spec = this.config.doc_to_choice, field = 'doc_to_choice'): string[] {
    return this.docToChoiceValues(doc, spec, field).map((c) => pyStr(c));
  }

  /** doc_to_prefix: gen_prefix as a column or a template (undefined when unset). */
  private genPrefix(doc: Doc, spec: string | undefined, byFeature: boolean): string | undefined {
    if (spec === undefined) return undefined;
    const ctx = this.ctx('gen_prefix');
    const v = byFeature ? (ctx.features.has(spec) ? doc[spec] : resolveField(spec, doc, ctx)) : resolveField(spec, doc, ctx);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw new TaskError(`task '${this.name}': gen_prefix gave ${pyRepr(v)}, not a string`);
    return v;
  }

  /** The most examples drawExamples can give for this document (the pool, less the document where it is left out). */
  fewshotPoolSize(doc: Doc): number {
    const pool = this.fewshotDocs();
    if (!this.excludesEvalDoc()) return pool.length;
    const others = pool.filter((x) => !pyEqual(x, doc)).length;
    if (this.config.fewshot_config.sampler === 'first_n') return others;
    return Object.keys(doc).length === 0 ? pool.length : Math.min(pool.length - 1, others);
  }

  private tooFew(n: number, have: number, why: string): TaskError {
    return new TaskError(`task '${this.name}': ${n}-shot needs ${why}, but the ${this.poolName()} has ${have} document${have === 1 ? '' : 's'}`);
  }

  /**
   * The sampler's examples for `doc` (one call per evaluated document, as the harness makes): `default` draws
   * rnd.sample(pool, n), or sample(pool, n + 1) with the document removed when the few-shot split is the test
   * split (and, should duplicates of the document leave fewer than n, sample(pool without it, n)); `first_n` takes
   * the pool's first n, without the document in that case.
   */
  drawExamples(doc: Doc, n: number, rnd: PyRandom): Doc[] {
    if (!Number.isInteger(n) || n < 0) throw new TaskError(`task '${this.name}': the number of few-shot examples must be a non-negative integer, got ${n}`);
    if (n === 0) return [];
    const pool = this.fewshotDocs();
    const exclude = this.excludesEvalDoc();
    if (this.config.fewshot_config.sampler === 'first_n') {
      const p = exclude ? pool.filter((x) => !pyEqual(x, doc)) : pool;
      if (n > p.length) throw this.tooFew(n, p.length, `${n} examples (first_n${exclude ? ', without the evaluated document' : ''})`);
      return p.slice(0, n);
    }
    if (pool.length === 0) throw this.tooFew(n, 0, `${n} examples`);
    // ContextSampler.sample: `if not eval_doc` (an empty document counts as none)
    if (!exclude || Object.keys(doc).length === 0) {
      if (n > pool.length) throw this.tooFew(n, pool.length, `${n} examples`);
      return rnd.sample(pool, n);
    }
    if (n + 1 > pool.length) throw this.tooFew(n, pool.length, `${n + 1} documents (it draws K + 1 and drops the evaluated document, since the few-shot split is the test split)`);
    let res = rnd.sample(pool, n + 1).filter((x) => !pyEqual(x, doc)).slice(0, n);
    if (res.length < n) {
      const others = pool.filter((x) => !pyEqual(x, doc));
      if (n > others.length) throw this.tooFew(n, others.length, `${n} examples other than the evaluated document`);
      res = rnd.sample(others, n);
    }
    return res;
  }

  /** One build_qa_turn rendered as text. */
  private qaTurn(q: string | number, choices: unknown[] | undefined, answer: unknown, genPrefix: string | undefined, targetDelimiter: string, fewshotDelimiter: string): string {
    if (typeof q !== 'string') {
      throw new TaskError(
        `task '${this.name}': doc_to_text gave ${pyRepr(q)}, not a string` +
          (this.config.doc_to_choice !== undefined ? ' (a choice index there makes a multiple-input task, like winogrande, which tessera does not support)' : ''),
      );
    }
    const hasAnswer = answer !== undefined && answer !== null && answer !== '';
    let text = q + (hasAnswer && !genPrefix ? targetDelimiter : genPrefix && requiresDelimiter(q, genPrefix) ? targetDelimiter : '');
    if (hasAnswer) {
      let a: unknown;
      if (choices !== undefined && choices.length > 0 && isPyInt(answer)) {
        const i = Number(answer);
        a = choices[i < 0 ? choices.length + i : i];
        if (a === undefined) throw new TaskError(`task '${this.name}': doc_to_target is ${i}, out of range for the ${choices.length} choices ${pyRepr(choices)}`);
      } else if (Array.isArray(answer)) {
        if (answer.length === 0) throw new TaskError(`task '${this.name}': doc_to_target gave an empty list`);
        a = answer[0];
      } else a = answer;
      if (typeof a !== 'string') throw new TaskError(`task '${this.name}': the answer ${pyRepr(a)} (doc_to_target ${pyRepr(answer)}) is not a string${isPyInt(answer) ? ' and the task has no doc_to_choice to index' : ''}`);
      text += maybeDelimit(genPrefix, a, ' ') + fewshotDelimiter;
    } else if (genPrefix) text += genPrefix;
    return text;
  }

  /** The context for `doc` with these examples (fewshot_context after the sampler). */
  contextFromExamples(doc: Doc, examples: readonly Doc[]): string {
    const cfg = this.config;
    const fs = cfg.fewshot_config;
    const description = resolveField(cfg.description, doc, this.ctx('description'));
    if (description && typeof description !== 'string') throw new TaskError(`task '${this.name}': description gave ${pyRepr(description)}, not a string`);
    let out = description ? (description as string) : '';
    for (const ex of examples) {
      const q = this.docToText(ex, fs.doc_to_text, this.fewshotField('doc_to_text'));
      const c = fs.doc_to_choice ? this.docToChoiceValues(ex, fs.doc_to_choice, this.fewshotField('doc_to_choice')) : undefined;
      const a = this.docToTarget(ex, fs.doc_to_target, this.fewshotField('doc_to_target'));
      const gp = this.genPrefix(ex, fs.gen_prefix, false);
      out += this.qaTurn(q, c, a, gp, fs.target_delimiter, fs.fewshot_delimiter);
    }
    return out + this.qaTurn(this.docToText(doc), undefined, undefined, this.genPrefix(doc, cfg.gen_prefix, true), cfg.target_delimiter, '');
  }

  /** fewshot_context(doc, numFewshot) on the plain-text path; `rnd` is the task's one PyRandom(1234) (see the header). */
  fewshotContext(doc: Doc, numFewshot: number, rnd: PyRandom): string {
    return this.contextFromExamples(doc, numFewshot > 0 ? this.drawExamples(doc, numFewshot, rnd) : []);
  }

  /** Metric names of the task (metric_list, else the harness's defaults for the output type). */
  metricNames(): string[] {
    if (this.config.metric_list) return this.config.metric_list.map((m) => (typeof m.metric === 'string' ? m.metric : m.metric.name));
    return { loglikelihood: ['perplexity', 'acc'], loglikelihood_rolling: ['word_perplexity', 'byte_perplexity', 'bits_per_byte'], multiple_choice: ['acc', 'acc_norm'], generate_until: ['exact_match'] }[this.config.output_type];
  }

  private textTarget(doc: Doc, what: string): string {
    const t = this.docToTarget(doc);
    if (typeof t !== 'string') throw new TaskError(`task '${this.name}': a ${what} request needs doc_to_target to give a string, got ${pyRepr(t)} (the harness would pass it to the model as is and fail)`);
    return t;
  }

  /**
   * construct_requests' arguments: loglikelihood (context, doc_to_target) — no delimiter is added, the target
   * carries its own; loglikelihood_rolling (doc_to_target,); multiple_choice one (context, target_delimiter + choice)
   * per choice, then ("", target_delimiter + choice) per choice when acc_mutual_info is a metric; generate_until
   * (context, generation_kwargs).
   */
  requests(doc: Doc, context: string): TaskRequest[] {
    const cfg = this.config;
    switch (cfg.output_type) {
      case 'loglikelihood':
        return [{ kind: 'loglikelihood', idx: 0, arguments: [context, this.textTarget(doc, 'loglikelihood')] }];
      case 'loglikelihood_rolling':
        return [{ kind: 'loglikelihood_rolling', idx: 0, arguments: [this.textTarget(doc, 'loglikelihood_rolling')] }];
      case 'multiple_choice': {
        const choices = this.docToChoice(doc);
        const reqs: TaskRequest[] = choices.map((c, i) => ({ kind: 'loglikelihood', idx: i, arguments: [context, cfg.target_delimiter + c] }));
        if (this.metricNames().includes('acc_mutual_info')) choices.forEach((c, i) => reqs.push({ kind: 'loglikelihood', idx: choices.length + i, arguments: ['', cfg.target_delimiter + c], unconditional: true }));
        return reqs;
      }
      case 'generate_until':
        return [{ kind: 'generate_until', idx: 0, arguments: [context, structuredClone(cfg.generation_kwargs ?? {})] }];
    }
  }

  /** The config as the harness dumps it (TaskConfig.to_dict(): unset fields left out, functions by name). */
  dumpConfig(): Record<string, unknown> {
    const c = this.config;
    const out: Record<string, unknown> = {
      task: c.task,
      task_alias: c.task_alias,
      dataset_path: c.dataset_path,
      dataset_name: c.dataset_name,
      dataset_kwargs: c.dataset_kwargs,
      training_split: c.training_split,
      validation_split: c.validation_split,
      test_split: c.test_split,
      fewshot_split: c.fewshot_split,
      doc_to_text: c.doc_to_text,
      doc_to_target: c.doc_to_target,
      doc_to_choice: c.doc_to_choice,
      unsafe_code: false,
      description: c.description,
      target_delimiter: c.target_delimiter,
      fewshot_delimiter: c.fewshot_delimiter,
      fewshot_config: Object.fromEntries(Object.entries(c.fewshot_config).filter(([, v]) => v !== undefined)),
      num_fewshot: c.num_fewshot,
      metric_list: c.metric_list,
      output_type: c.output_type,
      generation_kwargs: c.generation_kwargs,
      repeats: c.repeats,
      filter_list: c.filter_list,
      should_decontaminate: c.should_decontaminate,
      doc_to_decontamination_query: c.doc_to_decontamination_query,
      gen_prefix: c.gen_prefix,
      metadata: c.metadata,
    };
    return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
  }
}
