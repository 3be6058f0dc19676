// The shared transformer runtime: for every attention pattern (dense, GPT-3 banded, DALL·E row / column / conv over an
// image grid after a text prefix), cached decoding — token by token and in prefill chunks — gives the logits of a
// full recomputation; masks are built once per pattern and shared by the layers; batched scoring with shared
// prefixes equals one-at-a-time scoring within 1e-4; the KV cache forks, reorders and trims; bad input is refused.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/engine/index.js';
import { input } from '../../src/engine/ops/core.js';
import { dallePatterns, fullBias, visible, type AttentionPattern, type ImageGrid } from '../../src/nn/attention-pattern.js';
import { EVAL } from '../../src/nn/layers.js';
import { Transformer, type TransformerConfig } from '../../src/nn/transformer.js';
import { CompiledModule } from '../../src/runtime/compiled-module.js';
import { CachedStepRunner } from '../../src/runtime/cached-step.js';
import { BatchScorer } from '../../src/runtime/batch-scorer.js';
import { KVCache } from '../../src/runtime/kv-cache.js';
import { Rng } from '../../src/nn/init.js';
import { withBound } from '../../src/nn/module.js';

const grid: ImageGrid = { textLength: 5, height: 4, width: 4 }; // 21 positions

function config(patterns: AttentionPattern[], extra: Partial<TransformerConfig> = {}): TransformerConfig {
  return {
    vocabSize: 40,
    blockSize: 24,
    nLayer: patterns.length,
    nHead: 2,
    nEmbd: 16,
    dropout: 0,
    bias: true,
    tiedEmbeddings: true,
    layerNormEps: 1e-5,
    patterns,
    ...extra,
  };
}

const cases: [string, TransformerConfig][] = [
  ['dense', config([{ kind: 'dense' }, { kind: 'dense' }])],
  ['GPT-3 dense/banded', config([{ kind: 'dense' }, { kind: 'banded', width: 3 }, { kind: 'dense' }, { kind: 'banded', width: 3 }])],
  ['row', config([{ kind: 'row', grid }], { imageGrid: grid })],
  ['column', config([{ kind: 'column', grid }], { imageGrid: grid })],
  ['conv 3×3', config([{ kind: 'conv', grid, kernel: 3 }], { imageGrid: grid })],
  ['DALL·E schedule', config(dallePatterns(6, grid, 3), { imageGrid: grid })],
];

async function fullLogits(model: Transformer, ids: number[]): Promise<Float32Array> {
  const cm = new CompiledModule(model, { bake: 'never' });
  const n = ids.length;
  const prog = await cm.program(`f${n}`, () => {
    const idx = input('idx', [1, n], 'int64');
    return { inputs: [idx], outputs: { logits: model.forward(idx, EVAL) } };
  });
  const r = await cm.run(prog, { idx: BigInt64Array.from(ids, BigInt) });
  await cm.release();
  return r.logits!.data as Float32Array;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('attention patterns', () => {
  it('DALL·E schedule: row, column, row, row, …, conv last', () => {
    const kinds = dallePatterns(9, grid).map((p) => p.kind);
    assert.deepEqual(kinds, ['row', 'column', 'row', 'row', 'row', 'column', 'row', 'row', 'conv']);
  });
  it('text is causal and never sees the image; image sees all text', () => {
    for (const p of [{ kind: 'row', grid }, { kind: 'column', grid }, { kind: 'conv', grid, kernel: 3 }] as AttentionPattern[]) {
      for (let q = 0; q < 21; q++) {
        for (let k = 0; k < 21; k++) {
          if (k > q) assert.equal(visible(p, q, k), false);
          else if (q < grid.textLength || k < grid.textLength) assert.equal(visible(p, q, k), true);
        }
      }
    }
    // column: image token (2, 1) sees (1, 1) and (0, 1), not (1, 2)
    const L = grid.textLength;
    const at = (r: number, c: number) => L + r * 4 + c;
    const col: AttentionPattern = { kind: 'column', grid };
    assert.equal(visible(col, at(2, 1), at(1, 1)), true);
    assert.equal(visible(col, at(2, 1), at(0, 1)), true);
    assert.equal(visible(col, at(2, 1), at(1, 2)), false);
    const row: AttentionPattern = { kind: 'row', grid };
    assert.equal(visible(row, at(2, 1), at(1, 1)), true); // back to the same column one row up
    assert.equal(visible(row, at(2, 1), at(1, 0)), false);
    const conv: AttentionPattern = { kind: 'conv', grid, kernel: 3 };
    assert.equal(visible(conv, at(2, 1), at(1, 2)), true);
    assert.equal(visible(conv, at(2, 1), at(0, 1)), false);
    assert.equal(visible(conv, at(2, 1), at(2, 0)), true);
  });
  it('refuses patterns that do not fit the context', () => {
    assert.throws(() => new Transformer(config([{ kind: 'row', grid: { textLength: 8, height: 8, width: 8 } }])), /do not fit the context \(24\)/);
    assert.throws(() => new Transformer(config([{ kind: 'row', grid: { textLength: 30, height: 1, width: 1 } }])), /text prefix \(30\) is longer than the context \(24\)/);
    assert.throws(() => new Transformer(config([{ kind: 'banded', width: 0 }])), /band width must be an integer ≥ 1/);
    assert.throws(() => new Transformer(config([{ kind: 'conv', grid, kernel: 4 }])), /conv kernel must be odd/);
  });
  it('one mask constant per distinct pattern, shared by the layers', () => {
    const model = new Transformer(cases[1]![1]).initialize(1); // 4 layers: dense, banded, dense, banded
    const named = model.nameParameters();
    const logits = withBound(named, new Map([...named].map(([n, p]) => [n, input(`p:${n}`, p.shape)])), () =>
      model.forward(input('idx', [1, 8], 'int64'), EVAL),
    );
    const masks = T.topoSort([logits]).filter((n) => n.op.name === 'constant' && n.outputs[0]!.shape.join() === '8,8');
    assert.equal(masks.length, 2);
    const values = masks.map((n) => Array.from((n.attrs as { data: Float32Array }).data));
    assert.deepEqual(values[0], Array.from(fullBias({ kind: 'dense' }, 8)));
    assert.deepEqual(values[1], Array.from(fullBias({ kind: 'banded', width: 3 }, 8)));
  });
});

describe('cached decoding equals full recomputation', () => {
  for (const [name, cfg] of cases) {
    it(name, async () => {
      const model = new Transformer(cfg).initialize(7);
      const rng = new Rng(3);
      const n = cfg.imageGrid ? 21 : 20;
      const ids = Array.from({ length: n }, () => Math.floor(rng.uniform() * cfg.vocabSize));
      const want = await fullLogits(model, ids); // (1, n, V)
      const V = cfg.vocabSize;
      const runner = new CachedStepRunner(model, { bake: 'never' });
      // token by token, two rows at different offsets (row 1 starts 3 tokens later)
      const cache = runner.newCache(2, 24);
      let worst = 0;
      for (let t = 0; t < n; t++) {
        const toks = [[ids[t]!], t >= 3 ? [ids[t - 3]!] : []];
        const r = await runner.step(cache, toks, { kind: 'last' });
        worst = Math.max(worst, maxDiff(r.logits!.subarray(0, V), want.subarray(t * V, (t + 1) * V)));
        if (t >= 3) worst = Math.max(worst, maxDiff(r.logits!.subarray(V, 2 * V), want.subarray((t - 3) * V, (t - 2) * V)));
      }
      assert.ok(worst < 1e-4, `token-by-token max |Δlogit| ${worst}`);
      // prefill chunks of 7, then 1-token steps, compared through 'targets' log-probs
      const c2 = runner.newCache(1, 24);
      await runner.step(c2, [ids.slice(0, 7)], { kind: 'none' });
      const r2 = await runner.step(c2, [ids.slice(7, n - 1)], { kind: 'targets' }, [ids.slice(8, n)]);
      for (let t = 7; t < n - 1; t++) {
        const row = want.subarray(t * V, (t + 1) * V);
        let m = -Infinity;
        for (const v of row) m = Math.max(m, v);
        let s = 0;
        for (const v of row) s += Math.exp(v - m);
        const lp = row[ids[t + 1]!]! - m - Math.log(s);
        assert.ok(Math.abs(r2.logprobs![t - 7]! - lp) < 1e-4, `chunked prefill position ${t}: ${r2.logprobs![t - 7]} vs ${lp}`);
      }
      await runner.release();
    });
  }
});

describe('compiled module', () => {
  it('one program per signature; the least recently used idle one is released beyond maxPrograms', async () => {
    const model = new Transformer(cases[0]![1]).initialize(2);
    const cm = new CompiledModule(model, { maxPrograms: 2 });
    const build = (n: number) => () => {
      const idx = input('idx', [1, n], 'int64');
      return { inputs: [idx], outputs: { logits: model.forward(idx, EVAL) } };
    };
    const a = await cm.program('a', build(2));
    assert.equal(await cm.program('a', build(2)), a);
    await cm.program('b', build(3));
    await cm.program('a', build(2)); // a is now the most recent
    await cm.program('c', build(4));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(cm.size, 2);
    assert.equal(await cm.program('a', build(2)), a); // b was released, not a
    const r = await cm.run(a, { idx: BigInt64Array.from([1n, 2n]) });
    assert.equal(r.logits!.data.length, 2 * 40);
    await cm.release();
  });
});

describe('KV cache object', () => {
  it('fork, reorder and trim move whole rows', () => {
    const c = new KVCache({ layers: 2, rows: 3, heads: 2, headDim: 2, capacity: 4 });
    const mk = (v: number) => Array.from({ length: 2 }, () => Float32Array.from({ length: 3 * 2 * 1 * 2 }, (_, i) => v * 100 + i));
    c.append(mk(1), mk(1), 1, [1, 1, 1]);
    c.append(mk(2), mk(2), 1, [1, 0, 1]);
    assert.deepEqual([...c.lengths], [2, 1, 2]);
    const row = (cache: KVCache, r: number) => Array.from(cache.k[1]!.subarray(r * 2 * 4 * 2, (r + 1) * 2 * 4 * 2));
    const r0 = row(c, 0);
    const r2 = row(c, 2);
    c.reorder([2, 0, 0]);
    assert.deepEqual(row(c, 0).slice(0, 4), r2.slice(0, 4));
    assert.deepEqual(row(c, 1).slice(0, 4), r0.slice(0, 4));
    assert.deepEqual(row(c, 2).slice(0, 4), r0.slice(0, 4));
    assert.deepEqual([...c.lengths], [2, 2, 2]);
    c.trim(1, 1);
    assert.equal(c.lengths[1], 1);
    c.fork(1, [0, 2]);
    assert.deepEqual([...c.lengths], [1, 1, 1]);
    assert.throws(() => c.trim(0, 5), /length must be an integer in \[0, 1\]/);
    assert.throws(() => c.reorder([0, 1]), /2 parents for 3 rows/);
    assert.throws(() => c.append(mk(3), mk(3), 1, [4, 0, 0]), /exceed the capacity 4/);
  });
});

describe('batched scoring with shared prefixes', () => {
  it('equals one-at-a-time full forwards within 1e-4; bad requests get their own errors', async () => {
    const cfg = config([{ kind: 'dense' }, { kind: 'banded', width: 4 }], { blockSize: 32 });
    const model = new Transformer(cfg).initialize(11);
    const rng = new Rng(5);
    const rand = (n: number) => Array.from({ length: n }, () => Math.floor(rng.uniform() * cfg.vocabSize));
    const fewshot = rand(12);
    const pairs: { context: number[]; continuation: number[] }[] = [];
    for (let q = 0; q < 5; q++) {
      const question = [...fewshot, ...rand(3 + q)];
      for (let c = 0; c < 4; c++) pairs.push({ context: question, continuation: rand(1 + ((q + c) % 3)) });
    }
    pairs.push({ context: rand(30), continuation: rand(5) }); // cut from the left to 33 tokens
    pairs.push({ context: [1, 2], continuation: [] }); // bad: empty continuation
    pairs.push({ context: rand(4), continuation: [99] }); // bad: id outside the vocabulary
    const scorer = new BatchScorer(new CachedStepRunner(model, { bake: 'never' }), { batch: 8 });
    const got = await scorer.loglikelihood(pairs);
    assert.ok(scorer.lastStats.tokensComputed < scorer.lastStats.tokensUnshared / 2, JSON.stringify(scorer.lastStats));
    // the few-shot block common to consecutive batches is computed once: a second call reuses it from the start
    const first = scorer.lastStats.tokensComputed;
    const again = await scorer.loglikelihood(pairs);
    assert.ok(scorer.lastStats.tokensComputed < first, `${scorer.lastStats.tokensComputed} vs ${first}`);
    again.forEach((a, i) => {
      const g = got[i]!;
      if (!(a instanceof Error) && !(g instanceof Error)) assert.ok(Math.abs(a.logprob - g.logprob) < 1e-5);
    });
    for (const [i, p] of pairs.entries()) {
      const g = got[i]!;
      if (i === pairs.length - 2) {
        assert.ok(g instanceof Error && /continuation is empty/.test(g.message));
        continue;
      }
      if (i === pairs.length - 1) {
        assert.ok(g instanceof Error && /token id 99 is outside 0..39/.test(g.message));
        continue;
      }
      assert.ok(!(g instanceof Error), String(g));
      let all = [...p.context, ...p.continuation];
      if (all.length > 33) all = all.slice(all.length - 33);
      const x = all.slice(0, -1);
      const logits = await fullLogits(model, x);
      const V = cfg.vocabSize;
      let want = 0;
      let greedy = true;
      for (let t = x.length - p.continuation.length; t < x.length; t++) {
        const row = logits.subarray(t * V, (t + 1) * V);
        let m = -Infinity;
        let arg = 0;
        row.forEach((v, j) => {
          if (v > m) {
            m = v;
            arg = j;
          }
        });
        let s = 0;
        for (const v of row) s += Math.exp(v - m);
        want += row[all[t + 1]!]! - m - Math.log(s);
        if (arg !== all[t + 1]) greedy = false;
      }
      assert.ok(Math.abs(g.logprob - want) < 1e-4, `pair ${i}: ${g.logprob} vs ${want}`);
      assert.equal(g.isGreedy, greedy);
    }
    // per-token log-probs with windows longer than the context, batched across sequences
    const long = rand(50);
    const [a, b] = await scorer.tokenLogprobs([long, long.slice(0, 10)], 3);
    assert.equal(a!.logprobs.length, 50);
    assert.equal(b!.logprobs.length, 10);
    assert.ok(Math.abs(a!.logprobs[5]! - b!.logprobs[5]!) < 1e-4);
    assert.equal(b!.top![4]!.length, 3);
    await scorer.release();
  });
});
