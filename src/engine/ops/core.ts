// Graph leaves and type plumbing: input placeholders, constants, cast, identity and stop-gradient.

import { allocArray, arrayMatchesDType, dtypeOfArray, isFloat, numel, ONNX_DTYPE, type DType, type TypedArray } from '../dtype.js';
import { apply1, defineOp, fail, fmtShape, Node, Tensor } from '../tensor.js';

export const inputOp = defineOp<{ name: string }>({
  name: 'input',
  infer: () => fail('input', 'infer is never called for inputs'),
  emit: () => {},
});

/** A graph input placeholder with a static shape and dtype. */
export function input(name: string, shape: readonly number[], dtype: DType = 'float32'): Tensor {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) fail('input', `'${name}' has an invalid shape ${fmtShape(shape)}`);
  }
  const node = new Node(inputOp, [], { name });
  const t = new Tensor(node, 0, [...shape], dtype);
  t.name = name;
  node.outputs = [t];
  return t;
}

export const constantOp = defineOp<{ data: TypedArray; shape: number[]; dtype: DType }>({
  name: 'constant',
  infer: (_i, a) => [{ shape: a.shape, dtype: a.dtype }],
  emit: (e, _i, [out], a) => {
    const name = e.constant(a.dtype, a.shape, a.data, 'k');
    e.node('Identity', [name], [out!]);
  },
});

/** A constant tensor baked into the graph. */
export function constant(data: TypedArray | number[], shape?: readonly number[], dtype?: DType): Tensor {
  let arr: TypedArray;
  let dt: DType;
  if (Array.isArray(data)) {
    dt = dtype ?? 'float32';
    arr = allocArray(dt, data.length);
    if (arr instanceof BigInt64Array) data.forEach((v, i) => ((arr as BigInt64Array)[i] = BigInt(v)));
    else (arr as Exclude<TypedArray, BigInt64Array>).set(data);
  } else {
    arr = data;
    dt = dtype ?? dtypeOfArray(data);
    if (!arrayMatchesDType(arr, dt)) fail('constant', `array type ${arr.constructor.name} cannot hold ${dt}`);
  }
  const sh = shape ? [...shape] : [arr.length];
  if (numel(sh) !== arr.length) fail('constant', `${arr.length} values do not fill shape ${fmtShape(sh)}`);
  return apply1(constantOp, [], { data: arr, shape: sh, dtype: dt });
}


/** A scalar constant of the given dtype. */
export function scalar(value: number | boolean, dtype: DType = 'float32'): Tensor {
  const arr = allocArray(dtype, 1);
  if (arr instanceof BigInt64Array) arr[0] = BigInt(Number(value));
  else if (dtype === 'float16') fail('scalar', 'float16 scalars are not supported; use float32 and cast');
  else (arr as Exclude<TypedArray, BigInt64Array>)[0] = Number(value);
  return apply1(constantOp, [], { data: arr, shape: [], dtype });
}

/** Turn a JS number into a scalar matching `like`'s dtype; pass tensors through. */
export function lift(x: Tensor | number, like: Tensor): Tensor {
  return x instanceof Tensor ? x : scalar(x, like.dtype);
}

export const castOp = defineOp<{ to: DType }>({
  name: 'cast',
  infer: ([x], a) => [{ shape: [...x!.shape], dtype: a.to }],
  emit: (e, [x], [out], a) => {
    e.node('Cast', [x!], [out!], { to: { kind: 'int', value: ONNX_DTYPE[a.to] } });
  },
  vjp: ({ inputs: [x], grads: [g] }) => [isFloat(x!.dtype) ? cast(g!, x!.dtype) : null],
});

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return apply1(castOp, [x], { to });
}

export const identityOp = defineOp<{ stop: boolean }>({
  name: 'identity',
  infer: ([x]) => [{ shape: [...x!.shape], dtype: x!.dtype }],
  emit: (e, [x], [out]) => e.node('Identity', [x!], [out!]),
  vjp: ({ grads: [g], attrs }) => [attrs.stop ? null : g],
});

/** Blocks gradients (like jax.lax.stop_gradient / tensor.detach()). */
export function stopGradient(x: Tensor): Tensor {
  return apply1(identityOp, [x], { stop: true });
}

export function identity(x: Tensor): Tensor {
  return apply1(identityOp, [x], { stop: false });
}
