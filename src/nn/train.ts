// Glue between modules and the engine's TrainStep: binds a module's named parameters to graph inputs while the loss
// is traced, so a model's ordinary forward code becomes one compiled training step.

import { TrainStep, type TrainStepOptions } from '../engine/train-step.js';
import type { Tensor } from '../engine/tensor.js';
import type { ForwardCtx } from './layers.js';
import { withBound, type Module } from './module.js';

export interface ModuleTrainOptions extends Omit<TrainStepOptions, 'params' | 'loss'> {
  /** Loss from the data tensors; the module's parameters are bound while it runs. */
  loss: (data: Map<string, Tensor>, ctx: ForwardCtx) => Tensor;
  /** Dropout etc. on (default true). */
  training?: boolean;
}

export async function createTrainStep(model: Module, opts: ModuleTrainOptions): Promise<TrainStep> {
  const named = model.nameParameters();
  return TrainStep.create({
    ...opts,
    params: [...named.values()],
    loss: (p, data, seed) => withBound(named, p, () => opts.loss(data, { training: opts.training ?? true, seed })),
  });
}
