import { test } from 'node:test';
import assert from 'node:assert/strict';
import { doublingSort, sais } from '../../src/corpus/sais.js';
import { randInt, rng } from './helpers.js';

function naiveSA(s: Int32Array): number[] {
  const idx = Array.from({ length: s.length }, (_, i) => i);
  idx.sort((a, b) => {
    while (a < s.length && b < s.length) {
      if (s[a] !== s[b]) return s[a]! - s[b]!;
      a++;
      b++;
    }
    return 0;
  });
  return idx;
}

function withSentinel(xs: number[]): Int32Array {
  const s = new Int32Array(xs.length + 1);
  xs.forEach((x, i) => (s[i] = x + 1));
  return s;
}

test('sais matches a naive sort on random strings over small and large alphabets', () => {
  const r = rng(1);
  for (let trial = 0; trial < 2000; trial++) {
    const n = 1 + randInt(r, 80);
    const K = 1 + randInt(r, trial % 2 ? 4 : 300);
    const s = withSentinel(Array.from({ length: n }, () => randInt(r, K)));
    assert.deepEqual(Array.from(sais(s, K)), naiveSA(s), `input ${Array.from(s)}`);
  }
});

test('sais handles runs, periodic strings and the shortest input', () => {
  const cases: number[][] = [[0], [5], Array(500).fill(0), Array.from({ length: 501 }, (_, i) => i % 2), Array.from({ length: 600 }, (_, i) => i % 3 === 0 ? 1 : 0), Array.from({ length: 300 }, (_, i) => 300 - i), Array.from({ length: 300 }, (_, i) => i)];
  for (const xs of cases) {
    const K = Math.max(...xs) + 1;
    const s = withSentinel(xs);
    assert.deepEqual(Array.from(sais(s, K)), naiveSA(s));
  }
});

test('sais sorts a larger random text (checked pairwise)', () => {
  const r = rng(7);
  const n = 200_000;
  const s = withSentinel(Array.from({ length: n }, () => (r() < 0.5 ? randInt(r, 3) : randInt(r, 5000))));
  const SA = sais(s, 5000);
  const seen = new Uint8Array(s.length);
  for (const p of SA) {
    assert.equal(seen[p], 0);
    seen[p] = 1;
  }
  for (let i = 1; i < SA.length; i++) {
    let a = SA[i - 1]!;
    let b = SA[i]!;
    while (s[a] === s[b]) {
      a++;
      b++;
    }
    assert.ok(s[a]! < s[b]!, `order at ${i}`);
  }
});

test('sais refuses inputs without a unique final sentinel', () => {
  assert.throws(() => sais(Int32Array.from([1, 2]), 2), /sentinel/);
  assert.throws(() => sais(Int32Array.from([0]), 1), /at least one symbol/);
  assert.throws(() => sais(Int32Array.from([1, 0, 2, 0]), 2), /sentinel/);
});

test('prefix doubling (used for mostly-distinct reduced problems) matches a naive sort, small and big groups', () => {
  const r = rng(3);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + randInt(r, trial < 250 ? 60 : 3000);
    const K = 1 + randInt(r, trial % 3 === 0 ? 2 : 50);
    const s = withSentinel(Array.from({ length: n }, () => randInt(r, K)));
    const want = naiveSA(s);
    const SA = new Int32Array(s.length);
    doublingSort(Int32Array.from(s), SA, s.length, K);
    assert.deepEqual(Array.from(SA), want);
  }
  // Groups over 4096 suffixes take the radix-sort path.
  const s = withSentinel(Array.from({ length: 20_000 }, () => randInt(r, 2)));
  const SA = new Int32Array(s.length);
  doublingSort(Int32Array.from(s), SA, s.length, 2);
  assert.deepEqual(Array.from(SA), naiveSA(s));
});
