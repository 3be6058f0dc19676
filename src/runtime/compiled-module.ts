// One way to compile a module's function: the module's parameters become graph inputs `p:<name>` bound while the
// function is traced, then are either baked into the graph as initializers (inference: ONNX Runtime pre-packs the
// matrices once) or fed on every run (training evaluation, or weights too large for one protobuf); one program per
// shape signature, compiled once and cached. Used by decoding, scoring, the trainer's evaluation and the tests.

import { input } from '../engine/ops/core.js';
import { Program, type Feed, type RuntimeOptions } from '../engine/runtime.js';
import type { TypedArray } from '../engine/dtype.js';
import type { HostTensor, Tensor } from '../engine/tensor.js';
import { topoSort } from '../engine/graph.js';
import { withBound, type Module, type Parameter } from '../nn/module.js';

/** Protobuf messages are limited to 2 GiB; stay well below. */
const MAX_BAKED_BYTES = 1.5e9;

export interface CompileOptions {
  /** 'auto' (default): bake when the weights fit and TESSERA_BAKE_WEIGHTS is not 0; 'never': feed them per run. */
  bake?: 'auto' | 'never';
  runtime?: RuntimeOptions;
  /** Graph name prefix (shows in ONNX files and profiles). */
  name?: string;
}

/** What a traced function returns: its non-parameter inputs (in feed order) and named outputs. */
export interface TracedGraph {
  inputs: Tensor[];
  outputs: Record<string, Tensor>;
}

export function canBake(model: Module): boolean {
  if (process.env.TESSERA_BAKE_WEIGHTS === '0') return false;
  return model.parameterCount() * 4 < MAX_BAKED_BYTES;
}

export class CompiledModule<M extends Module = Module> {
  private programs = new Map<string, Promise<Program>>();
  private named: Map<string, Parameter>;
  readonly baked: boolean;

  constructor(
    readonly module: M,
    readonly opts: CompileOptions = {},
  ) {
    this.named = module.nameParameters();
    this.baked = (opts.bake ?? 'auto') === 'auto' && canBake(module);
  }

  /** Number of compiled shape signatures. */
  get size(): number {
    return this.programs.size;
  }

  /**
   * The program for signature `key`, traced by `build` (the module's parameters are bound while it runs) the first
   * time the key is asked for. With baking, the weights current at that moment are captured.
   */
  program(key: string, build: () => TracedGraph): Promise<Program> {
    let p = this.programs.get(key);
    if (!p) {
      p = this.compile(key, build);
      this.programs.set(key, p);
      p.catch(() => this.programs.delete(key));
    }
    return p;
  }

  private compile(key: string, build: () => TracedGraph): Promise<Program> {
    const paramInputs = new Map([...this.named].map(([n, p]) => [n, input(`p:${n}`, p.shape)]));
    const g = withBound(this.named, paramInputs, build);
    // only the parameters the outputs depend on become inputs (a prefill graph does not use the head)
    const used = new Set(topoSort(Object.values(g.outputs)).map((n) => n.id));
    const params = [...this.named].filter(([n]) => used.has(paramInputs.get(n)!.node.id));
    let bake: Map<Tensor, TypedArray> | undefined;
    if (this.baked) {
      bake = new Map();
      for (const [n, p] of params) bake.set(paramInputs.get(n)!, p.data);
    }
    const name = `${this.opts.name ?? 'tessera'}_${key.replace(/[^A-Za-z0-9_]/g, '_')}`;
    const inputs = [...params.map(([n]) => paramInputs.get(n)!), ...g.inputs];
    return Program.create({ inputs, outputs: g.outputs, bake, name }, this.opts.runtime);
  }

  /** Run `program` (from this.program) with `feeds`; the weights are added when they are not baked in. */
  async run(program: Program, feeds: Record<string, Feed>, into?: Record<string, TypedArray>): Promise<Record<string, HostTensor>> {
    if (!this.baked) {
      for (const spec of program.inputs) {
        if (spec.name.startsWith('p:')) feeds[spec.name] = this.named.get(spec.name.slice(2))!.data;
      }
    }
    return program.run(feeds, into);
  }

  /** Forget compiled programs (after the weights changed, baked programs are stale). */
  async invalidate(): Promise<void> {
    const ps = [...this.programs.values()];
    this.programs.clear();
    for (const p of ps) await (await p.catch(() => undefined))?.release();
  }

  async release(): Promise<void> {
    await this.invalidate();
  }
}
