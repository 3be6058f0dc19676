// Learning-rate schedules computed in TypeScript and fed to the step graph: linear warmup then cosine or linear
// decay to a floor (GPT-3: cosine to 10% of peak; nanoGPT: cosine to min_lr).

export interface ScheduleOptions {
  lr: number;
  warmup: number;
  /** Step at which decay reaches minLr (usually the total number of steps). */
  decaySteps: number;
  minLr: number;
  kind?: 'cosine' | 'linear' | 'constant';
}

/** Learning rate for 0-based step `it` (nanoGPT's get_lr). */
export function learningRate(it: number, o: ScheduleOptions): number {
  const kind = o.kind ?? 'cosine';
  if (o.warmup > 0 && it < o.warmup) return (o.lr * (it + 1)) / (o.warmup + 1);
  if (kind === 'constant') return o.lr;
  if (it > o.decaySteps) return o.minLr;
  const span = Math.max(1, o.decaySteps - o.warmup);
  const ratio = Math.min(1, Math.max(0, (it - o.warmup) / span));
  const coeff = kind === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * ratio)) : 1 - ratio;
  return o.minLr + coeff * (o.lr - o.minLr);
}
