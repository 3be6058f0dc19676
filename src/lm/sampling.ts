// Host-side next-token selection: greedy, temperature (constant or a per-position schedule such as 10 → 1 over the
// first 20 tokens, as the extraction paper uses), top-k and top-p (nucleus), from a seeded RNG.

import type { Rng } from '../nn/init.js';

export interface SamplingOptions {
  greedy?: boolean;
  temperature?: number;
  /** Linear decay from `start` to `end` over the first `over` generated tokens, then `end`. */
  temperatureSchedule?: { start: number; end: number; over: number };
  topK?: number;
  topP?: number;
}

/** Parse "10:1:20" (start:end:over) into a schedule. */
export function parseTemperatureSchedule(s: string): { start: number; end: number; over: number } {
  const parts = s.split(':').map(Number);
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x)) || parts[2]! <= 0 || parts[0]! <= 0 || parts[1]! <= 0) {
    throw new Error(`--temperature-schedule must be START:END:OVER with positive numbers (e.g. 10:1:20), got '${s}'`);
  }
  return { start: parts[0]!, end: parts[1]!, over: parts[2]! };
}

export function temperatureAt(i: number, o: SamplingOptions): number {
  const s = o.temperatureSchedule;
  if (s) return i >= s.over ? s.end : s.start - ((s.start - s.end) * i) / s.over;
  return o.temperature ?? 1;
}

/** Pick the next token from logits (length V) for generated position i. */
export function sampleToken(logits: Float32Array, i: number, o: SamplingOptions, rng: Rng): number {
  const V = logits.length;
  if (o.greedy || (o.temperature === 0 && !o.temperatureSchedule)) return argmax(logits);
  const t = temperatureAt(i, o);
  let idx: number[] = [];
  const k = o.topK && o.topK > 0 && o.topK < V ? o.topK : V;
  if (k < V) idx = topKIndices(logits, k);
  else idx = Array.from({ length: V }, (_, j) => j);
  let m = -Infinity;
  for (const j of idx) if (logits[j]! > m) m = logits[j]!;
  const probs = idx.map((j) => Math.exp((logits[j]! - m) / t));
  let z = probs.reduce((a, b) => a + b, 0);
  if (o.topP !== undefined && o.topP < 1) {
    const order = probs.map((p, j) => j).sort((a, b) => probs[b]! - probs[a]!);
    let cum = 0;
    const keep = new Set<number>();
    for (const j of order) {
      keep.add(j);
      cum += probs[j]! / z;
      if (cum >= o.topP) break;
    }
    probs.forEach((_, j) => {
      if (!keep.has(j)) probs[j] = 0;
    });
    z = probs.reduce((a, b) => a + b, 0);
  }
  let r = rng.uniform() * z;
  for (let j = 0; j < probs.length; j++) {
    r -= probs[j]!;
    if (r < 0) return idx[j]!;
  }
  return idx[probs.length - 1]!;
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

function topKIndices(a: Float32Array, k: number): number[] {
  // partial selection: keep a small sorted buffer (k is usually ≤ 100)
  const idx: number[] = [];
  for (let i = 0; i < a.length; i++) {
    if (idx.length < k) {
      idx.push(i);
      if (idx.length === k) idx.sort((x, y) => a[y]! - a[x]!);
    } else if (a[i]! > a[idx[k - 1]!]!) {
      let j = k - 1;
      while (j > 0 && a[idx[j - 1]!]! < a[i]!) {
        idx[j] = idx[j - 1]!;
        j--;
      }
      idx[j] = i;
    }
  }
  return idx;
}
