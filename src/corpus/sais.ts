// SA-IS suffix-array construction (Nong, Zhang & Chan 2009): linear time over an integer alphabet.
//
// `sais(s, K)` sorts the suffixes of `s[0..n)` where every symbol is in 0..K, `s[n-1] === 0` is a unique
// sentinel (the smallest symbol, occurring only there) and n >= 2. The result is an Int32Array of length n
// (SA[0] === n-1, the sentinel).
//
// The structure follows Nong's reference implementation (the reduced problem is solved in place inside the
// SA array) with the cache-saving tricks of Yuta Mori's sais-lite: bucket counts are computed once per level;
// the L-pass decides types by comparing neighbouring symbols instead of reading a type array; the S-pass
// reads the (bit-packed) type array only when two neighbouring symbols are equal, and marks LMS suffixes
// (stored as ~p) as it places them; LMS substrings are named by comparing their lengths first, the lengths
// found by scanning the type bits (small enough to stay in cache).
//
// Over a large alphabet (token ids) the reduced string's names are mostly distinct, and another SA-IS level
// would make several passes over a bucket array as long as the string itself; such a reduced problem is sorted
// by prefix doubling (Larsson–Sadakane, with radix sorts of the tied groups), which finishes in a few rounds
// over the few tied suffixes. Worst case O(n log n) for that level; repetitive inputs recurse with SA-IS.
// Extra memory per level: n/8 bytes of type bits and two arrays of K+1 ints.

/** Use prefix doubling for a reduced problem whose names are at least this fraction distinct. */
const DOUBLING_MIN_DISTINCT = 0.7;

/** Bit i of `t` is 1 when suffix i is S-type. */
function isS(t: Uint8Array, i: number): boolean {
  return (t[i >> 3]! & (1 << (i & 7))) !== 0;
}

function bucketStarts(C: Int32Array, B: Int32Array, K: number): void {
  let sum = 0;
  for (let c = 0; c <= K; c++) {
    const k = C[c]!;
    B[c] = sum;
    sum += k;
  }
}

function bucketEnds(C: Int32Array, B: Int32Array, K: number): void {
  let sum = 0;
  for (let c = 0; c <= K; c++) {
    sum += C[c]!;
    B[c] = sum;
  }
}

/** L-pass: scan left to right; for each suffix p, induce p-1 when it is L-type (s[p-1] >= s[p]). */
function induceL(SA: Int32Array, s: Int32Array, n: number, C: Int32Array, B: Int32Array, K: number): void {
  bucketStarts(C, B, K);
  for (let i = 0; i < n; i++) {
    const p = SA[i]!;
    if (p > 0) {
      const j = p - 1;
      const c = s[j]!;
      // Entries seen in the L-pass are LMS seeds or L-type suffixes: for both, p-1 is L iff s[p-1] >= s[p].
      if (c >= s[p]!) SA[B[c]!++] = j;
    }
  }
}

/**
 * S-pass: scan right to left; for each suffix p, induce p-1 when it is S-type. A placed suffix j whose
 * predecessor is L-type is an LMS suffix and is stored as ~j; LMS entries are skipped (their predecessor is
 * L-type). With `restore`, LMS marks are turned back into plain positions when they are visited.
 */
function induceS(t: Uint8Array, SA: Int32Array, s: Int32Array, n: number, C: Int32Array, B: Int32Array, K: number, restore: boolean): void {
  bucketEnds(C, B, K);
  for (let i = n - 1; i >= 0; i--) {
    const p = SA[i]!;
    if (p > 0) {
      const j = p - 1;
      const c = s[j]!;
      const cp = s[p]!;
      if (c < cp || (c === cp && isS(t, p))) {
        // j is S-type; j is LMS iff j-1 is L-type, i.e. s[j-1] > s[j].
        SA[--B[c]!] = j > 0 && s[j - 1]! > c ? ~j : j;
      }
    } else if (restore && p < -1) {
      SA[i] = ~p;
    }
  }
}

/**
 * Suffix array of s (symbols 0..K, s[n-1] = 0 unique sentinel). Writes into `SA` (length n, or a new array) and
 * returns it. `onPhase` is called with a short phase name at each top-level stage (for progress reporting).
 */
export function sais(s: Int32Array, K: number, SA?: Int32Array, onPhase?: (phase: string) => void): Int32Array {
  const n = s.length;
  if (n < 2) throw new Error('sais: need at least one symbol before the sentinel');
  if (s[n - 1] !== 0) throw new Error('sais: the last symbol must be the sentinel 0');
  if (n > 0x7fffffff) throw new Error('sais: input longer than 2^31-1 symbols');
  const out = SA ?? new Int32Array(n);
  if (out.length !== n) throw new Error('sais: SA buffer must have the length of the input');
  saisRec(s, out, n, K, 0, onPhase);
  return out;
}

function saisRec(s: Int32Array, SA: Int32Array, n: number, K: number, level: number, onPhase?: (phase: string) => void): void {
  const phase = (p: string) => {
    if (level === 0 && onPhase) onPhase(p);
  };
  // Types (bit set = S), symbol counts.
  const t = new Uint8Array((n >> 3) + 1);
  const C = new Int32Array(K + 1);
  const B = new Int32Array(K + 1);
  t[(n - 1) >> 3]! |= 1 << ((n - 1) & 7);
  C[0] = 1;
  {
    let nextS = true; // type of i+1
    let next = s[n - 1]!;
    for (let i = n - 2; i >= 0; i--) {
      const c = s[i]!;
      C[c]!++;
      const S: boolean = c < next || (c === next && nextS);
      if (S) t[i >> 3]! |= 1 << (i & 7);
      nextS = S;
      next = c;
    }
  }
  if (C[0] !== 1) throw new Error('sais: the sentinel 0 must occur exactly once, at the end');

  // Stage 1: sort the LMS substrings by induced sorting from LMS seeds at the bucket ends.
  phase('lms');
  bucketEnds(C, B, K);
  SA.fill(-1);
  let n1 = 0;
  for (let i = 1; i < n; i++) {
    if (isS(t, i) && !isS(t, i - 1)) {
      SA[--B[s[i]!]!] = i;
      n1++;
    }
  }
  induceL(SA, s, n, C, B, K);
  induceS(t, SA, s, n, C, B, K, false);
  // Compact the sorted LMS substrings into SA[0..n1): the sentinel first, then the marked entries in order.
  {
    let k = 0;
    SA[k++] = n - 1;
    for (let i = 1; i < n; i++) {
      const p = SA[i]!;
      if (p < -1) SA[k++] = ~p;
    }
    if (k !== n1) throw new Error(`sais: internal error (${k} LMS suffixes sorted, ${n1} expected)`);
  }

  // Name the LMS substrings in sorted order: equal names for equal substrings (same length, same symbols; the
  // types then agree too). A substring's length is found by scanning the type bits to the next LMS position
  // (the bits are small enough to stay in cache). Names go to SA[n1 + (p >> 1)], 1-based (0 = no LMS there).
  phase('name');
  SA.fill(0, n1, n);
  let name = 0;
  {
    let q = -1;
    let qlen = 0;
    for (let i = 0; i < n1; i++) {
      const p = SA[i]!;
      let plen = 1;
      if (p < n - 1) {
        let j = p + 1;
        while (!(isS(t, j) && !isS(t, j - 1))) j++;
        plen = j - p + 1;
      }
      let diff = true;
      if (plen === qlen) {
        let d = 0;
        while (d < plen && s[p + d] === s[q + d]) d++;
        if (d === plen) diff = false;
      }
      if (diff) {
        name++;
        q = p;
        qlen = plen;
      }
      SA[n1 + (p >> 1)] = name;
    }
  }
  for (let i = n - 1, j = n - 1; i >= n1; i--) {
    const v = SA[i]!;
    if (v > 0) SA[j--] = v - 1;
  }

  // Stage 2: sort the reduced string (recursively unless all names are distinct).
  phase('recurse');
  const SA1 = SA.subarray(0, n1);
  const s1 = SA.subarray(n - n1, n);
  if (name < n1) {
    // Mostly distinct names (typical of large alphabets): prefix doubling finishes in a few cheap rounds and
    // avoids another level's passes over a huge bucket array. Otherwise recurse.
    if (name >= DOUBLING_MIN_DISTINCT * n1) doublingSort(s1, SA1, n1, name - 1);
    else saisRec(s1, SA1, n1, name - 1, level + 1, onPhase);
  } else {
    for (let i = 0; i < n1; i++) SA1[s1[i]!] = i;
  }

  // Stage 3: induce the full suffix array from the sorted LMS suffixes.
  phase('induce');
  for (let i = 1, j = 0; i < n; i++) {
    if (isS(t, i) && !isS(t, i - 1)) s1[j++] = i;
  }
  for (let i = 0; i < n1; i++) SA1[i] = s1[SA1[i]!]!;
  SA.fill(-1, n1, n);
  bucketEnds(C, B, K);
  for (let i = n1 - 1; i >= 0; i--) {
    const j = SA[i]!;
    SA[i] = -1;
    SA[--B[s[j]!]!] = j;
  }
  induceL(SA, s, n, C, B, K);
  induceS(t, SA, s, n, C, B, K, true);
}

/** Sort SA[st..st+len) by keys[0..len) (keys move along). Keys are non-negative ranks below 2^31. */
function sortGroup(SA: Int32Array, st: number, len: number, keys: Int32Array, tmpK: Int32Array, tmpP: Int32Array, cnt: Int32Array, packed: Float64Array): void {
  if (len <= 24) {
    for (let i = 1; i < len; i++) {
      const k = keys[i]!;
      const p = SA[st + i]!;
      let j = i - 1;
      while (j >= 0 && keys[j]! > k) {
        keys[j + 1] = keys[j]!;
        SA[st + j + 1] = SA[st + j]!;
        j--;
      }
      keys[j + 1] = k;
      SA[st + j + 1] = p;
    }
    return;
  }
  if (len <= PACKED_SORT_MAX) {
    // Pack (key, index) into one exact double (key < 2^31, index < 2^12) and use the native numeric sort.
    const a = packed.subarray(0, len);
    for (let i = 0; i < len; i++) a[i] = keys[i]! * PACKED_SORT_MAX + i;
    a.sort();
    for (let i = 0; i < len; i++) {
      const v = a[i]!;
      const idx = v % PACKED_SORT_MAX;
      tmpK[i] = (v - idx) / PACKED_SORT_MAX;
      tmpP[i] = SA[st + idx]!;
    }
    for (let i = 0; i < len; i++) {
      keys[i] = tmpK[i]!;
      SA[st + i] = tmpP[i]!;
    }
    return;
  }
  // Big groups: LSD radix sort, 16 bits at a time.
  for (let shift = 0; shift < 32; shift += 16) {
    cnt.fill(0);
    for (let i = 0; i < len; i++) cnt[(keys[i]! >>> shift) & 0xffff]!++;
    let sum = 0;
    for (let c = 0; c < 0x10000; c++) {
      const x = cnt[c]!;
      cnt[c] = sum;
      sum += x;
    }
    for (let i = 0; i < len; i++) {
      const k = keys[i]!;
      const o = cnt[(k >>> shift) & 0xffff]!++;
      tmpK[o] = k;
      tmpP[o] = SA[st + i]!;
    }
    for (let i = 0; i < len; i++) {
      keys[i] = tmpK[i]!;
      SA[st + i] = tmpP[i]!;
    }
  }
}

const PACKED_SORT_MAX = 4096;

/**
 * Suffix array of s[0..n) (symbols 0..K, s[n-1] = 0 unique) into SA[0..n) by prefix doubling (Larsson–Sadakane):
 * bucket sort by the first symbol, then repeatedly sort each group of suffixes that still tie by the rank of the
 * suffix h symbols later, doubling h. `s` is overwritten (it becomes the inverse suffix array).
 */
export function doublingSort(s: Int32Array, SA: Int32Array, n: number, K: number): void {
  const B = new Int32Array(K + 2);
  for (let i = 0; i < n; i++) B[s[i]! + 1]!++;
  for (let c = 1; c <= K + 1; c++) B[c] = B[c]! + B[c - 1]!;
  for (let i = 0; i < n; i++) SA[B[s[i]!]!++] = i;
  // Now B[c] is the end of bucket c; a suffix's rank is the last index of its group.
  for (let i = 0; i < n; i++) s[i] = B[s[i]!]! - 1;
  const isa = s;
  let groups = new Int32Array(64);
  let ng = 0;
  const push = (st: number, len: number) => {
    if (ng + 2 > groups.length) {
      const g = new Int32Array(groups.length * 2);
      g.set(groups);
      groups = g;
    }
    groups[ng++] = st;
    groups[ng++] = len;
  };
  for (let c = 0, start = 0; c <= K; c++) {
    const end = B[c]!;
    if (end - start > 1) push(start, end - start);
    start = end;
  }
  let keys = new Int32Array(1024);
  let tmpK = new Int32Array(1024);
  let tmpP = new Int32Array(1024);
  const cnt = new Int32Array(0x10000);
  const packed = new Float64Array(PACKED_SORT_MAX);
  for (let h = 1; ng > 0; h *= 2) {
    const cur = groups.slice(0, ng);
    ng = 0;
    for (let g = 0; g < cur.length; g += 2) {
      const st = cur[g]!;
      const len = cur[g + 1]!;
      if (len > keys.length) {
        let sz = keys.length;
        while (sz < len) sz *= 2;
        keys = new Int32Array(sz);
        tmpK = new Int32Array(sz);
        tmpP = new Int32Array(sz);
      }
      for (let k = 0; k < len; k++) {
        const p = SA[st + k]! + h;
        // A suffix reaching the end is unique (the sentinel), so it is never in a tied group; guard anyway.
        keys[k] = p < n ? isa[p]! : 0;
      }
      sortGroup(SA, st, len, keys, tmpK, tmpP, cnt, packed);
      let a = 0;
      while (a < len) {
        let b = a + 1;
        const ka = keys[a]!;
        while (b < len && keys[b] === ka) b++;
        const rank = st + b - 1;
        for (let x = a; x < b; x++) isa[SA[st + x]!] = rank;
        if (b - a > 1) push(st + a, b - a);
        a = b;
      }
    }
  }
}
