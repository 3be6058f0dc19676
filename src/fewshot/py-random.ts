// A bit-exact port of CPython 3.11's `random.Random` for integer seeds: the MT19937 state seeded the way
// Modules/_randommodule.c's `random_seed` does it (|seed| split into 32-bit little-endian words fed to
// init_by_array), `random()`, `getrandbits`, and the pure-Python methods of Lib/random.py built on them
// (`_randbelow` via getrandbits, randrange, randint, choice, shuffle, sample, choices without weights).
// lm-evaluation-harness draws few-shot examples with `Random(seed).sample(docs, k)` and bootstraps with
// `Random(i).choices(xs, k=len(xs))`, so matching these streams exactly makes our evaluations reproduce its.

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const TWO_32 = 4294967296;

/** Python's `int.bit_length()` for a non-negative safe integer. */
function bitLength(n: number): number {
  if (n < TWO_32) return 32 - Math.clz32(n);
  return 32 + (32 - Math.clz32(Math.floor(n / TWO_32)));
}

/** A JS number that must hold a Python int (no fractions, no precision loss). */
function requireInt(x: number, what: string): number {
  if (!Number.isSafeInteger(x)) throw new RangeError(`${what} must be a safe integer, got ${x}`);
  return x;
}

export class PyRandom {
  private readonly mt = new Uint32Array(N);
  private index = N + 1;

  constructor(seed: number | bigint) {
    this.seed(seed);
  }

  /** `Random.seed(a)` for an int `a`: the key is |a| as little-endian 32-bit words ([0] for a = 0). */
  seed(seed: number | bigint): void {
    let n: bigint;
    if (typeof seed === 'bigint') n = seed;
    else {
      if (!Number.isInteger(seed)) throw new TypeError(`PyRandom supports integer seeds only, got ${seed}`);
      n = BigInt(seed);
    }
    if (n < 0n) n = -n;
    const key: number[] = [];
    do {
      key.push(Number(n & 0xffffffffn));
      n >>= 32n;
    } while (n > 0n);
    this.initByArray(key);
  }

  private initGenrand(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]!;
      mt[i] = (Math.imul(1812433253, (prev ^ (prev >>> 30)) >>> 0) + i) >>> 0;
    }
    this.index = N;
  }

  private initByArray(key: readonly number[]): void {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const prev = mt[i - 1]!;
      mt[i] = ((mt[i]! ^ Math.imul((prev ^ (prev >>> 30)) >>> 0, 1664525)) + key[j]! + j) >>> 0;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1]!;
      mt[i] = ((mt[i]! ^ Math.imul((prev ^ (prev >>> 30)) >>> 0, 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
    }
    mt[0] = 0x80000000;
  }

  private twist(): void {
    const mt = this.mt;
    let kk = 0;
    for (; kk < N - M; kk++) {
      const y = (mt[kk]! & UPPER_MASK) | (mt[kk + 1]! & LOWER_MASK);
      mt[kk] = mt[kk + M]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    for (; kk < N - 1; kk++) {
      const y = (mt[kk]! & UPPER_MASK) | (mt[kk + 1]! & LOWER_MASK);
      mt[kk] = mt[kk + (M - N)]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    const y = (mt[N - 1]! & UPPER_MASK) | (mt[0]! & LOWER_MASK);
    mt[N - 1] = mt[M - 1]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    this.index = 0;
  }

  /** One tempered 32-bit MT19937 output (`genrand_uint32`). */
  genrandUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.mt[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A float in [0, 1) with 53 random bits, exactly as `random_random`. */
  random(): number {
    const a = this.genrandUint32() >>> 5;
    const b = this.genrandUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** `getrandbits(k)` as a number, for 0 <= k <= 53: words fill from least significant, the last one truncated. */
  private randbitsNumber(k: number): number {
    if (k === 0) return 0;
    if (k <= 32) return this.genrandUint32() >>> (32 - k);
    const lo = this.genrandUint32();
    const hi = this.genrandUint32() >>> (64 - k);
    return hi * TWO_32 + lo;
  }

  /** `getrandbits(k)`: a non-negative int with k random bits. */
  getrandbits(k: number): bigint {
    requireInt(k, 'number of bits');
    if (k < 0) throw new RangeError('number of bits must be non-negative');
    if (k <= 53) return BigInt(this.randbitsNumber(k));
    let result = 0n;
    let shift = 0n;
    for (let left = k; left > 0; left -= 32, shift += 32n) {
      let r = this.genrandUint32();
      if (left < 32) r >>>= 32 - left;
      result |= BigInt(r) << shift;
    }
    return result;
  }

  /** `_randbelow_with_getrandbits(n)`: rejection sampling with k = n.bit_length() bits. Requires n > 0. */
  randbelow(n: number): number {
    requireInt(n, 'randbelow bound');
    if (n <= 0) throw new RangeError('randbelow bound must be positive');
    const k = bitLength(n);
    let r = this.randbitsNumber(k);
    while (r >= n) r = this.randbitsNumber(k);
    return r;
  }

  /** `randrange(stop)` or `randrange(start, stop[, step])` with Python's checks and messages. */
  randrange(start: number, stop?: number, step = 1): number {
    if (!Number.isInteger(start)) throw new RangeError('non-integer arg 1 for randrange()');
    if (stop === undefined) {
      if (step !== 1) throw new TypeError('Missing a non-None stop argument');
      if (start > 0) return this.randbelow(start);
      throw new RangeError('empty range for randrange()');
    }
    if (!Number.isInteger(stop)) throw new RangeError('non-integer stop for randrange()');
    if (!Number.isInteger(step)) throw new RangeError('non-integer step for randrange()');
    const width = stop - start;
    if (step === 1) {
      if (width > 0) return start + this.randbelow(width);
      throw new RangeError(`empty range for randrange() (${start}, ${stop}, ${width})`);
    }
    if (step === 0) throw new RangeError('zero step for randrange()');
    // Floor division on exact integers (BigInt: a float quotient can round across an integer).
    const w = BigInt(width);
    const s = BigInt(step);
    const num = step > 0 ? w + s - 1n : w + s + 1n;
    let q = num / s;
    if (num % s !== 0n && (num < 0n) !== (s < 0n)) q -= 1n;
    const n = Number(q);
    if (n <= 0) throw new RangeError('empty range for randrange()');
    return start + step * this.randbelow(n);
  }

  /** `randint(a, b)`: an int in [a, b], both ends included. */
  randint(a: number, b: number): number {
    return this.randrange(a, b + 1);
  }

  /** `choice(seq)`: one element, via randbelow(len). */
  choice<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new RangeError('Cannot choose from an empty sequence');
    return xs[this.randbelow(xs.length)]!;
  }

  /** `shuffle(x)` in place: for i from len-1 down to 1, swap x[i] with x[randbelow(i + 1)]. */
  shuffle<T>(xs: T[]): void {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1);
      const t = xs[i]!;
      xs[i] = xs[j]!;
      xs[j] = t;
    }
  }

  /**
   * `sample(population, k)`: k distinct positions in selection order. Like CPython, small populations
   * (n <= setsize) are drawn from a shrinking pool, larger ones by rejection against a selected set; the
   * two consume the generator differently, so the heuristic is reproduced exactly.
   */
  sample<T>(population: readonly T[], k: number): T[] {
    const n = population.length;
    if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError('Sample larger than population or is negative');
    const result: T[] = new Array<T>(k);
    let setsize = 21;
    if (k > 5) setsize += 4 ** Math.ceil(Math.log(k * 3) / Math.log(4));
    if (n <= setsize) {
      const pool = population.slice();
      for (let i = 0; i < k; i++) {
        const j = this.randbelow(n - i);
        result[i] = pool[j]!;
        pool[j] = pool[n - i - 1]!;
      }
    } else {
      const selected = new Set<number>();
      for (let i = 0; i < k; i++) {
        let j = this.randbelow(n);
        while (selected.has(j)) j = this.randbelow(n);
        selected.add(j);
        result[i] = population[j]!;
      }
    }
    return result;
  }

  /** `choices(population, k=k)` without weights: population[floor(random() * n)] per draw. */
  choices<T>(population: readonly T[], k: number): T[] {
    const n = population.length;
    const out: T[] = new Array<T>(Math.max(0, k));
    for (let i = 0; i < k; i++) {
      const idx = Math.floor(this.random() * n);
      if (idx >= n) throw new RangeError('list index out of range');
      out[i] = population[idx]!;
    }
    return out;
  }
}
