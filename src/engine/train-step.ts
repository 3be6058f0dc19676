// The training step as ONE ONNX Runtime session run: forward, backward, global-norm clipping and the optimizer
// update in a single graph. Parameters and optimizer slots live in two pre-allocated buffer sets that the engine
// alternates between (ORT writes the new values straight into the other set), so nothing is allocated per step.
// With gradient accumulation (K micro-batches) the first K-1 micro-batches run an accumulate graph and the last one
// runs the update graph.

import { allocArray, type TypedArray } from './dtype.js';
import { grad } from './autodiff.js';
import { input } from './ops/core.js';
import { add, div, mul } from './ops/elementwise.js';
import { applyUpdate, clipCoefficient, slotCount, type OptimizerOptions } from './optim.js';
import { Program, type Feed, type RuntimeOptions } from './runtime.js';
import { fmtShape, type Tensor } from './tensor.js';
import type { InputSpec } from './compile.js';

export interface ParamLike {
  name: string;
  shape: readonly number[];
  data: Float32Array;
  decay: boolean;
}

export interface TrainStepOptions {
  params: ParamLike[];
  /** Inputs of one micro-batch (token ids, targets, images …) with fixed shapes. */
  data: (InputSpec & { name: string })[];
  /** Build the scalar loss from parameter tensors (by name), data tensors (by name) and the step's seed tensor. */
  loss: (p: Map<string, Tensor>, data: Map<string, Tensor>, seed: Tensor) => Tensor;
  optimizer: OptimizerOptions;
  /** Global gradient-norm clip (undefined: no clipping). */
  clipNorm?: number;
  /** Micro-batches per optimizer step (default 1). */
  accumulate?: number;
  runtime?: RuntimeOptions;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
}

const P = (n: string) => `p:${n}`;
const S = (k: number, n: string) => `s${k}:${n}`;
const A = (n: string) => `acc:${n}`;

export class TrainStep {
  /** Number of optimizer steps taken (AdamW's t). */
  t = 0;
  private cur = 0;
  private paramBufs: Float32Array[][]; // [set][param]
  private slotBufs: Float32Array[][][]; // [set][slot][param]
  private accBufs: Float32Array[][]; // [set][param]
  private accCur = 0;

  private constructor(
    readonly opts: TrainStepOptions,
    readonly update: Program,
    readonly accumulateProgram: Program | undefined,
  ) {
    const ps = opts.params;
    const nSlots = slotCount(opts.optimizer);
    this.paramBufs = [ps.map((p) => Float32Array.from(p.data)), ps.map((p) => new Float32Array(p.data.length))];
    this.slotBufs = [0, 1].map(() => Array.from({ length: nSlots }, () => ps.map((p) => new Float32Array(p.data.length))));
    this.accBufs = accumulateProgram ? [0, 1].map(() => ps.map((p) => new Float32Array(p.data.length))) : [];
    this.syncParams();
  }

  static async create(opts: TrainStepOptions): Promise<TrainStep> {
    const k = opts.accumulate ?? 1;
    if (!Number.isInteger(k) || k < 1) throw new Error(`accumulate must be a positive integer, got ${k}`);
    const update = await Program.create(buildGraph(opts, 'update', k > 1), opts.runtime);
    const acc = k > 1 ? await Program.create(buildGraph(opts, 'accumulate', true), opts.runtime) : undefined;
    return new TrainStep(opts, update, acc);
  }

  /** Point each parameter's host data at the current buffer (no copy). */
  private syncParams(): void {
    this.opts.params.forEach((p, i) => (p.data = this.paramBufs[this.cur]![i]!));
  }

  /**
   * One optimizer step over `microBatches` (length = accumulate). `lr` is this step's learning rate; `seed` drives
   * dropout. Returns the mean loss and the (pre-clip) global gradient norm.
   */
  async step(microBatches: Record<string, Feed>[], lr: number, seed: number): Promise<StepResult> {
    const k = this.opts.accumulate ?? 1;
    if (microBatches.length !== k) throw new Error(`step expects ${k} micro-batches, got ${microBatches.length}`);
    const ps = this.opts.params;
    const params = this.paramBufs[this.cur]!;
    let lossSum = 0;
    if (k > 1) {
      for (const acc of this.accBufs[this.accCur]!) acc.fill(0);
      for (let j = 0; j < k - 1; j++) {
        const feeds: Record<string, Feed> = { ...microBatches[j]!, seed: BigInt64Array.of(BigInt(seed * k + j)) };
        ps.forEach((p, i) => {
          feeds[P(p.name)] = params[i]!;
          feeds[A(p.name)] = this.accBufs[this.accCur]![i]!;
        });
        const into: Record<string, TypedArray> = {};
        ps.forEach((p, i) => (into[`new_${A(p.name)}`] = this.accBufs[1 - this.accCur]![i]!));
        const out = await this.accumulateProgram!.run(feeds, into);
        lossSum += Number(out.loss!.data[0]);
        this.accCur = 1 - this.accCur;
      }
    }
    this.t += 1;
    const o = this.opts.optimizer;
    const feeds: Record<string, Feed> = {
      ...microBatches[k - 1]!,
      seed: BigInt64Array.of(BigInt(seed * k + k - 1)),
      lr: Float32Array.of(lr),
    };
    if (o.kind === 'adamw') {
      feeds.bc1 = Float32Array.of(1 - (o.beta1 ?? 0.9) ** this.t);
      feeds.bc2sqrt = Float32Array.of(Math.sqrt(1 - (o.beta2 ?? 0.999) ** this.t));
    }
    const next = 1 - this.cur;
    const into: Record<string, TypedArray> = {};
    ps.forEach((p, i) => {
      feeds[P(p.name)] = params[i]!;
      into[`new_${P(p.name)}`] = this.paramBufs[next]![i]!;
      this.slotBufs[this.cur]!.forEach((slot, s) => {
        feeds[S(s, p.name)] = slot[i]!;
        into[`new_${S(s, p.name)}`] = this.slotBufs[next]![s]![i]!;
      });
      if (k > 1) feeds[A(p.name)] = this.accBufs[this.accCur]![i]!;
    });
    const out = await this.update.run(feeds, into);
    this.cur = next;
    this.syncParams();
    lossSum += Number(out.loss!.data[0]);
    return { loss: lossSum / k, gradNorm: Number(out.grad_norm!.data[0]) };
  }

  /** Optimizer slots by name (`m` / `v` for AdamW, `momentum` for SGD), for checkpoints. */
  slots(): Map<string, Float32Array> {
    const names = this.opts.optimizer.kind === 'adamw' ? ['exp_avg', 'exp_avg_sq'] : ['momentum_buffer'];
    const r = new Map<string, Float32Array>();
    this.slotBufs[this.cur]!.forEach((slot, s) => this.opts.params.forEach((p, i) => r.set(`${names[s]}.${p.name}`, slot[i]!)));
    return r;
  }

  /** Restore slots (from `slots()`) and the step count. */
  loadSlots(state: Map<string, Float32Array>, t: number): void {
    const names = this.opts.optimizer.kind === 'adamw' ? ['exp_avg', 'exp_avg_sq'] : ['momentum_buffer'];
    this.slotBufs[this.cur]!.forEach((slot, s) =>
      this.opts.params.forEach((p, i) => {
        const key = `${names[s]}.${p.name}`;
        const v = state.get(key);
        if (!v) throw new Error(`optimizer state is missing '${key}'`);
        if (v.length !== slot[i]!.length) throw new Error(`optimizer state '${key}' has ${v.length} values, expected ${slot[i]!.length} for ${fmtShape(p.shape)}`);
        slot[i]!.set(v);
      }),
    );
    this.t = t;
  }

  /** Replace parameter values (e.g. after loading a checkpoint). */
  loadParams(values: Map<string, Float32Array>): void {
    this.opts.params.forEach((p, i) => {
      const v = values.get(p.name);
      if (!v) throw new Error(`missing parameter '${p.name}'`);
      this.paramBufs[this.cur]![i]!.set(v);
    });
    this.syncParams();
  }

  async release(): Promise<void> {
    await this.update.release();
    await this.accumulateProgram?.release();
  }
}

function buildGraph(opts: TrainStepOptions, mode: 'update' | 'accumulate', withAcc: boolean) {
  const ps = opts.params;
  const pT = new Map(ps.map((p) => [p.name, input(P(p.name), p.shape, 'float32')]));
  const dT = new Map(opts.data.map((d) => [d.name, input(d.name, d.shape, d.dtype ?? 'float32')]));
  const seed = input('seed', [1], 'int64');
  const loss = opts.loss(pT, dT, seed);
  if (loss.size !== 1) throw new Error(`the loss must be a scalar, got shape ${fmtShape(loss.shape)}`);
  const paramTensors = ps.map((p) => pT.get(p.name)!);
  let grads = grad(loss, paramTensors);
  const inputs: Tensor[] = [...pT.values(), ...dT.values(), seed];
  const outputs: Record<string, Tensor> = { loss };
  let accT: Tensor[] = [];
  if (withAcc) {
    accT = ps.map((p) => input(A(p.name), p.shape, 'float32'));
    inputs.push(...accT);
    grads = grads.map((g, i) => add(accT[i]!, g));
  }
  if (mode === 'accumulate') {
    ps.forEach((p, i) => (outputs[`new_${A(p.name)}`] = grads[i]!));
    return { inputs, outputs, name: 'tessera_accumulate' };
  }
  const k = opts.accumulate ?? 1;
  if (k > 1) grads = grads.map((g) => div(g, k));
  const squares = grads.map((g) => mul(g, g));
  const { norm, coef } = clipCoefficient(squares, opts.clipNorm);
  outputs.grad_norm = norm;
  const lr = input('lr', [], 'float32');
  inputs.push(lr);
  const scalars: { lr: Tensor; bc1?: Tensor; bc2sqrt?: Tensor } = { lr };
  if (opts.optimizer.kind === 'adamw') {
    scalars.bc1 = input('bc1', [], 'float32');
    scalars.bc2sqrt = input('bc2sqrt', [], 'float32');
    inputs.push(scalars.bc1, scalars.bc2sqrt);
  }
  const nSlots = slotCount(opts.optimizer);
  ps.forEach((p, i) => {
    const slots = Array.from({ length: nSlots }, (_, s) => input(S(s, p.name), p.shape, 'float32'));
    inputs.push(...slots);
    const u = applyUpdate(opts.optimizer, paramTensors[i]!, grads[i]!, squares[i]!, coef, slots, p.decay, scalars);
    outputs[`new_${P(p.name)}`] = u.param;
    u.slots.forEach((sv, s) => (outputs[`new_${S(s, p.name)}`] = sv));
  });
  return { inputs, outputs, name: 'tessera_train_step' };
}

export { allocArray };
