// `tessera image`: DALL·E-style text-to-image (Ramesh et al. 2021) on the shared engine.
//   image train-vae    the discrete VAE on shapes | emoji | a captioned folder (src/image/dvae-train.ts)
//   image train        the DALL·E transformer over caption BPE then dVAE tokens (src/image/dalle-train.ts)
//   image train-clip   CLIP for reranking (src/image/clip-train.ts)
//   image encode       a PNG's argmax token grid, rows first
//   image reconstruct  a PNG through the dVAE (argmax tokens, decoded), as OpenAI's notebook does
//   image generate     N samples for a caption, CLIP-reranked, as PNGs / a grid / JSON
//   image demo         the small pipeline on shapes end to end with a report (src/image/demo.ts)

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { int } from './eval.js';

const num = (name: string) => (v: string) => {
  const x = Number(v);
  if (!Number.isFinite(x)) throw new Error(`${name} expects a number, got '${v}'`);
  return x;
};

const log = (m: string) => process.stderr.write(`${m}\n`);

/** Progress bar on a TTY for `total` units; a no-op otherwise. */
function bar(label: string, total: number): { update(done: number): void; stop(): void } {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const b = new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total} {duration_formatted}`, stream: process.stderr }, cliProgress.Presets.shades_classic);
  b.start(total, 0);
  return { update: (d) => b.update(d), stop: () => b.stop() };
}

function dataOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--data <spec>', "shapes | emoji | a folder with captions.jsonl ({\"file\", \"caption\"} lines)")
    .option('--size <n>', 'image side in pixels (default: the dVAE input size, or 32)', int('--size', 8))
    .option('--count <n>', 'shapes: training scenes; emoji: at most this many', int('--count', 1))
    .option('--held-out <n>', 'shapes: held-out scenes (held-out compositions)', int('--held-out', 0))
    .option('--held-out-fraction <x>', 'emoji / folders: fraction held out', num('--held-out-fraction'))
    .option('--refuse-other-sizes', 'folders: skip images that are not SIZE×SIZE instead of resizing them')
    .option('--data-seed <n>', 'seed of the data (scenes, splits)', int('--data-seed', 0), 0);
}

function trainOptions(cmd: Command, d: { steps: number; batch: number; lr: number }): Command {
  return cmd
    .requiredOption('--out <dir>', 'output directory (the model; checkpoints in DIR/checkpoint)')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--steps <n>', 'optimizer steps', int('--steps', 1), d.steps)
    .option('--batch <n>', 'batch size', int('--batch', 1), d.batch)
    .option('--lr <x>', 'peak learning rate', num('--lr'), d.lr)
    .option('--seed <n>', 'seed (initialisation, batches, noise)', int('--seed', 0), 0)
    .option('--max-seconds <n>', 'stop (checkpointed, resumable) after this many seconds', num('--max-seconds'))
    .option('--json', 'print the result as JSON');
}

/** Read an image for a dVAE of side `size`: resized when --resize, refused otherwise. */
async function readImageFor(path: string, size: number, resize: boolean) {
  const { readPng, fitImage } = await import('../../image/png.js');
  return fitImage(readPng(path), size, resize ? 'resize' : 'refuse', path);
}

export function registerImage(program: Command): void {
  const image = program.command('image').description('DALL·E-style text-to-image: dVAE, transformer, CLIP reranking');

  trainOptions(dataOptions(image.command('train-vae').description('train the discrete VAE (Gumbel-softmax, logit-Laplace, KL to uniform)')), { steps: 2000, batch: 32, lr: 1e-3 })
    .option('--groups <n>', 'encoder/decoder groups (grid = size / 2^(groups-1))', int('--groups', 1))
    .option('--n-hid <n>', 'width of the first group', int('--n-hid', 4))
    .option('--blocks <n>', 'blocks per group', int('--blocks', 1))
    .option('--vocab <n>', 'codebook size K', int('--vocab', 2))
    .option('--quantizer <q>', 'gumbel (the paper) | vq (VQ-VAE, for comparison)', 'gumbel')
    .option('--tau-end <x>', 'final Gumbel-softmax temperature (paper 1/16)', num('--tau-end'))
    .option('--tau-steps <n>', 'steps of the cosine τ anneal (default: the paper\'s 150k/1.2M of the run)', int('--tau-steps', 1))
    .option('--beta <x>', 'final KL weight β (paper 6.6)', num('--beta'))
    .option('--recon-loss <l>', 'logit-laplace (the paper) | mse (learns faster in short runs; see src/image/dvae-loss.ts)', 'logit-laplace')
    .option('--diversity <x>', 'weight of a codebook-diversity penalty log K − H(mean code distribution) (0 = the paper)', num('--diversity'), 0)
    .option('--beta-steps <n>', 'steps of the cosine β ramp (default: the paper\'s 5k/1.2M of the run)', int('--beta-steps', 1))
    .action(async (o) => {
      const { smallDvaeConfig } = await import('../../image/dvae.js');
      const { trainDvae } = await import('../../image/dvae-train.js');
      if (!['logit-laplace', 'mse'].includes(o.reconLoss)) throw new Error(`--recon-loss must be logit-laplace or mse, got '${o.reconLoss}'`);
      if (!['gumbel', 'vq'].includes(o.quantizer)) throw new Error(`--quantizer must be gumbel or vq, got '${o.quantizer}'`);
      const size = o.size ?? smallDvaeConfig.inputSize;
      const { loadImageData } = await import('../../image/stages.js');
      const data = loadImageData(o, size, log);
      const config = {
        ...smallDvaeConfig,
        inputSize: size,
        ...(o.groups ? { groupCount: o.groups } : {}),
        ...(o.nHid ? { nHid: o.nHid, nInit: o.nHid } : {}),
        ...(o.blocks ? { nBlkPerGroup: o.blocks } : {}),
        ...(o.vocab ? { vocabSize: o.vocab } : {}),
        quantizer: o.quantizer,
      };
      const r = await trainDvae({
        images: data.train.map((e) => e.image),
        heldOut: (data.heldOut.length ? data.heldOut : data.train.slice(0, 64)).map((e) => e.image),
        config,
        out: o.out,
        steps: o.steps,
        batch: o.batch,
        lr: o.lr,
        seed: o.seed,
        resume: !!o.resume,
        maxSeconds: o.maxSeconds,
        reconstruction: o.reconLoss,
        diversity: o.diversity,
        schedule: {
          ...(o.tauEnd !== undefined ? { tauEnd: o.tauEnd } : {}),
          ...(o.tauSteps !== undefined ? { tauSteps: o.tauSteps } : {}),
          ...(o.beta !== undefined ? { betaEnd: o.beta } : {}),
          ...(o.betaSteps !== undefined ? { betaSteps: o.betaSteps } : {}),
        },
        log,
        meta: { data: data.description },
      });
      const out = { out: o.out, steps: r.train.steps, train_loss: r.train.train_loss, seconds: r.train.seconds, stopped: r.train.stopped ?? null, metrics: r.metrics ?? null };
      if (o.json) console.log(JSON.stringify(out));
      else log(r.metrics ? `dVAE → ${o.out}: held-out PSNR ${r.metrics.psnr.toFixed(2)} dB, codebook perplexity ${r.metrics.perplexity.toFixed(1)} / ${r.metrics.vocabSize}, ${r.metrics.deadCodes} dead codes` : `stopped (${r.train.stopped}); continue with --resume`);
    });

  trainOptions(dataOptions(image.command('train').description('train the DALL·E transformer on caption BPE then dVAE tokens')), { steps: 3000, batch: 16, lr: 1e-3 })
    .requiredOption('--vae <dir>', 'the trained dVAE (its argmax tokens are the image tokens)')
    .option('--text-length <n>', 'caption tokens (longer captions are truncated with a warning)', int('--text-length', 1), 16)
    .option('--text-vocab <n>', 'caption BPE vocabulary size', int('--text-vocab', 256), 512)
    .option('--layers <n>', 'transformer layers (row, column, …, conv last)', int('--layers', 1), 4)
    .option('--heads <n>', 'attention heads', int('--heads', 1), 4)
    .option('--embd <n>', 'width', int('--embd', 8), 128)
    .option('--conv-kernel <n>', 'kernel of the last layer\'s convolutional attention (odd)', int('--conv-kernel', 1), 5)
    .option('--dropout <p>', 'dropout', num('--dropout'), 0.1)
    .option('--null-caption <p>', 'caption dropout for classifier-free guidance', num('--null-caption'), 0.1)
    .action(async (o) => {
      const { trainDalleFromData } = await import('../../image/stages.js');
      const r = await trainDalleFromData({ ...o, log });
      if (o.json) console.log(JSON.stringify(r.summary));
      else log(`transformer → ${o.out}: train loss ${r.summary.train_loss.toFixed(3)}${r.summary.held_out_loss !== null ? `, held-out ${r.summary.held_out_loss.toFixed(3)}` : ''}`);
    });

  trainOptions(dataOptions(image.command('train-clip').description('train CLIP (contrastive text / image encoders) for reranking')), { steps: 1000, batch: 32, lr: 1e-3 })
    .option('--tokenizer <dir>', 'use the caption tokenizer of this directory (a trained transformer) so CLIP can rerank its samples')
    .option('--text-vocab <n>', 'caption BPE vocabulary size when training a new tokenizer', int('--text-vocab', 256), 512)
    .option('--text-length <n>', 'caption tokens', int('--text-length', 1), 24)
    .action(async (o) => {
      const { trainClipFromData } = await import('../../image/stages.js');
      const r = await trainClipFromData({ ...o, log });
      if (o.json) console.log(JSON.stringify(r.summary));
      else log(`CLIP → ${o.out}: ${r.summary.retrieval ? `held-out image→caption top-1 ${(100 * r.summary.retrieval.allCaptions.top1).toFixed(1)}% among ${r.summary.retrieval.allCaptions.candidates} captions` : `stopped; continue with --resume`}`);
    });

  image
    .command('encode')
    .description('print the dVAE argmax token grid of a PNG: {"tokens": [[…], …]} (rows first)')
    .requiredOption('--vae <dir>', 'dVAE directory')
    .option('--resize', 'resize images of another size instead of refusing them')
    .option('--json', 'JSON output (the default)')
    .argument('<image>', 'PNG file')
    .action(async (img: string, o) => {
      const { loadDvae } = await import('../../image/dvae.js');
      const vae = loadDvae(o.vae);
      const im = await readImageFor(img, vae.config.inputSize, !!o.resize);
      const tokens = await vae.encodeTokens([im]);
      const g = vae.gridSize;
      const rows = Array.from({ length: g }, (_, r) => Array.from(tokens.subarray(r * g, (r + 1) * g)));
      console.log(JSON.stringify({ tokens: rows }));
      await vae.release();
    });

  image
    .command('reconstruct')
    .description('decode a PNG\'s argmax tokens back to an image')
    .requiredOption('--vae <dir>', 'dVAE directory')
    .requiredOption('-o, --output <png>', 'output PNG')
    .option('--resize', 'resize images of another size instead of refusing them')
    .argument('<image>', 'PNG file')
    .action(async (img: string, o) => {
      const { loadDvae } = await import('../../image/dvae.js');
      const { writePng } = await import('../../image/png.js');
      const { psnr } = await import('../../image/eval.js');
      const vae = loadDvae(o.vae);
      const im = await readImageFor(img, vae.config.inputSize, !!o.resize);
      const [rec] = await vae.reconstruct([im]);
      writePng(o.output, rec!);
      log(`${o.output}: ${vae.gridSize}×${vae.gridSize} tokens, PSNR ${psnr(im, rec!).toFixed(2)} dB`);
      await vae.release();
    });

  image
    .command('generate')
    .description('sample images for a caption and rerank them with CLIP')
    .requiredOption('--model <dir>', 'DALL·E transformer directory')
    .requiredOption('--vae <dir>', 'dVAE directory (the one the transformer was trained with)')
    .option('--clip <dir>', 'CLIP directory (needed for --rerank)')
    .option('--n <n>', 'samples to draw', int('--n', 1), 8)
    .option('--rerank <k>', 'keep the CLIP top k', int('--rerank', 1))
    .option('--seed <n>', 'seed', int('--seed', 0), 0)
    .option('--temperature <t>', 'sampling temperature', num('--temperature'), 1)
    .option('--top-k <k>', 'keep the k most likely image tokens at each step', int('--top-k', 1))
    .option('--cond-scale <s>', 'classifier-free guidance scale (1 = plain conditional)', num('--cond-scale'))
    .option('--batch <n>', 'samples decoded together', int('--batch', 1), 16)
    .option('--out-dir <dir>', 'write every sample as a PNG')
    .option('-o, --output <png>', 'write a grid of the kept samples with their CLIP scores')
    .option('--json', 'print {"caption", "samples": [{"file", "clip_score", "kept"}]}')
    .argument('<caption>', 'the caption')
    .action(async (caption: string, o) => {
      const { openPipeline, generateImages } = await import('../../image/pipeline.js');
      const { writePng, imageGrid } = await import('../../image/png.js');
      const { upscale } = await import('../../image/report.js');
      const p = openPipeline({ model: o.model, vae: o.vae, clip: o.clip });
      const b = bar('generate', o.n);
      const g = await generateImages(p, caption, { n: o.n, rerank: o.rerank, seed: o.seed, temperature: o.temperature, topK: o.topK, condScale: o.condScale, batch: o.batch, warn: (m) => log(`warning: ${m}`), onProgress: (d) => b.update(d) });
      b.stop();
      const files: (string | null)[] = g.samples.map(() => null);
      if (o.outDir) {
        mkdirSync(o.outDir, { recursive: true });
        g.samples.forEach((s, i) => {
          const f = join(o.outDir, `sample_${String(i).padStart(4, '0')}.png`);
          writePng(f, s.image);
          files[i] = f;
        });
      }
      const kept = g.order.filter((i) => g.samples[i]!.kept);
      if (o.output) {
        const labels = kept.map((i) => (g.samples[i]!.clip_score !== undefined ? g.samples[i]!.clip_score!.toFixed(3) : `#${i}`));
        const f = Math.max(1, Math.round(64 / p.vae.config.inputSize));
        writePng(o.output, imageGrid(kept.map((i) => upscale(g.samples[i]!.image, f)), Math.min(8, kept.length), { pad: 2, labels }));
      }
      if (o.json) {
        console.log(JSON.stringify({ caption, samples: g.samples.map((s, i) => ({ file: files[i], clip_score: s.clip_score ?? null, kept: s.kept })) }));
      } else {
        log(`${g.samples.length} samples for ${JSON.stringify(caption)}; kept ${kept.length}${p.clip ? ` (CLIP ${kept.map((i) => g.samples[i]!.clip_score!.toFixed(3)).join(', ')})` : ''}`);
        if (o.output) log(`grid → ${o.output}`);
      }
      await p.vae.release();
      await p.clip?.release();
    });

  image
    .command('demo')
    .description('train dVAE, transformer and CLIP on shapes (≤ 20 min on 2 cores) and write DIR/report.html')
    .requiredOption('--out <dir>', 'output directory: vae/, transformer/, clip/, report.html, results.json')
    .option('--resume', 'continue an interrupted demo in --out')
    .option('--quick', 'a much shorter run (for tests)')
    .option('--json', 'print results.json')
    .action(async (o) => {
      const { runImageDemo } = await import('../../image/demo.js');
      const r = await runImageDemo({ out: o.out, resume: !!o.resume, quick: !!o.quick, log });
      if (o.json) console.log(JSON.stringify(r));
      writeFileSync(join(o.out, 'results.json'), `${JSON.stringify(r, null, 2)}\n`);
    });
}
