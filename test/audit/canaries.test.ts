// Secret Sharer canaries (src/audit/canaries.ts): each canary occurs exactly `repeats` times in the output corpus,
// in distinct documents while there are enough, at line boundaries, deterministically per seed; the original lines
// are untouched; the manifest round-trips through writeCanaryCorpus / readCanaryManifest and a bad one is refused
// with the file and the field named; canariesFound finds secrets in sample texts.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CANARY_FORMATS, canariesFound, insertCanaries, readCanaryManifest, writeCanaryCorpus, type CanaryManifest } from '../../src/audit/canaries.js';
import { loadCorpus } from '../../src/data/corpora.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-canaries-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const occurrences = (hay: string, needle: string) => hay.split(needle).length - 1;
const DOCS = Array.from({ length: 50 }, (_, i) => ({ id: `doc-${i}`, text: `first line of ${i}\nsecond line\n\nlast line ${i}${i % 3 === 0 ? '\n' : ''}` }));
const REPEATS = [1, 2, 4, 8, 16, 32];
const joined = (docs: { text: string }[]) => docs.map((d) => d.text).join('\n\u0000\n');

describe('insertCanaries', () => {
  const a = insertCanaries(DOCS, { repeats: REPEATS, seed: 'abc' });

  it('inserts one canary per format × repeat count, each exactly `repeats` times, into distinct documents', () => {
    assert.equal(a.manifest.canaries.length, 3 * REPEATS.length);
    const all = joined(a.docs);
    for (const c of a.manifest.canaries) {
      assert.equal(c.text, c.prefix + c.secret);
      assert.equal(occurrences(all, c.secret), c.repeats, `${c.id}: secret occurrences`);
      assert.equal(c.docs.length, c.repeats);
      assert.equal(new Set(c.docs).size, c.repeats, `${c.id}: distinct documents`);
      // each listed document holds the sentence on a line of its own
      for (const id of new Set(c.docs)) assert.ok(a.docs.find((d) => d.id === id)!.text.split('\n').includes(c.text), `${c.id} in ${id}`);
    }
    assert.deepEqual(
      a.manifest.canaries.map((c) => `${c.format}:${c.repeats}`),
      ['key', 'digits', 'uuid'].flatMap((f) => REPEATS.map((k) => `${f}:${k}`)),
    );
  });

  it('keeps ids, order and every original line (only the canary lines are added)', () => {
    const sentences = new Set(a.manifest.canaries.map((c) => c.text));
    assert.equal(a.docs.length, DOCS.length);
    a.docs.forEach((d, i) => {
      assert.equal(d.id, DOCS[i]!.id);
      const lines = d.text.split('\n');
      assert.deepEqual(lines.filter((l) => !sentences.has(l)), DOCS[i]!.text.split('\n'), d.id);
      const inserted = lines.length - DOCS[i]!.text.split('\n').length;
      assert.equal(inserted, a.manifest.canaries.reduce((s, c) => s + c.docs.filter((x) => x === d.id).length, 0), `${d.id}: lines added`);
    });
    assert.equal(DOCS[0]!.text, 'first line of 0\nsecond line\n\nlast line 0\n', 'the input is not modified');
  });

  it('secrets follow their formats; the candidate spaces are 36^8, 10^9 and 2^122', () => {
    const secret = (f: string) => a.manifest.canaries.filter((c) => c.format === f).map((c) => c.secret);
    for (const s of secret('key')) assert.match(s, /^[a-z0-9]{8}$/);
    for (const s of secret('digits')) assert.match(s, /^[0-9]{9}$/);
    for (const s of secret('uuid')) assert.match(s, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const prefixes = Object.fromEntries(a.manifest.formats.map((f) => [f.name, f.prefix]));
    assert.deepEqual(prefixes, { key: 'my key is ', digits: 'my number is ', uuid: 'my id is ' });
    const space = Object.fromEntries(CANARY_FORMATS.map((f) => [f.name, f.space_log2]));
    assert.ok(Math.abs(space.key! - Math.log2(36 ** 8)) < 1e-12);
    assert.ok(Math.abs(space.digits! - Math.log2(1e9)) < 1e-12);
    assert.equal(space.uuid, 122);
    assert.equal(new Set(a.manifest.canaries.map((c) => c.secret)).size, a.manifest.canaries.length, 'secrets are distinct');
  });

  it('is deterministic per seed and changes with it', () => {
    assert.deepEqual(insertCanaries(DOCS, { repeats: REPEATS, seed: 'abc' }), a);
    const b = insertCanaries(DOCS, { repeats: REPEATS, seed: 'abd' });
    assert.notDeepEqual(
      b.manifest.canaries.map((c) => c.secret),
      a.manifest.canaries.map((c) => c.secret),
    );
    assert.equal(a.manifest.seed, 'abc');
    assert.equal(insertCanaries(DOCS, { repeats: [1], seed: 7 }).manifest.seed, '7');
  });

  it('reuses documents only once every document has a copy', () => {
    const few = DOCS.slice(0, 3);
    const r = insertCanaries(few, { repeats: [5], formats: ['digits'], seed: 1 });
    const c = r.manifest.canaries[0]!;
    assert.equal(occurrences(joined(r.docs), c.secret), 5);
    assert.equal(new Set(c.docs).size, 3);
  });

  it('gives duplicate repeat counts distinct ids and refuses bad options', () => {
    const r = insertCanaries(DOCS, { repeats: [2, 2], formats: ['key'], seed: 3 });
    assert.deepEqual(
      r.manifest.canaries.map((c) => c.id),
      ['key-k2', 'key-k2-2'],
    );
    assert.throws(() => insertCanaries(DOCS, { repeats: [0] }), /repeats must be positive integers/);
    assert.throws(() => insertCanaries(DOCS, { repeats: [1.5] }), /repeats must be positive integers/);
    assert.throws(() => insertCanaries(DOCS, { repeats: [1], formats: ['nope'] }), /unknown canary format 'nope'/);
    assert.throws(() => insertCanaries(DOCS, { repeats: [1], formats: ['key', 'key'] }), /format 'key' given twice/);
    assert.throws(() => insertCanaries([], { repeats: [1] }), /no documents/);
  });
});

describe('writeCanaryCorpus / readCanaryManifest', () => {
  const src = join(root, 'src.jsonl');
  writeFileSync(src, DOCS.map((d) => JSON.stringify({ text: d.text, other: 1 })).join('\n') + '\n');
  const out = join(root, 'canaried');
  const r = writeCanaryCorpus(src, out, { repeats: [1, 3], formats: ['key', 'uuid'], seed: 9 });

  it('writes corpus.jsonl (original ids, field "text") and canaries.json, atomically', () => {
    assert.deepEqual(readdirSync(out).sort(), ['canaries.json', 'corpus.jsonl'], 'no temporary files left');
    const lines = readFileSync(r.corpus, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; text: string });
    assert.deepEqual(
      lines.map((l) => l.id),
      DOCS.map((_, i) => `src.jsonl:${i + 1}`),
    );
    // the written corpus loads back as a corpus, and the same insertion in memory gives the same texts
    const expected = insertCanaries(loadCorpus(src).documents, { repeats: [1, 3], formats: ['key', 'uuid'], seed: 9 });
    assert.deepEqual(expected.manifest, r.manifest);
    assert.deepEqual(
      loadCorpus(r.corpus).documents.map((d) => d.text),
      expected.docs.map((d) => d.text),
    );
    const all = lines.map((l) => l.text).join('\n\u0000\n');
    for (const c of r.manifest.canaries) assert.equal(occurrences(all, c.secret), c.repeats, c.id);
    assert.ok(r.manifest.canaries.every((c) => c.docs.every((d) => d.startsWith('src.jsonl:'))));
  });

  it('round-trips the manifest, from the directory or the file', () => {
    assert.deepEqual(readCanaryManifest(out), r.manifest);
    assert.deepEqual(readCanaryManifest(r.manifestPath), r.manifest);
    assert.equal(r.manifestPath, join(out, 'canaries.json'));
  });

  it('refuses a bad manifest, naming the file and the field', () => {
    const bad = join(root, 'bad.json');
    const m = r.manifest;
    const refuse = (v: unknown, re: RegExp) => {
      writeFileSync(bad, typeof v === 'string' ? v : JSON.stringify(v));
      assert.throws(() => readCanaryManifest(bad), (e: Error) => e.message.startsWith(`${bad}: `) && re.test(e.message), String(re));
    };
    refuse('{"version": 1,', /not a JSON canary manifest/);
    refuse([1], /expected a JSON object/);
    refuse({ ...m, version: 2 }, /version must be 1, got 2/);
    refuse({ ...m, seed: 9 }, /seed must be a string/);
    refuse({ ...m, canaries: {} }, /canaries must be an array/);
    refuse({ ...m, formats: [{ ...m.formats[0], space_log2: undefined }] }, /formats\[0\]\.space_log2 must be a positive number, got nothing/);
    refuse({ ...m, canaries: [{ ...m.canaries[0], repeats: 0 }] }, /canaries\[0\]\.repeats must be a positive integer/);
    refuse({ ...m, canaries: [m.canaries[0], { ...m.canaries[1], secret: 42 }] }, /canaries\[1\]\.secret must be a string, got 42/);
    refuse({ ...m, canaries: [{ ...m.canaries[0], format: 'digits' }] }, /canaries\[0\]\.format 'digits' is not in "formats"/);
    refuse({ ...m, canaries: [{ ...m.canaries[0], docs: [] }] }, /canaries\[0\]\.docs has 0 entries/);
    refuse({ ...m, canaries: [m.canaries[0], m.canaries[0]] }, /canaries\[1\]\.id '.*' is used twice/);
    refuse({ ...m, canaries: [{ ...m.canaries[0], text: 'x' }] }, /canaries\[0\]\.text must be prefix \+ secret/);
    const empty = mkdtempSync(join(root, 'empty-'));
    assert.throws(() => readCanaryManifest(empty), new RegExp(`${join(empty, 'canaries.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no canary manifest`));
  });
});

describe('canariesFound', () => {
  it('maps each canary to the samples containing its secret', () => {
    const { manifest } = insertCanaries(DOCS, { repeats: [1, 2], formats: ['digits'], seed: 4 });
    const [c1, c2] = manifest.canaries as [CanaryManifest['canaries'][0], CanaryManifest['canaries'][0]];
    const texts = ['nothing here', `leaked ${c1.secret}!`, `${c2.prefix}${c2.secret}\nand ${c1.secret}`, c1.secret.slice(0, 8)];
    const found = canariesFound(manifest, texts);
    assert.deepEqual([...found.keys()], [c1.id, c2.id]);
    assert.deepEqual(found.get(c1.id), [1, 2]);
    assert.deepEqual(found.get(c2.id), [2]);
  });
});
