import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_CORPORA, CorpusError, loadCorpus, openCorpus } from '../../src/data/corpora.js';

function tmp(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-corpora-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('moby-dick: one document per chapter in book order; the full text keeps that order', () => {
  const c = loadCorpus('moby-dick');
  assert.equal(c.kind, 'builtin');
  assert.equal(c.documents.length, 139);
  assert.deepEqual(c.documents.slice(0, 4).map((d) => d.id), ['moby-dick/contents', 'moby-dick/etymology', 'moby-dick/extracts', 'moby-dick/chapter-1']);
  assert.equal(c.documents[138]!.id, 'moby-dick/epilogue');
  assert.ok(c.documents[3]!.text.startsWith('Call me Ishmael.'));
  const full = c.fullText();
  assert.equal(full, c.documents.map((d) => d.text).join('\n\n'));
  assert.ok(full.indexOf('Call me Ishmael') < full.indexOf('The drama’s done') || full.indexOf('Call me Ishmael') < full.indexOf('AND I ONLY AM ESCAPED'));
  assert.equal(new Set(c.documents.map((d) => d.id)).size, 139);
  assert.equal(c.fullText(''), c.documents.map((d) => d.text).join(''));
});

test('sotu: one address per document with unique ids; spam-assassin: one e-mail per document', () => {
  const s = loadCorpus('sotu');
  assert.equal(s.documents.length, 233);
  assert.equal(s.documents[0]!.id, 'sotu/1790-george-washington');
  assert.equal(new Set(s.documents.map((d) => d.id)).size, 233);
  const src = openCorpus('spam-assassin');
  assert.equal(src.total, 6046);
  let n = 0;
  let first = '';
  for (const d of src) {
    if (n === 0) first = d.id;
    n++;
  }
  assert.equal(n, 6046);
  assert.equal(first, 'spam-assassin/easy-ham-1/00001');
});

test('an unknown corpus name is refused with the list of valid names', () => {
  assert.throws(
    () => loadCorpus('moby'),
    (e: unknown) => e instanceof CorpusError && BUILTIN_CORPORA.every((n) => e.message.includes(n)) && /unknown corpus "moby"/.test(e.message),
  );
});

test('a text file is one document; a folder is one document per text file, recursive and sorted', () => {
  const { dir, cleanup } = tmp();
  try {
    writeFileSync(join(dir, 'single.txt'), '\ufeffhello wörld\n');
    const f = loadCorpus(join(dir, 'single.txt'));
    assert.deepEqual(f.documents, [{ id: 'single.txt', text: 'hello wörld\n' }]);
    const root = join(dir, 'folder');
    mkdirSync(join(root, 'b', 'c'), { recursive: true });
    mkdirSync(join(root, '.git'));
    writeFileSync(join(root, 'b', 'c', 'z.txt'), 'deep');
    writeFileSync(join(root, 'a.md'), 'first');
    writeFileSync(join(root, 'b', 'a.txt'), 'second');
    writeFileSync(join(root, 'B.txt'), 'upper');
    writeFileSync(join(root, '.hidden'), 'no');
    writeFileSync(join(root, '.git', 'HEAD'), 'no');
    writeFileSync(join(root, 'image.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2]));
    writeFileSync(join(root, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    const c = loadCorpus(root);
    assert.equal(c.kind, 'folder');
    assert.deepEqual(c.documents.map((d) => d.id), ['B.txt', 'a.md', 'b/a.txt', 'b/c/z.txt']);
    assert.deepEqual(c.documents.map((d) => d.text), ['upper', 'first', 'second', 'deep']);
    assert.deepEqual(
      c.skipped.map((s) => s.path).sort(),
      ['.git', '.hidden', 'image.png', 'latin1.txt'],
    );
    assert.ok(c.skipped.find((s) => s.path === 'image.png')!.reason.includes('binary'));
    assert.ok(c.skipped.find((s) => s.path === 'latin1.txt')!.reason.includes('UTF-8'));
  } finally {
    cleanup();
  }
});

test('JSONL: field from the spec or the option; bad lines and missing fields are reported with line numbers', () => {
  const { dir, cleanup } = tmp();
  try {
    const p = join(dir, 'data.jsonl');
    writeFileSync(p, '{"text": "a", "body": "x"}\n\n{"text": "b", "body": "y"}\r\n{"text": "c", "body": "z"}');
    assert.deepEqual(loadCorpus(p).documents, [
      { id: 'data.jsonl:1', text: 'a' },
      { id: 'data.jsonl:3', text: 'b' },
      { id: 'data.jsonl:4', text: 'c' },
    ]);
    assert.deepEqual(loadCorpus(`${p}:body`).documents.map((d) => d.text), ['x', 'y', 'z']);
    assert.deepEqual(loadCorpus(p, { field: 'body' }).documents.map((d) => d.text), ['x', 'y', 'z']);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"text": "ok"}\n{"text": oops}\n');
    assert.throws(() => loadCorpus(bad), (e: unknown) => e instanceof CorpusError && e.message.startsWith(`${bad}:2: invalid JSON`));
    const missing = join(dir, 'missing.jsonl');
    writeFileSync(missing, '{"text": "ok"}\n{"body": "no text", "id": 3}\n');
    assert.throws(() => loadCorpus(missing), new RegExp(`missing\\.jsonl:2: no field "text" \\(this line has "body", "id"\\)`));
    writeFileSync(missing, '{"text": 5}\n');
    assert.throws(() => loadCorpus(missing), /missing\.jsonl:1: field "text" is number, expected a string/);
    writeFileSync(missing, '[1, 2]\n');
    assert.throws(() => loadCorpus(missing), /missing\.jsonl:1: expected a JSON object, got an array/);
    assert.throws(() => loadCorpus(`${p}:`), /empty JSONL field name/);
  } finally {
    cleanup();
  }
});

test('empty corpora and empty documents are refused with the file named; skip drops empty documents', () => {
  const { dir, cleanup } = tmp();
  try {
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    assert.throws(() => loadCorpus(empty), new RegExp(`${empty.replace(/[.]/g, '\\.')}: empty document`));
    const folder = join(dir, 'f');
    mkdirSync(folder);
    assert.throws(() => loadCorpus(folder), /f: empty corpus \(no text files found\)/);
    writeFileSync(join(folder, 'a.txt'), 'text');
    writeFileSync(join(folder, 'b.txt'), '');
    assert.throws(() => loadCorpus(folder), /b\.txt: empty document \(pass emptyDocuments: 'skip'/);
    assert.deepEqual(loadCorpus(folder, { emptyDocuments: 'skip' }).documents.map((d) => d.id), ['a.txt']);
    rmSync(join(folder, 'a.txt'));
    assert.throws(() => loadCorpus(folder, { emptyDocuments: 'skip' }), /empty corpus \(all 1 document\(s\) are empty\)/);
    const jl = join(dir, 'e.jsonl');
    writeFileSync(jl, '\n\n');
    assert.throws(() => loadCorpus(jl), /e\.jsonl: empty corpus \(no JSON lines\)/);
    writeFileSync(jl, '{"text": ""}\n');
    assert.throws(() => loadCorpus(jl), /e\.jsonl:1: empty document/);
  } finally {
    cleanup();
  }
});
