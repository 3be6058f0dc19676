// Finite-difference gradient checks for every differentiable op, over several shapes including broadcasting and
// reductions over each axis (float64 where ONNX Runtime's CPU kernels support it, float32 for the conv family).

import { describe, it } from 'node:test';
import * as T from '../../src/engine/index.js';
import { gradCheck, type ArgSpec } from './gradcheck.js';

type Case = [string, (...xs: T.Tensor[]) => T.Tensor, ArgSpec[], { dtype?: 'float32' | 'float64'; eps?: number; atol?: number; rtol?: number }?];

const s = (...shape: number[]): ArgSpec => ({ shape });
const pos = (...shape: number[]): ArgSpec => ({ shape, domain: 'positive' });
const dis = (...shape: number[]): ArgSpec => ({ shape, domain: 'distinct' });
const idx = (n: number, ...shape: number[]): ArgSpec => ({ shape, dtype: 'int64', domain: `int:${n}` });
const f32 = { dtype: 'float32' as const, eps: 1e-2, atol: 2e-3, rtol: 2e-2 };

const unary: Case[] = [
  ['neg', T.neg, [s(2, 3)]],
  ['abs', T.abs, [dis(2, 3)]],
  ['exp', T.exp, [s(2, 3)]],
  ['log', T.log, [pos(3, 2)]],
  ['sqrt', T.sqrt, [pos(4)]],
  ['rsqrt', T.rsqrt, [pos(2, 2)]],
  ['reciprocal', T.reciprocal, [pos(5)]],
  ['tanh', T.tanh, [s(2, 3)]],
  ['sigmoid', T.sigmoid, [s(2, 3)]],
  ['relu', T.relu, [dis(2, 3)]],
  ['silu', T.silu, [s(2, 3)]],
  ['sin', T.sin, [s(3)]],
  ['cos', T.cos, [s(3)]],
  ['gelu tanh', (x) => T.gelu(x, 'tanh'), [s(2, 5)]],
  ['gelu exact', (x) => T.gelu(x, 'none'), [s(2, 5)], f32],
  ['erf', T.erf, [s(6)], f32],
  ['square', T.square, [s(2, 2)]],
  ['clamp', (x) => T.clamp(x, -0.5, 0.5), [dis(2, 4)]],
];

const binary: Case[] = [];
const shapesPairs: [number[], number[]][] = [
  [[2, 3], [2, 3]],
  [[2, 3], [3]],
  [[2, 1, 4], [3, 1]],
  [[4], [2, 3, 4]],
  [[2, 3], []],
  [[1, 3], [2, 1]],
];
for (const [a, b] of shapesPairs) {
  const tag = `[${a}]x[${b}]`;
  binary.push(['add ' + tag, T.add, [s(...a), s(...b)]]);
  binary.push(['sub ' + tag, T.sub, [s(...a), s(...b)]]);
  binary.push(['mul ' + tag, T.mul, [s(...a), s(...b)]]);
  binary.push(['div ' + tag, T.div, [s(...a), pos(...b)]]);
  binary.push(['pow ' + tag, T.pow, [pos(...a), s(...b)]]);
  binary.push(['maximum ' + tag, T.maximum, [dis(...a), { shape: b, domain: 'distinct', values: undefined }]]);
  binary.push(['minimum ' + tag, T.minimum, [dis(...a), dis(...b)]]);
}

const reductions: Case[] = [];
for (const axes of [0, 1, 2, -1, [0, 2], [0, 1, 2]] as (number | number[])[]) {
  for (const keep of [false, true]) {
    const tag = `axes=${JSON.stringify(axes)} keep=${keep}`;
    reductions.push(['sum ' + tag, (x) => T.sum(x, axes, keep), [s(2, 3, 4)]]);
    reductions.push(['mean ' + tag, (x) => T.mean(x, axes, keep), [s(2, 3, 4)]]);
    reductions.push(['max ' + tag, (x) => T.max(x, axes, keep), [dis(2, 3, 4)]]);
  }
}
reductions.push(['min', (x) => T.min(x, 1), [dis(3, 4)]]);
reductions.push(['variance', (x) => T.variance(x, -1), [s(3, 4)]]);

const shapeOps: Case[] = [
  ['reshape', (x) => T.reshape(x, [3, -1]), [s(2, 3, 2)]],
  ['transpose', (x) => T.transpose(x, [2, 0, 1]), [s(2, 3, 4)]],
  ['swapAxes', (x) => T.swapAxes(x, 0, -1), [s(2, 3, 4)]],
  ['slice', (x) => T.slice(x, [[1, 1, 3], [2, 0, -1]]), [s(2, 4, 3)]],
  ['slice negative', (x) => T.slice(x, [[0, -2]]), [s(5, 2)]],
  ['pad', (x) => T.pad(x, [1, 0], [2, 1]), [s(2, 3)]],
  ['concat', (a, b) => T.concat([a, b, a], 1), [s(2, 3), s(2, 1)]],
  ['stack', (a, b) => T.stack([a, b], 0), [s(2, 3), s(2, 3)]],
  ['split', (x) => { const [a, b, c] = T.split(x, [1, 2, 1], 1); return T.add(T.mul(a!, 2), T.sum(T.mul(b!, c!), 1, true)); }, [s(3, 4)]],
  ['split unused piece', (x) => T.split(x, 2, 0)[1]!, [s(4, 3)]],
  ['expand', (x) => T.expand(x, [2, 3, 4]), [s(3, 1)]],
  ['squeeze/unsqueeze', (x) => T.unsqueeze(T.squeeze(x, 1), 0), [s(3, 1, 2)]],
  ['flatten', (x) => T.flatten(x, 1), [s(2, 3, 2)]],
];

const linalg: Case[] = [
  ['matmul 2d', T.matmul, [s(3, 4), s(4, 5)]],
  ['matmul batched', T.matmul, [s(2, 3, 4), s(2, 4, 2)]],
  ['matmul broadcast weight', T.matmul, [s(2, 3, 4), s(4, 5)]],
  ['matmul broadcast batch', T.matmul, [s(2, 1, 3, 4), s(3, 4, 2)]],
  ['matmul shared lhs', T.matmul, [s(3, 4), s(2, 4, 2)]],
  ['matmulNT', T.matmulNT, [s(3, 4), s(5, 4)]],
  ['matmulNT batched lhs', T.matmulNT, [s(2, 3, 4), s(5, 4)]],
];

const nn: Case[] = [
  ['softmax last', (x) => T.softmax(x, -1), [s(2, 5)]],
  ['softmax axis0', (x) => T.softmax(x, 0), [s(3, 4)]],
  ['logSoftmax', (x) => T.logSoftmax(x, -1), [s(2, 3, 4)]],
  ['logSoftmax axis1', (x) => T.logSoftmax(x, 1), [s(2, 3, 4)]],
  ['layerNorm', (x, w, b) => T.layerNorm(x, w, b), [s(2, 3, 6), s(6), s(6)]],
  ['layerNorm float32 fused', (x, w, b) => T.layerNorm(x, w, b), [s(4, 8), s(8), s(8)], f32],
  ['crossEntropy', (l, t) => T.crossEntropy(l, t), [s(5, 7), idx(7, 5)]],
  ['crossEntropy ignore', (l, t) => T.crossEntropy(l, t, { ignoreIndex: 0 }), [s(2, 3, 4), idx(4, 2, 3)]],
  ['crossEntropy weights', (l, t, w) => T.crossEntropy(l, t, { weights: w }), [s(4, 6), idx(6, 4), { ...pos(4), noGrad: true }]],
  ['crossEntropy none', (l, t) => T.crossEntropy(l, t, { reduction: 'none' }), [s(3, 5), idx(5, 3)]],
  ['gather (embedding)', (w, i) => T.gather(w, i), [s(5, 3), { shape: [2, 4], dtype: 'int64', values: [0, 1, 1, 4, 2, 0, 0, 3] }]],
  ['takeAlongAxis', (x, i) => T.takeAlongAxis(x, i, 1), [s(3, 4), idx(4, 3, 2)]],
  ['scatterAddAlongAxis', (b, i, u) => T.scatterAddAlongAxis(b, i, u, 1), [s(3, 4), idx(4, 3, 2), s(3, 2)]],
  ['topK values (last axis)', (x) => T.topK(x, 2).values, [dis(3, 5)]],
  ['topK values (axis 0)', (x) => T.topK(x, 3, 0).values, [dis(4, 2, 3)]],
  ['where', (c, a, b) => T.where(T.greater(c, 0), a, b), [s(2, 3), s(2, 3), s(3)]],
  ['maskedFill', (x, m) => T.maskedFill(x, T.greater(m, 0), -2), [s(2, 3), { ...s(2, 3), noGrad: true }]],
  ['cast f64→f32→f64', (x) => T.cast(T.mul(T.cast(x, 'float32'), 2), 'float64'), [s(3)], { eps: 1e-3, atol: 1e-4, rtol: 1e-4 }],
];

const conv: Case[] = [
  ['conv2d', (x, w) => T.conv2d(x, w), [s(2, 3, 5, 5), s(4, 3, 3, 3)], f32],
  ['conv2d stride/pad + bias', (x, w, b) => T.conv2d(x, w, b, { stride: 2, padding: 1 }), [s(1, 2, 6, 6), s(3, 2, 3, 3), s(3)], f32],
  ['conv2d stride 2 odd size', (x, w) => T.conv2d(x, w, undefined, { stride: 2, padding: 1 }), [s(1, 2, 7, 5), s(2, 2, 4, 4)], f32],
  ['conv2d dilation', (x, w) => T.conv2d(x, w, undefined, { dilation: 2 }), [s(1, 1, 6, 6), s(2, 1, 2, 2)], f32],
  ['conv2d stride 1, same padding (GEMM dW, Conv dX)', (x, w, b) => T.conv2d(x, w, b, { padding: 1 }), [s(2, 3, 5, 4), s(4, 3, 3, 3), s(4)], f32],
  ['conv2d 7×7 same padding', (x, w) => T.conv2d(x, w, undefined, { padding: 3 }), [s(1, 2, 6, 7), s(2, 2, 7, 7)], f32],
  ['conv2d 1×1', (x, w) => T.conv2d(x, w), [s(2, 3, 3, 4), s(5, 3, 1, 1)], f32],
  ['conv2d 3×3 padding 2 (wider than same)', (x, w) => T.conv2d(x, w, undefined, { padding: 2 }), [s(1, 2, 4, 4), s(3, 2, 3, 3)], f32],
  ['convTranspose2d', (x, w) => T.convTranspose2d(x, w), [s(1, 2, 3, 3), s(2, 3, 3, 3)], f32],
  ['convTranspose2d stride/pad + bias', (x, w, b) => T.convTranspose2d(x, w, b, { stride: 2, padding: 1 }), [s(2, 2, 3, 3), s(2, 3, 4, 4), s(3)], f32],
  ['convTranspose2d output padding', (x, w) => T.convTranspose2d(x, w, undefined, { stride: 2, padding: 1, outputPadding: 1 }), [s(1, 1, 3, 3), s(1, 2, 3, 3)], f32],
  ['avgPool2d', (x) => T.avgPool2d(x, 2), [s(1, 2, 4, 4)], f32],
  ['avgPool2d overlapping padded', (x) => T.avgPool2d(x, 3, { stride: 2, padding: 1 }), [s(1, 1, 5, 5)], f32],
  ['maxPool2d', (x) => T.maxPool2d(x, 2), [dis(2, 2, 4, 4)], f32],
  ['maxPool2d overlapping', (x) => T.maxPool2d(x, 3, { stride: 1, padding: 1 }), [dis(1, 1, 4, 4)], f32],
  ['upsampleNearest', (x) => T.upsampleNearest(x, 2), [s(1, 2, 2, 3)]],
  ['upsampleNearest 3x2', (x) => T.upsampleNearest(x, [3, 2]), [s(1, 1, 2, 2)]],
];

const composite: Case[] = [
  [
    'attention block',
    (q, k, v) => {
      const att = T.div(T.matmul(q, T.swapAxes(k, -1, -2)), Math.sqrt(4));
      const mask = T.constant(Uint8Array.from([1, 0, 0, 1, 1, 0, 1, 1, 1]), [3, 3], 'bool');
      return T.matmul(T.softmax(T.where(mask, att, -1e9), -1), v);
    },
    [s(2, 3, 4), s(2, 3, 4), s(2, 3, 4)],
  ],
  ['fan-out reuse', (x) => T.mul(T.add(x, T.exp(x)), T.sum(x, 0, true)), [s(3, 2)]],
  // a tied table: embedding lookup and output head (the scatter is folded into the head's gradient)
  ['tied embedding + head', (w, i) => T.tanh(T.matmulNT(T.gather(w, i), w)), [s(5, 3), { shape: [4], dtype: 'int64', values: [0, 3, 3, 1] }]],
];

for (const [group, cases] of Object.entries({ unary, binary, reductions, shapeOps, linalg, nn, conv, composite })) {
  describe(`gradient check: ${group}`, () => {
    for (const [name, f, args, opts] of cases) {
      it(name, async () => {
        await gradCheck(name, f, args, opts);
      });
    }
  });
}
