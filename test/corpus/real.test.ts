// Real corpora through the tokenizers: moby-dick as raw bytes and with GPT-2 BPE, unicode text; every answer
// checked against brute force (token-level indexOf, and String.indexOf for the bytes tokenizer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCorpusIndex, CorpusIndex, NaiveCorpus, naiveTextCount } from '../../src/corpus/index.js';
import { loadCorpus, openCorpus } from '../../src/data/corpora.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { randInt, rng, tempDir } from './helpers.js';

test('moby-dick, bytes tokenizer: counts, docs, locate and trace agree with String.indexOf and token scans', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const tok = loadTokenizer('bytes');
    const corpus = loadCorpus('moby-dick');
    const out = join(dir, 'moby-bytes');
    const rep = await buildCorpusIndex(openCorpus('moby-dick'), tok, { out, jobs: 1 });
    const texts = corpus.documents.map((d) => d.text);
    assert.equal(rep.manifest.totalTokens, texts.reduce((a, t) => a + Buffer.byteLength(t), 0));
    assert.equal(rep.manifest.tokenWidth, 1);
    // 1-byte tokens + 4-byte pointers, plus headers and the document table.
    assert.ok(rep.indexBytes / rep.manifest.totalTokens < 5.01, `${rep.indexBytes / rep.manifest.totalTokens} bytes/token`);
    const idx = CorpusIndex.open(out, { tokenizer: tok });
    const naive = new NaiveCorpus(corpus.documents.map((d) => ({ id: d.id, tokens: Uint8Array.from(Buffer.from(d.text)) })));
    const r = rng(3);
    const queries = ['Call me Ishmael', 'whale', 'the White Whale', '—', 'Queequeg', 'ship’s', 'xyzzy', 'a', '\n\n', 'CHAPTER'];
    for (let i = 0; i < 25; i++) {
      const t = texts[randInt(r, texts.length)]!;
      const a = randInt(r, t.length - 40);
      queries.push(t.slice(a, a + 1 + randInt(r, 30)));
    }
    for (const q of queries) {
      const want = naiveTextCount(texts, q);
      assert.deepEqual(idx.count(q), want, `count ${JSON.stringify(q)}`);
      const loc = idx.locate(q, { limit: 3, context: 5 });
      const wp = naive.positions(tok.encode(q), 3);
      assert.deepEqual(loc.hits.map((h) => [h.docIndex, h.offset]), wp.map((p) => [p.docIndex, p.offset]));
      for (const h of loc.hits) assert.equal(h.snippet!.match, q);
    }
    // Tracing a passage that mixes a real sentence with invented text finds the real part and its chapter.
    const passage = 'Some years ago—never mind how long precisely—having little or no money in my purse. Zorblax quintuple frobnicated.';
    const tr = idx.trace(passage, { minTokens: 20 });
    assert.equal(tr.spans.length, 1);
    assert.ok(tr.spans[0]!.text!.startsWith('Some years ago—never mind how long precisely—having little or no money in my purse'));
    assert.equal(tr.spans[0]!.topDocs[0]!.doc, 'moby-dick/chapter-1');
    idx.close();
  } finally {
    cleanup();
  }
});

test('moby-dick, GPT-2 tokenizer: token-level counts and next-token counts agree with brute force', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const tok = loadTokenizer('gpt2');
    const corpus = loadCorpus('moby-dick');
    const out = join(dir, 'moby-gpt2');
    const rep = await buildCorpusIndex(corpus.documents, tok, { out, jobs: 1, corpus: 'moby-dick' });
    assert.equal(rep.manifest.tokenWidth, 2);
    const docs = corpus.documents.map((d) => ({ id: d.id, tokens: Uint16Array.from(tok.encode(d.text, { allowedSpecial: 'none' })) }));
    const naive = new NaiveCorpus(docs);
    const idx = CorpusIndex.open(out, { tokenizer: tok });
    const r = rng(9);
    for (let i = 0; i < 40; i++) {
      const d = docs[randInt(r, docs.length)]!.tokens;
      const a = randInt(r, d.length - 50);
      const q = Array.from(d.subarray(a, a + 1 + randInt(r, 50)));
      assert.deepEqual(idx.count(q), naive.count(q));
      if (i < 10) {
        const nx = idx.next(q.slice(0, 2));
        const wn = naive.next(q.slice(0, 2));
        assert.equal(nx.continued, wn.continued);
        assert.deepEqual(nx.next.map((t) => [t.token, t.count]), [...wn.next.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0]));
      }
    }
    assert.deepEqual(idx.count(' Ahab'), naive.count(tok.encode(' Ahab')));
    // A 256-token text: longest-match lengths agree with brute force on a prefix.
    const t = Array.from(docs[40]!.tokens.subarray(100, 356));
    t[128] = 50000;
    const ms = idx.matchingStatistics(t);
    assert.equal(ms[0], 128);
    assert.equal(ms[128], 0);
    assert.equal(ms[129], 256 - 129);
    idx.close();
  } finally {
    cleanup();
  }
});

test('unicode: emoji, CJK, combining marks and RTL text are found byte-exactly and decoded in snippets', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const root = join(dir, 'uni');
    mkdirSync(root);
    const docs = {
      'a.txt': 'Grüße aus Köln 🐳🐳 and café vs cafe\u0301.',
      'b.txt': '日本語のテキスト、鯨🐳。مرحبا بالعالم',
      'c.txt': '🐳',
    };
    for (const [name, text] of Object.entries(docs)) writeFileSync(join(root, name), text);
    for (const spec of ['bytes', 'gpt2']) {
      const tok = loadTokenizer(spec);
      const out = join(dir, `uni-${spec}`);
      await buildCorpusIndex(openCorpus(root), tok, { out, jobs: 1 });
      const idx = CorpusIndex.open(out, { tokenizer: tok });
      const texts = Object.values(docs);
      const naive = new NaiveCorpus(texts.map((t, i) => ({ id: String(i), tokens: tok.encode(t) })));
      for (const q of ['🐳', '🐳🐳', ' Köln', '鯨', ' café', 'cafe\u0301', 'مرحبا', '日本語', ...texts]) {
        assert.deepEqual(idx.count(q), naive.count(tok.encode(q)), `${spec} ${q}`);
        if (spec === 'bytes') assert.deepEqual(idx.count(q), naiveTextCount(texts, q), `${spec} ${q}`);
      }
      // Each long document occurs exactly once, in itself; the one-emoji document is also inside the others.
      assert.deepEqual(idx.count(texts[0]!), { count: 1, docs: 1 });
      assert.deepEqual(idx.count(texts[1]!), { count: 1, docs: 1 });
      assert.deepEqual(idx.count(texts[2]!), spec === 'bytes' ? { count: 4, docs: 3 } : naive.count(tok.encode(texts[2]!)));
      if (spec === 'bytes') {
        const loc = idx.locate('鯨', { context: 12 });
        assert.equal(loc.hits[0]!.doc, 'b.txt');
        assert.equal(loc.hits[0]!.snippet!.match, '鯨');
        assert.equal(loc.hits[0]!.snippet!.before, 'キスト、');
        // 10 bytes of context cut a 3-byte character: the partial character is dropped, not shown as U+FFFD.
        assert.equal(idx.locate('鯨', { context: 10 }).hits[0]!.snippet!.before, 'スト、');
        assert.equal(idx.locate('鯨', { context: 10 }).hits[0]!.snippet!.after, '🐳。م');
      }
      idx.close();
    }
  } finally {
    cleanup();
  }
});
