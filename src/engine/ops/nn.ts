// Neural-network ops: softmax / log-softmax, layer norm, cross-entropy with ignore index and per-token weights,
// and dropout driven by an explicit seed.

import { isFloat } from '../dtype.js';
import { apply, apply1, defineOp, fail, fmtShape, Tensor } from '../tensor.js';
import { normAxis } from './broadcast.js';
import { cast, scalar } from './core.js';
import { div, equal, exp, greaterEqual, logicalNot, maximum, mul, neg, sub, where } from './elementwise.js';
import { scatterAddAlongAxis } from './indexing.js';
import { randomUniform } from './random.js';
import { mean, sum } from './reduce.js';
import { expand, unsqueeze } from './shape.js';

function floatUnary(name: string, x: Tensor): void {
  if (!isFloat(x.dtype)) fail(name, `needs a float tensor, got ${x.dtype}`);
}

export const softmaxOp = defineOp<{ axis: number }>({
  name: 'softmax',
  infer: ([x]) => (floatUnary('softmax', x!), [{ shape: [...x!.shape], dtype: x!.dtype }]),
  emit: (e, [x], [out], a) => e.node('Softmax', [x!], [out!], { axis: { kind: 'int', value: a.axis } }),
  // dx = y * (g - sum(g * y))
  vjp: ({ outputs: [y], grads: [g], attrs }) => [mul(y!, sub(g!, sum(mul(g!, y!), attrs.axis, true)))],
});

export const logSoftmaxOp = defineOp<{ axis: number }>({
  name: 'logSoftmax',
  infer: ([x]) => (floatUnary('logSoftmax', x!), [{ shape: [...x!.shape], dtype: x!.dtype }]),
  emit: (e, [x], [out], a) => e.node('LogSoftmax', [x!], [out!], { axis: { kind: 'int', value: a.axis } }),
  // dx = g - softmax * sum(g)
  vjp: ({ outputs: [y], grads: [g], attrs }) => [sub(g!, mul(exp(y!), sum(g!, attrs.axis, true)))],
});

export function softmax(x: Tensor, axis = -1): Tensor {
  return apply1(softmaxOp, [x], { axis: normAxis('softmax', axis, x.rank) });
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return apply1(logSoftmaxOp, [x], { axis: normAxis('logSoftmax', axis, x.rank) });
}

/** Layer normalization over the last axis: ONNX LayerNormalization forward, composite backward from saved stats. */
export const layerNormOp = defineOp<{ eps: number }>({
  name: 'layerNorm',
  infer: ([x, w, b]) => {
    floatUnary('layerNorm', x!);
    const c = x!.shape[x!.rank - 1]!;
    for (const [nm, p] of [['weight', w], ['bias', b]] as const) {
      if (p!.rank !== 1 || p!.shape[0] !== c) fail('layerNorm', `${nm} shape ${fmtShape(p!.shape)} must be [${c}] for input ${fmtShape(x!.shape)}`);
      if (p!.dtype !== x!.dtype) fail('layerNorm', `${nm} dtype ${p!.dtype} differs from input ${x!.dtype}`);
    }
    const stat = [...x!.shape.slice(0, -1), 1];
    return [
      { shape: [...x!.shape], dtype: x!.dtype },
      { shape: stat, dtype: x!.dtype },
      { shape: stat, dtype: x!.dtype },
    ];
  },
  emit: (e, [x, w, b], outs, a, node) => {
    if (node.inputs[0]!.dtype === 'float32') {
      e.node('LayerNormalization', [x!, w!, b!], outs, {
        axis: { kind: 'int', value: -1 },
        epsilon: { kind: 'float', value: a.eps },
        stash_type: { kind: 'int', value: 1 },
      });
      return;
    }
    // ORT's CPU LayerNormalization has no float64 kernel: emit the same computation from primitives.
    const dt = node.inputs[0]!.dtype;
    const axes = e.i64([-1]);
    const keep = { keepdims: { kind: 'int' as const, value: 1 } };
    e.node('ReduceMean', [x!, axes], [outs[1]!], keep);
    const d = e.op('Sub', [x!, outs[1]!]);
    const v = e.op('ReduceMean', [e.op('Mul', [d, d]), axes], keep);
    e.node('Reciprocal', [e.op('Sqrt', [e.op('Add', [v, e.scalar(a.eps, dt)])])], [outs[2]!]);
    e.node('Add', [e.op('Mul', [e.op('Mul', [d, outs[2]!]), w!]), b!], [outs[0]!]);
  },
  vjp: ({ inputs: [x, w], outputs: [, mu, rstd], grads: [g], needs }) => {
    // xhat = (x - mu) * rstd; dxhat = g * w; dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    const xhat = mul(sub(x!, mu!), rstd!);
    let dx: Tensor | null = null;
    if (needs[0]) {
      const dxhat = mul(g!, w!);
      dx = mul(rstd!, sub(sub(dxhat, mean(dxhat, -1, true)), mul(xhat, mean(mul(dxhat, xhat), -1, true))));
    }
    return [dx, needs[1] ? mul(g!, xhat) : null, needs[2] ? g! : null];
  },
});

/** LayerNorm over the last axis with optional affine weight/bias (defaults 1 and 0). */
export function layerNorm(x: Tensor, weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  const c = x.shape[x.rank - 1]!;
  const w = weight ?? expand(scalar(1, x.dtype), [c]);
  const b = bias ?? expand(scalar(0, x.dtype), [c]);
  return apply(layerNormOp, [x, w, b], { eps })[0]!;
}

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (default -100, as PyTorch; nanoGPT uses -1). */
  ignoreIndex?: number;
  /** Per-token weights, same shape as targets. */
  weights?: Tensor;
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Per-position negative log-likelihood -log softmax(logits)[target] over the last axis, (..., V) × (...) → (...).
 * Fused so the backward pass is (softmax − one-hot) · g in three passes over the logits: exp of the saved
 * log-softmax, the scale by g, and a scatter of −g at the targets.
 */
export const softmaxNllOp = defineOp<Record<string, never>>({
  name: 'softmaxNll',
  infer: ([x, t]) => {
    floatUnary('softmaxNll', x!);
    return [
      { shape: [...t!.shape], dtype: x!.dtype },
      { shape: [...x!.shape], dtype: x!.dtype },
    ];
  },
  emit: (e, [x, t], [nll, lsm], _a, node) => {
    e.node('LogSoftmax', [x!], [lsm!], { axis: { kind: 'int', value: -1 } });
    const tt = node.inputs[1]!.dtype === 'int64' ? t! : e.op('Cast', [t!], { to: { kind: 'int', value: 7 } });
    const idx = e.op('Unsqueeze', [tt, e.i64([-1])]);
    const picked = e.op('GatherElements', [lsm!, idx], { axis: { kind: 'int', value: -1 } });
    e.node('Neg', [e.op('Squeeze', [picked, e.i64([-1])])], [nll!]);
  },
  vjp: ({ inputs: [, t], outputs: [, lsm], grads: [g] }) => {
    const gg = unsqueeze(g!, -1); // (..., 1)
    const scaled = mul(exp(lsm!), gg); // softmax · g
    return [scatterAddAlongAxis(scaled, unsqueeze(t!, -1), neg(gg), -1), null];
  },
});

/**
 * Cross-entropy of `logits` (..., V) against integer `targets` (...). Mean over non-ignored tokens (weighted mean
 * with `weights`): sum(w·nll) / sum(w) over valid positions. Composite, so its gradient is softmax − one-hot.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  floatUnary(op, logits);
  if (targets.dtype !== 'int64' && targets.dtype !== 'int32') fail(op, `targets must be int32/int64, got ${targets.dtype}`);
  const lead = logits.shape.slice(0, -1);
  if (targets.rank !== lead.length || targets.shape.some((d, i) => d !== lead[i])) {
    fail(op, `targets shape ${fmtShape(targets.shape)} must equal logits shape without the class axis ${fmtShape(lead)}`);
  }
  const ignore = opts.ignoreIndex ?? -100;
  const valid = logicalNot(equal(targets, ignore));
  const safe = where(valid, targets, 0);
  const picked = neg(apply(softmaxNllOp, [logits, safe], {})[0]!); // (...) = log p(target)
  let w = cast(valid, logits.dtype);
  if (opts.weights) {
    if (opts.weights.shape.some((d, i) => d !== targets.shape[i]) || opts.weights.rank !== targets.rank) {
      fail(op, `weights shape ${fmtShape(opts.weights.shape)} must equal targets shape ${fmtShape(targets.shape)}`);
    }
    w = mul(w, opts.weights);
  }
  const nll = mul(neg(picked), w);
  const reduction = opts.reduction ?? 'mean';
  if (reduction === 'none') return nll;
  if (reduction === 'sum') return sum(nll);
  return div(sum(nll), maximum(sum(w), 1e-12));
}

/**
 * Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p). `seed` is an int64 scalar
 * tensor fed per step; `stream` distinguishes call sites (use streamId(moduleName)).
 */
export function dropout(x: Tensor, p: number, seed: Tensor | undefined, stream: number, training = true): Tensor {
  if (!training || p === 0) return x;
  if (!(p >= 0 && p < 1)) fail('dropout', `p must be in [0, 1), got ${p}`);
  if (!seed) fail('dropout', 'training-mode dropout needs a seed tensor');
  const u = randomUniform(x.shape, seed, stream);
  const mask = greaterEqual(u, p);
  return where(mask, mul(x, 1 / (1 - p)), scalar(0, x.dtype));
}
