// Lowers a traced graph to an ONNX model: names every tensor, lets each op emit its ONNX nodes, collects
// initializers (deduplicating small constants) and graph inputs/outputs.

import { BYTES_PER_ELEMENT, type DType, type TypedArray } from './dtype.js';
import { topoSort } from './graph.js';
import { encodeModel, type AttrValue, type OnnxModel, type OnnxNode, type OnnxTensor } from './onnx-proto.js';
import { OpError, type Tensor } from './tensor.js';

export const OPSET = 20;
export const IR_VERSION = 9;

export const attr = {
  int: (value: number | bigint): AttrValue => ({ kind: 'int', value }),
  ints: (value: readonly (number | bigint)[]): AttrValue => ({ kind: 'ints', value }),
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  floats: (value: readonly number[]): AttrValue => ({ kind: 'floats', value }),
  str: (value: string): AttrValue => ({ kind: 'string', value }),
};

export function rawBytes(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class Emitter {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private names = new Map<number, string>();
  private used = new Set<string>();
  private constCache = new Map<string, string>();
  private counter = 0;

  /** Unique value name with a readable hint. */
  tmp(hint = 't'): string {
    let n: string;
    do n = `${hint}_${this.counter++}`;
    while (this.used.has(n));
    this.used.add(n);
    return n;
  }

  reserve(name: string): void {
    if (this.used.has(name)) throw new Error(`duplicate ONNX value name '${name}'`);
    this.used.add(name);
  }

  nameOf(t: Tensor): string {
    let n = this.names.get(t.id);
    if (n === undefined) {
      n = this.tmp(t.node.op.name.replace(/[^A-Za-z0-9]/g, ''));
      this.names.set(t.id, n);
    }
    return n;
  }

  setName(t: Tensor, name: string): void {
    this.names.set(t.id, name);
  }

  node(opType: string, inputs: string[], outputs: string[], attrs?: Record<string, AttrValue>, domain?: string): void {
    this.nodes.push({ opType, inputs, outputs, attrs, domain });
  }

  /** One-output node with a fresh output name. */
  op(opType: string, inputs: string[], attrs?: Record<string, AttrValue>, hint?: string): string {
    const out = this.tmp(hint ?? opType);
    this.node(opType, inputs, [out], attrs);
    return out;
  }

  initializer(name: string, dtype: DType, dims: readonly number[], raw: Uint8Array): void {
    this.initializers.push({ name, dtype, dims, raw });
  }

  /** A constant initializer; small ones are deduplicated by content. */
  constant(dtype: DType, dims: readonly number[], data: TypedArray, hint = 'const'): string {
    const raw = rawBytes(data);
    if (raw.length !== dims.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype]) {
      throw new Error(`constant ${hint}: ${raw.length} bytes do not match ${dtype} [${dims.join(', ')}]`);
    }
    let key: string | undefined;
    if (raw.length <= 256) {
      key = `${dtype}|${dims.join(',')}|${Buffer.from(raw).toString('base64')}`;
      const hit = this.constCache.get(key);
      if (hit) return hit;
    }
    const name = this.tmp(hint);
    this.initializer(name, dtype, dims, raw.slice());
    if (key) this.constCache.set(key, name);
    return name;
  }

  i64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant('int64', dims, BigInt64Array.from(values.map((v) => BigInt(v))), 'i64');
  }

  scalar(value: number, dtype: DType): string {
    switch (dtype) {
      case 'float32':
        return this.constant(dtype, [], Float32Array.of(value), 'c');
      case 'float64':
        return this.constant(dtype, [], Float64Array.of(value), 'c');
      case 'int32':
        return this.constant(dtype, [], Int32Array.of(value), 'c');
      case 'int64':
        return this.constant(dtype, [], BigInt64Array.of(BigInt(value)), 'c');
      case 'bool':
      case 'uint8':
        return this.constant(dtype, [], Uint8Array.of(value), 'c');
      case 'int8':
        return this.constant(dtype, [], Int8Array.of(value), 'c');
      case 'float16':
        throw new Error('float16 scalar constants are not supported; compute in float32 and cast');
    }
  }
}

export interface GraphSpec {
  /** Graph inputs in order (tensors made by `input()`); their `name` is the ONNX input name. */
  inputs: Tensor[];
  /** Named outputs. */
  outputs: Record<string, Tensor>;
  /** Inputs to bake in as initializers instead (export with weights). */
  bake?: Map<Tensor, TypedArray>;
  name?: string;
  metadata?: Record<string, string>;
}

/** Lower a graph to an ONNX model object. */
export function lowerGraph(spec: GraphSpec): OnnxModel {
  const e = new Emitter();
  const inputSet = new Set(spec.inputs.map((t) => t.id));
  const graphInputs = [];
  for (const t of spec.inputs) {
    if (t.node.op.name !== 'input') throw new Error(`graph input ${t} was not created by input()`);
    const name = t.name ?? `input_${t.id}`;
    e.reserve(name);
    e.setName(t, name);
    const baked = spec.bake?.get(t);
    if (baked) e.initializer(name, t.dtype, t.shape, rawBytes(baked));
    else graphInputs.push({ name, dtype: t.dtype, shape: t.shape });
  }
  const outs = Object.entries(spec.outputs);
  // Outputs computed by a node write straight into the graph output name (no Identity copy); passthrough inputs,
  // constants and tensors listed under two names still get an Identity node below.
  const direct = new Set<string>();
  const claimed = new Set<number>();
  for (const [name, t] of outs) {
    const kind = t.node.op.name;
    if (kind === 'input' || kind === 'constant' || claimed.has(t.id)) continue;
    claimed.add(t.id);
    e.reserve(name);
    e.setName(t, name);
    direct.add(name);
  }
  const order = topoSort(outs.map(([, t]) => t));
  for (const node of order) {
    if (node.op.name === 'input') {
      if (!inputSet.has(node.outputs[0]!.id)) {
        throw new Error(`the graph uses input '${node.outputs[0]!.name ?? node.outputs[0]!.id}' that is not among the declared inputs`);
      }
      continue;
    }
    const ins = node.inputs.map((t) => e.nameOf(t));
    const outsN = node.outputs.map((t) => e.nameOf(t));
    try {
      node.op.emit(e, ins, outsN, node.attrs, node);
    } catch (err) {
      if (err instanceof OpError) throw err;
      throw new OpError(node.op.name, `ONNX emission failed: ${(err as Error).message}`);
    }
  }
  const graphOutputs = [];
  const seenOut = new Set<string>();
  for (const [name, t] of outs) {
    if (seenOut.has(name)) throw new Error(`duplicate output name '${name}'`);
    seenOut.add(name);
    if (!direct.has(name)) {
      const src = e.nameOf(t);
      e.reserve(name);
      e.node('Identity', [src], [name]);
    }
    graphOutputs.push({ name, dtype: t.dtype, shape: t.shape });
  }
  return {
    irVersion: IR_VERSION,
    opsets: [
      { domain: '', version: OPSET },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: {
      name: spec.name ?? 'tessera',
      nodes: e.nodes,
      initializers: e.initializers,
      inputs: graphInputs,
      outputs: graphOutputs,
    },
    metadata: spec.metadata,
  };
}

export function emitOnnx(spec: GraphSpec): Uint8Array {
  return encodeModel(lowerGraph(spec));
}
