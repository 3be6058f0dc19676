// Public surface of the engine: tensors, ops, autodiff, compilation and the runtime.

export * from './dtype.js';
export { Tensor, OpError, defineOp, apply, apply1, type HostTensor, type OpDef, type VjpArgs } from './tensor.js';
export * from './ops/core.js';
export * from './ops/elementwise.js';
export * from './ops/shape.js';
export * from './ops/reduce.js';
export * from './ops/matmul.js';
export { grad, valueAndGrad, unbroadcast } from './autodiff.js';
export { topoSort } from './graph.js';
export { compile, jit, type InputSpec, type Compiled } from './compile.js';
export { Program, createSession, type RuntimeOptions } from './runtime.js';
export { emitOnnx, lowerGraph, type GraphSpec } from './emitter.js';
export * from './ops/indexing.js';
export * from './ops/nn.js';
export * from './ops/random.js';
export * from './ops/conv.js';
export * from './optim.js';
export * from './schedule.js';
export * from './train-step.js';
export * from './export.js';
