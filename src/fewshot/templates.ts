// lm-evaluation-harness prompt templates: doc_to_text / doc_to_target / doc_to_choice / description rendered the way
// ConfigurableTask does (a doc field name → the doc's value, else a Jinja2 template rendered with StrictUndefined and
// keep_trailing_newline; all-digit text → int where doc_to_choice is set; "[...]" targets and doc_to_choice text
// through ast.literal_eval), plus the Python pieces that needs (str()/repr(), literal_eval, str methods).
//
// Engine: @huggingface/jinja (nunjucks was uninstalled). A sweep (.scratch, not committed) took the 1,881 distinct
// doc_to_text/doc_to_target/doc_to_choice/description templates of lm_eval 0.4.13's bundled task YAMLs, rendered
// them on synthetic docs inferred from each template's AST, and compared byte for byte with Jinja2 on the 1,829 that
// Jinja2 renders: nunjucks 1,671 (91.4%); nunjucks + installJinjaCompat 1,673 (91.5%; its slicing hangs on one);
// @huggingface/jinja's Template (trim_blocks + lstrip_blocks) 1,486 (81.2%); its parser and interpreter with the
// harness's whitespace settings 1,734 (94.8%); and this module on top of it (Python str()/repr() of outputs,
// StrictUndefined, Python str methods and filters, Jinja2 string escapes, non-ASCII identifiers) 1,828 (99.9%; the
// one left is a synthetic-doc artifact, `|map(attribute=…)` over strings). Undefined variables: with each of up to 3
// variables dropped from the doc (2,440 cases) this module raises exactly where Jinja2 does, 2,440/2,440.
//
// The package exports neither its runtime value classes nor hooks, so pyInterpreter() puts a few replacements of the
// interpreter's (private) evaluate* methods on a prototype of its own; the package's Interpreter itself is untouched.

import { Environment, Interpreter, parse, tokenize } from '@huggingface/jinja';
import { pythonRegex } from './filters.js';

export type Doc = Record<string, unknown>;

/** An Arrow-like column type (dataset.ts infers one per dataset) so ints and floats render as Python renders them. */
export type ValueType =
  | { kind: 'null' | 'bool' | 'int' | 'float' | 'string' | 'json' }
  | { kind: 'list'; item: ValueType }
  | { kind: 'struct'; fields: Map<string, ValueType> };

/** Where a template comes from, for error messages. */
export interface TemplateSite {
  task: string;
  /** The config field: doc_to_text, doc_to_target, doc_to_choice, description, fewshot_config.doc_to_text, … */
  field: string;
}

export class TemplateError extends Error {
  constructor(
    message: string,
    readonly site: TemplateSite,
    readonly template: string,
    /** The undefined variable (or attribute), when that is what failed. */
    readonly missing?: string,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Runtime values of @huggingface/jinja (classes found through the values Environment.set makes)

type Program = ReturnType<typeof parse>;
interface Value {
  type: string;
  value: unknown;
  __bool__(): { value: boolean };
}
interface Node {
  type: string;
  [field: string]: unknown;
}
type Ctor<A extends unknown[]> = new (...args: A) => Value;

const probe = new Environment();
const StringValue = probe.set('s', '').constructor as Ctor<[string]>;
const IntegerValue = probe.set('i', 1).constructor as Ctor<[number]>;
const FloatValue = probe.set('f', 1.5).constructor as Ctor<[number]>;
const BooleanValue = probe.set('b', true).constructor as Ctor<[boolean]>;
const NullValue = probe.set('n', null).constructor as Ctor<[]>;
const UndefinedValue = probe.set('u', undefined).constructor as Ctor<[]>;
const ArrayValue = probe.set('a', []).constructor as Ctor<[Value[]]>;
const ObjectValue = probe.set('o', {}).constructor as Ctor<[Map<string, Value>]>;
const FunctionValue = probe.set('fn', () => null).constructor as Ctor<[(args: Value[], env: Environment) => Value]>;
const TupleValue = evalProbe('(1, 2)');
const KeywordArgumentsValue = (() => {
  let kw: Value | undefined;
  const env = new Environment();
  env.setVariable('f', new FunctionValue((args) => ((kw = args[0]), new NullValue())) as never);
  new Interpreter(env).run(parse(tokenize('{{ f(a=1) }}')));
  return kw!.constructor as Ctor<[Map<string, Value>]>;
})();

function evalProbe(expr: string): Ctor<[Value[]]> {
  const env = new Environment();
  new Interpreter(env).run(parse(tokenize(`{% set t = ${expr} %}`)));
  return env.lookupVariable('t').constructor as Ctor<[Value[]]>;
}

const is = {
  str: (v: Value): v is Value & { value: string } => v instanceof StringValue,
  int: (v: Value): v is Value & { value: number } => v instanceof IntegerValue,
  float: (v: Value): v is Value & { value: number } => v instanceof FloatValue,
  bool: (v: Value): v is Value & { value: boolean } => v instanceof BooleanValue,
  none: (v: Value) => v instanceof NullValue,
  undef: (v: Value) => v instanceof UndefinedValue,
  list: (v: Value): v is Value & { value: Value[] } => v instanceof ArrayValue,
  /** (not a type guard: a tuple is also a list) */
  tuple: (v: Value): boolean => v instanceof TupleValue,
  dict: (v: Value): v is Value & { value: Map<string, Value> } => v instanceof ObjectValue,
  fn: (v: Value): v is Value & { value: (args: Value[], env: Environment) => Value } => v instanceof FunctionValue,
  num: (v: Value): v is Value & { value: number | boolean } => [IntegerValue, FloatValue, BooleanValue].some((c) => v instanceof c),
};

const str = (s: string): Value => new StringValue(s);
const int = (n: number): Value => new IntegerValue(n);
const float = (n: number): Value => new FloatValue(n);
const bool = (b: boolean): Value => new BooleanValue(b);
const none = (): Value => new NullValue();
const list = (xs: Value[]): Value => new ArrayValue(xs);
const fn = (f: (args: Value[], kwargs: Map<string, Value>) => Value): Value =>
  new FunctionValue((args) => {
    const last = args.at(-1);
    if (last instanceof KeywordArgumentsValue) return f(args.slice(0, -1), last.value as Map<string, Value>);
    return f(args, new Map());
  });

/** Jinja2's StrictUndefined: anything but `is defined` / `default` on it is an error. */
class StrictUndefined extends UndefinedValue {
  constructor(
    readonly hint: string,
    readonly missing: string,
  ) {
    super();
  }
  override __bool__(): { value: boolean } {
    throw new UndefinedVariable(this);
  }
}

class UndefinedVariable extends Error {
  constructor(readonly undef: StrictUndefined | Value) {
    super(undef instanceof StrictUndefined ? undef.hint : 'undefined value');
  }
}

function undefinedError(v: Value): UndefinedVariable {
  return new UndefinedVariable(v);
}

/** Python's type name of a runtime value, for messages. */
function typeName(v: Value): string {
  if (is.str(v)) return 'str';
  if (is.bool(v)) return 'bool';
  if (is.int(v)) return 'int';
  if (is.float(v)) return 'float';
  if (is.none(v)) return 'NoneType';
  if (is.tuple(v)) return 'tuple';
  if (is.list(v)) return 'list';
  if (is.dict(v)) return 'dict';
  if (is.fn(v)) return 'function';
  if (is.undef(v)) return 'Undefined';
  return v.type;
}

// ---------------------------------------------------------------------------------------------------------------
// Python str() / repr()

const PY_SPACE = new Set([...'\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000'].concat(Array.from({ length: 11 }, (_, i) => String.fromCharCode(0x2000 + i))));

/** Python's str.isspace() for one character. */
export function pyIsSpace(ch: string): boolean {
  return PY_SPACE.has(ch);
}

const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's repr() of a str. */
export function pyReprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x7f) out += ch;
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) {
      if (cp <= 0xff) out += '\\x' + cp.toString(16).padStart(2, '0');
      else if (cp <= 0xffff) out += '\\u' + cp.toString(16).padStart(4, '0');
      else out += '\\U' + cp.toString(16).padStart(8, '0');
    } else out += ch;
  }
  return out + quote;
}

/** Python's repr() of a float. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant, expText] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mant.replace('.', '');
  const exp = Number(expText);
  if (exp >= -5 + 1 && exp < 16) {
    if (exp >= 0) {
      const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
      const frac = digits.slice(exp + 1) || '0';
      return `${sign}${whole}.${frac}`;
    }
    return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function pyReprValue(v: Value): string {
  if (is.str(v)) return pyReprString(v.value);
  if (is.undef(v)) return 'Undefined';
  return pyStrValue(v);
}

/** Python's str() of a runtime value (how Jinja2 prints `{{ v }}`). */
function pyStrValue(v: Value): string {
  if (is.str(v)) return v.value;
  if (is.bool(v)) return v.value ? 'True' : 'False';
  if (is.int(v)) return String(v.value);
  if (is.float(v)) return pyFloatRepr(v.value);
  if (is.none(v)) return 'None';
  // StrictUndefined raises; the engine's own undefined (e.g. `a if b` without else, Jinja2's cond_expr_undefined,
  // a plain Undefined) prints as ''
  if (v instanceof StrictUndefined) throw undefinedError(v);
  if (is.undef(v)) return '';
  if (is.list(v)) {
    const items = v.value.map(pyReprValue).join(', ');
    return is.tuple(v) ? `(${items}${v.value.length === 1 ? ',' : ''})` : `[${items}]`;
  }
  if (v.value instanceof Map) return `{${[...(v.value as Map<string, Value>)].map(([k, x]) => `${pyReprString(k)}: ${pyReprValue(x)}`).join(', ')}}`;
  if (is.fn(v)) return '<function>';
  return String(v.value);
}

/** Python's str() of a plain JS value (a doc field, a literal_eval result): ints as ints, other numbers as floats. */
export function pyStr(x: unknown): string {
  return pyStrValue(toValue(x));
}

/** Python's repr() of a plain JS value. */
export function pyRepr(x: unknown): string {
  return pyReprValue(toValue(x));
}

/** A JS value as a runtime value; `type` (from the dataset's schema) says which numbers are floats. */
function toValue(x: unknown, type?: ValueType): Value {
  if (x === null) return none();
  if (x === undefined) return new UndefinedValue();
  if (typeof x === 'string') return str(x);
  if (typeof x === 'boolean') return bool(x);
  if (typeof x === 'number') return type?.kind === 'float' || !Number.isInteger(x) ? float(x) : int(x);
  if (typeof x === 'bigint') return int(Number(x));
  if (Array.isArray(x)) {
    const item = type?.kind === 'list' ? type.item : undefined;
    return list(x.map((e) => toValue(e, item)));
  }
  if (typeof x === 'object') {
    const fields = type?.kind === 'struct' ? type.fields : undefined;
    return new ObjectValue(new Map(Object.entries(x as Record<string, unknown>).map(([k, e]) => [k, toValue(e, fields?.get(k))])));
  }
  throw new TypeError(`cannot pass a ${typeof x} to a template`);
}

// ---------------------------------------------------------------------------------------------------------------
// Python semantics used by operators, methods and filters

function pyEquals(a: Value, b: Value): boolean {
  if (is.num(a) && is.num(b)) return Number(a.value) === Number(b.value);
  if (is.str(a) && is.str(b)) return a.value === b.value;
  if (is.list(a) && is.list(b)) return is.tuple(a) === is.tuple(b) && a.value.length === b.value.length && a.value.every((x, i) => pyEquals(x, b.value[i]!));
  if (a.value instanceof Map && b.value instanceof Map) {
    const ma = a.value as Map<string, Value>;
    const mb = b.value as Map<string, Value>;
    return ma.size === mb.size && [...ma].every(([k, x]) => mb.has(k) && pyEquals(x, mb.get(k)!));
  }
  if (is.none(a) && is.none(b)) return true;
  return a === b;
}

/** Python's comparison (<, >, ...) result sign. */
function pyCompare(a: Value, b: Value, op: string): number {
  if (is.num(a) && is.num(b)) return Math.sign(Number(a.value) - Number(b.value));
  if (is.str(a) && is.str(b)) {
    const x = Array.from(a.value, (c) => c.codePointAt(0)!);
    const y = Array.from(b.value, (c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return Math.sign(x[i]! - y[i]!);
    return Math.sign(x.length - y.length);
  }
  if (is.list(a) && is.list(b)) {
    for (let i = 0; i < Math.min(a.value.length, b.value.length); i++) {
      if (!pyEquals(a.value[i]!, b.value[i]!)) return pyCompare(a.value[i]!, b.value[i]!, op);
    }
    return Math.sign(a.value.length - b.value.length);
  }
  throw new TypeError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

function pyTruthy(v: Value): boolean {
  return v.__bool__().value;
}

function isIntLike(v: Value): v is Value & { value: number | boolean } {
  return is.int(v) || is.bool(v);
}

function numberOf(v: Value): number {
  return Number(v.value);
}

/** Python's str.split / rsplit. */
function pySplit(s: string, sep: string | null, maxsplit: number, fromRight: boolean): string[] {
  if (sep === null) {
    const chars = Array.from(s);
    const words: string[] = [];
    if (!fromRight) {
      let i = 0;
      while (i < chars.length) {
        while (i < chars.length && pyIsSpace(chars[i]!)) i++;
        if (i >= chars.length) break;
        if (maxsplit >= 0 && words.length === maxsplit) {
          let rest = chars.slice(i);
          while (rest.length && pyIsSpace(rest.at(-1)!)) rest = rest.slice(0, -1);
          words.push(rest.join(''));
          break;
        }
        let j = i;
        while (j < chars.length && !pyIsSpace(chars[j]!)) j++;
        words.push(chars.slice(i, j).join(''));
        i = j;
      }
      return words;
    }
    let i = chars.length;
    while (i > 0) {
      while (i > 0 && pyIsSpace(chars[i - 1]!)) i--;
      if (i <= 0) break;
      if (maxsplit >= 0 && words.length === maxsplit) {
        let start = 0;
        while (start < i && pyIsSpace(chars[start]!)) start++;
        words.unshift(chars.slice(start, i).join(''));
        break;
      }
      let j = i;
      while (j > 0 && !pyIsSpace(chars[j - 1]!)) j--;
      words.unshift(chars.slice(j, i).join(''));
      i = j;
    }
    return words;
  }
  if (sep === '') throw new Error('ValueError: empty separator');
  const parts = s.split(sep);
  if (maxsplit < 0 || parts.length <= maxsplit + 1) return parts;
  if (!fromRight) return [...parts.slice(0, maxsplit), parts.slice(maxsplit).join(sep)];
  return [parts.slice(0, parts.length - maxsplit).join(sep), ...parts.slice(parts.length - maxsplit)];
}

/** Python's str.strip / lstrip / rstrip. */
function pyStrip(s: string, chars: string | null, left: boolean, right: boolean): string {
  const cs = Array.from(s);
  const strip = chars === null ? pyIsSpace : (c: string) => chars.includes(c);
  let a = 0;
  let b = cs.length;
  if (left) while (a < b && strip(cs[a]!)) a++;
  if (right) while (b > a && strip(cs[b - 1]!)) b--;
  return cs.slice(a, b).join('');
}

function pyReplace(s: string, old: string, replacement: string, count: number): string {
  if (count < 0) return s.split(old).join(replacement);
  if (old === '') {
    const cs = Array.from(s);
    let out = '';
    let n = 0;
    for (let i = 0; i <= cs.length; i++) {
      if (n < count) {
        out += replacement;
        n++;
      }
      if (i < cs.length) out += cs[i];
    }
    return out;
  }
  const parts = s.split(old);
  const head = parts.slice(0, count + 1).join(replacement);
  return parts.length > count + 1 ? head + old + parts.slice(count + 1).join(old) : head;
}

const isCased = (c: string) => c.toUpperCase() !== c.toLowerCase();

function pyTitle(s: string): string {
  let prevCased = false;
  let out = '';
  for (const c of s) {
    out += prevCased ? c.toLowerCase() : c.toUpperCase();
    prevCased = isCased(c);
  }
  return out;
}

function pyCapitalize(s: string): string {
  const [first = '', ...rest] = Array.from(s);
  return first.toUpperCase() + rest.join('').toLowerCase();
}

/** Python's int() of a str (whitespace, sign, underscores between digits); null when it is not an int. */
function pyIntOfString(s: string, base = 10): number | null {
  const t = pyStrip(s, null, true, true);
  const digits = base === 16 ? '[0-9a-fA-F]' : base === 8 ? '[0-7]' : base === 2 ? '[01]' : '[0-9]';
  const m = new RegExp(`^([+-]?)(${digits}+(?:_${digits}+)*)$`).exec(t);
  if (!m) return null;
  const n = parseInt(m[2]!.replaceAll('_', ''), base);
  return m[1] === '-' ? -n : n;
}

function pyFloatOfString(s: string): number | null {
  const t = pyStrip(s, null, true, true).replaceAll('_', '');
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(t)) return NaN;
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : null;
}

/** Python's re.sub replacement template (\\1, \\g<1>, \\g<name>, \\n, …) expanded for one match. */
function expandReplacement(repl: string, m: RegExpMatchArray): string {
  const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', a: '\x07', b: '\b', '\\': '\\' };
  return repl.replace(/\\(g<(\w+)>|\d{1,2}|.)/gs, (whole, what: string, name?: string) => {
    const group = name ?? (/^\d/.test(what) ? what : undefined);
    if (group !== undefined) return (/^\d+$/.test(group) ? m[Number(group)] : m.groups?.[group]) ?? '';
    return simple[what] ?? whole;
  });
}

function pyRange(args: Value[]): Value {
  const n = args.map(numberOf);
  const [start, stop, step] = n.length === 1 ? [0, n[0]!, 1] : [n[0]!, n[1]!, n[2] ?? 1];
  if (step === 0) throw new Error('ValueError: range() arg 3 must not be zero');
  const out: Value[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(int(i));
  return list(out);
}

/** Items of an iterable, as Python iterates them (str → characters, dict → keys). */
function iterate(v: Value, what: string): Value[] {
  if (is.list(v)) return v.value;
  if (is.str(v)) return Array.from(v.value, (c) => str(c));
  if (v.value instanceof Map) return [...(v.value as Map<string, Value>).keys()].map((k) => str(k));
  if (is.undef(v)) throw undefinedError(v);
  throw new TypeError(`'${typeName(v)}' object is not iterable (${what})`);
}

function lengthOf(v: Value): number {
  if (is.str(v)) return Array.from(v.value).length;
  if (is.list(v)) return v.value.length;
  if (v.value instanceof Map) return (v.value as Map<string, unknown>).size;
  if (is.undef(v)) throw undefinedError(v);
  throw new TypeError(`object of type '${typeName(v)}' has no len()`);
}

function argStr(v: Value | undefined, what: string): string {
  if (v === undefined || !is.str(v)) throw new TypeError(`${what} must be a str, not ${v === undefined ? 'nothing' : typeName(v)}`);
  return v.value;
}

function optStr(v: Value | undefined): string | null {
  return v === undefined || is.none(v) ? null : argStr(v, 'argument');
}

function optInt(v: Value | undefined, dflt: number): number {
  return v === undefined || is.none(v) ? dflt : numberOf(v);
}

/** Python methods of str, list and dict values reachable as `x.method(...)`. */
function pyMethod(obj: Value, name: string): Value | undefined {
  if (is.str(obj)) {
    const s = obj.value;
    const m: Record<string, (a: Value[], kw: Map<string, Value>) => Value> = {
      upper: () => str(s.toUpperCase()),
      lower: () => str(s.toLowerCase()),
      casefold: () => str(s.toLowerCase()),
      swapcase: () => str(Array.from(s, (c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('')),
      strip: (a) => str(pyStrip(s, optStr(a[0]), true, true)),
      lstrip: (a) => str(pyStrip(s, optStr(a[0]), true, false)),
      rstrip: (a) => str(pyStrip(s, optStr(a[0]), false, true)),
      split: (a, kw) => list(pySplit(s, optStr(a[0] ?? kw.get('sep')), optInt(a[1] ?? kw.get('maxsplit'), -1), false).map(str)),
      rsplit: (a, kw) => list(pySplit(s, optStr(a[0] ?? kw.get('sep')), optInt(a[1] ?? kw.get('maxsplit'), -1), true).map(str)),
      splitlines: (a) => {
        const lines = s.split(/(\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029])/);
        const keep = a[0] !== undefined && pyTruthy(a[0]);
        const out: string[] = [];
        for (let i = 0; i < lines.length; i += 2) {
          const line = lines[i]!;
          const end = lines[i + 1];
          if (end === undefined && line === '') break;
          out.push(keep && end !== undefined ? line + end : line);
        }
        return list(out.map(str));
      },
      replace: (a, kw) => str(pyReplace(s, argStr(a[0], 'old'), argStr(a[1], 'new'), optInt(a[2] ?? kw.get('count'), -1))),
      startswith: (a) => bool((is.list(a[0]!) ? a[0].value.map((x) => argStr(x, 'prefix')) : [argStr(a[0], 'prefix')]).some((p) => s.startsWith(p))),
      endswith: (a) => bool((is.list(a[0]!) ? a[0].value.map((x) => argStr(x, 'suffix')) : [argStr(a[0], 'suffix')]).some((p) => s.endsWith(p))),
      join: (a) =>
        str(
          iterate(a[0]!, 'join')
            .map((x) => {
              if (!is.str(x)) throw new TypeError(`sequence item: expected str instance, ${typeName(x)} found`);
              return x.value;
            })
            .join(s),
        ),
      capitalize: () => str(pyCapitalize(s)),
      title: () => str(pyTitle(s)),
      count: (a) => {
        const sub = argStr(a[0], 'sub');
        return int(sub === '' ? Array.from(s).length + 1 : s.split(sub).length - 1);
      },
      find: (a) => int(codePointIndex(s, s.indexOf(argStr(a[0], 'sub')))),
      rfind: (a) => int(codePointIndex(s, s.lastIndexOf(argStr(a[0], 'sub')))),
      index: (a) => {
        const i = s.indexOf(argStr(a[0], 'sub'));
        if (i < 0) throw new Error('ValueError: substring not found');
        return int(codePointIndex(s, i));
      },
      isdigit: () => bool(s.length > 0 && isPyDigitString(s)),
      isdecimal: () => bool(/^\p{Nd}+$/u.test(s)),
      isnumeric: () => bool(/^\p{N}+$/u.test(s)),
      isalpha: () => bool(/^\p{L}+$/u.test(s)),
      isalnum: () => bool(/^[\p{L}\p{N}]+$/u.test(s)),
      isspace: () => bool(s.length > 0 && Array.from(s).every(pyIsSpace)),
      islower: () => bool(Array.from(s).some(isCased) && s === s.toLowerCase()),
      isupper: () => bool(Array.from(s).some(isCased) && s === s.toUpperCase()),
      zfill: (a) => {
        const w = numberOf(a[0]!);
        const sign = s.startsWith('-') || s.startsWith('+') ? s[0]! : '';
        return str(sign + s.slice(sign.length).padStart(w - sign.length, '0'));
      },
      removeprefix: (a) => str(s.startsWith(argStr(a[0], 'prefix')) ? s.slice(argStr(a[0], 'prefix').length) : s),
      removesuffix: (a) => {
        const x = argStr(a[0], 'suffix');
        return str(x && s.endsWith(x) ? s.slice(0, -x.length) : s);
      },
      partition: (a) => {
        const sep = argStr(a[0], 'sep');
        const i = s.indexOf(sep);
        return new TupleValue((i < 0 ? [s, '', ''] : [s.slice(0, i), sep, s.slice(i + sep.length)]).map(str));
      },
    };
    const f = m[name];
    return f && fn(f);
  }
  if (is.list(obj)) {
    const xs = obj.value;
    if (name === 'index')
      return fn((a) => {
        const i = xs.findIndex((x) => pyEquals(x, a[0]!));
        if (i < 0) throw new Error(`ValueError: ${pyReprValue(a[0]!)} is not in list`);
        return int(i);
      });
    if (name === 'count') return fn((a) => int(xs.filter((x) => pyEquals(x, a[0]!)).length));
    return undefined;
  }
  if (is.dict(obj)) {
    const map = obj.value;
    if (name === 'get') return fn((a) => (is.str(a[0]!) && map.has(a[0].value) ? map.get(a[0].value)! : (a[1] ?? none())));
    if (name === 'items') return fn(() => list([...map].map(([k, v]) => new TupleValue([str(k), v]))));
    if (name === 'keys') return fn(() => list([...map.keys()].map(str)));
    if (name === 'values') return fn(() => list([...map.values()]));
  }
  return undefined;
}

function codePointIndex(s: string, utf16Index: number): number {
  return utf16Index < 0 ? -1 : Array.from(s.slice(0, utf16Index)).length;
}

/** Python's str.isdigit() (decimal digits and the superscript/subscript digits). */
export function isPyDigitString(s: string): boolean {
  return /^[\p{Nd}\u00b2\u00b3\u00b9\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u2474-\u247c\u2488-\u2490\u24f5-\u24fd\u2776-\u277e\u2780-\u2788\u278a-\u2792]+$/u.test(s);
}

// ---------------------------------------------------------------------------------------------------------------
// Filters with Jinja2's semantics (the rest fall through to the engine's own)

function jinjaFilter(name: string, v: Value, args: Value[], kw: Map<string, Value>): Value | undefined {
  const arg = (i: number, key: string) => args[i] ?? kw.get(key);
  switch (name) {
    case 'default':
    case 'd': {
      const dflt = arg(0, 'default_value') ?? str('');
      const boolean = arg(1, 'boolean');
      if (is.undef(v) || (boolean !== undefined && pyTruthy(boolean) && !pyTruthy(v))) return dflt;
      return v;
    }
  }
  if (is.undef(v)) throw undefinedError(v);
  switch (name) {
    case 'string':
      return str(pyStrValue(v));
    case 'join': {
      const sep = optStr(arg(0, 'd')) ?? '';
      const attr = optStr(arg(1, 'attribute'));
      const items = iterate(v, 'join').map((x) => (attr === null ? x : (is.dict(x) ? x.value.get(attr) : undefined) ?? new StrictUndefined(`'${typeName(x)} object' has no attribute '${attr}'`, attr)));
      return str(items.map(pyStrValue).join(sep));
    }
    case 'trim':
      return str(pyStrip(pyStrValue(v), optStr(arg(0, 'chars')), true, true));
    case 'lower':
      return str(pyStrValue(v).toLowerCase());
    case 'upper':
      return str(pyStrValue(v).toUpperCase());
    case 'capitalize':
      return str(pyCapitalize(pyStrValue(v)));
    case 'title':
      return str(
        pyStrValue(v)
          .split(/([-\s({[<]+)/u)
          .filter((item) => item !== '')
          .map((item) => {
            const [first = '', ...rest] = Array.from(item);
            return first.toUpperCase() + rest.join('').toLowerCase();
          })
          .join(''),
      );
    case 'replace':
      return str(pyReplace(pyStrValue(v), argStr(arg(0, 'old'), 'old'), argStr(arg(1, 'new'), 'new'), optInt(arg(2, 'count'), -1)));
    case 'length':
    case 'count':
      return int(lengthOf(v));
    case 'int': {
      const dflt = arg(0, 'default') ?? int(0);
      const base = optInt(arg(1, 'base'), 10);
      if (isIntLike(v)) return int(Number(v.value));
      if (is.float(v)) return int(Math.trunc(v.value));
      if (is.str(v)) {
        const n = pyIntOfString(v.value, base);
        if (n !== null) return int(n);
        const f = pyFloatOfString(v.value);
        return f !== null && Number.isFinite(f) ? int(Math.trunc(f)) : dflt;
      }
      return dflt;
    }
    case 'float': {
      const dflt = arg(0, 'default') ?? float(0);
      if (is.num(v)) return float(Number(v.value));
      const f = is.str(v) ? pyFloatOfString(v.value) : null;
      return f === null ? dflt : float(f);
    }
    case 'first': {
      const xs = iterate(v, 'first');
      return xs[0] ?? new StrictUndefined('No first item, sequence was empty.', 'first');
    }
    case 'last': {
      const xs = iterate(v, 'last');
      return xs.at(-1) ?? new StrictUndefined('No last item, sequence was empty.', 'last');
    }
    case 'list':
      return list(iterate(v, 'list'));
    case 'reverse':
      return is.str(v) ? str(Array.from(v.value).reverse().join('')) : list(iterate(v, 'reverse').slice().reverse());
    case 'wordcount':
      return int((pyStrValue(v).match(/[\p{L}\p{N}_]+/gu) ?? []).length);
    case 'regex_replace': {
      // the harness's own filter: re.sub(pattern, repl, string, count=count)
      const count = optInt(arg(2, 'count'), 0);
      const re = pythonRegex(argStr(arg(0, 'pattern'), 'pattern'), 'g');
      const repl = argStr(arg(1, 'repl'), 'repl');
      const text = pyStrValue(v);
      let out = '';
      let last = 0;
      let n = 0;
      for (const m of text.matchAll(re)) {
        if (count > 0 && n >= count) break;
        out += text.slice(last, m.index) + expandReplacement(repl, m);
        last = m.index + m[0].length;
        n++;
      }
      return str(out + text.slice(last));
    }
    case 'sum': {
      const attr = optStr(arg(0, 'attribute'));
      let total: Value = arg(1, 'start') ?? int(0);
      for (const x of iterate(v, 'sum')) total = arith('+', total, attr === null ? x : ((is.dict(x) && x.value.get(attr)) || none()));
      return total;
    }
    case 'tojson':
      return str(pyJsonDumps(v, true).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/'/g, '\\u0027'));
  }
  return undefined;
}

/** json.dumps with ensure_ascii and the given key sorting. */
function pyJsonDumps(v: Value, sortKeys: boolean): string {
  if (is.str(v)) return JSON.stringify(v.value).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  if (is.bool(v)) return v.value ? 'true' : 'false';
  if (is.int(v)) return String(v.value);
  if (is.float(v)) return Number.isFinite(v.value) ? pyFloatRepr(v.value) : Number.isNaN(v.value) ? 'NaN' : v.value > 0 ? 'Infinity' : '-Infinity';
  if (is.none(v)) return 'null';
  if (is.list(v)) return `[${v.value.map((x) => pyJsonDumps(x, sortKeys)).join(', ')}]`;
  if (v.value instanceof Map) {
    const entries = [...(v.value as Map<string, Value>)];
    if (sortKeys) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${pyJsonDumps(str(k), sortKeys)}: ${pyJsonDumps(x, sortKeys)}`).join(', ')}}`;
  }
  if (is.undef(v)) throw undefinedError(v);
  throw new TypeError(`Object of type ${typeName(v)} is not JSON serializable`);
}

// ---------------------------------------------------------------------------------------------------------------
// Operators with Python's semantics

function arith(op: string, a: Value, b: Value): Value {
  if (is.undef(a)) throw undefinedError(a);
  if (is.undef(b)) throw undefinedError(b);
  const bothInt = isIntLike(a) && isIntLike(b);
  const num = is.num(a) && is.num(b);
  const x = num ? numberOf(a) : 0;
  const y = num ? numberOf(b) : 0;
  const unsupported = () => new TypeError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
  switch (op) {
    case '+':
      if (num) return bothInt ? int(x + y) : float(x + y);
      if (is.str(a) && is.str(b)) return str(a.value + b.value);
      if (is.list(a) && is.list(b) && is.tuple(a) === is.tuple(b)) return is.tuple(a) ? new TupleValue([...a.value, ...b.value]) : list([...a.value, ...b.value]);
      throw unsupported();
    case '-':
      if (num) return bothInt ? int(x - y) : float(x - y);
      throw unsupported();
    case '*':
      if (num) return bothInt ? int(x * y) : float(x * y);
      if (is.str(a) && isIntLike(b)) return str(a.value.repeat(Math.max(0, numberOf(b))));
      if (isIntLike(a) && is.str(b)) return str(b.value.repeat(Math.max(0, numberOf(a))));
      if (is.list(a) && isIntLike(b)) return list(Array.from({ length: Math.max(0, numberOf(b)) }, () => a.value).flat());
      throw unsupported();
    case '/':
      if (!num) throw unsupported();
      if (y === 0) throw new Error('ZeroDivisionError: division by zero');
      return float(x / y);
    case '//':
      if (!num) throw unsupported();
      if (y === 0) throw new Error('ZeroDivisionError: integer division or modulo by zero');
      return bothInt ? int(Math.floor(x / y)) : float(Math.floor(x / y));
    case '%': {
      if (!num) throw unsupported();
      if (y === 0) throw new Error('ZeroDivisionError: integer division or modulo by zero');
      const r = x - Math.floor(x / y) * y;
      return bothInt ? int(r) : float(r);
    }
    case '**': {
      if (!num) throw unsupported();
      const r = x ** y;
      return bothInt && y >= 0 ? int(r) : float(r);
    }
  }
  throw unsupported();
}

function contains(container: Value, item: Value): boolean {
  if (is.undef(container)) throw undefinedError(container);
  if (is.str(container)) {
    if (!is.str(item)) throw new TypeError(`'in <string>' requires string as left operand, not ${typeName(item)}`);
    return container.value.includes(item.value);
  }
  if (is.list(container)) return container.value.some((x) => pyEquals(x, item));
  if (container.value instanceof Map) return is.str(item) && (container.value as Map<string, Value>).has(item.value);
  throw new TypeError(`argument of type '${typeName(container)}' is not iterable`);
}

// ---------------------------------------------------------------------------------------------------------------
// The interpreter with Python/Jinja2 semantics

const STATEMENTS = new Set(['Program', 'If', 'For', 'Set', 'Macro', 'Comment', 'Break', 'Continue', 'CallStatement']);
const ITER_VAR = '__tessera_iterable__';

interface Internals {
  evaluate(node: Node | undefined, env: Environment): Value;
  evaluateArguments(args: Node[], env: Environment): [Value[], Map<string, Value>];
}
type Method = (this: Internals, ...args: never[]) => Value;
const base = Interpreter.prototype as unknown as Record<string, Method>;

function callBase(self: Internals, name: string, ...args: unknown[]): Value {
  return (base[name] as unknown as (...a: unknown[]) => Value).apply(self, args);
}

const hooks = {
  evaluateBlock(this: Internals, statements: Node[], env: Environment): Value {
    let out = '';
    for (const s of statements) {
      const v = this.evaluate(s, env);
      if (!STATEMENTS.has(s.type)) out += pyStrValue(v);
      else if (is.str(v)) out += v.value;
    }
    return str(out);
  },

  evaluateIdentifier(this: Internals, node: Node, env: Environment): Value {
    const name = node.value as string;
    const v = env.lookupVariable(name) as unknown as Value;
    return is.undef(v) && !(v instanceof StrictUndefined) ? new StrictUndefined(`'${demangle(name)}' is undefined`, demangle(name)) : v;
  },

  evaluateMemberExpression(this: Internals, expr: Node, env: Environment): Value {
    const obj = this.evaluate(expr.object as Node, env);
    if (is.undef(obj)) throw undefinedError(obj);
    const prop = expr.property as Node;
    if (expr.computed && prop.type === 'SliceExpression') return callBase(this, 'evaluateSliceExpression', obj, prop, env);
    const key: Value = expr.computed ? this.evaluate(prop, env) : prop.type === 'IntegerLiteral' ? int(prop.value as number) : str(demangle(prop.value as string));
    if (is.undef(key)) throw undefinedError(key);
    const item = (): Value | undefined => {
      if (obj.value instanceof Map) return is.str(key) ? (obj.value as Map<string, Value>).get(key.value) : undefined;
      if ((is.list(obj) || is.str(obj)) && isIntLike(key)) {
        const xs = is.list(obj) ? obj.value : Array.from(obj.value as string, (c) => str(c));
        const i = numberOf(key);
        return xs[i < 0 ? xs.length + i : i];
      }
      return undefined;
    };
    const attr = () => (is.str(key) ? pyMethod(obj, key.value) : undefined);
    const found = expr.computed ? (item() ?? attr()) : (attr() ?? item());
    if (found) return found;
    const what = pyStrValue(key);
    if (is.list(obj) && isIntLike(key)) return new StrictUndefined(`${typeName(obj)} object has no element ${what}`, what);
    return new StrictUndefined(`'${typeName(obj)} object' has no attribute '${what}'`, what);
  },

  evaluateCallExpression(this: Internals, expr: Node, env: Environment): Value {
    const [args, kwargs] = this.evaluateArguments(expr.args as Node[], env);
    if (kwargs.size > 0) args.push(new KeywordArgumentsValue(kwargs));
    const f = this.evaluate(expr.callee as Node, env);
    if (is.undef(f)) throw undefinedError(f);
    if (!is.fn(f)) throw new TypeError(`'${typeName(f)}' object is not callable`);
    return f.value(args, env);
  },

  applyFilter(this: Internals, operand: Value, filter: Node, env: Environment): Value {
    const named = filter.type === 'Identifier';
    const name = (named ? filter.value : (filter.callee as Node).value) as string;
    const [args, kwargs] = named ? [[], new Map<string, Value>()] : this.evaluateArguments(filter.args as Node[], env);
    const mine = jinjaFilter(name, operand, args, kwargs);
    if (mine) return mine;
    if (is.undef(operand)) throw undefinedError(operand);
    return callBase(this, 'applyFilter', operand, filter, env);
  },

  evaluateBinaryExpression(this: Internals, node: Node, env: Environment): Value {
    const op = (node.operator as { value: string }).value;
    const left = this.evaluate(node.left as Node, env);
    if (op === 'and') return pyTruthy(left) ? this.evaluate(node.right as Node, env) : left;
    if (op === 'or') return pyTruthy(left) ? left : this.evaluate(node.right as Node, env);
    const right = this.evaluate(node.right as Node, env);
    switch (op) {
      case '==':
      case '!=':
        if (is.undef(left)) throw undefinedError(left);
        if (is.undef(right)) throw undefinedError(right);
        return bool(pyEquals(left, right) === (op === '=='));
      case '<':
      case '>':
      case '<=':
      case '>=': {
        if (is.undef(left)) throw undefinedError(left);
        if (is.undef(right)) throw undefinedError(right);
        const c = pyCompare(left, right, op);
        return bool(op === '<' ? c < 0 : op === '>' ? c > 0 : op === '<=' ? c <= 0 : c >= 0);
      }
      case 'in':
        return bool(contains(right, left));
      case 'not in':
        return bool(!contains(right, left));
      case '~':
        return str(pyStrValue(left) + pyStrValue(right));
      default:
        return arith(op, left, right);
    }
  },

  evaluateFor(this: Internals, node: Node, env: Environment): Value {
    // Evaluate the iterable here (Python iteration: strings by character, undefined is an error) and hand the
    // engine's loop a variable holding the list.
    const select = (node.iterable as Node).type === 'SelectExpression';
    const source = select ? ((node.iterable as Node).lhs as Node) : (node.iterable as Node);
    const value = this.evaluate(source, env);
    const items = value.value instanceof Map ? value : list(iterate(value, 'for loop'));
    const scope = new Environment(env);
    scope.setVariable(ITER_VAR, items as never);
    const ref = { type: 'Identifier', value: ITER_VAR };
    const loop = select ? { ...node, iterable: { ...(node.iterable as Node), lhs: ref } } : { ...node, iterable: ref };
    return callBase(this, 'evaluateFor', loop, scope);
  },
};

/** The engine's interpreter with `hooks` in front of its own methods (a prototype of our own, not the package's). */
const pyPrototype: object = Object.assign(Object.create(Interpreter.prototype as object) as object, hooks);

function pyInterpreter(env: Environment): Interpreter {
  return Object.setPrototypeOf(new Interpreter(env), pyPrototype) as Interpreter;
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

const programs = new Map<string, Program>();

/**
 * Rewrite what Jinja2 accepts but the engine's lexer does not, inside `{{ }}` / `{% %}` only: string-literal escapes
 * (Python's unicode-escape: unknown ones such as `\d` stay as written; `\a`, octal and `\U` ones) and non-ASCII
 * identifiers (Python allows `{{Instrucción}}`), which become ASCII names (see mangle) bound to the same values.
 */
function prepareSource(template: string): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const open = template.slice(i).search(/\{[{%]/);
    if (open < 0) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, i + open + 2);
    i += open + 2;
    const close = template[i - 1] === '{' ? '}}' : '%}';
    let quote: string | null = null;
    while (i < template.length) {
      const c = template[i]!;
      if (quote === null) {
        if (template.startsWith(close, i)) break;
        const word = /^[\p{L}\p{N}_]+/u.exec(template.slice(i))?.[0];
        if (word !== undefined) {
          out += mangle(word);
          i += word.length;
          continue;
        }
        if (c === '"' || c === "'") quote = c;
        out += c;
        i++;
        continue;
      }
      if (c === '\\') {
        const e = template[i + 1] ?? '';
        if ('ntbrfv\'"\\'.includes(e) && e !== '') (out += c + e), (i += 2);
        else if (e === 'x' || e === 'u') (out += c + e), (i += 2);
        else if (e === 'a') (out += '\\x07'), (i += 2);
        else if (/[0-7]/.test(e)) {
          const oct = /^[0-7]{1,3}/.exec(template.slice(i + 1))![0];
          out += '\\u' + parseInt(oct, 8).toString(16).padStart(4, '0');
          i += 1 + oct.length;
        } else if (e === 'U' && /^[0-9a-fA-F]{8}/.test(template.slice(i + 2))) {
          const ch = String.fromCodePoint(parseInt(template.slice(i + 2, i + 10), 16));
          out += Array.from(ch.split(''), (u) => '\\u' + u.charCodeAt(0).toString(16).padStart(4, '0')).join('');
          i += 10;
        } else (out += '\\\\'), (i += 1);
        continue;
      }
      if (c === quote) quote = null;
      out += c;
      i++;
    }
  }
  return out;
}

/** An identifier the lexer accepts ([A-Za-z0-9_]) for a Python one: non-ASCII characters as __tsU<hex>__. */
function mangle(name: string): string {
  return name.replace(/[^\x00-\x7f]/gu, (c) => `__tsU${c.codePointAt(0)!.toString(16)}__`);
}

function demangle(name: string): string {
  return name.replace(/__tsU([0-9a-f]+)__/g, (_m, hex: string) => String.fromCodePoint(parseInt(hex, 16)));
}

function compile(template: string): Program {
  let p = programs.get(template);
  if (!p) {
    // The lexer drops one trailing newline (Jinja2's default); the harness keeps it (keep_trailing_newline=True).
    p = parse(tokenize(prepareSource(template) + '\n', {}));
    programs.set(template, p);
  }
  return p;
}

function globals(env: Environment): void {
  for (const [k, v] of [
    ['true', true],
    ['false', false],
    ['none', null],
    ['True', true],
    ['False', false],
    ['None', null],
  ] as const)
    env.set(k, v);
  env.setVariable('range', fn((a) => pyRange(a)) as never);
  env.setVariable('dict', fn((_a, kw) => new ObjectValue(new Map(kw))) as never);
}

/**
 * Render a Jinja2 template with the doc's fields as variables, as utils.apply_template does. `schema` (the dataset's
 * column types) makes float columns render as Python floats. Errors name the task, the field and the template.
 */
export function renderTemplate(template: string, doc: Doc, site: TemplateSite, schema?: ValueType): string {
  const where = `task '${site.task}': ${site.field} template ${JSON.stringify(template)}`;
  let program: Program;
  try {
    program = compile(template);
  } catch (err) {
    throw new TemplateError(`${where}: cannot parse it: ${(err as Error).message}`, site, template);
  }
  const env = new Environment();
  globals(env);
  const fields = schema?.kind === 'struct' ? schema.fields : undefined;
  for (const [k, v] of Object.entries(doc)) env.setVariable(mangle(k), toValue(v, fields?.get(k)) as never);
  try {
    const out = pyInterpreter(env).run(program) as unknown as Value;
    return is.str(out) ? out.value : pyStrValue(out);
  } catch (err) {
    if (err instanceof UndefinedVariable) {
      const u = err.undef;
      const missing = u instanceof StrictUndefined ? u.missing : undefined;
      const detail = u instanceof StrictUndefined ? u.hint : 'undefined value';
      const vars = Object.keys(doc);
      throw new TemplateError(`${where}: undefined variable: ${detail} (the document has ${vars.length ? vars.map((v) => `'${v}'`).join(', ') : 'no fields'})`, site, template, missing);
    }
    throw new TemplateError(`${where}: ${(err as Error).message}`, site, template);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ast.literal_eval for the literals doc_to_choice / doc_to_target templates produce

export class LiteralSyntaxError extends Error {}

/** Python's ast.literal_eval for str/int/float/bool/None/list/tuple/dict/set literals (tuples and sets → arrays). */
export function pyLiteralEval(text: string): unknown {
  const p = new LiteralParser(text.replace(/^[ \t]+/, ''));
  const v = p.expression(true);
  p.end();
  return v;
}

class LiteralParser {
  private i = 0;
  constructor(private readonly s: string) {}

  private fail(what: string): never {
    throw new LiteralSyntaxError(`invalid literal at offset ${this.i}: ${what} in ${JSON.stringify(this.s.length > 80 ? this.s.slice(0, 80) + '…' : this.s)}`);
  }

  private skip(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\x0c') this.i++;
      else if (c === '\\' && this.s[this.i + 1] === '\n') this.i += 2;
      else if (c === '#') while (this.i < this.s.length && this.s[this.i] !== '\n') this.i++;
      else return;
    }
  }

  end(): void {
    this.skip();
    if (this.i < this.s.length) this.fail('unexpected text');
  }

  /** An expression; at the top level a bare `a, b` is a tuple. */
  expression(top = false): unknown {
    const first = this.atom();
    this.skip();
    if (!top || this.s[this.i] !== ',') return first;
    const items = [first];
    while (this.s[this.i] === ',') {
      this.i++;
      this.skip();
      if (this.i >= this.s.length) break;
      items.push(this.atom());
      this.skip();
    }
    return items;
  }

  private sequence(close: string): unknown[] {
    const items: unknown[] = [];
    this.skip();
    while (this.s[this.i] !== close) {
      items.push(this.atom());
      this.skip();
      if (this.s[this.i] === ',') {
        this.i++;
        this.skip();
      } else if (this.s[this.i] !== close) this.fail(`expected ',' or '${close}'`);
    }
    this.i++;
    return items;
  }

  private atom(): unknown {
    this.skip();
    const c = this.s[this.i];
    if (c === undefined) this.fail('unexpected end');
    if (c === '[') {
      this.i++;
      return this.sequence(']');
    }
    if (c === '(') {
      this.i++;
      this.skip();
      if (this.s[this.i] === ')') return this.i++, [];
      const first = this.atom();
      this.skip();
      if (this.s[this.i] === ')') return this.i++, first;
      if (this.s[this.i] !== ',') this.fail("expected ',' or ')'");
      this.i++;
      return [first, ...this.sequence(')')];
    }
    if (c === '{') {
      this.i++;
      this.skip();
      if (this.s[this.i] === '}') return this.i++, {};
      const first = this.atom();
      this.skip();
      if (this.s[this.i] !== ':') {
        if (this.s[this.i] === '}') return this.i++, [first];
        if (this.s[this.i] !== ',') this.fail("expected ',' or '}'");
        this.i++;
        return [first, ...this.sequence('}')];
      }
      const dict = new Map<unknown, unknown>();
      let key = first;
      for (;;) {
        this.i++; // ':'
        dict.set(key, this.atom());
        this.skip();
        if (this.s[this.i] === ',') {
          this.i++;
          this.skip();
        } else if (this.s[this.i] !== '}') this.fail("expected ',' or '}'");
        if (this.s[this.i] === '}') break;
        key = this.atom();
        this.skip();
        if (this.s[this.i] !== ':') this.fail("expected ':'");
      }
      this.i++;
      return Object.fromEntries([...dict].map(([k, v]) => [typeof k === 'string' ? k : pyStr(k), v]));
    }
    if (c === '-' || c === '+') {
      this.i++;
      const v = this.atom();
      if (typeof v !== 'number') this.fail('a sign before a non-number');
      return c === '-' ? -v : v;
    }
    if (/[0-9.]/.test(c)) return this.number();
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i))?.[0];
    if (word !== undefined) {
      const prefix = /^(r|u|R|U|b|B|br|rb|Br|bR|BR|Rb|rB|RB|f|F|fr|rf)$/.test(word) && (this.s[this.i + word.length] === '"' || this.s[this.i + word.length] === "'");
      if (prefix) {
        if (/[bBfF]/.test(word)) this.fail(`${word}-strings are not supported`);
        this.i += word.length;
        return this.strings(/[rR]/.test(word));
      }
      this.i += word.length;
      if (word === 'True') return true;
      if (word === 'False') return false;
      if (word === 'None') return null;
      if (word === 'set' && this.s.startsWith('()', this.i)) return (this.i += 2), [];
      this.fail(`name '${word}'`);
    }
    if (c === '"' || c === "'") return this.strings(false);
    this.fail(`unexpected ${JSON.stringify(c)}`);
  }

  /** One or more adjacent string literals (Python concatenates them). */
  private strings(raw: boolean): string {
    let out = this.string(raw);
    for (;;) {
      const save = this.i;
      this.skip();
      const m = /^(r|u|R|U)?(['"])/.exec(this.s.slice(this.i));
      if (!m) {
        this.i = save;
        return out;
      }
      this.i += m[1]?.length ?? 0;
      out += this.string(m[1] !== undefined && /[rR]/.test(m[1]));
    }
  }

  private string(raw: boolean): string {
    const q = this.s[this.i]!;
    const triple = this.s.startsWith(q.repeat(3), this.i);
    const close = triple ? q.repeat(3) : q;
    this.i += close.length;
    let out = '';
    for (;;) {
      if (this.i >= this.s.length) this.fail('unterminated string');
      if (this.s.startsWith(close, this.i)) {
        this.i += close.length;
        return out;
      }
      const c = this.s[this.i]!;
      if (c === '\n' && !triple) this.fail('newline in a string');
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const e = this.s[this.i + 1] ?? '';
      if (raw) {
        out += c + e;
        this.i += 2;
        continue;
      }
      this.i += 2;
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };
      if (e in simple) out += simple[e];
      else if (/[0-7]/.test(e)) {
        const oct = /^[0-7]{1,3}/.exec(this.s.slice(this.i - 1))![0];
        out += String.fromCodePoint(parseInt(oct, 8));
        this.i += oct.length - 1;
      } else if (e === 'x' || e === 'u' || e === 'U') {
        const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = this.s.slice(this.i, this.i + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) this.fail(`truncated \\${e} escape`);
        out += String.fromCodePoint(parseInt(hex, 16));
        this.i += n;
      } else if (e === 'N') this.fail('\\N{...} escapes are not supported');
      else out += '\\' + e;
    }
  }

  private number(): number {
    const rest = this.s.slice(this.i);
    const m =
      /^0[xX](?:_?[0-9a-fA-F])+|^0[oO](?:_?[0-7])+|^0[bB](?:_?[01])+/.exec(rest) ??
      /^(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?/.exec(rest);
    if (!m || m[0] === '.') this.fail('a number');
    const t = m[0];
    this.i += t.length;
    if (/[jJ]/.test(this.s[this.i] ?? '')) this.fail('complex numbers are not supported');
    if (/[A-Za-z_0-9]/.test(this.s[this.i] ?? '')) this.fail('a number followed by a name');
    const clean = t.replaceAll('_', '');
    if (/^0[xX]/.test(clean)) return parseInt(clean.slice(2), 16);
    if (/^0[oO]/.test(clean)) return parseInt(clean.slice(2), 8);
    if (/^0[bB]/.test(clean)) return parseInt(clean.slice(2), 2);
    if (/^\d+$/.test(clean)) {
      if (/^0\d/.test(clean) && /[1-9]/.test(clean)) this.fail('leading zeros in a decimal integer literal are not permitted');
      const n = Number(clean);
      if (!Number.isSafeInteger(n)) this.fail(`integer ${clean} is beyond 2^53`);
      return n;
    }
    return Number(clean);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// doc_to_text / doc_to_target / doc_to_choice, as ConfigurableTask resolves them

/** A `!function` reference from a task YAML (Python; it cannot run here). */
export interface FunctionRef {
  readonly kind: 'function';
  readonly name: string;
}

export function isFunctionRef(x: unknown): x is FunctionRef {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'function' && typeof (x as { name?: unknown }).name === 'string';
}

/** What the doc_to_* resolution needs to know besides the doc. */
export interface DocContext extends TemplateSite {
  /** The evaluation split's columns (the harness's `self.features`): a spec naming one reads the doc's value. */
  features: ReadonlySet<string>;
  /** Whether the task sets doc_to_choice (then all-digit rendered text becomes an int). */
  hasChoice: boolean;
  /** The doc's column types (ints vs floats). */
  schema?: ValueType;
}

function refuseFunction(ref: FunctionRef, ctx: TemplateSite): never {
  throw new TemplateError(`task '${ctx.task}': ${ctx.field} is the Python function '${ref.name}' (!function), which tessera cannot run; write it as a Jinja template instead`, ctx, ref.name);
}

/** The all-digit text → int rule (ast.literal_eval of a str.isdigit() string). */
function digitsToInt(text: string, ctx: TemplateSite): number {
  try {
    const v = pyLiteralEval(text);
    if (typeof v === 'number') return v;
  } catch (err) {
    throw new TemplateError(`task '${ctx.task}': ${ctx.field} rendered ${JSON.stringify(text)}, which is all digits but not a Python int literal (${(err as Error).message}); the harness fails on it too`, ctx, text);
  }
  throw new TemplateError(`task '${ctx.task}': ${ctx.field} rendered ${JSON.stringify(text)}, which is not an int`, ctx, text);
}

/** ConfigurableTask.doc_to_text: an int spec as is, a column's value, else the rendered template (digits → int with choices). */
export function resolveDocToText(spec: unknown, doc: Doc, ctx: DocContext): unknown {
  if (typeof spec === 'number') return spec;
  if (typeof spec === 'string') {
    if (ctx.features.has(spec)) return doc[spec];
    const text = renderTemplate(spec, doc, ctx, ctx.schema);
    return text.length > 0 && isPyDigitString(text) && ctx.hasChoice ? digitsToInt(text, ctx) : text;
  }
  if (isFunctionRef(spec)) refuseFunction(spec, ctx);
  throw new TemplateError(`task '${ctx.task}': ${ctx.field} must be a string (a column or a template), got ${spec === undefined ? 'nothing' : JSON.stringify(spec)}`, ctx, String(spec));
}

/** ConfigurableTask.doc_to_target: also a literal list, and "[...]" text through literal_eval (kept as text if that fails). */
export function resolveDocToTarget(spec: unknown, doc: Doc, ctx: DocContext): unknown {
  if (typeof spec === 'number') return spec;
  if (Array.isArray(spec)) return spec;
  if (typeof spec === 'string') {
    if (ctx.features.has(spec)) return doc[spec];
    const text = renderTemplate(spec, doc, ctx, ctx.schema);
    if (text.length > 0 && isPyDigitString(text) && ctx.hasChoice) return digitsToInt(text, ctx);
    if (text.length >= 2 && text.startsWith('[') && text.endsWith(']')) {
      try {
        return pyLiteralEval(text);
      } catch (err) {
        if (err instanceof LiteralSyntaxError) return text;
        throw err;
      }
    }
    return text;
  }
  if (isFunctionRef(spec)) refuseFunction(spec, ctx);
  throw new TemplateError(`task '${ctx.task}': ${ctx.field} must be a column, a template, an int or a list, got ${spec === undefined ? 'nothing' : JSON.stringify(spec)}`, ctx, String(spec));
}

/** ConfigurableTask.doc_to_choice: a column's list, a template through literal_eval, a literal list, or a dict's values. */
export function resolveDocToChoice(spec: unknown, doc: Doc, ctx: DocContext): unknown[] {
  let out: unknown;
  if (typeof spec === 'string') {
    if (ctx.features.has(spec)) out = doc[spec];
    else {
      const text = renderTemplate(spec, doc, ctx, ctx.schema);
      try {
        out = pyLiteralEval(text);
      } catch (err) {
        throw new TemplateError(`task '${ctx.task}': ${ctx.field} rendered ${JSON.stringify(text)}, which is not a Python literal: ${(err as Error).message}`, ctx, spec);
      }
    }
  } else if (Array.isArray(spec)) out = spec;
  else if (isFunctionRef(spec)) refuseFunction(spec, ctx);
  else if (typeof spec === 'object' && spec !== null) out = Object.values(spec);
  else throw new TemplateError(`task '${ctx.task}': ${ctx.field} must be a column, a template, a list or a dict, got ${JSON.stringify(spec)}`, ctx, String(spec));
  if (!Array.isArray(out)) throw new TemplateError(`task '${ctx.task}': ${ctx.field} must give a list of choices, got ${pyRepr(out)}`, ctx, String(spec));
  return out;
}

/** Task.resolve_field (description, gen_prefix): a key of the doc → its value, else the rendered template; '' → undefined. */
export function resolveField(spec: string | undefined, doc: Doc, ctx: TemplateSite & { schema?: ValueType }): unknown {
  if (!spec) return undefined;
  return Object.hasOwn(doc, spec) ? doc[spec] : renderTemplate(spec, doc, ctx, ctx.schema);
}
