// Training a byte-level BPE (GPT-2 scheme) on documents: word counts, then most-frequent-pair merges with incremental
// pair-count updates and a lazy max-heap; special tokens are appended after the merges.
import { BpeTokenizer, latin1 } from './bpe.js';
import { BYTE_ORDER, bytesToToken } from './bytes-unicode.js';
import { forEachPretoken } from './gpt2-pretokenize.js';

export interface TrainProgress {
  phase: 'count' | 'merge' | 'done';
  /** Documents read (count phase). */
  docs: number;
  /** Distinct pre-tokens seen so far. */
  words: number;
  /** Merges made so far and the number wanted. */
  merges: number;
  targetMerges: number;
  /** The latest merge, spelled as in merges.txt, and how often that pair occurred. */
  lastMerge?: [string, string];
  lastCount?: number;
}

export interface TrainBpeOptions {
  /** Appended after the merges, in order. Default ['<|endoftext|>']. Their text is cut out of the corpus. */
  specialTokens?: string[];
  /** Stop when the most frequent pair occurs fewer times than this (default 2); the vocabulary may then be smaller. */
  minFrequency?: number;
  onProgress?: (p: TrainProgress) => void;
  /** Call onProgress every this many merges / documents (default 100 / 1000). */
  progressEvery?: number;
}

/**
 * Train a byte-level BPE with `vocabSize` ids in total: the 256 byte tokens (GPT-2 order), the merges, then the
 * special tokens. Ties between equally frequent pairs go to the pair with the smaller (left, right) ids, so training
 * is deterministic for a given corpus.
 */
export function trainBpe(docs: Iterable<string>, vocabSize: number, opts: TrainBpeOptions = {}): BpeTokenizer {
  const specials = opts.specialTokens ?? ['<|endoftext|>'];
  const minFrequency = opts.minFrequency ?? 2;
  const every = opts.progressEvery;
  const onProgress = opts.onProgress;
  if (!Number.isInteger(vocabSize) || vocabSize < 256 + specials.length) {
    throw new Error(`trainBpe: vocabSize must be an integer >= ${256 + specials.length} (256 bytes + ${specials.length} special tokens), got ${vocabSize}`);
  }
  if (new Set(specials).size !== specials.length || specials.some((s) => typeof s !== 'string' || s === '')) {
    throw new Error('trainBpe: special tokens must be distinct non-empty strings');
  }
  if (!(minFrequency >= 1)) throw new Error(`trainBpe: minFrequency must be >= 1, got ${minFrequency}`);
  const targetMerges = vocabSize - 256 - specials.length;

  // ---- Count pre-tokens (special-token text is removed, as it never reaches BPE at encode time). ----
  const wordCounts = new Map<string, number>();
  const count = (w: string) => wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
  const splitter = specials.length ? new RegExp([...specials].sort((a, b) => b.length - a.length).map(escapeRegex).join('|'), 'u') : undefined;
  let nDocs = 0;
  const countEvery = every ?? 1000;
  for (const doc of docs) {
    if (typeof doc !== 'string') throw new Error(`trainBpe: document ${nDocs} is ${typeof doc}, expected a string`);
    for (const piece of splitter ? doc.split(splitter) : [doc]) forEachPretoken(piece, count);
    nDocs++;
    if (onProgress && nDocs % countEvery === 0) onProgress({ phase: 'count', docs: nDocs, words: wordCounts.size, merges: 0, targetMerges });
  }

  // ---- Symbols: id i < 256 is byte BYTE_ORDER[i]; later ids are merge results. ----
  const byteId = new Int32Array(256);
  BYTE_ORDER.forEach((b, i) => (byteId[b] = i));
  const tokens: Uint8Array[] = BYTE_ORDER.map((b) => Uint8Array.of(b));
  const tokenIndex = new Map<string, number>(tokens.map((t, i) => [latin1(t), i]));

  const enc = new TextEncoder();
  const words: Int32Array[] = [];
  const lens: number[] = [];
  const freq: number[] = [];
  for (const [w, c] of wordCounts) {
    const b = enc.encode(w);
    if (b.length < 2) continue; // a single byte has no pairs
    const ids = new Int32Array(b.length);
    for (let i = 0; i < b.length; i++) ids[i] = byteId[b[i]];
    words.push(ids);
    lens.push(b.length);
    freq.push(c);
  }
  const nWords = words.length;
  wordCounts.clear();

  // ---- Pair counts and, per pair, the words it occurs in (may hold duplicates / stale entries). ----
  const K = Math.max(vocabSize, 256);
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  for (let w = 0; w < nWords; w++) {
    const ids = words[w];
    const c = freq[w];
    for (let i = 0; i < lens[w] - 1; i++) {
      const key = ids[i] * K + ids[i + 1];
      const prev = pairCount.get(key);
      if (prev === undefined) {
        pairCount.set(key, c);
        pairWords.set(key, [w]);
      } else {
        pairCount.set(key, prev + c);
        const ws = pairWords.get(key)!;
        if (ws[ws.length - 1] !== w) ws.push(w);
      }
    }
  }
  const heap = new PairHeap();
  for (const [key, c] of pairCount) heap.push(c, key);

  const merges: Array<[number, number]> = [];
  const stamp = new Int32Array(nWords).fill(-1);
  const mergeEvery = every ?? 100;
  let lastMerge: [string, string] | undefined;
  let lastCount: number | undefined;
  while (merges.length < targetMerges && heap.size > 0) {
    const { count: c, key } = heap.pop();
    const current = pairCount.get(key) ?? 0;
    if (current !== c) {
      if (current > 0) heap.push(current, key);
      continue;
    }
    if (c < minFrequency) break;
    const a = Math.floor(key / K);
    const b = key - a * K;
    const bytes = new Uint8Array(tokens[a].length + tokens[b].length);
    bytes.set(tokens[a]);
    bytes.set(tokens[b], tokens[a].length);
    const bkey = latin1(bytes);
    let z = tokenIndex.get(bkey);
    if (z === undefined) {
      z = tokens.length;
      tokens.push(bytes);
      tokenIndex.set(bkey, z);
    }
    merges.push([a, b]);

    const touched = new Set<number>();
    const mi = merges.length - 1;
    for (const w of pairWords.get(key) ?? []) {
      if (stamp[w] === mi) continue;
      stamp[w] = mi;
      const ids = words[w];
      let n = lens[w];
      let has = false;
      for (let i = 0; i < n - 1; i++) if (ids[i] === a && ids[i + 1] === b) { has = true; break; }
      if (!has) continue;
      const f = freq[w];
      for (let i = 0; i < n - 1; i++) addCount(pairCount, ids[i] * K + ids[i + 1], -f);
      let o = 0;
      for (let i = 0; i < n; i++) {
        if (i < n - 1 && ids[i] === a && ids[i + 1] === b) {
          ids[o++] = z;
          i++;
        } else ids[o++] = ids[i];
      }
      n = lens[w] = o;
      for (let i = 0; i < n - 1; i++) {
        const k2 = ids[i] * K + ids[i + 1];
        addCount(pairCount, k2, f);
        if (ids[i] === z || ids[i + 1] === z) {
          touched.add(k2);
          let ws = pairWords.get(k2);
          if (!ws) pairWords.set(k2, (ws = []));
          if (ws[ws.length - 1] !== w) ws.push(w);
        }
      }
    }
    pairWords.delete(key);
    for (const k2 of touched) {
      const c2 = pairCount.get(k2);
      if (c2 !== undefined) heap.push(c2, k2);
    }
    if (onProgress) {
      lastMerge = [bytesToToken(tokens[a]), bytesToToken(tokens[b])];
      lastCount = c;
      if (merges.length % mergeEvery === 0) onProgress({ phase: 'merge', docs: nDocs, words: nWords, merges: merges.length, targetMerges, lastMerge, lastCount });
    }
  }

  const all: Array<Uint8Array | null> = [...tokens];
  const specialMap = new Map<string, number>();
  for (const s of specials) {
    if (tokenIndex.has(latin1(enc.encode(s)))) throw new Error(`trainBpe: special token ${JSON.stringify(s)} is also an ordinary token of the trained vocabulary`);
    specialMap.set(s, all.length);
    all.push(null);
  }
  onProgress?.({ phase: 'done', docs: nDocs, words: nWords, merges: merges.length, targetMerges, lastMerge, lastCount });
  return new BpeTokenizer({ tokens: all, specials: specialMap, semantics: 'merges', merges });
}

function addCount(m: Map<number, number>, key: number, d: number): void {
  const v = (m.get(key) ?? 0) + d;
  if (v === 0) m.delete(key);
  else m.set(key, v);
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** Max-heap of (count, pair key); equal counts pop the smaller key first, i.e. the smaller (left, right) ids. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }

  private before(c1: number, k1: number, c2: number, k2: number): boolean {
    return c1 > c2 || (c1 === c2 && k1 < k2);
  }

  push(count: number, key: number): void {
    const { counts, keys } = this;
    let i = counts.length;
    counts.push(count);
    keys.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(count, key, counts[p], keys[p])) break;
      counts[i] = counts[p];
      keys[i] = keys[p];
      i = p;
    }
    counts[i] = count;
    keys[i] = key;
  }

  pop(): { count: number; key: number } {
    const { counts, keys } = this;
    const top = { count: counts[0], key: keys[0] };
    const c = counts.pop()!;
    const k = keys.pop()!;
    const n = counts.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let l = 2 * i + 1;
        if (l >= n) break;
        if (l + 1 < n && this.before(counts[l + 1], keys[l + 1], counts[l], keys[l])) l++;
        if (!this.before(counts[l], keys[l], c, k)) break;
        counts[i] = counts[l];
        keys[i] = keys[l];
        i = l;
      }
      counts[i] = c;
      keys[i] = k;
    }
    return top;
  }
}
