// `tessera audit demo`: the extraction study in miniature on real data — the bundled spam-assassin e-mails (with
// their addresses, URLs and signatures). Steps, each skipped when its output is already there (resumable):
//   1. data: a fixed subset of e-mails to train on, and other e-mails held out (validation and the Internet-style
//      prompt corpus: text the target never saw); canaries (Secret Sharer) inserted k ∈ {1, 2, 4, 8, 16, 32} times;
//   2. a byte-level BPE trained on the training e-mails; a target GPT and a smaller reference, same data and steps;
//   3. the corpus index of the training documents (canaries included);
//   4. the attack (run.ts): top-n, temperature and internet samples, six metrics, exact verification, Table 2;
//   5. exposure of every canary under both models, and whether the attack's samples contain it;
//   6. discoverable memorization (Carlini et al. 2022) of both models by duplicate count and prompt length;
//   7. OUT/report/index.html and OUT/results.json; the findings the paper reports, checked and stated as the run shows.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildIndex, CorpusIndex } from '../corpus/index.js';
import { loadCorpus } from '../data/corpora.js';
import { tokenizeCorpus, type Document } from '../data/tokens.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { countParams, resolveConfig, type GptConfig } from '../lm/config.js';
import { LocalLanguageModel } from '../lm/language-model.js';
import { recoverCheckpointDir, trainLm, type TrainOptions } from '../lm/train.js';
import { loadTokenizer, trainBpe } from '../tokenizer/index.js';
import type { ByteTokenizer } from '../tokenizer/index.js';
import { readTrainerState } from '../train/index.js';
import { categorize } from './categories.js';
import { insertCanaries, canariesFound, type CanaryManifest } from './canaries.js';
import { discoverableMemorization, sampleTrainingSequences } from './discoverable.js';
import { measureExposure } from './exposure.js';
import { hashSeed } from './generate.js';
import { writeAuditReport } from './report.js';
import { runAudit } from './run.js';
import { finite, type AuditResults, type DiscoverableRow, type ExposureRow, type Strategy } from './types.js';

export interface DemoShape {
  nLayer: number;
  nEmbd: number;
  nHead: number;
  lr: number;
}

export const AUDIT_DEMO = {
  /** Training e-mails (a fixed hash order of the corpus) and held-out ones. */
  trainMails: 200,
  heldOutMails: 200,
  vocab: 1024,
  blockSize: 256,
  batch: 8,
  steps: 1800,
  target: { nLayer: 4, nEmbd: 128, nHead: 4, lr: 2e-3 } as DemoShape,
  reference: { nLayer: 2, nEmbd: 64, nHead: 4, lr: 3e-3 } as DemoShape,
  repeats: [1, 2, 4, 8, 16, 32],
  samples: 1000,
  /** Generated tokens per sample (the prompt and the sample fit the 256-token context). */
  tokens: 240,
  minTokens: 50,
  top: 100,
  exposureCandidates: 2000,
  seed: 1,
};

export interface AuditDemoOptions {
  out: string;
  steps?: number;
  samples?: number;
  tokens?: number;
  trainMails?: number;
  /** Stop each model's training after this many seconds (it resumes next time). */
  maxTrainSeconds?: number;
  log?: (m: string) => void;
  progress?: (stage: string, done: number, total: number) => void;
}

/** The e-mails in a fixed pseudo-random order (FNV hash of the id), so subsets mix ham and spam. */
function orderedMails(): Document[] {
  const docs = loadCorpus('spam-assassin').documents.map((d) => ({ id: d.id, text: d.text }));
  return docs.map((d) => ({ d, h: hashSeed('audit-demo', d.id) })).sort((a, b) => a.h - b.h || (a.d.id < b.d.id ? -1 : 1)).map((x) => x.d);
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

async function trainModel(name: string, dir: string, cfg: GptConfig, shape: DemoShape, tok: ByteTokenizer, splits: { train: Uint32Array; val: Uint32Array; all: Uint32Array }, steps: number, key: string, o: AuditDemoOptions): Promise<{ seconds: number; val_loss: number; train_loss: number; params: number }> {
  const log = o.log ?? (() => {});
  const summary = join(dir, 'demo-train.json');
  if (existsSync(summary) && existsSync(join(dir, 'model.safetensors'))) {
    const s = readJson<{ steps: number; key: string; seconds: number; val_loss: number; train_loss: number; params: number }>(summary);
    if (s.steps === steps && s.key === key) {
      log(`${name}: already trained (${steps} steps); skipping`);
      return s;
    }
  }
  let resume = false;
  const ck = recoverCheckpointDir(dir);
  if (ck) {
    const st = readTrainerState(ck);
    resume = st.options.steps === steps && (st.meta as { corpus?: string } | null)?.corpus === key;
  }
  const params = countParams(cfg);
  log(`${name}: ${resume ? 'resuming' : 'training'} ${params.toLocaleString('en-US')} parameters (${cfg.nLayer} layers × ${cfg.nEmbd}), ${steps} steps of ${AUDIT_DEMO.batch} × ${cfg.blockSize} tokens`);
  const interval = Math.max(1, Math.ceil(steps / 5));
  const opts: TrainOptions = {
    out: dir,
    batch: AUDIT_DEMO.batch,
    steps,
    lr: shape.lr,
    minLr: shape.lr / 10,
    warmup: Math.min(100, Math.floor(steps / 10)),
    beta1: 0.9,
    beta2: 0.95,
    // no weight decay: the demo wants the model to memorize what it can, as a large model trained for long does
    weightDecay: 0,
    clip: 1,
    gradAccum: 1,
    evalInterval: interval,
    evalIters: 2,
    checkpointInterval: interval,
    seed: AUDIT_DEMO.seed,
    trainFraction: splits.train.length / splits.all.length,
    maxSeconds: o.maxTrainSeconds,
    progress: true,
    log: (l) => log(`${name}: ${l}`),
  };
  const r = await trainLm(cfg, tok, splits, opts, { corpus: key, resume });
  if (r.stopped) throw new Error(`${name}: training stopped (${r.stopped}); run the same command again to resume it`);
  const seconds = r.history.length ? r.history[r.history.length - 1]!.seconds : r.seconds;
  const s = { steps, key, seconds, val_loss: r.val_loss, train_loss: r.train_loss, params };
  writeFileAtomicSync(summary, JSON.stringify(s, null, 2) + '\n');
  log(`${name}: trained in ${seconds.toFixed(0)} s, train loss ${r.train_loss.toFixed(3)}, held-out loss ${r.val_loss.toFixed(3)}`);
  return s;
}

export interface AuditDemoResult {
  results: AuditResults;
  report: string;
  findings: string[];
}

export async function runAuditDemo(o: AuditDemoOptions): Promise<AuditDemoResult> {
  const log = o.log ?? (() => {});
  const D = { ...AUDIT_DEMO, ...(o.steps ? { steps: o.steps } : {}), ...(o.samples ? { samples: o.samples } : {}), ...(o.tokens ? { tokens: o.tokens } : {}), ...(o.trainMails ? { trainMails: o.trainMails } : {}) };
  const t0 = performance.now();
  mkdirSync(o.out, { recursive: true });
  const mails = orderedMails();
  const trainMails = mails.slice(0, D.trainMails);
  const heldOut = mails.slice(D.trainMails, D.trainMails + D.heldOutMails);

  // 1. canaries into the training e-mails
  const canaryDir = join(o.out, 'canaries');
  mkdirSync(canaryDir, { recursive: true });
  const { docs: trainDocs, manifest } = insertCanaries(trainMails, { repeats: D.repeats, seed: D.seed });
  writeFileAtomicSync(join(canaryDir, 'canaries.json'), JSON.stringify(manifest, null, 2) + '\n');
  writeFileAtomicSync(join(canaryDir, 'corpus.jsonl'), trainDocs.map((d) => JSON.stringify({ id: d.id, text: d.text })).join('\n') + '\n');
  const promptPath = join(o.out, 'held-out.jsonl');
  writeFileAtomicSync(promptPath, heldOut.map((d) => JSON.stringify({ id: d.id, text: d.text })).join('\n') + '\n');

  // 2. tokenizer and models
  const tokDir = join(o.out, 'tokenizer');
  let tok: ByteTokenizer;
  if (existsSync(join(tokDir, 'vocab.json')) || existsSync(join(tokDir, 'tokenizer.json'))) tok = loadTokenizer(tokDir);
  else {
    tok = trainBpe(trainDocs.map((d) => d.text), D.vocab);
    mkdirSync(tokDir, { recursive: true });
    (tok as unknown as { save(dir: string): void }).save(tokDir);
    tok = loadTokenizer(tokDir);
  }
  const key = `audit-demo:${D.trainMails}:${tok.id}:${hashSeed(JSON.stringify(manifest.canaries.map((c) => c.secret)))}`;
  const train = tokenizeCorpus(trainDocs, tok, key, { cache: false });
  const val = tokenizeCorpus(heldOut, tok, `${key}:held-out`, { cache: false });
  const all = new Uint32Array(train.length + val.length);
  all.set(train);
  all.set(val, train.length);
  const splits = { train, val, all };
  log(`data: ${trainDocs.length} training e-mails (${train.length.toLocaleString('en-US')} tokens, ${manifest.canaries.length} canaries), ${heldOut.length} held out (${val.length.toLocaleString('en-US')} tokens)`);
  const cfgOf = (s: DemoShape) => resolveConfig(undefined, { vocabSize: tok.vocabSize, blockSize: D.blockSize, nLayer: s.nLayer, nHead: s.nHead, nEmbd: s.nEmbd, dropout: 0 });
  const tDir = join(o.out, 'target');
  const rDir = join(o.out, 'reference');
  const tTrain = await trainModel('target', tDir, cfgOf(D.target), D.target, tok, splits, D.steps, key, o);
  const rTrain = await trainModel('reference', rDir, cfgOf(D.reference), D.reference, tok, splits, D.steps, key, o);

  // 3. index of the training documents
  const indexDir = join(o.out, 'index');
  if (!existsSync(join(indexDir, 'index.json'))) {
    await buildIndex(trainDocs.map((d) => ({ id: d.id, tokens: tok.encode(d.text, { allowedSpecial: 'none' }) })), { out: indexDir, tokenizer: tok, jobs: 1, corpus: key, force: true });
  }

  const target = LocalLanguageModel.load(tDir, { name: 'target', maxBatch: 16, scoreBatch: 16 });
  const reference = LocalLanguageModel.load(rDir, { name: 'reference', maxBatch: 16, scoreBatch: 16 });
  try {
    // 4. the attack
    const strategies: Strategy[] = ['top-n', 'temperature', 'internet'];
    const tAttack = performance.now();
    const run = await runAudit({
      target: { name: 'target', lm: target },
      references: [{ name: 'reference', lm: reference }],
      corpusIndex: indexDir,
      indexTokenizer: tok,
      strategies,
      samples: D.samples,
      tokens: D.tokens,
      promptCorpus: promptPath,
      minTokens: D.minTokens,
      top: D.top,
      out: join(o.out, 'attack'),
      resume: true,
      batch: 16,
      seed: D.seed,
      targetLogprobs: true,
      categorize,
      log,
      progress: o.progress,
    });
    const attackSeconds = (performance.now() - tAttack) / 1000;

    // 5. exposure under both models; which canaries the attack found
    const found = canariesFound(manifest, run.samples.map((s) => s.text));
    const exposure: ExposureRow[] = [];
    for (const [name, lm] of [['target', target], ['reference', reference]] as const) {
      const rows = await measureExposure(lm, manifest, { candidates: D.exposureCandidates, seed: D.seed });
      for (const r of rows) exposure.push({ ...r, format: `${r.format}`, id: `${name}:${r.id}`, found_by_attack: name === 'target' ? (found.get(r.id)?.length ?? 0) > 0 : undefined });
    }

    // 6. discoverable memorization
    const index = CorpusIndex.open(indexDir, { tokenizer: tok });
    let discoverable: DiscoverableRow[];
    try {
      const seqs = sampleTrainingSequences(index, { lengths: [100, 150, 200], perBucket: 40, seed: D.seed });
      const disc = await discoverableMemorization(
        [
          { name: 'target', model: target },
          { name: 'reference', model: reference },
        ],
        seqs,
        { lengths: [100, 150, 200] },
      );
      discoverable = Array.isArray(disc) ? disc : disc.rows;
    } finally {
      index.close();
    }

    // 7. findings, results, report
    const results: AuditResults = { ...run.results, exposure, discoverable, timings: { ...run.results.timings, attack: attackSeconds, total: (performance.now() - t0) / 1000, train_target: tTrain.seconds, train_reference: rTrain.seconds } };
    const findings = demoFindings(results, tTrain, rTrain);
    results.notes = [...results.notes, ...findings, `demo: ${trainDocs.length} training e-mails, BPE vocabulary ${tok.vocabSize}, target ${tTrain.params.toLocaleString('en-US')} parameters (held-out loss ${tTrain.val_loss.toFixed(3)}), reference ${rTrain.params.toLocaleString('en-US')} (held-out loss ${rTrain.val_loss.toFixed(3)}), ${D.steps} steps each; ${D.tokens}-token samples (the 256-token context holds prompt and sample).`];
    writeFileAtomicSync(join(o.out, 'results.json'), JSON.stringify(results, finite, 2) + '\n');
    const report = writeAuditReport(join(o.out, 'report'), { results, samples: run.samples, cells: run.cells, title: 'tessera audit demo: spam-assassin' });
    return { results, report, findings };
  } finally {
    await target.close();
    await reference.close();
  }
}

/** The paper's findings, checked on this run; each sentence says what the numbers show, whichever way. */
export function demoFindings(r: AuditResults, t: { val_loss: number; train_loss: number }, ref: { val_loss: number; train_loss: number }): string[] {
  const out: string[] = [];
  for (const s of r.strategies) {
    const row = r.table2[s] ?? {};
    const p = row.perplexity ?? 0;
    const z = row.zlib ?? 0;
    const q = row['ratio:reference'] ?? 0;
    out.push(`${s}: memorized in the top ${r.top_n} — perplexity ${p}, zlib ${z}, reference ratio ${q}: zlib ${z > p ? 'beats' : z === p ? 'ties' : 'does not beat'} perplexity, the ratio ${q > p ? 'beats' : q === p ? 'ties' : 'does not beat'} it.`);
  }
  const ex = (r.exposure ?? []).filter((e) => e.id.startsWith('target:'));
  if (ex.length) {
    const byK = new Map<number, number[]>();
    for (const e of ex) byK.set(e.repeats, [...(byK.get(e.repeats) ?? []), e.exposure]);
    const ks = [...byK.keys()].sort((a, b) => a - b);
    const means = ks.map((k) => byK.get(k)!.reduce((a, b) => a + b, 0) / byK.get(k)!.length);
    const ups = means.filter((m, i) => i > 0 && m > means[i - 1]!).length;
    const trend = means[means.length - 1]! > means[0]! + 1 ? `rises with the repeats (${ups} of ${means.length - 1} steps up)` : 'does not rise with the repeats';
    out.push(`exposure of the target's canaries by repeats (mean over formats) ${ks.map((k, i) => `k=${k}: ${means[i]!.toFixed(1)} bits`).join(', ')} — exposure ${trend}; the attack's samples contain ${ex.filter((e) => e.found_by_attack).length} of ${ex.length} canaries.`);
  }
  const disc = r.discoverable ?? [];
  if (disc.length) {
    const rate = (m: string) => {
      const rows = disc.filter((d) => d.model === m);
      const n = rows.reduce((a, d) => a + d.sequences, 0);
      return n ? rows.reduce((a, d) => a + d.extracted, 0) / n : 0;
    };
    const a = rate('target');
    const b = rate('reference');
    out.push(`discoverable memorization over the stratified sequences: target ${(100 * a).toFixed(1)}%, reference ${(100 * b).toFixed(1)}% — the larger model ${a > b ? 'memorizes more' : a === b ? 'memorizes as much' : 'memorizes less'}.`);
  }
  out.push(`training: target loss ${t.train_loss.toFixed(3)} train / ${t.val_loss.toFixed(3)} held out; reference ${ref.train_loss.toFixed(3)} / ${ref.val_loss.toFixed(3)}.`);
  return out;
}

/** Canary manifest of a demo directory. */
export function readDemoManifest(out: string): CanaryManifest {
  return readJson<CanaryManifest>(join(out, 'canaries', 'canaries.json'));
}

