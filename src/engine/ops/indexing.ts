// Indexing ops: gather (embedding lookup) with a scatter-add gradient, take-along-axis, one-hot, scatter-add, iota, top-k.

import { isFloat, isInteger, type DType } from '../dtype.js';
import { apply, apply1, defineOp, fail, fmtShape, Tensor } from '../tensor.js';
import { normAxis } from './broadcast.js';
import { cast } from './core.js';
import { reshape, zeros } from './shape.js';

function checkIndices(op: string, idx: Tensor): void {
  if (idx.dtype !== 'int64' && idx.dtype !== 'int32') fail(op, `indices must be int32 or int64, got ${idx.dtype}`);
}

/** Add `updates` (N, ...row) into rows `indices` (N) of `base` (V, ...row); repeated indices accumulate. */
export const scatterAddRowsOp = defineOp<Record<string, never>>({
  name: 'scatterAddRows',
  infer: ([base, idx, upd]) => {
    checkIndices('scatterAddRows', idx!);
    if (idx!.rank !== 1) fail('scatterAddRows', `indices must be 1-D, got ${fmtShape(idx!.shape)}`);
    const row = base!.shape.slice(1);
    const want = [idx!.shape[0]!, ...row];
    if (upd!.shape.length !== want.length || upd!.shape.some((d, i) => d !== want[i])) {
      fail('scatterAddRows', `updates shape ${fmtShape(upd!.shape)} does not match ${fmtShape(want)}`);
    }
    return [{ shape: [...base!.shape], dtype: base!.dtype }];
  },
  emit: (e, [base, idx, upd], [out], _a, node) => {
    const i64 = node.inputs[1]!.dtype === 'int64' ? idx! : e.op('Cast', [idx!], { to: { kind: 'int', value: 7 } });
    const idx2 = e.op('Unsqueeze', [i64, e.i64([1])]); // (N, 1)
    e.node('ScatterND', [base!, idx2, upd!], [out!], { reduction: { kind: 'string', value: 'add' } });
  },
  vjp: ({ inputs: [, idx], grads: [g], needs }) => [needs[0] ? g : null, null, needs[2] ? gatherRows(g!, idx!) : null],
});

export function scatterAddRows(base: Tensor, indices: Tensor, updates: Tensor): Tensor {
  return apply1(scatterAddRowsOp, [base, indices, updates], {});
}

export const gatherOp = defineOp<{ axis: number }>({
  name: 'gather',
  infer: ([table, idx], a) => {
    checkIndices('gather', idx!);
    const s = [...table!.shape.slice(0, a.axis), ...idx!.shape, ...table!.shape.slice(a.axis + 1)];
    return [{ shape: s, dtype: table!.dtype }];
  },
  emit: (e, [t, i], [out], a) => e.node('Gather', [t!, i!], [out!], { axis: { kind: 'int', value: a.axis } }),
  vjp: ({ inputs: [table, idx], grads: [g], attrs }) => {
    if (attrs.axis !== 0) fail('gather', 'gradient is implemented for axis 0 (embedding lookup) only');
    const row = table!.shape.slice(1);
    const flatIdx = reshape(idx!, [-1]); // (N,)
    const flatG = reshape(g!, [flatIdx.shape[0]!, ...row]); // (N, ...row)
    return [scatterAddRows(zeros(table!.shape, table!.dtype), flatIdx, flatG), null];
  },
});

/** Rows of `table` picked by integer `indices` (embedding lookup when axis = 0). Out-of-range ids fail in ORT. */
export function gather(table: Tensor, indices: Tensor, axis = 0): Tensor {
  return apply1(gatherOp, [table, indices], { axis: normAxis('gather', axis, table.rank) });
}

function gatherRows(g: Tensor, idx: Tensor): Tensor {
  return gather(g, idx, 0);
}

export const takeAlongAxisOp = defineOp<{ axis: number }>({
  name: 'takeAlongAxis',
  infer: ([x, idx], a) => {
    checkIndices('takeAlongAxis', idx!);
    if (idx!.rank !== x!.rank) fail('takeAlongAxis', `indices rank ${idx!.rank} must equal input rank ${x!.rank}`);
    idx!.shape.forEach((d, i) => {
      if (i !== a.axis && d !== x!.shape[i]) fail('takeAlongAxis', `indices ${fmtShape(idx!.shape)} vs input ${fmtShape(x!.shape)} differ on axis ${i}`);
    });
    return [{ shape: [...idx!.shape], dtype: x!.dtype }];
  },
  emit: (e, [x, i], [out], a) => e.node('GatherElements', [x!, i!], [out!], { axis: { kind: 'int', value: a.axis } }),
  vjp: ({ inputs: [x, idx], grads: [g], attrs }) => [scatterAddAlongAxis(zeros(x!.shape, x!.dtype), idx!, g!, attrs.axis), null],
});

/** numpy.take_along_axis / torch.gather. */
export function takeAlongAxis(x: Tensor, indices: Tensor, axis: number): Tensor {
  return apply1(takeAlongAxisOp, [x, indices], { axis: normAxis('takeAlongAxis', axis, x.rank) });
}

export const scatterAddAlongAxisOp = defineOp<{ axis: number }>({
  name: 'scatterAddAlongAxis',
  infer: ([base, idx, upd]) => {
    checkIndices('scatterAddAlongAxis', idx!);
    if (upd!.shape.some((d, i) => d !== idx!.shape[i])) fail('scatterAddAlongAxis', `updates ${fmtShape(upd!.shape)} must match indices ${fmtShape(idx!.shape)}`);
    return [{ shape: [...base!.shape], dtype: base!.dtype }];
  },
  emit: (e, [b, i, u], [out], a) =>
    e.node('ScatterElements', [b!, i!, u!], [out!], {
      axis: { kind: 'int', value: a.axis },
      reduction: { kind: 'string', value: 'add' },
    }),
  vjp: ({ inputs: [, idx], grads: [g], attrs, needs }) => [
    needs[0] ? g : null,
    null,
    needs[2] ? takeAlongAxis(g!, idx!, attrs.axis) : null,
  ],
});

/** torch.scatter_add along an axis. */
export function scatterAddAlongAxis(base: Tensor, indices: Tensor, updates: Tensor, axis: number): Tensor {
  return apply1(scatterAddAlongAxisOp, [base, indices, updates], { axis: normAxis('scatterAdd', axis, base.rank) });
}

export const oneHotOp = defineOp<{ depth: number; dtype: DType }>({
  name: 'oneHot',
  infer: ([idx], a) => {
    checkIndices('oneHot', idx!);
    return [{ shape: [...idx!.shape, a.depth], dtype: a.dtype }];
  },
  emit: (e, [i], [out], a) => {
    const values = a.dtype === 'bool' ? e.constant('bool', [2], Uint8Array.of(0, 1)) : e.constant('float32', [2], Float32Array.of(0, 1));
    const raw = e.op('OneHot', [i!, e.i64([a.depth], []), values], { axis: { kind: 'int', value: -1 } });
    if (a.dtype === 'float32' || a.dtype === 'bool') e.node('Identity', [raw], [out!]);
    else e.node('Cast', [raw], [out!], { to: { kind: 'int', value: { float64: 11, int32: 6, int64: 7, float16: 10, int8: 3, uint8: 2 }[a.dtype as 'float64'] } });
  },
});

/** One-hot encoding along a new last axis. Indices outside [0, depth) give an all-zero row. */
export function oneHot(indices: Tensor, depth: number, dtype: DType = 'float32'): Tensor {
  return apply1(oneHotOp, [indices], { depth, dtype });
}

export const arangeOp = defineOp<{ n: number; dtype: DType }>({
  name: 'arange',
  infer: (_i, a) => [{ shape: [a.n], dtype: a.dtype }],
  emit: (e, _i, [out], a) => {
    const dt = a.dtype === 'int32' ? 'int32' : a.dtype === 'float32' ? 'float32' : 'int64';
    e.node('Range', [e.scalar(0, dt), e.scalar(a.n, dt), e.scalar(1, dt)], [out!]);
  },
});

/** 0, 1, …, n-1 computed at run time (no large constant). */
export function arange(n: number, dtype: 'int64' | 'int32' | 'float32' = 'int64'): Tensor {
  if (!Number.isInteger(n) || n < 0) fail('arange', `length must be a non-negative integer, got ${n}`);
  return apply1(arangeOp, [], { n, dtype });
}

export function toIndex(x: Tensor): Tensor {
  if (!isInteger(x.dtype)) fail('toIndex', `needs an integer tensor, got ${x.dtype}`);
  return cast(x, 'int64');
}

export const topKOp = defineOp<{ k: number; axis: number }>({
  name: 'topK',
  infer: ([x], a) => {
    if (!isFloat(x!.dtype)) fail('topK', `needs a float tensor, got ${x!.dtype}`);
    const n = x!.shape[a.axis]!;
    if (!Number.isInteger(a.k) || a.k < 1 || a.k > n) fail('topK', `k must be an integer in [1, ${n}] for axis ${a.axis} of ${fmtShape(x!.shape)}, got ${a.k}`);
    const shape = x!.shape.map((d, i) => (i === a.axis ? a.k : d));
    return [
      { shape, dtype: x!.dtype },
      { shape, dtype: 'int64' },
    ];
  },
  emit: (e, [x], [values, indices], a) =>
    e.node('TopK', [x!, e.i64([a.k], [1])], [values!, indices!], {
      axis: { kind: 'int', value: a.axis },
      largest: { kind: 'int', value: 1 },
      sorted: { kind: 'int', value: 1 },
    }),
  // Each selected value's cotangent goes back to the position it was taken from.
  vjp: ({ inputs: [x], outputs: [, indices], grads: [g], attrs }) => [g ? scatterAddAlongAxis(zeros(x!.shape, x!.dtype), indices!, g, attrs.axis) : null],
});

/** The k largest values along an axis, sorted descending, and their int64 indices (torch.topk). */
export function topK(x: Tensor, k: number, axis = -1): { values: Tensor; indices: Tensor } {
  const [values, indices] = apply(topKOp, [x], { k, axis: normAxis('topK', axis, x.rank) });
  return { values: values!, indices: indices! };
}
