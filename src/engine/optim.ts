// Optimizer updates as graph code: global-norm clipping, AdamW (decoupled decay, per-parameter decay mask) and SGD
// with momentum. Hyper-parameters that change per step (learning rate, bias corrections) are scalar graph inputs.

import type { Tensor } from './tensor.js';
import { add, div, minimum, mul, sqrt, sub } from './ops/elementwise.js';
import { sum } from './ops/reduce.js';

export interface AdamWOptions {
  kind: 'adamw';
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface SgdOptions {
  kind: 'sgd';
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export type OptimizerOptions = AdamWOptions | SgdOptions;

/** Per-step scalars fed to the update graph. */
export interface StepScalars {
  lr: Tensor;
  /** AdamW: 1 - beta1^t and sqrt(1 - beta2^t). */
  bc1?: Tensor;
  bc2sqrt?: Tensor;
}

/** Scale all gradients so their global L2 norm is at most maxNorm (PyTorch clip_grad_norm_ semantics). */
export function clipByGlobalNorm(grads: Tensor[], maxNorm: number | undefined): { grads: Tensor[]; norm: Tensor } {
  let sq: Tensor | undefined;
  for (const g of grads) {
    const s = sum(mul(g, g));
    sq = sq ? add(sq, s) : s;
  }
  const norm = sqrt(sq!);
  if (maxNorm === undefined || !Number.isFinite(maxNorm)) return { grads, norm };
  const coef = minimum(div(maxNorm, add(norm, 1e-6)), 1); // min(1, max/(norm+1e-6))
  return { grads: grads.map((g) => mul(g, coef)), norm };
}

export interface SlotUpdate {
  param: Tensor;
  slots: Tensor[];
}

/** Number of state slots the optimizer keeps per parameter. */
export function slotCount(o: OptimizerOptions): number {
  return o.kind === 'adamw' ? 2 : (o.momentum ?? 0) > 0 ? 1 : 0;
}

/** One update of one parameter: returns the new parameter and new slot values. */
export function applyUpdate(
  o: OptimizerOptions,
  p: Tensor,
  g: Tensor,
  slots: Tensor[],
  decay: boolean,
  s: StepScalars,
): SlotUpdate {
  if (o.kind === 'adamw') {
    const b1 = o.beta1 ?? 0.9;
    const b2 = o.beta2 ?? 0.999;
    const eps = o.eps ?? 1e-8;
    const wd = o.weightDecay ?? 0.01;
    const [m, v] = slots as [Tensor, Tensor];
    const m2 = add(mul(m, b1), mul(g, 1 - b1));
    const v2 = add(mul(v, b2), mul(mul(g, g), 1 - b2));
    // torch.optim.AdamW: p *= 1 - lr*wd; p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
    let p2 = p;
    if (decay && wd !== 0) p2 = mul(p2, sub(1, mul(s.lr, wd)));
    const denom = add(div(sqrt(v2), s.bc2sqrt!), eps);
    p2 = sub(p2, mul(div(s.lr, s.bc1!), div(m2, denom)));
    return { param: p2, slots: [m2, v2] };
  }
  const mom = o.momentum ?? 0;
  const wd = o.weightDecay ?? 0;
  let gg = g;
  if (decay && wd !== 0) gg = add(gg, mul(p, wd));
  if (mom > 0) {
    const buf = add(mul(slots[0]!, mom), gg);
    const dir = o.nesterov ? add(gg, mul(buf, mom)) : buf;
    return { param: sub(p, mul(dir, s.lr)), slots: [buf] };
  }
  return { param: sub(p, mul(gg, s.lr)), slots: [] };
}
