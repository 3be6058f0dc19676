// KV-cache decoding: greedy generation with the cache equals greedy decoding by full recomputation, for dense and
// GPT-3 sparse (banded) attention, ragged prompt batches, context overflow; seeded sampling is reproducible.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/engine/index.js';
import { resolveConfig } from '../../src/lm/config.js';
import { GPT } from '../../src/lm/model.js';
import { Generator } from '../../src/lm/generate.js';
import { withBound, EVAL } from '../../src/nn/index.js';
import { argmax } from '../../src/lm/sampling.js';
import { Scorer } from '../../src/lm/score.js';

async function greedyByRecompute(model: GPT, prompt: number[], n: number): Promise<number[]> {
  const named = model.nameParameters();
  const names = [...named.keys()];
  const ctx = [...prompt];
  const out: number[] = [];
  const cache = new Map<number, T.Compiled<T.Tensor>>();
  for (let i = 0; i < n; i++) {
    const window = ctx.slice(-model.config.blockSize);
    const L = window.length;
    let f = cache.get(L);
    if (!f) {
      f = await T.compile((...xs: T.Tensor[]) => withBound(named, new Map(names.map((nm, k) => [nm, xs[k]!])), () => model.forward(xs[names.length]!, EVAL)), [
        ...names.map((nm) => ({ shape: named.get(nm)!.shape })),
        { shape: [1, L], dtype: 'int64' as const },
      ]);
      cache.set(L, f);
    }
    const logits = (await f(...names.map((nm) => named.get(nm)!.data), BigInt64Array.from(window.map(BigInt)))) as Float32Array;
    const V = model.config.vocabSize;
    const id = argmax(logits.subarray((L - 1) * V, L * V));
    out.push(id);
    ctx.push(id);
  }
  for (const f of cache.values()) await f.program.release();
  return out;
}

describe('KV-cache generation', () => {
  for (const attention of ['dense', 'sparse'] as const) {
    it(`greedy with cache equals recomputation (${attention})`, async () => {
      const cfg = resolveConfig(undefined, { vocabSize: 50, blockSize: 32, nLayer: 2, nHead: 2, nEmbd: 16, attention, bandWidth: 4 });
      const model = new GPT(cfg).initialize(3);
      // scale up weights so greedy paths are not all the same token
      for (const p of model.parameters()) if (p.shape.length === 2) p.data = p.data.map((v) => v * 8);
      const gen = new Generator(model, 2);
      const prompts = [[1, 2, 3, 4, 5], [7, 8]];
      const r = await gen.generate(prompts, { maxTokens: 12, greedy: true, stopAtEot: false });
      for (let b = 0; b < 2; b++) assert.deepEqual(r.tokens[b], await greedyByRecompute(model, prompts[b]!, 12), `row ${b}`);
      await gen.release();
    });
  }

  it('keeps decoding past the context length by re-encoding the recent half', async () => {
    const cfg = resolveConfig(undefined, { vocabSize: 20, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8 });
    const model = new GPT(cfg).initialize(5);
    const gen = new Generator(model, 1);
    const r = await gen.generate([[1, 2, 3]], { maxTokens: 20, greedy: true, stopAtEot: false });
    assert.equal(r.tokens[0]!.length, 20);
    await gen.release();
  });

  it('same seed, same samples; a prompt longer than the context is truncated with a warning', async () => {
    const cfg = resolveConfig(undefined, { vocabSize: 30, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 8 });
    const model = new GPT(cfg).initialize(9);
    const gen = new Generator(model, 2);
    const warnings: string[] = [];
    const o = { maxTokens: 10, temperature: 1.5, topK: 10, topP: 0.9, seed: 42, stopAtEot: false, warn: (m: string) => warnings.push(m) };
    const a = await gen.generate([[1, 2], Array.from({ length: 40 }, (_, i) => i % 30)], o);
    const b = await gen.generate([[1, 2], Array.from({ length: 40 }, (_, i) => i % 30)], o);
    assert.deepEqual(a.tokens, b.tokens);
    assert.ok(warnings.some((w) => /longer than the context \(16\)/.test(w)));
    const c = await gen.generate([[1, 2]], { ...o, seed: 43 });
    assert.notDeepEqual(c.tokens[0], a.tokens[0]);
    await gen.release();
  });
});

describe('Scorer', () => {
  it('tokenLogprobs: logprobs, greedy flags and top-k match the full log-softmax, across sliding windows', async () => {
    const cfg = resolveConfig(undefined, { vocabSize: 40, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 16 });
    const model = new GPT(cfg).initialize(5);
    for (const p of model.parameters()) if (p.shape.length === 2) p.data = p.data.map((v) => v * 6);
    const ids = Array.from({ length: 19 }, (_, i) => (i * 7 + 3) % 40); // longer than the context: 3 windows
    const scorer = new Scorer(model);
    const k = 4;
    const r = await scorer.tokenLogprobs(ids, k);
    const plain = await scorer.tokenLogprobs(ids);
    assert.equal(plain.top, undefined);
    assert.deepEqual(plain.logprobs, r.logprobs);
    // host reference: the same windows (every token sees at least half a context), full log-softmax per window
    const named = model.nameParameters();
    const names = [...named.keys()];
    const S = cfg.blockSize;
    const V = cfg.vocabSize;
    let next = 1;
    while (next < ids.length) {
      const start = next <= S ? 0 : next - Math.floor(S / 2);
      const seg = ids.slice(start, Math.min(ids.length, start + S));
      const f = await T.compile((...xs: T.Tensor[]) => withBound(named, new Map(names.map((nm, j) => [nm, xs[j]!])), () => T.logSoftmax(model.forward(xs[names.length]!, EVAL), -1)), [
        ...names.map((nm) => ({ shape: named.get(nm)!.shape })),
        { shape: [1, seg.length], dtype: 'int64' as const },
      ]);
      const lsm = (await f(...names.map((nm) => named.get(nm)!.data), BigInt64Array.from(seg.map(BigInt)))) as Float32Array;
      await f.program.release();
      let took = 0;
      for (let t = next - start - 1; t < seg.length && next + took < ids.length; t++, took++) {
        const i = next + took;
        const row = Array.from(lsm.subarray(t * V, (t + 1) * V));
        const want = row[ids[i]!]!;
        assert.ok(Math.abs(r.logprobs[i]! - want) < 1e-4, `token ${i}: ${r.logprobs[i]} vs ${want}`);
        const order = row.map((v, id) => ({ id, v })).sort((a, b) => b.v - a.v);
        assert.equal(r.greedy[i], order[0]!.id === ids[i] || Math.abs(order[0]!.v - want) < 1e-6, `greedy ${i}`);
        const top = r.top![i]!;
        assert.equal(top.length, k);
        top.forEach((a, j) => {
          assert.ok(Math.abs(a.logprob - order[j]!.v) < 1e-4, `top ${j} at ${i}: ${a.logprob} vs ${order[j]!.v}`);
          assert.ok(Math.abs(row[a.id]! - a.logprob) < 1e-4, `top ${j} id at ${i}`);
        });
      }
      next += took;
    }
    assert.equal(r.top![0], null);
    await assert.rejects(scorer.tokenLogprobs(ids, V + 1), /topK must be an integer in \[0, 40\]/);
    await scorer.release();
  });
});
