// Bad input is refused with a message naming the file and the problem: empty corpora and documents, truncated or
// corrupted files, a different tokenizer, a missing shard, an unfinished build (which resumes shard by shard).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, openSync, readFileSync, closeSync, writeSync, readSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildIndex, CorpusIndex, IndexError } from '../../src/corpus/index.js';
import { ident, randomDocs, rng, tempDir } from './helpers.js';

const docsA = [
  { id: 'one', tokens: [1, 2, 3, 1, 2] },
  { id: 'two', tokens: [2, 3, 4] },
  { id: 'three', tokens: [4, 4, 4, 1] },
];

async function threeShards(dir: string) {
  const out = join(dir, 'idx');
  await buildIndex(docsA, { out, tokenizer: ident(8), jobs: 1, maxShardTokens: 5 });
  return out;
}

function flipByte(path: string, at: number) {
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] = b[0]! ^ 0xff;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
}

test('an empty corpus and empty documents are refused', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await assert.rejects(buildIndex([], { out: join(dir, 'a'), tokenizer: ident(4), jobs: 1 }), /empty corpus/);
    await assert.rejects(
      buildIndex([{ id: 'ok', tokens: [1] }, { id: 'blank.txt', tokens: [] }], { out: join(dir, 'b'), tokenizer: ident(4), jobs: 1 }),
      /document "blank\.txt" has no tokens/,
    );
    assert.ok(!existsSync(join(dir, 'b', '.build')), 'an unfinished spool is removed');
    const rep = await buildIndex([{ id: 'ok', tokens: [1] }, { id: 'blank.txt', tokens: [] }], { out: join(dir, 'c'), tokenizer: ident(4), jobs: 1, skipEmpty: true });
    assert.equal(rep.manifest.totalDocs, 1);
    await assert.rejects(buildIndex([{ id: 'big', tokens: [1, 9] }], { out: join(dir, 'd'), tokenizer: ident(4), jobs: 1 }), /document "big": token id 9 at position 1 is outside the vocabulary/);
  } finally {
    cleanup();
  }
});

test('a truncated file is refused at open, naming the file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = await threeShards(dir);
    const sa = join(out, 'shard-00001.sa');
    truncateSync(sa, statSync(sa).size - 2);
    assert.throws(() => CorpusIndex.open(out), (e: unknown) => e instanceof IndexError && e.file === sa && /truncated: \d+ bytes, expected \d+/.test(e.message));
    truncateSync(sa, 100);
    assert.throws(() => CorpusIndex.open(out), /shard-00001\.sa: truncated: 100 bytes, shorter than the 256-byte header/);
  } finally {
    cleanup();
  }
});

test('a corrupted payload fails its checksum (at open for small indexes, else on verify)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = await threeShards(dir);
    const tok = join(out, 'shard-00000.tokens');
    flipByte(tok, 256 + 3);
    assert.throws(() => CorpusIndex.open(out), (e: unknown) => e instanceof IndexError && e.file === tok && /corrupted: checksum mismatch/.test(e.message));
    const quick = CorpusIndex.open(out, { verify: 'quick' });
    assert.throws(() => quick.verify(), /shard-00000\.tokens: corrupted: checksum mismatch/);
    quick.close();
    flipByte(tok, 256 + 3);
    CorpusIndex.open(out).close();
    // The document table is always verified; a header byte has its own check value.
    const docs = join(out, 'shard-00002.docs');
    flipByte(docs, 256 + 1);
    assert.throws(() => CorpusIndex.open(out, { verify: 'quick' }), /shard-00002\.docs: corrupted: checksum mismatch/);
    flipByte(docs, 256 + 1);
    const sa = join(out, 'shard-00000.sa');
    flipByte(sa, 30);
    assert.throws(() => CorpusIndex.open(out, { verify: 'quick' }), /shard-00000\.sa: corrupted header/);
    flipByte(sa, 30);
    flipByte(sa, 0);
    assert.throws(() => CorpusIndex.open(out, { verify: 'quick' }), /shard-00000\.sa: not a tessera corpus index file/);
  } finally {
    cleanup();
  }
});

test('querying with a different tokenizer is refused, naming the manifest', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = await threeShards(dir);
    assert.throws(
      () => CorpusIndex.open(out, { tokenizer: { id: 'bytes', vocabSize: 256 } }),
      (e: unknown) => e instanceof IndexError && e.file === join(out, 'index.json') && /built with tokenizer "test:8" .* queried with "bytes"/.test(e.message),
    );
    assert.throws(() => CorpusIndex.open(out, { tokenizer: { id: 'test:8', vocabSize: 9 } }), /vocabulary 8/);
    // A shard file swapped in from another build is refused too.
    const other = join(dir, 'other');
    await buildIndex(docsA, { out: other, tokenizer: ident(8, 'other-tokenizer'), jobs: 1, maxShardTokens: 5 });
    writeFileSync(join(out, 'shard-00001.tokens'), readFileSync(join(other, 'shard-00001.tokens')));
    assert.throws(() => CorpusIndex.open(out), /shard-00001\.tokens: belongs to a different build/);
  } finally {
    cleanup();
  }
});

test('a missing shard, manifest or index directory is refused, naming the path', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = await threeShards(dir);
    rmSync(join(out, 'shard-00002.sa'));
    assert.throws(() => CorpusIndex.open(out), /shard-00002\.sa: missing \(suffix array file of shard 2 of 3\)/);
    rmSync(join(out, 'index.json'));
    assert.throws(() => CorpusIndex.open(out), /index\.json: missing: not a tessera corpus index directory/);
    assert.throws(() => CorpusIndex.open(join(dir, 'nope')), /nope: no such index directory/);
    writeFileSync(join(out, 'index.json'), '{"format": "tessera-corpus-index", "version": 99}');
    assert.throws(() => CorpusIndex.open(out), /index\.json: unsupported index format version 99/);
  } finally {
    cleanup();
  }
});

test('an interrupted build resumes shard by shard and gives the same index', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const r = rng(5);
    const docs = randomDocs(r, 30, 40, 5);
    const out = join(dir, 'resume');
    const opts = { out, tokenizer: ident(5), jobs: 1, maxShardTokens: 150, corpus: 'random' };
    let built = 0;
    await assert.rejects(
      buildIndex(docs, {
        ...opts,
        onProgress: (p) => {
          if (p.phase === 'shard' && p.stage === 'done') built++;
          if (p.phase === 'shard' && p.stage === 'sort' && built === 2) throw new Error('simulated crash');
        },
      }),
      /simulated crash/,
    );
    assert.ok(!existsSync(join(out, 'index.json')));
    assert.throws(() => CorpusIndex.open(out), /index\.json: missing: the index build did not finish/);
    // Resuming does not read the documents again.
    const rep = await buildIndex([], opts);
    assert.deepEqual(rep.resumedShards, [0, 1]);
    assert.ok(rep.manifest.shards.length > 2);
    assert.ok(!existsSync(join(out, '.build')));
    const fresh = join(dir, 'fresh');
    await buildIndex(docs, { ...opts, out: fresh });
    const a = CorpusIndex.open(out);
    const b = CorpusIndex.open(fresh);
    for (const q of [[0], [1, 2], [0, 0, 0], [4, 3]]) assert.deepEqual(a.count(q), b.count(q));
    for (const name of ['shard-00000.sa', 'shard-00002.sa', 'shard-00001.tokens']) {
      assert.deepEqual(readFileSync(join(out, name)).subarray(256), readFileSync(join(fresh, name)).subarray(256));
    }
    a.close();
    b.close();
    // A partial build of something else is not resumed silently.
    const other = join(dir, 'other');
    await assert.rejects(buildIndex(docs, { ...opts, out: other, onProgress: (p) => { if (p.phase === 'shard') throw new Error('stop'); } }), /stop/);
    await assert.rejects(buildIndex(docs, { ...opts, out: other, tokenizer: ident(6) }), /state\.json: a partial build of a different corpus, tokenizer or shard size/);
    await buildIndex(docs, { ...opts, out: other, tokenizer: ident(6), force: true });
  } finally {
    cleanup();
  }
});

test('an existing index or a foreign directory is not overwritten without force', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = await threeShards(dir);
    await assert.rejects(buildIndex(docsA, { out, tokenizer: ident(8), jobs: 1 }), /index\.json: an index already exists here; pass force/);
    writeFileSync(join(out, 'notes.txt'), 'keep me');
    const rep = await buildIndex(docsA, { out, tokenizer: ident(8), jobs: 1, force: true });
    assert.equal(rep.manifest.shards.length, 1);
    assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'keep me');
    assert.ok(!existsSync(join(out, 'shard-00002.sa')));
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'data.bin'), 'x');
    await assert.rejects(buildIndex(docsA, { out: foreign, tokenizer: ident(8), jobs: 1 }), /foreign: directory is not empty \(data\.bin\)/);
  } finally {
    cleanup();
  }
});
