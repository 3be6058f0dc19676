// Parameters and modules: a named parameter tree with dotted names (`h.0.attn.c_attn.weight`), seeded
// initialization, and binding of parameters to symbolic tensors while a step is traced.

import { fmtShape, type Tensor } from '../engine/tensor.js';
import { numel } from '../engine/dtype.js';
import { fillInit, type Init } from './init.js';

export class Parameter {
  /** Dotted name, assigned when the module tree is walked. */
  name = '';
  data: Float32Array;
  /** Whether AdamW weight decay applies (default: tensors with rank >= 2). */
  decay: boolean;
  private bound: Tensor | undefined;

  constructor(
    readonly shape: readonly number[],
    readonly init: Init,
    opts: { decay?: boolean } = {},
  ) {
    this.data = new Float32Array(numel(shape));
    this.decay = opts.decay ?? shape.length >= 2;
  }

  get size(): number {
    return this.data.length;
  }

  /** The symbolic tensor standing for this parameter in the graph being traced. */
  get t(): Tensor {
    if (!this.bound) throw new Error(`parameter '${this.name || '(unnamed)'}' is used outside a traced step (bind it first)`);
    return this.bound;
  }

  bind(t: Tensor | undefined): void {
    if (t && (t.shape.length !== this.shape.length || t.shape.some((d, i) => d !== this.shape[i]))) {
      throw new Error(`parameter '${this.name}': bound tensor shape ${fmtShape(t.shape)} != ${fmtShape(this.shape)}`);
    }
    this.bound = t;
  }
}

export class Module {
  /** All parameters with dotted names, in definition order; shared parameters appear once (first name). */
  namedParameters(prefix = ''): Map<string, Parameter> {
    const out = new Map<string, Parameter>();
    const seen = new Set<Parameter>();
    const walk = (obj: unknown, pre: string) => {
      for (const [key, val] of Object.entries(obj as object)) {
        if (key.startsWith('_')) continue;
        const name = pre ? `${pre}.${key}` : key;
        visit(val, name);
      }
    };
    const visit = (val: unknown, name: string) => {
      if (val instanceof Parameter) {
        if (!seen.has(val)) {
          seen.add(val);
          out.set(name, val);
        }
      } else if (val instanceof Module) walk(val, name);
      else if (Array.isArray(val)) val.forEach((v, i) => visit(v, `${name}.${i}`));
    };
    walk(this, prefix);
    return out;
  }

  parameters(): Parameter[] {
    return [...this.namedParameters().values()];
  }

  /** Give every parameter its dotted name and fill it from its initializer (same seed, same weights). */
  initialize(seed: number): this {
    for (const [name, p] of this.nameParameters()) fillInit(p.data, p.init, seed, name);
    return this;
  }

  /** Assign dotted names (idempotent). */
  nameParameters(): Map<string, Parameter> {
    const named = this.namedParameters();
    for (const [name, p] of named) p.name = name;
    return named;
  }

  parameterCount(): number {
    let n = 0;
    for (const p of this.namedParameters().values()) n += p.size;
    return n;
  }

  /** Copy of all weights by name. */
  stateDict(): Map<string, { shape: readonly number[]; data: Float32Array }> {
    const r = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [name, p] of this.nameParameters()) r.set(name, { shape: p.shape, data: p.data });
    return r;
  }

  /** Load weights by name; every parameter must be present with the right shape. */
  loadStateDict(state: Map<string, { shape: readonly number[]; data: Float32Array }>, source = 'state dict'): void {
    for (const [name, p] of this.nameParameters()) {
      const s = state.get(name);
      if (!s) throw new Error(`${source}: missing parameter '${name}' ${fmtShape(p.shape)}`);
      if (s.shape.length !== p.shape.length || s.shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(`${source}: parameter '${name}' has shape ${fmtShape(s.shape)}, the model expects ${fmtShape(p.shape)}`);
      }
      p.data = Float32Array.from(s.data);
    }
  }
}

/** Bind parameters to tensors for the duration of `fn` (tracing), then unbind. */
export function withBound<R>(params: Map<string, Parameter>, tensors: Map<string, Tensor>, fn: () => R): R {
  for (const [name, p] of params) p.bind(tensors.get(name));
  try {
    return fn();
  } finally {
    for (const p of params.values()) p.bind(undefined);
  }
}
