// Elementwise ops: unary math, broadcasting binary arithmetic, comparisons, logic and where/select.

import { isFloat, type DType } from '../dtype.js';
import { apply1, defineOp, fail, type OpDef, Tensor } from '../tensor.js';
import { broadcastShapes } from './broadcast.js';
import { cast, lift, scalar } from './core.js';

type Num = Tensor | number;

// ---------------------------------------------------------------- unary

function unaryOp(
  name: string,
  onnx: string,
  opts: { floatOnly?: boolean; vjp?: (x: Tensor, y: Tensor, g: Tensor) => Tensor; attrs?: Record<string, never> } = {},
): OpDef<Record<string, never>> {
  return defineOp<Record<string, never>>({
    name,
    infer: ([x]) => {
      if (opts.floatOnly !== false && !isFloat(x!.dtype)) fail(name, `needs a float tensor, got ${x!.dtype}`);
      return [{ shape: [...x!.shape], dtype: x!.dtype }];
    },
    emit: (e, [x], [out]) => e.node(onnx, [x!], [out!]),
    vjp: opts.vjp ? ({ inputs: [x], outputs: [y], grads: [g] }) => [opts.vjp!(x!, y!, g!)] : undefined,
  });
}

export const negOp = unaryOp('neg', 'Neg', { floatOnly: false, vjp: (_x, _y, g) => neg(g) });
export const absOp = unaryOp('abs', 'Abs', { floatOnly: false, vjp: (x, _y, g) => mul(g, sign(x)) });
export const signOp = unaryOp('sign', 'Sign', { floatOnly: false, vjp: (x, _y, g) => mul(g, 0) });
export const expOp = unaryOp('exp', 'Exp', { vjp: (_x, y, g) => mul(g, y) });
export const logOp = unaryOp('log', 'Log', { vjp: (x, _y, g) => div(g, x) });
export const sqrtOp = unaryOp('sqrt', 'Sqrt', { vjp: (_x, y, g) => div(mul(g, 0.5), y) });
export const reciprocalOp = unaryOp('reciprocal', 'Reciprocal', { vjp: (_x, y, g) => neg(mul(g, mul(y, y))) });
export const tanhOp = unaryOp('tanh', 'Tanh', { vjp: (_x, y, g) => mul(g, sub(1, mul(y, y))) });
export const sigmoidOp = unaryOp('sigmoid', 'Sigmoid', { vjp: (_x, y, g) => mul(g, mul(y, sub(1, y))) });
export const reluOp = unaryOp('relu', 'Relu', { vjp: (x, _y, g) => where(greater(x, 0), g, 0) });
export const erfOp = unaryOp('erf', 'Erf', {
  // d/dx erf(x) = 2/sqrt(pi) * exp(-x^2)
  vjp: (x, _y, g) => mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI))),
});
export const sinOp = unaryOp('sin', 'Sin', { vjp: (x, _y, g) => mul(g, cos(x)) });
export const cosOp = unaryOp('cos', 'Cos', { vjp: (x, _y, g) => neg(mul(g, sin(x))) });
export const floorOp = unaryOp('floor', 'Floor', { vjp: (x, _y, g) => mul(g, 0) });

export const rsqrtOp = defineOp<Record<string, never>>({
  name: 'rsqrt',
  infer: ([x]) => {
    if (!isFloat(x!.dtype)) fail('rsqrt', `needs a float tensor, got ${x!.dtype}`);
    return [{ shape: [...x!.shape], dtype: x!.dtype }];
  },
  emit: (e, [x], [out]) => e.node('Reciprocal', [e.op('Sqrt', [x!])], [out!]),
  // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
  vjp: ({ outputs: [y], grads: [g] }) => [mul(g!, mul(mul(y!, mul(y!, y!)), -0.5))],
});

export const neg = (x: Tensor) => apply1(negOp, [x], {});
export const abs = (x: Tensor) => apply1(absOp, [x], {});
export const sign = (x: Tensor) => apply1(signOp, [x], {});
export const exp = (x: Tensor) => apply1(expOp, [x], {});
export const log = (x: Tensor) => apply1(logOp, [x], {});
export const sqrt = (x: Tensor) => apply1(sqrtOp, [x], {});
export const rsqrt = (x: Tensor) => apply1(rsqrtOp, [x], {});
export const reciprocal = (x: Tensor) => apply1(reciprocalOp, [x], {});
export const tanh = (x: Tensor) => apply1(tanhOp, [x], {});
export const sigmoid = (x: Tensor) => apply1(sigmoidOp, [x], {});
export const relu = (x: Tensor) => apply1(reluOp, [x], {});
export const erf = (x: Tensor) => apply1(erfOp, [x], {});
export const sin = (x: Tensor) => apply1(sinOp, [x], {});
export const cos = (x: Tensor) => apply1(cosOp, [x], {});
export const floor = (x: Tensor) => apply1(floorOp, [x], {});
export const square = (x: Tensor) => mul(x, x);
/** SiLU / swish: x * sigmoid(x) (composite). */
export const silu = (x: Tensor) => mul(x, sigmoid(x));

/** GELU. `approximate: 'tanh'` is GPT-2's gelu_new; 'none' is the exact erf form. One ONNX Gelu node (opset 20). */
export const geluOp = defineOp<{ approximate: 'tanh' | 'none' }>({
  name: 'gelu',
  infer: ([x]) => {
    if (!isFloat(x!.dtype)) fail('gelu', `needs a float tensor, got ${x!.dtype}`);
    return [{ shape: [...x!.shape], dtype: x!.dtype }];
  },
  emit: (e, [x], [out], a) => e.node('Gelu', [x!], [out!], { approximate: { kind: 'string', value: a.approximate } }),
  vjp: ({ inputs: [x], grads: [g], attrs }) => {
    const xx = x!;
    if (attrs.approximate === 'tanh') {
      // y = 0.5 x (1 + tanh(z)) = x σ(2z), z = c (x + a x³), c = sqrt(2/π), a = 0.044715
      // dy/dx = s + x s (1 - s) · 2c (1 + 3a x²), s = σ(2z)   (13 full-size ops instead of ~18)
      const c = Math.sqrt(2 / Math.PI);
      const a = 0.044715;
      const x2 = mul(xx, xx);
      const s = sigmoid(mul(xx, add(mul(x2, 2 * c * a), 2 * c))); // σ(2z)
      const dz2 = add(mul(x2, 2 * c * 3 * a), 2 * c); // d(2z)/dx
      const dy = add(s, mul(mul(xx, mul(s, sub(1, s))), dz2));
      return [mul(g!, dy)];
    }
    // y = x Φ(x): dy = Φ(x) + x φ(x)
    const cdf = mul(add(erf(mul(xx, Math.SQRT1_2)), 1), 0.5);
    const pdf = mul(exp(mul(mul(xx, xx), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return [mul(g!, add(cdf, mul(xx, pdf)))];
  },
});

export function gelu(x: Tensor, approximate: 'tanh' | 'none' = 'tanh'): Tensor {
  return apply1(geluOp, [x], { approximate });
}

// ---------------------------------------------------------------- binary arithmetic

function binaryInfer(name: string, numericOnly = true) {
  return ([a, b]: Tensor[]) => {
    if (a!.dtype !== b!.dtype) fail(name, `dtype mismatch: ${a!.dtype} vs ${b!.dtype} (cast one side explicitly)`);
    if (numericOnly && a!.dtype === 'bool') fail(name, 'does not take bool tensors');
    return [{ shape: broadcastShapes(name, a!.shape, b!.shape), dtype: a!.dtype }];
  };
}

function binaryOp(
  name: string,
  onnx: string,
  vjp?: (a: Tensor, b: Tensor, y: Tensor, g: Tensor, needs: boolean[]) => (Tensor | null)[],
): OpDef<Record<string, never>> {
  return defineOp<Record<string, never>>({
    name,
    infer: binaryInfer(name),
    emit: (e, [a, b], [out]) => e.node(onnx, [a!, b!], [out!]),
    // The walker sums each cotangent back to its input's shape (unbroadcast happens in one place).
    vjp: vjp ? ({ inputs: [a, b], outputs: [y], grads: [g], needs }) => vjp(a!, b!, y!, g!, needs) : undefined,
  });
}

export const addOp = binaryOp('add', 'Add', (_a, _b, _y, g) => [g, g]);
export const subOp = binaryOp('sub', 'Sub', (_a, _b, _y, g, n) => [g, n[1] ? neg(g) : null]);
export const mulOp = binaryOp('mul', 'Mul', (a, b, _y, g, n) => [n[0] ? mul(g, b) : null, n[1] ? mul(g, a) : null]);
export const divOp = binaryOp('div', 'Div', (_a, b, y, g, n) => [
  n[0] ? div(g, b) : null,
  n[1] ? neg(div(mul(g, y), b)) : null,
]);
export const powOp = binaryOp('pow', 'Pow', (a, b, y, g, n) => [
  // d/da a^b = b a^(b-1); d/db a^b = a^b log(a)
  n[0] ? mul(g, mul(b, pow(a, sub(b, 1)))) : null,
  n[1] ? mul(g, mul(y, log(a))) : null,
]);
export const maximumOp = binaryOp('maximum', 'Max', (a, b, _y, g, n) => minMaxVjp(a, b, g, n, greater));
export const minimumOp = binaryOp('minimum', 'Min', (a, b, _y, g, n) => minMaxVjp(a, b, g, n, less));

// PyTorch's rule: the winner gets the gradient; ties split it evenly.
function minMaxVjp(a: Tensor, b: Tensor, g: Tensor, n: boolean[], wins: (x: Tensor, y: Tensor) => Tensor): (Tensor | null)[] {
  const tie = equal(a, b);
  const half = mul(g, 0.5);
  return [
    n[0] ? where(tie, half, where(wins(a, b), g, 0)) : null,
    n[1] ? where(tie, half, where(wins(b, a), g, 0)) : null,
  ];
}

function pair(a: Num, b: Num, name: string): [Tensor, Tensor] {
  if (a instanceof Tensor) return [a, lift(b, a)];
  if (b instanceof Tensor) return [lift(a, b), b];
  fail(name, 'needs at least one Tensor operand');
}

export const add = (a: Num, b: Num) => apply1(addOp, pair(a, b, 'add'), {});
export const sub = (a: Num, b: Num) => apply1(subOp, pair(a, b, 'sub'), {});
export const mul = (a: Num, b: Num) => apply1(mulOp, pair(a, b, 'mul'), {});
export const div = (a: Num, b: Num) => apply1(divOp, pair(a, b, 'div'), {});
export const pow = (a: Num, b: Num) => apply1(powOp, pair(a, b, 'pow'), {});
export const maximum = (a: Num, b: Num) => apply1(maximumOp, pair(a, b, 'maximum'), {});
export const minimum = (a: Num, b: Num) => apply1(minimumOp, pair(a, b, 'minimum'), {});

// ---------------------------------------------------------------- comparisons and logic (no gradients)

function compareOp(name: string, onnx: string, dtypeOut: DType = 'bool', numericOnly = true): OpDef<Record<string, never>> {
  return defineOp<Record<string, never>>({
    name,
    infer: (ins) => [{ ...binaryInfer(name, numericOnly)(ins)[0]!, dtype: dtypeOut }],
    emit: (e, [a, b], [out]) => e.node(onnx, [a!, b!], [out!]),
  });
}

export const greaterOp = compareOp('greater', 'Greater');
export const lessOp = compareOp('less', 'Less');
export const greaterEqualOp = compareOp('greaterEqual', 'GreaterOrEqual');
export const lessEqualOp = compareOp('lessEqual', 'LessOrEqual');
export const equalOp = compareOp('equal', 'Equal', 'bool', false);
export const andOp = compareOp('logicalAnd', 'And', 'bool', false);
export const orOp = compareOp('logicalOr', 'Or', 'bool', false);

export const greater = (a: Num, b: Num) => apply1(greaterOp, pair(a, b, 'greater'), {});
export const less = (a: Num, b: Num) => apply1(lessOp, pair(a, b, 'less'), {});
export const greaterEqual = (a: Num, b: Num) => apply1(greaterEqualOp, pair(a, b, 'greaterEqual'), {});
export const lessEqual = (a: Num, b: Num) => apply1(lessEqualOp, pair(a, b, 'lessEqual'), {});
export const equal = (a: Num, b: Num) => apply1(equalOp, pair(a, b, 'equal'), {});
export const logicalAnd = (a: Tensor, b: Tensor) => apply1(andOp, [a, b], {});
export const logicalOr = (a: Tensor, b: Tensor) => apply1(orOp, [a, b], {});

export const notOp = defineOp<Record<string, never>>({
  name: 'logicalNot',
  infer: ([x]) => {
    if (x!.dtype !== 'bool') fail('logicalNot', `needs a bool tensor, got ${x!.dtype}`);
    return [{ shape: [...x!.shape], dtype: 'bool' }];
  },
  emit: (e, [x], [out]) => e.node('Not', [x!], [out!]),
});
export const logicalNot = (x: Tensor) => apply1(notOp, [x], {});

// ---------------------------------------------------------------- where / masked fill

export const whereOp = defineOp<Record<string, never>>({
  name: 'where',
  infer: ([c, a, b]) => {
    if (c!.dtype !== 'bool') fail('where', `condition must be bool, got ${c!.dtype}`);
    if (a!.dtype !== b!.dtype) fail('where', `branch dtype mismatch: ${a!.dtype} vs ${b!.dtype}`);
    return [{ shape: broadcastShapes('where', c!.shape, a!.shape, b!.shape), dtype: a!.dtype }];
  },
  emit: (e, [c, a, b], [out]) => e.node('Where', [c!, a!, b!], [out!]),
  vjp: ({ inputs: [c], grads: [g], needs }) => {
    const zero = scalar(0, g!.dtype);
    return [null, needs[1] ? where(c!, g!, zero) : null, needs[2] ? where(c!, zero, g!) : null];
  },
});

/** Select `a` where `cond` is true, else `b` (broadcasting). */
export function where(cond: Tensor, a: Num, b: Num): Tensor {
  const [x, y] = pair(a, b, 'where');
  return apply1(whereOp, [cond, x, y], {});
}

/** `x` with `value` written where `mask` is true. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, scalar(value, x.dtype), x);
}

/** Clamp into [lo, hi] (composite of maximum/minimum). */
export function clamp(x: Tensor, lo?: number, hi?: number): Tensor {
  let y = x;
  if (lo !== undefined) y = maximum(y, lo);
  if (hi !== undefined) y = minimum(y, hi);
  return y;
}

export { cast };
