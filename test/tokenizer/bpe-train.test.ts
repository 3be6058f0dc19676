// Training byte-level BPE: exact vocabulary size, deterministic merges, save/load round trip, compression.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer, trainBpe, type TrainProgress } from '../../src/tokenizer/index.js';
import { firstDiff, spamSample, variedText } from './varied-text.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-bpe-train-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const corpus = spamSample(30, 2); // ~200 e-mails, ~1 MB
const progress: TrainProgress[] = [];
const bpe = trainBpe(corpus, 1000, { onProgress: (p) => progress.push(p), progressEvery: 100 });

test('trained BPE has exactly the requested vocabulary, specials last', () => {
  assert.equal(bpe.vocabSize, 1000);
  assert.equal(bpe.eotId, 999);
  assert.equal(bpe.merges.length, 1000 - 256 - 1);
  assert.match(bpe.id, /^bpe:[0-9a-f]{16}$/);
  assert.deepEqual(bpe.encode('<|endoftext|>'), [999]);
  const withPad = trainBpe(corpus.slice(0, 50), 300, { specialTokens: ['<|endoftext|>', '<|pad|>'] });
  assert.equal(withPad.vocabSize, 300);
  assert.deepEqual(withPad.encode('<|pad|><|endoftext|>'), [299, 298]);
});

test('training is deterministic and reports progress', () => {
  const again = trainBpe(corpus, 1000);
  assert.deepEqual(again.merges, bpe.merges);
  assert.equal(again.id, bpe.id);
  assert.ok(progress.some((p) => p.phase === 'merge' && p.merges === 700 && p.lastMerge !== undefined));
  assert.equal(progress.at(-1)!.phase, 'done');
  assert.equal(progress.at(-1)!.merges, 743);
});

test('ties go to the pair with the smaller ids; the most frequent pair merges first', () => {
  // Words: "ab" x1, " ab" x2, " cd" x3. Pairs (a,b), (c,d), (Ġ,c) all occur 3 times; 'a' < 'c' < 'Ġ' in id order.
  const t = trainBpe(['ab ab ab cd cd cd'], 256 + 3 + 1);
  assert.deepEqual(readMerges(t, 'tie'), ['a b', 'c d', 'Ġ cd']);
  assert.equal(t.encode(' cd').length, 1);
  assert.equal(t.encode(' ab').length, 2);
});

function readMerges(t: { save(dir: string): void }, name: string): string[] {
  const dir = join(root, name);
  t.save(dir);
  return readFileSync(join(dir, 'merges.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#version'));
}

test('save writes vocab.json + merges.txt that load back to an identical tokenizer', () => {
  const dir = join(root, 'trained');
  bpe.save(dir);
  const vocab = JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
  assert.equal(Object.keys(vocab).length, 1000);
  assert.equal(vocab['<|endoftext|>'], 999);
  assert.equal(readFileSync(join(dir, 'merges.txt'), 'utf8').split('\n')[0], '#version: 0.2');
  const loaded = loadTokenizer(dir);
  assert.equal(loaded.id, bpe.id);
  assert.equal(loaded.vocabSize, 1000);
  assert.equal(loaded.eotId, 999);
  const text = spamSample(40, 7).slice(0, 60).join('<|endoftext|>') + variedText(50_000, 4);
  const a = bpe.encode(text);
  const b = loaded.encode(text);
  assert.ok(a.length === b.length && a.every((x, i) => x === b[i]), firstDiff(a, b));
  assert.equal(loaded.decode(b), text);
});

test('trained BPE compresses its training text and round-trips it', () => {
  const text = corpus.join('\n');
  const ids = bpe.encode(text, { allowedSpecial: 'none' });
  const bytes = Buffer.byteLength(text);
  assert.ok(ids.length < bytes * 0.6, `${ids.length} tokens for ${bytes} bytes`);
  assert.equal(bpe.decode(ids), text);
});

test('special-token text in the corpus is not learned as merges; bad arguments are rejected', () => {
  const t = trainBpe(['<|endoftext|>'.repeat(50), 'hello world'], 280);
  for (const line of readMerges(t, 'special')) assert.ok(!line.includes('endoftext'), line);
  assert.throws(() => trainBpe(['x'], 100), /vocabSize must be an integer >= 257/);
  assert.throws(() => trainBpe(['x'], 300, { specialTokens: ['a', 'a'] }), /distinct non-empty/);
  // A tiny corpus runs out of pairs: the vocabulary is then smaller than asked.
  const small = trainBpe(['abab'], 5000);
  assert.ok(small.vocabSize < 5000 && small.vocabSize > 257);
});

test('incremental pair counting equals naive recounting (reference trainer)', async () => {
  const { pretokenize } = await import('../../src/tokenizer/gpt2-pretokenize.js');
  const { BYTE_ORDER } = await import('../../src/tokenizer/bytes-unicode.js');
  const docs = spamSample(150, 11).map((d) => d.slice(0, 4000));
  docs.push('aaaaaaa aaaa aaa bbbbbb ababab');
  const target = 420;
  const fast = trainBpe(docs, target, { specialTokens: [] });
  // Naive: recount all pairs every step, most frequent first, ties to smaller (left, right).
  const counts = new Map<string, number>();
  for (const d of docs) for (const w of pretokenize(d)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const byteId = new Map(BYTE_ORDER.map((b, i) => [b, i]));
  const tokenBytes: string[] = BYTE_ORDER.map((b) => String.fromCharCode(b));
  const words = [...counts].map(([w, c]) => ({ ids: [...Buffer.from(w)].map((b) => byteId.get(b)!), c }));
  const merges: Array<[number, number]> = [];
  while (tokenBytes.length < target) {
    const pc = new Map<number, number>();
    for (const { ids, c } of words) for (let i = 0; i + 1 < ids.length; i++) pc.set(ids[i] * 100000 + ids[i + 1], (pc.get(ids[i] * 100000 + ids[i + 1]) ?? 0) + c);
    let best = -1;
    let bestC = 0;
    for (const [k, c] of pc) if (c > bestC || (c === bestC && k < best)) [best, bestC] = [k, c];
    if (bestC < 2) break;
    const a = Math.floor(best / 100000);
    const b = best % 100000;
    const s = tokenBytes[a] + tokenBytes[b];
    let z = tokenBytes.indexOf(s);
    if (z < 0) z = tokenBytes.push(s) - 1;
    merges.push([a, b]);
    for (const w of words) {
      const out: number[] = [];
      for (let i = 0; i < w.ids.length; i++) {
        if (i + 1 < w.ids.length && w.ids[i] === a && w.ids[i + 1] === b) {
          out.push(z);
          i++;
        } else out.push(w.ids[i]);
      }
      w.ids = out;
    }
  }
  assert.equal(fast.merges.length, merges.length);
  assert.deepEqual(fast.merges, merges);
});
