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
  const { norm, coef } = clipCoefficient(grads.map((g) => mul(g, g)), maxNorm);
  if (!coef) return { grads, norm };
  return { grads: grads.map((g) => mul(g, coef)), norm };
}

/** Global norm from per-parameter squared gradients, and min(1, max/(norm+1e-6)) (undefined without clipping). */
export function clipCoefficient(squares: Tensor[], maxNorm: number | undefined): { norm: Tensor; coef: Tensor | undefined } {
  let sq: Tensor | undefined;
  for (const g2 of squares) {
    const s = sum(g2);
    sq = sq ? add(sq, s) : s;
  }
  const norm = sqrt(sq!);
  if (maxNorm === undefined || !Number.isFinite(maxNorm)) return { norm, coef: undefined };
  return { norm, coef: minimum(div(maxNorm, add(norm, 1e-6)), 1) };
}

export interface SlotUpdate {
  param: Tensor;
  slots: Tensor[];
}

/** Number of state slots the optimizer keeps per parameter. */
export function slotCount(o: OptimizerOptions): number {
  return o.kind === 'adamw' ? 2 : (o.momentum ?? 0) > 0 ? 1 : 0;
}

/**
 * One update of one parameter from its raw gradient `g`, its squared gradient `g2` (shared with the norm), and the
 * clip coefficient. Scalar factors are folded so each full-size tensor is touched as few times as possible.
 */
export function applyUpdate(
  o: OptimizerOptions,
  p: Tensor,
  g: Tensor,
  g2: Tensor,
  coef: Tensor | undefined,
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
    // torch.optim.AdamW with clipped gradient c·g:
    //   m' = b1 m + (1-b1) c g;  v' = b2 v + (1-b2) c² g²
    //   p' = p (1 - lr wd) - (lr / bc1) m' / (sqrt(v') / sqrt(bc2) + eps)
    //      = p (1 - lr wd) - (lr sqrt(bc2) / bc1) m' / (sqrt(v') + eps sqrt(bc2))
    const gScale = coef ? mul(coef, 1 - b1) : undefined;
    const g2Scale = coef ? mul(mul(coef, coef), 1 - b2) : undefined;
    const m2 = add(mul(m, b1), gScale ? mul(g, gScale) : mul(g, 1 - b1));
    const v2 = add(mul(v, b2), g2Scale ? mul(g2, g2Scale) : mul(g2, 1 - b2));
    const stepSize = div(mul(s.lr, s.bc2sqrt!), s.bc1!); // scalar
    const denom = add(sqrt(v2), mul(s.bc2sqrt!, eps));
    let p2 = p;
    if (decay && wd !== 0) p2 = mul(p2, sub(1, mul(s.lr, wd)));
    p2 = sub(p2, mul(div(m2, denom), stepSize));
    return { param: p2, slots: [m2, v2] };
  }
  const mom = o.momentum ?? 0;
  const wd = o.weightDecay ?? 0;
  let gg = coef ? mul(g, coef) : g;
  if (decay && wd !== 0) gg = add(gg, mul(p, wd));
  if (mom > 0) {
    const buf = add(mul(slots[0]!, mom), gg);
    const dir = o.nesterov ? add(gg, mul(buf, mom)) : buf;
    return { param: sub(p, mul(dir, s.lr)), slots: [buf] };
  }
  return { param: sub(p, mul(gg, s.lr)), slots: [] };
}
