// Every query of the corpus index agrees with brute-force search (NaiveCorpus) on random corpora, across shards,
// through worker-built shards, tiny page caches and preloaded files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIndex, CorpusIndex, NaiveCorpus, planShards } from '../../src/corpus/index.js';
import { ident, randInt, randomDocs, rng, tempDir } from './helpers.js';

type Docs = { id: string; tokens: number[] }[];

function queriesFor(r: () => number, docs: Docs, alphabet: number, n: number): number[][] {
  const qs: number[][] = [[], [alphabet + 5], Array(200).fill(0)];
  for (let i = 0; i < n; i++) {
    const kind = r();
    if (kind < 0.55) {
      // A span of a document (it occurs).
      const d = docs[randInt(r, docs.length)]!.tokens;
      const a = randInt(r, d.length);
      const len = 1 + randInt(r, Math.min(12, d.length - a));
      qs.push(d.slice(a, a + len));
    } else if (kind < 0.75) {
      // The end of one document followed by the start of the next: must not match across the boundary.
      const k = randInt(r, docs.length - 1);
      const a = docs[k]!.tokens;
      const b = docs[k + 1]!.tokens;
      qs.push([...a.slice(Math.max(0, a.length - 1 - randInt(r, 3))), ...b.slice(0, 1 + randInt(r, 3))]);
    } else {
      qs.push(Array.from({ length: 1 + randInt(r, 6) }, () => randInt(r, alphabet)));
    }
  }
  return qs;
}

function checkAgainstNaive(idx: CorpusIndex, docs: Docs, qs: number[][], traceTexts: number[][]): void {
  const naive = new NaiveCorpus(docs);
  for (const q of qs) {
    const want = naive.count(q);
    assert.deepEqual(idx.count(q), want, `count ${JSON.stringify(q)}`);
    assert.equal(idx.occurrences(q), want.count);
    // locate: every position, in corpus order.
    const loc = idx.locate(q, { limit: 1_000_000, context: 2 });
    assert.equal(loc.count, want.count);
    assert.equal(loc.docs, want.docs);
    const wantPos = naive.positions(q);
    assert.deepEqual(
      loc.hits.map((h) => [h.docIndex, h.offset]),
      wantPos.map((p) => [p.docIndex, p.offset]),
      `locate ${JSON.stringify(q)}`,
    );
    for (const h of loc.hits.slice(0, 3)) assert.equal(h.doc, docs[h.docIndex]!.id);
    // next: following-token counts.
    const nx = idx.next(q);
    const wn = naive.next(q);
    assert.equal(nx.count, wn.count);
    assert.equal(nx.continued, wn.continued);
    assert.deepEqual(
      nx.next.map((t) => [t.token, t.count]),
      [...wn.next.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]),
      `next ${JSON.stringify(q)}`,
    );
  }
  for (const t of traceTexts) {
    assert.deepEqual(idx.longest(t).lengths, naive.longest(t), `longest ${JSON.stringify(t)}`);
    const ms = naive.matchingStatistics(t);
    assert.deepEqual(Array.from(idx.matchingStatistics(t)), ms);
    for (const M of [1, 3]) {
      const tr = idx.trace(t, { minTokens: M, topDocs: 3 });
      const want: { start: number; end: number; count: number; docs: number }[] = [];
      for (let s = 0; s < t.length; s++) {
        if (ms[s]! < M) continue;
        if (s > 0 && s + ms[s]! <= s - 1 + ms[s - 1]!) continue;
        const c = naive.count(t.slice(s, s + ms[s]!));
        want.push({ start: s, end: s + ms[s]!, ...c });
      }
      assert.deepEqual(
        tr.spans.map((x) => ({ start: x.start, end: x.end, count: x.count, docs: x.docs })),
        want,
        `trace ${JSON.stringify(t)} M=${M}`,
      );
      for (const span of tr.spans) {
        // Top documents: by occurrences, then corpus order; offset = first occurrence.
        const per = new Map<number, { count: number; first: number }>();
        for (const p of naive.positions(t.slice(span.start, span.end))) {
          const e = per.get(p.docIndex);
          if (e) e.count++;
          else per.set(p.docIndex, { count: 1, first: p.offset });
        }
        const top = [...per.entries()].sort((a, b) => b[1].count - a[1].count || a[0] - b[0]).slice(0, 3);
        assert.deepEqual(
          span.topDocs.map((d) => [d.docIndex, d.count, d.offset, d.doc]),
          top.map(([d, e]) => [d, e.count, e.first, docs[d]!.id]),
        );
      }
    }
  }
}

function traceTextsFor(r: () => number, docs: Docs, alphabet: number, n: number): number[][] {
  const out: number[][] = [[]];
  for (let i = 0; i < n; i++) {
    // Pieces of documents glued together with random tokens in between.
    const t: number[] = [];
    const pieces = 1 + randInt(r, 3);
    for (let k = 0; k < pieces; k++) {
      const d = docs[randInt(r, docs.length)]!.tokens;
      const a = randInt(r, d.length);
      t.push(...d.slice(a, a + 1 + randInt(r, 10)));
      if (r() < 0.7) t.push(randInt(r, alphabet));
    }
    out.push(t);
  }
  return out;
}

test('random corpora, one shard: every query agrees with brute force', async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const [seed, alphabet] of [
      [1, 2],
      [2, 5],
      [3, 300],
    ] as const) {
      const r = rng(seed);
      const docs = randomDocs(r, 40, 60, alphabet);
      const out = `${dir}/one-${seed}`;
      const rep = await buildIndex(docs, { out, tokenizer: ident(alphabet + 10), jobs: 1 });
      assert.equal(rep.manifest.shards.length, 1);
      assert.equal(rep.manifest.totalTokens, docs.reduce((a, d) => a + d.tokens.length, 0));
      const idx = CorpusIndex.open(out);
      checkAgainstNaive(idx, docs, queriesFor(r, docs, alphabet, 60), traceTextsFor(r, docs, alphabet, 6));
      idx.close();
    }
  } finally {
    cleanup();
  }
});

test('random corpus in many shards, read through a tiny page cache and preloaded: same answers', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const r = rng(11);
    const docs = randomDocs(r, 80, 50, 4);
    const out = `${dir}/multi`;
    const rep = await buildIndex(docs, { out, tokenizer: ident(20), jobs: 1, maxShardTokens: 300 });
    assert.ok(rep.manifest.shards.length >= 5, `${rep.manifest.shards.length} shards`);
    for (const s of rep.manifest.shards) assert.ok(s.tokens <= 300 || s.docs === 1);
    const qs = queriesFor(r, docs, 4, 50);
    const tt = traceTextsFor(r, docs, 4, 5);
    const paged = CorpusIndex.open(out, { pageSize: 64, cacheBytes: 1024 });
    checkAgainstNaive(paged, docs, qs, tt);
    assert.ok(paged.pageReads > 0);
    paged.close();
    const pre = CorpusIndex.open(out, { preload: true });
    checkAgainstNaive(pre, docs, qs.slice(0, 20), tt.slice(0, 2));
    pre.close();
  } finally {
    cleanup();
  }
});

test('shards built in parallel worker threads give the same answers', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const r = rng(21);
    const docs = randomDocs(r, 60, 80, 6);
    const out = `${dir}/workers`;
    const rep = await buildIndex(docs, { out, tokenizer: ident(6), jobs: 2, parallelMinTokens: 0 });
    assert.equal(rep.manifest.shards.length, 2);
    const idx = CorpusIndex.open(out);
    checkAgainstNaive(idx, docs, queriesFor(r, docs, 6, 30), traceTextsFor(r, docs, 6, 3));
    idx.close();
  } finally {
    cleanup();
  }
});

test('document boundaries: no match spans two documents, and repeated tokens count overlapping occurrences', async () => {
  const { dir, cleanup } = tempDir();
  try {
    // "aaaa" | "aaa" | "ab" | "b" with a=0, b=1.
    const docs = [
      { id: 'x', tokens: [0, 0, 0, 0] },
      { id: 'y', tokens: [0, 0, 0] },
      { id: 'z', tokens: [0, 1] },
      { id: 'w', tokens: [1] },
    ];
    const out = `${dir}/bounds`;
    await buildIndex(docs, { out, tokenizer: ident(2), jobs: 1 });
    const idx = CorpusIndex.open(out);
    assert.deepEqual(idx.count([0]), { count: 8, docs: 3 });
    assert.deepEqual(idx.count([0, 0]), { count: 5, docs: 2 });
    assert.deepEqual(idx.count([0, 0, 0, 0]), { count: 1, docs: 1 });
    assert.deepEqual(idx.count([0, 0, 0, 0, 0]), { count: 0, docs: 0 }); // "aaaa"+"aaa" is across a boundary
    assert.deepEqual(idx.count([1, 1]), { count: 0, docs: 0 }); // "b" at the end of z, "b" in w
    assert.deepEqual(idx.count([0, 1]), { count: 1, docs: 1 });
    assert.deepEqual(idx.count([]), { count: 10, docs: 4 });
    // A query longer than every document.
    assert.deepEqual(idx.count(Array(50).fill(0)), { count: 0, docs: 0 });
    assert.deepEqual(idx.longest([0, 0, 0, 0, 0, 0]).lengths, [1, 2, 3, 4, 4, 4]);
    // Next after "a": a (5 times), b (once); 2 occurrences end their document.
    const nx = idx.next([0]);
    assert.equal(nx.count, 8);
    assert.equal(nx.continued, 6);
    assert.deepEqual(nx.next.map((t) => [t.token, t.count]), [[0, 5], [1, 1]]);
    // Backoff: "b b" never continues... "b" continues nowhere either (ends z and w), so back off to the unigram.
    const bo = idx.next([1], { backoff: true });
    assert.equal(bo.backoff, 1);
    assert.equal(bo.contextTokens, 0);
    assert.equal(bo.continued, 10);
    const tr = idx.trace([0, 0, 0, 0, 0, 1, 1], { minTokens: 2 });
    // ms = [4, 4, 3, 2, 2, 1, 1]: maximal spans [0,4) "aaaa", [1,5) "aaaa", [4,6) "ab".
    assert.deepEqual(tr.spans.map((s) => [s.start, s.end, s.count, s.docs]), [[0, 4, 1, 1], [1, 5, 1, 1], [4, 6, 1, 1]]);
    assert.deepEqual(tr.spans[0]!.topDocs, [{ doc: 'x', docIndex: 0, count: 1, offset: 0 }]);
    assert.deepEqual(idx.locate([0, 0, 0], { limit: 10 }).hits.map((h) => [h.doc, h.offset]), [['x', 0], ['x', 1], ['y', 0]]);
    idx.close();
  } finally {
    cleanup();
  }
});

test('the empty query: count is every token, docs every document; longest and trace are empty', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = `${dir}/empty-q`;
    await buildIndex([{ id: 'a', tokens: [1, 2, 3] }, { id: 'b', tokens: [3] }], { out, tokenizer: ident(4), jobs: 1 });
    const idx = CorpusIndex.open(out);
    assert.deepEqual(idx.count([]), { count: 4, docs: 2 });
    assert.deepEqual(idx.longest([]), { tokens: [], lengths: [] });
    assert.deepEqual(idx.trace([]).spans, []);
    const loc = idx.locate([], { limit: 2 });
    assert.equal(loc.count, 4);
    assert.deepEqual(loc.hits.map((h) => [h.doc, h.offset]), [['a', 0], ['a', 1]]);
    const nx = idx.next([]);
    assert.deepEqual(nx.next.map((t) => [t.token, t.count]), [[3, 2], [1, 1], [2, 1]]);
    idx.close();
  } finally {
    cleanup();
  }
});

test('planShards splits at document boundaries into balanced shards under the cap', () => {
  const lens = Uint32Array.from([5, 5, 5, 5, 100, 5, 5]);
  const p = planShards(lens, 20, 1);
  assert.deepEqual(p.map((s) => s.tokenCount), [20, 100, 10]);
  assert.deepEqual(p.map((s) => s.docStart), [0, 4, 5]);
  const q = planShards(Uint32Array.from([10, 10, 10, 10]), 1000, 2);
  assert.deepEqual(q.map((s) => s.tokenCount), [20, 20]);
  assert.deepEqual(planShards(Uint32Array.from([7]), 1000, 4).map((s) => s.tokenCount), [7]);
});
