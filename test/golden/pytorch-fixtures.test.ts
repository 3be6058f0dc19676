// Golden fixtures from PyTorch (scripts/make_fixtures.py): forward outputs, loss, gradients of every parameter, and
// parameters after 3 AdamW steps with clipping, for a 2-layer GPT-2-style stack and a small conv encoder/decoder.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import * as T from '../../src/engine/index.js';
import { readSafetensorsSync, toTypedArray, type SafeTensor } from '../../src/io/safetensors.js';
import { resolveConfig } from '../../src/lm/config.js';
import { GPT } from '../../src/lm/model.js';
import { Module, withBound, Conv2d, ConvTranspose2d, createTrainStep, EVAL } from '../../src/nn/index.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

function load(name: string) {
  const f = readSafetensorsSync(fixture(name));
  const get = (k: string): SafeTensor => {
    const t = f.tensors.get(k);
    assert.ok(t, `fixture ${name} lacks '${k}'`);
    return t;
  };
  const f32 = (k: string) => toTypedArray(get(k)) as Float32Array;
  const i64 = (k: string) => toTypedArray(get(k)) as BigInt64Array;
  return { f, get, f32, i64 };
}

function assertClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number) {
  assert.equal(got.length, want.length, `${name}: length ${got.length} vs ${want.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!) - (atol + rtol * Math.abs(want[i]!));
    if (err > worst) {
      worst = err;
      at = i;
    }
  }
  assert.ok(at < 0, `${name}: index ${at} got ${got[at]} want ${want[at]}`);
}

function loadInit(model: Module, get: (k: string) => Float32Array) {
  for (const [name, p] of model.nameParameters()) p.data = Float32Array.from(get(`init.${name}`));
}

async function checkForwardAndGrads(
  model: Module,
  data: { name: string; shape: number[]; dtype: T.DType; value: T.TypedArray }[],
  forward: (d: T.Tensor[]) => { out: T.Tensor; loss: T.Tensor },
  fx: ReturnType<typeof load>,
  outKey: string,
) {
  const named = model.nameParameters();
  const names = [...named.keys()];
  const specs = [...names.map((n) => ({ name: n, shape: named.get(n)!.shape })), ...data.map((d) => ({ name: d.name, shape: d.shape, dtype: d.dtype }))];
  const f = await T.compile((...xs: T.Tensor[]) => {
    const pt = new Map(names.map((n, i) => [n, xs[i]!]));
    return withBound(named, pt, () => {
      const { out, loss } = forward(xs.slice(names.length));
      const grads = T.grad(loss, names.map((n) => pt.get(n)!));
      return { out, loss, ...Object.fromEntries(names.map((n, i) => [`grad.${n}`, grads[i]!])) };
    });
  }, specs);
  const r = (await f(...names.map((n) => named.get(n)!.data), ...data.map((d) => d.value))) as Record<string, Float32Array>;
  assertClose(outKey, r.out!, fx.f32(outKey), 1e-5, 1e-4);
  assertClose('loss', r.loss!, fx.f32('out.loss'), 1e-6, 1e-5);
  for (const n of names) assertClose(`grad.${n}`, r[`grad.${n}`]!, fx.f32(`grad.${n}`), 1e-6, 1e-3);
  await f.program.release();
}

describe('PyTorch golden fixtures', () => {
  it('2-layer GPT-2 stack: logits, loss, every gradient, and 3 AdamW steps with clipping', async () => {
    const fx = load('gpt2_stack.safetensors');
    const cfg = resolveConfig(undefined, { vocabSize: 64, blockSize: 16, nEmbd: 32, nHead: 4, nLayer: 2, bias: true, dropout: 0 });
    const model = new GPT(cfg);
    loadInit(model, fx.f32);
    assert.equal(model.parameterCount(), 28032);
    const idx = fx.i64('input.idx');
    const targets = fx.i64('input.targets');
    const data = [
      { name: 'idx', shape: [2, 16], dtype: 'int64' as const, value: idx },
      { name: 'targets', shape: [2, 16], dtype: 'int64' as const, value: targets },
    ];
    await checkForwardAndGrads(model, data, ([i, t]) => ({ out: model.forward(i!, EVAL), loss: model.loss(i!, t!, EVAL) }), fx, 'out.logits');

    const clip = fx.f32('meta.clip')[0]!;
    const step = await createTrainStep(model, {
      data: data.map(({ name, shape, dtype }) => ({ name, shape, dtype })),
      loss: (d, ctx) => model.loss(d.get('idx')!, d.get('targets')!, ctx),
      optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
      clipNorm: clip,
    });
    for (let k = 1; k <= 3; k++) {
      const r = await step.step([{ idx, targets }], 1e-2, k);
      assertClose(`step${k}.loss`, [r.loss], fx.f32(`step${k}.loss`), 1e-6, 1e-5);
      assertClose(`step${k}.grad_norm`, [r.gradNorm], fx.f32(`step${k}.grad_norm`), 1e-6, 1e-4);
      for (const [name, p] of model.nameParameters()) assertClose(`step${k}.${name}`, p.data, fx.f32(`step${k}.${name}`), 1e-4, 1e-4);
    }
    await step.release();
  });

  it('conv encoder/decoder: reconstruction, loss, every gradient, and 3 AdamW steps with clipping', async () => {
    const fx = load('conv_autoencoder.safetensors');
    class Enc extends Module {
      conv1 = new Conv2d(3, 8, 3, { padding: 1 });
      conv2 = new Conv2d(8, 16, 3, { padding: 1 });
    }
    class Dec extends Module {
      conv1 = new Conv2d(16, 8, 3, { padding: 1 });
      convt = new ConvTranspose2d(8, 3, 4, { stride: 2, padding: 1 });
    }
    class AutoEncoder extends Module {
      enc = new Enc();
      dec = new Dec();
      forward(x: T.Tensor): T.Tensor {
        let h = T.avgPool2d(T.relu(this.enc.conv1.forward(x)), 2); // (N, 8, 8, 8)
        h = T.maxPool2d(T.relu(this.enc.conv2.forward(h)), 2); // (N, 16, 4, 4)
        h = T.upsampleNearest(h, 2); // (N, 16, 8, 8)
        h = T.relu(this.dec.conv1.forward(h)); // (N, 8, 8, 8)
        return T.sigmoid(this.dec.convt.forward(h)); // (N, 3, 16, 16)
      }
      loss(x: T.Tensor, y: T.Tensor): T.Tensor {
        const d = T.sub(this.forward(x), y);
        return T.mean(T.mul(d, d));
      }
    }
    const model = new AutoEncoder();
    loadInit(model, fx.f32);
    for (const p of model.parameters()) p.decay = true; // one group, weight decay on every parameter
    const x = fx.f32('input.x');
    const y = fx.f32('input.y');
    const data = [
      { name: 'x', shape: [2, 3, 16, 16], dtype: 'float32' as const, value: x },
      { name: 'y', shape: [2, 3, 16, 16], dtype: 'float32' as const, value: y },
    ];
    await checkForwardAndGrads(model, data, ([xx, yy]) => ({ out: model.forward(xx!), loss: model.loss(xx!, yy!) }), fx, 'out.recon');
    const step = await createTrainStep(model, {
      data: data.map(({ name, shape, dtype }) => ({ name, shape, dtype })),
      loss: (d) => model.loss(d.get('x')!, d.get('y')!),
      optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
      clipNorm: fx.f32('meta.clip')[0]!,
    });
    for (let k = 1; k <= 3; k++) {
      const r = await step.step([{ x, y }], 1e-2, k);
      assertClose(`step${k}.loss`, [r.loss], fx.f32(`step${k}.loss`), 1e-7, 1e-5);
      assertClose(`step${k}.grad_norm`, [r.gradNorm], fx.f32(`step${k}.grad_norm`), 1e-8, 1e-4);
      for (const [name, p] of model.nameParameters()) assertClose(`step${k}.${name}`, p.data, fx.f32(`step${k}.${name}`), 1e-4, 1e-4);
    }
    await step.release();
  });
});
