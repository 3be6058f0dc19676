// The DALL·E transformer: forward logits and the 1/8–7/8 loss equal an independent PyTorch implementation
// (scripts/make_dalle_fixture.py → test/fixtures/dalle; regenerated live when TESSERA_PYTHON is set); each text
// position has its own pad id; on the traced model an image query sees exactly the paper's row / column / conv
// window (perturb one input token, see which logits move); cached sampling equals full-forward greedy decoding and
// only emits image ids; guidance at scale 1 equals plain conditional sampling; training lowers the loss and a
// stopped + resumed run equals an uninterrupted one; dVAE mismatch and caption truncation messages.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { input } from '../../src/engine/ops/core.js';
import { f32FromSafeTensor, readSafetensorsSync, toTypedArray } from '../../src/io/safetensors.js';
import { EVAL } from '../../src/nn/layers.js';
import { CompiledModule } from '../../src/runtime/compiled-module.js';
import { checkDvaeCompatible, DalleModel, loadDalle, saveDalle, type DalleAttention, type DalleConfig } from '../../src/image/dalle.js';
import { sampleImageTokens } from '../../src/image/dalle-sample.js';
import { evaluateDalle, trainDalle, type DalleExample } from '../../src/image/dalle-train.js';
import { checkSameTokenizer, loadCaptionTokenizer, trainCaptionTokenizer } from '../../src/image/text-tokenizer.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURE = join(HERE, '..', 'fixtures', 'dalle');
const SCRIPT = join(HERE, '..', '..', 'scripts', 'make_dalle_fixture.py');

const TINY: DalleConfig = {
  textVocab: 20,
  textLength: 4,
  imageVocab: 12,
  gridHeight: 3,
  gridWidth: 4,
  nLayer: 4,
  nHead: 2,
  nEmbd: 16,
  dropout: 0,
  convKernel: 3,
  lossImageWeight: 7 / 8,
  nullCaptionProb: 0,
};

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Full-forward logits (B, N, V) of rows of input ids. */
async function fullLogits(model: DalleModel, rows: number[][], cm?: CompiledModule<DalleModel>): Promise<Float32Array> {
  const c = cm ?? new CompiledModule(model, { bake: 'never' });
  const B = rows.length;
  const N = rows[0]!.length;
  const prog = await c.program(`full_B${B}_N${N}`, () => {
    const idx = input('idx', [B, N], 'int64');
    return { inputs: [idx], outputs: { logits: model.logits(idx, EVAL) } };
  });
  const r = await c.run(prog, { idx: BigInt64Array.from(rows.flat(), BigInt) });
  if (!cm) await c.release();
  return r.logits!.data as Float32Array;
}

function readFixture(dir: string) {
  const st = readSafetensorsSync(join(dir, 'batch.safetensors'));
  const ints = (k: string) => Array.from(toTypedArray(st.tensors.get(k)!) as BigInt64Array, Number);
  return {
    idx: ints('idx'),
    textTargets: ints('text_targets'),
    imageTargets: ints('image_targets'),
    logits: f32FromSafeTensor(st.tensors.get('logits')!),
    expected: JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as {
      captions: number[][];
      codes: number[][];
      loss: { text: number; image: number; total: number };
    },
  };
}

async function checkAgainst(dir: string, t: { diagnostic(msg: string): void }): Promise<void> {
  const { model, config } = loadDalle(dir);
  const fx = readFixture(dir);
  const lay = model.layout;
  // the stream tessera builds from the captions and codes is the one PyTorch built
  const ex = fx.expected.captions.map((c, i) => lay.example(c, fx.expected.codes[i]!));
  assert.deepEqual(ex.flatMap((e) => e.idx), fx.idx);
  assert.deepEqual(ex.flatMap((e) => e.textTargets), fx.textTargets);
  assert.deepEqual(ex.flatMap((e) => e.imageTargets), fx.imageTargets);
  const B = ex.length;
  const logits = await fullLogits(model, ex.map((e) => e.idx));
  const dl = maxDiff(logits, fx.logits);
  const losses = await evaluateDalle(model, fx.expected.captions.map((c, i) => ({ textIds: c, imageTokens: fx.expected.codes[i]! })), B);
  const dt = Math.abs(losses.text - fx.expected.loss.text);
  const di = Math.abs(losses.image - fx.expected.loss.image);
  const dT = Math.abs(losses.total - fx.expected.loss.total);
  t.diagnostic(`vs PyTorch: max |Δlogit| ${dl.toExponential(2)}, |Δloss| text ${dt.toExponential(2)} image ${di.toExponential(2)} total ${dT.toExponential(2)}`);
  assert.ok(dl < 1e-4, `max |Δlogit| ${dl}`);
  assert.ok(dt < 1e-5 && di < 1e-5 && dT < 1e-5, `loss text ${losses.text} vs ${fx.expected.loss.text}, image ${losses.image} vs ${fx.expected.loss.image}`);
  assert.ok(Math.abs(fx.expected.loss.total - (fx.expected.loss.text / 8 + (7 * fx.expected.loss.image) / 8)) < 1e-6);
  assert.equal(config.lossImageWeight, 7 / 8);
}

describe('DALL·E vs PyTorch', () => {
  it('committed fixture: logits and the 1/8 text + 7/8 image loss', async (t) => {
    await checkAgainst(FIXTURE, t);
  });
  it('live: the PyTorch script regenerated now agrees with the fixture and with tessera', { skip: !process.env.TESSERA_PYTHON && 'set TESSERA_PYTHON to a Python with torch' }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'dalle-fx-'));
    try {
      execFileSync(process.env.TESSERA_PYTHON!, [SCRIPT, '--out', dir], { stdio: 'pipe' });
      const a = readFixture(dir);
      const b = readFixture(FIXTURE);
      assert.ok(maxDiff(a.logits, b.logits) < 1e-5, 'regenerated logits differ from the committed fixture');
      await checkAgainst(dir, t);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stream layout', () => {
  it('every text position has its own pad id; <bos> is position 0’s; image ids follow the text range', () => {
    const m = new DalleModel(TINY);
    const lay = m.layout;
    const pads = lay.nullTextStream();
    assert.equal(pads.length, TINY.textLength + 1);
    assert.equal(new Set(pads).size, pads.length);
    assert.deepEqual(pads, [20, 21, 22, 23, 24]);
    assert.equal(lay.bosId, 20);
    assert.deepEqual(lay.textStream([5, 6]), [20, 5, 6, 23, 24]);
    assert.equal(lay.textTotal, 25);
    assert.equal(lay.imageId(0), 25);
    assert.equal(m.transformer.tcfg.vocabSize, 37);
    assert.deepEqual(m.transformer.tcfg.imageGrid, { textLength: 5, height: 3, width: 4 });
    const e = lay.example([5], Array.from({ length: 12 }, (_, i) => i));
    assert.equal(e.idx.length, 16); // L + hw: the last image token is not input
    assert.deepEqual(e.idx.slice(5), Array.from({ length: 11 }, (_, i) => 25 + i));
    assert.deepEqual(e.textTargets, [5, 22, 23, 24]);
    assert.deepEqual(m.transformer.tcfg.patterns.map((p) => p.kind), ['row', 'column', 'row', 'conv']);
    assert.throws(() => lay.textStream([1, 2, 3, 4, 5]), /5 tokens, more than the text length 4/);
    assert.throws(() => lay.textStream([20]), /outside the caption vocabulary 0..19/);
    assert.throws(() => lay.example([], [1, 2]), /grid is 3×4 = 12/);
  });
});

describe('attention windows on the traced model (perturb one input, see which logits move)', () => {
  const L = TINY.textLength;
  const W = TINY.gridWidth;
  const T0 = L + 1; // input position of image cell 0
  const N = L + 12;
  // what the paper's masks let the query at input position q (holding cell q − T0) see, stated independently
  const expect = (kind: DalleAttention, q: number, k: number): boolean => {
    if (k > q) return false;
    if (k < T0 || q < T0) return true; // text causal; image queries see all text
    const [rq, cq] = [Math.floor((q - T0) / W), (q - T0) % W];
    const [rk, ck] = [Math.floor((k - T0) / W), (k - T0) % W];
    if (kind === 'row') return q - k <= W; // the held cell and the W cells before it (raster, wraps)
    if (kind === 'column') return cq === ck;
    return rq - rk <= 1 && Math.abs(cq - ck) <= 1; // causal 3×3
  };
  for (const kind of ['row', 'column', 'conv'] as const) {
    it(kind, async () => {
      const model = new DalleModel({ ...TINY, nLayer: 1, attention: [kind] }).initialize(11);
      const lay = model.layout;
      const base = lay.example([3, 4], [5, 1, 7, 2, 9, 0, 3, 8, 6, 11, 10, 4]).idx;
      const rows = [base];
      for (let k = 0; k < N; k++) {
        const r = [...base];
        r[k] = k < T0 ? (r[k]! === 7 ? 8 : 7) : lay.imageId((r[k]! - lay.textTotal + 5) % 12);
        rows.push(r);
      }
      const lg = await fullLogits(model, rows);
      const V = lay.vocabSize;
      for (let k = 0; k < N; k++) {
        for (let q = 0; q < N; q++) {
          const a = lg.subarray(q * V, (q + 1) * V);
          const b = lg.subarray(((k + 1) * N + q) * V, ((k + 1) * N + q + 1) * V);
          const moved = maxDiff(a, b) > 1e-6;
          assert.equal(moved, expect(kind, q, k), `${kind}: query at ${q} ${moved ? 'sees' : 'does not see'} key ${k}`);
        }
      }
      if (kind === 'row') {
        // from the predicted cell's side: the query predicting cell (2, 1) holds (2, 0) and sees (1, 1) above it and (1, 0)
        const q = T0 + 2 * W + 1 - 1;
        assert.ok(expect('row', q, T0 + W + 1) && expect('row', q, T0 + W) && !expect('row', q, T0 + W - 1));
      }
    });
  }
});

describe('sampling', () => {
  it('cached greedy decoding equals full-forward greedy decoding', async () => {
    const { model } = loadDalle(FIXTURE);
    const lay = model.layout;
    const captions = [[3, 7, 11], [], [19, 0, 5, 2]];
    const got = await sampleImageTokens(model, captions, { greedy: true, batch: 2 });
    assert.equal(got.count, 3);
    assert.equal(got.tokens.length, 3 * 12);
    const cm = new CompiledModule(model, { bake: 'never' });
    const V = lay.vocabSize;
    for (let c = 0; c < captions.length; c++) {
      const codes: number[] = [];
      for (let j = 0; j < 12; j++) {
        const row = [...lay.textStream(captions[c]!), ...codes.map((x) => lay.imageId(x))];
        while (row.length < lay.inputLength) row.push(lay.imageId(0)); // later positions cannot affect position L + j
        const lg = await fullLogits(model, [row], cm);
        const at = (TINY.textLength + j) * V + lay.textTotal;
        let best = 0;
        for (let k = 1; k < 12; k++) if (lg[at + k]! > lg[at + best]!) best = k;
        codes.push(best);
      }
      assert.deepEqual(Array.from(got.tokens.subarray(c * 12, (c + 1) * 12)), codes, `caption ${c}`);
    }
    await cm.release();
  });

  it('only image ids are emitted even where text ids dominate the logits', async () => {
    const { model } = loadDalle(FIXTURE);
    const lay = model.layout;
    const named = model.nameParameters();
    // every hidden state becomes e_0 and row 0 of the head gives text ids +100: unrestricted, text always wins
    named.get('transformer.ln_f.weight')!.data.fill(0);
    const b = named.get('transformer.ln_f.bias')!.data;
    b.fill(0);
    b[0] = 1;
    const head = named.get('transformer.lm_head.weight')!.data; // (C, V)
    for (let v = 0; v < lay.vocabSize; v++) head[v] = v < lay.textTotal ? 100 : (v * 7) % 5;
    const lg = await fullLogits(model, [lay.example([1], new Array(12).fill(0)).idx]);
    assert.ok(lg[TINY.textLength * lay.vocabSize]! === 100);
    const s = await sampleImageTokens(model, [[1], [2, 3]], { n: 3, temperature: 1, seed: 5 });
    for (const x of s.tokens) assert.ok(x >= 0 && x < 12, `code ${x}`);
    const g = await sampleImageTokens(model, [[1]], { greedy: true });
    const want = [...Array(12).keys()].reduce((bst, k) => (((lay.textTotal + k) * 7) % 5 > ((lay.textTotal + bst) * 7) % 5 ? k : bst), 0);
    assert.ok(g.tokens.every((x) => x === want));
  });

  it('guidance at condScale 1 equals plain conditional sampling; samples do not depend on the batch', async () => {
    const { model } = loadDalle(FIXTURE);
    const caps = [[3, 7, 11], [19, 0]];
    const o = { n: 2, temperature: 1, topK: 6, seed: 3 };
    const plain = await sampleImageTokens(model, caps, { ...o, batch: 4 });
    const cfg1 = await sampleImageTokens(model, caps, { ...o, batch: 4, condScale: 1 });
    const one = await sampleImageTokens(model, caps, { ...o, batch: 1 });
    assert.deepEqual(Array.from(cfg1.tokens), Array.from(plain.tokens));
    assert.deepEqual(Array.from(one.tokens), Array.from(plain.tokens));
    const cfg3 = await sampleImageTokens(model, caps, { ...o, batch: 4, condScale: 3 });
    assert.notDeepEqual(Array.from(cfg3.tokens), Array.from(plain.tokens));
    await assert.rejects(sampleImageTokens(model, ['a red square'], {}), /pass the caption tokenizer/);
  });
});

describe('training', () => {
  // captions [a, b] → a striped image of codes a and b (a learnable mapping)
  const examples: DalleExample[] = Array.from({ length: 24 }, (_, i) => {
    const a = i % 6;
    const b = 6 + ((i * 5) % 6);
    return { textIds: i % 4 === 0 ? [a] : [a, b], imageTokens: Array.from({ length: 12 }, (_, j) => (Math.floor(j / 4) % 2 === 0 ? a : b)) };
  });
  const cfg: DalleConfig = { ...TINY, dropout: 0.1, nullCaptionProb: 0.25 };
  const common = { config: cfg, examples: examples.slice(0, 20), heldOut: examples.slice(20), steps: 24, batch: 8, lr: 1e-2, warmup: 2, seed: 4, progress: false, log: () => {} };

  it('lowers the loss; a stopped and resumed run equals an uninterrupted one', async (t) => {
    const dirA = mkdtempSync(join(tmpdir(), 'dalle-a-'));
    const dirB = mkdtempSync(join(tmpdir(), 'dalle-b-'));
    try {
      const before = await evaluateDalle(new DalleModel(cfg).initialize(4), examples.slice(0, 20), 8);
      const a = await trainDalle({ ...common, out: dirA });
      const f = (l: { text: number; image: number; total: number }) => `text ${l.text.toFixed(3)} image ${l.image.toFixed(3)} total ${l.total.toFixed(3)}`;
      t.diagnostic(`24 steps: train ${f(before)} → ${f(a.losses.train)}; held-out ${f(a.losses.heldOut!)}`);
      assert.ok(a.losses.train.total < before.total - 0.5, `train loss ${before.total} → ${a.losses.train.total}`);
      assert.ok(a.losses.heldOut!.total < before.total, `held-out ${a.losses.heldOut!.total}`);
      assert.ok(a.losses.train.image < before.image && a.losses.train.text < before.text);
      const b1 = await trainDalle({ ...common, out: dirB, stopAtStep: 10 });
      assert.match(b1.result.stopped ?? '', /stopped at step 10/);
      const b2 = await trainDalle({ ...common, out: dirB, resume: true });
      assert.deepEqual(b2.result.history.map((h) => h.train_loss), a.result.history.map((h) => h.train_loss));
      const wa = a.model.nameParameters();
      for (const [name, p] of b2.model.nameParameters()) assert.deepEqual(p.data, wa.get(name)!.data, name);
      const loaded = loadDalle(dirA);
      assert.deepEqual(loaded.model.nameParameters().get('transformer.wte.weight')!.data, wa.get('transformer.wte.weight')!.data);
      assert.equal(loaded.file.dvae.num_tokens, 12);
    } finally {
      rmSync(dirA, { recursive: true, force: true });
      rmSync(dirB, { recursive: true, force: true });
    }
  });
});

describe('files and messages', () => {
  const captions = ['A red circle above a blue square', 'a green triangle', 'two yellow circles', 'a red square left of a green circle'];

  it('caption tokenizer: lowercased, truncation warns naming the caption and lengths, fingerprint stable across save/load', () => {
    const tok = trainCaptionTokenizer(captions, 300);
    assert.ok(tok.vocabSize <= 300 && tok.vocabSize > 256);
    assert.deepEqual(tok.encodeCaption('A RED Circle', 16).ids, tok.encodeCaption('a red circle', 16).ids);
    const warnings: string[] = [];
    const e = tok.encodeCaption('a red square left of a green circle', 3, (m) => warnings.push(m));
    assert.equal(e.truncated, true);
    assert.equal(e.ids.length, 3);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /caption "a red square left of a green circle" has \d+ tokens, more than the text length 3; keeping the first 3/);
    assert.equal(tok.encodeCaption('a red circle', 16).truncated, false);
    const dir = mkdtempSync(join(tmpdir(), 'captok-'));
    try {
      tok.save(dir);
      const back = loadCaptionTokenizer(dir);
      assert.equal(back.fingerprint(), tok.fingerprint());
      assert.deepEqual(back.encodeCaption('a green circle', 16).ids, tok.encodeCaption('a green circle', 16).ids);
      const other = trainCaptionTokenizer(['something else entirely', 'else'], 280);
      assert.notEqual(other.fingerprint(), tok.fingerprint());
      assert.throws(
        () => checkSameTokenizer({ name: 'clip', fingerprint: other.fingerprint() }, { name: 'dalle', fingerprint: tok.fingerprint() }),
        /clip and dalle use different caption tokenizers/,
      );
      // a DALL·E dir carries the tokenizer and its fingerprint
      const m = new DalleModel({ ...TINY, textVocab: tok.vocabSize }).initialize(1);
      saveDalle(dir, m, { tokenizer: tok });
      const l = loadDalle(dir);
      assert.equal(l.tokenizer?.fingerprint(), tok.fingerprint());
      assert.equal(l.file.tokenizer_fingerprint, tok.fingerprint());
      assert.throws(() => saveDalle(dir, new DalleModel(TINY), { tokenizer: tok }), /tokenizer has \d+ ids but the model's textVocab is 20/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a dVAE with another codebook or grid is refused, naming both', () => {
    assert.doesNotThrow(() => checkDvaeCompatible(TINY, { imageVocab: 12, gridHeight: 3, gridWidth: 4 }));
    assert.throws(
      () => checkDvaeCompatible(TINY, { imageVocab: 512, gridHeight: 8, gridWidth: 8, name: 'runs/dvae' }, 'runs/dalle'),
      /runs\/dalle was trained on dVAE tokens with K = 12 codes on a 3×4 grid, but the dVAE runs\/dvae has K = 512 codes on a 8×8 grid/,
    );
    assert.throws(() => loadDalle(join(HERE, '..', 'fixtures', 'hf_gpt2_tiny')), /is not "tessera-dalle"/);
  });
});
