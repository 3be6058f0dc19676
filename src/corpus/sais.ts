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
// (stored as ~p) as it places them; LMS substrings are named by comparing their lengths first.
// Extra memory per level: n/8 bytes of type bits and two arrays of K+1 ints.

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
      const S = c < next || (c === next && nextS);
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

  // Name the LMS substrings: store each substring's length at SA[n1 + (p >> 1)], then compare neighbours.
  phase('name');
  SA.fill(0, n1, n);
  {
    let j = n - 1; // the LMS position to the right of the current one
    for (let i = n - 2; i >= 1; i--) {
      if (isS(t, i) && !isS(t, i - 1)) {
        SA[n1 + (i >> 1)] = j - i + 1;
        j = i;
      }
    }
    SA[n1 + ((n - 1) >> 1)] = 1;
  }
  let name = 0;
  {
    let q = -1;
    let qlen = 0;
    for (let i = 0; i < n1; i++) {
      const p = SA[i]!;
      const plen = SA[n1 + (p >> 1)]!;
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
      SA[n1 + (p >> 1)] = name; // 1-based, so 0 still means "no LMS here"
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
    saisRec(s1, SA1, n1, name - 1, level + 1, onPhase);
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
