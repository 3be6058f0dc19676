// The one-run training step: AdamW / SGD updates against a host reference (with clipping and a decay mask),
// gradient accumulation equivalence, buffer reuse, and learning-rate schedules.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/engine/index.js';

// Tiny least-squares problem: loss = mean((x @ w + b - y)^2)
const N = 6;
const D = 3;
const X = Float32Array.from({ length: N * D }, (_, i) => Math.sin(i + 1));
const Y = Float32Array.from({ length: N }, (_, i) => Math.cos(i));

function hostLossGrad(w: number[], b: number[], rows: number[]): { loss: number; gw: number[]; gb: number[] } {
  let loss = 0;
  const gw = [0, 0, 0];
  const gb = [0];
  for (const r of rows) {
    let p = b[0]!;
    for (let j = 0; j < D; j++) p += X[r * D + j]! * w[j]!;
    const e = p - Y[r]!;
    loss += e * e;
    for (let j = 0; j < D; j++) gw[j]! += (2 * e * X[r * D + j]!) / rows.length;
    gb[0]! += (2 * e) / rows.length;
  }
  return { loss: loss / rows.length, gw, gb };
}

function makeParams() {
  return [
    { name: 'w', shape: [D, 1], data: Float32Array.of(0.5, -0.3, 0.8), decay: true },
    { name: 'b', shape: [1], data: Float32Array.of(0.1), decay: false },
  ];
}

function lossFn(p: Map<string, T.Tensor>, d: Map<string, T.Tensor>) {
  const pred = T.add(T.matmul(d.get('x')!, p.get('w')!), p.get('b')!); // (n, 1)
  const e = T.sub(pred, d.get('y')!);
  return T.mean(T.mul(e, e));
}

const close = (a: number, b: number, tol = 2e-5) => assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${a} vs ${b}`);

describe('train step', () => {
  it('AdamW with clipping and a decay mask matches a host reference over 3 steps', async () => {
    const params = makeParams();
    const step = await T.TrainStep.create({
      params,
      data: [
        { name: 'x', shape: [N, D] },
        { name: 'y', shape: [N, 1] },
      ],
      loss: lossFn,
      optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
      clipNorm: 0.5,
    });
    let w = [0.5, -0.3, 0.8];
    let b = [0.1];
    const mw = [0, 0, 0], vw = [0, 0, 0], mb = [0], vb = [0];
    const lrs = [0.1, 0.05, 0.02];
    const bufIds = new Set<Float32Array>();
    for (let t = 1; t <= 3; t++) {
      const lr = lrs[t - 1]!;
      const r = await step.step([{ x: X, y: Y }], lr, t);
      bufIds.add(params[0]!.data);
      const ref = hostLossGrad(w, b, [0, 1, 2, 3, 4, 5]);
      const norm = Math.sqrt([...ref.gw, ...ref.gb].reduce((p, q) => p + q * q, 0));
      close(r.loss, ref.loss);
      close(r.gradNorm, norm);
      const coef = Math.min(1, 0.5 / (norm + 1e-6));
      const upd = (p: number[], g: number[], m: number[], v: number[], decay: boolean) =>
        p.map((pv, i) => {
          const gi = g[i]! * coef;
          m[i] = 0.9 * m[i]! + 0.1 * gi;
          v[i] = 0.95 * v[i]! + 0.05 * gi * gi;
          let q = decay ? pv * (1 - lr * 0.1) : pv;
          const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - 0.95 ** t) + 1e-8;
          q -= (lr / (1 - 0.9 ** t)) * (m[i]! / denom);
          return q;
        });
      w = upd(w, ref.gw, mw, vw, true);
      b = upd(b, ref.gb, mb, vb, false);
      Array.from(params[0]!.data).forEach((v, i) => close(v, w[i]!, 1e-5));
      close(params[1]!.data[0]!, b[0]!, 1e-5);
    }
    // the engine alternates between two pre-allocated buffer sets
    assert.equal(bufIds.size, 2);
    const slots = step.slots();
    close(slots.get('exp_avg.w')![0]!, mw[0]!, 1e-5);
    close(slots.get('exp_avg_sq.b')![0]!, vb[0]!, 1e-5);
    await step.release();
  });

  it('SGD with momentum matches a host reference', async () => {
    const params = makeParams();
    const step = await T.TrainStep.create({
      params,
      data: [{ name: 'x', shape: [N, D] }, { name: 'y', shape: [N, 1] }],
      loss: lossFn,
      optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 0.01 },
    });
    let w = [0.5, -0.3, 0.8];
    let b = [0.1];
    const bw = [0, 0, 0], bb = [0];
    for (let t = 1; t <= 3; t++) {
      await step.step([{ x: X, y: Y }], 0.05, t);
      const ref = hostLossGrad(w, b, [0, 1, 2, 3, 4, 5]);
      const upd = (p: number[], g: number[], buf: number[], decay: boolean) =>
        p.map((pv, i) => {
          const gi = g[i]! + (decay ? 0.01 * pv : 0);
          buf[i] = 0.9 * buf[i]! + gi;
          return pv - 0.05 * buf[i]!;
        });
      w = upd(w, ref.gw, bw, true);
      b = upd(b, ref.gb, bb, false);
    }
    Array.from(params[0]!.data).forEach((v, i) => close(v, w[i]!, 1e-5));
    close(params[1]!.data[0]!, b[0]!, 1e-5);
    await step.release();
  });

  it('gradient accumulation over 2 micro-batches equals one step on the full batch', async () => {
    const mk = async (accumulate: number, rows: number) =>
      T.TrainStep.create({
        params: makeParams(),
        data: [{ name: 'x', shape: [rows, D] }, { name: 'y', shape: [rows, 1] }],
        loss: lossFn,
        optimizer: { kind: 'adamw', weightDecay: 0.1 },
        clipNorm: 1,
        accumulate,
      });
    const full = await mk(1, N);
    const acc = await mk(2, N / 2);
    const h = (N / 2) * D;
    for (let t = 0; t < 3; t++) {
      const a = await full.step([{ x: X, y: Y }], 0.05, t);
      const b = await acc.step(
        [
          { x: X.slice(0, h), y: Y.slice(0, N / 2) },
          { x: X.slice(h), y: Y.slice(N / 2) },
        ],
        0.05,
        t,
      );
      close(b.loss, a.loss, 1e-5);
      close(b.gradNorm, a.gradNorm, 1e-5);
    }
    full.opts.params.forEach((p, i) => Array.from(p.data).forEach((v, j) => close(acc.opts.params[i]!.data[j]!, v, 1e-5)));
    await full.release();
    await acc.release();
  });

  it('two optimizer steps unrolled into one run equal two single-step runs', async () => {
    const mk = (stepsPerRun: number) =>
      T.TrainStep.create({
        params: makeParams(),
        data: [{ name: 'x', shape: [N / 2, D] }, { name: 'y', shape: [N / 2, 1] }],
        loss: lossFn,
        optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.95, weightDecay: 0.1 },
        clipNorm: 0.3,
        stepsPerRun,
      });
    const one = await mk(1);
    const two = await mk(2);
    const h = (N / 2) * D;
    const b1 = { x: X.slice(0, h), y: Y.slice(0, N / 2) };
    const b2 = { x: X.slice(h), y: Y.slice(N / 2) };
    for (let round = 0; round < 2; round++) {
      const r1 = await one.step([b1], 0.05, 10 + round);
      const r2 = await one.step([b2], 0.04, 20 + round);
      const [s1, s2] = await two.steps([b1, b2], [0.05, 0.04], [10 + round, 20 + round]);
      close(s1!.loss, r1.loss, 1e-6);
      close(s2!.loss, r2.loss, 1e-6);
      close(s2!.gradNorm, r2.gradNorm, 1e-6);
    }
    assert.equal(two.t, 4);
    one.opts.params.forEach((p, i) => Array.from(p.data).forEach((v, j) => close(two.opts.params[i]!.data[j]!, v, 1e-6)));
    await assert.rejects(two.steps([b1], [0.1], [1]), /steps expects 2 batches/);
    await one.release();
    await two.release();
  });

  it('warmup + cosine schedule', () => {
    const o = { lr: 1e-3, warmup: 10, decaySteps: 100, minLr: 1e-4 };
    close(T.learningRate(0, o), 1e-3 / 11);
    close(T.learningRate(10, o), 1e-3);
    close(T.learningRate(55, o), 1e-4 + 0.5 * (1e-3 - 1e-4));
    close(T.learningRate(100, o), 1e-4);
    close(T.learningRate(500, o), 1e-4);
    close(T.learningRate(55, { ...o, kind: 'linear' }), 1e-4 + 0.5 * (1e-3 - 1e-4));
  });
});
