// Convolution family (NCHW): conv2d, transposed conv2d, average / max pooling, nearest-neighbour upsampling.
// Gradients are themselves convolutions: dX of a conv is a transposed conv, dW is a conv of the input with the
// cotangent (batch as channels, stride as dilation), and the transposed conv's gradients mirror them.
// Stride-1, undilated convolutions (every conv of the dVAE) take faster forms on ONNX Runtime's CPU kernels: dX is a
// plain Conv of the cotangent with the flipped, in/out-swapped kernel (ORT's Conv has a blocked fast path that its
// ConvTranspose lacks), and dW is one GEMM of the cotangent with the input's k×k patches (im2col built from k² slices)
// instead of a Conv whose "kernel" is the whole cotangent image (C small GEMMs with k² outputs each).

import { apply, apply1, defineOp, fail, fmtShape, Tensor } from '../tensor.js';
import { cast, constant } from './core.js';
import { matmul } from './matmul.js';
import { add } from './elementwise.js';
import { scatterAddAlongAxis } from './indexing.js';
import { expand, pad, reshape, slice, stack, transpose, zeros } from './shape.js';
import { gather } from './indexing.js';

type Pair = [number, number];
const pair = (v: number | readonly number[]): Pair => (typeof v === 'number' ? [v, v] : [v[0]!, v[1]!]);

interface ConvAttrs {
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  groups: number;
}

function convOut(n: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
}

function convAttrsOnnx(a: ConvAttrs) {
  return {
    strides: { kind: 'ints' as const, value: a.stride },
    pads: { kind: 'ints' as const, value: [a.padding[0], a.padding[1], a.padding[0], a.padding[1]] },
    dilations: { kind: 'ints' as const, value: a.dilation },
    group: { kind: 'int' as const, value: a.groups },
  };
}

export const conv2dOp = defineOp<ConvAttrs>({
  name: 'conv2d',
  infer: ([x, w], a) => {
    if (x!.rank !== 4 || w!.rank !== 4) fail('conv2d', `needs NCHW input and OIHW weight, got ${fmtShape(x!.shape)} and ${fmtShape(w!.shape)}`);
    if (x!.dtype !== w!.dtype) fail('conv2d', `dtype mismatch ${x!.dtype} vs ${w!.dtype}`);
    const [n, c, h, wd] = x!.shape as [number, number, number, number];
    const [o, ci, kh, kw] = w!.shape as [number, number, number, number];
    if (ci * a.groups !== c) fail('conv2d', `weight ${fmtShape(w!.shape)} expects ${ci * a.groups} input channels, input ${fmtShape(x!.shape)} has ${c}`);
    if (o % a.groups !== 0) fail('conv2d', `out channels ${o} not divisible by groups ${a.groups}`);
    const ho = convOut(h, kh, a.stride[0], a.padding[0], a.dilation[0]);
    const wo = convOut(wd, kw, a.stride[1], a.padding[1], a.dilation[1]);
    if (ho <= 0 || wo <= 0) fail('conv2d', `kernel ${kh}x${kw} does not fit input ${h}x${wd} with padding ${a.padding}`);
    return [{ shape: [n, o, ho, wo], dtype: x!.dtype }];
  },
  emit: (e, [x, w], [out], a) => e.node('Conv', [x!, w!], [out!], convAttrsOnnx(a)),
  vjp: ({ inputs: [x, w], grads: [g], attrs, needs }) => {
    if (attrs.groups !== 1) fail('conv2d', 'gradient for grouped convolution is not implemented');
    const [, , h, wd] = x!.shape as number[];
    const dx = needs[0] ? convInputGrad(g!, w!, [h!, wd!], attrs) : null;
    const dw = needs[1] ? convWeightGrad(x!, g!, w!.shape as number[], attrs) : null;
    return [dx, dw];
  },
});

const unitStride = (a: ConvAttrs) => a.stride[0] === 1 && a.stride[1] === 1 && a.dilation[0] === 1 && a.dilation[1] === 1 && a.groups === 1;

/** The kernel reversed along both spatial axes, input and output channels swapped: (O, C, kh, kw) → (C, O, kh, kw). */
function flippedKernel(w: Tensor): Tensor {
  const [, , kh, kw] = w.shape as number[];
  const rev = (k: number) => constant(BigInt64Array.from({ length: k }, (_, i) => BigInt(k - 1 - i)), [k], 'int64');
  const t = transpose(w, [1, 0, 2, 3]); // (C, O, kh, kw)
  return gather(gather(t, rev(kh!), 2), rev(kw!), 3);
}

/** dX of y = conv(x, w): a transposed conv of the cotangent with the same weight. */
function convInputGrad(g: Tensor, w: Tensor, hw: Pair, a: ConvAttrs): Tensor {
  const [, , ho, wo] = g.shape as number[];
  const [, , kh, kw] = w.shape as number[];
  const ph = kh! - 1 - a.padding[0];
  const pw = kw! - 1 - a.padding[1];
  if (unitStride(a) && ph >= 0 && pw >= 0 && ho! + 2 * ph - kh! + 1 === hw[0] && wo! + 2 * pw - kw! + 1 === hw[1]) {
    // stride 1: dX = conv(g, flip(w)ᵀ) with padding k − 1 − p (the "full" correlation)
    return apply1(conv2dOp, [g, flippedKernel(w)], { stride: [1, 1], padding: [ph, pw], dilation: [1, 1], groups: 1 }); // (N, C, H, W)
  }
  // Output size of convT = (ho-1)*s - 2p + d(k-1) + 1 + outPad; pick outPad to land exactly on the input size.
  const op0 = hw[0] - ((ho! - 1) * a.stride[0] - 2 * a.padding[0] + a.dilation[0] * (kh! - 1) + 1);
  const op1 = hw[1] - ((wo! - 1) * a.stride[1] - 2 * a.padding[1] + a.dilation[1] * (kw! - 1) + 1);
  return apply1(convTranspose2dOp, [g, w], { ...a, outputPadding: [op0, op1] });
}

/**
 * dW of a stride-1 conv as one GEMM: g (O, N·Ho·Wo) @ P (N·Ho·Wo, kh·kw·C), P the k×k patches of x in channels-last
 * order (k² slices of NHWC x stacked on a middle axis: contiguous C-blocks, no general transpose of the 9× patch
 * tensor), then the small (O, kh, kw, C) result is turned to (O, C, kh, kw). Only single-axis moves are transposed
 * at full size (ORT has fast paths for those).
 */
function convWeightGradGemm(x: Tensor, g: Tensor, wShape: number[], a: ConvAttrs): Tensor {
  const [O, C, kh, kw] = wShape as [number, number, number, number];
  const [N, , Ho, Wo] = g.shape as [number, number, number, number];
  const g2 = reshape(transpose(g, [1, 0, 2, 3]), [O, N * Ho * Wo]); // (O, N·Ho·Wo)
  const xt = transpose(x, [0, 2, 3, 1]); // (N, H, W, C)
  if (kh === 1 && kw === 1 && a.padding[0] === 0 && a.padding[1] === 0) {
    return reshape(matmul(g2, reshape(xt, [N * Ho * Wo, C])), [O, C, 1, 1]);
  }
  const xp = a.padding[0] || a.padding[1] ? pad(xt, [0, a.padding[0], a.padding[1], 0], [0, a.padding[0], a.padding[1], 0]) : xt; // (N, H+2p, W+2p, C)
  const shifts: Tensor[] = [];
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) shifts.push(slice(xp, [[1, i, i + Ho], [2, j, j + Wo]])); // (N, Ho, Wo, C)
  const patches = reshape(stack(shifts, 3), [N * Ho * Wo, kh * kw * C]); // (N·Ho·Wo, kh·kw·C)
  const dw = reshape(matmul(g2, patches), [O, kh, kw, C]);
  return transpose(dw, [0, 3, 1, 2]); // (O, C, kh, kw)
}

/** dW of y = conv(x, w): conv of x (channels↔batch swapped) with g as the kernel, stride becoming dilation. */
function convWeightGrad(x: Tensor, g: Tensor, wShape: number[], a: ConvAttrs): Tensor {
  if (unitStride(a)) return convWeightGradGemm(x, g, wShape, a);
  const [, , kh, kw] = wShape as [number, number, number, number];
  const xt = transpose(x, [1, 0, 2, 3]); // (C, N, H, W)
  const gt = transpose(g, [1, 0, 2, 3]); // (O, N, Ho, Wo)
  const r = apply1(conv2dOp, [xt, gt], { stride: a.dilation, padding: a.padding, dilation: a.stride, groups: 1 }); // (C, O, kh', kw')
  const cropped = slice(r, [
    [2, 0, kh],
    [3, 0, kw],
  ]);
  return transpose(cropped, [1, 0, 2, 3]); // (O, C, kh, kw)
}

export interface ConvOptions {
  stride?: number | readonly number[];
  padding?: number | readonly number[];
  dilation?: number | readonly number[];
  groups?: number;
}

/** 2-D convolution, NCHW input, OIHW weight, optional bias (O). */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor, opts: ConvOptions = {}): Tensor {
  const y = apply1(conv2dOp, [x, weight], {
    stride: pair(opts.stride ?? 1),
    padding: pair(opts.padding ?? 0),
    dilation: pair(opts.dilation ?? 1),
    groups: opts.groups ?? 1,
  });
  return bias ? add(y, reshape(bias, [1, -1, 1, 1])) : y;
}

interface ConvTAttrs extends ConvAttrs {
  outputPadding: Pair;
}

export const convTranspose2dOp = defineOp<ConvTAttrs>({
  name: 'convTranspose2d',
  infer: ([x, w], a) => {
    if (x!.rank !== 4 || w!.rank !== 4) fail('convTranspose2d', `needs NCHW input and (Cin, Cout/groups, kH, kW) weight, got ${fmtShape(x!.shape)} and ${fmtShape(w!.shape)}`);
    const [n, c, h, wd] = x!.shape as [number, number, number, number];
    const [ci, co, kh, kw] = w!.shape as [number, number, number, number];
    if (ci !== c) fail('convTranspose2d', `weight ${fmtShape(w!.shape)} expects ${ci} input channels, input has ${c}`);
    const ho = (h - 1) * a.stride[0] - 2 * a.padding[0] + a.dilation[0] * (kh - 1) + 1 + a.outputPadding[0];
    const wo = (wd - 1) * a.stride[1] - 2 * a.padding[1] + a.dilation[1] * (kw - 1) + 1 + a.outputPadding[1];
    if (a.outputPadding.some((p, i) => p < 0 || p >= Math.max(a.stride[i]!, a.dilation[i]!))) {
      fail('convTranspose2d', `output padding ${a.outputPadding} must be smaller than stride or dilation`);
    }
    return [{ shape: [n, co * a.groups, ho, wo], dtype: x!.dtype }];
  },
  emit: (e, [x, w], [out], a) =>
    e.node('ConvTranspose', [x!, w!], [out!], {
      ...convAttrsOnnx(a),
      output_padding: { kind: 'ints', value: a.outputPadding },
    }),
  vjp: ({ inputs: [x, w], grads: [g], attrs, needs }) => {
    if (attrs.groups !== 1) fail('convTranspose2d', 'gradient for grouped transposed convolution is not implemented');
    const base: ConvAttrs = { stride: attrs.stride, padding: attrs.padding, dilation: attrs.dilation, groups: 1 };
    // <g, convT(x, w)> = <conv(g, w), x>: dX = conv(g, w); dW = weight-grad of that conv with "input" g and cotangent x.
    const dx = needs[0] ? apply1(conv2dOp, [g!, w!], base) : null;
    const dw = needs[1] ? convWeightGrad(g!, x!, w!.shape as number[], base) : null;
    return [dx, dw];
  },
});

/** Transposed 2-D convolution (PyTorch ConvTranspose2d semantics; weight (Cin, Cout, kH, kW)). */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor,
  opts: ConvOptions & { outputPadding?: number | readonly number[] } = {},
): Tensor {
  const y = apply1(convTranspose2dOp, [x, weight], {
    stride: pair(opts.stride ?? 1),
    padding: pair(opts.padding ?? 0),
    dilation: pair(opts.dilation ?? 1),
    groups: opts.groups ?? 1,
    outputPadding: pair(opts.outputPadding ?? 0),
  });
  return bias ? add(y, reshape(bias, [1, -1, 1, 1])) : y;
}

interface PoolAttrs {
  kernel: Pair;
  stride: Pair;
  padding: Pair;
}

function poolInfer(name: string) {
  return ([x]: Tensor[], a: PoolAttrs) => {
    if (x!.rank !== 4) fail(name, `needs NCHW input, got ${fmtShape(x!.shape)}`);
    const [n, c, h, w] = x!.shape as [number, number, number, number];
    if (a.padding[0] * 2 > a.kernel[0] || a.padding[1] * 2 > a.kernel[1]) fail(name, 'padding must be at most half the kernel');
    const ho = convOut(h, a.kernel[0], a.stride[0], a.padding[0], 1);
    const wo = convOut(w, a.kernel[1], a.stride[1], a.padding[1], 1);
    if (ho <= 0 || wo <= 0) fail(name, `kernel ${a.kernel} does not fit input ${h}x${w}`);
    return { n, c, h, w, ho, wo };
  };
}

function poolOnnx(a: PoolAttrs) {
  return {
    kernel_shape: { kind: 'ints' as const, value: a.kernel },
    strides: { kind: 'ints' as const, value: a.stride },
    pads: { kind: 'ints' as const, value: [a.padding[0], a.padding[1], a.padding[0], a.padding[1]] },
  };
}

export const avgPool2dOp = defineOp<PoolAttrs>({
  name: 'avgPool2d',
  infer: (ins, a) => {
    const { n, c, ho, wo } = poolInfer('avgPool2d')(ins, a);
    return [{ shape: [n, c, ho, wo], dtype: ins[0]!.dtype }];
  },
  // count_include_pad = 1 matches PyTorch's default.
  emit: (e, [x], [out], a) => e.node('AveragePool', [x!], [out!], { ...poolOnnx(a), count_include_pad: { kind: 'int', value: 1 } }),
  vjp: ({ inputs: [x], grads: [g], attrs }) => {
    // Depthwise transposed conv of g with a constant 1/(kh·kw) kernel spreads each cotangent over its window.
    const [, c, h, w] = x!.shape as number[];
    const [kh, kw] = attrs.kernel;
    const k = constant(new Float32Array(c! * kh * kw).fill(1 / (kh * kw)), [c!, 1, kh, kw], 'float32');
    const kk = cast(k, x!.dtype);
    const [, , ho, wo] = g!.shape as number[];
    const op0 = h! - ((ho! - 1) * attrs.stride[0] - 2 * attrs.padding[0] + kh);
    const op1 = w! - ((wo! - 1) * attrs.stride[1] - 2 * attrs.padding[1] + kw);
    return [
      apply1(convTranspose2dOp, [g!, kk], {
        stride: attrs.stride,
        padding: attrs.padding,
        dilation: [1, 1],
        groups: c!,
        outputPadding: [op0, op1],
      }),
    ];
  },
});

export const maxPool2dOp = defineOp<PoolAttrs>({
  name: 'maxPool2d',
  infer: (ins, a) => {
    const { n, c, ho, wo } = poolInfer('maxPool2d')(ins, a);
    return [
      { shape: [n, c, ho, wo], dtype: ins[0]!.dtype },
      { shape: [n, c, ho, wo], dtype: 'int64' },
    ];
  },
  emit: (e, [x], outs, a) => e.node('MaxPool', [x!], outs, poolOnnx(a)),
  vjp: ({ inputs: [x], outputs: [, idx], grads: [g] }) => {
    // Indices are positions in the flattened input (per whole tensor): scatter-add the cotangent back.
    const flat = zeros([x!.size], x!.dtype);
    const r = scatterAddAlongAxis(flat, reshape(idx!, [-1]), reshape(g!, [-1]), 0);
    return [reshape(r, x!.shape)];
  },
});

export interface PoolOptions {
  stride?: number | readonly number[];
  padding?: number | readonly number[];
}

export function avgPool2d(x: Tensor, kernel: number | readonly number[], opts: PoolOptions = {}): Tensor {
  const k = pair(kernel);
  return apply1(avgPool2dOp, [x], { kernel: k, stride: pair(opts.stride ?? k), padding: pair(opts.padding ?? 0) });
}

export function maxPool2d(x: Tensor, kernel: number | readonly number[], opts: PoolOptions = {}): Tensor {
  const k = pair(kernel);
  return apply(maxPool2dOp, [x], { kernel: k, stride: pair(opts.stride ?? k), padding: pair(opts.padding ?? 0) })[0]!;
}

/** Nearest-neighbour upsampling by integer factors (composite of reshape + expand, so its gradient is a sum). */
export function upsampleNearest(x: Tensor, scale: number | readonly number[]): Tensor {
  if (x.rank !== 4) fail('upsampleNearest', `needs NCHW input, got ${fmtShape(x.shape)}`);
  const [sh, sw] = pair(scale);
  if (!Number.isInteger(sh) || !Number.isInteger(sw) || sh < 1 || sw < 1) fail('upsampleNearest', `scale must be positive integers, got ${scale}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const y = expand(reshape(x, [n, c, h, 1, w, 1]), [n, c, h, sh, w, sw]);
  return reshape(y, [n, c, h * sh, w * sw]);
}
