// Seeded host-side initializers: a small fast PRNG (xoshiro128**) and normal / uniform / constant fills.

export class Rng {
  private s: Uint32Array;
  constructor(seed: number) {
    // splitmix32 expansion of the seed into four words
    this.s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Snapshot / restore for resumable runs. */
  state(): number[] {
    return Array.from(this.s);
  }
  setState(st: readonly number[]): void {
    this.s.set(st.slice(0, 4));
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * mulberry32: a tiny seeded generator of floats in [0, 1). The test corpora, the varied tokenizer texts and the
 * corpus-index benchmark's synthetic corpus are drawn from it, so their contents stay fixed across runs.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Stable 32-bit hash of a string (FNV-1a), used to give each parameter its own init stream. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export type Init =
  | { kind: 'normal'; std: number; mean?: number }
  | { kind: 'uniform'; low: number; high: number }
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number };

export const normal = (std: number, mean = 0): Init => ({ kind: 'normal', std, mean });
export const uniform = (low: number, high: number): Init => ({ kind: 'uniform', low, high });
export const zeros: Init = { kind: 'zeros' };
export const ones: Init = { kind: 'ones' };

/** Fill a float32 array according to `init`, deterministically from (seed, name). */
export function fillInit(out: Float32Array, init: Init, seed: number, name: string): void {
  const rng = new Rng((seed ^ hashString(name)) >>> 0);
  switch (init.kind) {
    case 'normal': {
      const m = init.mean ?? 0;
      for (let i = 0; i < out.length; i++) out[i] = m + init.std * rng.normal();
      break;
    }
    case 'uniform':
      for (let i = 0; i < out.length; i++) out[i] = init.low + (init.high - init.low) * rng.uniform();
      break;
    case 'zeros':
      out.fill(0);
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'constant':
      out.fill(init.value);
      break;
  }
}
