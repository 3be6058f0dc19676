// DALL·E benchmarks against PyTorch 2.13 CPU (issue: DALL·E benchmarks), run alternately on the same machine:
//   dvae         the dVAE training step: OpenAI's block structure at a small width (64×64 input, 4 groups × 2 blocks,
//                n_hid 32, K 512), Gumbel-softmax at τ 1/2, logit-Laplace + KL (β 1) over the pixel count, AdamW
//                (0.9, 0.999, wd 1e-4) — bench/pytorch_dvae.py
//   dalle-train  the DALL·E transformer training step of the small config (16 text tokens, 8×8 grid, K 512, 4 layers
//                row / column / row / conv 5×5, 128 wide), 1/8 text + 7/8 image loss, AdamW (0.9, 0.96, wd 4.5e-2),
//                clip 4 — bench/pytorch_dalle.py --mode train
//   dalle-sample image sampling with the KV cache: prefill the caption, then 64 image tokens one at a time at t = 1,
//                image ids only — bench/pytorch_dalle.py --mode sample; with --rerank also the dVAE decode and the
//                CLIP scoring of every sample (tessera only: the reranking cost on top of sampling)
// Images/s, median of the timed steps of a run; rounds alternate the order of the two engines; each run waits for a
// quiet machine and is repeated when other processes kept more than --max-others cores busy.
//
//   node --import tsx bench/image.ts [dvae,dalle-train,dalle-sample] [--rounds 3] [--batch-dvae 8] [--batch 16]
//       [--steps 10] [--python /work/venv/bin/python] [--max-others 0.3] [--wait-s 900]
//   node --import tsx bench/image.ts --worker dvae|dalle-train|dalle-sample [--batch N] [--steps N]   (one tessera run)

import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runQuietJson } from './machine.js';
import { median } from './stats.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};

const DVAE = { size: 64, groups: 4, nHid: 32, blocks: 2, vocab: 512, nInit: 32 };
const DALLE = { textVocab: 256, textLength: 16, grid: 8, imageVocab: 512, layers: 4, heads: 4, embd: 128, convKernel: 5 };

/** CPU seconds of this whole process (startup and compilation included), for the driver's busy-machine check. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// ---- tessera workers (one process per run) -----------------------------------------------------------------------

async function workerDvae(batch: number, steps: number, warmup: number) {
  const { Dvae } = await import('../src/image/dvae.js');
  const { gumbelDvaeLoss } = await import('../src/image/dvae-loss.js');
  const { createTrainStep } = await import('../src/nn/train.js');
  const { Rng } = await import('../src/nn/index.js');
  const vae = new Dvae({ inputSize: DVAE.size, inputChannels: 3, outputChannels: 3, groupCount: DVAE.groups, nHid: DVAE.nHid, nBlkPerGroup: DVAE.blocks, vocabSize: DVAE.vocab, nInit: DVAE.nInit, quantizer: 'gumbel' }).initialize(0);
  const step = await createTrainStep(vae, {
    data: [
      { name: 'x', shape: [batch, 3, DVAE.size, DVAE.size] },
      { name: 'tau', shape: [1] },
      { name: 'beta', shape: [1] },
    ],
    loss: (d, ctx) => gumbelDvaeLoss(vae, d.get('x')!, d.get('tau')!, d.get('beta')!, ctx).loss,
    optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4 },
  });
  const rng = new Rng(1);
  const batches = Array.from({ length: warmup + steps }, () => ({ x: Float32Array.from({ length: batch * 3 * DVAE.size * DVAE.size }, () => rng.uniform()), tau: Float32Array.of(0.5), beta: Float32Array.of(1) }));
  const times: number[] = [];
  let loss = 0;
  for (let i = 0; i < batches.length; i++) {
    const t0 = performance.now();
    loss = (await step.step([batches[i]!], 1e-4, i)).loss;
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  const med = median(times);
  return { engine: 'tessera', params: vae.parameterCount(), ms_per_step: med * 1e3, images_per_s: batch / med, loss, cpu_s: cpuSeconds() };
}

async function dalleModel() {
  const { DalleModel, dalleConfig } = await import('../src/image/dalle.js');
  const cfg = dalleConfig({
    textVocab: DALLE.textVocab,
    textLength: DALLE.textLength,
    imageVocab: DALLE.imageVocab,
    gridHeight: DALLE.grid,
    gridWidth: DALLE.grid,
    nLayer: DALLE.layers,
    nHead: DALLE.heads,
    nEmbd: DALLE.embd,
    convKernel: DALLE.convKernel,
    dropout: 0,
    nullCaptionProb: 0,
  });
  return new DalleModel(cfg).initialize(0);
}

async function workerDalleTrain(batch: number, steps: number, warmup: number) {
  const { createTrainStep } = await import('../src/nn/train.js');
  const { Rng } = await import('../src/nn/index.js');
  const model = await dalleModel();
  const lay = model.layout;
  const step = await createTrainStep(model, {
    data: [
      { name: 'idx', shape: [batch, lay.inputLength], dtype: 'int64' },
      { name: 'text_targets', shape: [batch, DALLE.textLength], dtype: 'int64' },
      { name: 'image_targets', shape: [batch, lay.imageLength], dtype: 'int64' },
    ],
    loss: (d, ctx) => model.loss(d.get('idx')!, d.get('text_targets')!, d.get('image_targets')!, ctx),
    optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.96, eps: 1e-8, weightDecay: 4.5e-2 },
    clipNorm: 4,
  });
  const rng = new Rng(1);
  const mk = () => {
    const idx = new BigInt64Array(batch * lay.inputLength);
    const tt = new BigInt64Array(batch * DALLE.textLength);
    const it = new BigInt64Array(batch * lay.imageLength);
    for (let b = 0; b < batch; b++) {
      const text = Array.from({ length: DALLE.textLength }, () => rng.int(DALLE.textVocab));
      const codes = Array.from({ length: lay.imageLength }, () => rng.int(DALLE.imageVocab));
      const e = lay.example(text, codes, false);
      e.idx.forEach((v, i) => (idx[b * lay.inputLength + i] = BigInt(v)));
      e.textTargets.forEach((v, i) => (tt[b * DALLE.textLength + i] = BigInt(v)));
      e.imageTargets.forEach((v, i) => (it[b * lay.imageLength + i] = BigInt(v)));
    }
    return { idx, text_targets: tt, image_targets: it };
  };
  const batches = Array.from({ length: warmup + steps }, mk);
  const times: number[] = [];
  let loss = 0;
  for (let i = 0; i < batches.length; i++) {
    const t0 = performance.now();
    loss = (await step.step([batches[i]!], 4.5e-4, i)).loss;
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  const med = median(times);
  return { engine: 'tessera', mode: 'train', params: model.parameterCount(), seconds: med, images_per_s: batch / med, loss, cpu_s: cpuSeconds() };
}

async function workerDalleSample(batch: number, rounds: number, rerank: boolean) {
  const { sampleImageTokens } = await import('../src/image/dalle-sample.js');
  const { Dvae, smallDvaeConfig } = await import('../src/image/dvae.js');
  const { ClipModel, clipConfig } = await import('../src/image/clip.js');
  const { CachedStepRunner } = await import('../src/runtime/cached-step.js');
  const { Rng } = await import('../src/nn/index.js');
  const model = await dalleModel();
  const runner = new CachedStepRunner(model.transformer);
  const vae = rerank ? new Dvae({ ...smallDvaeConfig, vocabSize: DALLE.imageVocab }).initialize(0) : undefined;
  const clip = rerank ? new ClipModel(clipConfig({ textVocab: DALLE.textVocab + 1, padId: DALLE.textVocab, textLength: DALLE.textLength, imageSize: smallDvaeConfig.inputSize })).initialize(0) : undefined;
  const rng = new Rng(2);
  const times: number[] = [];
  for (let r = 0; r < 1 + rounds; r++) {
    const captions = Array.from({ length: batch }, () => Array.from({ length: DALLE.textLength }, () => rng.int(DALLE.textVocab)));
    const t0 = performance.now();
    const s = await sampleImageTokens(model, captions, { n: 1, seed: r, batch, runner });
    if (vae && clip) {
      const images = await vae.decodeTokens(s.tokens);
      await clip.score(captions[0]!, images);
    }
    if (r >= 1) times.push((performance.now() - t0) / 1000);
  }
  const med = median(times);
  return { engine: 'tessera', mode: rerank ? 'sample+rerank' : 'sample', params: model.parameterCount(), seconds: med, images_per_s: batch / med, cpu_s: cpuSeconds() };
}

// ---- driver ---------------------------------------------------------------------------------------------------------

async function main() {
  const w = argv.indexOf('--worker');
  if (w >= 0) {
    const kind = argv[w + 1];
    const batch = Number(opt('batch', '8'));
    const steps = Number(opt('steps', '10'));
    const warmup = Number(opt('warmup', '3'));
    const r =
      kind === 'dvae' ? await workerDvae(batch, steps, warmup) : kind === 'dalle-train' ? await workerDalleTrain(batch, steps, warmup) : kind === 'dalle-sample' ? await workerDalleSample(batch, Number(opt('rounds', '2')), argv.includes('--rerank')) : undefined;
    if (!r) throw new Error(`--worker: unknown kind '${kind}'`);
    console.log(JSON.stringify(r));
    process.exit(0);
  }
  const kinds = (argv[0] && !argv[0].startsWith('--') ? argv[0] : 'dvae,dalle-train,dalle-sample').split(',');
  const python = opt('python', process.env.TESSERA_PEER_PYTHON ?? '/work/venv/bin/python');
  const rounds = Number(opt('rounds', '3'));
  const steps = opt('steps', '10');
  const quiet = { cwd: root, maxOthers: Number(opt('max-others', '0.3')), maxLoad: Number(opt('max-load', '0.7')), waitS: Number(opt('wait-s', '900')), describe: (j: Record<string, unknown>) => `${Number(j.images_per_s).toFixed(1)} images/s` };
  const ours = (kind: string, extra: string[]): [string, string[]] => [process.execPath, ['--import', 'tsx', 'bench/image.ts', '--worker', kind, ...extra]];
  const rows: Record<string, unknown>[] = [];
  for (const kind of kinds) {
    const batch = kind === 'dvae' ? opt('batch-dvae', '8') : opt('batch', '16');
    const dalleArgs = ['--text-vocab', String(DALLE.textVocab), '--text-len', String(DALLE.textLength), '--grid', String(DALLE.grid), '--image-vocab', String(DALLE.imageVocab), '--layers', String(DALLE.layers), '--heads', String(DALLE.heads), '--embd', String(DALLE.embd), '--conv-kernel', String(DALLE.convKernel)];
    const peerArgs =
      kind === 'dvae'
        ? ['bench/pytorch_dvae.py', '--size', String(DVAE.size), '--groups', String(DVAE.groups), '--n-hid', String(DVAE.nHid), '--blocks', String(DVAE.blocks), '--vocab', String(DVAE.vocab), '--n-init', String(DVAE.nInit), '--batch', batch, '--steps', steps]
        : kind === 'dalle-train'
          ? ['bench/pytorch_dalle.py', '--mode', 'train', ...dalleArgs, '--batch', batch, '--steps', steps]
          : ['bench/pytorch_dalle.py', '--mode', 'sample', ...dalleArgs, '--batch', batch, '--rounds', '2'];
    const ourArgs = kind === 'dalle-sample' ? ['--batch', batch, '--rounds', '2'] : ['--batch', batch, '--steps', steps];
    const res = { tessera: [] as number[], pytorch: [] as number[], rerank: [] as number[] };
    process.stderr.write(`${kind}, batch ${batch}\n`);
    for (let r = 0; r < rounds; r++) {
      const runs = [
        async () => void res.tessera.push(Number((await runQuietJson(...ours(kind, ourArgs), quiet)).images_per_s)),
        async () => void res.pytorch.push(Number((await runQuietJson(python, peerArgs, quiet)).images_per_s)),
      ];
      if (r % 2) runs.reverse();
      for (const f of runs) await f();
      if (kind === 'dalle-sample') res.rerank.push(Number((await runQuietJson(...ours(kind, [...ourArgs, '--rerank']), quiet)).images_per_s));
    }
    const row = {
      kind,
      batch: Number(batch),
      tessera_images_per_s_median: median(res.tessera),
      pytorch_images_per_s_median: median(res.pytorch),
      ratio_median: median(res.tessera) / median(res.pytorch),
      ratio_best: Math.max(...res.tessera) / Math.max(...res.pytorch),
      ...(res.rerank.length ? { tessera_with_rerank_images_per_s_median: median(res.rerank) } : {}),
      runs: res,
      cpu: cpus()[0]?.model,
    };
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  console.log('\n| benchmark | batch | tessera images/s | PyTorch images/s | ratio (median) | ratio (best) |\n|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.kind} | ${r.batch} | ${Number(r.tessera_images_per_s_median).toFixed(1)} | ${Number(r.pytorch_images_per_s_median).toFixed(1)} | ${Number(r.ratio_median).toFixed(2)}× | ${Number(r.ratio_best).toFixed(2)}× |`);
  }
}

await main();
