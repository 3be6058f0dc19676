// Small statistics and result fields shared by the benchmarks.

/** Median (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The model-shape fields every tessera benchmark result starts with. */
export function modelShape(o: { layers: number; heads: number; embd: number; block: number; vocab: number }) {
  return { engine: 'tessera' as const, layers: o.layers, heads: o.heads, embd: o.embd, block: o.block, vocab: o.vocab };
}
