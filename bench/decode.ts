// KV-cache decoding benchmark: a random-weight GPT of the given shape (N(0, 0.02) init), `samples` sequences of one
// start token each, `tokens` new tokens per sequence, decoded `batch` rows at a time through the Generator
// (src/runtime/sample-loop.ts: continuous batching when samples > batch). --top-k K samples from the K most likely
// tokens at --temperature (the graph returns only the top K logits); --top-k 0 decodes greedily. Reports tokens/s
// (all generated tokens / seconds of the timed run, after a warm-up that compiles the decode program) and peak RSS.
// Peer: bench/pytorch_decode.py (same model shape, a PyTorch KV-cache loop with torch.topk + torch.multinomial).

import { availableParallelism, cpus } from 'node:os';
import { resolveConfig } from '../src/lm/config.js';
import { GPT } from '../src/lm/model.js';
import { Generator } from '../src/lm/generate.js';
import type { StepOutput } from '../src/runtime/cached-step.js';
import { decodeCapacities } from '../src/runtime/sample-loop.js';
import { modelShape } from './stats.js';

export interface BenchDecodeOptions {
  layers: number;
  heads: number;
  embd: number;
  block: number;
  vocab: number;
  batch: number;
  tokens: number;
  prompt?: number;
  /** Sample from the K most likely tokens; 0 or undefined = greedy. */
  topK?: number;
  /** Sampling temperature (default 1; only with topK > 0). */
  temperature?: number;
  /** Sequences in total (default = batch); more than `batch` run with continuous batching. */
  samples?: number;
  seed?: number;
}

export function cpuModel(): string {
  return cpus()[0]?.model.trim() ?? 'unknown';
}

export function peakRssMb(): number {
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10; // maxRSS is in KiB
}

/** CPU seconds (user + system, all threads) this process has used. */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export function threadCount(): number {
  return Number(process.env.TESSERA_THREADS) || availableParallelism();
}

export async function benchDecode(o: BenchDecodeOptions) {
  const cfg = resolveConfig(undefined, { nLayer: o.layers, nHead: o.heads, nEmbd: o.embd, blockSize: o.block, vocabSize: o.vocab });
  const model = new GPT(cfg).initialize(1);
  const topK = o.topK ?? 0;
  const greedy = topK === 0;
  const temperature = o.temperature ?? 1;
  const samples = o.samples ?? o.batch;
  const P = o.prompt ?? 1;
  if (P + o.tokens > cfg.blockSize) throw new Error(`--prompt + --tokens (${P + o.tokens}) exceed --block ${cfg.blockSize}`);
  const gen = new Generator(model, o.batch);
  const prompts = Array.from({ length: samples }, (_, b) => Array.from({ length: P }, (_, i) => (b * 31 + i * 7) % cfg.vocabSize));
  const opts = { maxTokens: o.tokens, greedy, temperature: greedy ? undefined : temperature, topK: greedy ? undefined : topK, stopAtEot: false, seed: o.seed ?? 0 };
  // Warm-up: compile the programs the timed run uses. The decode program is keyed by (what it returns, rows, T = 1,
  // cache capacity); sampleBatched grows the cache in steps of 64 slots up to prompt + maxTokens (decodeCapacities)
  // and asks for the top K logits (K = 1 greedy), so one step on a cache of each of those shapes compiles exactly
  // them. A prompt longer than one token also needs the 1-row prefill program, which a short generate() compiles.
  const t0 = performance.now();
  const B = Math.min(o.batch, samples);
  const out: StepOutput = { kind: 'lastTopK', k: greedy ? 1 : topK };
  for (const cap of decodeCapacities(P, o.tokens, cfg.blockSize, model.parameterCount())) {
    await gen.runner.step(gen.runner.newCache(B, cap), Array.from({ length: B }, () => [0]), out);
  }
  if (P > 1) await gen.generate([prompts[0]!], { ...opts, maxTokens: 1 });
  const compileMs = performance.now() - t0;
  const programs = gen.runner.compiled.size;
  const t1 = performance.now();
  const r = await gen.generate(prompts, opts);
  const secs = (performance.now() - t1) / 1000;
  const generated = r.tokens.reduce((a, t) => a + t.length, 0);
  // a program compiled inside the timed run would make the number meaningless: say so
  const compiledDuringRun = gen.runner.compiled.size - programs;
  await gen.release();
  return {
    ...modelShape(o),
    batch: o.batch,
    samples,
    tokens: o.tokens,
    prompt: P,
    top_k: topK,
    temperature: greedy ? null : temperature,
    mode: greedy ? 'greedy' : `top-k ${topK}`,
    params: model.parameterCount(),
    generated,
    tokens_per_s: generated / secs,
    seconds: secs,
    // per decode step (all busy rows advance one token), as in earlier versions
    ms_per_token: (secs * 1000) / (Math.ceil(samples / o.batch) * o.tokens),
    peak_rss_mb: peakRssMb(),
    cpu_s: cpuSeconds(),
    cpu: cpuModel(),
    threads: threadCount(),
    glibc_tunables: process.env.GLIBC_TUNABLES ?? null,
    compile_ms: Math.round(compileMs),
    ...(compiledDuringRun > 0 ? { warning: `${compiledDuringRun} program(s) compiled inside the timed run` } : {}),
  };
}
