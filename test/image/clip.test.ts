// CLIP (src/image/clip.ts, clip-train.ts, rerank.ts): parity with an independent PyTorch implementation
// (scripts/make_clip_fixture.py → test/fixtures/clip: embeddings, logits, loss, gradients incl. the logit scale, and
// the clamp at 100), unit-norm embeddings, the symmetric loss against a hand computation, a short training on
// coloured squares that reaches high retrieval accuracy, stop/resume equal to an uninterrupted run, reranking, and
// clear errors on bad input.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
