// compile(): trace a TypeScript function over symbolic tensors once per shape signature, lower it to ONNX, create an
// ONNX Runtime session, cache it, and return a function from typed arrays to typed arrays (like jax.jit).

import { arrayMatchesDType, type DType, type TypedArray } from './dtype.js';
import { Program, type RuntimeOptions } from './runtime.js';
import { input } from './ops/core.js';
import { Tensor, fmtShape, type HostTensor } from './tensor.js';

export interface InputSpec {
  name?: string;
  shape: readonly number[];
  dtype?: DType;
}

type Outputs = Tensor | Tensor[] | Record<string, Tensor>;
type HostOutputs<O> = O extends Tensor ? TypedArray : O extends Tensor[] ? TypedArray[] : { [K in keyof O]: TypedArray };

export interface Compiled<O> {
  (...args: (TypedArray | HostTensor)[]): Promise<HostOutputs<O>>;
  program: Program;
  inputSpecs: Required<InputSpec>[];
  /** Save as a standalone .onnx file. */
  saveOnnx(path: string): void;
}

function normalizeOutputs(o: Outputs): { named: Record<string, Tensor>; kind: 'one' | 'list' | 'record' } {
  if (o instanceof Tensor) return { named: { output: o }, kind: 'one' };
  if (Array.isArray(o)) return { named: Object.fromEntries(o.map((t, i) => [`output_${i}`, t])), kind: 'list' };
  return { named: { ...o }, kind: 'record' };
}

/** Trace `fn` for the given input specs and compile it. */
export async function compile<O extends Outputs>(
  fn: (...inputs: Tensor[]) => O,
  specs: readonly InputSpec[],
  opts: RuntimeOptions = {},
): Promise<Compiled<O>> {
  const full = specs.map((s, i) => ({ name: s.name ?? `input_${i}`, shape: [...s.shape], dtype: s.dtype ?? 'float32' }));
  const placeholders = full.map((s) => input(s.name, s.shape, s.dtype));
  const { named, kind } = normalizeOutputs(fn(...placeholders));
  const program = await Program.create({ inputs: placeholders, outputs: named }, opts);
  const names = Object.keys(named);
  const call = (async (...args: (TypedArray | HostTensor)[]) => {
    if (args.length !== full.length) throw new Error(`compiled function takes ${full.length} inputs, got ${args.length}`);
    const feeds: Record<string, TypedArray | HostTensor> = {};
    full.forEach((s, i) => (feeds[s.name] = args[i]!));
    const out = await program.run(feeds);
    if (kind === 'one') return out.output!.data;
    if (kind === 'list') return names.map((n) => out[n]!.data);
    return Object.fromEntries(names.map((n) => [n, out[n]!.data]));
  }) as Compiled<O>;
  call.program = program;
  call.inputSpecs = full;
  call.saveOnnx = (path: string) => program.saveOnnx(path);
  return call;
}

/**
 * jit(fn): a function over host tensors that traces and compiles `fn` once per (shape, dtype) signature and caches
 * the session.
 */
export function jit<O extends Outputs>(fn: (...inputs: Tensor[]) => O, opts: RuntimeOptions = {}) {
  const cache = new Map<string, Promise<Compiled<O>>>();
  const wrapped = async (...args: HostTensor[]): Promise<HostOutputs<O>> => {
    for (const [i, a] of args.entries()) {
      if (!arrayMatchesDType(a.data, a.dtype)) throw new Error(`jit argument ${i}: ${a.data.constructor.name} cannot hold ${a.dtype}`);
    }
    const key = args.map((a) => `${a.dtype}${fmtShape(a.shape)}`).join(';');
    let c = cache.get(key);
    if (!c) {
      c = compile(fn, args.map((a) => ({ shape: a.shape, dtype: a.dtype })), opts);
      cache.set(key, c);
    }
    return (await c)(...args);
  };
  wrapped.cacheSize = () => cache.size;
  return wrapped;
}
