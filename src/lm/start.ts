// The main job (`npm start`): train a small character-level GPT on the bundled Moby-Dick for a few minutes with a
// progress bar (nanoGPT's CPU recipe), then print samples from it.

import { join } from 'node:path';
import { loadCorpusDocuments } from '../data/corpus-source.js';
import { splitTokens, tokenizeCorpus } from '../data/tokens.js';
import { trainCharTokenizer } from '../tokenizer/index.js';
import { resolveConfig } from './config.js';
import { Generator } from './generate.js';
import { loadModel } from './checkpoint.js';
import { trainLm } from './train.js';

export async function runStart(opts: { out?: string; steps?: number; maxSeconds?: number } = {}): Promise<void> {
  const out = opts.out ?? join('runs', 'moby-dick-char');
  const docs = await loadCorpusDocuments('moby-dick');
  const text = docs.map((d) => d.text).join('\n\n');
  const tok = trainCharTokenizer(text);
  const all = tokenizeCorpus(docs, tok, 'moby-dick');
  const trainFraction = 0.9; // nanoGPT: first 90% train, last 10% validation
  const splits = splitTokens(all, trainFraction);
  const cfg = resolveConfig('char-tiny', { vocabSize: tok.vocabSize });
  process.stderr.write(
    `tessera: training a ${cfg.nLayer}-layer GPT (${cfg.nEmbd} wide, context ${cfg.blockSize}) on Moby-Dick, ` +
      `${all.length.toLocaleString()} characters, vocabulary ${tok.vocabSize}; checkpoints in ${out}\n`,
  );
  const steps = opts.steps ?? 2000;
  const r = await trainLm(
    cfg,
    tok,
    splits,
    {
      out,
      batch: 12,
      steps,
      lr: 1e-3,
      minLr: 1e-4,
      warmup: 100,
      beta1: 0.9,
      beta2: 0.99,
      weightDecay: 0.1,
      clip: 1,
      gradAccum: 1,
      evalInterval: 250,
      evalIters: 20,
      checkpointInterval: 250,
      seed: 1337,
      maxSeconds: opts.maxSeconds ?? 300,
      progress: true,
      trainFraction,
    },
    { corpus: 'moby-dick', resume: false },
  );
  process.stderr.write(
    `\ntrained ${r.steps} steps in ${r.seconds.toFixed(0)} s (${r.tokens_per_s.toFixed(0)} tokens/s): ` +
      `train loss ${r.train_loss.toFixed(3)}, validation loss ${r.val_loss.toFixed(3)}\n\n`,
  );
  const { model, tokenizer } = loadModel(out);
  const gen = new Generator(model, 3, tokenizer);
  const prompts = ['Call me Ishmael.', 'The whale', 'Queequeg'];
  const res = await gen.generate(prompts.map((p) => tokenizer!.encode(p)), { maxTokens: 300, temperature: 0.8, topK: 40, seed: 7 });
  prompts.forEach((p, i) => process.stdout.write(`--- sample ${i + 1} ---\n${p}${res.texts[i]}\n\n`));
  await gen.release();
}
