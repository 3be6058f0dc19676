// Export a traced inference function as a standalone .onnx file: weights become initializers, so any ONNX runtime
// can load it with no tessera code.

import { writeFileSync } from 'node:fs';
import type { TypedArray, DType } from './dtype.js';
import { emitOnnx } from './emitter.js';
import { input } from './ops/core.js';
import type { Tensor } from './tensor.js';
import type { InputSpec } from './compile.js';

export interface Weight {
  name: string;
  shape: readonly number[];
  data: TypedArray;
  dtype?: DType;
}

/**
 * Trace `fn(inputs, weights)` and return ONNX bytes with the weights baked in as initializers.
 * Outputs may be one tensor (named `output`) or a record of named tensors.
 */
export function exportOnnxBytes(
  fn: (inputs: Tensor[], weights: Map<string, Tensor>) => Tensor | Record<string, Tensor>,
  inputs: readonly (InputSpec & { name: string })[],
  weights: readonly Weight[],
  metadata?: Record<string, string>,
): Uint8Array {
  const ins = inputs.map((s) => input(s.name, s.shape, s.dtype ?? 'float32'));
  const ws = weights.map((w) => input(w.name, w.shape, w.dtype ?? 'float32'));
  const out = fn(ins, new Map(weights.map((w, i) => [w.name, ws[i]!])));
  const outputs = 'node' in out ? { output: out as Tensor } : (out as Record<string, Tensor>);
  const bake = new Map(weights.map((w, i) => [ws[i]!, w.data]));
  return emitOnnx({ inputs: [...ins, ...ws], outputs, bake, metadata, name: 'tessera_export' });
}

export function exportOnnx(path: string, ...args: Parameters<typeof exportOnnxBytes>): void {
  writeFileSync(path, exportOnnxBytes(...args));
}
