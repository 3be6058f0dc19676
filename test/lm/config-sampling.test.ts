// GPT-3 presets against the paper's Table 2.1 (within 2%), config validation, and host-side sampling rules (through the decoder's pipeline).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countParams, PRESETS, resolveConfig } from '../../src/lm/config.js';
import { GPT } from '../../src/lm/model.js';
import { Rng } from '../../src/nn/init.js';
import { argmax, parseTemperatureSchedule, temperatureAt, type SamplingOptions } from '../../src/lm/sampling.js';
import { applyProcessors } from '../../src/runtime/logits-processors.js';
import { buildSamplingPipeline } from '../../src/runtime/sampler.js';

/** One draw through the sampling pipeline the decoder uses (processors, then the sampler). */
function sampleToken(logits: Float32Array, i: number, o: SamplingOptions, rng: Rng): number {
  const { processors, sampler } = buildSamplingPipeline(o);
  const work = Float32Array.from(logits);
  applyProcessors(processors, work, { step: i, tokens: [], promptLength: 0 });
  return sampler.select(work, rng);
}

describe('GPT config', () => {
  it('every GPT-3 preset is within 2% of the paper parameter count', () => {
    const names = ['gpt3-small', 'gpt3-medium', 'gpt3-large', 'gpt3-xl', 'gpt3-2.7b', 'gpt3-6.7b', 'gpt3-13b', 'gpt3-175b'];
    for (const n of names) {
      const cfg = resolveConfig(n);
      const err = Math.abs(countParams(cfg) - PRESETS[n]!.paper!.params) / PRESETS[n]!.paper!.params;
      assert.ok(err < 0.02, `${n}: ${countParams(cfg)} vs ${PRESETS[n]!.paper!.params} (${(err * 100).toFixed(2)}%)`);
      assert.equal(cfg.attention, 'sparse');
    }
    assert.equal(resolveConfig('gpt3-13b').nEmbd, 5120);
  });
  it('countParams agrees with the instantiated model', () => {
    for (const o of [{ bias: true }, { bias: false }, { tiedEmbeddings: false }]) {
      const cfg = resolveConfig(undefined, { vocabSize: 101, blockSize: 17, nLayer: 2, nHead: 2, nEmbd: 12, ...o });
      assert.equal(new GPT(cfg).parameterCount(), countParams(cfg));
    }
  });
  it('invalid configs are refused with the field name', () => {
    assert.throws(() => resolveConfig(undefined, { nEmbd: 100, nHead: 3 }), /nEmbd \(100\) must be divisible by nHead \(3\)/);
    assert.throws(() => resolveConfig('gpt5'), /unknown preset 'gpt5'/);
    assert.throws(() => resolveConfig(undefined, { dropout: 1.5 }), /dropout must be in \[0, 1\)/);
  });
});

describe('sampling', () => {
  const logits = Float32Array.from([0.1, 2.5, -1, 2.4, 0]);
  it('greedy, top-k 1 and a tiny top-p pick the argmax', () => {
    const rng = new Rng(1);
    assert.equal(argmax(logits), 1);
    for (let i = 0; i < 20; i++) {
      assert.equal(sampleToken(logits, i, { greedy: true }, rng), 1);
      assert.equal(sampleToken(logits, i, { topK: 1 }, rng), 1);
      assert.equal(sampleToken(logits, i, { topP: 0.01 }, rng), 1);
    }
  });
  it('top-k 2 only ever yields the two best tokens, with both appearing', () => {
    const rng = new Rng(2);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(sampleToken(logits, i, { topK: 2, temperature: 1 }, rng));
    assert.deepEqual([...seen].sort(), [1, 3]);
  });
  it('sampling frequencies follow softmax(logits / T)', () => {
    const rng = new Rng(3);
    const counts = new Array(5).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleToken(logits, i, { temperature: 2 }, rng)]++;
    const z = Array.from(logits, (l) => Math.exp(l / 2));
    const s = z.reduce((a, b) => a + b);
    z.forEach((p, i) => assert.ok(Math.abs(counts[i] / n - p / s) < 0.015, `token ${i}: ${counts[i] / n} vs ${p / s}`));
  });
  it('temperature schedule 10 → 1 over 20 tokens', () => {
    const o = { temperatureSchedule: parseTemperatureSchedule('10:1:20') };
    assert.equal(temperatureAt(0, o), 10);
    assert.ok(Math.abs(temperatureAt(10, o) - 5.5) < 1e-12);
    assert.equal(temperatureAt(20, o), 1);
    assert.equal(temperatureAt(100, o), 1);
    assert.throws(() => parseTemperatureSchedule('10:1'), /START:END:OVER/);
  });
});
