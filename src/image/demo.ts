// `tessera image demo`: the small DALL·E pipeline end to end on the bundled shapes scenes — a dVAE (32×32 → 8×8
// tokens), a transformer over caption BPE then image tokens with the paper's row / column / conv schedule, and a
// CLIP — trained in ≤ 20 minutes on 2 cores; then the evaluation: per caption 128 samples, caption accuracy of the
// CLIP-best of N ∈ {1, 8, 32, 128} by the deterministic attribute reader on held-in and held-out compositions, the
// memorization check, and DIR/report.html. Each stage resumes from its checkpoint with --resume and is skipped when
// its model is already finished.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captionAccuracy } from './data/attribute-reader.js';
import { shapesDataset } from './data/shapes.js';
import { smallDvaeConfig, type Dvae } from './dvae.js';
import { dvaeMetrics, trainDvae, type DvaeMetrics } from './dvae-train.js';
import { accuracyAtN, nearestByEmbedding, nearestByPixels, summarizeDistances, type AccuracyAtN, type CaptionSamples } from './eval.js';
import { generateImages, openPipeline, type Generation } from './pipeline.js';
import { writeImageReport, type ReportCaption, type ReportMemorization } from './report.js';
import { trainClipFromData, trainDalleFromData, type ClipStageSummary, type DalleStageSummary } from './stages.js';
import { loadDvae } from './dvae.js';
import { loadCaptionTokenizer } from './text-tokenizer.js';
import type { ImageCaption } from './types.js';

export const IMAGE_DEMO = {
  size: 32,
  trainScenes: 4000,
  heldOutScenes: 200,
  seed: 0,
  // MSE + a diversity penalty, β = 0 and τ annealed over half the run: the paper's logit-Laplace + β 6.6 recipe does
  // not learn colours in a run this short (README, src/image/dvae-loss.ts); measured 23.2 dB held-out PSNR
  vae: { vocabSize: 128, nHid: 16, steps: 1500, batch: 16, lr: 2e-3, reconstruction: 'mse' as const, diversity: 0.03, beta: 0, tauSteps: 750 },
  transformer: { textLength: 16, textVocab: 320, layers: 4, heads: 4, embd: 128, convKernel: 5, dropout: 0.1, nullCaption: 0.1, steps: 2800, batch: 16, lr: 2e-3 },
  clip: { textLength: 16, steps: 2500, batch: 32, lr: 1e-3 },
  evaluation: { heldInCaptions: 6, heldOutCaptions: 6, samples: 128, ns: [1, 8, 32, 128], shown: 8, memorizationPerCaption: 16, baselineImages: 96 },
};

const QUICK = {
  ...IMAGE_DEMO,
  trainScenes: 256,
  heldOutScenes: 32,
  vae: { ...IMAGE_DEMO.vae, steps: 30, batch: 8, tauSteps: 15 },
  transformer: { ...IMAGE_DEMO.transformer, layers: 2, embd: 32, heads: 2, steps: 20, batch: 8 },
  clip: { ...IMAGE_DEMO.clip, steps: 20, batch: 8 },
  evaluation: { ...IMAGE_DEMO.evaluation, heldInCaptions: 2, heldOutCaptions: 2, samples: 8, ns: [1, 2, 8], shown: 4, memorizationPerCaption: 2, baselineImages: 8 },
};

export interface ImageDemoOptions {
  out: string;
  resume?: boolean;
  /** A much smaller run (tests). */
  quick?: boolean;
  log: (m: string) => void;
}

export interface ImageDemoResults {
  seconds: { vae: number; transformer: number; clip: number; training: number; evaluation: number };
  vae: DvaeMetrics;
  transformer: DalleStageSummary;
  clip: ClipStageSummary;
  accuracy: AccuracyAtN[];
  captions: { caption: string; held_out: boolean; first_sample_correct: number; best_of_8_correct: number | null; samples: number }[];
  memorization: { generated: ReportMemorization['generated']; baseline: ReportMemorization['baseline']; pixel_threshold: number; clip_threshold: number };
  report: string;
}

/** Distinct captions in data order, at most n, preferring a mix of one- and two-object scenes. */
function pickCaptions(items: readonly ImageCaption[], n: number): string[] {
  const seen = new Set<string>();
  const one: string[] = [];
  const two: string[] = [];
  for (const e of items) {
    if (seen.has(e.caption)) continue;
    seen.add(e.caption);
    (/ (above|below|left of|right of) /.test(e.caption) ? two : one).push(e.caption);
  }
  const out: string[] = [];
  for (let i = 0; out.length < n && (i < one.length || i < two.length); i++) {
    if (i < one.length && out.length < n) out.push(one[i]!);
    if (i < two.length && out.length < n) out.push(two[i]!);
  }
  return out;
}

const done = (dir: string) => existsSync(join(dir, 'config.json'));

export async function runImageDemo(o: ImageDemoOptions): Promise<ImageDemoResults> {
  const D = o.quick ? QUICK : IMAGE_DEMO;
  const log = o.log;
  mkdirSync(o.out, { recursive: true });
  const dirs = { vae: join(o.out, 'vae'), transformer: join(o.out, 'transformer'), clip: join(o.out, 'clip') };
  const data = shapesDataset({ size: D.size, count: D.trainScenes, heldOutCount: D.heldOutScenes, seed: D.seed });
  log(`shapes: ${data.train.length} training scenes, ${data.heldOut.length} held-out (compositions never seen in training)`);
  const t0 = performance.now();
  const timings = JSON.parse(existsSync(join(o.out, 'timings.json')) ? readFileSync(join(o.out, 'timings.json'), 'utf8') : '{}') as Record<string, number>;
  const saveTimings = () => writeFileSync(join(o.out, 'timings.json'), `${JSON.stringify(timings)}\n`);

  // 1. dVAE
  let vae: Dvae;
  let vaeMetrics: DvaeMetrics;
  if (done(dirs.vae) && existsSync(join(dirs.vae, 'metrics.json'))) {
    log(`dVAE: ${dirs.vae} is trained; skipping`);
    vae = loadDvae(dirs.vae);
    vaeMetrics = await dvaeMetrics(vae, data.heldOut.map((e) => e.image));
    log(`dVAE: held-out PSNR ${vaeMetrics.psnr.toFixed(2)} dB, codebook perplexity ${vaeMetrics.perplexity.toFixed(1)} of ${vaeMetrics.vocabSize}, ${vaeMetrics.deadCodes} dead codes`);
  } else {
    const s = performance.now();
    const r = await trainDvae({
      images: data.train.map((e) => e.image),
      heldOut: data.heldOut.map((e) => e.image),
      config: { ...smallDvaeConfig, inputSize: D.size, vocabSize: D.vae.vocabSize, nHid: D.vae.nHid, nInit: D.vae.nHid },
      out: dirs.vae,
      steps: D.vae.steps,
      batch: D.vae.batch,
      lr: D.vae.lr,
      reconstruction: D.vae.reconstruction,
      diversity: D.vae.diversity,
      schedule: { betaEnd: D.vae.beta, tauSteps: D.vae.tauSteps },
      seed: D.seed,
      resume: !!o.resume && existsSync(join(dirs.vae, 'checkpoint')),
      log,
      meta: { data: data.description },
    });
    if (!r.metrics) throw new Error(`dVAE training stopped early (${r.train.stopped}); rerun with --resume`);
    vae = r.vae;
    vaeMetrics = r.metrics;
    timings.vae = (timings.vae ?? 0) + (performance.now() - s) / 1000;
    saveTimings();
  }

  /**
   * A stage whose finished model is `dir` with its summary in `<out>/<name>-summary.json`: skipped when both exist,
   * otherwise trained (resuming its checkpoint with --resume), its summary stored and its time added to timings.
   */
  const stage = async <S extends { stopped: string | null }>(name: 'transformer' | 'clip', dir: string, run: (resume: boolean) => Promise<S>): Promise<S> => {
    const file = join(o.out, `${name}-summary.json`);
    if (done(dir) && existsSync(file)) {
      log(`${name}: ${dir} is trained; skipping`);
      return JSON.parse(readFileSync(file, 'utf8')) as S;
    }
    const s = performance.now();
    const summary = await run(!!o.resume && existsSync(join(dir, 'checkpoint')));
    if (summary.stopped) throw new Error(`${name} training stopped early (${summary.stopped}); rerun with --resume`);
    writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
    timings[name] = (timings[name] ?? 0) + (performance.now() - s) / 1000;
    saveTimings();
    return summary;
  };

  // 2. transformer
  const T = D.transformer;
  const tSummary: DalleStageSummary = await stage('transformer', dirs.transformer, async (resume) =>
    (
      await trainDalleFromData({
        data: 'shapes',
        dataset: data,
        dvae: vae,
        vae: dirs.vae,
        out: dirs.transformer,
        resume,
        steps: T.steps,
        batch: T.batch,
        lr: T.lr,
        seed: D.seed,
        textLength: T.textLength,
        textVocab: T.textVocab,
        layers: T.layers,
        heads: T.heads,
        embd: T.embd,
        convKernel: T.convKernel,
        dropout: T.dropout,
        nullCaption: T.nullCaption,
        log,
      })
    ).summary,
  );
  const tokenizer = loadCaptionTokenizer(dirs.transformer);

  // 3. CLIP (on the transformer's caption tokenizer, so it can rerank its samples)
  const cSummary: ClipStageSummary = await stage('clip', dirs.clip, async (resume) =>
    (
      await trainClipFromData({
        data: 'shapes',
        dataset: data,
        captionTokenizer: tokenizer,
        out: dirs.clip,
        resume,
        steps: D.clip.steps,
        batch: D.clip.batch,
        lr: D.clip.lr,
        seed: D.seed,
        textVocab: tokenizer.vocabSize,
        textLength: D.clip.textLength,
        log,
      })
    ).summary,
  );
  await vae.release();

  // 4. evaluation
  const e0 = performance.now();
  const E = D.evaluation;
  const p = openPipeline({ model: dirs.transformer, vae: dirs.vae, clip: dirs.clip });
  const heldIn = pickCaptions(data.train, E.heldInCaptions);
  const heldOut = pickCaptions(data.heldOut, E.heldOutCaptions);
  const gens: { g: Generation; heldOut: boolean; correct: boolean[] }[] = [];
  for (const [i, caption] of [...heldIn, ...heldOut].entries()) {
    const g = await generateImages(p, caption, { n: E.samples, rerank: E.shown, seed: D.seed + i, batch: 32 });
    const correct = g.samples.map((s) => captionAccuracy(caption, s.image).correct);
    gens.push({ g, heldOut: i >= heldIn.length, correct });
    log(`"${caption}"${i >= heldIn.length ? ' (held-out)' : ''}: ${correct.filter(Boolean).length}/${correct.length} samples correct; CLIP top-1 ${correct[g.order[0]!] ? 'correct' : 'wrong'}`);
  }
  const caps: CaptionSamples[] = gens.map(({ g, heldOut: h, correct }) => ({ caption: g.caption, heldOut: h, clipScores: g.samples.map((s) => s.clip_score!), correct }));
  const accuracy = accuracyAtN(caps, E.ns);
  for (const a of accuracy) log(`accuracy, best of ${a.n} by CLIP: held-in ${(100 * a.held_in).toFixed(1)}%, held-out ${(100 * a.held_out).toFixed(1)}%`);

  // memorization: generations vs real held-out images (both through the dVAE decoder), nearest training image
  const trainImages = data.train.map((e) => e.image);
  const clip = p.clip!;
  const trainEmb = await clip.encodeImages(trainImages);
  const D_EMB = trainEmb.length / trainImages.length;
  const memSamples = gens.flatMap(({ g }) => g.samples.slice(0, E.memorizationPerCaption).map((s) => ({ image: s.image, caption: g.caption })));
  const baselineImages = await p.vae.reconstruct(data.heldOut.slice(0, E.baselineImages).map((e) => e.image));
  const genPix = nearestByPixels(memSamples.map((s) => s.image), trainImages);
  const genClip = nearestByEmbedding(await clip.encodeImages(memSamples.map((s) => s.image)), trainEmb, D_EMB);
  const basePix = nearestByPixels(baselineImages, trainImages);
  const baseClip = nearestByEmbedding(await clip.encodeImages(baselineImages), trainEmb, D_EMB);
  const pixelThreshold = 0.002;
  const clipThreshold = 0.01;
  const memorization: ReportMemorization = {
    rows: memSamples
      .map((s, i) => ({ generated: s.image, caption: s.caption, byPixels: trainImages[genPix[i]!.index]!, pixelMse: genPix[i]!.distance, byClip: trainImages[genClip[i]!.index]!, clipDistance: genClip[i]!.distance }))
      .filter((_, i) => i % E.memorizationPerCaption === 0),
    generated: { pixels: summarizeDistances(genPix.map((n) => n.distance), pixelThreshold), clip: summarizeDistances(genClip.map((n) => n.distance), clipThreshold) },
    baseline: { pixels: summarizeDistances(basePix.map((n) => n.distance), pixelThreshold), clip: summarizeDistances(baseClip.map((n) => n.distance), clipThreshold) },
    pixelThreshold,
    clipThreshold,
  };
  const originals = data.heldOut.slice(0, 16).map((e) => e.image);
  const reconstructions = await p.vae.reconstruct(originals);
  const reportCaptions: ReportCaption[] = gens.map(({ g, heldOut: h, correct }) => ({
    caption: g.caption,
    heldOut: h,
    first: g.samples.slice(0, E.shown).map((s, i) => ({ image: s.image, score: s.clip_score!, correct: correct[i]! })),
    kept: g.order.slice(0, E.shown).map((i) => ({ image: g.samples[i]!.image, score: g.samples[i]!.clip_score!, correct: correct[i]! })),
  }));
  timings.evaluation = (performance.now() - e0) / 1000;
  saveTimings();
  const training = (timings.vae ?? 0) + (timings.transformer ?? 0) + (timings.clip ?? 0);
  const reportPath = join(o.out, 'report.html');
  writeImageReport(reportPath, {
    title: 'tessera image demo: DALL·E on shapes',
    summary: {
      'training scenes': data.train.length,
      'held-out scenes (held-out compositions)': `${data.heldOut.length} (${'purple triangle, orange circle, green square'})`,
      dVAE: `${D.size}×${D.size} → ${p.vae.gridSize}×${p.vae.gridSize} tokens, K = ${p.vae.config.vocabSize}, ${timings.vae?.toFixed(0) ?? '?'} s`,
      transformer: `${D.transformer.layers} layers (row, column, row, conv ${D.transformer.convKernel}×${D.transformer.convKernel}), ${D.transformer.embd} wide, ${tSummary.params.toLocaleString('en-US')} parameters, ${tSummary.steps} steps, ${timings.transformer?.toFixed(0) ?? '?'} s; held-out loss ${tSummary.held_out_loss?.toFixed(3) ?? '–'}`,
      CLIP: `${cSummary.params.toLocaleString('en-US')} parameters, ${cSummary.steps} steps, ${timings.clip?.toFixed(0) ?? '?'} s; held-out image→caption top-1 ${cSummary.retrieval ? (100 * cSummary.retrieval.allCaptions.top1).toFixed(1) + '%' : '–'}`,
      'training time (all three)': `${(training / 60).toFixed(1)} min`,
      'samples per caption': E.samples,
    },
    reconstructions: { originals, reconstructions, psnr_db: vaeMetrics.psnr, codebook_perplexity: vaeMetrics.perplexity, dead_codes: vaeMetrics.deadCodes, vocab_size: vaeMetrics.vocabSize },
    captions: reportCaptions,
    accuracy,
    memorization,
  });
  await p.vae.release();
  await clip.release();
  log(`report → ${reportPath} (training ${(training / 60).toFixed(1)} min, evaluation ${timings.evaluation.toFixed(0)} s, all ${((performance.now() - t0) / 60000).toFixed(1)} min this run)`);
  return {
    seconds: { vae: timings.vae ?? NaN, transformer: timings.transformer ?? NaN, clip: timings.clip ?? NaN, training, evaluation: timings.evaluation },
    vae: vaeMetrics,
    transformer: tSummary,
    clip: cSummary,
    accuracy,
    captions: gens.map(({ g, heldOut: h, correct }) => {
      const best8 = accuracyAtN([{ caption: g.caption, heldOut: false, clipScores: g.samples.map((s) => s.clip_score!), correct }], [Math.min(8, correct.length)])[0]!;
      return { caption: g.caption, held_out: h, first_sample_correct: correct.filter(Boolean).length / correct.length, best_of_8_correct: Number.isFinite(best8.held_in) ? best8.held_in : null, samples: correct.length };
    }),
    memorization: { generated: memorization.generated, baseline: memorization.baseline, pixel_threshold: pixelThreshold, clip_threshold: clipThreshold },
    report: reportPath,
  };
}
