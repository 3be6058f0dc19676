// CLIP (src/image/clip.ts, clip-train.ts, rerank.ts): parity with an independent PyTorch implementation
// (scripts/make_clip_fixture.py → test/fixtures/clip: embeddings, logits, loss, gradients incl. the logit scale, and
// the clamp at 100), unit-norm embeddings, the symmetric loss against a hand computation, a short training on
// coloured squares that reaches high retrieval accuracy, stop/resume equal to an uninterrupted run, reranking, and
// clear errors on bad input.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../../src/engine/index.js';
import { f32FromSafeTensor, readSafetensorsSync, toTypedArray, writeSafetensorsSync } from '../../src/io/safetensors.js';
import { withBound } from '../../src/nn/module.js';
import {
  ClipModel,
  clipConfig,
  contrastiveLoss,
  loadClip,
  LOGIT_SCALE_INIT,
  saveClip,
  type ClipConfig,
  type ClipScorer,
} from '../../src/image/clip.js';
import { CaptionBatchSource, trainClip, type ClipExample } from '../../src/image/clip-train.js';
import { rankScores, rerank } from '../../src/image/rerank.js';
import type { RgbImage } from '../../src/image/types.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtureDir = join(root, 'test/fixtures/clip');
const python = process.env.TESSERA_PYTHON ?? '/work/venv/bin/python';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-clip-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const GRAD_NAMES = ['logit_scale', 'text.text_projection.weight', 'visual.proj.weight', 'visual.class_embedding'];

interface Outputs {
  img: Float32Array;
  txt: Float32Array;
  logits: Float32Array;
  loss: number;
  grads: Map<string, Float32Array>;
}

/** Embeddings, logits, loss and selected gradients of `model` on one batch, in one compiled graph. */
async function forwardAndGrads(model: ClipModel, images: Float32Array, ids: BigInt64Array, B: number): Promise<Outputs> {
  const named = model.nameParameters();
  const names = [...named.keys()];
  const c = model.config;
  const specs = [
    ...names.map((n, i) => ({ name: `p${i}`, shape: named.get(n)!.shape })),
    { name: 'images', shape: [B, 3, c.imageSize, c.imageSize] },
    { name: 'ids', shape: [B, c.textLength], dtype: 'int64' as const },
  ];
  const f = await T.compile((...ins: T.Tensor[]) => {
    const bound = new Map(names.map((n, i) => [n, ins[i]!]));
    return withBound(named, bound, () => {
      const x = ins[names.length]!;
      const t = ins[names.length + 1]!;
      const img = model.imageEmbeddings(x);
      const txt = model.textEmbeddings(t);
      const logits = T.mul(T.matmulNT(img, txt), model.scale());
      const loss = contrastiveLoss(logits);
      const grads = T.grad(loss, GRAD_NAMES.map((n) => bound.get(n)!));
      return [img, txt, logits, loss, ...grads];
    });
  }, specs);
  const out = await f(...names.map((n) => named.get(n)!.data), images, ids);
  await f.program.release();
  const [img, txt, logits, loss, ...grads] = out as Float32Array[];
  return { img: img!, txt: txt!, logits: logits!, loss: loss![0]!, grads: new Map(GRAD_NAMES.map((n, i) => [n, grads[i]!])) };
}

/** Max abs difference of a from the reference b, divided by max(1, max |b|): at scale 100 logits reach ±100. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  let size = 1;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    size = Math.max(size, Math.abs(b[i]!));
  }
  return m / size;
}

function refTensors(path: string): Map<string, Float32Array | BigInt64Array> {
  const st = readSafetensorsSync(path);
  return new Map([...st.tensors].map(([k, v]) => [k, v.dtype === 'I64' ? (toTypedArray(v) as BigInt64Array) : f32FromSafeTensor(v)]));
}

async function checkAgainstReference(fx: string): Promise<Record<string, number>> {
  const ref = refTensors(join(fx, 'reference.safetensors'));
  const model = loadClip(join(fx, 'model'), { tokenizerFingerprint: 'fixture-ids' });
  const images = ref.get('images') as Float32Array;
  const ids = ref.get('text_ids') as BigInt64Array;
  const B = ids.length / model.config.textLength;
  const diffs: Record<string, number> = {};
  const o = await forwardAndGrads(model, images, ids, B);
  diffs.image_embeds = maxAbsDiff(o.img, ref.get('image_embeds') as Float32Array);
  diffs.text_embeds = maxAbsDiff(o.txt, ref.get('text_embeds') as Float32Array);
  diffs.logits = maxAbsDiff(o.logits, ref.get('logits_per_image') as Float32Array);
  diffs.loss = maxAbsDiff([o.loss], ref.get('loss') as Float32Array);
  for (const n of GRAD_NAMES) diffs[`grad.${n}`] = maxAbsDiff(o.grads.get(n)!, ref.get(`grad.${n}`) as Float32Array);
  assert.ok(Math.abs(o.grads.get('logit_scale')![0]!) > 0.1, 'the unclamped logit scale has a gradient');
  // the clamp: logit_scale 5 (exp 148) → the loss uses 100 and the scale gets no gradient
  model.logit_scale.data[0] = 5;
  const k = await forwardAndGrads(model, images, ids, B);
  diffs.clamped_logits = maxAbsDiff(k.logits, ref.get('clamped_logits_per_image') as Float32Array);
  diffs.clamped_loss = maxAbsDiff([k.loss], ref.get('clamped_loss') as Float32Array);
  for (const n of GRAD_NAMES) diffs[`clamped_grad.${n}`] = maxAbsDiff(k.grads.get(n)!, ref.get(`clamped_grad.${n}`) as Float32Array);
  assert.equal(k.grads.get('logit_scale')![0], 0, 'no gradient reaches a clamped logit scale');
  return diffs;
}

function assertSmall(diffs: Record<string, number>, tol: number): void {
  for (const [k, v] of Object.entries(diffs)) assert.ok(v <= tol, `${k}: max abs diff ${v} (relative to max(1, max |ref|)) > ${tol}`);
}

describe('CLIP against the PyTorch reference', () => {
  it('embeddings, logits, loss and gradients match the committed fixture', async () => {
    const diffs = await checkAgainstReference(fixtureDir);
    console.log(`# clip fixture max abs diffs: ${Object.entries(diffs).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
    assertSmall(diffs, 2e-5);
  });

  it('re-running scripts/make_clip_fixture.py reproduces the fixture', { timeout: 120_000 }, async (t) => {
    const py = existsSync(python) ? spawnSync(python, ['-c', 'import torch, safetensors'], { encoding: 'utf8', timeout: 60_000 }) : undefined;
    const skip = !py ? `no Python at ${python} (set TESSERA_PYTHON)` : py.status !== 0 ? `torch/safetensors not importable by ${python}` : '';
    if (skip) return t.skip(skip);
    const out = join(dir, 'fresh-fixture');
    const r = spawnSync(python, [join(root, 'scripts/make_clip_fixture.py'), '--out', out], { encoding: 'utf8', timeout: 90_000 });
    assert.equal(r.status, 0, r.stderr);
    const fresh = refTensors(join(out, 'reference.safetensors'));
    const stored = refTensors(join(fixtureDir, 'reference.safetensors'));
    assert.deepEqual([...fresh.keys()].sort(), [...stored.keys()].sort());
    for (const [k, v] of stored) {
      if (v instanceof BigInt64Array) assert.deepEqual(fresh.get(k), v, k);
      else assert.ok(maxAbsDiff(fresh.get(k) as Float32Array, v) <= 1e-5, k);
    }
    assertSmall(await checkAgainstReference(out), 2e-5);
  });
});

// ---- host API, loss, clamp ----

function fixtureBatch(): { model: ClipModel; images: RgbImage[]; texts: number[][] } {
  const ref = refTensors(join(fixtureDir, 'reference.safetensors'));
  const model = loadClip(join(fixtureDir, 'model'));
  const S = model.config.imageSize;
  const n = 3 * S * S;
  const px = ref.get('images') as Float32Array;
  const images = Array.from({ length: px.length / n }, (_, i) => ({ width: S, height: S, data: px.slice(i * n, (i + 1) * n) }));
  const ids = ref.get('text_ids') as BigInt64Array;
  const L = model.config.textLength;
  const texts = Array.from({ length: ids.length / L }, (_, i) => Array.from(ids.slice(i * L, (i + 1) * L), Number).filter((t) => t !== 0));
  return { model, images, texts };
}

/** Symmetric cross-entropy by hand from embeddings (rows of D) and a scale. */
function handLoss(img: Float32Array, txt: Float32Array, D: number, scale: number): number {
  const B = img.length / D;
  const logit = (i: number, j: number) => {
    let s = 0;
    for (let d = 0; d < D; d++) s += img[i * D + d]! * txt[j * D + d]!;
    return scale * s;
  };
  const ce = (row: (j: number) => number, target: number) => {
    const xs = Array.from({ length: B }, (_, j) => row(j));
    const m = Math.max(...xs);
    const lse = m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
    return lse - xs[target]!;
  };
  let i2t = 0;
  let t2i = 0;
  for (let i = 0; i < B; i++) {
    i2t += ce((j) => logit(i, j), i);
    t2i += ce((j) => logit(j, i), i);
  }
  return (i2t / B + t2i / B) / 2;
}

async function compiledLoss(model: ClipModel, images: RgbImage[], texts: number[][]): Promise<number> {
  const c = model.config;
  const B = images.length;
  const named = model.nameParameters();
  const names = [...named.keys()];
  const f = await T.compile(
    (...ins: T.Tensor[]) =>
      withBound(named, new Map(names.map((n, i) => [n, ins[i]!])), () => model.loss(ins[names.length]!, ins[names.length + 1]!)),
    [...names.map((n) => ({ shape: named.get(n)!.shape })), { shape: [B, 3, c.imageSize, c.imageSize] }, { shape: [B, c.textLength], dtype: 'int64' as const }],
  );
  const px = new Float32Array(images.length * 3 * c.imageSize ** 2);
  images.forEach((im, i) => px.set(im.data, i * im.data.length));
  const ids = new BigInt64Array(B * c.textLength).fill(BigInt(c.padId));
  texts.forEach((t, i) => t.forEach((v, j) => (ids[i * c.textLength + j] = BigInt(v))));
  const out = (await f(...names.map((n) => named.get(n)!.data), px, ids)) as Float32Array;
  await f.program.release();
  return out[0]!;
}

describe('CLIP host API and loss', () => {
  it('embeddings are unit-norm, score is their cosine, programs are cached per batch size', async () => {
    const { model, images, texts } = fixtureBatch();
    const D = model.config.embedDim;
    const img = await model.encodeImages(images);
    const txt = await model.encodeTexts(texts);
    for (const e of [img, txt]) {
      for (let i = 0; i < e.length / D; i++) {
        const norm = Math.hypot(...e.slice(i * D, (i + 1) * D));
        assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
      }
    }
    const ref = refTensors(join(fixtureDir, 'reference.safetensors'));
    assert.ok(maxAbsDiff(img, ref.get('image_embeds') as Float32Array) < 2e-5);
    assert.ok(maxAbsDiff(txt, ref.get('text_embeds') as Float32Array) < 2e-5);
    const one = await model.score(texts[1]!, images);
    const many = await model.score(texts, images);
    assert.equal(one.length, 4);
    assert.equal(many.length, 16);
    for (let n = 0; n < 4; n++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += txt[D + d]! * img[n * D + d]!;
      assert.ok(Math.abs(one[n]! - dot) < 1e-6);
      assert.ok(Math.abs(many[4 + n]! - dot) < 1e-6);
    }
    await model.encodeImages(images.slice(0, 2));
    await model.encodeImages(images.slice(1, 3));
    assert.equal((model as unknown as { _runtime: { size: number } })._runtime.size, 4, 'image 4, text 4, text 1, image 2');
    await model.release();
  });

  it('the symmetric loss equals a hand computation, and exp(logit_scale) is clamped at 100', async () => {
    const { model, images, texts } = fixtureBatch();
    const D = model.config.embedDim;
    assert.ok(Math.abs(model.logit_scale.data[0]! - LOGIT_SCALE_INIT) < 1e-6);
    const img = await model.encodeImages(images);
    const txt = await model.encodeTexts(texts);
    await model.release();
    const loss = await compiledLoss(model, images, texts);
    const hand = handLoss(img, txt, D, Math.exp(LOGIT_SCALE_INIT));
    assert.ok(Math.abs(loss - hand) < 1e-4 * Math.max(1, hand), `${loss} vs ${hand}`);
    model.logit_scale.data[0] = 12; // exp(12) ≈ 1.6e5
    const clamped = await compiledLoss(model, images, texts);
    const hand100 = handLoss(img, txt, D, 100);
    assert.ok(Math.abs(clamped - hand100) < 1e-4 * hand100, `clamped loss ${clamped} vs scale-100 hand loss ${hand100}`);
    assert.ok(Math.abs(clamped - handLoss(img, txt, D, Math.exp(12))) > 1, 'the unclamped scale would give another loss');
  });
});

// ---- training on coloured squares ----

const COLOURS: [number, number, number][] = [
  [0.9, 0.1, 0.1], // red
  [0.1, 0.8, 0.2], // green
  [0.15, 0.2, 0.9], // blue
  [0.95, 0.9, 0.1], // yellow
];
const SQUARE = 5; // token of the word "square"; colour c is token c + 1

const TOY: ClipConfig = clipConfig({
  textVocab: 8,
  textLength: 4,
  textWidth: 32,
  textLayers: 1,
  textHeads: 2,
  imageSize: 16,
  patchSize: 8,
  visionWidth: 32,
  visionLayers: 1,
  visionHeads: 2,
  embedDim: 16,
});

/** A square of colour c (side 6–11, random place) on a noisy grey background, captioned [c + 1, SQUARE]. */
function squares(n: number, seed: number): ClipExample[] {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return Array.from({ length: n }, (_, i) => {
    const c = i % 4;
    const S = 16;
    const data = new Float32Array(3 * S * S);
    const side = 6 + Math.floor(rand() * 6);
    const y0 = Math.floor(rand() * (S - side + 1));
    const x0 = Math.floor(rand() * (S - side + 1));
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const inside = y >= y0 && y < y0 + side && x >= x0 && x < x0 + side;
        const grey = 0.4 + 0.2 * rand();
        for (let ch = 0; ch < 3; ch++) data[ch * S * S + y * S + x] = inside ? COLOURS[c]![ch]! : grey;
      }
    }
    return { textIds: [c + 1, SQUARE], image: { width: S, height: S, data } };
  });
}

describe('CLIP training', () => {
  const train = squares(32, 1);
  const heldOut = squares(8, 2);
  const base = { config: TOY, examples: train, heldOut, steps: 40, batch: 4, lr: 3e-3, seed: 7, progress: false, log: () => {}, tokenizer: { tokenizerFingerprint: 'toy-colours' } };
  let full: Awaited<ReturnType<typeof trainClip>>;

  before(async () => {
    full = await trainClip({ ...base, out: join(dir, 'toy-full') });
  });

  it('reaches high held-out retrieval accuracy and writes the model and metrics.json', () => {
    assert.equal(full.steps, 40);
    assert.ok(full.train_loss < full.history[0]!.train_loss * 0.5, `loss ${full.history[0]!.train_loss} → ${full.train_loss}`);
    const r = full.retrieval!;
    console.log(`# toy retrieval: in-batch top-1 ${r.inBatch.top1}, among ${r.allCaptions.candidates} captions ${r.allCaptions.top1}, loss ${full.train_loss.toFixed(3)}`);
    assert.equal(r.on, 'held_out');
    assert.equal(r.examples, 8);
    assert.equal(r.allCaptions.candidates, 4);
    assert.ok(r.inBatch.top1 >= 0.875, `in-batch top-1 ${r.inBatch.top1}`);
    assert.ok(r.allCaptions.top1 >= 0.875, `all-captions top-1 ${r.allCaptions.top1}`);
    const metrics = JSON.parse(readFileSync(join(dir, 'toy-full', 'metrics.json'), 'utf8'));
    assert.equal(metrics.model_type, 'tessera-clip');
    assert.deepEqual(metrics.retrieval, r);
    const config = JSON.parse(readFileSync(join(dir, 'toy-full', 'config.json'), 'utf8'));
    assert.equal(config.model_type, 'tessera-clip');
    assert.equal(config.tokenizer_fingerprint, 'toy-colours');
    const loaded = loadClip(join(dir, 'toy-full'), { tokenizerFingerprint: 'toy-colours' });
    for (const [k, p] of full.model.nameParameters()) assert.deepEqual(loaded.nameParameters().get(k)!.data, p.data, k);
  });

  it('stopped part-way and resumed, equals the uninterrupted run', async () => {
    const out = join(dir, 'toy-split');
    const a = await trainClip({ ...base, out, stopAtStep: 15 });
    assert.equal(a.steps, 15);
    assert.match(a.stopped!, /stopped at step 15/);
    assert.equal(a.retrieval, undefined);
    const b = await trainClip({ ...base, out, resume: true });
    assert.equal(b.steps, 40);
    assert.deepEqual(b.history.map((h) => h.train_loss), full.history.map((h) => h.train_loss));
    for (const [k, p] of full.model.nameParameters()) assert.deepEqual(b.model.nameParameters().get(k)!.data, p.data, k);
    assert.deepEqual(b.retrieval, full.retrieval);
  });
});

// ---- batching, reranking, bad input ----

describe('CLIP batches', () => {
  it('no caption twice in a batch while the data set has enough distinct captions; state resumes exactly', () => {
    // 3 captions, 2 of them frequent: batches of 3 always hold all three
    const ex = squares(12, 3).map((e, i) => ({ ...e, textIds: [1 + (i % 5 === 0 ? 2 : i % 2), SQUARE] }));
    const src = new CaptionBatchSource(ex, 3, 5, TOY);
    const seen = new Map<number, number>();
    for (let b = 0; b < 8; b++) {
      const idx = src.nextIndices();
      assert.equal(idx.length, 3);
      assert.equal(new Set(idx.map((i) => ex[i]!.textIds.join())).size, 3, `batch ${b} has a repeated caption`);
      for (const i of idx) seen.set(i, (seen.get(i) ?? 0) + 1);
    }
    assert.equal(seen.size, 12, 'deferred examples are still drawn');
    const st = JSON.parse(JSON.stringify(src.state()));
    const after = [src.nextIndices(), src.nextIndices()];
    const again = new CaptionBatchSource(ex, 3, 5, TOY);
    again.setState(st);
    assert.deepEqual([again.nextIndices(), again.nextIndices()], after);
    // more rows than distinct captions: duplicates are unavoidable and allowed
    assert.equal(new CaptionBatchSource(ex, 5, 5, TOY).nextIndices().length, 5);
    assert.throws(() => again.setState({ epoch: 0, cursor: 99, deferred: [] }), /does not fit this data set of 12 examples/);
  });
});

describe('rerank', () => {
  const img = (v: number): RgbImage => ({ width: 1, height: 1, data: Float32Array.of(v, v, v) });
  const fake: ClipScorer = { score: async (_t, images) => Float32Array.from(images, (im) => im.data[0]!) };

  it('keeps the top k, breaks ties by generation order, keeps generation order in the arrays', async () => {
    const r = await rerank(fake, [1], [0.1, 0.5, 0.5, -0.2, 0.3].map(img), 2);
    assert.deepEqual(r.scores.map((s) => Math.round(s * 10) / 10), [0.1, 0.5, 0.5, -0.2, 0.3]);
    assert.deepEqual(r.order, [1, 2, 4, 0, 3]);
    assert.deepEqual(r.kept, [false, true, true, false, false]);
    assert.deepEqual((await rerank(fake, [1], [img(0.2), img(0.1)], 5)).kept, [true, true]);
    assert.deepEqual((await rerank(fake, [1], [img(0.2)], 0)).kept, [false]);
    assert.deepEqual(rankScores([NaN, 0.1], 1).order, [1, 0]);
    await assert.rejects(rerank(fake, [1], [img(0)], -1), /k must be a non-negative integer/);
    await assert.rejects(rerank(fake, [1], [img(0)], 1.5), /k must be a non-negative integer/);
  });

  it('with a trained CLIP, the samples of the caption\'s colour are kept', async () => {
    const model = loadClip(join(dir, 'toy-full'));
    const samples = squares(8, 9); // colours 0,1,2,3,0,1,2,3
    const images = samples.map((s) => s.image);
    const r = await rerank(model, [3, SQUARE], images, 2); // "blue square"
    assert.deepEqual(r.kept, [false, false, true, false, false, false, true, false]);
    assert.deepEqual(new Set(r.order.slice(0, 2)), new Set([2, 6]));
    const direct = await model.score([3, SQUARE], images);
    assert.deepEqual(r.scores, Array.from(direct));
    await model.release();
  });
});

describe('CLIP bad input', () => {
  it('refuses images of the wrong size and captions longer than textLength', async () => {
    const { model, images, texts } = fixtureBatch();
    const small: RgbImage = { width: 8, height: 8, data: new Float32Array(3 * 64) };
    await assert.rejects(model.encodeImages([images[0]!, small]), /image 1 is 8×8, this model takes 16×16 images/);
    await assert.rejects(model.encodeImages([{ width: 16, height: 16, data: new Float32Array(10) }]), /image 0 has 10 values/);
    const nan = { ...images[0]!, data: images[0]!.data.slice() };
    nan.data[5] = NaN;
    await assert.rejects(model.encodeImages([nan]), /image 0 has a non-finite pixel/);
    await assert.rejects(model.encodeTexts([texts[0]!, [1, 2, 3, 4, 5, 6, 7, 8, 9]]), /caption 1 has 9 tokens, longer than the model's textLength 8/);
    await assert.rejects(model.encodeTexts([[1, 99]]), /caption 0 token 1 is 99, not an id in \[0, 24\)/);
    await assert.rejects(model.score([0, 0], images), /caption 0 is empty/);
    await assert.rejects(
      trainClip({ config: TOY, examples: [...squares(3, 1), { textIds: [1, 2, 3, 4, 5], image: squares(1, 1)[0]!.image }], out: join(dir, 'bad'), steps: 1, batch: 2, lr: 1e-3, seed: 1, progress: false, log: () => {} }),
      /training example 3: caption has 5 tokens, longer than the model's textLength 4/,
    );
    await model.release();
  });

  it('refuses a model dir missing a tensor, of another type, or of another tokenizer', () => {
    const bad = join(dir, 'missing-tensor');
    cpSync(join(fixtureDir, 'model'), bad, { recursive: true });
    const st = readSafetensorsSync(join(bad, 'model.safetensors'));
    st.tensors.delete('visual.proj.weight');
    writeSafetensorsSync(join(bad, 'model.safetensors'), st.tensors);
    assert.throws(() => loadClip(bad), /missing parameter 'visual\.proj\.weight' \[16, 8\]/);
    assert.throws(() => loadClip(join(dir, 'nowhere')), /not a CLIP model directory \(no config\.json\)/);
    assert.throws(() => loadClip(join(fixtureDir, 'model'), { tokenizerFingerprint: 'other' }), /trained with tokenizer "fixture-ids", but the caller's tokenizer is "other"/);
    const saved = join(dir, 'saved');
    const m = new ClipModel(TOY, { tokenizerFingerprint: 'a', tokenizer: { kind: 'words' }, files: { 'vocab.txt': 'red\ngreen\n' } }).initialize(1);
    saveClip(saved, m);
    const back = loadClip(saved, { tokenizerFingerprint: 'a' });
    assert.deepEqual(back.tokenizerRecord.tokenizer, { kind: 'words' });
    assert.equal(readFileSync(join(saved, 'vocab.txt'), 'utf8'), 'red\ngreen\n');
    const cfg = JSON.parse(readFileSync(join(saved, 'config.json'), 'utf8'));
    assert.equal(cfg.model_type, 'tessera-clip');
    assert.equal(cfg.tokenizer_fingerprint, 'a');
    // another model type; a config that does not fit the weights
    const other = join(dir, 'other');
    cpSync(saved, other, { recursive: true });
    writeFileSync(join(other, 'config.json'), JSON.stringify({ ...cfg, model_type: 'tessera-dvae' }));
    assert.throws(() => loadClip(other), /model_type is "tessera-dvae", expected "tessera-clip"/);
    writeFileSync(join(other, 'config.json'), JSON.stringify({ ...cfg, textWidth: 16, textHeads: 2 }));
    assert.throws(() => loadClip(other), /parameter 'text\.token_embedding\.weight' has shape \[8, 32\], the model expects \[8, 16\]/);
    writeFileSync(join(other, 'config.json'), JSON.stringify({ ...cfg, patchSize: 5 }));
    assert.throws(() => loadClip(other), /imageSize 16 must be a multiple of patchSize 5/);
  });
});
