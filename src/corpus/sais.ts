// SA-IS suffix-array construction (Nong, Zhang & Chan 2009), linear time, over an integer alphabet.
//
// `sais(s, K)` sorts the suffixes of `s[0..n)` where every symbol is in 0..K, s[n-1] === 0 is a unique
// sentinel (the smallest symbol, occurring only there), and n >= 2. The result is an Int32Array of length n
// (SA[0] === n-1, the sentinel). The reduced problem is solved in place inside the SA array, as in Nong's
// reference implementation; extra memory is one byte per symbol for the L/S types plus two bucket arrays of
// K+1 ints per recursion level.

/** Bucket starts (end=false) or ends (end=true) of each symbol of s. */
function getBuckets(s: Int32Array, n: number, bkt: Int32Array, K: number, end: boolean): void {
  bkt.fill(0, 0, K + 1);
  for (let i = 0; i < n; i++) bkt[s[i]!]!++;
  let sum = 0;
  if (end) {
    for (let i = 0; i <= K; i++) {
      sum += bkt[i]!;
      bkt[i] = sum;
    }
  } else {
    for (let i = 0; i <= K; i++) {
      const c = bkt[i]!;
      bkt[i] = sum;
      sum += c;
    }
  }
}

function induceL(t: Uint8Array, SA: Int32Array, s: Int32Array, n: number, bkt: Int32Array, K: number): void {
  getBuckets(s, n, bkt, K, false);
  for (let i = 0; i < n; i++) {
    const j = SA[i]! - 1;
    if (j >= 0 && t[j] === 0) SA[bkt[s[j]!]!++] = j;
  }
}

function induceS(t: Uint8Array, SA: Int32Array, s: Int32Array, n: number, bkt: Int32Array, K: number): void {
  getBuckets(s, n, bkt, K, true);
  for (let i = n - 1; i >= 0; i--) {
    const j = SA[i]! - 1;
    if (j >= 0 && t[j] === 1) SA[--bkt[s[j]!]!] = j;
  }
}

/**
 * Suffix array of s (symbols 0..K, s[n-1] = 0 unique sentinel). Writes into `SA` (length >= n) and returns it.
 * `onPhase` is called with a short phase name at each top-level stage (for progress reporting).
 */
export function sais(s: Int32Array, K: number, SA?: Int32Array, onPhase?: (phase: string) => void): Int32Array {
  const n = s.length;
  if (n < 2) throw new Error('sais: need at least one symbol before the sentinel');
  if (s[n - 1] !== 0) throw new Error('sais: the last symbol must be the sentinel 0');
  const out = SA ?? new Int32Array(n);
  if (out.length < n) throw new Error('sais: SA buffer too small');
  saisRec(s, out.length === n ? out : out.subarray(0, n), n, K, 0, onPhase);
  return out;
}

function saisRec(s: Int32Array, SA: Int32Array, n: number, K: number, level: number, onPhase?: (phase: string) => void): void {
  const phase = (p: string) => {
    if (level === 0 && onPhase) onPhase(p);
  };
  // L/S classification: t[i] = 1 for S-type.
  const t = new Uint8Array(n);
  t[n - 1] = 1;
  t[n - 2] = 0;
  for (let i = n - 3; i >= 0; i--) {
    const a = s[i]!;
    const b = s[i + 1]!;
    t[i] = a < b || (a === b && t[i + 1] === 1) ? 1 : 0;
  }
  // Stage 1: sort the LMS substrings.
  phase('lms');
  const bkt = new Int32Array(K + 1);
  getBuckets(s, n, bkt, K, true);
  SA.fill(-1);
  for (let i = 1; i < n; i++) {
    if (t[i] === 1 && t[i - 1] === 0) SA[--bkt[s[i]!]!] = i;
  }
  induceL(t, SA, s, n, bkt, K);
  induceS(t, SA, s, n, bkt, K);
  // Compact the sorted LMS substrings into SA[0..n1).
  let n1 = 0;
  for (let i = 0; i < n; i++) {
    const p = SA[i]!;
    if (p > 0 && t[p] === 1 && t[p - 1] === 0) SA[n1++] = p;
  }
  // Name the LMS substrings.
  phase('name');
  SA.fill(-1, n1, n);
  let name = 0;
  let prev = -1;
  for (let i = 0; i < n1; i++) {
    const pos = SA[i]!;
    let diff = false;
    for (let d = 0; d < n; d++) {
      if (prev === -1 || s[pos + d] !== s[prev + d] || t[pos + d] !== t[prev + d]) {
        diff = true;
        break;
      }
      if (d > 0) {
        const pd = pos + d;
        const qd = prev + d;
        if ((t[pd] === 1 && t[pd - 1] === 0) || (t[qd] === 1 && t[qd - 1] === 0)) break;
      }
    }
    if (diff) {
      name++;
      prev = pos;
    }
    SA[n1 + (pos >> 1)] = name - 1;
  }
  for (let i = n - 1, j = n - 1; i >= n1; i--) {
    if (SA[i]! >= 0) SA[j--] = SA[i]!;
  }
  // Stage 2: solve the reduced problem.
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
  getBuckets(s, n, bkt, K, true);
  for (let i = 1, j = 0; i < n; i++) {
    if (t[i] === 1 && t[i - 1] === 0) s1[j++] = i;
  }
  for (let i = 0; i < n1; i++) SA1[i] = s1[SA1[i]!]!;
  SA.fill(-1, n1, n);
  for (let i = n1 - 1; i >= 0; i--) {
    const j = SA[i]!;
    SA[i] = -1;
    SA[--bkt[s[j]!]!] = j;
  }
  induceL(t, SA, s, n, bkt, K);
  induceS(t, SA, s, n, bkt, K);
}
