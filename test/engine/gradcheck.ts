// Finite-difference gradient checking for engine ops: compiles f and its reverse-mode gradient, then compares every
// gradient entry against central differences (float64 by default) plus a random-direction dot-product test.

import assert from 'node:assert/strict';
import * as T from '../../src/engine/index.js';
import type { DType, TypedArray } from '../../src/engine/index.js';

export interface ArgSpec {
  shape: number[];
  dtype?: DType;
  /** Values to use (default: sampled). */
  values?: number[];
  /** Sampler domain: 'any' (−1..1), 'positive' (0.5..1.5), 'int:N' (integers in [0, N)), 'distinct' (well separated). */
  domain?: 'any' | 'positive' | 'distinct' | `int:${number}`;
  /** Do not differentiate this argument. */
  noGrad?: boolean;
}

export function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

function sample(spec: ArgSpec, rand: () => number): number[] {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.values) return spec.values;
  const d = spec.domain ?? 'any';
  if (d.startsWith('int:')) {
    const k = Number(d.slice(4));
    return Array.from({ length: n }, () => Math.floor(rand() * k));
  }
  if (d === 'positive') return Array.from({ length: n }, () => 0.5 + rand());
  if (d === 'distinct') {
    // a shuffled, well-separated set so max/min/relu/abs are not near a kink
    const vals = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.37 + 0.11);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [vals[i], vals[j]] = [vals[j]!, vals[i]!];
    }
    return vals;
  }
  return Array.from({ length: n }, () => rand() * 2 - 1);
}

function toArray(vals: number[], dtype: DType): TypedArray {
  switch (dtype) {
    case 'float64':
      return Float64Array.from(vals);
    case 'float32':
      return Float32Array.from(vals);
    case 'int64':
      return BigInt64Array.from(vals.map((v) => BigInt(v)));
    case 'int32':
      return Int32Array.from(vals);
    case 'bool':
      return Uint8Array.from(vals);
    default:
      throw new Error(`gradcheck: unsupported dtype ${dtype}`);
  }
}

export interface GradCheckOptions {
  seed?: number;
  /** Float dtype of differentiable args (default float64). */
  dtype?: 'float64' | 'float32';
  eps?: number;
  atol?: number;
  rtol?: number;
}

/**
 * Check d/dx sum(f(xs) * R) for a fixed random R against central differences, for every differentiable input.
 */
export async function gradCheck(
  name: string,
  f: (...xs: T.Tensor[]) => T.Tensor,
  args: ArgSpec[],
  opts: GradCheckOptions = {},
): Promise<void> {
  const fdt = opts.dtype ?? 'float64';
  const rand = rng(opts.seed ?? 1234);
  const dtypes = args.map((a) => a.dtype ?? fdt);
  const values = args.map((a) => sample(a, rand));
  const diffIdx = args.map((a, i) => (!a.noGrad && (dtypes[i] === 'float64' || dtypes[i] === 'float32') ? i : -1)).filter((i) => i >= 0);
  let outShape: readonly number[] = [];
  const compiled = await T.compile(
    (...xs: T.Tensor[]) => {
      const y = f(...xs);
      outShape = y.shape;
      const r = T.constant(toArray(sample({ shape: [...y.shape] }, rng(99)), y.dtype as DType), y.shape, y.dtype);
      const loss = T.sum(T.mul(y, r));
      const grads = T.grad(loss, diffIdx.map((i) => xs[i]!));
      return { loss, ...Object.fromEntries(grads.map((g, k) => [`g${k}`, g])) };
    },
    args.map((a, i) => ({ shape: a.shape, dtype: dtypes[i] })),
  );
  void outShape;
  const evalLoss = async (vals: number[][]) => {
    const out = (await compiled(...vals.map((v, i) => toArray(v, dtypes[i]!)))) as Record<string, TypedArray>;
    return out;
  };
  const base = await evalLoss(values);
  const eps = opts.eps ?? (fdt === 'float64' ? 1e-6 : 1e-2);
  const atol = opts.atol ?? (fdt === 'float64' ? 1e-6 : 2e-2);
  const rtol = opts.rtol ?? (fdt === 'float64' ? 1e-5 : 2e-2);
  for (const [k, i] of diffIdx.entries()) {
    const analytic = Array.from(base[`g${k}`] as Float64Array);
    const n = values[i]!.length;
    assert.equal(analytic.length, n, `${name}: gradient ${i} has ${analytic.length} entries, input has ${n}`);
    for (let j = 0; j < n; j++) {
      const plus = values.map((v) => [...v]);
      const minus = values.map((v) => [...v]);
      plus[i]![j]! += eps;
      minus[i]![j]! -= eps;
      const lp = Number((await evalLoss(plus)).loss![0]);
      const lm = Number((await evalLoss(minus)).loss![0]);
      const numeric = (lp - lm) / (2 * eps);
      const a = analytic[j]!;
      const ok = Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric);
      assert.ok(ok, `${name}: d/dx${i}[${j}] analytic ${a} vs numeric ${numeric}`);
    }
  }
  await compiled.program.release();
}
