// Documents of a task with `dataset_path: json`, loaded the way Hugging Face datasets' json builder does it: per
// split, JSONL files of objects, JSON files holding a list (of objects, or of strings → {"text": …}), or with
// `dataset_kwargs.field` the list under that key. Rows get the dataset's Arrow-like schema, inferred from the first
// split's first file: every row has every column (missing → null), an int column with a float in it is a float
// column (so 3 renders "3.0", as Python does), mixed-type columns stay as parsed (the builder's use_json). Plus the
// harness's split roles: evaluation split (test_split, else validation_split) and few-shot pool (fewshot_split, else
// training → validation → test).

import { readFileSync } from 'node:fs';
import type { Doc, ValueType } from './templates.js';

export type { Doc };

/** The subset of a task config this module reads. */
export interface DatasetConfig {
  task: string;
  /** split name → absolute file paths, in order. */
  data_files: Record<string, string[]>;
  /** dataset_kwargs.field: the key of the list in each JSON file. */
  field?: string;
  training_split?: string;
  validation_split?: string;
  test_split?: string;
  fewshot_split?: string;
}

export interface Dataset {
  splits: Record<string, Doc[]>;
  /** Column types (a struct); floats are marked so templates print them as Python floats. */
  schema: ValueType & { kind: 'struct' };
  /** Column names in schema order (the harness's `features`). */
  columns: string[];
}

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON with Python's int/float distinction

interface Parsed {
  value: unknown;
  type: ValueType;
  /** A list's items / an object's members, parsed (to take documents out of a file's top-level value). */
  items?: Parsed[];
  members?: Map<string, Parsed>;
}

/** A strict JSON parser that also returns each value's type ("1" is an int, "1.0" a float). */
class JsonParser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly where: (offset: number) => string,
  ) {}

  private fail(what: string): never {
    throw new DatasetError(`${this.where(this.i)}: invalid JSON: ${what}`);
  }

  private ws(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s[this.i]!)) this.i++;
  }

  parseAll(): Parsed {
    const v = this.value();
    this.ws();
    if (this.i < this.s.length) this.fail('unexpected text after the value');
    return v;
  }

  value(): Parsed {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return { value: this.string(), type: { kind: 'string' } };
    if (c === 't' && this.s.startsWith('true', this.i)) return (this.i += 4), { value: true, type: { kind: 'bool' } };
    if (c === 'f' && this.s.startsWith('false', this.i)) return (this.i += 5), { value: false, type: { kind: 'bool' } };
    if (c === 'n' && this.s.startsWith('null', this.i)) return (this.i += 4), { value: null, type: { kind: 'null' } };
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    if (c === 'N' && this.s.startsWith('NaN', this.i)) return (this.i += 3), { value: NaN, type: { kind: 'float' } };
    if (c === 'I' && this.s.startsWith('Infinity', this.i)) return (this.i += 8), { value: Infinity, type: { kind: 'float' } };
    this.fail(c === undefined ? 'unexpected end' : `unexpected ${JSON.stringify(c)}`);
  }

  private object(): Parsed {
    this.i++;
    const value: Record<string, unknown> = {};
    const fields = new Map<string, ValueType>();
    const members = new Map<string, Parsed>();
    this.ws();
    if (this.s[this.i] === '}') return this.i++, { value, type: { kind: 'struct', fields }, members };
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a string key');
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail("expected ':'");
      this.i++;
      const v = this.value();
      value[key] = v.value;
      fields.set(key, v.type);
      members.set(key, v);
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return { value, type: { kind: 'struct', fields }, members };
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }

  private array(): Parsed {
    this.i++;
    const value: unknown[] = [];
    const items: Parsed[] = [];
    let item: ValueType = { kind: 'null' };
    this.ws();
    if (this.s[this.i] === ']') return this.i++, { value, type: { kind: 'list', item }, items };
    for (;;) {
      const v = this.value();
      value.push(v.value);
      items.push(v);
      item = unify(item, v.type);
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return { value, type: { kind: 'list', item }, items };
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }

  private string(): string {
    const start = this.i;
    const end = this.s.indexOf('"', start + 1);
    // fast path: no escapes
    if (end > 0 && !this.s.slice(start + 1, end).includes('\\') && !/[\u0000-\u001f]/.test(this.s.slice(start + 1, end))) {
      this.i = end + 1;
      return this.s.slice(start + 1, end);
    }
    this.i++;
    let out = '';
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) this.fail('unterminated string');
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c < ' ') this.fail('a control character in a string');
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const e = this.s[this.i + 1];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e !== undefined && e in simple) {
        out += simple[e];
        this.i += 2;
      } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.s.slice(this.i + 2, this.i + 6))) {
        out += String.fromCharCode(parseInt(this.s.slice(this.i + 2, this.i + 6), 16));
        this.i += 6;
      } else this.fail('a bad escape in a string');
    }
  }

  private number(): Parsed {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) this.fail('a bad number');
    this.i += m[0].length;
    const isFloat = m[2] !== undefined || m[3] !== undefined;
    const value = Number(m[0]);
    if (!isFloat && !Number.isSafeInteger(value)) this.fail(`the integer ${m[0]} is beyond 2^53 (JavaScript numbers cannot hold it exactly)`);
    return { value, type: { kind: isFloat ? 'float' : 'int' } };
  }
}

/** The type of values of types a and b together (pyarrow's promotion; mixed kinds → json, kept as parsed). */
export function unify(a: ValueType, b: ValueType): ValueType {
  if (a.kind === 'null') return b;
  if (b.kind === 'null') return a;
  if (a.kind === 'json' || b.kind === 'json') return { kind: 'json' };
  if ((a.kind === 'int' && b.kind === 'float') || (a.kind === 'float' && b.kind === 'int')) return { kind: 'float' };
  if (a.kind === 'list' && b.kind === 'list') return { kind: 'list', item: unify(a.item, b.item) };
  if (a.kind === 'struct' && b.kind === 'struct') {
    const fields = new Map(a.fields);
    for (const [k, t] of b.fields) fields.set(k, fields.has(k) ? unify(fields.get(k)!, t) : t);
    return { kind: 'struct', fields };
  }
  return a.kind === b.kind ? a : { kind: 'json' };
}

/** Whether values of type `from` cast to `to` (the builder casts every split to the first split's schema). */
function castable(from: ValueType, to: ValueType): boolean {
  if (from.kind === 'null' || to.kind === 'json') return true;
  if (from.kind === 'int' && to.kind === 'float') return true;
  if (from.kind === 'list' && to.kind === 'list') return castable(from.item, to.item);
  if (from.kind === 'struct' && to.kind === 'struct') return [...from.fields].every(([k, t]) => to.fields.has(k) && castable(t, to.fields.get(k)!));
  return from.kind === to.kind;
}

/** A value as the schema gives it: structs with every field in schema order (missing → null). */
function conform(value: unknown, type: ValueType): unknown {
  if (value === null || value === undefined) return null;
  if (type.kind === 'struct' && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    return Object.fromEntries([...type.fields].map(([k, t]) => [k, conform(v[k], t)]));
  }
  if (type.kind === 'list' && Array.isArray(value)) return value.map((x) => conform(x, type.item));
  return value;
}

function describe(t: ValueType): string {
  if (t.kind === 'list') return `list<${describe(t.item)}>`;
  if (t.kind === 'struct') return `struct<${[...t.fields].map(([k, x]) => `${k}: ${describe(x)}`).join(', ')}>`;
  return t.kind;
}

// ---------------------------------------------------------------------------------------------------------------
// Files

interface FileRows {
  rows: Doc[];
  type: ValueType & { kind: 'struct' };
}

function lineAt(text: string, offset: number): string {
  let line = 1;
  let last = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    last = i + 1;
  }
  return `line ${line}, column ${offset - last + 1}`;
}

function rowsOfList(file: string, items: Parsed[]): FileRows {
  const rows: Doc[] = [];
  let type: ValueType = { kind: 'struct', fields: new Map() };
  const strings = items.length > 0 && items.every((x) => typeof x.value === 'string');
  items.forEach((x, n) => {
    if (strings) {
      rows.push({ text: x.value });
      type = unify(type, { kind: 'struct', fields: new Map([['text', { kind: 'string' }]]) });
    } else if (x.type.kind === 'struct') {
      rows.push(x.value as Doc);
      type = unify(type, x.type);
    } else throw new DatasetError(`${file}: item ${n} is ${describe(x.type)}, not an object (each document must be a JSON object)`);
  });
  if (type.kind !== 'struct') throw new DatasetError(`${file}: documents of mixed shapes`);
  return { rows, type };
}

function readRows(file: string, field: string | undefined): FileRows {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DatasetError(`cannot read data file ${file}: ${(err as Error).message}`);
  }
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const at = (offset: number) => `${file}: ${lineAt(text, offset)}`;
  if (field !== undefined) {
    const whole = new JsonParser(text, at).parseAll();
    if (whole.type.kind !== 'struct') throw new DatasetError(`${file}: dataset_kwargs.field is '${field}' but the file holds ${describe(whole.type)}, not an object`);
    const v = (whole.value as Record<string, unknown>)[field];
    const t = whole.type.fields.get(field);
    if (t === undefined) throw new DatasetError(`${file}: no key '${field}' (dataset_kwargs.field); the keys are ${[...whole.type.fields.keys()].map((k) => `'${k}'`).join(', ')}`);
    if (Array.isArray(v)) return rowsOfList(file, whole.members!.get(field)!.items!);
    if (t.kind === 'struct') {
      // columns: {"col": [values...], ...}
      const cols = Object.entries(v as Record<string, unknown>);
      const n = cols.length ? (Array.isArray(cols[0]![1]) ? (cols[0]![1] as unknown[]).length : -1) : 0;
      if (n < 0 || cols.some(([, c]) => !Array.isArray(c) || c.length !== n)) throw new DatasetError(`${file}: '${field}' must be a list of objects or an object of equal-length lists`);
      const rows = Array.from({ length: n }, (_, r) => Object.fromEntries(cols.map(([k, c]) => [k, (c as unknown[])[r]])));
      const fields = new Map([...t.fields].map(([k, ct]) => [k, ct.kind === 'list' ? ct.item : ct] as const));
      return { rows, type: { kind: 'struct', fields } };
    }
    throw new DatasetError(`${file}: '${field}' holds ${describe(t)}, not a list of documents`);
  }
  const start = /^\s*/.exec(text)![0].length;
  if (text[start] === '[') {
    return rowsOfList(file, new JsonParser(text, at).parseAll().items!);
  }
  // JSON Lines: one object per line, blank lines skipped
  const rows: Doc[] = [];
  let type: ValueType = { kind: 'struct', fields: new Map() };
  let line = 0;
  for (const raw of text.split('\n')) {
    line++;
    if (raw.trim() === '') continue;
    let p: Parsed;
    try {
      p = new JsonParser(raw, (o) => `${file}: line ${line}, column ${o + 1}`).parseAll();
    } catch (err) {
      const hint = line === 1 && raw.trim() === '{' ? ' (a JSON file holding one object needs dataset_kwargs.field naming its list of documents)' : '';
      throw new DatasetError(`${(err as Error).message}${hint}`);
    }
    if (p.type.kind !== 'struct') throw new DatasetError(`${file}: line ${line}: expected a JSON object per line (JSON Lines), got ${describe(p.type)}`);
    rows.push(p.value as Doc);
    type = unify(type, p.type);
  }
  if (type.kind !== 'struct') throw new DatasetError(`${file}: documents of mixed shapes`);
  return { rows, type };
}

// ---------------------------------------------------------------------------------------------------------------
// Datasets and split roles

const cache = new Map<string, Dataset>();

/** Load every split in data_files (cached per file set). */
export function loadDataset(config: DatasetConfig): Dataset {
  const key = JSON.stringify([config.data_files, config.field ?? null]);
  const hit = cache.get(key);
  if (hit) return hit;
  const splitNames = Object.keys(config.data_files);
  if (splitNames.length === 0) throw new DatasetError(`task '${config.task}': dataset_kwargs.data_files names no files`);
  const perSplit = splitNames.map((split) => {
    const files = config.data_files[split]!;
    if (files.length === 0) throw new DatasetError(`task '${config.task}': split '${split}' has no data files`);
    return { split, files: files.map((f) => ({ file: f, ...readRows(f, config.field) })) };
  });
  // the builder infers the features from the first split's first file and casts every table to them
  const schema = perSplit[0]!.files[0]!.type;
  const splits: Record<string, Doc[]> = {};
  for (const { split, files } of perSplit) {
    const docs: Doc[] = [];
    for (const f of files) {
      for (const [k, t] of f.type.fields) {
        const to = schema.fields.get(k);
        if (to === undefined) throw new DatasetError(`task '${config.task}': ${f.file} (split '${split}') has a column '${k}' that ${perSplit[0]!.files[0]!.file} lacks; datasets' json builder casts every split to the first file's columns and fails on this too`);
        if (!castable(t, to)) throw new DatasetError(`task '${config.task}': column '${k}' is ${describe(t)} in ${f.file} but ${describe(to)} in ${perSplit[0]!.files[0]!.file}; datasets cannot cast one to the other`);
      }
      for (const row of f.rows) docs.push(conform(row, schema) as Doc);
    }
    splits[split] = docs;
  }
  const out: Dataset = { splits, schema, columns: [...schema.fields.keys()] };
  cache.set(key, out);
  return out;
}

/** Every split's documents, by split name. */
export function loadSplits(config: DatasetConfig): Record<string, Doc[]> {
  return loadDataset(config).splits;
}

/** The documents of one split; an error names the split, the task and the splits there are. */
export function splitDocs(config: DatasetConfig, split: string, role: string): Doc[] {
  const ds = loadDataset(config);
  const docs = ds.splits[split];
  if (docs === undefined) throw new DatasetError(`task '${config.task}': the ${role} split '${split}' is not in dataset_kwargs.data_files (it has ${Object.keys(ds.splits).map((s) => `'${s}'`).join(', ')})`);
  return docs;
}

/** The harness's evaluation split: test_split if set, else validation_split. */
export function evalSplitName(config: DatasetConfig): string {
  const split = config.test_split ?? config.validation_split;
  if (split === undefined) throw new DatasetError(`task '${config.task}': neither test_split nor validation_split is set, so there is nothing to evaluate on`);
  return split;
}

/** The few-shot pool's split when no fewshot_config.split/samples say otherwise: fewshot_split, else training → validation → test. */
export function fewshotSplitName(config: DatasetConfig): string | undefined {
  return config.fewshot_split ?? config.training_split ?? config.validation_split ?? config.test_split;
}
