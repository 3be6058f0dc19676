// `tessera corpus …` end to end: build an index from a folder, query it with --json (one object per command),
// and bad input reported on stderr with exit code 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';

function tessera(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['bin/tessera.js', ...args], { encoding: 'utf8', input, env: { ...process.env, TESSERA_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(args: string[], input?: string): any {
  const r = tessera([...args, '--json'], input);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'one JSON object');
  return JSON.parse(lines[0]!);
}

test('corpus index and every query verb from the command line', () => {
  const { dir, cleanup } = tempDir();
  try {
    const root = join(dir, 'docs');
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, 'a.txt'), 'the cat sat on the mat. the cat ran.');
    writeFileSync(join(root, 'sub', 'b.txt'), 'a dog sat on the log; the cat watched.');
    writeFileSync(join(root, 'c.txt'), 'nothing else here');
    const out = join(dir, 'idx');
    const rep = json(['corpus', 'index', '--corpus', root, '--tokenizer', 'bytes', '--out', out]);
    assert.equal(rep.tokens, 36 + 38 + 17);
    assert.equal(rep.docs, 3);
    assert.equal(rep.shards, 1);
    assert.ok(rep.bytesPerToken > 5 && rep.bytesPerToken < 60);

    assert.deepEqual(json(['corpus', 'count', '--index', out, 'the cat']), { count: 3, docs: 2 });
    assert.deepEqual(json(['corpus', 'count', '--index', out, 'cat sat on the log']), { count: 0, docs: 0 });
    assert.deepEqual(json(['corpus', 'count', '--index', out, '--file', '-'], 'sat on the '), { count: 2, docs: 2 });
    assert.deepEqual(json(['corpus', 'count', '--index', out, '--ids', '116,104,101']), { count: 5, docs: 2 });

    const loc = json(['corpus', 'locate', '--index', out, 'the cat', '--limit', '2', '--context', '4']);
    assert.equal(loc.count, 3);
    assert.deepEqual(loc.hits.map((h: any) => [h.doc, h.offset]), [['a.txt', 0], ['a.txt', 24]]);
    assert.deepEqual(loc.hits[1].snippet, { before: 'at. ', match: 'the cat', after: ' ran' });

    const lg = json(['corpus', 'longest', '--index', out, 'the dog']);
    assert.deepEqual(lg.lengths, [1, 2, 3, 4, 2, 3, 4]);

    const tr = json(['corpus', 'trace', '--index', out, 'we saw a dog sat on the mat yesterday', '--min-tokens', '6']);
    assert.deepEqual(tr.spans.map((s: any) => [s.text, s.count, s.docs, s.topDocs[0].doc]), [
      ['a dog sat on the ', 1, 1, 'sub/b.txt'],
      [' sat on the mat', 1, 1, 'a.txt'],
    ]);

    const nx = json(['corpus', 'next', '--index', out, 'the ']);
    assert.equal(nx.count, 5);
    assert.deepEqual(nx.next.map((t: any) => [t.text, t.count]), [['c', 3], ['l', 1], ['m', 1]]);

    assert.equal(json(['corpus', 'verify', '--index', out]).ok, true);
    assert.equal(json(['corpus', 'info', '--index', out]).tokenizer.id, 'bytes');
    // Human-readable output too.
    const human = tessera(['corpus', 'count', '--index', out, 'the cat']);
    assert.equal(human.stdout.trim(), 'count 3  docs 2');

    // Bad input: exit code 1 and a message naming the file and the problem.
    let r = tessera(['corpus', 'count', '--index', out, '--tokenizer', 'gpt2', 'the']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /index\.json: the index was built with tokenizer "bytes" .* queried with "gpt2"/);
    r = tessera(['corpus', 'index', '--corpus', 'no-such-corpus', '--tokenizer', 'bytes', '--out', join(dir, 'x')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown corpus "no-such-corpus".*moby-dick, sotu, spam-assassin/);
    mkdirSync(join(dir, 'empty'));
    r = tessera(['corpus', 'index', '--corpus', join(dir, 'empty'), '--tokenizer', 'bytes', '--out', join(dir, 'y')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /empty: empty corpus/);
    r = tessera(['corpus', 'index', '--corpus', root, '--tokenizer', 'bytes', '--out', out]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /an index already exists here/);
    const sa = join(out, 'shard-00000.sa');
    truncateSync(sa, statSync(sa).size - 4);
    r = tessera(['corpus', 'count', '--index', out, 'the']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /shard-00000\.sa: truncated/);
    r = tessera(['corpus', 'count', '--index', join(dir, 'missing'), 'the']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /missing: no such index directory|missing.*index\.json: missing/);
  } finally {
    cleanup();
  }
});
