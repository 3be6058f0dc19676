// Few-shot multiple-choice scoring benchmark: N four-choice questions, each = one shared ~400-token 5-shot block (the
// SAME random token ids for every question) + a ~20-token question + 4 choices of ~5 tokens, i.e. 4N (context,
// continuation) requests, scored with BatchScorer.loglikelihood (src/runtime/batch-scorer.ts: per batch the common
// prefix once, each question once, then one row per choice). Reports questions/s after a warm-up that compiles the
// programs. Random-weight GPT (N(0, 0.02) init).
// Peer: bench/pytorch_score.py scores the same requests with the same weights (--save-weights, --dump-requests) the
// way lm-evaluation-harness's HF backend does (sorted by length, right-padded batches, one forward each, no reuse).

import { writeFileSync } from 'node:fs';
import { resolveConfig } from '../src/lm/config.js';
import { GPT } from '../src/lm/model.js';
import { Rng } from '../src/nn/init.js';
import { CachedStepRunner } from '../src/runtime/cached-step.js';
import { BatchScorer, type TokenPair } from '../src/runtime/batch-scorer.js';
import { fromFloat32, writeSafetensorsSync, type SafeTensor } from '../src/io/safetensors.js';
import type { Module } from '../src/nn/module.js';
import { cpuModel, cpuSeconds, peakRssMb, threadCount } from './decode.js';
import { modelShape } from './stats.js';

export interface BenchScoreOptions {
  layers: number;
  heads: number;
  embd: number;
  block: number;
  vocab: number;
  questions: number;
  batch: number;
  /** Tokens of the shared few-shot block (default 400). */
  shots?: number;
  /** Tokens per question, ±2 (default 20). */
  question?: number;
  /** Tokens per choice, ±1 (default 5). */
  choice?: number;
  choices?: number;
  seed?: number;
  saveWeights?: string;
  dumpRequests?: string;
  /** Include the first n log-likelihoods (request order). */
  dumpLogprobs?: number;
}

/**
 * Write a model's weights as safetensors with Hugging Face GPT2LMHeadModel names (`transformer.h.0.attn.c_attn.weight`,
 * Conv1D layout (in, out), the head tied to `transformer.wte.weight`), for the PyTorch peers.
 */
export function saveHfWeights(model: Module, path: string): void {
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, p] of model.nameParameters()) tensors[`transformer.${name}`] = fromFloat32(p.data, [...p.shape]);
  writeSafetensorsSync(path, tensors, { format: 'pt' });
}

/** The benchmark's requests: question-major, choice-minor (request 4q + c is choice c of question q). */
export function fewShotRequests(o: { vocab: number; questions: number; shots: number; question: number; choice: number; choices: number; seed: number }): TokenPair[] {
  const rng = new Rng(o.seed + 7777);
  const ids = (n: number) => Array.from({ length: n }, () => rng.int(o.vocab));
  const shots = ids(o.shots);
  const out: TokenPair[] = [];
  for (let q = 0; q < o.questions; q++) {
    const context = [...shots, ...ids(Math.max(1, o.question - 2 + rng.int(5)))];
    for (let c = 0; c < o.choices; c++) out.push({ context, continuation: ids(Math.max(1, o.choice - 1 + rng.int(3))) });
  }
  return out;
}

export async function benchScore(o: BenchScoreOptions) {
  const seed = o.seed ?? 1;
  const cfg = resolveConfig(undefined, { nLayer: o.layers, nHead: o.heads, nEmbd: o.embd, blockSize: o.block, vocabSize: o.vocab });
  const model = new GPT(cfg).initialize(seed);
  if (o.saveWeights) saveHfWeights(model, o.saveWeights);
  const choices = o.choices ?? 4;
  const shape = { vocab: cfg.vocabSize, questions: o.questions, shots: o.shots ?? 400, question: o.question ?? 20, choice: o.choice ?? 5, choices, seed };
  const pairs = fewShotRequests(shape);
  if (o.dumpRequests) writeFileSync(o.dumpRequests, JSON.stringify({ ...shape, block: cfg.blockSize, requests: pairs }));
  const scorer = new BatchScorer(new CachedStepRunner(model), { batch: o.batch });
  // Warm-up: programs are keyed by (rows, T bucket, cache capacity); a full batch of questions and, when the last
  // batch is smaller, a batch of that many compile every shape the timed run meets.
  const t0 = performance.now();
  const perBatch = Math.max(1, Math.floor(o.batch / choices));
  await scorer.loglikelihood(pairs.slice(0, Math.min(o.questions, perBatch) * choices));
  const rem = o.questions % perBatch;
  if (rem > 0 && o.questions > perBatch) await scorer.loglikelihood(pairs.slice(0, rem * choices));
  const compileMs = performance.now() - t0;
  const programs = scorer.runner.compiled.size;
  const t1 = performance.now();
  const res = await scorer.loglikelihood(pairs);
  const secs = (performance.now() - t1) / 1000;
  const compiledDuringRun = scorer.runner.compiled.size - programs;
  const failed = res.filter((r) => r instanceof Error);
  if (failed.length > 0) throw failed[0] as Error;
  const lls = res.map((r) => (r as { logprob: number }).logprob);
  const stats = scorer.lastStats;
  await scorer.release();
  return {
    ...modelShape(o),
    params: model.parameterCount(),
    questions: o.questions,
    requests: pairs.length,
    batch: o.batch,
    shots: shape.shots,
    question_tokens: shape.question,
    choice_tokens: shape.choice,
    questions_per_s: o.questions / secs,
    requests_per_s: pairs.length / secs,
    seconds: secs,
    tokens_computed: stats.tokensComputed,
    tokens_unshared: stats.tokensUnshared,
    batches: stats.batches,
    peak_rss_mb: peakRssMb(),
    cpu_s: cpuSeconds(),
    cpu: cpuModel(),
    threads: threadCount(),
    glibc_tunables: process.env.GLIBC_TUNABLES ?? null,
    compile_ms: Math.round(compileMs),
    ...(o.dumpLogprobs ? { loglikelihoods: lls.slice(0, o.dumpLogprobs) } : {}),
    ...(compiledDuringRun > 0 ? { warning: `${compiledDuringRun} program(s) compiled inside the timed run` } : {}),
  };
}
