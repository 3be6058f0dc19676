// Reductions over axes: sum, mean, max (and min), with keepdims; gradients broadcast back to the input.

import { isFloat } from '../dtype.js';
import { apply1, defineOp, fail, Tensor } from '../tensor.js';
import { normAxis } from './broadcast.js';
import { div, equal, mul, neg, sub } from './elementwise.js';
import { expand, reshape } from './shape.js';
import { cast } from './core.js';

interface ReduceAttrs {
  axes: number[];
  keepdims: boolean;
}

function reducedShape(shape: readonly number[], a: ReduceAttrs): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (a.axes.includes(i)) {
      if (a.keepdims) out.push(1);
    } else out.push(d);
  });
  return out;
}

function keepShape(shape: readonly number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduceOp(name: string, onnx: string, vjp: (x: Tensor, y: Tensor, g: Tensor, a: ReduceAttrs) => Tensor) {
  return defineOp<ReduceAttrs>({
    name,
    infer: ([x], a) => {
      if (x!.dtype === 'bool') fail(name, 'does not take bool tensors');
      return [{ shape: reducedShape(x!.shape, a), dtype: x!.dtype }];
    },
    emit: (e, [x], [out], a) =>
      e.node(onnx, [x!, e.i64(a.axes)], [out!], { keepdims: { kind: 'int', value: a.keepdims ? 1 : 0 } }),
    vjp: ({ inputs: [x], outputs: [y], grads: [g], attrs }) => [vjp(x!, y!, g!, attrs)],
  });
}

/** Cotangent of a reduced value, broadcast back to the input's shape. */
function spread(g: Tensor, x: Tensor, axes: number[]): Tensor {
  return expand(reshape(g, keepShape(x.shape, axes)), x.shape);
}

export const sumOp = reduceOp('sum', 'ReduceSum', (x, _y, g, a) => spread(g, x, a.axes));
export const meanOp = reduceOp('mean', 'ReduceMean', (x, _y, g, a) => {
  const n = a.axes.reduce((p, ax) => p * x.shape[ax]!, 1);
  return div(spread(g, x, a.axes), n);
});
// Ties share the gradient evenly (torch.amax semantics).
export const maxOp = reduceOp('max', 'ReduceMax', (x, y, g, a) => {
  const mask = cast(equal(x, spread(y, x, a.axes)), x.dtype);
  const count = spread(sum(mask, a.axes, true), x, a.axes);
  return div(mul(spread(g, x, a.axes), mask), count);
});

function axesOf(op: string, x: Tensor, axes?: number | readonly number[]): number[] {
  if (axes === undefined) return [...Array(x.rank).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const norm = list.map((a) => normAxis(op, a, x.rank));
  if (new Set(norm).size !== norm.length) fail(op, `repeated axes [${list.join(', ')}]`);
  return norm.sort((p, q) => p - q);
}

function reduce(op: ReturnType<typeof reduceOp>, x: Tensor, axes: number | readonly number[] | undefined, keepdims: boolean): Tensor {
  const ax = axesOf(op.name, x, axes);
  if (ax.length === 0) return x;
  return apply1(op, [x], { axes: ax, keepdims });
}

/** Sum over axes (all axes by default). */
export function sum(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return reduce(sumOp, x, axes, keepdims);
}

export function mean(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  if (!isFloat(x.dtype)) fail('mean', `needs a float tensor, got ${x.dtype}`);
  return reduce(meanOp, x, axes, keepdims);
}

export function max(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return reduce(maxOp, x, axes, keepdims);
}

export function min(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return neg(max(neg(x), axes, keepdims));
}

/** Population variance over axes (composite). */
export function variance(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const d = sub(x, mean(x, axes, true));
  return mean(mul(d, d), axes, keepdims);
}
