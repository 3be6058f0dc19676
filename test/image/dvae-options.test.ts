// The dVAE's two options outside the paper (src/image/dvae-loss.ts): the MSE reconstruction term and the
// codebook-diversity penalty log K − H(p̄), against hand computations in float64, their gradients against central
// differences, and the trainer passing them through.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/engine/index.js';
import { codeDiversityPenalty, dvaeMseLoss, klToUniform } from '../../src/image/dvae-loss.js';
import { gradCheck } from '../engine/gradcheck.js';

const rand = (n: number, seed: number) => {
  let s = seed;
  return Array.from({ length: n }, () => ((s = (s * 48271) % 2147483647) / 2147483647) * 2 - 1);
};

describe('dVAE loss options', () => {
  it('MSE term: mean over sub-pixels of (sigmoid(μ) − x)² plus β·ΣKL / (C·H·W), per image then averaged', async () => {
    const [N, C, H, W, K, h, w] = [2, 3, 4, 4, 5, 2, 2];
    const x = rand(N * C * H * W, 3).map((v) => 0.1 + 0.4 * (v + 1));
    const stats = rand(N * 2 * C * H * W, 5);
    const logits = rand(N * K * h * w, 7).map((v) => 3 * v);
    const beta = 0.7;
    const f = await T.compile(
      (xi: T.Tensor, st: T.Tensor, lg: T.Tensor, b: T.Tensor) => ({ loss: dvaeMseLoss(xi, st, lg, b).loss, kl: klToUniform(lg) }),
      [
        { shape: [N, C, H, W], dtype: 'float64' },
        { shape: [N, 2 * C, H, W], dtype: 'float64' },
        { shape: [N, K, h, w], dtype: 'float64' },
        { shape: [1], dtype: 'float64' },
      ],
    );
    const out = (await f(Float64Array.from(x), Float64Array.from(stats), Float64Array.from(logits), Float64Array.of(beta))) as Record<string, Float64Array>;
    let want = 0;
    for (let n = 0; n < N; n++) {
      let se = 0;
      for (let c = 0; c < C; c++)
        for (let i = 0; i < H * W; i++) {
          const mu = stats[n * 2 * C * H * W + c * H * W + i]!;
          const d = 1 / (1 + Math.exp(-mu)) - x[n * C * H * W + c * H * W + i]!;
          se += d * d;
        }
      let kl = 0;
      for (let p = 0; p < h * w; p++) {
        const v = Array.from({ length: K }, (_, k) => logits[n * K * h * w + k * h * w + p]!);
        const m = Math.max(...v);
        const z = v.reduce((a, b) => a + Math.exp(b - m), 0);
        for (const l of v) {
          const q = Math.exp(l - m) / z;
          kl += q * (Math.log(q) + Math.log(K));
        }
      }
      want += (se + beta * kl) / (C * H * W) / N;
    }
    assert.ok(Math.abs(out.loss![0]! - want) < 1e-12, `${out.loss![0]} vs ${want}`);
    await f.program.release();
  });

  it('diversity penalty: 0 when codes are used equally, log K when one code takes every position', async () => {
    const K = 4;
    const f = await T.compile((lg: T.Tensor) => ({ p: codeDiversityPenalty(lg) }), [{ shape: [2, K, 1, 2], dtype: 'float64' }]);
    // each position is confident in a different code: p̄ uniform
    const spread = new Float64Array(2 * K * 2);
    [0, 1, 2, 3].forEach((k, i) => (spread[Math.floor(i / 2) * K * 2 + k * 2 + (i % 2)] = 50));
    assert.ok(Math.abs(((await f(spread)) as Record<string, Float64Array>).p![0]!) < 1e-7); // the 1e-9 inside the log
    const one = new Float64Array(2 * K * 2);
    for (let n = 0; n < 2; n++) for (let p = 0; p < 2; p++) one[n * K * 2 + 0 * 2 + p] = 50;
    assert.ok(Math.abs(((await f(one)) as Record<string, Float64Array>).p![0]! - Math.log(K)) < 1e-7);
    await f.program.release();
  });

  it('gradients equal central differences (float64)', async () => {
    await gradCheck('diversity penalty', (lg) => codeDiversityPenalty(lg!), [{ shape: [2, 5, 2, 2], values: rand(40, 11) }]);
    await gradCheck('mse term', (st, lg, xi, b) => dvaeMseLoss(xi!, st!, lg!, b!).loss, [
      { shape: [1, 6, 2, 2], values: rand(24, 13) },
      { shape: [1, 5, 1, 1], values: rand(5, 17) },
      { shape: [1, 3, 2, 2], values: rand(12, 19).map((v) => 0.5 + 0.3 * v), noGrad: true },
      { shape: [1], values: [0.3], noGrad: true },
    ]);
  });
});
