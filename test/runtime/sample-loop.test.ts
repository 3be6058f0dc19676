// Batched sampling with continuous batching: a job's sample does not depend on the batch it ran in or on which row
// took it (per-job RNG, rows refilled as they finish); the top-K-from-the-graph path equals the full-logits path;
// stop strings and end-of-text end a row; bad options are refused with the parameter's name and range.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Transformer } from '../../src/nn/transformer.js';
import { CachedStepRunner } from '../../src/runtime/cached-step.js';
import { decodeCapacities, sampleBatched } from '../../src/runtime/sample-loop.js';
import { CharTokenizer } from '../../src/tokenizer/index.js';

const tok = new CharTokenizer([...'abcdefgh \n'], { eot: true });
const V = tok.vocabSize;
const model = new Transformer({
  vocabSize: V,
  blockSize: 48,
  nLayer: 2,
  nHead: 2,
  nEmbd: 16,
  dropout: 0,
  bias: true,
  tiedEmbeddings: true,
  layerNormEps: 1e-5,
  patterns: [{ kind: 'dense' }, { kind: 'banded', width: 5 }],
}).initialize(9);
for (const p of model.parameters()) if (p.shape.length === 2) p.data = p.data.map((v) => v * 4);

describe('batched sampling', () => {
  it('continuous batching: each job equals the same job run alone', async () => {
    const runner = new CachedStepRunner(model);
    const jobs = Array.from({ length: 13 }, (_, j) => ({ prompt: tok.encode('abcdefgh'.slice(0, 1 + (j % 5))), seed: 100 + j }));
    const o = { maxTokens: 12, temperature: 0.9, topK: 6, eotId: tok.eotId, stop: ['\n\n'], decodeBytes: (ids: number[]) => tok.decodeBytes(ids) };
    const done: number[] = [];
    const batched = await sampleBatched(runner, jobs, { ...o, batch: 4, onDone: (j) => done.push(j) });
    assert.equal(done.length, 13);
    for (const [j, job] of jobs.entries()) {
      const [alone] = await sampleBatched(runner, [job], { ...o, batch: 1 });
      assert.deepEqual(batched[j], alone, `job ${j}`);
    }
    await runner.release();
  });

  it('greedy from the top-K graph output equals greedy over full logits; logprobs agree', async () => {
    const runner = new CachedStepRunner(model);
    const jobs = [0, 1, 2].map((j) => ({ prompt: tok.encode('ab'.repeat(j + 1)), seed: j }));
    const a = await sampleBatched(runner, jobs, { batch: 3, maxTokens: 10, greedy: true, logprobs: 2 });
    // an allowed range covering the vocabulary forces the full-logits path without changing anything
    const b = await sampleBatched(runner, jobs, { batch: 3, maxTokens: 10, greedy: true, logprobs: 2, allowedIdRange: [0, V] });
    for (let j = 0; j < 3; j++) {
      assert.deepEqual(a[j]!.tokens, b[j]!.tokens);
      a[j]!.tokenLogprobs!.forEach((lp, i) => assert.ok(Math.abs(lp - b[j]!.tokenLogprobs![i]!) < 1e-5));
      assert.deepEqual(a[j]!.topLogprobs!.map((s) => s.map((t) => t.id)), b[j]!.topLogprobs!.map((s) => s.map((t) => t.id)));
    }
    await runner.release();
  });

  it('a cache that grows with the rows (64, 128, 192 slots) samples what a full-size cache samples', async () => {
    const long = new Transformer({ ...model.tcfg, blockSize: 256 }).initialize(4);
    const runner = new CachedStepRunner(long);
    const jobs = [0, 1, 2, 3, 4].map((j) => ({ prompt: [j + 1, 2, 3], seed: j }));
    const o = { batch: 2, maxTokens: 150, temperature: 1, topK: 4, logprobs: 1 };
    assert.deepEqual(decodeCapacities(3, 150, 256, long.parameterCount()), [64, 128, 192]);
    const grown = await sampleBatched(runner, jobs, o);
    process.env.TESSERA_GROW_CACHE = '0';
    try {
      assert.deepEqual(decodeCapacities(3, 150, 256, long.parameterCount()), [192]);
      const fixed = await sampleBatched(runner, jobs, o);
      for (let j = 0; j < jobs.length; j++) {
        assert.deepEqual(grown[j]!.tokens, fixed[j]!.tokens, `job ${j}`);
        grown[j]!.tokenLogprobs!.forEach((lp, i) => assert.ok(Math.abs(lp - fixed[j]!.tokenLogprobs![i]!) < 1e-4));
      }
    } finally {
      delete process.env.TESSERA_GROW_CACHE;
    }
    await runner.release();
  });

  it('decodes past the cache by re-encoding the recent half; refuses bad options', async () => {
    const runner = new CachedStepRunner(model);
    const [r] = await sampleBatched(runner, [{ prompt: [1, 2, 3], seed: 1 }], { batch: 1, maxTokens: 100, greedy: true });
    assert.equal(r!.tokens.length, 100);
    await assert.rejects(sampleBatched(runner, [{ prompt: [1], seed: 1 }], { batch: 1, maxTokens: 5, topK: V + 1 }), /topK must be an integer in \[1, 11\]/);
    await assert.rejects(sampleBatched(runner, [{ prompt: [1], seed: 1 }], { batch: 0, maxTokens: 5 }), /batch must be a positive integer/);
    await assert.rejects(sampleBatched(runner, [{ prompt: [1], seed: 1 }], { batch: 1, maxTokens: 5, topP: 1.5 }), /topP must be in \(0, 1\]/);
    await assert.rejects(sampleBatched(runner, [{ prompt: [99], seed: 1 }], { batch: 1, maxTokens: 5 }), /prompt token id 99 is outside 0..10/);
    await runner.release();
  });
});
