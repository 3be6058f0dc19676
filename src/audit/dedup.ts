// Fuzzy trigram de-duplication of ranked samples (Carlini et al. 2021, §6.1), exact and index-accelerated.
//
// Words: maximal runs of code points that are neither whitespace (JS `\s`) nor Unicode punctuation (`\p{P}`),
// i.e. the text is split on whitespace and punctuation, as the reference notes (the paper gives no regex).
// tri(s) is the multiset of consecutive word trigrams (n words give n-2 trigrams).
//
// Rule: s1 duplicates s2 when |tri(s1) ∩ tri(s2)| ≥ |tri(s1)|/2 (multiset ∩). The denominator is the count of
// the sample being tested, s1. Samples come in rank order (best first); we walk them in order and drop sample c
// when it duplicates some already kept sample k (s1 = c, s2 = k, so |tri(c)| is the denominator);
// duplicateOf[c] is the best-ranked such k. Samples with fewer than 3 words have tri = ∅, where the literal rule
// (0 ≥ 0) would make them duplicate everything; instead they duplicate only an earlier sample with the same
// word sequence (so only other short samples), and nothing duplicates them except such identical short samples.
//
// Index and prefix-filter argument. A multiset A is the set of tokens (g, o), o = 1..mult_A(g); then
// |A ∩ B| (multiset) = |T(A) ∩ T(B)| (set). Fix one total order on tokens: (df(g), g, o), df estimated (any
// fixed order is correct; rarity only makes it fast). Let c have n tokens, t = ⌈n/2⌉ (2·ov ≥ n ⇔ ov ≥ t), and
// kept k have m tokens. If |T(c) ∩ T(k)| ≥ t, let w be the first common token in the order: every common token
// is at or after w in both sorted lists, so n − pos_c(w) + 1 ≥ t and m − pos_k(w) + 1 ≥ t, i.e.
// pos_c(w) ≤ n − t + 1 = ⌊n/2⌋ + 1 and pos_k(w) ≤ m − t + 1 (1-based). The threshold depends only on c's size,
// so c's side is prefix-filtered: we index the first ⌊n/2⌋+1 tokens of every sample (the tested side), and a
// kept k probes with all of its tokens, accepting its first hit on c only if pos_k ≤ m − t_c + 1 (probing k's
// list in order, the first hit on c is w whenever c and k are a true pair). Tokens seen in one sample only
// (df = 1) are never common, so they are neither indexed nor probed, though they keep their positions.
//
// Hashing: words hash to 32 bits and trigrams to 32 bits. A hash is a function of the trigram, so the hashed
// intersection is ≥ the exact one (Σ_h min(Σa, Σb) ≥ Σ min(a, b)) and sizes are unchanged: candidate generation
// and the hashed test never lose a true pair. Every pair that passes the hashed test is re-checked on the exact
// trigram strings, so collisions cannot create false duplicates.

const IS_SEP = buildSeparatorTable();
const SEP_RE = /^[\s\p{P}]$/u;

function buildSeparatorTable(): Uint8Array {
  const table = new Uint8Array(65536);
  const re = /^[\s\p{P}]$/u;
  for (let c = 0; c < 65536; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue; // surrogates: handled as pairs
    if (re.test(String.fromCharCode(c))) table[c] = 1;
  }
  return table;
}

/** Splits a text into words on whitespace and Unicode punctuation. */
export function words(text: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const [sep, width] = separatorAt(text, i);
    if (sep) {
      if (start >= 0) out.push(text.slice(start, i));
      start = -1;
    } else if (start < 0) start = i;
    i += width - 1;
  }
  if (start >= 0) out.push(text.slice(start));
  return out;
}

function separatorAt(text: string, i: number): [boolean, number] {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return [SEP_RE.test(text.slice(i, i + 2)), 2];
  }
  return [IS_SEP[c] === 1, 1];
}

/** The word trigrams of a text, in order, each as "w1 w2 w3" (words never contain spaces). */
export function trigrams(text: string): string[] {
  const w = words(text);
  const out: string[] = [];
  for (let i = 0; i + 2 < w.length; i++) out.push(`${w[i]} ${w[i + 1]} ${w[i + 2]}`);
  return out;
}

export interface DedupOptions {
  /** Called with (done, total) during the walk. */
  onProgress?: (done: number, total: number) => void;
}

export interface DedupResult {
  kept: number[];
  duplicateOf: (number | null)[];
  /** candidates: (kept, later) pairs the index produced; comparisons: multiset intersections computed. */
  stats: { candidates: number; comparisons: number; seconds: number };
}

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Scans a text's words, calling `onWord(hash)` per word; returns the word count. Allocation-free. */
function scanWords(text: string, onWord: ((hash: number) => void) | null): number {
  let count = 0;
  let h = 0x811c9dc5;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    let sep: boolean;
    if (c >= 0xd800 && c <= 0xdbff) {
      const [s, width] = separatorAt(text, i);
      sep = s;
      if (width === 2) {
        c = c * 1024 + text.charCodeAt(i + 1);
        i++;
      }
    } else sep = IS_SEP[c] === 1;
    if (sep) {
      if (inWord) {
        count++;
        if (onWord) onWord(mix32(h));
        inWord = false;
      }
    } else {
      if (!inWord) {
        h = 0x811c9dc5;
        inWord = true;
      }
      h = Math.imul(h ^ c, 0x01000193);
    }
  }
  if (inWord) {
    count++;
    if (onWord) onWord(mix32(h));
  }
  return count;
}

function trigramHash(a: number, b: number, c: number): number {
  return mix32(Math.imul(mix32(Math.imul(a, 0x9e3779b1) ^ b) ^ 0x27d4eb2f, 0x165667b1) ^ c);
}

/** Token check value for the index: occurrence o of trigram hash h. */
function tokenKey(h: number, o: number): number {
  return mix32(h ^ Math.imul(o, 0x9e3779b1));
}

function nextPow2(x: number): number {
  let p = 1;
  while (p < x) p *= 2;
  return p;
}

/** De-duplicates samples given best first. Exact for the rule in the header. */
export function dedupe(texts: readonly string[], opts: DedupOptions = {}): DedupResult {
  const t0 = performance.now();
  const n = texts.length;
  const duplicateOf: (number | null)[] = new Array<number | null>(n).fill(null);

  // Pass A: trigram counts and offsets.
  const off = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) off[i + 1] = off[i] + Math.max(0, scanWords(texts[i], null) - 2);
  const total = off[n];
  const tok = new Uint32Array(total);

  // Pass B: trigram hashes, per-sample sort by hash, document-frequency estimate per hash bucket.
  const dfBits = Math.max(16, Math.min(26, Math.ceil(Math.log2(Math.max(2, total)))));
  const dfMask = (1 << dfBits) - 1;
  const df = new Uint16Array(1 << dfBits);
  for (let i = 0; i < n; i++) {
    const base = off[i];
    const size = off[i + 1] - base;
    if (size === 0) continue;
    let w0 = 0;
    let w1 = 0;
    let seen = 0;
    let p = base;
    scanWords(texts[i], (w) => {
      if (seen >= 2) tok[p++] = trigramHash(w0, w1, w);
      w0 = w1;
      w1 = w;
      seen++;
    });
    const list = tok.subarray(base, base + size);
    list.sort();
    for (let j = 0; j < size; j++) {
      if (j > 0 && list[j] === list[j - 1]) continue;
      const b = list[j] & dfMask;
      if (df[b] < 65535) df[b]++;
    }
  }

  // Pass C: order each sample by (df, hash); count its df = 1 tokens (they sort first).
  const unique = new Int32Array(n);
  let scratch = new Float64Array(1024);
  for (let i = 0; i < n; i++) {
    const base = off[i];
    const size = off[i + 1] - base;
    if (size === 0) continue;
    if (scratch.length < size) scratch = new Float64Array(nextPow2(size));
    const keys = scratch.subarray(0, size);
    let u = 0;
    for (let j = 0; j < size; j++) {
      const h = tok[base + j];
      const d = df[h & dfMask];
      if (d === 1) u++;
      keys[j] = d * 4294967296 + h;
    }
    keys.sort();
    for (let j = 0; j < size; j++) tok[base + j] = keys[j] % 4294967296;
    unique[i] = u;
  }

  // Pass D: inverted index over each sample's prefix (positions unique+1 .. ⌊size/2⌋+1), bucketed by token key.
  const prefixEnd = (i: number): number => {
    const size = off[i + 1] - off[i];
    return size === 0 ? 0 : Math.floor(size / 2) + 1;
  };
  let postings = 0;
  for (let i = 0; i < n; i++) postings += Math.max(0, prefixEnd(i) - unique[i]);
  const buckets = nextPow2(Math.max(16, postings));
  const bMask = buckets - 1;
  const bStart = new Uint32Array(buckets + 1);
  const forEachPrefixToken = (i: number, fn: (key: number) => void): void => {
    const base = off[i];
    const end = prefixEnd(i);
    let o = 1;
    for (let j = 0; j < end; j++) {
      if (j > 0 && tok[base + j] === tok[base + j - 1]) o++;
      else o = 1;
      if (j >= unique[i]) fn(tokenKey(tok[base + j], o));
    }
  };
  for (let i = 0; i < n; i++) forEachPrefixToken(i, (key) => bStart[(key & bMask) + 1]++);
  for (let b = 0; b < buckets; b++) bStart[b + 1] += bStart[b];
  const postKey = new Uint32Array(postings);
  const postSample = new Int32Array(postings);
  const fill = bStart.slice(0, buckets);
  for (let i = 0; i < n; i++) {
    forEachPrefixToken(i, (key) => {
      const at = fill[key & bMask]++;
      postKey[at] = key;
      postSample[at] = i;
    });
  }
  const cursor = fill; // reused: per-bucket start of samples not yet passed by the walk
  cursor.set(bStart.subarray(0, buckets));

  // Pass E: the walk. Kept k probes all its shared tokens; each later c is decided on its first hit.
  const stamp = new Int32Array(n).fill(-1);
  const shortSeen = new Map<string, number>();
  const kept: number[] = [];
  const kTable = new KeptTable();
  let candidates = 0;
  let comparisons = 0;
  for (let k = 0; k < n; k++) {
    opts.onProgress?.(k, n);
    if (duplicateOf[k] !== null) continue;
    const m = off[k + 1] - off[k];
    if (m === 0) {
      const key = words(texts[k]).join(' ');
      const first = shortSeen.get(key);
      if (first !== undefined) {
        duplicateOf[k] = first;
        continue;
      }
      shortSeen.set(key, k);
      kept.push(k);
      continue;
    }
    kept.push(k);
    const base = off[k];
    kTable.load(tok, base, m);
    let exactK: Map<string, number> | null = null;
    let o = 1;
    for (let j = 0; j < m; j++) {
      if (j > 0 && tok[base + j] === tok[base + j - 1]) o++;
      else o = 1;
      if (j < unique[k]) continue;
      const key = tokenKey(tok[base + j], o);
      const b = key & bMask;
      let p = cursor[b];
      const end = bStart[b + 1];
      while (p < end && postSample[p] <= k) p++;
      cursor[b] = p;
      for (; p < end; p++) {
        if (postKey[p] !== key) continue;
        const c = postSample[p];
        if (stamp[c] === k) continue;
        stamp[c] = k;
        if (duplicateOf[c] !== null) continue;
        const size = off[c + 1] - off[c];
        const need = (size + 1) >> 1;
        if (j + 1 > m - need + 1) continue; // positional filter on k's side
        candidates++;
        comparisons++;
        if (!kTable.reaches(tok, off[c] + unique[c], off[c + 1], need)) continue;
        exactK ??= countTrigrams(texts[k]);
        if (exactOverlap(exactK, texts[c]) * 2 >= size) duplicateOf[c] = k;
      }
    }
  }
  opts.onProgress?.(n, n);
  return { kept, duplicateOf, stats: { candidates, comparisons, seconds: (performance.now() - t0) / 1000 } };
}

/** Small open-addressing multiset of one kept sample's trigram hashes, for hashed intersections. */
class KeptTable {
  private keys = new Uint32Array(1024);
  private counts = new Int32Array(1024);
  private used = new Uint8Array(1024);
  private mask = 1023;

  load(tok: Uint32Array, base: number, size: number): void {
    const cap = nextPow2(Math.max(1024, size * 2));
    if (cap !== this.keys.length) {
      this.keys = new Uint32Array(cap);
      this.counts = new Int32Array(cap);
      this.used = new Uint8Array(cap);
      this.mask = cap - 1;
    } else this.used.fill(0);
    for (let j = 0; j < size; j++) {
      const h = tok[base + j];
      let s = mix32(h) & this.mask;
      while (this.used[s] === 1 && this.keys[s] !== h) s = (s + 1) & this.mask;
      if (this.used[s] === 0) {
        this.used[s] = 1;
        this.keys[s] = h;
        this.counts[s] = 0;
      }
      this.counts[s]++;
    }
  }

  private count(h: number): number {
    let s = mix32(h) & this.mask;
    while (this.used[s] === 1) {
      if (this.keys[s] === h) return this.counts[s];
      s = (s + 1) & this.mask;
    }
    return 0;
  }

  /** Whether the hashed multiset overlap with tok[from, to) (sorted, grouped by hash) reaches `need`. */
  reaches(tok: Uint32Array, from: number, to: number, need: number): boolean {
    let ov = 0;
    let j = from;
    while (j < to) {
      const h = tok[j];
      let r = 1;
      while (j + r < to && tok[j + r] === h) r++;
      ov += Math.min(r, this.count(h));
      j += r;
      if (ov >= need) return true;
      if (ov + (to - j) < need) return false;
    }
    return ov >= need;
  }
}

function countTrigrams(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const g of trigrams(text)) counts.set(g, (counts.get(g) ?? 0) + 1);
  return counts;
}

/** Exact multiset intersection size of tri(text) with a counted trigram multiset. */
function exactOverlap(kept: Map<string, number>, text: string): number {
  const own = countTrigrams(text);
  let ov = 0;
  for (const [g, a] of own) ov += Math.min(a, kept.get(g) ?? 0);
  return ov;
}
