// CLI action for `lm train`: resolve corpus, tokenizer and model config (or everything from a checkpoint with
// --resume), run the trainer, and print a JSON summary as the last line with --json.

import { join } from 'node:path';
import { loadCorpusDocuments } from '../data/corpus-source.js';
import { splitTokens, tokenizeCorpus, type Document } from '../data/tokens.js';
import { loadTokenizer, trainCharTokenizer, type ByteTokenizer } from '../tokenizer/index.js';
import { loadModel } from './checkpoint.js';
import { resolveConfig, type GptConfig } from './config.js';
import { readLmTrainMeta, recoverCheckpointDir, trainLm, type TrainOptions } from './train.js';

export async function runTrainCommand(o: Record<string, any>): Promise<void> {
  const resume = o.resume as string | undefined;
  let out = (o.out as string | undefined) ?? resume;
  if (!out) throw new Error('give --out DIR (or --resume DIR)');
  let corpus: string;
  let tok: ByteTokenizer;
  let cfg: GptConfig;
  let opts: TrainOptions;
  let docs: Document[] | undefined;
  if (resume) {
    out = resume;
    const ck = recoverCheckpointDir(resume);
    if (!ck) throw new Error(`--resume ${resume}: no checkpoint found (expected ${join(resume, 'checkpoint', 'trainer_state.json')})`);
    const state = readLmTrainMeta(ck);
    const loaded = loadModel(ck);
    if (!loaded.tokenizer) throw new Error(`${ck}: checkpoint has no tokenizer files`);
    tok = loaded.tokenizer;
    cfg = loaded.config; // dropout comes back from config.json (resid_pdrop)
    corpus = state.corpus;
    opts = { ...state.options, trainFraction: state.options.trainFraction ?? 0.9, out, progress: o.progress !== false };
  } else {
    if (!o.corpus) throw new Error('give --corpus NAME|PATH');
    corpus = o.corpus;
    docs = await loadCorpusDocuments(corpus);
    tok = o.tokenizer === 'char' ? trainCharTokenizer(docs.map((d) => d.text).join('\n\n')) : loadTokenizer(o.tokenizer);
    const vocab = Math.max(tok.vocabSize, o.vocabSize ?? 0);
    cfg = resolveConfig(o.preset, {
      vocabSize: vocab,
      nLayer: o.layers,
      nHead: o.heads,
      nEmbd: o.embd,
      blockSize: o.block,
      dropout: o.dropout,
      bias: o.preset ? undefined : Boolean(o.bias),
      attention: o.attention,
      bandWidth: o.band,
    });
    opts = {
      out,
      batch: o.batch,
      steps: o.steps,
      lr: o.lr,
      minLr: o.minLr ?? o.lr / 10,
      warmup: o.warmup,
      beta1: o.beta1,
      beta2: o.beta2,
      weightDecay: o.weightDecay,
      clip: o.clip,
      gradAccum: o.gradAccum,
      evalInterval: o.evalInterval,
      evalIters: o.evalIters,
      checkpointInterval: o.checkpointInterval ?? o.evalInterval,
      seed: o.seed,
      maxSeconds: o.maxSeconds,
      progress: o.progress !== false,
      trainFraction: o.trainFraction,
    };
  }
  docs ??= await loadCorpusDocuments(corpus);
  const all = tokenizeCorpus(docs, tok, corpus);
  if (all.length < 2 * (cfg.blockSize + 1)) {
    throw new Error(`corpus ${corpus} has ${all.length} tokens, too few for a context of ${cfg.blockSize} (need at least ${2 * (cfg.blockSize + 1)}); use a smaller --block`);
  }
  const splits = splitTokens(all, opts.trainFraction);
  const r = await trainLm(cfg, tok, splits, opts, { corpus, resume: Boolean(resume) });
  const { history, ...summary } = r;
  if (o.json) process.stdout.write(`${JSON.stringify({ ...summary, out, corpus, tokenizer: tok.id, history_tail: history.slice(-3) })}\n`);
  else process.stderr.write(`done: ${r.steps} steps, train loss ${r.train_loss.toFixed(4)}, val loss ${r.val_loss.toFixed(4)}, ${r.tokens_per_s.toFixed(0)} tokens/s\n`);
}
