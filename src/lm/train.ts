// Language-model training on the generic trainer (src/train/trainer.ts): the GPT's next-token loss, random token
// windows from BatchSampler as the batch source, fixed validation windows for evaluation, and Hugging Face-layout
// model directories (safetensors + config.json + tokenizer) as the checkpoint's model files.

import { BatchSampler, type TokenSplits } from '../data/tokens.js';
import type { ByteTokenizer } from '../tokenizer/index.js';
import { readTrainerState, recoverCheckpointDir, train, type BatchSource, type CheckpointIO, type HistoryEntry } from '../train/index.js';
import type { GptConfig } from './config.js';
import { loadModel, saveModel } from './checkpoint.js';
import { GPT } from './model.js';

export { recoverCheckpointDir };

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
  history: HistoryEntry[];
  stopped?: string;
}

/** What `lm train` keeps in trainer_state.json's `meta` to resume from the checkpoint alone. */
export interface LmTrainMeta {
  corpus: string;
  options: Omit<TrainOptions, 'log' | 'progress'>;
}

/** The LM's meta from a checkpoint dir (trainer_state.json version 1 or 2). */
export function readLmTrainMeta(dir: string): LmTrainMeta {
  const meta = readTrainerState(dir).meta as Partial<LmTrainMeta> | null;
  if (!meta || typeof meta.corpus !== 'string' || typeof meta.options !== 'object') {
    throw new Error(`${dir}: not a language-model checkpoint (its trainer state has no corpus and options)`);
  }
  return meta as LmTrainMeta;
}

/** Random (B, T) token windows; the state is the sampler's RNG state (as version 1 checkpoints stored it). */
export function samplerSource(sampler: BatchSampler): BatchSource {
  return {
    next: () => sampler.next(),
    state: () => sampler.rng.state(),
    setState: (s) => {
      if (!Array.isArray(s) || s.length !== 4 || !s.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
        throw new Error(`expected the sampler's RNG state (4 unsigned 32-bit integers), got ${JSON.stringify(s)}`);
      }
      sampler.rng.setState(s);
    },
  };
}

/** The GPT's model files: HF-layout safetensors, config.json and the tokenizer; loading checks the architecture. */
export function gptCheckpointIO(cfg: GptConfig, tok: ByteTokenizer): CheckpointIO<GPT> {
  return {
    save: (dir, model, { step }) => saveModel(dir, model, tok, { step: String(step) }),
    load: (dir) => {
      const loaded = loadModel(dir);
      assertSameConfig(loaded.config, cfg, dir);
      return loaded.model;
    },
  };
}

/** Train `cfg` on `splits`, writing checkpoints into opts.out; resumes from opts.out's checkpoint with meta.resume. */
export async function trainLm(
  cfg: GptConfig,
  tok: ByteTokenizer,
  splits: TokenSplits,
  opts: TrainOptions,
  meta: { corpus: string; resume: boolean },
): Promise<TrainResult> {
  const B = opts.batch;
  const Tn = cfg.blockSize;
  const sampler = new BatchSampler(splits.train, B, Tn, opts.seed, 'training');
  if (splits.val.length < Tn + 1) throw new Error(`validation split has ${splits.val.length} tokens, fewer than one context of ${Tn + 1}; use a smaller --block`);
  const { log: _l, progress: _p, ...recorded } = opts;
  const r = await train<GPT>({
    model: new GPT(cfg).initialize(opts.seed),
    loss: (model, d, ctx) => model.loss(d.get('idx')!, d.get('targets')!, ctx),
    data: [
      { name: 'idx', shape: [B, Tn], dtype: 'int64' },
      { name: 'targets', shape: [B, Tn], dtype: 'int64' },
    ],
    batches: samplerSource(sampler),
    io: gptCheckpointIO(cfg, tok),
    out: opts.out,
    resume: meta.resume,
    steps: opts.steps,
    lr: opts.lr,
    minLr: opts.minLr,
    warmup: opts.warmup,
    adamw: { beta1: opts.beta1, beta2: opts.beta2, eps: 1e-8, weightDecay: opts.weightDecay },
    gradAccum: opts.gradAccum,
    clip: opts.clip,
    training: cfg.dropout > 0,
    seed: opts.seed,
    eval: {
      interval: opts.evalInterval,
      iters: opts.evalIters,
      // the same validation windows every time, so evaluations are comparable
      batches: () => {
        const vs = new BatchSampler(splits.val, B, Tn, 0x5eed, 'validation');
        return { next: () => vs.next() };
      },
    },
    checkpointInterval: opts.checkpointInterval,
    maxSeconds: opts.maxSeconds,
    progress: opts.progress,
    log: opts.log,
    unitsPerBatch: B * Tn,
    unit: 'tok',
    meta: { corpus: meta.corpus, options: recorded } satisfies LmTrainMeta,
  });
  return {
    val_loss: r.val_loss,
    train_loss: r.train_loss,
    steps: r.steps,
    tokens_per_s: r.units_per_s,
    seconds: r.seconds,
    params: r.params,
    history: r.history,
    stopped: r.stopped,
  };
}

function assertSameConfig(a: GptConfig, b: GptConfig, where: string): void {
  for (const k of ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd', 'bias', 'tiedEmbeddings', 'attention'] as const) {
    if (a[k] !== b[k]) throw new Error(`--resume: checkpoint ${where} has ${k}=${a[k]} but this run asks for ${b[k]}`);
  }
}
