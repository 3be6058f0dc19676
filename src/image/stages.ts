// The training stages of the text-to-image pipeline from a dataset, shared by the CLI and the demo: the transformer
// stage (caption BPE trained on the training captions, the dVAE's argmax tokens of every image, then trainDalle) and
// the CLIP stage (the transformer's caption tokenizer, or a new one, then trainClip). On --resume each stage takes
// its tokenizer from the checkpoint, so a resumed run encodes exactly as the interrupted one did.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { clipConfig } from './clip.js';
import { trainClip, type RetrievalAccuracy } from './clip-train.js';
import { dalleConfig } from './dalle.js';
import { trainDalle, type DalleExample } from './dalle-train.js';
import { loadDvae, type Dvae } from './dvae.js';
import { openImageData } from './data/index.js';
import { CAPTION_TOKENIZER_CONFIG, loadCaptionTokenizer, trainCaptionTokenizer, type CaptionTokenizer } from './text-tokenizer.js';
import type { ImageCaption, ImageCaptionDataset } from './types.js';

export interface DataSpecOptions {
  data: string;
  count?: number;
  heldOut?: number;
  heldOutFraction?: number;
  refuseOtherSizes?: boolean;
  dataSeed?: number;
}

export function loadImageData(o: DataSpecOptions, size: number, log: (m: string) => void): ImageCaptionDataset {
  const d = openImageData(o.data, { size, count: o.count, heldOutCount: o.heldOut, heldOutFraction: o.heldOutFraction, seed: o.dataSeed ?? 0, resize: o.refuseOtherSizes ? 'refuse' : 'resize', log });
  if (d.skipped.length) {
    log(`${o.data}: skipped ${d.skipped.length} input(s):`);
    for (const s of d.skipped.slice(0, 20)) log(`  ${s.source}: ${s.reason}`);
    if (d.skipped.length > 20) log(`  … and ${d.skipped.length - 20} more`);
  }
  if (d.train.length === 0) throw new Error(`${o.data}: no training images`);
  log(`${o.data}: ${d.train.length} training images, ${d.heldOut.length} held out, ${size}×${size}`);
  return d;
}

/** The tokenizer of a run being resumed (its checkpoint, else the finished dir), if there is one. */
function resumedTokenizer(out: string): CaptionTokenizer | undefined {
  for (const dir of [join(out, 'checkpoint'), out]) if (existsSync(join(dir, CAPTION_TOKENIZER_CONFIG))) return loadCaptionTokenizer(dir);
  return undefined;
}

/** Encode captions to at most `textLength` ids; truncations are counted and the first few reported. */
export function encodeCaptions(tok: CaptionTokenizer, items: readonly ImageCaption[], textLength: number, log: (m: string) => void): number[][] {
  let truncated = 0;
  const ids = items.map((e) =>
    tok.encodeCaption(e.caption, textLength, (m) => {
      if (truncated++ < 3) log(`warning: ${m}`);
    }).ids,
  );
  if (truncated > 3) log(`warning: ${truncated} captions in all were longer than the text length ${textLength} and were truncated`);
  return ids;
}

/** What every training stage takes: the data, the output dir, the trainer's run options. */
export interface StageRunOptions extends DataSpecOptions {
  out: string;
  resume?: boolean;
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  maxSeconds?: number;
  log: (m: string) => void;
  progress?: boolean;
  /** Reuse an opened dataset (the demo) instead of opening `data`. */
  dataset?: ImageCaptionDataset;
}

export interface DalleStageOptions extends StageRunOptions {
  vae: string;
  textLength: number;
  textVocab: number;
  layers: number;
  heads: number;
  embd: number;
  convKernel: number;
  dropout: number;
  nullCaption: number;
  /** Reuse an opened dVAE. */
  dvae?: Dvae;
}

export interface DalleStageSummary {
  out: string;
  steps: number;
  seconds: number;
  train_loss: number;
  held_out_loss: number | null;
  losses: unknown;
  stopped: string | null;
  params: number;
  images_per_s: number;
}

/** The dVAE's argmax token grid of every image, as transformer examples. */
export async function tokenExamples(vae: Dvae, items: readonly ImageCaption[], textIds: number[][]): Promise<DalleExample[]> {
  const tokens = await vae.encodeTokens(items.map((e) => e.image));
  const hw = vae.tokensPerImage;
  return items.map((_, i) => ({ textIds: textIds[i]!, imageTokens: tokens.subarray(i * hw, (i + 1) * hw) }));
}

export async function trainDalleFromData(o: DalleStageOptions): Promise<{ summary: DalleStageSummary; tokenizer: CaptionTokenizer }> {
  const vae = o.dvae ?? loadDvae(o.vae);
  const data = o.dataset ?? loadImageData(o, vae.config.inputSize, o.log);
  if (data.size !== vae.config.inputSize) throw new Error(`${o.data}: images are ${data.size}×${data.size} but the dVAE ${o.vae} takes ${vae.config.inputSize}×${vae.config.inputSize}`);
  const resumed = o.resume ? resumedTokenizer(o.out) : undefined;
  const tok = resumed ?? trainCaptionTokenizer(data.train.map((e) => e.caption), o.textVocab);
  o.log(`caption tokenizer: ${tok.vocabSize} ids${resumed ? ' (from the checkpoint)' : ' (trained on the training captions)'}`);
  o.log(`encoding ${data.train.length + data.heldOut.length} images with the dVAE …`);
  const examples = await tokenExamples(vae, data.train, encodeCaptions(tok, data.train, o.textLength, o.log));
  const heldOut = data.heldOut.length ? await tokenExamples(vae, data.heldOut, encodeCaptions(tok, data.heldOut, o.textLength, o.log)) : undefined;
  if (!o.dvae) await vae.release();
  const g = vae.gridSize;
  const config = dalleConfig({
    textVocab: tok.vocabSize,
    textLength: o.textLength,
    imageVocab: vae.config.vocabSize,
    gridHeight: g,
    gridWidth: g,
    nLayer: o.layers,
    nHead: o.heads,
    nEmbd: o.embd,
    convKernel: o.convKernel,
    dropout: o.dropout,
    nullCaptionProb: o.nullCaption,
  });
  const r = await trainDalle({
    config,
    examples,
    heldOut,
    tokenizer: tok,
    dvaeName: o.vae,
    out: o.out,
    steps: o.steps,
    batch: o.batch,
    lr: o.lr,
    warmup: Math.min(200, Math.floor(o.steps / 10)),
    seed: o.seed,
    resume: o.resume,
    maxSeconds: o.maxSeconds,
    log: o.log,
    progress: o.progress,
    meta: { data: data.description },
  });
  const res = r.result;
  return {
    tokenizer: tok,
    summary: {
      out: o.out,
      steps: res.steps,
      seconds: res.seconds,
      train_loss: r.losses.train.total,
      held_out_loss: r.losses.heldOut ? r.losses.heldOut.total : null,
      losses: r.losses,
      stopped: res.stopped ?? null,
      params: res.params,
      images_per_s: res.units_per_s,
    },
  };
}

export interface ClipStageOptions extends StageRunOptions {
  size?: number;
  /** A directory holding the caption tokenizer to use (a transformer's). */
  tokenizer?: string;
  textVocab: number;
  textLength: number;
  /** Use this tokenizer (the demo's transformer's). */
  captionTokenizer?: CaptionTokenizer;
}

export interface ClipStageSummary {
  out: string;
  steps: number;
  seconds: number;
  train_loss: number;
  val_loss: number;
  stopped: string | null;
  params: number;
  retrieval: RetrievalAccuracy | null;
}

/** The tokenizer as a CLIP tokenizer record (its files are written next to CLIP's weights: a self-contained dir). */
function tokenizerRecord(tok: CaptionTokenizer) {
  return { tokenizerFingerprint: tok.fingerprint(), tokenizer: { class: 'tessera-caption-bpe', vocab_size: tok.vocabSize }, files: tok.files() };
}

export async function trainClipFromData(o: ClipStageOptions): Promise<{ summary: ClipStageSummary }> {
  const size = o.size ?? o.dataset?.size ?? 32;
  const data = o.dataset ?? loadImageData(o, size, o.log);
  const tok = o.captionTokenizer ?? (o.tokenizer ? loadCaptionTokenizer(o.tokenizer) : o.resume ? resumedTokenizer(o.out) : undefined) ?? trainCaptionTokenizer(data.train.map((e) => e.caption), o.textVocab);
  const config = clipConfig({ textVocab: tok.vocabSize + 1, padId: tok.vocabSize, textLength: o.textLength, imageSize: size });
  const ex = (items: readonly ImageCaption[]) => encodeCaptions(tok, items, o.textLength, o.log).map((textIds, i) => ({ textIds, image: items[i]!.image }));
  const r = await trainClip({
    config,
    examples: ex(data.train),
    heldOut: data.heldOut.length ? ex(data.heldOut) : undefined,
    out: o.out,
    steps: o.steps,
    batch: o.batch,
    lr: o.lr,
    seed: o.seed,
    resume: o.resume,
    maxSeconds: o.maxSeconds,
    tokenizer: tokenizerRecord(tok),
    log: o.log,
    progress: o.progress,
  });
  return {
    summary: { out: o.out, steps: r.steps, seconds: r.seconds, train_loss: r.train_loss, val_loss: r.val_loss, stopped: r.stopped ?? null, params: r.params, retrieval: r.retrieval ?? null },
  };
}
