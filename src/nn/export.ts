// Export a module's inference graph (with its current weights) as a standalone .onnx file.

import { exportOnnx } from '../engine/export.js';
import type { InputSpec } from '../engine/compile.js';
import type { Tensor } from '../engine/tensor.js';
import { withBound, type Module } from './module.js';

export function exportModuleOnnx(
  path: string,
  model: Module,
  inputs: (InputSpec & { name: string })[],
  forward: (inputs: Tensor[]) => Tensor | Record<string, Tensor>,
  metadata?: Record<string, string>,
): void {
  const named = model.nameParameters();
  const weights = [...named.entries()].map(([name, p]) => ({ name, shape: p.shape, data: p.data }));
  exportOnnx(path, (ins, ws) => withBound(named, ws, () => forward(ins)), inputs, weights, metadata);
}
