// Training CLIP on captioned images through the shared resumable trainer (src/train/trainer.ts): AdamW (β2 0.98,
// eps 1e-6, weight decay 0.2 as in the CLIP paper), linear warmup + cosine decay, the symmetric contrastive loss of
// src/image/clip.ts, and a batch source that resumes exactly. Afterwards, image→text retrieval accuracy is measured on
// the held-out examples (or, without any, on up to 512 training examples) and written to `<out>/metrics.json`.
//
// Duplicate captions. The contrastive loss treats every other caption in the batch as a negative, so two examples with
// the same caption in one batch would push an image away from its own caption. The batch source therefore skips an
// example whose caption (its token ids) is already in the batch being drawn and defers it to the front of the next
// batch; nothing is dropped, and an epoch still covers every example. Once a batch holds every distinct caption of
// the data set, duplicates are allowed (there is no other way to fill it), and at most `4 · batch` examples wait
// deferred. Near-duplicates (e.g. shapes captions that differ in one word) stay in as negatives: those false negatives
// are inherent to the data and are not corrected for.

import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import { Rng } from '../nn/init.js';
import { train, type Batch, type BatchSource, type HistoryEntry } from '../train/trainer.js';
import { checkImages, ClipModel, clipCheckpointIO, cosineMatrix, padTextIds, validateClipConfig, type ClipConfig, type ClipTokenizerRecord } from './clip.js';
import { imageLength, type RgbImage } from './types.js';

export interface ClipExample {
  /** Caption token ids (at most config.textLength; padded with padId). */
  textIds: number[];
  image: RgbImage;
}

export interface TrainClipOptions {
  config: ClipConfig;
  examples: ClipExample[];
  /** Held-out pairs: evaluation loss during training and the retrieval accuracy at the end. */
  heldOut?: ClipExample[];
  /** Output directory: the finished model, `checkpoint/`, metrics.json. */
  out: string;
  steps: number;
  /** Pairs per batch (the contrastive matrix is batch × batch). */
  batch: number;
  /** Peak learning rate. */
  lr: number;
  seed: number;
  resume?: boolean;
  /** Stop (checkpointed, resumable) after this many seconds of this run. */
  maxSeconds?: number;
  /** Stop (checkpointed, resumable) once this step is reached. */
  stopAtStep?: number;
  /** Warmup steps (default: a tenth of the steps, at most 200). */
  warmup?: number;
  /** AdamW weight decay (default 0.2). */
  weightDecay?: number;
  /** Evaluation and checkpoint interval in steps (default: a fifth of the steps). */
  evalInterval?: number;
  /** Recorded with the model (config.json `tokenizer_fingerprint` etc.). */
  tokenizer?: ClipTokenizerRecord;
  log?: (line: string) => void;
  progress?: boolean;
}

export interface RetrievalAccuracy {
  /** Which examples were evaluated. */
  on: 'held_out' | 'train';
  examples: number;
  /** Image→text top-1 among the captions of consecutive chunks of `batch` examples (a duplicate caption counts as right). */
  inBatch: { batch: number; top1: number };
  /** Image→text top-1 among every distinct caption of the training and held-out sets. */
  allCaptions: { candidates: number; top1: number };
}

export interface TrainClipResult {
  model: ClipModel;
  steps: number;
  train_loss: number;
  /** Last held-out loss (NaN without held-out batches). */
  val_loss: number;
  seconds: number;
  params: number;
  history: HistoryEntry[];
  /** Set when the run stopped early (time limit, stopAtStep); resumable, no retrieval measured. */
  stopped?: string;
  retrieval?: RetrievalAccuracy;
}

/** Caption key of token ids: equal captions, equal keys. */
function captionKey(ids: readonly number[]): string {
  return ids.join(',');
}

/** Check every example up front so a bad one is named before any training. */
function checkExamples(examples: readonly ClipExample[], cfg: ClipConfig, what: string): void {
  examples.forEach((ex, i) => {
    try {
      if (!ex || !Array.isArray(ex.textIds)) throw new Error('textIds is not an array');
      padTextIds([ex.textIds], cfg);
      checkImages([ex.image], cfg.imageSize);
    } catch (err) {
      throw new Error(`${what} example ${i}: ${(err as Error).message.replace(/^CLIP: (caption|image) 0 /, '$1 ')}`);
    }
  });
}

interface CaptionBatchState {
  epoch: number;
  cursor: number;
  deferred: number[];
}

/**
 * Batches of `batch` examples in a seeded per-epoch shuffle, avoiding duplicate captions within a batch (see the
 * header). State: epoch, position in its permutation, the deferred examples — exact resume.
 */
export class CaptionBatchSource implements BatchSource {
  private epoch = 0;
  private cursor = 0;
  private deferred: number[] = [];
  private perm: Uint32Array;
  private readonly captionIds: Int32Array;
  private readonly distinct: number;
  private readonly maxDeferred: number;

  constructor(
    readonly examples: readonly ClipExample[],
    readonly batch: number,
    readonly seed: number,
    readonly cfg: ClipConfig,
  ) {
    if (examples.length === 0) throw new Error('CLIP training needs at least one example');
    const ids = new Map<string, number>();
    this.captionIds = Int32Array.from(examples, (ex) => {
      const k = captionKey(ex.textIds);
      if (!ids.has(k)) ids.set(k, ids.size);
      return ids.get(k)!;
    });
    this.distinct = ids.size;
    this.maxDeferred = 4 * batch;
    this.perm = this.permutation(0);
  }

  private permutation(epoch: number): Uint32Array {
    const n = this.examples.length;
    const p = Uint32Array.from({ length: n }, (_, i) => i);
    const rng = new Rng((this.seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    return p;
  }

  private take(): number {
    if (this.cursor >= this.perm.length) {
      this.epoch += 1;
      this.cursor = 0;
      this.perm = this.permutation(this.epoch);
    }
    return this.perm[this.cursor++]!;
  }

  /** Example indices of the next batch. */
  nextIndices(): number[] {
    const chosen: number[] = [];
    const seen = new Set<number>();
    const waiting: number[] = [];
    const fits = (i: number) => !seen.has(this.captionIds[i]!) || seen.size >= this.distinct;
    const add = (i: number) => {
      chosen.push(i);
      seen.add(this.captionIds[i]!);
    };
    for (const i of this.deferred) {
      if (chosen.length < this.batch && fits(i)) add(i);
      else waiting.push(i);
    }
    while (chosen.length < this.batch) {
      const i = this.take();
      if (fits(i) || waiting.length >= this.maxDeferred) add(i);
      else waiting.push(i);
    }
    this.deferred = waiting;
    return chosen;
  }

  next(): Batch {
    return packBatch(this.examples, this.nextIndices(), this.cfg);
  }

  state(): CaptionBatchState {
    return { epoch: this.epoch, cursor: this.cursor, deferred: [...this.deferred] };
  }

  setState(s: unknown): void {
    const st = s as CaptionBatchState;
    const n = this.examples.length;
    const okIndex = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < n;
    if (!st || !Number.isInteger(st.epoch) || st.epoch < 0 || !Number.isInteger(st.cursor) || st.cursor < 0 || st.cursor > n || !Array.isArray(st.deferred) || !st.deferred.every(okIndex)) {
      throw new Error(`the CLIP batch position ${JSON.stringify(s)} does not fit this data set of ${n} examples`);
    }
    this.epoch = st.epoch;
    this.cursor = st.cursor;
    this.deferred = [...st.deferred];
    this.perm = this.permutation(st.epoch);
  }
}

/** (B, L) int64 ids and (B, 3, S, S) images of the chosen examples. */
function packBatch(examples: readonly ClipExample[], indices: readonly number[], cfg: ClipConfig): Batch {
  const S = cfg.imageSize;
  const n = imageLength(S);
  const image = new Float32Array(indices.length * n);
  indices.forEach((ex, b) => image.set(examples[ex]!.image.data, b * n));
  const text = padTextIds(indices.map((i) => examples[i]!.textIds), cfg);
  return { text, image };
}

/** Train a CLIP model; see the header for batching. Resumes exactly with `resume: true`. */
export async function trainClip(opts: TrainClipOptions): Promise<TrainClipResult> {
  const cfg = opts.config;
  validateClipConfig(cfg);
  const B = opts.batch;
  if (!Number.isInteger(B) || B < 2) throw new Error(`batch must be an integer ≥ 2 (the contrastive loss needs negatives), got ${B}`);
  checkExamples(opts.examples, cfg, 'training');
  const heldOut = opts.heldOut ?? [];
  checkExamples(heldOut, cfg, 'held-out');
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const S = cfg.imageSize;
  const L = cfg.textLength;
  const interval = opts.evalInterval ?? Math.max(1, Math.floor(opts.steps / 5));
  const evalIters = Math.min(4, Math.floor(heldOut.length / B));

  const model = new ClipModel(cfg, opts.tokenizer ?? {}).initialize(opts.seed);
  const r = await train<ClipModel>({
    model,
    loss: (m, d, ctx) => m.loss(d.get('image')!, d.get('text')!, ctx),
    data: [
      { name: 'text', shape: [B, L], dtype: 'int64' },
      { name: 'image', shape: [B, 3, S, S], dtype: 'float32' },
    ],
    batches: new CaptionBatchSource(opts.examples, B, opts.seed, cfg),
    io: clipCheckpointIO(),
    out: opts.out,
    steps: opts.steps,
    resume: opts.resume,
    lr: opts.lr,
    warmup: opts.warmup ?? Math.min(200, Math.floor(opts.steps / 10)),
    adamw: { beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: opts.weightDecay ?? 0.2 },
    clip: 1,
    seed: opts.seed,
    eval:
      evalIters > 0
        ? {
            interval,
            evaluate: async (lossOf) => {
              const src = new CaptionBatchSource(heldOut, B, 1234567, cfg);
              let s = 0;
              for (let i = 0; i < evalIters; i++) s += await lossOf(src.next());
              return s / evalIters;
            },
          }
        : undefined,
    checkpointInterval: interval,
    maxSeconds: opts.maxSeconds,
    stopAtStep: opts.stopAtStep,
    progress: opts.progress,
    log,
    unitsPerBatch: B,
    unit: 'pairs',
    label: 'clip',
    meta: { kind: 'clip', examples: opts.examples.length, heldOut: heldOut.length, batch: B },
  });

  const result: TrainClipResult = {
    model: r.model,
    steps: r.steps,
    train_loss: r.train_loss,
    val_loss: r.val_loss,
    seconds: r.seconds,
    params: r.params,
    history: r.history,
    stopped: r.stopped,
  };
  if (!r.stopped) {
    const on = heldOut.length > 0 ? 'held_out' : 'train';
    const evalSet = heldOut.length > 0 ? heldOut : opts.examples.slice(0, 512);
    try {
      result.retrieval = await retrievalAccuracy(r.model, evalSet, [...opts.examples, ...heldOut], B, on);
    } finally {
      await r.model.release();
    }
    const acc = result.retrieval;
    log(`clip retrieval (${acc.on}, ${acc.examples} images): top-1 ${(100 * acc.inBatch.top1).toFixed(1)}% in batches of ${acc.inBatch.batch}, ${(100 * acc.allCaptions.top1).toFixed(1)}% among ${acc.allCaptions.candidates} captions`);
  }
  const metrics = {
    model_type: 'tessera-clip',
    steps: result.steps,
    train_loss: result.train_loss,
    val_loss: Number.isFinite(result.val_loss) ? result.val_loss : null,
    seconds: result.seconds,
    params: result.params,
    stopped: result.stopped ?? null,
    retrieval: result.retrieval ?? null,
  };
  writeFileAtomicSync(join(opts.out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  return result;
}

/** Embeddings of many inputs in chunks of `chunk` (one compiled program per chunk size). */
async function encodeChunked<X>(items: readonly X[], chunk: number, encode: (xs: X[]) => Promise<Float32Array>, D: number): Promise<Float32Array> {
  const out = new Float32Array(items.length * D);
  for (let i = 0; i < items.length; i += chunk) out.set(await encode(items.slice(i, i + chunk)), i * D);
  return out;
}

function argmaxRow(m: Float32Array, row: number, cols: number, pick?: readonly number[]): number {
  const idx = pick ?? Array.from({ length: cols }, (_, j) => j);
  let best = idx[0]!;
  for (const j of idx) if (m[row * cols + j]! > m[row * cols + best]!) best = j;
  return best;
}

/**
 * Image→text top-1 accuracy of `model` on `evalSet`: within consecutive chunks of `batch` examples, and among all
 * distinct captions of `allExamples`. A prediction is right when the chosen caption's ids equal the image's caption.
 */
export async function retrievalAccuracy(
  model: ClipModel,
  evalSet: readonly ClipExample[],
  allExamples: readonly ClipExample[],
  batch: number,
  on: RetrievalAccuracy['on'],
): Promise<RetrievalAccuracy> {
  const D = model.config.embedDim;
  const N = evalSet.length;
  const captions = new Map<string, number[]>();
  for (const ex of [...evalSet, ...allExamples]) if (!captions.has(captionKey(ex.textIds))) captions.set(captionKey(ex.textIds), ex.textIds);
  const keys = [...captions.keys()];
  const keyIndex = new Map(keys.map((k, i) => [k, i]));
  const img = await encodeChunked(evalSet.map((e) => e.image), batch, (xs) => model.encodeImages(xs), D);
  const txt = await encodeChunked([...captions.values()], batch, (xs) => model.encodeTexts(xs), D);
  const sims = cosineMatrix(img, txt, D); // (N, C)
  const C = keys.length;
  let inBatch = 0;
  let all = 0;
  for (let i = 0; i < N; i++) {
    const own = keyIndex.get(captionKey(evalSet[i]!.textIds))!;
    if (argmaxRow(sims, i, C) === own) all += 1;
    const start = Math.floor(i / batch) * batch;
    const chunk = evalSet.slice(start, start + batch).map((e) => keyIndex.get(captionKey(e.textIds))!);
    if (argmaxRow(sims, i, C, chunk) === own) inBatch += 1;
  }
  return { on, examples: N, inBatch: { batch, top1: N ? inBatch / N : NaN }, allCaptions: { candidates: C, top1: N ? all / N : NaN } };
}
