// Training-step benchmark: a GPT-2-style model (pre-LN, learned positions, tied embeddings, GELU tanh, AdamW
// β 0.9/0.95, weight decay 0.1, clip 1.0) on random tokens; reports tokens/s and median ms/step.
// Peer: bench/pytorch_train.py (same model and step in PyTorch CPU).

import { availableParallelism } from 'node:os';
import { resolveConfig } from '../src/lm/config.js';
import { GPT } from '../src/lm/model.js';
import { createTrainStep } from '../src/nn/train.js';
import { Rng } from '../src/nn/init.js';
import { median, modelShape } from './stats.js';

export interface BenchTrainOptions {
  layers: number;
  heads: number;
  embd: number;
  block: number;
  vocab: number;
  batch: number;
  steps: number;
  warmup?: number;
  threads?: number;
  /** Optimizer steps per session run (default 1). */
  stepsPerRun?: number;
}


export async function benchTrain(o: BenchTrainOptions) {
  const cfg = resolveConfig(undefined, { nLayer: o.layers, nHead: o.heads, nEmbd: o.embd, blockSize: o.block, vocabSize: o.vocab, dropout: 0 });
  const model = new GPT(cfg).initialize(1337);
  const B = o.batch;
  const Tn = o.block;
  const tCompile = performance.now();
  const step = await createTrainStep(model, {
    data: [
      { name: 'idx', shape: [B, Tn], dtype: 'int64' },
      { name: 'targets', shape: [B, Tn], dtype: 'int64' },
    ],
    loss: (d, ctx) => model.loss(d.get('idx')!, d.get('targets')!, ctx),
    optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    clipNorm: 1.0,
    stepsPerRun: o.stepsPerRun ?? 1,
    runtime: { threads: o.threads },
  });
  const compileMs = performance.now() - tCompile;
  const rng = new Rng(1);
  const batch = () => {
    const idx = new BigInt64Array(B * Tn);
    const tg = new BigInt64Array(B * Tn);
    for (let i = 0; i < idx.length; i++) {
      idx[i] = BigInt(rng.int(cfg.vocabSize));
      tg[i] = BigInt(rng.int(cfg.vocabSize));
    }
    return { idx, targets: tg };
  };
  const data = batch();
  const K = o.stepsPerRun ?? 1;
  const times: number[] = [];
  let loss = 0;
  const warm = Math.ceil((o.warmup ?? 2) / K);
  const runs = warm + Math.ceil(o.steps / K);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const rs = K === 1 ? [await step.step([data], 1e-4, i)] : await step.steps(Array(K).fill(data), Array(K).fill(1e-4), Array.from({ length: K }, (_, j) => i * K + j));
    const dt = (performance.now() - t0) / K;
    loss = rs[rs.length - 1]!.loss;
    if (i >= warm) times.push(dt);
  }
  const ms = median(times);
  await step.release();
  return {
    ...modelShape(o),
    batch: B,
    steps: o.steps,
    steps_per_run: K,
    threads: o.threads ?? availableParallelism(),
    glibc_tunables: process.env.GLIBC_TUNABLES ?? null,
    params: model.parameterCount(),
    tokens_per_s: (B * Tn) / (ms / 1000),
    ms_per_step: ms,
    ms_per_step_all: times.map((t) => Math.round(t)),
    compile_ms: Math.round(compileMs),
    final_loss: loss,
  };
}
