// Sampling options of the GPT-facing API (greedy, temperature — constant or a per-position schedule such as 10 → 1
// over the first 20 tokens, as the extraction paper uses — top-k, top-p), the --temperature-schedule parser, and the
// schedule formula the tests use as a reference. Tokens are chosen by the runtime's pipeline
// (src/runtime/logits-processors.ts, src/runtime/sampler.ts).

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

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}
