// Reverse-mode autodiff over the traced graph: a reverse topological walk that calls each op's VJP, sums fan-out,
// and reduces every cotangent back to its input's shape (the one place where broadcasting is undone).

import { isFloat } from './dtype.js';
import { topoSort } from './graph.js';
import { broadcastAxes, sameShape } from './ops/broadcast.js';
import { add } from './ops/elementwise.js';
import { sum } from './ops/reduce.js';
import { reshape, zerosLike, expand, isKnownZeros } from './ops/shape.js';
import { scatterAddRows, scatterAddRowsOp } from './ops/indexing.js';
import { scalar } from './ops/core.js';
import { OpError, fmtShape, type Tensor } from './tensor.js';

/** Sum `g` over the axes that broadcasting added, so it has `shape`. */
export function unbroadcast(g: Tensor, shape: readonly number[], op = 'grad'): Tensor {
  if (sameShape(g.shape, shape)) return g;
  if (g.rank < shape.length) {
    throw new OpError(op, `VJP returned a cotangent of shape ${fmtShape(g.shape)} for an input of shape ${fmtShape(shape)}`);
  }
  const axes = broadcastAxes(shape, g.shape);
  const r = reshape(sum(g, axes, true), shape);
  if (!sameShape(r.shape, shape)) {
    throw new OpError(op, `VJP returned a cotangent of shape ${fmtShape(g.shape)} for an input of shape ${fmtShape(shape)}`);
  }
  return r;
}

/**
 * a + b for two cotangents of the same tensor. When one is an embedding-style gradient — rows scattered onto zeros —
 * the rows are scattered straight into the other instead (a tied embedding/output head: one full pass less over the
 * table, and no zero-filled table).
 */
function addCotangents(a: Tensor, b: Tensor): Tensor {
  const fold = (s: Tensor, other: Tensor): Tensor | undefined => {
    if (s.node.op !== scatterAddRowsOp || !isKnownZeros(s.node.inputs[0]!)) return undefined;
    if (!sameShape(s.shape, other.shape) || s.dtype !== other.dtype) return undefined;
    return scatterAddRows(other, s.node.inputs[1]!, s.node.inputs[2]!);
  };
  return fold(b, a) ?? fold(a, b) ?? add(a, b);
}

/**
 * Gradients of scalar (or seeded) `y` with respect to each of `xs`. Parameters the loss does not reach get zeros.
 * `seed` is the cotangent of `y` (default: ones, so y should usually be a scalar).
 */
export function grad(y: Tensor, xs: readonly Tensor[], seed?: Tensor): Tensor[] {
  if (!isFloat(y.dtype)) throw new OpError('grad', `cannot differentiate a ${y.dtype} output`);
  const order = topoSort([y]);
  // Forward pass: which tensors depend on any x.
  const depends = new Set<number>(xs.map((x) => x.id));
  for (const node of order) {
    if (!node.op.vjp) continue;
    if (node.inputs.some((t) => depends.has(t.id))) for (const o of node.outputs) depends.add(o.id);
  }
  const cot = new Map<number, Tensor>();
  const accumulate = (t: Tensor, g: Tensor) => {
    const prev = cot.get(t.id);
    cot.set(t.id, prev ? addCotangents(prev, g) : g);
  };
  accumulate(y, seed ?? expand(scalar(1, y.dtype), y.shape));
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!;
    if (!node.op.vjp) continue;
    const outGrads = node.outputs.map((o) => cot.get(o.id) ?? null);
    if (outGrads.every((g) => g === null)) continue;
    const needs = node.inputs.map((t) => depends.has(t.id) && isFloat(t.dtype));
    if (!needs.some(Boolean)) continue;
    const ins = node.op.vjp({ inputs: node.inputs, outputs: node.outputs, attrs: node.attrs, grads: outGrads, needs });
    node.inputs.forEach((inp, k) => {
      const g = ins[k];
      if (!needs[k] || !g) return;
      if (g.dtype !== inp.dtype) {
        throw new OpError(node.op.name, `VJP returned ${g.dtype} cotangent for a ${inp.dtype} input ${k}`);
      }
      accumulate(inp, unbroadcast(g, inp.shape, node.op.name));
    });
  }
  return xs.map((x) => cot.get(x.id) ?? zerosLike(x));
}

/** The loss and its gradients with respect to `params`, all in the same graph. */
export function valueAndGrad(loss: Tensor, params: readonly Tensor[]): { value: Tensor; grads: Tensor[] } {
  return { value: loss, grads: grad(loss, params) };
}
