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
  /**
   * Most programs kept (default 24, or TESSERA_MAX_PROGRAMS): each baked program holds its own pre-packed copy of the
   * weights, so the least recently used idle program is released beyond this.
   */
  maxPrograms?: number;
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
  private busy = new Map<Program, number>();
  private named: Map<string, Parameter>;
  readonly baked: boolean;
  readonly maxPrograms: number;

  constructor(
    readonly module: M,
    readonly opts: CompileOptions = {},
  ) {
    this.named = module.nameParameters();
    this.baked = (opts.bake ?? 'auto') === 'auto' && canBake(module);
    this.maxPrograms = opts.maxPrograms ?? (Number(process.env.TESSERA_MAX_PROGRAMS) || 24);
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
    if (p) {
      // most recently used last
      this.programs.delete(key);
      this.programs.set(key, p);
      return p;
    }
    p = this.compile(key, build);
    this.programs.set(key, p);
    p.catch(() => this.programs.delete(key));
    void this.evict();
    return p;
  }

  /** Release least recently used programs that are not running, down to maxPrograms. */
  private async evict(): Promise<void> {
    for (const [key, p] of this.programs) {
      if (this.programs.size <= this.maxPrograms) return;
      const prog = await p.catch(() => undefined);
      if (!prog || (this.busy.get(prog) ?? 0) > 0 || this.programs.get(key) !== p) continue;
      this.programs.delete(key);
      await prog.release();
    }
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
    // the serialized model (with baked weights, as large as the model) is not kept once the session exists
    return Program.create({ inputs, outputs: g.outputs, bake, name }, this.opts.runtime, { keepModel: false });
  }

  /** Run `program` (from this.program) with `feeds`; the weights are added when they are not baked in. */
  async run(program: Program, feeds: Record<string, Feed>, into?: Record<string, TypedArray>): Promise<Record<string, HostTensor>> {
    if (!this.baked) {
      for (const spec of program.inputs) {
        if (spec.name.startsWith('p:')) feeds[spec.name] = this.named.get(spec.name.slice(2))!.data;
      }
    }
    this.busy.set(program, (this.busy.get(program) ?? 0) + 1);
    try {
      return await program.run(feeds, into);
    } finally {
      const n = this.busy.get(program)! - 1;
      if (n === 0) this.busy.delete(program);
      else this.busy.set(program, n);
    }
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
