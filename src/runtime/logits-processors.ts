// Logits processors, Hugging Face style: each one rewrites one row of next-token logits (a Float32Array of length V)
// in place, removed tokens becoming -Infinity. buildProcessors() chains them in HF's order: repetition penalty,
// allowed id range, temperature (constant or scheduled), top-k, top-p. Sampling itself lives in sampler.ts.

export interface LogitsContext {
  /** Index of the token being generated, 0-based (0 for the first token after the prompt). */
  step: number;
  /** Prompt + tokens generated so far, for this row. */
  tokens: readonly number[];
  promptLength: number;
}

export interface LogitsProcessor {
  readonly name: string;
  /** Rewrite `logits` (length V) in place; removed tokens become -Infinity. */
  process(logits: Float32Array, ctx: LogitsContext): void;
}

export interface TemperatureSchedule {
  start: number;
  end: number;
  /** Number of generated tokens over which the temperature goes linearly from `start` to `end`. */
  over: number;
}

export interface ProcessorOptions {
  /** > 0; 1 or undefined = off. Ignored when temperatureSchedule is given (as in src/lm/sampling.ts). */
  temperature?: number;
  temperatureSchedule?: TemperatureSchedule;
  /** Integer >= 1; 0 or undefined = off. */
  topK?: number;
  /** In (0, 1]; 1 or undefined = off. */
  topP?: number;
  /** > 0; 1 or undefined = off. */
  repetitionPenalty?: number;
  /** [lo, hi): only ids in this range may be generated (e.g. DALL·E's text vs image token ranges). */
  allowedIdRange?: [number, number];
}

/** HF / CTRL repetition penalty: each distinct token seen so far gets logit / p when positive, logit * p otherwise. */
export class RepetitionPenaltyProcessor implements LogitsProcessor {
  readonly name = 'repetition-penalty';
  private seen = new Uint8Array(0);
  constructor(readonly penalty: number) {
    requirePositive('repetitionPenalty', penalty);
  }
  process(logits: Float32Array, ctx: LogitsContext): void {
    const V = logits.length;
    if (this.seen.length < V) this.seen = new Uint8Array(V);
    const seen = this.seen;
    const p = this.penalty;
    try {
      for (const id of ctx.tokens) {
        if (!Number.isInteger(id) || id < 0 || id >= V) {
          throw new Error(`repetition penalty: token id ${id} in the context is outside the vocabulary [0, ${V})`);
        }
        if (seen[id]) continue;
        seen[id] = 1;
        const x = logits[id]!;
        logits[id] = x > 0 ? x / p : x * p;
      }
    } finally {
      for (const id of ctx.tokens) if (id >= 0 && id < V) seen[id] = 0;
    }
  }
}

/** Only ids in [lo, hi) stay; every other id becomes -Infinity. hi <= V is checked against each row. */
export class AllowedIdRangeProcessor implements LogitsProcessor {
  readonly name = 'allowed-id-range';
  constructor(
    readonly lo: number,
    readonly hi: number,
  ) {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || lo >= hi) {
      throw new Error(`allowedIdRange must be [lo, hi) with integers 0 <= lo < hi, got [${lo}, ${hi}]`);
    }
  }
  process(logits: Float32Array): void {
    if (this.hi > logits.length) {
      throw new Error(`allowedIdRange [${this.lo}, ${this.hi}) exceeds the vocabulary: logits have length ${logits.length}`);
    }
    logits.fill(-Infinity, 0, this.lo);
    logits.fill(-Infinity, this.hi);
  }
}

/** Divide every logit by a constant temperature t > 0. */
export class TemperatureProcessor implements LogitsProcessor {
  readonly name = 'temperature';
  constructor(readonly temperature: number) {
    requirePositive('temperature', temperature, ' (temperature 0 means greedy: choose it with samplerFor)');
  }
  process(logits: Float32Array): void {
    divideAll(logits, this.temperature);
  }
}

/** Temperature for generated position `step`: linear from start to end over the first `over` tokens, then end. */
export function scheduledTemperature(step: number, s: TemperatureSchedule): number {
  return step >= s.over ? s.end : s.start - ((s.start - s.end) * step) / s.over;
}

/** Per-step temperature from a linear schedule (same formula as temperatureAt in src/lm/sampling.ts). */
export class TemperatureScheduleProcessor implements LogitsProcessor {
  readonly name = 'temperature-schedule';
  readonly schedule: TemperatureSchedule;
  constructor(schedule: TemperatureSchedule) {
    requirePositive('temperatureSchedule.start', schedule.start);
    requirePositive('temperatureSchedule.end', schedule.end);
    requirePositive('temperatureSchedule.over', schedule.over);
    this.schedule = { start: schedule.start, end: schedule.end, over: schedule.over };
  }
  temperatureAt(step: number): number {
    return scheduledTemperature(step, this.schedule);
  }
  process(logits: Float32Array, ctx: LogitsContext): void {
    divideAll(logits, this.temperatureAt(ctx.step));
  }
}

/**
 * Keep the k largest logits: values below the k-th largest become -Infinity, ties at the threshold are kept (as HF's
 * `scores < topk(scores)[-1]`), so more than k may survive. No sort: for small k a size-k min-heap in one pass over
 * the row (O(V log k), nearly O(V) on real logits), otherwise a 3-way quickselect on a reused copy (O(V) expected).
 */
export class TopKProcessor implements LogitsProcessor {
  readonly name = 'top-k';
  private scratch = new Float32Array(0);
  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`topK must be an integer >= 1, got ${k}`);
  }
  process(logits: Float32Array): void {
    const V = logits.length;
    if (this.k >= V) return;
    const threshold = this.k <= 1024 && this.k * 8 <= V ? this.kthLargestByHeap(logits) : this.kthLargestBySelect(logits);
    for (let i = 0; i < V; i++) if (logits[i]! < threshold) logits[i] = -Infinity;
  }

  private kthLargestByHeap(logits: Float32Array): number {
    const k = this.k;
    if (this.scratch.length < k) this.scratch = new Float32Array(k);
    const heap = this.scratch; // min-heap of the k largest values seen so far
    for (let i = 0; i < k; i++) {
      const x = logits[i]!;
      if (x !== x) throw new Error(`top-k: logits[${i}] is NaN`);
      let j = i;
      while (j > 0) {
        const parent = (j - 1) >> 1;
        if (heap[parent]! <= x) break;
        heap[j] = heap[parent]!;
        j = parent;
      }
      heap[j] = x;
    }
    for (let i = k; i < logits.length; i++) {
      const x = logits[i]!;
      if (x > heap[0]!) {
        let j = 0; // sift the new value down from the root
        for (;;) {
          const l = 2 * j + 1;
          if (l >= k) break;
          const c = l + 1 < k && heap[l + 1]! < heap[l]! ? l + 1 : l;
          if (heap[c]! >= x) break;
          heap[j] = heap[c]!;
          j = c;
        }
        heap[j] = x;
      } else if (x !== x) throw new Error(`top-k: logits[${i}] is NaN`);
    }
    return heap[0]!;
  }

  private kthLargestBySelect(logits: Float32Array): number {
    const V = logits.length;
    if (this.scratch.length < V) this.scratch = new Float32Array(V);
    const a = this.scratch;
    for (let i = 0; i < V; i++) {
      const x = logits[i]!;
      if (x !== x) throw new Error(`top-k: logits[${i}] is NaN`);
      a[i] = x;
    }
    return kthLargest(a, V, this.k);
  }
}

/**
 * Nucleus sampling filter (HF semantics): softmax of the current logits, sorted descending (ties: lower id first);
 * keep the smallest prefix whose cumulative probability is >= p (at least one token), the rest become -Infinity.
 * Only the surviving entries are considered, and of those only the ones above a cut-off (max - 8, widened until
 * they hold mass >= p) are sorted: the answer is a prefix of the sorted order, so it lies among them.
 */
export class TopPProcessor implements LogitsProcessor {
  readonly name = 'top-p';
  private ids = new Int32Array(0);
  private candidates = new Int32Array(0);
  constructor(readonly p: number) {
    if (!(p > 0 && p <= 1)) throw new Error(`topP must be in (0, 1], got ${p}`);
  }
  process(logits: Float32Array): void {
    if (this.p >= 1) return;
    if (this.ids.length < logits.length) {
      this.ids = new Int32Array(logits.length);
      this.candidates = new Int32Array(logits.length);
    }
    const ids = this.ids;
    const n = keptIndices(logits, ids, 'top-p');
    if (n <= 1) return;
    let max = -Infinity;
    for (let j = 0; j < n; j++) if (logits[ids[j]!]! > max) max = logits[ids[j]!]!;
    let z = 0;
    for (let j = 0; j < n; j++) z += Math.exp(logits[ids[j]!]! - max);
    const target = this.p * z;
    for (let width = 8; ; width *= 2) {
      const floor = max - width;
      let m = 0;
      for (let j = 0; j < n; j++) if (logits[ids[j]!]! >= floor) this.candidates[m++] = ids[j]!;
      const sorted = this.candidates.subarray(0, m).sort((a, b) => logits[b]! - logits[a]! || a - b);
      let cum = 0;
      let keep = 0;
      while (keep < m && cum < target) cum += Math.exp(logits[sorted[keep++]!]! - max);
      if (cum < target && m < n) continue; // the prefix reaches below the cut-off: widen it
      // the kept prefix ends at (value, id) of its last entry; everything after it in sorted order goes
      const lastId = sorted[keep - 1]!;
      const lastValue = logits[lastId]!;
      for (let j = 0; j < n; j++) {
        const id = ids[j]!;
        const x = logits[id]!;
        if (x < lastValue || (x === lastValue && id > lastId)) logits[id] = -Infinity;
      }
      return;
    }
  }
}

/** Validate every option up front and build the processors in HF's order; "off" values build nothing. */
export function buildProcessors(o: ProcessorOptions): LogitsProcessor[] {
  const out: LogitsProcessor[] = [];
  if (o.repetitionPenalty !== undefined) {
    requirePositive('repetitionPenalty', o.repetitionPenalty);
    if (o.repetitionPenalty !== 1) out.push(new RepetitionPenaltyProcessor(o.repetitionPenalty));
  }
  if (o.allowedIdRange !== undefined) {
    if (!Array.isArray(o.allowedIdRange) || o.allowedIdRange.length !== 2) {
      throw new Error(`allowedIdRange must be a pair [lo, hi], got ${JSON.stringify(o.allowedIdRange)}`);
    }
    out.push(new AllowedIdRangeProcessor(o.allowedIdRange[0], o.allowedIdRange[1]));
  }
  if (o.temperatureSchedule !== undefined) {
    out.push(new TemperatureScheduleProcessor(o.temperatureSchedule));
  } else if (o.temperature !== undefined) {
    const t = new TemperatureProcessor(o.temperature);
    if (o.temperature !== 1) out.push(t);
  }
  if (o.topK !== undefined && o.topK !== 0) {
    if (!Number.isInteger(o.topK) || o.topK < 0) throw new Error(`topK must be an integer >= 1 (0 = off), got ${o.topK}`);
    out.push(new TopKProcessor(o.topK));
  }
  if (o.topP !== undefined) {
    const p = new TopPProcessor(o.topP);
    if (o.topP !== 1) out.push(p);
  }
  return out;
}

/** Run a chain of processors over one row. */
export function applyProcessors(processors: readonly LogitsProcessor[], logits: Float32Array, ctx: LogitsContext): void {
  for (const p of processors) p.process(logits, ctx);
}

/**
 * Write into `out` the ids whose logit is not -Infinity and return their count (ascending ids). NaN and +Infinity
 * are refused: a row holding them has no meaningful distribution.
 */
export function keptIndices(logits: Float32Array, out: Int32Array, who: string): number {
  let n = 0;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    if (x === -Infinity) continue;
    if (x !== x || x === Infinity) throw new Error(`${who}: logits[${i}] is ${x}; logits must be finite or -Infinity`);
    out[n++] = i;
  }
  return n;
}

function requirePositive(name: string, v: number, hint = ''): void {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new Error(`${name} must be a finite number > 0, got ${v}${hint}`);
}

function divideAll(logits: Float32Array, t: number): void {
  if (t === 1) return;
  const inv = 1 / t;
  for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! * inv;
}

/** The k-th largest of a[0..n) (1-based k), reordering a. Iterative 3-way quickselect, median-of-three pivots. */
function kthLargest(a: Float32Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const target = k - 1; // position in descending order
  for (;;) {
    if (lo >= hi) return a[lo]!;
    const x = a[lo]!;
    const y = a[(lo + hi) >>> 1]!;
    const z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    // [lo, lt) > pivot, [lt, i) == pivot, (gt, hi] < pivot
    let lt = lo;
    let i = lo;
    let gt = hi;
    while (i <= gt) {
      const v = a[i]!;
      if (v > pivot) {
        a[i++] = a[lt]!;
        a[lt++] = v;
      } else if (v < pivot) {
        a[i] = a[gt]!;
        a[gt--] = v;
      } else i++;
    }
    if (target < lt) hi = lt - 1;
    else if (target > gt) lo = gt + 1;
    else return pivot;
  }
}
