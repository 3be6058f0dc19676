// Tests for the trigram de-duplicator: word split, trigrams, edge cases, and agreement with an exact quadratic
// walk on random corpora with planted near-duplicates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dedupe, trigrams, words } from '../../src/audit/dedup.js';

function counts(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const g of trigrams(text)) m.set(g, (m.get(g) ?? 0) + 1);
  return m;
}

/** The rule, walked quadratically: drop c if |tri(c) ∩ tri(k)| ≥ |tri(c)|/2 for a kept k (first such k). */
function quadratic(texts: readonly string[]): (number | null)[] {
  const tri = texts.map(counts);
  const size = texts.map((t) => trigrams(t).length);
  const key = texts.map((t) => words(t).join(' '));
  const out: (number | null)[] = [];
  const kept: number[] = [];
  for (let c = 0; c < texts.length; c++) {
    let dup: number | null = null;
    for (const k of kept) {
      if (size[c] === 0) {
        if (size[k] === 0 && key[k] === key[c]) dup = k;
      } else {
        let ov = 0;
        for (const [g, a] of tri[c]) ov += Math.min(a, tri[k].get(g) ?? 0);
        if (2 * ov >= size[c]) dup = k;
      }
      if (dup !== null) break;
    }
    out.push(dup);
    if (dup === null) kept.push(c);
  }
  return out;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function corpus(seed: number, count: number): string[] {
  const r = rng(seed);
  const vocab = Array.from({ length: 40 }, (_, i) => `w${i}`);
  const word = (): string => vocab[Math.floor(Math.pow(r(), 2) * vocab.length)];
  const out: string[][] = [];
  for (let i = 0; i < count; i++) {
    const kind = r();
    const prev = out.length > 0 ? out[Math.floor(r() * out.length)] : null;
    if (prev && kind < 0.15) out.push(prev.slice()); // exact copy
    else if (prev && kind < 0.45) {
      // near-duplicate: replace 10–50% of words
      const rate = 0.1 + 0.4 * r();
      out.push(prev.map((w) => (r() < rate ? word() : w)));
    } else if (prev && kind < 0.55) {
      // shuffled chunks of the earlier sample
      const w = prev.slice();
      for (let j = w.length - 1; j > 0; j--) {
        if (r() < 0.3) {
          const x = Math.floor(r() * (j + 1));
          [w[j], w[x]] = [w[x], w[j]];
        }
      }
      out.push(w);
    } else if (kind < 0.62) {
      // repeated phrase (multiset multiplicities)
      const phrase = Array.from({ length: 2 + Math.floor(r() * 3) }, word);
      const reps = 1 + Math.floor(r() * 6);
      out.push(Array.from({ length: reps }, () => phrase).flat());
    } else if (kind < 0.7) out.push(Array.from({ length: Math.floor(r() * 4) }, word)); // short, 0–3 words
    else out.push(Array.from({ length: 3 + Math.floor(r() * 40) }, word));
  }
  const seps = [' ', '  ', ', ', '\n', '. ', ' — ', '\t'];
  return out.map((ws) => ws.map((w, j) => (j === 0 ? w : seps[Math.floor(r() * seps.length)] + w)).join(''));
}

test('words split on whitespace and punctuation', () => {
  assert.deepEqual(words("  Hello, world!  It's\tfine—ok. "), ['Hello', 'world', 'It', 's', 'fine', 'ok']);
  assert.deepEqual(words(''), []);
  assert.deepEqual(words('a😀b c'), ['a😀b', 'c']);
});

test('trigrams form a multiset', () => {
  assert.deepEqual(trigrams('my name my name my name'), [
    'my name my', 'name my name', 'my name my', 'name my name',
  ]);
  assert.deepEqual(trigrams('a b'), []);
});

test('direction: the tested (later) sample owns the denominator', () => {
  const long = 'a b c d e f g h i j k l m n o p';
  const short = 'a b c d e';
  // short's 3 trigrams all occur in long: short duplicates long.
  assert.deepEqual(dedupe([long, short]).duplicateOf, [null, 0]);
  // long has 14 trigrams, only 3 shared: long does not duplicate short.
  assert.deepEqual(dedupe([short, long]).duplicateOf, [null, null]);
});

test('threshold is inclusive and multiset-aware', () => {
  // c has 4 trigrams, 2 shared → exactly half → duplicate.
  assert.deepEqual(dedupe(['x a b c d', 'a b c d q r']).duplicateOf, [null, 0]);
  // repeated trigram counts once per matching occurrence.
  const r = dedupe(['my name my name', 'my name my name my name my name']);
  assert.deepEqual(r.duplicateOf, [null, null]); // 2 of 6 shared
  assert.deepEqual(dedupe(['my name my name my name', 'my name my name my name my']).duplicateOf, [null, 0]);
});

test('short samples duplicate only identical word sequences', () => {
  const r = dedupe(['hello world', 'a b c d', 'hello, world!', 'hello', '', '  ', 'b c']);
  assert.deepEqual(r.duplicateOf, [null, null, 0, null, null, 4, null]);
  assert.deepEqual(r.kept, [0, 1, 3, 4, 6]);
  assert.deepEqual(dedupe([]).duplicateOf, []);
});

test('dropped samples do not absorb later ones; the best-ranked kept sample is named', () => {
  const a = 'p q r s t u v w';
  const b = 'p q r s t u v w';
  assert.deepEqual(dedupe([a, b, a]).duplicateOf, [null, 0, 0]);
});

test('matches the quadratic walk on random corpora (~2,000 samples)', () => {
  for (const seed of [1, 2, 3]) {
    const texts = corpus(seed, seed === 1 ? 2000 : 700);
    const got = dedupe(texts);
    const want = quadratic(texts);
    assert.deepEqual(got.duplicateOf, want, `seed ${seed}`);
    assert.deepEqual(got.kept, want.flatMap((d, i) => (d === null ? [i] : [])));
    const dups = want.filter((d) => d !== null).length;
    assert.ok(dups > 100 && dups < texts.length - 100, `seed ${seed}: ${dups} duplicates`);
  }
});
