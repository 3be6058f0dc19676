// Inference graphs can bake the model's weights in as ONNX initializers (ONNX Runtime then pre-packs matrices once)
// unless the weights are too large for one protobuf. Opt-in (TESSERA_BAKE_WEIGHTS=1): measured here, pre-packed
// GEMMs were not faster for batch-1 decoding, where MLAS's unpacked GEMV path wins.

import type { Tensor } from '../engine/tensor.js';
import type { TypedArray } from '../engine/dtype.js';
import type { Module } from '../nn/module.js';

/** Protobuf messages are limited to 2 GiB; stay well below. */
const MAX_BAKED_BYTES = 1.5e9;

export function canBake(model: Module): boolean {
  if (process.env.TESSERA_BAKE_WEIGHTS !== '1') return false;
  return model.parameterCount() * 4 < MAX_BAKED_BYTES;
}

/** The bake map for Program.create (param input tensor → current weights), or undefined to feed weights per run. */
export function bakeMap(model: Module, inputs: Map<string, Tensor>): Map<Tensor, TypedArray> | undefined {
  if (!canBake(model)) return undefined;
  const m = new Map<Tensor, TypedArray>();
  for (const [name, p] of model.nameParameters()) m.set(inputs.get(name)!, p.data);
  return m;
}

/** Weight feeds for graphs that did not bake them. */
export function weightFeeds(model: Module, baked: boolean, feeds: Record<string, TypedArray>): void {
  if (baked) return;
  for (const [name, p] of model.nameParameters()) feeds[`p:${name}`] = p.data;
}
