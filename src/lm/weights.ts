// Inference graphs bake the model's weights in as ONNX initializers, so ONNX Runtime pre-packs the matrices once at
// session creation (GPT-2-small decoding on 2 cores: 35 → 52 tokens/s at batch 1, ~140 → ~250 at batch 16), unless
// the weights are too large for one protobuf. TESSERA_BAKE_WEIGHTS=0 feeds them per run instead.

import type { Tensor } from '../engine/tensor.js';
import type { TypedArray } from '../engine/dtype.js';
import { input } from '../engine/ops/core.js';
import type { Module, Parameter } from '../nn/module.js';

/** Protobuf messages are limited to 2 GiB; stay well below. */
const MAX_BAKED_BYTES = 1.5e9;

export function canBake(model: Module): boolean {
  if (process.env.TESSERA_BAKE_WEIGHTS === '0') return false;
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

/** Graph inputs `p:<name>` for every parameter of `model`, with the named parameters to bind them to. */
export function paramInputs(model: Module): { named: Map<string, Parameter>; inputs: Map<string, Tensor> } {
  const named = model.nameParameters();
  return { named, inputs: new Map([...named].map(([n, p]) => [n, input(`p:${n}`, p.shape)])) };
}
