// Symbolic tensors and the op-definition contract: every op declares its shape rule, its ONNX emission and its
// vector-Jacobian product in one place (`defineOp`); applying an op records a Node in the traced graph.

import type { DType, TypedArray } from './dtype.js';
import type { Emitter } from './emitter.js';

export class OpError extends Error {
  constructor(op: string, message: string) {
    super(`[${op}] ${message}`);
    this.name = 'OpError';
  }
}

export interface VjpArgs<A> {
  inputs: Tensor[];
  outputs: Tensor[];
  attrs: A;
  /** Cotangent of each output (null when that output does not reach the loss). */
  grads: (Tensor | null)[];
  /** Which inputs need a gradient. */
  needs: boolean[];
}

export interface OpDef<A = unknown> {
  name: string;
  /** Shape and dtype of each output; throws OpError (via `fail`) on mismatch. */
  infer(inputs: Tensor[], attrs: A): { shape: number[]; dtype: DType }[];
  /** Emit ONNX nodes computing `outputs` (names) from `inputs` (names). */
  emit(e: Emitter, inputs: string[], outputs: string[], attrs: A, node: Node<A>): void;
  /** Cotangents for each input (null/undefined where none). Omitted: the op is not differentiable. */
  vjp?(args: VjpArgs<A>): (Tensor | null | undefined)[];
}

let nextId = 1;

export class Node<A = unknown> {
  readonly id = nextId++;
  outputs: Tensor[] = [];
  constructor(
    readonly op: OpDef<A>,
    readonly inputs: Tensor[],
    readonly attrs: A,
  ) {}
}

export class Tensor {
  readonly id = nextId++;
  /** Optional human name (graph inputs and outputs use it in ONNX). */
  name: string | undefined;
  constructor(
    readonly node: Node<any>,
    readonly index: number,
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  toString(): string {
    return `Tensor(${this.node.op.name}#${this.id}, [${this.shape.join(', ')}], ${this.dtype})`;
  }
}

export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  return def;
}

/** Apply an op: validate shapes/dtypes, record a node, return its outputs. */
export function apply<A>(op: OpDef<A>, inputs: Tensor[], attrs: A): Tensor[] {
  for (let i = 0; i < inputs.length; i++) {
    if (!(inputs[i] instanceof Tensor)) throw new OpError(op.name, `input ${i} is not a Tensor (got ${String(inputs[i])})`);
  }
  const specs = op.infer(inputs, attrs);
  const node = new Node(op, inputs, attrs);
  node.outputs = specs.map((s, i) => {
    for (const d of s.shape) {
      if (!Number.isInteger(d) || d < 0) throw new OpError(op.name, `computed an invalid output shape [${s.shape.join(', ')}]`);
    }
    return new Tensor(node, i, s.shape, s.dtype);
  });
  return node.outputs;
}

export function apply1<A>(op: OpDef<A>, inputs: Tensor[], attrs: A): Tensor {
  return apply(op, inputs, attrs)[0]!;
}

export function fail(op: string, message: string): never {
  throw new OpError(op, message);
}

export function fmtShape(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/** Host-side tensor value: data plus shape and dtype. */
export interface HostTensor {
  data: TypedArray;
  shape: readonly number[];
  dtype: DType;
}
