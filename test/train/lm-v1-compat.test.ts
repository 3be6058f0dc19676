// trainLm on the generic trainer still resumes checkpoints whose trainer_state.json is version 1 (written by the
// GPT-only trainer: samplerState, tokensSeen, corpus and the LM options at the top level; the model, tokenizer and
// optimizer files were laid out as they are now), and the resumed run follows the uninterrupted one exactly.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitTokens } from '../../src/data/tokens.js';
import { resolveConfig } from '../../src/lm/config.js';
import { readLmTrainMeta, trainLm, type TrainOptions } from '../../src/lm/train.js';
import { trainCharTokenizer } from '../../src/tokenizer/index.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-lm-v1-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const text = Array.from({ length: 200 }, (_, i) => `Line ${i}: the whale ${i % 7 === 0 ? 'spouts' : 'dives'} near ship ${i % 13}.`).join('\n');

describe('lm train checkpoints of version 1', () => {
  it('resume exactly and keep corpus and options', async () => {
    const tok = trainCharTokenizer(text);
    const splits = splitTokens(Uint32Array.from(tok.encode(text)), 0.9);
    const cfg = resolveConfig(undefined, { vocabSize: tok.vocabSize, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16, dropout: 0.1, bias: true });
    const opts = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
      out, batch: 4, steps: 8, lr: 3e-3, minLr: 3e-4, warmup: 2, beta1: 0.9, beta2: 0.95, weightDecay: 0.1, clip: 1, gradAccum: 2,
      evalInterval: 4, evalIters: 2, checkpointInterval: 4, seed: 1337, trainFraction: 0.9, progress: false, log: () => {}, ...extra,
    });
    const full = await trainLm(cfg, tok, splits, opts(join(dir, 'full')), { corpus: 'c.txt', resume: false });
    assert.equal(full.steps, 8);

    const out = join(dir, 'old');
    const part = await trainLm(cfg, tok, splits, opts(out, { maxSeconds: 0 }), { corpus: 'c.txt', resume: false });
    assert.equal(part.steps, 1);
    assert.match(part.stopped!, /resume with --resume/);
    // rewrite the trainer state the way the GPT-only trainer stored it
    const statePath = join(out, 'checkpoint', 'trainer_state.json');
    const v2 = JSON.parse(readFileSync(statePath, 'utf8'));
    assert.equal(v2.version, 2);
    const v1 = {
      version: 1, step: v2.step, optimizerT: v2.optimizerT, samplerState: v2.data, seed: v2.seed, elapsedSeconds: v2.elapsedSeconds,
      tokensSeen: v2.unitsSeen, options: v2.meta.options, history: v2.history, corpus: v2.meta.corpus,
    };
    writeFileSync(statePath, JSON.stringify(v1));
    const meta = readLmTrainMeta(join(out, 'checkpoint'));
    assert.equal(meta.corpus, 'c.txt');
    assert.equal(meta.options.gradAccum, 2);

    const resumed = await trainLm(cfg, tok, splits, opts(out), { corpus: 'c.txt', resume: true });
    assert.equal(resumed.steps, 8);
    assert.deepEqual(
      resumed.history.map((h) => [h.train_loss, h.val_loss]),
      full.history.map((h) => [h.train_loss, h.val_loss]),
    );
    assert.equal(JSON.parse(readFileSync(statePath, 'utf8')).version, 2);
  });
});
