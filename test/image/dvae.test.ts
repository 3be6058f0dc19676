// The DALL·E dVAE against OpenAI's own code (test/fixtures/dvae, made by scripts/make_dvae_fixture.py from
// shared/oracles/dall_e): a tiny dall_e.Encoder/Decoder pickled whole and converted by
// scripts/convert_openai_dvae.py loads with OpenAI's parameter names and gives OpenAI's logits, argmax tokens,
// decoder outputs and reconstructions; the loss and its gradients equal float64 PyTorch and central differences;
// Gumbel and VQ training lower the loss through the shared trainer and a stopped + resumed run equals an
// uninterrupted one; bad inputs and damaged directories fail clearly. A live test reruns the converter where
// Python with torch and dall_e is present.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../../src/engine/index.js';
import { readSafetensorsSync, toTypedArray, writeSafetensorsSync, type SafeTensor } from '../../src/io/safetensors.js';
import { Rng } from '../../src/nn/init.js';
import { CompiledModule } from '../../src/runtime/compiled-module.js';
import { Dvae, loadDvae, mapPixels, OPENAI_DVAE, saveDvae, smallDvaeConfig, type DvaeConfig } from '../../src/image/dvae.js';
import { dvaeElbo, klToUniform, logitLaplaceNll } from '../../src/image/dvae-loss.js';
import { cosineRamp, dvaeMetrics, paperSchedule, trainDvae, type TrainDvaeOptions } from '../../src/image/dvae-train.js';
import type { RgbImage } from '../../src/image/types.js';
import { gradCheck } from '../engine/gradcheck.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIX = join(ROOT, 'test', 'fixtures', 'dvae');
const OPENAI_DIR = join(FIX, 'openai');
const PYTHON = process.env.TESSERA_PYTHON ?? '/work/venv/bin/python';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tessera-dvae-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function fixture(name: string) {
  const f = readSafetensorsSync(join(FIX, name));
  return (k: string) => {
    const t = f.tensors.get(k);
    assert.ok(t, `${name} lacks '${k}'`);
    return { shape: t.shape, data: toTypedArray(t) as Float32Array & Float64Array & BigInt64Array };
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, `length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function splitImages(data: Float32Array, n: number, size: number): RgbImage[] {
  const per = 3 * size * size;
  return Array.from({ length: n }, (_, i) => ({ width: size, height: size, data: data.slice(i * per, (i + 1) * per) }));
}

// ---- OpenAI parity ----

describe('dVAE vs OpenAI dall_e (converted tiny pickles)', () => {
  const oracle = fixture('oracle.safetensors');
  const input = oracle('input');
  const [N, , S] = input.shape as [number, number, number];
  let vae: Dvae;
  before(() => {
    vae = loadDvae(OPENAI_DIR);
  });
  after(async () => vae.release());

  it('has exactly OpenAI state-dict names and shapes', () => {
    for (const part of ['encoder', 'decoder'] as const) {
      const file = readSafetensorsSync(join(OPENAI_DIR, `${part}.safetensors`));
      const ours = vae[part].namedParameters();
      assert.deepEqual([...ours.keys()].sort(), [...file.tensors.keys()].sort(), part);
      for (const [k, p] of ours) assert.deepEqual([...p.shape], file.tensors.get(k)!.shape, `${part} ${k}`);
    }
    const enc = [...vae.encoder.namedParameters().keys()];
    for (const k of ['blocks.input.w', 'blocks.input.b', 'blocks.group_2.block_1.id_path.w', 'blocks.group_1.block_1.res_path.conv_1.w', 'blocks.output.conv.w']) {
      assert.ok(enc.includes(k), k);
    }
    assert.ok(!enc.includes('blocks.group_1.block_1.id_path.w'), 'no id_path where the width does not change');
    assert.deepEqual(vae.encoder.namedParameters().get('blocks.group_1.block_1.res_path.conv_4.w')!.shape, [8, 2, 1, 1]); // encoder conv_4 is 1×1
    assert.deepEqual(vae.decoder.namedParameters().get('blocks.group_1.block_1.res_path.conv_1.w')!.shape, [16, 8, 1, 1]); // decoder conv_1 is 1×1
    assert.equal(vae.gridSize, 3);
  });

  it('gives OpenAI logits, identical argmax tokens, decoder outputs and reconstructions', async () => {
    const images = splitImages(input.data, N, S);
    const logits = await vae.encodeImageLogits(images);
    const dLogits = maxAbsDiff(logits, oracle('logits').data);
    assert.ok(dLogits < 1e-4, `logits max abs diff ${dLogits}`);
    const tokens = await vae.encodeTokens(images);
    const want = Array.from(oracle('tokens').data, Number);
    assert.deepEqual(Array.from(tokens), want);
    assert.ok(new Set(want).size >= 5, 'the fixture tokens vary');
    const stats = await vae.decodeTokenStats(tokens);
    const dStats = maxAbsDiff(stats, oracle('dec_out').data);
    assert.ok(dStats < 1e-4, `decoder output max abs diff ${dStats}`);
    const recon = await vae.decodeTokens(tokens);
    const flat = new Float32Array(recon.length * 3 * S * S);
    recon.forEach((r, i) => flat.set(r.data, i * r.data.length));
    const dRecon = maxAbsDiff(flat, oracle('recon').data);
    assert.ok(dRecon < 1e-4, `reconstruction max abs diff ${dRecon}`);
    // the decoder on the soft relaxation softmax(logits), through the graph API
    const cm = new CompiledModule(vae, { bake: 'never' });
    const K = vae.config.vocabSize;
    const prog = await cm.program('soft', () => {
      const l = T.input('logits', [N, K, 3, 3]);
      return { inputs: [l], outputs: { out: vae.decode(T.softmax(l, 1)) } };
    });
    const soft = (await cm.run(prog, { logits: oracle('logits').data })).out!.data as Float32Array;
    const dSoft = maxAbsDiff(soft, oracle('soft_dec_out').data);
    assert.ok(dSoft < 1e-4, `soft decoder output max abs diff ${dSoft}`);
    await cm.release();
    console.log(`# OpenAI parity: logits ${dLogits.toExponential(2)}, decoder ${dStats.toExponential(2)}, recon ${dRecon.toExponential(2)}, soft decoder ${dSoft.toExponential(2)}`);
  });

  it('round-trips through saveDvae / loadDvae with the same files', async () => {
    const dir = join(tmp, 'resaved');
    saveDvae(dir, vae, { note: 'x' });
    const again = loadDvae(dir);
    for (const part of ['encoder', 'decoder'] as const) {
      const a = readSafetensorsSync(join(OPENAI_DIR, `${part}.safetensors`));
      const b = readSafetensorsSync(join(dir, `${part}.safetensors`));
      for (const [k, t] of a.tensors) assert.deepEqual(toTypedArray(b.tensors.get(k)!), toTypedArray(t), k);
    }
    assert.deepEqual(again.config, vae.config);
    assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).meta.note, 'x');
  });
});

// ---- the loss ----

describe('dVAE loss', () => {
  const L = fixture('loss.safetensors');
  const x = L('x');

  it('equals float64 PyTorch: logit-Laplace NLL, KL to uniform, total and its gradients', async () => {
    const f = await T.compile(
      (xin: T.Tensor, mu: T.Tensor, lnb: T.Tensor, logits: T.Tensor, beta: T.Tensor) => {
        const xm = mapPixels(xin);
        const terms = dvaeElbo(xm, T.concat([mu, lnb], 1), logits, beta);
        const [gmu, glnb, glogits] = T.grad(terms.loss, [mu, lnb, logits]);
        return { nll: logitLaplaceNll(xm, mu, lnb), kl: klToUniform(logits), total: terms.loss, gmu: gmu!, glnb: glnb!, glogits: glogits! };
      },
      ['x', 'mu', 'lnb', 'logits', 'beta'].map((k) => ({ shape: L(k).shape, dtype: 'float64' as const })),
    );
    const out = (await f(x.data, L('mu').data, L('lnb').data, L('logits').data, L('beta').data)) as Record<string, Float64Array>;
    const checks: [string, string][] = [
      ['nll', 'nll'],
      ['kl', 'kl'],
      ['total', 'total'],
      ['gmu', 'grad_mu'],
      ['glnb', 'grad_lnb'],
      ['glogits', 'grad_logits'],
    ];
    const diffs: string[] = [];
    for (const [ours, theirs] of checks) {
      const d = maxAbsDiff(out[ours]!, L(theirs).data);
      assert.ok(d < 1e-10, `${ours} max abs diff ${d}`);
      diffs.push(`${ours} ${d.toExponential(1)}`);
    }
    console.log(`# loss vs PyTorch float64: ${diffs.join(', ')}`);
    await f.program.release();
  });

  it('gradients equal central differences (float64)', async () => {
    const f64 = (k: string) => Array.from(L(k).data as Float64Array);
    const xv = f64('x');
    const beta = f64('beta');
    await gradCheck(
      'dvae elbo',
      (mu, lnb, logits, xin, b) => dvaeElbo(mapPixels(xin!), T.concat([mu!, lnb!], 1), logits!, b!).loss,
      [
        { shape: [1, 3, 4, 4], values: f64('mu') },
        { shape: [1, 3, 4, 4], values: f64('lnb') },
        { shape: [1, 5, 2, 2], values: f64('logits') },
        { shape: [1, 3, 4, 4], values: xv, noGrad: true },
        { shape: [1], values: beta, noGrad: true },
      ],
    );
  });

  it('schedules: cosine ramps, paper schedules scaled to the run', () => {
    assert.equal(cosineRamp(0, 1, 1 / 16, 10), 1);
    assert.ok(Math.abs(cosineRamp(5, 1, 1 / 16, 10) - (1 + 1 / 16) / 2) < 1e-12);
    assert.equal(cosineRamp(10, 1, 1 / 16, 10), 1 / 16);
    assert.equal(cosineRamp(99, 0, 6.6, 10), 6.6);
    const s = paperSchedule(1_200_000);
    assert.equal(s.tauSteps, 150_000);
    assert.equal(s.betaSteps, 5_000);
    assert.equal(paperSchedule(100, { tauSteps: 50 }).tauSteps, 50);
  });
});

// ---- training ----

const SIZE = 16;
const TINY: DvaeConfig = { inputSize: SIZE, inputChannels: 3, outputChannels: 3, groupCount: 3, nHid: 8, nBlkPerGroup: 1, vocabSize: 32, nInit: 8, quantizer: 'gumbel' };

/** 8×8 red, green or blue squares at random places on a dark 16×16 background. */
function squares(n: number, seed: number): RgbImage[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const d = new Float32Array(3 * SIZE * SIZE).fill(0.1);
    const col = rng.int(3);
    const y0 = rng.int(SIZE - 8);
    const x0 = rng.int(SIZE - 8);
    for (let y = y0; y < y0 + 8; y++) for (let x = x0; x < x0 + 8; x++) d[col * SIZE * SIZE + y * SIZE + x] = 0.9;
    return { width: SIZE, height: SIZE, data: d };
  });
}

const TRAIN = squares(48, 1);
const HELD = squares(8, 2);

function opts(out: string, extra: Partial<TrainDvaeOptions> = {}): TrainDvaeOptions {
  return { images: TRAIN, heldOut: HELD, config: TINY, out, steps: 30, batch: 8, lr: 2e-2, seed: 3, progress: false, log: () => {}, evalInterval: 6, ...extra };
}

function weightsOf(v: Dvae): Map<string, Float32Array> {
  return new Map([...v.nameParameters()].map(([k, p]) => [k, Float32Array.from(p.data)]));
}

describe('dVAE training on the shared trainer', () => {
  let full: Awaited<ReturnType<typeof trainDvae>>;
  before(async () => {
    full = await trainDvae(opts(join(tmp, 'gumbel-full')));
  });
  after(async () => full.vae.release());

  it('lowers the held-out loss and reports PSNR and codebook usage', () => {
    const vals = full.train.history.filter((h) => h.val_loss !== undefined).map((h) => h.val_loss!);
    assert.equal(vals.length, 5);
    assert.ok(vals[vals.length - 1]! < vals[0]! - 0.3, `held-out loss ${vals.map((v) => v.toFixed(3)).join(' → ')}`);
    const m = full.metrics!;
    assert.ok(Number.isFinite(m.psnr) && m.psnr > 5, `PSNR ${m.psnr}`);
    assert.ok(m.perplexity >= 1 && m.perplexity <= 32);
    assert.equal(m.usedCodes + m.deadCodes, 32);
    const onDisk = JSON.parse(readFileSync(join(tmp, 'gumbel-full', 'metrics.json'), 'utf8'));
    assert.equal(onDisk.psnr, m.psnr);
    assert.equal(onDisk.on, 'held-out');
    console.log(`# gumbel: held-out loss ${vals.map((v) => v.toFixed(3)).join(' → ')}, PSNR ${m.psnr.toFixed(2)} dB, perplexity ${m.perplexity.toFixed(2)}, dead ${m.deadCodes}`);
  });

  it('writes a dVAE directory that loads and tokenizes like the trained model', async () => {
    const loaded = loadDvae(join(tmp, 'gumbel-full'));
    const a = await loaded.encodeTokens(HELD);
    const b = await full.vae.encodeTokens(HELD);
    assert.deepEqual(Array.from(a), Array.from(b));
    assert.equal(a.length, HELD.length * 16);
    const m = await dvaeMetrics(loaded, HELD);
    assert.equal(m.psnr, full.metrics!.psnr);
    await loaded.release();
  });

  it('stopped at step 14 and resumed equals the uninterrupted run bitwise', async () => {
    const out = join(tmp, 'gumbel-split');
    const a = await trainDvae(opts(out, { stopAtStep: 14 }));
    assert.equal(a.train.steps, 14);
    assert.equal(a.metrics, undefined);
    const b = await trainDvae(opts(out, { resume: true, seed: 3 }));
    assert.equal(b.train.steps, 30);
    assert.deepEqual(
      b.train.history.map((h) => h.train_loss),
      full.train.history.map((h) => h.train_loss),
    );
    const wa = weightsOf(b.vae);
    const wb = weightsOf(full.vae);
    for (const [k, v] of wb) assert.deepEqual(wa.get(k), v, k);
    await a.vae.release();
    await b.vae.release();
  });

  it('resuming with a different config fails naming the field', async () => {
    const out = join(tmp, 'gumbel-split');
    await assert.rejects(trainDvae(opts(out, { resume: true, config: { ...TINY, vocabSize: 64 } })), /vocab_size|vocabSize/);
  });

  it('the VQ option trains too, with codebook tokens through the same API', async () => {
    const vq = await trainDvae(opts(join(tmp, 'vq'), { config: { ...TINY, quantizer: 'vq', codebookDim: 8 }, steps: 24 }));
    const vals = vq.train.history.filter((h) => h.val_loss !== undefined).map((h) => h.val_loss!);
    assert.ok(vals[vals.length - 1]! < vals[0]! - 0.3, `VQ held-out loss ${vals.map((v) => v.toFixed(3)).join(' → ')}`);
    const tokens = await vq.vae.encodeTokens(HELD);
    assert.ok(tokens.every((t) => t >= 0 && t < 32));
    const recon = await vq.vae.decodeTokens(tokens);
    assert.equal(recon.length, HELD.length);
    assert.ok(recon.every((r) => r.data.every((v) => v >= 0 && v <= 1)));
    const loaded = loadDvae(join(tmp, 'vq'));
    assert.equal(loaded.config.quantizer, 'vq');
    assert.deepEqual(loaded.decoder.namedParameters().get('codebook')!.shape, [32, 8]);
    assert.deepEqual(Array.from(await loaded.encodeTokens(HELD)), Array.from(tokens));
    console.log(`# vq: held-out loss ${vals.map((v) => v.toFixed(3)).join(' → ')}, PSNR ${vq.metrics!.psnr.toFixed(2)} dB, perplexity ${vq.metrics!.perplexity.toFixed(2)}`);
    await loaded.release();
    await vq.vae.release();
  });
});

// ---- configs and errors ----

describe('dVAE configs and errors', () => {
  it('OpenAI preset shapes: 256×256 → 32×32 tokens, widths 256…2048', () => {
    const v = new Dvae(OPENAI_DVAE);
    assert.equal(v.gridSize, 32);
    const enc = v.encoder.namedParameters();
    assert.deepEqual(enc.get('blocks.input.w')!.shape, [256, 3, 7, 7]);
    assert.deepEqual(enc.get('blocks.group_4.block_2.res_path.conv_4.w')!.shape, [2048, 512, 1, 1]);
    assert.deepEqual(enc.get('blocks.output.conv.w')!.shape, [8192, 2048, 1, 1]);
    const dec = v.decoder.namedParameters();
    assert.deepEqual(dec.get('blocks.input.w')!.shape, [128, 8192, 1, 1]);
    assert.deepEqual(dec.get('blocks.group_1.block_1.id_path.w')!.shape, [2048, 128, 1, 1]);
    assert.deepEqual(dec.get('blocks.output.conv.w')!.shape, [6, 256, 1, 1]);
    assert.equal(v.encoder.blocks._groups[0]!._blocks[0]!.postGain, 1 / 64);
    assert.equal(new Dvae(smallDvaeConfig).gridSize, 8);
    assert.throws(() => new Dvae({ ...TINY, inputSize: 18 }), /inputSize 18 must be a multiple of 4/);
    assert.throws(() => new Dvae({ ...TINY, nHid: 6 }), /nHid must be a multiple of 4/);
  });

  it('wrong image sizes and bad tokens are refused clearly', async () => {
    const v = loadDvae(OPENAI_DIR);
    await assert.rejects(v.encodeTokens(squares(1, 1)), /image 0 is 16×16 .* expected 24×24×3 \(this dVAE takes 24×24 RGB images\)/);
    await assert.rejects(v.decodeTokens([1, 2, 3]), /3 tokens is not a whole number of 3×3 grids/);
    await assert.rejects(v.decodeTokens(new Int32Array(9).fill(16)), /token 0 is 16, outside \[0, 16\)/);
    await v.release();
    await assert.rejects(trainDvae(opts(join(tmp, 'bad'), { images: [HELD[0]!, { width: 8, height: 8, data: new Float32Array(192) }] })), /training image 1 is 8×8/);
  });

  it('damaged directories name the file, tensor or field', () => {
    const dir = join(tmp, 'damaged');
    cpSync(OPENAI_DIR, dir, { recursive: true });
    // a missing tensor
    const enc = readSafetensorsSync(join(dir, 'encoder.safetensors'));
    const kept = new Map<string, SafeTensor>([...enc.tensors].filter(([k]) => k !== 'blocks.group_2.block_1.id_path.w'));
    writeSafetensorsSync(join(dir, 'encoder.safetensors'), kept);
    assert.throws(() => loadDvae(dir), /encoder\.safetensors: missing tensor 'blocks\.group_2\.block_1\.id_path\.w' \(expected shape \[16, 8, 1, 1\]/);
    cpSync(join(OPENAI_DIR, 'encoder.safetensors'), join(dir, 'encoder.safetensors'));
    // config disagreeing with the tensors
    const cfg = JSON.parse(readFileSync(join(OPENAI_DIR, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, n_hid: 16 }));
    assert.throws(() => loadDvae(dir), /encoder\.safetensors: tensor 'blocks\.input\.w' has shape \[8, 3, 7, 7\], config\.json implies \[16, 3, 7, 7\]/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, n_blk_per_group: undefined }));
    assert.throws(() => loadDvae(dir), /config\.json: field 'n_blk_per_group' is missing/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, model_type: 'gpt2' }));
    assert.throws(() => loadDvae(dir), /model_type is "gpt2", expected "tessera-dvae"/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    rmSync(join(dir, 'decoder.safetensors'));
    assert.throws(() => loadDvae(dir), /decoder\.safetensors is missing/);
    assert.throws(() => loadDvae(join(tmp, 'nowhere')), /not a tessera dVAE directory: no config\.json/);
  });
});

// ---- live converter ----

const hasDallE =
  existsSync(PYTHON) && spawnSync(PYTHON, ['-c', "import sys; sys.path.insert(0, '/work/shared/oracles'); import torch, attr, dall_e"], { encoding: 'utf8' }).status === 0;

describe('convert_openai_dvae.py (live)', () => {
  it('converts freshly pickled dall_e modules into the committed directory', { skip: hasDallE ? false : `no torch + dall_e at ${PYTHON}` }, async () => {
    const pickles = join(tmp, 'pickles');
    const out = join(tmp, 'converted');
    const mk = spawnSync(PYTHON, [join(ROOT, 'scripts', 'make_dvae_fixture.py'), '--pickles', pickles, '--pickles-only'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(mk.status, 0, mk.stderr);
    const cv = spawnSync(
      PYTHON,
      [join(ROOT, 'scripts', 'convert_openai_dvae.py'), '--encoder', join(pickles, 'encoder.pkl'), '--decoder', join(pickles, 'decoder.pkl'), '--out', out, '--input-size', '24', '--dall-e-path', '/work/shared/oracles'],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(cv.status, 0, cv.stderr);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')), JSON.parse(readFileSync(join(OPENAI_DIR, 'config.json'), 'utf8')));
    for (const f of ['encoder.safetensors', 'decoder.safetensors']) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(OPENAI_DIR, f))), `${f} differs from the committed fixture`);
    const v = loadDvae(out);
    const oracle = fixture('oracle.safetensors');
    const logits = await v.encodeImageLogits(splitImages(oracle('input').data, 2, 24));
    assert.ok(maxAbsDiff(logits, oracle('logits').data) < 1e-4);
    await v.release();
  });
});
