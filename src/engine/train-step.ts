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
  /**
   * Optimizer steps unrolled into one session run (default 1). Larger values amortise ONNX Runtime's per-run cost
   * of handing the updated parameters and optimizer state back to JavaScript; the math per step is unchanged.
   */
  stepsPerRun?: number;
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
    const K = opts.stepsPerRun ?? 1;
    if (!Number.isInteger(K) || K < 1) throw new Error(`stepsPerRun must be a positive integer, got ${K}`);
    if (K > 1 && k > 1) throw new Error('stepsPerRun > 1 cannot be combined with gradient accumulation');
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
    const [r] = await this.runUpdate([microBatches[k - 1]!], [lr], [seed * k + k - 1]);
    return { loss: (lossSum + r!.loss) / k, gradNorm: r!.gradNorm };
  }

  /**
   * `stepsPerRun` optimizer steps in one session run: batches[j], lrs[j] and seeds[j] drive step j. Returns each
   * step's loss and gradient norm.
   */
  async steps(batches: Record<string, Feed>[], lrs: number[], seeds: number[]): Promise<StepResult[]> {
    const K = this.opts.stepsPerRun ?? 1;
    if (batches.length !== K || lrs.length !== K || seeds.length !== K) {
      throw new Error(`steps expects ${K} batches, learning rates and seeds (stepsPerRun), got ${batches.length}/${lrs.length}/${seeds.length}`);
    }
    if ((this.opts.accumulate ?? 1) > 1) throw new Error('steps() is for runs without gradient accumulation; use step()');
    return this.runUpdate(batches, lrs, seeds);
  }

  private async runUpdate(batches: Record<string, Feed>[], lrs: number[], seeds: number[]): Promise<StepResult[]> {
    const ps = this.opts.params;
    const params = this.paramBufs[this.cur]!;
    const k = this.opts.accumulate ?? 1;
    const o = this.opts.optimizer;
    const feeds: Record<string, Feed> = {};
    batches.forEach((b, j) => {
      this.t += 1;
      for (const [name, v] of Object.entries(b)) feeds[at(name, j)] = v;
      feeds[at('seed', j)] = BigInt64Array.of(BigInt(seeds[j]!));
      feeds[at('lr', j)] = Float32Array.of(lrs[j]!);
      if (o.kind === 'adamw') {
        feeds[at('bc1', j)] = Float32Array.of(1 - (o.beta1 ?? 0.9) ** this.t);
        feeds[at('bc2sqrt', j)] = Float32Array.of(Math.sqrt(1 - (o.beta2 ?? 0.999) ** this.t));
      }
    });
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
    return batches.map((_, j) => ({ loss: Number(out[at('loss', j)]!.data[0]), gradNorm: Number(out[at('grad_norm', j)]!.data[0]) }));
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

/** Input/output name of per-step values: plain for the first step of a run, `name@k` for the k-th. */
const at = (name: string, k: number) => (k === 0 ? name : `${name}@${k}`);

function buildGraph(opts: TrainStepOptions, mode: 'update' | 'accumulate', withAcc: boolean) {
  const ps = opts.params;
  const K = mode === 'update' ? (opts.stepsPerRun ?? 1) : 1;
  let cur = ps.map((p) => input(P(p.name), p.shape, 'float32'));
  const inputs: Tensor[] = [...cur];
  const outputs: Record<string, Tensor> = {};
  const nSlots = slotCount(opts.optimizer);
  let slots: Tensor[][] = [];
  if (mode === 'update') {
    slots = ps.map((p) => Array.from({ length: nSlots }, (_, s) => input(S(s, p.name), p.shape, 'float32')));
    inputs.push(...slots.flat());
  }
  for (let k = 0; k < K; k++) {
    // step k: forward + backward at the parameters step k-1 produced, then clip and update
    const dT = new Map(opts.data.map((d) => [d.name, input(at(d.name, k), d.shape, d.dtype ?? 'float32')]));
    const seed = input(at('seed', k), [1], 'int64');
    inputs.push(...dT.values(), seed);
    const pMap = new Map(ps.map((p, i) => [p.name, cur[i]!]));
    const loss = opts.loss(pMap, dT, seed);
    if (loss.size !== 1) throw new Error(`the loss must be a scalar, got shape ${fmtShape(loss.shape)}`);
    outputs[at('loss', k)] = loss;
    let grads = grad(loss, cur);
    if (withAcc) {
      const accT = ps.map((p) => input(A(p.name), p.shape, 'float32'));
      inputs.push(...accT);
      grads = grads.map((g, i) => add(accT[i]!, g));
    }
    if (mode === 'accumulate') {
      ps.forEach((p, i) => (outputs[`new_${A(p.name)}`] = grads[i]!));
      return { inputs, outputs, name: 'tessera_accumulate' };
    }
    const acc = opts.accumulate ?? 1;
    if (acc > 1) grads = grads.map((g) => div(g, acc));
    const squares = grads.map((g) => mul(g, g));
    const { norm, coef } = clipCoefficient(squares, opts.clipNorm);
    outputs[at('grad_norm', k)] = norm;
    const lr = input(at('lr', k), [], 'float32');
    inputs.push(lr);
    const scalars: { lr: Tensor; bc1?: Tensor; bc2sqrt?: Tensor } = { lr };
    if (opts.optimizer.kind === 'adamw') {
      scalars.bc1 = input(at('bc1', k), [], 'float32');
      scalars.bc2sqrt = input(at('bc2sqrt', k), [], 'float32');
      inputs.push(scalars.bc1, scalars.bc2sqrt);
    }
    const next = ps.map((p, i) => applyUpdate(opts.optimizer, cur[i]!, grads[i]!, squares[i]!, coef, slots[i]!, p.decay, scalars));
    cur = next.map((u) => u.param);
    slots = next.map((u) => u.slots);
  }
  ps.forEach((p, i) => {
    outputs[`new_${P(p.name)}`] = cur[i]!;
    slots[i]!.forEach((sv, s) => (outputs[`new_${S(s, p.name)}`] = sv));
  });
  return { inputs, outputs, name: K > 1 ? `tessera_train_${K}_steps` : 'tessera_train_step' };
}

export { allocArray };
