// Standard layers over engine ops. Linear weights use the (in, out) orientation (y = x @ W + b), which is also
// Hugging Face GPT-2's Conv1D layout, so GPT-2 checkpoints load without transposes.

import * as T from '../engine/index.js';
import type { Tensor } from '../engine/tensor.js';
import { normal, ones, zeros, uniform, type Init } from './init.js';
import { Module, Parameter } from './module.js';

/** What a forward pass needs besides its inputs: train/eval mode and the step's random seed (dropout). */
export interface ForwardCtx {
  training: boolean;
  seed?: Tensor;
}

export const EVAL: ForwardCtx = { training: false };

export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | undefined;
  constructor(inF: number, outF: number, opts: { bias?: boolean; init?: Init } = {}) {
    super();
    this.weight = new Parameter([inF, outF], opts.init ?? normal(0.02));
    this.bias = opts.bias === false ? undefined : new Parameter([outF], zeros, { decay: false });
  }
  forward(x: Tensor): Tensor {
    const y = T.matmul(x, this.weight.t); // (..., in) @ (in, out) -> (..., out)
    return this.bias ? T.add(y, this.bias.t) : y;
  }
}

export class Embedding extends Module {
  weight: Parameter;
  constructor(num: number, dim: number, opts: { init?: Init; decay?: boolean } = {}) {
    super();
    this.weight = new Parameter([num, dim], opts.init ?? normal(0.02), { decay: opts.decay });
  }
  forward(ids: Tensor): Tensor {
    return T.gather(this.weight.t, ids); // (..., dim)
  }
}

export class LayerNorm extends Module {
  weight: Parameter;
  bias: Parameter | undefined;
  constructor(
    dim: number,
    readonly eps = 1e-5,
    opts: { bias?: boolean } = {},
  ) {
    super();
    this.weight = new Parameter([dim], ones, { decay: false });
    this.bias = opts.bias === false ? undefined : new Parameter([dim], zeros, { decay: false });
  }
  forward(x: Tensor): Tensor {
    return T.layerNorm(x, this.weight.t, this.bias?.t, this.eps);
  }
}

export class Dropout extends Module {
  constructor(
    readonly p: number,
    readonly streamName: string,
  ) {
    super();
  }
  forward(x: Tensor, ctx: ForwardCtx): Tensor {
    return T.dropout(x, this.p, ctx.seed, T.streamId(this.streamName), ctx.training);
  }
}

function kaiming(fanIn: number): Init {
  const b = 1 / Math.sqrt(fanIn);
  return uniform(-b, b);
}

export class Conv2d extends Module {
  weight: Parameter;
  bias: Parameter | undefined;
  constructor(
    inC: number,
    outC: number,
    readonly kernel: number,
    readonly opts: T.ConvOptions & { bias?: boolean; init?: Init } = {},
  ) {
    super();
    const fanIn = inC * kernel * kernel;
    this.weight = new Parameter([outC, inC, kernel, kernel], opts.init ?? kaiming(fanIn));
    this.bias = opts.bias === false ? undefined : new Parameter([outC], kaiming(fanIn), { decay: false });
  }
  forward(x: Tensor): Tensor {
    return T.conv2d(x, this.weight.t, this.bias?.t, this.opts);
  }
}

export class ConvTranspose2d extends Module {
  weight: Parameter;
  bias: Parameter | undefined;
  constructor(
    inC: number,
    outC: number,
    readonly kernel: number,
    readonly opts: T.ConvOptions & { outputPadding?: number; bias?: boolean; init?: Init } = {},
  ) {
    super();
    const fanIn = outC * kernel * kernel;
    this.weight = new Parameter([inC, outC, kernel, kernel], opts.init ?? kaiming(fanIn));
    this.bias = opts.bias === false ? undefined : new Parameter([outC], kaiming(fanIn), { decay: false });
  }
  forward(x: Tensor): Tensor {
    return T.convTranspose2d(x, this.weight.t, this.bias?.t, this.opts);
  }
}
