// Language-model training: AdamW (β 0.9/0.95 by default), weight decay on matrices, warmup + cosine decay,
// global-norm clipping, gradient accumulation, periodic validation, a progress bar, atomic checkpoints that hold
// everything needed to resume exactly (weights, optimizer slots, step, RNG and data-sampler state), and a NaN guard.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { Program } from '../engine/runtime.js';
import { input } from '../engine/ops/core.js';
import type { TypedArray } from '../engine/dtype.js';
import { paramInputs, weightFeeds } from './weights.js';
import { learningRate } from '../engine/schedule.js';
import type { TrainStep } from '../engine/train-step.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { f32FromSafeTensor, fromFloat32, readSafetensorsSync, writeSafetensorsSync } from '../io/safetensors.js';
import { createTrainStep } from '../nn/train.js';
import { withBound } from '../nn/module.js';
import { BatchSampler, type TokenSplits } from '../data/tokens.js';
import type { ByteTokenizer } from '../tokenizer/index.js';
import type { GptConfig } from './config.js';
import { loadModel, saveModel } from './checkpoint.js';
import { GPT } from './model.js';

export interface TrainOptions {
  out: string;
  batch: number;
  steps: number;
  lr: number;
  minLr: number;
  warmup: number;
  beta1: number;
  beta2: number;
  weightDecay: number;
  clip: number;
  gradAccum: number;
  evalInterval: number;
  evalIters: number;
  checkpointInterval: number;
  seed: number;
  /** Share of tokens (by position) used for training; recorded so --resume splits the same way. */
  trainFraction: number;
  /** Stop after this many seconds (checkpointing first); the run can be resumed. */
  maxSeconds?: number;
  progress: boolean;
  log?: (line: string) => void;
}

export interface TrainResult {
  val_loss: number;
  train_loss: number;
  steps: number;
  tokens_per_s: number;
  seconds: number;
  params: number;
  history: { step: number; train_loss: number; val_loss?: number; lr: number; seconds: number }[];
  stopped?: string;
}

interface TrainerState {
  version: 1;
  step: number;
  optimizerT: number;
  samplerState: number[];
  seed: number;
  elapsedSeconds: number;
  tokensSeen: number;
  options: Omit<TrainOptions, 'log' | 'progress'>;
  history: TrainResult['history'];
  corpus: string;
}

const CKPT = 'checkpoint';

/** Train `cfg` on `splits`, writing checkpoints into opts.out; resumes if opts.out already holds a checkpoint. */
export async function trainLm(
  cfg: GptConfig,
  tok: ByteTokenizer,
  splits: TokenSplits,
  opts: TrainOptions,
  meta: { corpus: string; resume: boolean },
): Promise<TrainResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  mkdirSync(opts.out, { recursive: true });
  const B = opts.batch;
  const Tn = cfg.blockSize;
  let model = new GPT(cfg).initialize(opts.seed);
  const sampler = new BatchSampler(splits.train, B, Tn, opts.seed, 'training');
  if (splits.val.length < Tn + 1) throw new Error(`validation split has ${splits.val.length} tokens, fewer than one context of ${Tn + 1}; use a smaller --block`);
  let state: TrainerState | undefined;
  if (meta.resume) {
    const dir = recoverCheckpointDir(opts.out);
    if (!dir) throw new Error(`--resume: ${opts.out} has no checkpoint to resume from`);
    const loaded = loadModel(dir);
    assertSameConfig(loaded.config, cfg, dir);
    model = loaded.model;
    state = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as TrainerState;
    sampler.rng.setState(state.samplerState);
    log(`resuming from ${dir} at step ${state.step}`);
  }
  const step = await createTrainStep(model, {
    data: [
      { name: 'idx', shape: [B, Tn], dtype: 'int64' },
      { name: 'targets', shape: [B, Tn], dtype: 'int64' },
    ],
    loss: (d, ctx) => model.loss(d.get('idx')!, d.get('targets')!, ctx),
    optimizer: { kind: 'adamw', beta1: opts.beta1, beta2: opts.beta2, eps: 1e-8, weightDecay: opts.weightDecay },
    clipNorm: opts.clip > 0 ? opts.clip : undefined,
    accumulate: opts.gradAccum,
    training: cfg.dropout > 0,
  });
  if (state) {
    const dir = recoverCheckpointDir(opts.out)!;
    const opt = readSafetensorsSync(join(dir, 'optimizer.safetensors'));
    step.loadSlots(new Map([...opt.tensors].map(([k, v]) => [k, f32FromSafeTensor(v)])), state.optimizerT);
  }
  const evalProgram = await buildEvalProgram(model, B, Tn);
  const evaluate = async (): Promise<number> => {
    // fixed validation windows every time, so evaluations are comparable
    const vs = new BatchSampler(splits.val, B, Tn, 0x5eed, 'validation');
    let s = 0;
    for (let i = 0; i < opts.evalIters; i++) {
      const b = vs.next();
      const feeds: Record<string, TypedArray> = { idx: b.idx, targets: b.targets };
      weightFeeds(model, false, feeds);
      s += Number((await evalProgram.run(feeds)).loss!.data[0]);
    }
    return s / opts.evalIters;
  };

  const history: TrainResult['history'] = state?.history ?? [];
  let it = state?.step ?? 0;
  let elapsed = state?.elapsedSeconds ?? 0;
  let tokensSeen = state?.tokensSeen ?? 0;
  let lastTrain = history.length ? history[history.length - 1]!.train_loss : NaN;
  let lastVal = [...history].reverse().find((h) => h.val_loss !== undefined)?.val_loss ?? NaN;
  const tokensPerStep = B * Tn * opts.gradAccum;
  const schedule = { lr: opts.lr, warmup: opts.warmup, decaySteps: opts.steps, minLr: opts.minLr };
  const bar = opts.progress && process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: 'train |{bar}| {value}/{total} | loss {loss} | val {val} | {tps} tok/s | ETA {eta_formatted}', stream: process.stderr, hideCursor: true, etaBuffer: 20 },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(opts.steps, it, { loss: '-', val: Number.isFinite(lastVal) ? lastVal.toFixed(4) : '-', tps: '-' });
  const runStart = performance.now();
  const startElapsed = elapsed;
  const startTokens = tokensSeen;
  const save = () => {
    writeCheckpoint(opts.out, model, tok, step, {
      version: 1,
      step: it,
      optimizerT: step.t,
      samplerState: sampler.rng.state(),
      seed: opts.seed,
      elapsedSeconds: elapsed,
      tokensSeen,
      options: stripFns(opts),
      history,
      corpus: meta.corpus,
    });
  };
  let stopped: string | undefined;
  try {
    while (it < opts.steps) {
      const lr = learningRate(it, schedule);
      const micro = Array.from({ length: opts.gradAccum }, () => sampler.next());
      const r = await step.step(micro, lr, opts.seed * 1000003 + it);
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) {
        stopped = `training diverged at step ${it + 1} (loss ${r.loss}, gradient norm ${r.gradNorm}); stopped, the last good checkpoint in ${join(opts.out, CKPT)} is kept (try a lower --lr)`;
        break;
      }
      it += 1;
      tokensSeen += tokensPerStep;
      elapsed = startElapsed + (performance.now() - runStart) / 1000;
      lastTrain = r.loss;
      const entry: TrainResult['history'][number] = { step: it, train_loss: r.loss, lr, seconds: elapsed };
      if (it % opts.evalInterval === 0 || it === opts.steps) {
        lastVal = await evaluate();
        entry.val_loss = lastVal;
      }
      history.push(entry);
      const tps = (tokensSeen - startTokens) / Math.max(1e-9, elapsed - startElapsed);
      bar?.update(it, { loss: r.loss.toFixed(4), val: Number.isFinite(lastVal) ? lastVal.toFixed(4) : '-', tps: tps.toFixed(0) });
      if (!bar && opts.progress !== false && entry.val_loss !== undefined) {
        log(`step ${it}/${opts.steps} | train loss ${r.loss.toFixed(4)} | val loss ${lastVal.toFixed(4)} | ${tps.toFixed(0)} tok/s | ${elapsed.toFixed(0)} s`);
      }
      if (it % opts.checkpointInterval === 0 || it === opts.steps) save();
      if (opts.maxSeconds !== undefined && elapsed - startElapsed >= opts.maxSeconds && it < opts.steps) {
        save();
        stopped = `stopped after ${opts.maxSeconds}s at step ${it}; resume with --resume`;
        break;
      }
    }
  } finally {
    bar?.stop();
  }
  if (stopped && !stopped.startsWith('stopped after')) {
    await step.release();
    await evalProgram.release();
    throw new Error(stopped);
  }
  if (!stopped) saveModel(opts.out, model, tok, { step: String(it) });
  await step.release();
  await evalProgram.release();
  const secs = elapsed - startElapsed;
  return {
    val_loss: lastVal,
    train_loss: lastTrain,
    steps: it,
    tokens_per_s: (tokensSeen - startTokens) / Math.max(1e-9, secs),
    seconds: secs,
    params: model.parameterCount(),
    history,
    stopped,
  };
}

function stripFns(o: TrainOptions): TrainerState['options'] {
  const { log: _l, progress: _p, ...rest } = o;
  return rest;
}

async function buildEvalProgram(model: GPT, B: number, Tn: number): Promise<Program> {
  const { named, inputs: pT } = paramInputs(model);
  const idx = input('idx', [B, Tn], 'int64');
  const targets = input('targets', [B, Tn], 'int64');
  const loss = withBound(named, pT, () => model.loss(idx, targets, { training: false }));
  return Program.create({ inputs: [...pT.values(), idx, targets], outputs: { loss } });
}

function assertSameConfig(a: GptConfig, b: GptConfig, where: string): void {
  for (const k of ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd', 'bias', 'tiedEmbeddings', 'attention'] as const) {
    if (a[k] !== b[k]) throw new Error(`--resume: checkpoint ${where} has ${k}=${a[k]} but this run asks for ${b[k]}`);
  }
}

/** The usable checkpoint directory, finishing an interrupted swap if needed. */
export function recoverCheckpointDir(out: string): string | undefined {
  const cur = join(out, CKPT);
  const old = join(out, `.${CKPT}-old`);
  if (existsSync(join(cur, 'trainer_state.json'))) return cur;
  if (existsSync(join(old, 'trainer_state.json'))) return old;
  return undefined;
}

/** Write a complete checkpoint into a temp dir, then swap it in with renames (never a half-written checkpoint). */
function writeCheckpoint(out: string, model: GPT, tok: ByteTokenizer, step: TrainStep, state: TrainerState): void {
  const tmp = join(out, `.${CKPT}-tmp`);
  const cur = join(out, CKPT);
  const old = join(out, `.${CKPT}-old`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    saveModel(tmp, model, tok, { step: String(state.step) });
    const slots: Record<string, ReturnType<typeof fromFloat32>> = {};
    const shapes = new Map(step.opts.params.map((q) => [q.name, q.shape]));
    // slot keys are `<slot>.<param name>` and slot names contain no dot
    for (const [k, v] of step.slots()) slots[k] = fromFloat32(v, [...shapes.get(k.slice(k.indexOf('.') + 1))!]);
    writeSafetensorsSync(join(tmp, 'optimizer.safetensors'), slots, { t: String(step.t) });
    writeFileAtomicSync(join(tmp, 'trainer_state.json'), `${JSON.stringify(state)}\n`);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`checkpoint at step ${state.step} failed (${(err as Error).message}); the previous checkpoint in ${cur} is intact`);
  }
  rmSync(old, { recursive: true, force: true });
  if (existsSync(cur)) renameSync(cur, old);
  renameSync(tmp, cur);
  rmSync(old, { recursive: true, force: true });
}
