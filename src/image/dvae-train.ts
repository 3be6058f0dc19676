// Training the dVAE on the shared resumable trainer (src/train), with the paper's recipe scaled to the run (App. A.2):
// AdamW (0.9, 0.999, wd 1e-4), cosine LR to lr/80 (1e-4 → 1.25e-6), τ cosine 1 → 1/16 and the KL weight β cosine
// 0 → 6.6, then fixed. The paper anneals τ over 150k and β over 5k of the 1.2M updates its LR decays over; the run
// here decays its LR over `steps`, so by default τ anneals over 150/1200 of the steps and β over 5/1200 (≥ 1 step).
// τ and β are data inputs supplied by the batch source for its step, so the schedules never recompile, and the
// source's state (step + RNG) is checkpointed, so --resume continues exactly. After training: held-out PSNR of the
// argmax-token reconstructions and codebook usage, returned and written to <out>/metrics.json.

import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import { Rng } from '../nn/init.js';
import { train, type Batch, type BatchSource, type CheckpointIO, type DataSpec, type TrainerResult } from '../train/index.js';
import { loadDvae, saveDvae, validateDvaeConfig, Dvae, type DvaeConfig } from './dvae.js';
import { gumbelDvaeLoss, vqDvaeLoss, VQ_COMMITMENT, type ReconstructionLoss } from './dvae-loss.js';
import { imageLength, type RgbImage } from './types.js';

// ---- schedules ----

/** Cosine from `start` (step 0) to `end` (step ≥ `over`), then fixed at `end`. */
export function cosineRamp(step: number, start: number, end: number, over: number): number {
  if (over <= 0 || step >= over) return end;
  return end + ((start - end) * (1 + Math.cos((Math.PI * step) / over))) / 2;
}

export interface DvaeSchedule {
  tauStart: number;
  tauEnd: number;
  tauSteps: number;
  betaStart: number;
  betaEnd: number;
  betaSteps: number;
}

/** The paper's schedules scaled to a run of `steps` updates (see the header); any field can be overridden. */
export function paperSchedule(steps: number, over: Partial<DvaeSchedule> = {}): DvaeSchedule {
  return {
    tauStart: 1,
    tauEnd: 1 / 16,
    tauSteps: Math.max(1, Math.round((steps * 150) / 1200)),
    betaStart: 0,
    betaEnd: 6.6,
    betaSteps: Math.max(1, Math.round((steps * 5) / 1200)),
    ...over,
  };
}

export function scheduleAt(s: DvaeSchedule, step: number): { tau: number; beta: number } {
  return { tau: cosineRamp(step, s.tauStart, s.tauEnd, s.tauSteps), beta: cosineRamp(step, s.betaStart, s.betaEnd, s.betaSteps) };
}

// ---- batches ----

/** Random batches (with replacement) of `batch` images, plus τ and β for the step each batch is drawn for. */
export class DvaeBatchSource implements BatchSource {
  private rng: Rng;
  private step = 0;
  private readonly pixels: Float32Array;
  private readonly per: number;

  constructor(
    readonly images: readonly RgbImage[],
    readonly size: number,
    readonly batch: number,
    seed: number,
    readonly schedule: DvaeSchedule,
    readonly withSchedule = true,
  ) {
    if (images.length === 0) throw new Error('dVAE training needs at least one image');
    this.rng = new Rng(seed);
    this.per = imageLength(size);
    this.pixels = new Float32Array(images.length * this.per);
    images.forEach((im, i) => {
      if (im.width !== size || im.height !== size || im.data.length !== this.per) {
        throw new Error(`dVAE training image ${i} is ${im.width}×${im.height} (${im.data.length} values), the dVAE takes ${size}×${size}×3`);
      }
      this.pixels.set(im.data, i * this.per);
    });
  }

  next(): Batch {
    const x = new Float32Array(this.batch * this.per); // (B, 3, S, S)
    for (let b = 0; b < this.batch; b++) {
      const i = this.rng.int(this.images.length);
      x.set(this.pixels.subarray(i * this.per, (i + 1) * this.per), b * this.per);
    }
    const { tau, beta } = scheduleAt(this.schedule, this.step);
    this.step += 1;
    return this.withSchedule ? { x, tau: Float32Array.of(tau), beta: Float32Array.of(beta) } : { x };
  }

  state(): unknown {
    return { step: this.step, rng: this.rng.state() };
  }

  setState(s: unknown): void {
    const st = s as { step?: unknown; rng?: unknown };
    if (!st || !Number.isInteger(st.step) || !Array.isArray(st.rng) || st.rng.length !== 4) {
      throw new Error(`expected {step, rng: [4 numbers]} (a dVAE batch source state), got ${JSON.stringify(s)}`);
    }
    this.step = st.step as number;
    this.rng.setState(st.rng as number[]);
  }
}

// ---- checkpoint io ----

/** The dVAE directory as the trainer's model files; load checks the checkpoint's config equals the model's. */
export function dvaeIO(meta?: Record<string, unknown>): CheckpointIO<Dvae> {
  return {
    save: (dir, model, info) => saveDvae(dir, model, { ...meta, step: info.step }),
    load: (dir, model) => {
      const loaded = loadDvae(dir);
      const diff = (Object.keys(model.config) as (keyof DvaeConfig)[])
        .filter((k) => loaded.config[k] !== model.config[k])
        .map((k) => `${k}: checkpoint ${JSON.stringify(loaded.config[k])}, requested ${JSON.stringify(model.config[k])}`);
      if (diff.length) throw new Error(`${dir}: the checkpoint's dVAE config differs from the one being trained (${diff.join('; ')})`);
      model.loadStateDict(loaded.stateDict(), dir);
      return model;
    },
  };
}

// ---- metrics ----

export interface DvaeMetrics {
  images: number;
  /** Mean over images of 10·log10(1 / MSE) of the argmax-token reconstruction vs the input, pixels in [0, 1]. */
  psnr: number;
  /** Mean squared error over all sub-pixels. */
  mse: number;
  /** exp(entropy) of the code frequencies over all token positions (K when every code is equally used). */
  perplexity: number;
  usedCodes: number;
  /** Codes never chosen on these images. */
  deadCodes: number;
  vocabSize: number;
}

/** Reconstruction PSNR (argmax tokens → decode → vs input) and codebook usage of `vae` on `images`. */
export async function dvaeMetrics(vae: Dvae, images: readonly RgbImage[]): Promise<DvaeMetrics> {
  const K = vae.config.vocabSize;
  if (images.length === 0) return { images: 0, psnr: NaN, mse: NaN, perplexity: NaN, usedCodes: 0, deadCodes: K, vocabSize: K };
  const tokens = await vae.encodeTokens(images);
  const recon = await vae.decodeTokens(tokens);
  let psnrSum = 0;
  let seSum = 0;
  let count = 0;
  images.forEach((im, i) => {
    const r = recon[i]!.data;
    let se = 0;
    for (let j = 0; j < im.data.length; j++) se += (r[j]! - im.data[j]!) ** 2;
    seSum += se;
    count += im.data.length;
    // a perfect reconstruction is capped at 100 dB
    psnrSum += Math.min(100, 10 * Math.log10(1 / Math.max(se / im.data.length, 1e-10)));
  });
  const freq = new Float64Array(K);
  for (const t of tokens) freq[t]! += 1;
  let ent = 0;
  let used = 0;
  for (const f of freq) {
    if (f === 0) continue;
    used++;
    const p = f / tokens.length;
    ent -= p * Math.log(p);
  }
  return { images: images.length, psnr: psnrSum / images.length, mse: seSum / count, perplexity: Math.exp(ent), usedCodes: used, deadCodes: K - used, vocabSize: K };
}

// ---- the training run ----

/** The first `batch` images (cycled when fewer) as one batch, at the final τ and β. */
function fixedBatch(images: readonly RgbImage[], size: number, batch: number, withSchedule: boolean, s: DvaeSchedule): Batch {
  const per = imageLength(size);
  const x = new Float32Array(batch * per); // (B, 3, S, S)
  for (let b = 0; b < batch; b++) x.set(images[b % images.length]!.data, b * per);
  return withSchedule ? { x, tau: Float32Array.of(s.tauEnd), beta: Float32Array.of(s.betaEnd) } : { x };
}

export interface TrainDvaeOptions {
  images: readonly RgbImage[];
  heldOut: readonly RgbImage[];
  config: DvaeConfig;
  /** Output directory: the dVAE directory at the end, checkpoints in <out>/checkpoint, metrics.json. */
  out: string;
  steps: number;
  batch: number;
  /** Peak learning rate (paper 1e-4; small runs want more, e.g. 1e-3). */
  lr: number;
  /** LR floor (default lr/80, the paper's 1e-4 → 1.25e-6). */
  minLr?: number;
  warmup?: number;
  seed: number;
  resume?: boolean;
  maxSeconds?: number;
  /** Stop at this step (checkpointed, resumable). */
  stopAtStep?: number;
  checkpointInterval?: number;
  /**
   * Evaluate every this many steps (default steps/10, 0: never) on one fixed batch of held-out images (repeated
   * to fill the batch) at the schedule's final τ and β, without Gumbel noise.
   */
  evalInterval?: number;
  /** Overrides of the scaled paper schedules. */
  schedule?: Partial<DvaeSchedule>;
  /** AdamW weight decay (default 1e-4). */
  weightDecay?: number;
  /** VQ commitment weight (default 0.25). */
  commitment?: number;
  /** Gumbel: the reconstruction term (default the paper's logit-Laplace; see dvae-loss.ts for MSE). */
  reconstruction?: ReconstructionLoss;
  /** Gumbel: weight of the codebook-diversity penalty (default 0, the paper has none). */
  diversity?: number;
  /** Global gradient-norm clip (default none). */
  clip?: number;
  log?: (line: string) => void;
  progress?: boolean;
  /** Stored in config.json's meta (e.g. a dataset description). */
  meta?: Record<string, unknown>;
}

export interface TrainDvaeResult {
  vae: Dvae;
  train: TrainerResult<Dvae>;
  /** Held-out metrics (absent when the run stopped early). */
  metrics?: DvaeMetrics;
}

/** Train a dVAE (Gumbel or VQ per config.quantizer); resumable with `resume: true`. */
export async function trainDvae(o: TrainDvaeOptions): Promise<TrainDvaeResult> {
  const config = validateDvaeConfig(o.config);
  if (!Number.isInteger(o.batch) || o.batch < 1) throw new Error(`batch must be a positive integer, got ${o.batch}`);
  const S = config.inputSize;
  o.heldOut.forEach((im, i) => {
    if (im.width !== S || im.height !== S || im.data.length !== imageLength(S)) {
      throw new Error(`dVAE held-out image ${i} is ${im.width}×${im.height}, the dVAE takes ${S}×${S}×3`);
    }
  });
  const schedule = paperSchedule(o.steps, o.schedule);
  const gumbel = config.quantizer === 'gumbel';
  const batches = new DvaeBatchSource(o.images, S, o.batch, o.seed, schedule, gumbel);
  const data: DataSpec[] = [{ name: 'x', shape: [o.batch, config.inputChannels, S, S] }];
  if (gumbel) data.push({ name: 'tau', shape: [1] }, { name: 'beta', shape: [1] });
  const commitment = o.commitment ?? VQ_COMMITMENT;
  const model = new Dvae(config).initialize(o.seed);
  const meta = { ...o.meta, schedule, images: o.images.length, reconstruction: o.reconstruction ?? 'logit-laplace', diversity: o.diversity ?? 0 };
  const evalInterval = o.evalInterval ?? Math.max(1, Math.round(o.steps / 10));
  const evalBatch = o.heldOut.length && evalInterval > 0 ? fixedBatch(o.heldOut, S, o.batch, gumbel, schedule) : undefined;
  const result = await train<Dvae>({
    model,
    loss: (m, d, ctx) =>
      gumbel ? gumbelDvaeLoss(m, d.get('x')!, d.get('tau')!, d.get('beta')!, ctx, { reconstruction: o.reconstruction, diversity: o.diversity }).loss : vqDvaeLoss(m, d.get('x')!, commitment).loss,
    data,
    batches,
    io: dvaeIO(meta),
    out: o.out,
    steps: o.steps,
    resume: o.resume,
    lr: o.lr,
    minLr: o.minLr ?? o.lr / 80,
    warmup: o.warmup ?? 0,
    adamw: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weightDecay ?? 1e-4 },
    clip: o.clip,
    seed: o.seed,
    checkpointInterval: o.checkpointInterval ?? (evalBatch ? evalInterval : undefined),
    eval: evalBatch ? { interval: evalInterval, iters: 1, batches: () => ({ next: () => evalBatch }) } : undefined,
    maxSeconds: o.maxSeconds,
    stopAtStep: o.stopAtStep,
    progress: o.progress,
    log: o.log,
    unitsPerBatch: o.batch,
    unit: 'img',
    label: 'dvae',
    meta: { config },
  });
  const vae = result.model;
  if (result.stopped) return { vae, train: result };
  const evalImages = o.heldOut.length ? o.heldOut : o.images;
  const metrics = await dvaeMetrics(vae, evalImages);
  const record = { ...metrics, on: o.heldOut.length ? 'held-out' : 'train', steps: result.steps, train_loss: result.train_loss };
  writeFileAtomicSync(join(o.out, 'metrics.json'), `${JSON.stringify(record, null, 2)}\n`);
  o.log?.(`dvae: held-out PSNR ${metrics.psnr.toFixed(2)} dB, codebook perplexity ${metrics.perplexity.toFixed(1)} of ${metrics.vocabSize}, ${metrics.deadCodes} dead codes`);
  return { vae, train: result, metrics };
}
