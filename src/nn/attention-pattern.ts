// Attention patterns as data. A pattern says which key positions a query position may attend to, over one stream of
// positions 0..n-1 (text ids, then — for DALL·E — an image grid in raster order). The same `visible(pattern, q, k)`
// builds the mask of a full forward (training, scoring) and of a cached decoding step, so the two cannot disagree.
//
//   dense   — causal: k ≤ q (GPT-2, GPT-3's dense layers)
//   banded  — GPT-3's locally banded sparse layers: k ≤ q and q − k < width
//   row     — DALL·E: text is causal; an image token sees all text and the image tokens of the last `grid.width`
//             raster positions back to the same column one row up (q − k ≤ W, with wraparound across rows)
//   column  — DALL·E: text is causal; an image token sees all text and the earlier image tokens of its own column
//   conv    — DALL·E's last layer: text is causal; an image token at (r, c) sees all text and the earlier image tokens
//             (r', c') with r − r' ≤ ⌊kernel/2⌋ and |c − c'| ≤ ⌊kernel/2⌋ (a causal kernel × kernel window)

export interface ImageGrid {
  /** Number of text positions before the grid (the text prefix, padded to a fixed length in DALL·E). */
  textLength: number;
  height: number;
  width: number;
}

export type AttentionPattern =
  | { kind: 'dense' }
  | { kind: 'banded'; width: number }
  | { kind: 'row'; grid: ImageGrid }
  | { kind: 'column'; grid: ImageGrid }
  | { kind: 'conv'; grid: ImageGrid; kernel: number };

export const DENSE: AttentionPattern = { kind: 'dense' };

/** A stable key: layers whose patterns have the same key share one mask. */
export function patternKey(p: AttentionPattern): string {
  switch (p.kind) {
    case 'dense':
      return 'dense';
    case 'banded':
      return `banded${p.width}`;
    case 'row':
    case 'column':
      return `${p.kind}_${p.grid.textLength}_${p.grid.height}x${p.grid.width}`;
    case 'conv':
      return `conv${p.kernel}_${p.grid.textLength}_${p.grid.height}x${p.grid.width}`;
  }
}

/** Whether query position q may attend to key position k (both stream positions). */
export function visible(p: AttentionPattern, q: number, k: number): boolean {
  if (k > q) return false;
  switch (p.kind) {
    case 'dense':
      return true;
    case 'banded':
      return q - k < p.width;
    default: {
      const L = p.grid.textLength;
      if (q < L || k < L) return true; // text is causal; image tokens see all text
      const W = p.grid.width;
      const i = q - L;
      const j = k - L;
      if (p.kind === 'row') return i - j <= W;
      if (p.kind === 'column') return (i - j) % W === 0;
      const h = Math.floor(p.kernel / 2);
      return Math.floor(i / W) - Math.floor(j / W) <= h && Math.abs((i % W) - (j % W)) <= h;
    }
  }
}

/** Check that `p` is well formed and fits a context of `contextLength` positions; `where` names the layer. */
export function validatePattern(p: AttentionPattern, contextLength: number, where: string): void {
  const int = (v: unknown, name: string, min: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`${where}: ${name} must be an integer ≥ ${min}, got ${String(v)}`);
  };
  switch (p.kind) {
    case 'dense':
      return;
    case 'banded':
      int(p.width, 'band width', 1);
      return;
    case 'row':
    case 'column':
    case 'conv': {
      const g = p.grid;
      if (!g || typeof g !== 'object') throw new Error(`${where}: the ${p.kind} pattern needs a grid {textLength, height, width}`);
      int(g.textLength, 'grid.textLength', 0);
      int(g.height, 'grid.height', 1);
      int(g.width, 'grid.width', 1);
      if (g.textLength > contextLength) throw new Error(`${where}: the text prefix (${g.textLength}) is longer than the context (${contextLength})`);
      const n = g.textLength + g.height * g.width;
      if (n > contextLength) {
        throw new Error(`${where}: text ${g.textLength} + image grid ${g.height}×${g.width} = ${n} positions do not fit the context (${contextLength})`);
      }
      if (p.kind === 'conv') {
        int(p.kernel, 'conv kernel', 1);
        if (p.kernel % 2 === 0) throw new Error(`${where}: conv kernel must be odd, got ${p.kernel}`);
      }
      return;
    }
    default:
      throw new Error(`${where}: unknown attention pattern ${JSON.stringify(p)}; kinds: dense, banded, row, column, conv`);
  }
}

/** Masked-out score: exp(−1e9 − max) underflows to exactly 0 in float32. */
export const MASKED = -1e9;

/** Additive bias (T, T) of a full forward over positions 0..T-1: 0 where visible, MASKED elsewhere. */
export function fullBias(p: AttentionPattern, T: number): Float32Array {
  const m = new Float32Array(T * T).fill(MASKED);
  for (let q = 0; q < T; q++) {
    if (p.kind === 'dense') m.fill(0, q * T, q * T + q + 1);
    else for (let k = 0; k <= q; k++) if (visible(p, q, k)) m[q * T + k] = 0;
  }
  return m;
}

/** GPT-3 (§2): dense and locally banded layers alternate (dense first). */
export function gpt3Patterns(nLayer: number, bandWidth: number): AttentionPattern[] {
  return Array.from({ length: nLayer }, (_, i) => (i % 2 === 1 ? { kind: 'banded', width: bandWidth } : DENSE));
}

/**
 * DALL·E's schedule (paper appendix B.1): with layers numbered 1..n, column attention where (i − 2) mod 4 = 0, row
 * attention elsewhere, and convolutional attention (11×11 by default) in the last layer: row, col, row, row, row, col, …
 */
export function dallePatterns(nLayer: number, grid: ImageGrid, convKernel = 11): AttentionPattern[] {
  return Array.from({ length: nLayer }, (_, i0) => {
    const i = i0 + 1;
    if (i === nLayer && nLayer > 1) return { kind: 'conv', grid, kernel: convKernel };
    return (i - 2) % 4 === 0 ? { kind: 'column', grid } : { kind: 'row', grid };
  });
}
