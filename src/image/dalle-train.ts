// Training the DALL·E transformer through the shared resumable trainer (src/train/trainer.ts) with the paper's
// optimizer settings (appendix B.2: AdamW β 0.9 / 0.96, weight decay 4.5e-2, gradient clip 4; cosine LR here instead
// of halving on plateaus). The batch source walks the examples in a fresh seeded permutation per epoch and does
// classifier-free-guidance caption dropout on the host (caption → all pads with probability nullCaptionProb); its
// state — epoch, position and the dropout RNG — is saved in every checkpoint, so a resumed run draws exactly the
// batches (and dropped captions) an uninterrupted one would. Returns the trainer's result and the text / image /
// total losses (caption dropout off) on the training examples and on held-out examples when given.

import { CompiledModule } from '../runtime/compiled-module.js';
import { input } from '../engine/ops/core.js';
import { Rng, hashString } from '../nn/init.js';
import { EVAL } from '../nn/layers.js';
import { train, type Batch, type BatchSource, type DataSpec, type TrainerResult } from '../train/trainer.js';
import { dalleCheckpointIO, DalleLayout, DalleModel, type DalleConfig } from './dalle.js';
import type { CaptionTokenizer } from './text-tokenizer.js';

export interface DalleExample {
  /** Caption BPE ids (at most textLength; see CaptionTokenizer.encodeCaption). */
  textIds: readonly number[];
  /** The dVAE's h·w codes (0 … K−1) in raster order. */
  imageTokens: ArrayLike<number>;
}

export interface LossParts {
  text: number;
  image: number;
  total: number;
  examples: number;
}

export interface TrainDalleOptions {
  config: DalleConfig;
  examples: readonly DalleExample[];
  heldOut?: readonly DalleExample[];
  /** Saved with the model (its files go into every checkpoint and the finished model dir). */
  tokenizer?: CaptionTokenizer;
  /** Recorded in config.json's dvae block. */
  dvaeName?: string;
  out: string;
  steps: number;
  batch: number;
  lr: number;
  minLr?: number;
  warmup?: number;
  seed: number;
  resume?: boolean;
  maxSeconds?: number;
  stopAtStep?: number;
  /** Held-out loss every this many steps (needs heldOut; default: none during training). */
  evalInterval?: number;
  checkpointInterval?: number;
  gradAccum?: number;
  log?: (line: string) => void;
  progress?: boolean;
  /** At most this many training examples for the final loss report (default 512). */
  reportExamples?: number;
  /** An initialized model to start from (default: DalleModel(config) initialized from seed). */
  model?: DalleModel;
  meta?: unknown;
}

export interface TrainDalleResult {
  result: TrainerResult<DalleModel>;
  model: DalleModel;
  losses: { train: LossParts; heldOut?: LossParts };
}

function dataSpecs(lay: DalleLayout, B: number): DataSpec[] {
  return [
    { name: 'idx', shape: [B, lay.inputLength], dtype: 'int64' },
    { name: 'text_targets', shape: [B, lay.cfg.textLength], dtype: 'int64' },
    { name: 'image_targets', shape: [B, lay.imageLength], dtype: 'int64' },
  ];
}

/** Fill row b of a batch with example `ex` (caption replaced by pads when nullCaption). */
function fillRow(lay: DalleLayout, batch: Batch, b: number, ex: DalleExample, nullCaption: boolean): void {
  const e = lay.example(ex.textIds, ex.imageTokens, nullCaption);
  const set = (name: string, vals: number[]) => {
    const a = batch[name] as BigInt64Array;
    for (let i = 0; i < vals.length; i++) a[b * vals.length + i] = BigInt(vals[i]!);
  };
  set('idx', e.idx);
  set('text_targets', e.textTargets);
  set('image_targets', e.imageTargets);
}

function emptyBatch(lay: DalleLayout, B: number): Batch {
  return {
    idx: new BigInt64Array(B * lay.inputLength),
    text_targets: new BigInt64Array(B * lay.cfg.textLength),
    image_targets: new BigInt64Array(B * lay.imageLength),
  };
}

interface SourceState {
  epoch: number;
  pos: number;
  dropRng: number[];
  examples: number;
}

/** Seeded epoch permutations of the examples, with host-side caption dropout; resumable exactly. */
export class DalleBatchSource implements BatchSource {
  private epoch = 0;
  private pos = 0;
  private order: Int32Array;
  private readonly dropRng: Rng;

  constructor(
    readonly layout: DalleLayout,
    readonly examples: readonly DalleExample[],
    readonly batch: number,
    readonly seed: number,
    readonly nullCaptionProb: number,
  ) {
    if (examples.length === 0) throw new Error('no training examples');
    examples.forEach((ex, i) => {
      try {
        layout.example(ex.textIds, ex.imageTokens);
      } catch (err) {
        throw new Error(`training example ${i}: ${(err as Error).message}`);
      }
    });
    this.dropRng = new Rng(hashString(`dalle-caption-dropout:${seed}`));
    this.order = this.permutation(0);
  }

  private permutation(epoch: number): Int32Array {
    const rng = new Rng(hashString(`dalle-epoch:${this.seed}:${epoch}`));
    const p = Int32Array.from({ length: this.examples.length }, (_, i) => i);
    for (let i = p.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    return p;
  }

  next(): Batch {
    const out = emptyBatch(this.layout, this.batch);
    for (let b = 0; b < this.batch; b++) {
      if (this.pos >= this.order.length) {
        this.epoch += 1;
        this.pos = 0;
        this.order = this.permutation(this.epoch);
      }
      const ex = this.examples[this.order[this.pos++]!]!;
      const drop = this.nullCaptionProb > 0 && this.dropRng.uniform() < this.nullCaptionProb;
      fillRow(this.layout, out, b, ex, drop);
    }
    return out;
  }

  state(): SourceState {
    return { epoch: this.epoch, pos: this.pos, dropRng: this.dropRng.state(), examples: this.examples.length };
  }

  setState(st: unknown): void {
    const s = st as SourceState;
    if (!s || typeof s !== 'object' || !Number.isInteger(s.epoch) || !Number.isInteger(s.pos) || !Array.isArray(s.dropRng)) {
      throw new Error(`not a DALL·E batch-source state: ${JSON.stringify(st)}`);
    }
    if (s.examples !== this.examples.length) throw new Error(`the checkpoint was trained on ${s.examples} examples, this run has ${this.examples.length}`);
    this.epoch = s.epoch;
    this.pos = s.pos;
    this.order = this.permutation(s.epoch);
    this.dropRng.setState(s.dropRng);
  }
}

/** Mean text / image / total losses of `examples` (no caption dropout, dropout off), `batch` rows per run. */
export async function evaluateDalle(model: DalleModel, examples: readonly DalleExample[], batch = 16, compiled?: CompiledModule<DalleModel>): Promise<LossParts> {
  const lay = model.layout;
  const B = Math.max(1, Math.min(batch, examples.length));
  const cm = compiled ?? new CompiledModule(model, { bake: 'never', name: 'tessera_dalle_eval' });
  try {
    const prog = await cm.program(`dalle_losses_B${B}`, () => {
      const specs = dataSpecs(lay, B);
      const [idx, tt, it] = specs.map((s) => input(s.name, s.shape, s.dtype));
      const l = model.losses(idx!, tt!, it!, EVAL, true); // per row (B)
      return { inputs: [idx!, tt!, it!], outputs: { text: l.text, image: l.image, total: l.total } };
    });
    const sums = { text: 0, image: 0, total: 0 };
    for (let start = 0; start < examples.length; start += B) {
      const batchRows = emptyBatch(lay, B);
      const n = Math.min(B, examples.length - start);
      for (let b = 0; b < B; b++) fillRow(lay, batchRows, b, examples[start + (b < n ? b : 0)]!, false);
      const r = await cm.run(prog, { ...batchRows });
      for (const k of ['text', 'image', 'total'] as const) {
        const d = r[k]!.data as Float32Array;
        for (let b = 0; b < n; b++) sums[k] += d[b]!;
      }
    }
    const m = examples.length || 1;
    return { text: sums.text / m, image: sums.image / m, total: sums.total / m, examples: examples.length };
  } finally {
    if (!compiled) await cm.release();
  }
}

/** Train (or resume) a DALL·E transformer into `out`. */
export async function trainDalle(o: TrainDalleOptions): Promise<TrainDalleResult> {
  const model = o.model ?? new DalleModel(o.config).initialize(o.seed);
  const lay = model.layout;
  if (o.tokenizer && o.tokenizer.vocabSize !== o.config.textVocab) {
    throw new Error(`the caption tokenizer has ${o.tokenizer.vocabSize} ids but config.textVocab is ${o.config.textVocab}`);
  }
  if (!Number.isInteger(o.batch) || o.batch < 1) throw new Error(`batch must be a positive integer, got ${o.batch}`);
  const batches = new DalleBatchSource(lay, o.examples, o.batch, o.seed, o.config.nullCaptionProb);
  const held = o.heldOut && o.heldOut.length > 0 ? o.heldOut : undefined;
  const evalCompiled = new CompiledModule(model, { bake: 'never', name: 'tessera_dalle_eval' });
  try {
    const result = await train<DalleModel>({
      model,
      loss: (m, d, ctx) => m.loss(d.get('idx')!, d.get('text_targets')!, d.get('image_targets')!, ctx),
      data: dataSpecs(lay, o.batch),
      batches,
      io: dalleCheckpointIO({ tokenizer: o.tokenizer, dvaeName: o.dvaeName }),
      out: o.out,
      steps: o.steps,
      resume: o.resume,
      lr: o.lr,
      minLr: o.minLr,
      warmup: o.warmup,
      decay: 'cosine',
      adamw: { beta1: 0.9, beta2: 0.96, eps: 1e-8, weightDecay: 4.5e-2 },
      clip: 4,
      gradAccum: o.gradAccum,
      seed: o.seed,
      ...(held && o.evalInterval ? { eval: { interval: o.evalInterval, evaluate: async (_lossOf, m) => (await evaluateDalle(m, held, o.batch, evalCompiled)).total } } : {}),
      checkpointInterval: o.checkpointInterval,
      maxSeconds: o.maxSeconds,
      stopAtStep: o.stopAtStep,
      progress: o.progress,
      log: o.log,
      unitsPerBatch: o.batch,
      unit: 'images',
      label: 'dalle',
      meta: o.meta,
    });
    const trained = result.model;
    const report = o.examples.slice(0, o.reportExamples ?? 512);
    const losses: TrainDalleResult['losses'] = { train: await evaluateDalle(trained, report, o.batch, evalCompiled) };
    if (held) losses.heldOut = await evaluateDalle(trained, held, o.batch, evalCompiled);
    return { result, model: trained, losses };
  } finally {
    await evalCompiled.release();
  }
}
