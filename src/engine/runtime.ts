// Runs lowered graphs on ONNX Runtime: one InferenceSession per compiled graph, input validation with clear errors,
// optional pre-allocated output buffers (so training steps reuse memory), and .onnx export.

import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { arrayMatchesDType, numel, allocArray, type DType, type TypedArray } from './dtype.js';
import { emitOnnx, type GraphSpec } from './emitter.js';
import { fmtShape, type HostTensor } from './tensor.js';
import { writeFileSync } from 'node:fs';

export interface RuntimeOptions {
  /** Execution provider: 'cpu' (default), or 'cuda' / 'webgpu' where the installed ONNX Runtime build has them. */
  provider?: 'cpu' | 'cuda' | 'webgpu';
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /** ORT graph optimization level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Write the optimized model ORT produced here (debugging). */
  optimizedModelPath?: string;
  /** Write ORT's per-node profile (chrome trace JSON) with this file prefix. */
  profilePrefix?: string;
  /**
   * Extra ONNX Runtime session config entries (`session.…` keys of onnxruntime_session_options_config_keys.h), e.g.
   * `{ 'session.intra_op.allow_spinning': '0' }`. Also read from TESSERA_ORT_CONFIG as JSON.
   */
  sessionConfig?: Record<string, string>;
}

function envSessionConfig(): Record<string, string> {
  const raw = process.env.TESSERA_ORT_CONFIG;
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new Error(`TESSERA_ORT_CONFIG is not valid JSON (${(err as Error).message}); expected e.g. {"session.intra_op.allow_spinning":"0"}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('TESSERA_ORT_CONFIG must be a JSON object of string values');
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') throw new Error(`TESSERA_ORT_CONFIG['${k}'] must be a string, got ${JSON.stringify(v)}`);
  }
  return parsed as Record<string, string>;
}

export interface ValueSpec {
  name: string;
  shape: readonly number[];
  dtype: DType;
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int32: 'int32',
  int64: 'int64',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

export type Feed = TypedArray | HostTensor;

function toOrt(spec: ValueSpec, v: Feed, what: string): ort.Tensor {
  const data = ArrayBuffer.isView(v) ? v : v.data;
  if (!ArrayBuffer.isView(v)) {
    const s = v.shape;
    if (s.length !== spec.shape.length || s.some((d, i) => d !== spec.shape[i])) {
      throw new Error(`${what} '${spec.name}': expected shape ${fmtShape(spec.shape)}, got ${fmtShape(s)}`);
    }
  }
  if (!arrayMatchesDType(data, spec.dtype)) {
    throw new Error(`${what} '${spec.name}': expected ${spec.dtype} data, got ${data.constructor.name}`);
  }
  const n = numel(spec.shape);
  if (data.length !== n) {
    throw new Error(`${what} '${spec.name}': expected ${n} elements for shape ${fmtShape(spec.shape)}, got ${data.length}`);
  }
  return new ort.Tensor(ORT_TYPE[spec.dtype], data as never, spec.shape as number[]);
}

export class Program {
  private readonly inputNames: Set<string>;

  private constructor(
    readonly session: ort.InferenceSession,
    readonly inputs: ValueSpec[],
    readonly outputs: ValueSpec[],
    /** The ONNX model bytes (undefined when created with keepModel false: baked weights make them large). */
    readonly model: Uint8Array | undefined,
  ) {
    this.inputNames = new Set(inputs.map((s) => s.name));
  }

  /** Lower `spec` to ONNX and create its session. */
  static async create(spec: GraphSpec, opts: RuntimeOptions = {}, keep: { keepModel?: boolean } = {}): Promise<Program> {
    const model = emitOnnx(spec);
    const inputs = spec.inputs
      .filter((t) => !spec.bake?.has(t))
      .map((t) => ({ name: t.name!, shape: t.shape, dtype: t.dtype }));
    const outputs = Object.entries(spec.outputs).map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype }));
    const session = await createSession(model, opts);
    return new Program(session, inputs, outputs, keep.keepModel === false ? undefined : model);
  }

  /**
   * Run once. `feeds` by input name; `into` optionally supplies pre-allocated output arrays (ORT writes into them).
   * Returns outputs by name as host tensors.
   */
  async run(feeds: Record<string, Feed>, into?: Record<string, TypedArray>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const spec of this.inputs) {
      const v = feeds[spec.name];
      if (v === undefined) throw new Error(`missing input '${spec.name}' (${spec.dtype} ${fmtShape(spec.shape)})`);
      ortFeeds[spec.name] = toOrt(spec, v, 'input');
    }
    for (const k of Object.keys(feeds)) {
      if (!this.inputNames.has(k)) throw new Error(`unknown input '${k}'; inputs are: ${this.inputs.map((s) => s.name).join(', ')}`);
    }
    let result: ort.InferenceSession.ReturnType;
    if (into && Object.keys(into).length > 0) {
      const fetches: Record<string, ort.Tensor | null> = {};
      for (const spec of this.outputs) {
        const buf = into[spec.name];
        fetches[spec.name] = buf ? toOrt(spec, buf, 'output buffer') : null;
      }
      result = await this.session.run(ortFeeds, fetches as ort.InferenceSession.FetchesType);
    } else {
      result = await this.session.run(ortFeeds);
    }
    const out: Record<string, HostTensor> = {};
    for (const spec of this.outputs) {
      const t = result[spec.name]!;
      out[spec.name] = { data: into?.[spec.name] ?? (t.data as TypedArray), shape: spec.shape, dtype: spec.dtype };
    }
    return out;
  }

  /** Save the ONNX model (inputs stay inputs; bake weights with GraphSpec.bake for a standalone file). */
  saveOnnx(path: string): void {
    if (!this.model) throw new Error('this program was compiled without keeping its ONNX bytes (keepModel: false); compile it again to save it');
    writeFileSync(path, this.model);
  }

  /** Allocate host buffers matching this program's outputs. */
  allocOutputs(names?: string[]): Record<string, TypedArray> {
    const r: Record<string, TypedArray> = {};
    for (const s of this.outputs) if (!names || names.includes(s.name)) r[s.name] = allocArray(s.dtype, numel(s.shape));
    return r;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export async function createSession(model: Uint8Array, opts: RuntimeOptions = {}): Promise<ort.InferenceSession> {
  const provider = opts.provider ?? (process.env.TESSERA_PROVIDER as RuntimeOptions['provider']) ?? 'cpu';
  const threads = opts.threads ?? (Number(process.env.TESSERA_THREADS) || availableParallelism());
  const so: ort.InferenceSession.SessionOptions = {
    executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.optimization ?? 'all',
    enableCpuMemArena: true,
    enableMemPattern: true,
    executionMode: 'sequential',
  };
  if (opts.optimizedModelPath) so.optimizedModelFilePath = opts.optimizedModelPath;
  const config = { ...envSessionConfig(), ...opts.sessionConfig };
  if (Object.keys(config).length > 0) so.extra = nest(config);
  const profile = opts.profilePrefix ?? process.env.TESSERA_PROFILE;
  if (profile) {
    so.enableProfiling = true;
    so.profileFilePrefix = profile;
  }
  try {
    return await ort.InferenceSession.create(model, so);
  } catch (err) {
    throw new Error(`ONNX Runtime rejected the compiled graph (${provider}): ${(err as Error).message}`);
  }
}

/** onnxruntime-node takes config entries as a nested object ({session: {intra_op: {allow_spinning: '0'}}}). */
function nest(flat: Record<string, string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = root;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]!] = value;
  }
  return root;
}
