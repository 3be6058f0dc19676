// Shape ops: reshape, transpose/permute, slice, pad, concat, split, expand, squeeze/unsqueeze, flatten.

import { numel } from '../dtype.js';
import { apply, apply1, defineOp, fail, fmtShape, Tensor } from '../tensor.js';
import { broadcastShapes, normAxis, sameShape } from './broadcast.js';
import { scalar } from './core.js';

// ---------------------------------------------------------------- reshape

export const reshapeOp = defineOp<{ shape: number[] }>({
  name: 'reshape',
  infer: ([x], a) => [{ shape: a.shape, dtype: x!.dtype }],
  emit: (e, [x], [out], a) => e.node('Reshape', [x!, e.i64(a.shape)], [out!]),
  vjp: ({ inputs: [x], grads: [g] }) => [reshape(g!, x!.shape)],
});

/** Reshape; one dimension may be -1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const n = x.size;
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (s.filter((d) => d === -1).length > 1) fail('reshape', `only one -1 allowed in ${fmtShape(shape)}`);
  if (neg >= 0) {
    const rest = numel(s.filter((_, i) => i !== neg));
    if (rest === 0 || n % rest !== 0) fail('reshape', `cannot reshape ${fmtShape(x.shape)} (${n} elements) to ${fmtShape(shape)}`);
    s[neg] = n / rest;
  }
  if (numel(s) !== n || s.some((d) => !Number.isInteger(d) || d < 0)) {
    fail('reshape', `cannot reshape ${fmtShape(x.shape)} (${n} elements) to ${fmtShape(shape)}`);
  }
  if (sameShape(s, x.shape)) return x;
  return apply1(reshapeOp, [x], { shape: s });
}

export function flatten(x: Tensor, startAxis = 0): Tensor {
  const a = normAxis('flatten', startAxis, x.rank);
  return reshape(x, [...x.shape.slice(0, a), -1]);
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  if (a < 0 || a > x.rank) fail('unsqueeze', `axis ${axis} out of range for rank ${x.rank}`);
  const s = [...x.shape];
  s.splice(a, 0, 1);
  return reshape(x, s);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis('squeeze', axis, x.rank);
  if (x.shape[a] !== 1) fail('squeeze', `axis ${axis} has size ${x.shape[a]}, not 1 (shape ${fmtShape(x.shape)})`);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

// ---------------------------------------------------------------- transpose

export const transposeOp = defineOp<{ perm: number[] }>({
  name: 'transpose',
  infer: ([x], a) => {
    const r = x!.rank;
    if (a.perm.length !== r || [...a.perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
      fail('transpose', `perm [${a.perm.join(', ')}] is not a permutation of ${r} axes (input ${fmtShape(x!.shape)})`);
    }
    return [{ shape: a.perm.map((p) => x!.shape[p]!), dtype: x!.dtype }];
  },
  emit: (e, [x], [out], a) => e.node('Transpose', [x!], [out!], { perm: { kind: 'ints', value: a.perm } }),
  vjp: ({ grads: [g], attrs }) => {
    const inv = new Array<number>(attrs.perm.length);
    attrs.perm.forEach((p, i) => (inv[p] = i));
    return [transpose(g!, inv)];
  },
});

/** Permute axes (negative axes allowed). Default: reverse all axes. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ? perm.map((a) => (a < 0 ? a + x.rank : a)) : [...Array(x.rank).keys()].reverse();
  if (p.every((v, i) => v === i)) return x;
  return apply1(transposeOp, [x], { perm: p });
}
export const permute = transpose;

/** Swap two axes. */
export function swapAxes(x: Tensor, a: number, b: number): Tensor {
  const p = [...Array(x.rank).keys()];
  const i = normAxis('swapAxes', a, x.rank);
  const j = normAxis('swapAxes', b, x.rank);
  [p[i], p[j]] = [p[j]!, p[i]!];
  return transpose(x, p);
}

// ---------------------------------------------------------------- slice / pad

export const sliceOp = defineOp<{ starts: number[]; ends: number[]; axes: number[]; steps: number[] }>({
  name: 'slice',
  infer: ([x], a) => {
    const s = [...x!.shape];
    a.axes.forEach((ax, k) => {
      const len = Math.max(0, Math.ceil((a.ends[k]! - a.starts[k]!) / a.steps[k]!));
      s[ax] = len;
    });
    return [{ shape: s, dtype: x!.dtype }];
  },
  emit: (e, [x], [out], a) =>
    e.node('Slice', [x!, e.i64(a.starts), e.i64(a.ends), e.i64(a.axes), e.i64(a.steps)], [out!]),
  vjp: ({ inputs: [x], grads: [g], attrs }) => {
    if (attrs.steps.some((s) => s !== 1)) {
      // Strided slice: scatter back through an interleave of zeros is rarely needed; refuse clearly.
      fail('slice', 'gradient of a strided slice (step != 1) is not implemented');
    }
    const before = new Array<number>(x!.rank).fill(0);
    const after = new Array<number>(x!.rank).fill(0);
    attrs.axes.forEach((ax, k) => {
      before[ax] = attrs.starts[k]!;
      after[ax] = x!.shape[ax]! - attrs.ends[k]!;
    });
    return [pad(g!, before, after)];
  },
});

/**
 * Slice along axes with python semantics for negative/over-range bounds. `steps` must be positive.
 * `slice(x, [[axis, start, end, step?], ...])`.
 */
export function slice(x: Tensor, specs: readonly (readonly [number, number?, number?, number?])[]): Tensor {
  const starts: number[] = [];
  const ends: number[] = [];
  const axes: number[] = [];
  const steps: number[] = [];
  for (const [axis, start = 0, end = Infinity, step = 1] of specs) {
    const ax = normAxis('slice', axis, x.rank);
    const n = x.shape[ax]!;
    if (!Number.isInteger(step) || step <= 0) fail('slice', `step must be a positive integer, got ${step}`);
    const clampIdx = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
    const s = clampIdx(start);
    const en = Math.max(s, end === Infinity ? n : clampIdx(end));
    axes.push(ax);
    starts.push(s);
    ends.push(en);
    steps.push(step);
  }
  if (axes.every((ax, k) => starts[k] === 0 && ends[k] === x.shape[ax] && steps[k] === 1)) return x;
  return apply1(sliceOp, [x], { starts, ends, axes, steps });
}

/** Narrow one axis to [start, start + length). */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  return slice(x, [[axis, start, start + length]]);
}

export const padOp = defineOp<{ before: number[]; after: number[]; value: number }>({
  name: 'pad',
  infer: ([x], a) => {
    if (a.before.length !== x!.rank || a.after.length !== x!.rank) fail('pad', `pads must have ${x!.rank} entries per side`);
    if ([...a.before, ...a.after].some((p) => !Number.isInteger(p) || p < 0)) fail('pad', 'only non-negative integer pads are supported');
    return [{ shape: x!.shape.map((d, i) => d + a.before[i]! + a.after[i]!), dtype: x!.dtype }];
  },
  emit: (e, [x, v], [out], a) => e.node('Pad', [x!, e.i64([...a.before, ...a.after]), v!], [out!]),
  vjp: ({ inputs: [x], grads: [g], attrs }) => [
    slice(g!, x!.shape.map((d, i) => [i, attrs.before[i]!, attrs.before[i]! + d] as const)),
    null,
  ],
});

/** Constant padding (zeros by default) with per-axis before/after amounts. */
export function pad(x: Tensor, before: readonly number[], after: readonly number[], value = 0): Tensor {
  if (before.every((p) => p === 0) && after.every((p) => p === 0)) return x;
  return apply1(padOp, [x, scalar(value, x.dtype)], { before: [...before], after: [...after], value });
}

// ---------------------------------------------------------------- concat / split

export const concatOp = defineOp<{ axis: number }>({
  name: 'concat',
  infer: (xs, a) => {
    const first = xs[0]!;
    const s = [...first.shape];
    let total = 0;
    for (const x of xs) {
      if (x.dtype !== first.dtype) fail('concat', `dtype mismatch: ${first.dtype} vs ${x.dtype}`);
      if (x.rank !== first.rank || x.shape.some((d, i) => i !== a.axis && d !== first.shape[i])) {
        fail('concat', `shapes ${fmtShape(first.shape)} and ${fmtShape(x.shape)} differ outside axis ${a.axis}`);
      }
      total += x.shape[a.axis]!;
    }
    s[a.axis] = total;
    return [{ shape: s, dtype: first.dtype }];
  },
  emit: (e, xs, [out], a) => e.node('Concat', xs, [out!], { axis: { kind: 'int', value: a.axis } }),
  vjp: ({ inputs, grads: [g], attrs, needs }) => {
    let off = 0;
    return inputs.map((x, i) => {
      const n = x.shape[attrs.axis]!;
      const r = needs[i] ? narrow(g!, attrs.axis, off, n) : null;
      off += n;
      return r;
    });
  },
});

export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) fail('concat', 'needs at least one tensor');
  if (xs.length === 1) return xs[0]!;
  const ax = normAxis('concat', axis, xs[0]!.rank);
  return apply1(concatOp, [...xs], { axis: ax });
}

export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  return concat(xs.map((x) => unsqueeze(x, axis)), axis);
}

export const splitOp = defineOp<{ axis: number; sizes: number[] }>({
  name: 'split',
  infer: ([x], a) => {
    const total = a.sizes.reduce((p, q) => p + q, 0);
    if (total !== x!.shape[a.axis]) fail('split', `sizes [${a.sizes.join(', ')}] sum to ${total}, axis ${a.axis} has ${x!.shape[a.axis]}`);
    return a.sizes.map((n) => {
      const s = [...x!.shape];
      s[a.axis] = n;
      return { shape: s, dtype: x!.dtype };
    });
  },
  emit: (e, [x], outs, a) => e.node('Split', [x!, e.i64(a.sizes)], outs, { axis: { kind: 'int', value: a.axis } }),
  vjp: ({ outputs, grads }) => [concat(outputs.map((o, i) => grads[i] ?? zerosLike(o)), (outputs[0]!.node.attrs as { axis: number }).axis)],
});

/** Split along an axis into pieces of the given sizes (or `n` equal pieces). */
export function split(x: Tensor, sizesOrCount: number | readonly number[], axis = 0): Tensor[] {
  const ax = normAxis('split', axis, x.rank);
  let sizes: number[];
  if (typeof sizesOrCount === 'number') {
    const n = x.shape[ax]!;
    if (n % sizesOrCount !== 0) fail('split', `axis ${axis} of size ${n} is not divisible into ${sizesOrCount} parts`);
    sizes = new Array(sizesOrCount).fill(n / sizesOrCount);
  } else sizes = [...sizesOrCount];
  return apply(splitOp, [x], { axis: ax, sizes });
}

// ---------------------------------------------------------------- expand / broadcast

export const expandOp = defineOp<{ shape: number[] }>({
  name: 'expand',
  infer: ([x], a) => {
    const s = broadcastShapes('expand', x!.shape, a.shape);
    if (!sameShape(s, a.shape)) fail('expand', `cannot expand ${fmtShape(x!.shape)} to ${fmtShape(a.shape)}`);
    return [{ shape: s, dtype: x!.dtype }];
  },
  emit: (e, [x], [out], a) => e.node('Expand', [x!, e.i64(a.shape)], [out!]),
  // The walker reduces the cotangent back to the input's shape.
  vjp: ({ grads: [g] }) => [g],
});

export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(x.shape, shape)) return x;
  return apply1(expandOp, [x], { shape: [...shape] });
}
export const broadcastTo = expand;

const knownZeros = new WeakSet<Tensor>();

/** Whether `t` was made by zeros()/zerosLike() (lets autodiff fold "zeros + scatter" into the other summand). */
export function isKnownZeros(t: Tensor): boolean {
  return knownZeros.has(t);
}

/** Zeros with the shape and dtype of `x` (a constant broadcast, no big initializer). */
export function zerosLike(x: Tensor): Tensor {
  return zeros(x.shape, x.dtype);
}

export function zeros(shape: readonly number[], dtype: import('../dtype.js').DType = 'float32'): Tensor {
  const z = expand(scalar(0, dtype), shape);
  knownZeros.add(z);
  return z;
}

export function full(shape: readonly number[], value: number, dtype: import('../dtype.js').DType = 'float32'): Tensor {
  return expand(scalar(value, dtype), shape);
}
