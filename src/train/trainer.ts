// One resumable trainer for any module and loss: AdamW (decoupled weight decay on the parameters marked for it),
// linear warmup + cosine (or linear) decay to a floor, gradient accumulation, global-norm clipping, periodic
// evaluation with a program compiled once, a progress bar on a TTY (log lines otherwise), atomic checkpoints that
// hold everything needed to resume exactly (weights, optimizer slots, step, the batch source's position, elapsed
// time, units seen, history), a NaN/inf guard, and a time limit. The model's own files are written by a CheckpointIO.
//
// Exact resume: the batch source's state is saved after the batches of the checkpointed step were drawn, dropout
// seeds are a function of (seed, step), and weights and slots are stored as float32, so a resumed run computes the
// same losses and weights as one that was never interrupted.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { InputSpec } from '../engine/compile.js';
import type { TypedArray } from '../engine/dtype.js';
import { input } from '../engine/ops/core.js';
import { CompiledModule, type TracedGraph } from '../runtime/compiled-module.js';
import { learningRate, type ScheduleOptions } from '../engine/schedule.js';
import type { Tensor } from '../engine/tensor.js';
import type { TrainStep } from '../engine/train-step.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { f32FromSafeTensor, fromFloat32, readSafetensorsSync, writeSafetensorsSync, type SafeTensor } from '../io/safetensors.js';
import type { ForwardCtx } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { createTrainStep } from '../nn/train.js';
import { CheckpointWriteError, checkpointPaths, isCompleteCheckpoint, recoverCheckpointDir, STATE_FILE, writeCheckpointDir } from './checkpoint-dir.js';
import type { CheckpointIO } from './checkpoint-io.js';

/** One micro-batch: a typed array per data input, by name (shapes as in the data specs). */
export type Batch = Record<string, TypedArray>;

/** Where training batches come from. `state()` must be JSON-serialisable; `setState(state())` resumes exactly. */
export interface BatchSource {
  next(): Batch;
  state(): unknown;
  setState(state: unknown): void;
}

/** A data input of the loss: name, fixed shape, dtype (default float32). */
export type DataSpec = InputSpec & { name: string };

export interface AdamWConfig {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Evaluation every `interval` steps (and after the last). Gives either batches or a function. */
export type EvalOptions<M extends Module> = {
  interval: number;
  /** Data inputs of evaluation batches (default: the training specs). */
  data?: DataSpec[];
} & (
  | {
      /** A fresh source for each evaluation (fixed batches, so evaluations are comparable); `iters` batches averaged. */
      batches: () => { next(): Batch };
      iters: number;
    }
  | {
      /**
       * Custom evaluation; `lossOf(batch)` runs the eval program (the loss with training off, compiled once on first
       * use) at the current weights.
       */
      evaluate: (lossOf: (batch: Batch) => Promise<number>, model: M) => Promise<number>;
    }
);

export interface TrainerOptions<M extends Module> {
  /** The module to train, initialized (its weights are replaced from the checkpoint when resuming). */
  model: M;
  /** Scalar loss of one micro-batch; the module's parameters are bound while it is traced. */
  loss: (model: M, data: Map<string, Tensor>, ctx: ForwardCtx) => Tensor;
  /** Data inputs of one micro-batch. */
  data: DataSpec[];
  batches: BatchSource;
  /** Writes / reads the model's own files. */
  io: CheckpointIO<M>;
  /** Output directory: checkpoints in `<out>/checkpoint`, the finished model in `<out>`. */
  out: string;
  /** Total optimizer steps (the schedule decays over them). */
  steps: number;
  /** Continue from the checkpoint in `out` (error if there is none); otherwise start fresh. */
  resume?: boolean;
  /** Peak learning rate. */
  lr: number;
  /** Floor of the decay (default lr / 10). */
  minLr?: number;
  /** Linear warmup steps (default 0). */
  warmup?: number;
  /** Decay shape after warmup (default cosine); it reaches minLr at `decaySteps` (default `steps`). */
  decay?: ScheduleOptions['kind'];
  decaySteps?: number;
  /** AdamW hyper-parameters (defaults β1 0.9, β2 0.95, eps 1e-8, weight decay 0.1). */
  adamw?: AdamWConfig;
  /** Micro-batches per optimizer step (default 1). */
  gradAccum?: number;
  /** Global gradient-norm clip; 0 or undefined: none. */
  clip?: number;
  /** Dropout etc. on while training (default true). */
  training?: boolean;
  /** Seed of the per-step dropout seeds. */
  seed: number;
  eval?: EvalOptions<M>;
  /** Checkpoint every this many steps (default: the eval interval, else only at the end); always after the last. */
  checkpointInterval?: number;
  /** Stop after this many seconds of this run (checkpointing first); the run can be resumed. */
  maxSeconds?: number;
  /** Stop once this step is reached (checkpointing first); the run can be resumed. */
  stopAtStep?: number;
  /** Save the finished model into `out` with io.save (default true). */
  saveFinal?: boolean;
  /** Progress bar on a TTY (log lines otherwise); false: neither. Default true. */
  progress?: boolean;
  log?: (line: string) => void;
  /** Units of work in one micro-batch, for throughput (tokens for an LM, images for an image model; default 1). */
  unitsPerBatch?: number;
  /** Their name in the progress output (default 'samples'). */
  unit?: string;
  /** Progress bar label (default 'train'). */
  label?: string;
  /** Caller's JSON stored in trainer_state.json as `meta` (what it needs for its own --resume). */
  meta?: unknown;
}

export interface HistoryEntry {
  step: number;
  train_loss: number;
  val_loss?: number;
  lr: number;
  seconds: number;
}

export interface TrainerResult<M extends Module = Module> {
  /** The trained module (the loaded one when resuming). */
  model: M;
  steps: number;
  train_loss: number;
  /** Last evaluation (NaN without one). */
  val_loss: number;
  /** Seconds of this run (not counting earlier runs of a resumed job). */
  seconds: number;
  /** Units per second in this run. */
  units_per_s: number;
  /** Units seen over the whole job. */
  units_seen: number;
  params: number;
  history: HistoryEntry[];
  /** Set when the run stopped early on purpose (time limit, stopAtStep); resumable. */
  stopped?: string;
}

/** The trainer's hyper-parameters as recorded in a checkpoint. */
export interface RecordedOptions {
  steps: number;
  lr: number;
  minLr: number;
  warmup: number;
  decay: NonNullable<ScheduleOptions['kind']>;
  decaySteps: number;
  adamw: Required<AdamWConfig>;
  gradAccum: number;
  clip: number;
  seed: number;
  checkpointInterval: number;
  evalInterval: number;
  data: { name: string; shape: number[]; dtype: string }[];
}

export const TRAINER_STATE_VERSION = 2;

/** trainer_state.json. */
export interface TrainerState {
  version: 2;
  /** Optimizer steps done. */
  step: number;
  /** AdamW's t (equals step). */
  optimizerT: number;
  seed: number;
  /** The batch source's state() after the batches of `step`. */
  data: unknown;
  elapsedSeconds: number;
  unitsSeen: number;
  history: HistoryEntry[];
  options: RecordedOptions;
  /** The caller's (TrainerOptions.meta). */
  meta: unknown;
}

/** Thrown by the NaN/inf guard; the last good checkpoint stays in place. */
export class TrainingDivergedError extends Error {
  constructor(
    message: string,
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
  ) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

/**
 * Read a checkpoint's trainer_state.json, upgrading version 1 (written by the GPT-only trainer: `samplerState`,
 * `tokensSeen`, `corpus`, LM `options`) to the current layout; other versions get a clear error.
 */
export function readTrainerState(dir: string): TrainerState {
  const path = join(dir, STATE_FILE);
  let raw: Record<string, any>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read the trainer state: ${(err as Error).message}`);
  }
  if (raw.version === TRAINER_STATE_VERSION) return raw as TrainerState;
  if (raw.version === 1) {
    const o = raw.options ?? {};
    return {
      version: 2,
      step: raw.step,
      optimizerT: raw.optimizerT,
      seed: raw.seed,
      data: raw.samplerState,
      elapsedSeconds: raw.elapsedSeconds ?? 0,
      unitsSeen: raw.tokensSeen ?? 0,
      history: raw.history ?? [],
      options: {
        steps: o.steps,
        lr: o.lr,
        minLr: o.minLr,
        warmup: o.warmup,
        decay: 'cosine',
        decaySteps: o.steps,
        adamw: { beta1: o.beta1, beta2: o.beta2, eps: 1e-8, weightDecay: o.weightDecay },
        gradAccum: o.gradAccum,
        clip: o.clip,
        seed: o.seed,
        checkpointInterval: o.checkpointInterval,
        evalInterval: o.evalInterval,
        data: [],
      },
      meta: { corpus: raw.corpus, options: o },
    };
  }
  throw new Error(
    `${path}: trainer state version ${JSON.stringify(raw.version)} is not supported (this tessera reads versions 1 and ${TRAINER_STATE_VERSION}); ` +
      'resume it with the tessera that wrote it, or start a new run',
  );
}

const OPTIMIZER_FILE = 'optimizer.safetensors';

/** Train `opts.model` on `opts.batches`, checkpointing into `opts.out`; resumes exactly with `resume: true`. */
export async function train<M extends Module>(opts: TrainerOptions<M>): Promise<TrainerResult<M>> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const rec = recordOptions(opts);
  const { steps: totalSteps, gradAccum } = rec;
  if (opts.stopAtStep !== undefined && !(Number.isInteger(opts.stopAtStep) && opts.stopAtStep >= 0)) {
    throw new Error(`stopAtStep must be a non-negative integer, got ${opts.stopAtStep}`);
  }
  mkdirSync(opts.out, { recursive: true });
  const paths = checkpointPaths(opts.out);

  let model = opts.model;
  let state: TrainerState | undefined;
  let ckDir: string | undefined;
  if (opts.resume) {
    ckDir = recoverCheckpointDir(opts.out);
    if (!ckDir) throw new Error(`cannot resume: ${opts.out} has no checkpoint (expected ${join(paths.cur, STATE_FILE)})`);
    state = readTrainerState(ckDir);
    model = opts.io.load(ckDir, model);
    try {
      opts.batches.setState(state.data);
    } catch (err) {
      throw new Error(`${join(ckDir, STATE_FILE)}: cannot restore the data position: ${(err as Error).message}`);
    }
    const changed = describeChanges(state.options, rec);
    log(`resuming from ${ckDir} at step ${state.step}${changed ? ` (changed: ${changed})` : ''}`);
  } else if (isCompleteCheckpoint(paths.cur) || isCompleteCheckpoint(paths.old)) {
    log(`starting a new run in ${opts.out}; its existing checkpoint is replaced at the first checkpoint (resume to continue it instead)`);
  }

  const trainingMode = opts.training ?? true;
  const step = await createTrainStep(model, {
    data: opts.data,
    loss: (d, ctx) => opts.loss(model, d, ctx),
    optimizer: { kind: 'adamw', ...rec.adamw },
    clipNorm: rec.clip > 0 ? rec.clip : undefined,
    accumulate: gradAccum,
    training: trainingMode,
  });
  // the eval loss through the shared compile path; weights change every step, so they are fed, never baked
  const evalCompiled = new CompiledModule(model, { bake: 'never', name: 'tessera_eval' });
  let bar: cliProgress.SingleBar | undefined;
  try {
    if (state) {
      const opt = readSafetensorsSync(join(ckDir!, OPTIMIZER_FILE));
      step.loadSlots(new Map([...opt.tensors].map(([k, v]) => [k, f32FromSafeTensor(v)])), state.optimizerT);
    }

    const evalSpecs = opts.eval?.data ?? opts.data;
    const lossOf = async (batch: Batch): Promise<number> => {
      const evalProgram = await evalCompiled.program('loss', () => evalGraph(model, opts.loss, evalSpecs));
      const feeds: Batch = {};
      for (const s of evalSpecs) {
        const v = batch[s.name];
        if (!v) throw new Error(`evaluation batch has no '${s.name}'`);
        feeds[s.name] = v;
      }
      return Number((await evalCompiled.run(evalProgram, feeds)).loss!.data[0]);
    };
    const ev = opts.eval;
    const evaluate = async (): Promise<number> => {
      if (!ev) return NaN;
      if ('evaluate' in ev) return ev.evaluate(lossOf, model);
      const src = ev.batches();
      let s = 0;
      for (let i = 0; i < ev.iters; i++) s += await lossOf(src.next());
      return s / ev.iters;
    };

    const history: HistoryEntry[] = state?.history ?? [];
    let it = state?.step ?? 0;
    let elapsed = state?.elapsedSeconds ?? 0;
    let unitsSeen = state?.unitsSeen ?? 0;
    let lastTrain = history.length ? history[history.length - 1]!.train_loss : NaN;
    let lastVal = [...history].reverse().find((h) => h.val_loss !== undefined)?.val_loss ?? NaN;
    let lastSaved = state ? it : -1;
    const unitsPerStep = (opts.unitsPerBatch ?? 1) * gradAccum;
    const unit = opts.unit ?? 'samples';
    const schedule: ScheduleOptions = { lr: rec.lr, warmup: rec.warmup, decaySteps: rec.decaySteps, minLr: rec.minLr, kind: rec.decay };
    const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '-');
    bar =
      opts.progress !== false && process.stderr.isTTY
        ? new cliProgress.SingleBar(
            {
              format: `${opts.label ?? 'train'} |{bar}| {value}/{total} | loss {loss} | val {val} | {tps} ${unit}/s | ETA {eta_formatted}`,
              stream: process.stderr,
              hideCursor: true,
              etaBuffer: 20,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
    bar?.start(totalSteps, it, { loss: fmt(lastTrain), val: fmt(lastVal), tps: '-' });
    const runStart = performance.now();
    const startElapsed = elapsed;
    const startUnits = unitsSeen;
    const ckptInterval = rec.checkpointInterval;
    const logInterval = ev ? ev.interval : ckptInterval > 0 ? ckptInterval : Math.max(1, Math.ceil(totalSteps / 10));

    const save = () => {
      const st: TrainerState = {
        version: 2,
        step: it,
        optimizerT: step.t,
        seed: rec.seed,
        data: opts.batches.state(),
        elapsedSeconds: elapsed,
        unitsSeen,
        history,
        options: rec,
        meta: opts.meta ?? null,
      };
      writeCheckpointDir(opts.out, (dir) => writeCheckpointFiles(dir, model, opts.io, step, st), { label: `checkpoint at step ${it}` });
      lastSaved = it;
    };

    let stopped: string | undefined;
    while (it < totalSteps) {
      const lr = learningRate(it, schedule);
      const micro = Array.from({ length: gradAccum }, () => opts.batches.next());
      if (it === (state?.step ?? 0)) checkBatch(micro[0]!, opts.data);
      const r = await step.step(micro, lr, rec.seed * 1000003 + it);
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) {
        const kept =
          lastSaved >= 0
            ? `the last good checkpoint in ${paths.cur} (step ${lastSaved}) is kept`
            : `the last good checkpoint in ${paths.cur} is kept: this run had written none yet`;
        throw new TrainingDivergedError(
          `training diverged at step ${it + 1} (loss ${r.loss}, gradient norm ${r.gradNorm}); stopped, ${kept} (try a lower learning rate)`,
          it + 1,
          r.loss,
          r.gradNorm,
        );
      }
      it += 1;
      unitsSeen += unitsPerStep;
      elapsed = startElapsed + (performance.now() - runStart) / 1000;
      lastTrain = r.loss;
      const entry: HistoryEntry = { step: it, train_loss: r.loss, lr, seconds: elapsed };
      if (ev && (it % ev.interval === 0 || it === totalSteps)) {
        lastVal = await evaluate();
        entry.val_loss = lastVal;
      }
      history.push(entry);
      const tps = (unitsSeen - startUnits) / Math.max(1e-9, elapsed - startElapsed);
      bar?.update(it, { loss: fmt(r.loss), val: fmt(lastVal), tps: tps.toFixed(0) });
      if (!bar && opts.progress !== false && (entry.val_loss !== undefined || (!ev && it % logInterval === 0))) {
        log(
          `step ${it}/${totalSteps} | train loss ${r.loss.toFixed(4)}${entry.val_loss !== undefined ? ` | val loss ${lastVal.toFixed(4)}` : ''} | ` +
            `${tps.toFixed(0)} ${unit}/s | ${elapsed.toFixed(0)} s`,
        );
      }
      if ((ckptInterval > 0 && it % ckptInterval === 0) || it === totalSteps) save();
      if (it < totalSteps && opts.maxSeconds !== undefined && elapsed - startElapsed >= opts.maxSeconds) {
        if (lastSaved !== it) save();
        stopped = `stopped after ${opts.maxSeconds}s at step ${it}; resume with --resume`;
        break;
      }
      if (it < totalSteps && opts.stopAtStep !== undefined && it >= opts.stopAtStep) {
        if (lastSaved !== it) save();
        stopped = `stopped at step ${it} of ${totalSteps}; resume with --resume`;
        break;
      }
    }
    bar?.stop();
    bar = undefined;
    if (!stopped && opts.saveFinal !== false) opts.io.save(opts.out, model, { step: it });
    const secs = elapsed - startElapsed;
    return {
      model,
      steps: it,
      train_loss: lastTrain,
      val_loss: lastVal,
      seconds: secs,
      units_per_s: (unitsSeen - startUnits) / Math.max(1e-9, secs),
      units_seen: unitsSeen,
      params: model.parameterCount(),
      history,
      stopped,
    };
  } finally {
    bar?.stop();
    await step.release();
    await evalCompiled.release();
  }
}

export { CheckpointWriteError };

/** The model's files (io.save), the optimizer slots, then trainer_state.json (the completion marker, last). */
function writeCheckpointFiles<M extends Module>(dir: string, model: M, io: CheckpointIO<M>, step: TrainStep, st: TrainerState): void {
  io.save(dir, model, { step: st.step });
  const shapes = new Map(step.opts.params.map((q) => [q.name, q.shape]));
  const slots: Record<string, SafeTensor> = {};
  // slot keys are `<slot>.<param name>` and slot names contain no dot
  for (const [k, v] of step.slots()) slots[k] = fromFloat32(v, [...shapes.get(k.slice(k.indexOf('.') + 1))!]);
  writeSafetensorsSync(join(dir, OPTIMIZER_FILE), slots, { t: String(step.t) });
  writeFileAtomicSync(join(dir, STATE_FILE), `${JSON.stringify(st)}\n`);
}

/** The loss with training off over data inputs (the module's parameters are bound by CompiledModule). */
function evalGraph<M extends Module>(model: M, loss: TrainerOptions<M>['loss'], specs: DataSpec[]): TracedGraph {
  const dT = new Map(specs.map((s) => [s.name, input(s.name, s.shape, s.dtype ?? 'float32')]));
  const l = loss(model, dT, { training: false });
  if (l.size !== 1) throw new Error(`the loss must be a scalar, got ${l.size} values`);
  return { inputs: [...dT.values()], outputs: { loss: l } };
}

function checkBatch(b: Batch, specs: DataSpec[]): void {
  for (const s of specs) {
    const v = b[s.name];
    const n = s.shape.reduce((a, d) => a * d, 1);
    if (!v) throw new Error(`the batch source gave no '${s.name}' (it gave ${Object.keys(b).join(', ') || 'nothing'})`);
    if (v.length !== n) throw new Error(`batch input '${s.name}' has ${v.length} values, its shape [${s.shape.join(', ')}] needs ${n}`);
  }
  const extra = Object.keys(b).filter((k) => !specs.some((s) => s.name === k));
  if (extra.length) throw new Error(`the batch source gave inputs the loss does not take: ${extra.join(', ')}`);
}

function recordOptions<M extends Module>(o: TrainerOptions<M>): RecordedOptions {
  const posInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
    return v;
  };
  const gradAccum = o.gradAccum ?? 1;
  if (!Number.isInteger(gradAccum) || gradAccum < 1) throw new Error(`gradAccum must be a positive integer, got ${gradAccum}`);
  if (!(o.lr >= 0) || !Number.isFinite(o.lr)) throw new Error(`lr must be a finite non-negative number, got ${o.lr}`);
  if (o.eval && !(Number.isInteger(o.eval.interval) && o.eval.interval >= 1)) throw new Error(`eval interval must be a positive integer, got ${o.eval.interval}`);
  if (o.eval && 'iters' in o.eval && !(Number.isInteger(o.eval.iters) && o.eval.iters >= 1)) throw new Error(`eval iters must be a positive integer, got ${o.eval.iters}`);
  const steps = posInt('steps', o.steps);
  return {
    steps,
    lr: o.lr,
    minLr: o.minLr ?? o.lr / 10,
    warmup: posInt('warmup', o.warmup ?? 0),
    decay: o.decay ?? 'cosine',
    decaySteps: o.decaySteps ?? steps,
    adamw: { beta1: o.adamw?.beta1 ?? 0.9, beta2: o.adamw?.beta2 ?? 0.95, eps: o.adamw?.eps ?? 1e-8, weightDecay: o.adamw?.weightDecay ?? 0.1 },
    gradAccum,
    clip: o.clip ?? 0,
    seed: o.seed,
    checkpointInterval: posInt('checkpointInterval', o.checkpointInterval ?? o.eval?.interval ?? 0),
    evalInterval: o.eval?.interval ?? 0,
    data: o.data.map((d) => ({ name: d.name, shape: [...d.shape], dtype: d.dtype ?? 'float32' })),
  };
}

/** "lr 0.001 → 0.0005, steps 100 → 200" for options that differ from the checkpoint's (empty when none). */
function describeChanges(a: RecordedOptions, b: RecordedOptions): string {
  const flat = (o: RecordedOptions): Record<string, string> => ({
    ...Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'adamw' && k !== 'data').map(([k, v]) => [k, JSON.stringify(v)])),
    ...Object.fromEntries(Object.entries(o.adamw ?? {}).map(([k, v]) => [k, JSON.stringify(v)])),
    data: JSON.stringify(o.data),
  });
  const fa = flat(a);
  const fb = flat(b);
  return Object.keys(fb)
    .filter((k) => fa[k] !== undefined && fa[k] !== fb[k] && !(k === 'data' && fa[k] === '[]'))
    .map((k) => `${k} ${fa[k]} → ${fb[k]}`)
    .join(', ');
}
