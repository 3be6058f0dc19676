// lm-evaluation-harness 0.4.13 task YAML files: parsing (PyYAML's YAML 1.1 booleans, the `!function module.fn` tag
// kept as a marker that Task refuses later), `include:` merging as _yaml_loader.load_yaml does it (includes in order,
// then the file's own keys win; shallow), the TaskConfig fields typed and defaulted as config/task.py's TaskConfig and
// FewshotConfig do, and finding tasks by name in include paths as TaskManager's index does (every *.yaml below each
// path; `task:` names, `tag:`s and `group:`s; a later path overrides an earlier one; also a path to a .yaml file).
// Only `dataset_path: json` can load here (no network): data_files are resolved relative to the YAML file.
// Checked against the harness: all 13,986 YAML files of lm_eval 0.4.13's tasks load to the same values as PyYAML
// gives (load_yaml), and the index has the same 14,683 task/tag/group names as TaskManager's.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseDocument, type ScalarTag } from 'yaml';
import type { FilterPipeline } from './filters.js';
import { isFunctionRef, type Doc, type FunctionRef } from './templates.js';

export type { FunctionRef };

export const OUTPUT_TYPES = ['loglikelihood', 'loglikelihood_rolling', 'multiple_choice', 'generate_until'] as const;
export type OutputType = (typeof OUTPUT_TYPES)[number];

/** doc_to_text: a column name or a Jinja template (or an int: the index of the choice that is the input). */
export type TextSpec = string | number | FunctionRef;
/** doc_to_target: a column, a template, an int (a choice index) or a literal list. */
export type TargetSpec = string | number | unknown[] | FunctionRef;
/** doc_to_choice: a column holding a list, a template rendering a Python list, a literal list, or a dict (its values). */
export type ChoiceSpec = string | unknown[] | Record<string, unknown> | FunctionRef;

export interface FewshotConfig {
  sampler: 'default' | 'first_n';
  /** The few-shot split (fewshot_config.split, else the task's fewshot_split). */
  split?: string;
  /** fewshot_config.samples: the pool itself, when no split is set. */
  samples?: Doc[];
  /** fewshot_config.fewshot_indices: the pool is pool[i] for these i. */
  fewshot_indices?: number[];
  process_docs?: FunctionRef;
  doc_to_text?: TextSpec;
  doc_to_target?: TargetSpec;
  doc_to_choice?: ChoiceSpec;
  gen_prefix?: string;
  target_delimiter: string;
  fewshot_delimiter: string;
}

export interface GenerationKwargs {
  until?: string | string[];
  max_gen_toks?: number;
  temperature?: number;
  do_sample?: boolean;
  num_beams?: number;
  length_penalty?: number;
  [key: string]: unknown;
}

export interface MetricConfig {
  metric: string | FunctionRef;
  aggregation?: string | FunctionRef;
  higher_is_better?: boolean;
  /** Metric kwargs (ignore_case, ignore_punctuation, regexes_to_ignore, …). */
  [kwarg: string]: unknown;
}

export interface TaskConfig {
  task: string;
  task_alias?: string;
  tag: string[];
  dataset_path: 'json';
  dataset_name?: string;
  dataset_kwargs: Record<string, unknown>;
  /** dataset_kwargs.data_files resolved: split → absolute paths (a string or list alone is the "train" split). */
  data_files: Record<string, string[]>;
  /** dataset_kwargs.field: the key of the documents' list in each JSON file. */
  field?: string;
  training_split?: string;
  validation_split?: string;
  test_split?: string;
  fewshot_split?: string;
  process_docs?: FunctionRef;
  description: string;
  doc_to_text?: TextSpec;
  doc_to_target?: TargetSpec;
  doc_to_choice?: ChoiceSpec;
  gen_prefix?: string;
  /** Default " ". */
  target_delimiter: string;
  /** Default "\n\n". */
  fewshot_delimiter: string;
  fewshot_config: FewshotConfig;
  num_fewshot?: number;
  /** Default generate_until. */
  output_type: OutputType;
  /**
   * As TaskConfig.__post_init__ leaves it: temperature made a float, `until` defaulting to [fewshot_delimiter]; for
   * generate_until without generation_kwargs, {temperature: 0, do_sample: false, max_gen_toks: 256, until: [fewshot_delimiter]}.
   */
  generation_kwargs?: GenerationKwargs;
  repeats: number;
  filter_list?: FilterPipeline[];
  metric_list?: MetricConfig[];
  metadata?: Record<string, unknown>;
  process_results?: FunctionRef;
  should_decontaminate: boolean;
  doc_to_decontamination_query?: string;
  /** The YAML file this came from (absolute). */
  yaml_path: string;
  /** Every `!function` in the config, by field path (Task refuses them: Python cannot run here). */
  functions: { field: string; name: string }[];
  /** The merged YAML mapping (includes applied), for dumping the config as the harness does. */
  raw: Record<string, unknown>;
}

export interface LoadedTaskConfig {
  config: TaskConfig;
  warnings: string[];
}

export class TaskConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskConfigError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// YAML

/** `!function utils.process_docs` → a marker (the harness imports the Python function; tessera cannot). */
const functionTag: ScalarTag = {
  tag: '!function',
  resolve: (value: string): FunctionRef => ({ kind: 'function', name: value }),
  identify: isFunctionRef,
};

/** PyYAML's YAML 1.1 booleans (yes/no/on/off/true/false; unlike the `yaml` package's 1.1 schema, not y/n). */
const pyBool = (value: boolean, test: RegExp): ScalarTag => ({
  tag: 'tag:yaml.org,2002:bool',
  default: true,
  identify: (v) => v === value,
  test,
  resolve: () => value,
});

/** PyYAML's sexagesimal ints ("1:20" is 80; "02:00" stays a string: the first digit must be 1-9). */
const PY_SEXAGESIMAL_INT = /^[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+$/;

function yamlTags(tags: unknown[]): ScalarTag[] {
  const kept = (tags as ScalarTag[])
    .filter((t) => t.tag !== 'tag:yaml.org,2002:bool')
    .map((t) => (t.tag === 'tag:yaml.org,2002:int' && t.test?.test('1:20') ? { ...t, test: PY_SEXAGESIMAL_INT } : t));
  return [pyBool(true, /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/), pyBool(false, /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/), ...kept, functionTag];
}

/**
 * PyYAML accepts quoted scalars whose continuation lines are not indented (e.g. a long '…' value wrapped at column
 * 0); the `yaml` package follows the spec and refuses them. Continuation lines' leading whitespace is folded away,
 * so indenting them to the quote's column changes no value: done as a fallback when a file fails to parse.
 */
function indentQuotedContinuations(text: string): string {
  const out: string[] = [];
  let quote: string | null = null;
  let column = 0;
  let blockIndent = -1;
  for (const line of text.split('\n')) {
    const indent = /^ */.exec(line)![0].length;
    let i = 0;
    let text2 = line;
    if (quote !== null) {
      const body = line.replace(/^[ \t]*/, '');
      text2 = body === '' ? '' : ' '.repeat(column) + body;
      i = text2.length - body.length;
    } else if (blockIndent >= 0) {
      if (line.trim() === '' || indent > blockIndent) {
        out.push(line);
        continue;
      }
      blockIndent = -1;
    }
    let valueStart = quote === null;
    for (; i < text2.length; i++) {
      const c = text2[i]!;
      if (quote !== null) {
        if (quote === "'" && c === "'" && text2[i + 1] === "'") i++;
        else if (quote === '"' && c === '\\') i++;
        else if (c === quote) quote = null;
        continue;
      }
      if (c === '#' && (i === 0 || text2[i - 1] === ' ' || text2[i - 1] === '\t')) break;
      if (c === ' ' || c === '\t') continue;
      if (valueStart && (c === "'" || c === '"')) {
        quote = c;
        column = i;
        valueStart = false;
        continue;
      }
      if (valueStart && (c === '|' || c === '>') && /^[|>][-+0-9]*\s*(#.*)?$/.test(text2.slice(i))) {
        blockIndent = indent;
        break;
      }
      if (c === '-' && valueStart && (text2[i + 1] === ' ' || i + 1 === text2.length)) continue;
      if (c === ':' && (text2[i + 1] === ' ' || i + 1 === text2.length)) valueStart = true;
      else if (c === '[' || c === '{' || c === ',' || c === '?') valueStart = true;
      else valueStart = false;
    }
    out.push(text2);
  }
  return out.join('\n');
}

/** One YAML file as a mapping (no includes). */
function readYaml(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TaskConfigError(`cannot read task file ${path}: ${(err as Error).message}`);
  }
  const options = { version: '1.1', customTags: (t: unknown[]) => yamlTags(t), uniqueKeys: false } as const;
  let doc = parseDocument(text, options);
  if (doc.errors.length > 0) {
    const retry = parseDocument(indentQuotedContinuations(text), options);
    if (retry.errors.length === 0) doc = retry;
  }
  if (doc.errors.length > 0) throw new TaskConfigError(`${path}: YAML error: ${doc.errors[0]!.message}`);
  const value = doc.toJS({ maxAliasCount: -1 }) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TaskConfigError(`${path}: expected a mapping of task fields, got ${value === null ? 'an empty file' : Array.isArray(value) ? 'a list' : typeof value}`);
  return value as Record<string, unknown>;
}

/** load_yaml with includes: each include (relative to the including file) in order, then the file's own keys. */
export function loadYamlWithIncludes(path: string, seen: ReadonlySet<string> = new Set()): Record<string, unknown> {
  const abs = resolve(path);
  if (seen.has(abs)) throw new TaskConfigError(`include cycle at ${abs}`);
  const cfg = readYaml(abs);
  if (!('include' in cfg)) return cfg;
  const { include, ...own } = cfg;
  const includes = Array.isArray(include) ? include : [include];
  let merged: Record<string, unknown> = {};
  for (const inc of includes) {
    if (typeof inc !== 'string') throw new TaskConfigError(`${abs}: include must be a file name or a list of them, got ${JSON.stringify(inc)}`);
    const incPath = isAbsolute(inc) ? inc : join(dirname(abs), inc);
    if (!existsSync(incPath)) throw new TaskConfigError(`${abs}: included file ${inc} does not exist (looked for ${incPath})`);
    const { task_list: _taskList, ...rest } = loadYamlWithIncludes(incPath, new Set([...seen, abs]));
    merged = { ...merged, ...rest };
  }
  return { ...merged, ...own };
}

// ---------------------------------------------------------------------------------------------------------------
// Fields

const KNOWN_FIELDS = new Set([
  'task', 'task_alias', 'tag', 'group', 'task_list', 'dataset_path', 'dataset_name', 'dataset_kwargs', 'training_split',
  'validation_split', 'test_split', 'fewshot_split', 'process_docs', 'doc_to_text', 'doc_to_target', 'doc_to_choice',
  'description', 'target_delimiter', 'fewshot_delimiter', 'fewshot_config', 'num_fewshot', 'output_type',
  'generation_kwargs', 'repeats', 'filter_list', 'metric_list', 'metadata', 'process_results', 'should_decontaminate',
  'doc_to_decontamination_query', 'gen_prefix',
]);
/** Harness fields tessera reads but does not implement: a warning, and they are ignored. */
const UNSUPPORTED_FIELDS = new Set(['custom_dataset', 'doc_to_image', 'doc_to_audio', 'unsafe_code', 'use_prompt']);
const FEWSHOT_FIELDS = new Set(['sampler', 'split', 'samples', 'fewshot_indices', 'process_docs', 'doc_to_text', 'doc_to_target', 'doc_to_choice', 'gen_prefix', 'target_delimiter', 'fewshot_delimiter']);

class Fields {
  readonly warnings: string[] = [];
  constructor(
    readonly path: string,
    readonly task: string,
  ) {}

  fail(field: string, what: string): never {
    throw new TaskConfigError(`${this.path}: task '${this.task}': ${field} ${what}`);
  }

  str(raw: Record<string, unknown>, field: string, prefix = ''): string | undefined {
    const v = raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    this.fail(prefix + field, `must be a string, got ${JSON.stringify(v)}`);
  }

  int(raw: Record<string, unknown>, field: string, min: number): number | undefined {
    const v = raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) this.fail(field, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(raw: Record<string, unknown>, field: string): boolean | undefined {
    const v = raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(field, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  text(raw: Record<string, unknown>, field: string, prefix = ''): TextSpec | undefined {
    const v = raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string' || typeof v === 'number' || isFunctionRef(v)) return v;
    this.fail(prefix + field, `must be a column name or a template, got ${JSON.stringify(v)}`);
  }

  target(raw: Record<string, unknown>, field: string, prefix = ''): TargetSpec | undefined {
    const v = raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string' || typeof v === 'number' || Array.isArray(v) || isFunctionRef(v)) return v;
    this.fail(prefix + field, `must be a column name, a template, an int or a list, got ${JSON.stringify(v)}`);
  }

  choice(raw: Record<string, unknown>, field: string, prefix = ''): ChoiceSpec | undefined {
    const v = raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string' || Array.isArray(v) || isFunctionRef(v) || (typeof v === 'object' && v !== null)) return v as ChoiceSpec;
    this.fail(prefix + field, `must be a column name, a template, a list or a dict, got ${JSON.stringify(v)}`);
  }

  fn(raw: Record<string, unknown>, field: string, prefix = ''): FunctionRef | undefined {
    const v = raw[field];
    if (v === undefined || v === null) return undefined;
    if (isFunctionRef(v)) return v;
    this.fail(prefix + field, `must be a !function reference, got ${JSON.stringify(v)}`);
  }
}

function collectFunctions(x: unknown, path: string, out: { field: string; name: string }[]): void {
  if (isFunctionRef(x)) out.push({ field: path, name: x.name });
  else if (Array.isArray(x)) x.forEach((e, i) => collectFunctions(e, `${path}[${i}]`, out));
  else if (typeof x === 'object' && x !== null) for (const [k, v] of Object.entries(x)) collectFunctions(v, path ? `${path}.${k}` : k, out);
}

function resolveDataFiles(f: Fields, kwargs: Record<string, unknown>): Record<string, string[]> {
  const df = kwargs.data_files;
  const dir = dirname(f.path);
  const paths = (v: unknown, split: string): string[] => {
    const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
    if (!list || list.some((p) => typeof p !== 'string')) f.fail(`dataset_kwargs.data_files${split ? `.${split}` : ''}`, `must be a path or a list of paths, got ${JSON.stringify(v)}`);
    // relative to the YAML file; else, as the harness (HF datasets) resolves them, relative to the working directory
    return (list as string[]).map((p) => (isAbsolute(p) ? p : !existsSync(join(dir, p)) && existsSync(resolve(p)) ? resolve(p) : join(dir, p)));
  };
  if (df === undefined || df === null) f.fail('dataset_kwargs.data_files', 'is required with dataset_path: json (a path, a list of paths, or a split → path(s) mapping, relative to the YAML file)');
  if (typeof df === 'string' || Array.isArray(df)) return { train: paths(df, '') };
  if (typeof df !== 'object') f.fail('dataset_kwargs.data_files', `must be a path, a list, or a split → path(s) mapping, got ${JSON.stringify(df)}`);
  return Object.fromEntries(Object.entries(df as Record<string, unknown>).map(([split, v]) => [split, paths(v, split)]));
}

function filterList(f: Fields, v: unknown): FilterPipeline[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) f.fail('filter_list', `must be a list of {name, filter: [...]}, got ${JSON.stringify(v)}`);
  return v.map((p, i) => {
    const e = p as { name?: unknown; filter?: unknown };
    if (typeof e !== 'object' || e === null || typeof e.name !== 'string' || !Array.isArray(e.filter)) f.fail(`filter_list[${i}]`, 'needs a name and a filter list');
    const steps = e.filter.map((s, j) => {
      if (typeof s !== 'object' || s === null || typeof (s as { function?: unknown }).function !== 'string') f.fail(`filter_list[${i}].filter[${j}]`, `needs a function name, got ${JSON.stringify(s)}`);
      return s as FilterPipeline['filter'][number];
    });
    return { name: e.name, filter: steps };
  });
}

function metricList(f: Fields, v: unknown): MetricConfig[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) f.fail('metric_list', `must be a list of {metric, aggregation, higher_is_better, …}, got ${JSON.stringify(v)}`);
  return v.map((m, i) => {
    if (typeof m !== 'object' || m === null || !('metric' in m)) f.fail(`metric_list[${i}]`, "needs a 'metric' key (as the harness requires)");
    const metric = (m as { metric: unknown }).metric;
    if (typeof metric !== 'string' && !isFunctionRef(metric)) f.fail(`metric_list[${i}].metric`, `must be a metric name, got ${JSON.stringify(metric)}`);
    const hib = (m as { higher_is_better?: unknown }).higher_is_better;
    if (hib !== undefined && typeof hib !== 'boolean') f.fail(`metric_list[${i}].higher_is_better`, `must be true or false, got ${JSON.stringify(hib)}`);
    return m as MetricConfig;
  });
}

function generationKwargs(f: Fields, v: unknown, outputType: OutputType, fewshotDelimiter: string): GenerationKwargs | undefined {
  if (v === undefined || v === null) {
    // TaskConfig.__post_init__: greedy defaults for generate_until (defaults.default_gen_kwargs)
    return outputType === 'generate_until' ? { temperature: 0, do_sample: false, max_gen_toks: 256, until: [fewshotDelimiter] } : undefined;
  }
  if (typeof v !== 'object' || Array.isArray(v)) f.fail('generation_kwargs', `must be a mapping, got ${JSON.stringify(v)}`);
  const kw = { ...(v as GenerationKwargs) };
  if (outputType !== 'generate_until') f.warnings.push(`${f.path}: task '${f.task}': generation_kwargs is set but output_type is ${outputType}`);
  if ('temperature' in kw) {
    const t = Number(kw.temperature);
    if (!Number.isFinite(t)) f.fail('generation_kwargs.temperature', `must be a number, got ${JSON.stringify(kw.temperature)}`);
    kw.temperature = t;
  }
  if (!('until' in kw)) kw.until = [fewshotDelimiter];
  const until = kw.until;
  if (!(typeof until === 'string' || (Array.isArray(until) && until.every((u) => typeof u === 'string')))) f.fail('generation_kwargs.until', `must be a string or a list of strings, got ${JSON.stringify(until)}`);
  for (const k of ['max_gen_toks', 'num_beams'] as const) {
    const n = kw[k];
    if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 1)) f.fail(`generation_kwargs.${k}`, `must be a positive integer, got ${JSON.stringify(n)}`);
  }
  if (kw.do_sample !== undefined && typeof kw.do_sample !== 'boolean') f.fail('generation_kwargs.do_sample', `must be true or false, got ${JSON.stringify(kw.do_sample)}`);
  return kw;
}

function fewshotConfig(f: Fields, v: unknown, inherited: Omit<FewshotConfig, 'sampler'>): FewshotConfig {
  if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) f.fail('fewshot_config', `must be a mapping, got ${JSON.stringify(v)}`);
  const raw = (v ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(raw)) if (!FEWSHOT_FIELDS.has(k)) f.warnings.push(`${f.path}: unknown field 'fewshot_config.${k}' (ignored)`);
  const sampler = raw.sampler ?? 'default';
  if (sampler !== 'default' && sampler !== 'first_n') f.fail('fewshot_config.sampler', `must be 'default' or 'first_n' (the harness's samplers), got ${JSON.stringify(sampler)}`);
  const p = 'fewshot_config.';
  const samples = raw.samples;
  if (samples !== undefined && samples !== null && !(Array.isArray(samples) && samples.every((d) => typeof d === 'object' && d !== null && !Array.isArray(d)))) f.fail('fewshot_config.samples', 'must be a list of documents (a Python function cannot run here)');
  const indices = raw.fewshot_indices;
  if (indices !== undefined && indices !== null && !(Array.isArray(indices) && indices.every((i) => Number.isInteger(i) && (i as number) >= 0))) f.fail('fewshot_config.fewshot_indices', 'must be a list of non-negative integers');
  // FewshotConfig.from_dict: the task's values, then fewshot_config's own keys
  const pick = <T>(key: keyof typeof inherited, own: T | undefined): T | undefined => (key in raw ? own : (inherited[key] as T | undefined));
  return {
    sampler,
    split: pick('split', f.str(raw, 'split', p)),
    samples: (samples ?? undefined) as Doc[] | undefined,
    fewshot_indices: (indices ?? undefined) as number[] | undefined,
    process_docs: pick('process_docs', f.fn(raw, 'process_docs', p)),
    doc_to_text: pick('doc_to_text', f.text(raw, 'doc_to_text', p)),
    doc_to_target: pick('doc_to_target', f.target(raw, 'doc_to_target', p)),
    doc_to_choice: pick('doc_to_choice', f.choice(raw, 'doc_to_choice', p)),
    gen_prefix: pick('gen_prefix', f.str(raw, 'gen_prefix', p)),
    target_delimiter: pick('target_delimiter', f.str(raw, 'target_delimiter', p)) ?? inherited.target_delimiter,
    fewshot_delimiter: pick('fewshot_delimiter', f.str(raw, 'fewshot_delimiter', p)) ?? inherited.fewshot_delimiter,
  };
}

/** Validate and type a merged task mapping (what TaskConfig(**cfg) plus its __post_init__ make of it). */
export function taskConfigFromYaml(raw: Record<string, unknown>, yamlPath: string): LoadedTaskConfig {
  const path = resolve(yamlPath);
  const task = raw.task;
  if (typeof task !== 'string' || task === '') {
    if ('group' in raw) throw new TaskConfigError(`${path}: is a group (group: ${JSON.stringify(raw.group)}), not a task`);
    throw new TaskConfigError(`${path}: needs a 'task:' name`);
  }
  if ('class' in raw) throw new TaskConfigError(`${path}: task '${task}' is a Python task class (class: …), which tessera cannot run`);
  const f = new Fields(path, task);
  for (const k of Object.keys(raw)) {
    if (UNSUPPORTED_FIELDS.has(k)) f.warnings.push(`${path}: field '${k}' is not supported by tessera (ignored)`);
    else if (!KNOWN_FIELDS.has(k)) f.warnings.push(`${path}: unknown field '${k}' (ignored; the harness rejects unknown TaskConfig fields)`);
  }

  const datasetPath = f.str(raw, 'dataset_path');
  if (datasetPath === undefined) f.fail('dataset_path', 'is required (tessera loads `dataset_path: json` with dataset_kwargs.data_files)');
  if (datasetPath !== 'json') {
    const name = f.str(raw, 'dataset_name');
    throw new TaskConfigError(
      `${path}: task '${task}': dataset_path '${datasetPath}'${name ? ` (dataset_name '${name}')` : ''} is a Hugging Face Hub dataset, and hub datasets are unreachable offline; ` +
        'download its splits as JSON Lines and use `dataset_path: json` with `dataset_kwargs: {data_files: {test: ..., train: ...}}` (paths relative to the YAML file)',
    );
  }
  const kwargsRaw = raw.dataset_kwargs ?? {};
  if (typeof kwargsRaw !== 'object' || kwargsRaw === null || Array.isArray(kwargsRaw)) f.fail('dataset_kwargs', `must be a mapping, got ${JSON.stringify(kwargsRaw)}`);
  const kwargs = kwargsRaw as Record<string, unknown>;
  for (const k of Object.keys(kwargs)) if (k !== 'data_files' && k !== 'field') f.warnings.push(`${path}: dataset_kwargs.${k} is not used by tessera's json loader (ignored)`);
  const field = f.str(kwargs, 'field', 'dataset_kwargs.');

  const outputType = (f.str(raw, 'output_type') ?? 'generate_until') as OutputType;
  if (!OUTPUT_TYPES.includes(outputType)) f.fail('output_type', `must be one of ${OUTPUT_TYPES.join(', ')}, got '${outputType}'`);
  const targetDelimiter = f.str(raw, 'target_delimiter') ?? ' ';
  const fewshotDelimiter = f.str(raw, 'fewshot_delimiter') ?? '\n\n';
  const tagRaw = raw.tag;
  const tag = tagRaw === undefined || tagRaw === null ? [] : Array.isArray(tagRaw) ? tagRaw.map(String) : [String(tagRaw)];
  const metadata = raw.metadata;
  if (metadata !== undefined && metadata !== null && (typeof metadata !== 'object' || Array.isArray(metadata))) f.fail('metadata', `must be a mapping, got ${JSON.stringify(metadata)}`);
  const descriptionRaw = raw.description;
  if (isFunctionRef(descriptionRaw)) f.fail('description', `is the Python function '${descriptionRaw.name}' (!function), which tessera cannot run`);

  const config: TaskConfig = {
    task,
    task_alias: f.str(raw, 'task_alias'),
    tag,
    dataset_path: 'json',
    dataset_name: f.str(raw, 'dataset_name'),
    dataset_kwargs: kwargs,
    data_files: resolveDataFiles(f, kwargs),
    field,
    training_split: f.str(raw, 'training_split'),
    validation_split: f.str(raw, 'validation_split'),
    test_split: f.str(raw, 'test_split'),
    fewshot_split: f.str(raw, 'fewshot_split'),
    process_docs: f.fn(raw, 'process_docs'),
    description: f.str(raw, 'description') ?? '',
    doc_to_text: f.text(raw, 'doc_to_text'),
    doc_to_target: f.target(raw, 'doc_to_target'),
    doc_to_choice: f.choice(raw, 'doc_to_choice'),
    gen_prefix: f.str(raw, 'gen_prefix'),
    target_delimiter: targetDelimiter,
    fewshot_delimiter: fewshotDelimiter,
    fewshot_config: undefined as unknown as FewshotConfig,
    num_fewshot: f.int(raw, 'num_fewshot', 0),
    output_type: outputType,
    generation_kwargs: undefined,
    repeats: f.int(raw, 'repeats', 1) ?? 1,
    filter_list: filterList(f, raw.filter_list),
    metric_list: metricList(f, raw.metric_list),
    metadata: (metadata ?? undefined) as Record<string, unknown> | undefined,
    process_results: isFunctionRef(raw.process_results) ? raw.process_results : undefined,
    should_decontaminate: f.bool(raw, 'should_decontaminate') ?? false,
    doc_to_decontamination_query: f.str(raw, 'doc_to_decontamination_query'),
    yaml_path: path,
    functions: [],
    raw,
  };
  if (raw.process_results !== undefined && raw.process_results !== null && !isFunctionRef(raw.process_results)) f.warnings.push(`${path}: process_results ${JSON.stringify(raw.process_results)} is ignored (tessera computes the metric_list metrics)`);
  config.generation_kwargs = generationKwargs(f, raw.generation_kwargs, outputType, fewshotDelimiter);
  config.fewshot_config = fewshotConfig(f, raw.fewshot_config, {
    split: config.fewshot_split,
    process_docs: config.process_docs,
    doc_to_text: config.doc_to_text,
    doc_to_target: config.doc_to_target,
    doc_to_choice: config.doc_to_choice,
    gen_prefix: config.gen_prefix,
    target_delimiter: targetDelimiter,
    fewshot_delimiter: fewshotDelimiter,
  });
  collectFunctions(raw, '', config.functions);
  return { config, warnings: f.warnings };
}

/** Load one task YAML (includes merged) into a validated TaskConfig; unknown fields come back as warnings. */
export function loadTaskConfig(path: string): LoadedTaskConfig {
  return taskConfigFromYaml(loadYamlWithIncludes(path), path);
}

// ---------------------------------------------------------------------------------------------------------------
// Finding tasks in include paths (TaskManager's index)

export interface TaskListing {
  /** The task, tag or group name. */
  task: string;
  kind: 'task' | 'tag' | 'group';
  /** The YAML file ('' for a tag). */
  path: string;
  output_type?: string;
  /** The tasks a tag or group names. */
  tasks?: string[];
}

interface IndexEntry {
  name: string;
  kind: 'task' | 'tag' | 'group';
  path: string;
  raw?: Record<string, unknown>;
  members: string[];
}

interface TaskIndex {
  entries: Map<string, IndexEntry>;
  warnings: string[];
  unreadable: string[];
}

const IGNORED_DIRS = new Set(['__pycache__', '.ipynb_checkpoints', 'node_modules', '.git']);

function yamlFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(dir, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!IGNORED_DIRS.has(name)) walk(p);
      } else if (name.endsWith('.yaml')) out.push(p);
    }
  };
  walk(resolve(root));
  // TaskIndex._iter_yaml_files: sorted by path for a deterministic order
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function buildIndex(includePaths: readonly string[]): TaskIndex {
  const entries = new Map<string, IndexEntry>();
  const warnings: string[] = [];
  const unreadable: string[] = [];
  for (const root of includePaths) {
    if (!existsSync(root)) {
      warnings.push(`include path ${root} does not exist`);
      continue;
    }
    const local = new Map<string, IndexEntry>();
    for (const file of yamlFiles(root)) {
      let raw: Record<string, unknown>;
      try {
        raw = loadYamlWithIncludes(file);
      } catch (err) {
        unreadable.push(`${file}: ${(err as Error).message}`);
        continue;
      }
      const isGroup = 'group' in raw && !('class' in raw);
      const name = isGroup ? raw.group : raw.task;
      if (typeof name !== 'string') continue;
      if (local.has(name)) {
        if (!isGroup) warnings.push(`duplicate task name '${name}' in ${file}; keeping ${local.get(name)!.path}`);
        continue;
      }
      const members = isGroup && Array.isArray(raw.task) ? raw.task.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))) : [];
      local.set(name, { name, kind: isGroup ? 'group' : 'task', path: file, raw, members });
      if (!isGroup) {
        const tags = raw.tag === undefined || raw.tag === null ? [] : Array.isArray(raw.tag) ? raw.tag : [raw.tag];
        for (const t of tags.map(String)) {
          const e = local.get(t) ?? { name: t, kind: 'tag' as const, path: '', members: [] };
          if (e.kind === 'tag') {
            e.members.push(name);
            local.set(t, e);
          }
        }
      }
    }
    for (const [name, e] of local) {
      const prev = entries.get(name);
      if (prev && prev.kind !== 'tag') warnings.push(`task '${name}' from ${e.path || 'a tag'} overrides the one from ${prev.path}`);
      entries.set(name, e);
    }
  }
  return { entries, warnings, unreadable };
}

/** Every task, tag and group under the include paths (a later path's entries override an earlier one's). */
export function listTasks(includePaths: readonly string[]): TaskListing[] {
  const { entries } = buildIndex(includePaths);
  return [...entries.values()]
    .map((e): TaskListing => {
      const outputType = e.raw?.output_type;
      return {
        task: e.name,
        kind: e.kind,
        path: e.path,
        ...(typeof outputType === 'string' ? { output_type: outputType } : e.kind === 'task' ? { output_type: 'generate_until' } : {}),
        ...(e.kind === 'task' ? {} : { tasks: [...e.members].sort() }),
      };
    })
    .sort((a, b) => (a.task < b.task ? -1 : a.task > b.task ? 1 : 0));
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

function nearMatches(name: string, names: string[]): string[] {
  const lower = name.toLowerCase();
  return names
    .map((n) => ({ n, score: n.toLowerCase().includes(lower) || lower.includes(n.toLowerCase()) ? 0 : editDistance(lower, n.toLowerCase()) }))
    .filter((x) => x.score <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.score - b.score || (a.n < b.n ? -1 : 1))
    .slice(0, 8)
    .map((x) => x.n);
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/**
 * The tasks the names select: a `task:` name, a tag or group (its tasks, sorted as the harness builds them), a glob
 * (fnmatch, as the CLI's match_tasks), or a path to a .yaml file. Unknown names are an error listing near matches.
 */
export function findTasks(names: readonly string[], includePaths: readonly string[]): { configs: TaskConfig[]; warnings: string[] } {
  const index = buildIndex(includePaths);
  const warnings = [...index.warnings];
  const configs: TaskConfig[] = [];
  const seen = new Set<string>();
  const add = (loaded: LoadedTaskConfig) => {
    warnings.push(...loaded.warnings);
    if (seen.has(loaded.config.task)) return;
    seen.add(loaded.config.task);
    configs.push(loaded.config);
  };
  const expand = (name: string, via: string[]): void => {
    const e = index.entries.get(name);
    if (e === undefined) {
      if (name.endsWith('.yaml') || name.endsWith('.yml')) {
        if (!existsSync(name)) throw new TaskConfigError(`task file ${name} does not exist`);
        add(loadTaskConfig(name));
        return;
      }
      if (/[*?]/.test(name)) {
        const re = globToRegExp(name);
        const matched = [...index.entries.keys()].filter((n) => re.test(n)).sort();
        if (matched.length === 0) throw new TaskConfigError(`no task matches '${name}'`);
        for (const m of matched) expand(m, via);
        return;
      }
      const near = nearMatches(name, [...index.entries.keys()]);
      const where = includePaths.length ? includePaths.join(', ') : '(no include paths)';
      const broken = index.unreadable.length ? `; ${index.unreadable.length} YAML file(s) could not be read, e.g. ${index.unreadable[0]}` : '';
      throw new TaskConfigError(`unknown task '${name}'${via.length ? ` (in ${via.join(' → ')})` : ''}: not a task, tag or group under ${where}${near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(', ')}?` : ''}${broken}`);
    }
    if (via.includes(name)) throw new TaskConfigError(`group cycle: ${[...via, name].join(' → ')}`);
    if (e.kind === 'task') add(taskConfigFromYaml(structuredClone(e.raw!), e.path));
    else if (e.kind === 'tag') for (const m of [...e.members].sort()) expand(m, [...via, name]);
    else {
      const members = (e.raw!.task ?? []) as unknown[];
      if (!Array.isArray(members)) throw new TaskConfigError(`${e.path}: group '${name}' needs a task: list`);
      for (const m of members) {
        if (typeof m !== 'string') throw new TaskConfigError(`${e.path}: group '${name}' has an inline task entry (${JSON.stringify(m)}); tessera supports groups that list task names only`);
        expand(m, [...via, name]);
      }
    }
  };
  for (const n of names) expand(n, []);
  return { configs, warnings };
}
