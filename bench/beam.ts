// Beam-search benchmark: a random-weight GPT (N(0, 0.02) init), a prompt of `prompt` token ids, beam width W,
// `tokens` new tokens with the end-of-text id (V − 1) masked until then (HF min_new_tokens), so every search runs all
// of them. tessera: CachedBeamStepper (the prompt prefilled once and forked into W cache rows, rows reordered to the
// surviving beams' parents each step) + beamSearch (Hugging Face semantics). Reports tokens/s = new tokens of the
// best hypothesis per second (beam_tokens_per_s counts all W rows), after a warm-up search that compiles the programs.
// Peer: bench/pytorch_beam.py (transformers GPT2LMHeadModel.generate(num_beams=W, …) with the same weights).

import { resolveConfig } from '../src/lm/config.js';
import { GPT } from '../src/lm/model.js';
import { CachedStepRunner } from '../src/runtime/cached-step.js';
import { CachedBeamStepper } from '../src/runtime/beam-stepper.js';
import { beamSearch } from '../src/runtime/beam-search.js';
import { cpuModel, cpuSeconds, peakRssMb, threadCount } from './decode.js';
import { saveHfWeights } from './score.js';
import { median, modelShape } from './stats.js';

export interface BenchBeamOptions {
  layers: number;
  heads: number;
  embd: number;
  block: number;
  vocab: number;
  beams: number;
  tokens: number;
  prompt: number;
  repeats?: number;
  seed?: number;
  saveWeights?: string;
}

/** The benchmark prompt (bench/pytorch_beam.py computes the same ids). */
export function beamPrompt(n: number, vocab: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (seed * 1009 + i * 7919) % vocab);
}

export async function benchBeam(o: BenchBeamOptions) {
  const seed = o.seed ?? 1;
  const cfg = resolveConfig(undefined, { nLayer: o.layers, nHead: o.heads, nEmbd: o.embd, blockSize: o.block, vocabSize: o.vocab });
  const model = new GPT(cfg).initialize(seed);
  if (o.saveWeights) saveHfWeights(model, o.saveWeights);
  const runner = new CachedStepRunner(model);
  const prompt = beamPrompt(o.prompt, cfg.vocabSize, seed);
  const eot = cfg.vocabSize - 1;
  const search = (maxTokens: number) => {
    // the stepper's cache is sized for prompt + o.tokens, so the warm-up compiles the same programs
    const stepper = new CachedBeamStepper(runner, o.tokens);
    return beamSearch(stepper, prompt, { numBeams: o.beams, maxTokens, eotId: eot, minTokens: maxTokens, numReturn: 1 });
  };
  const t0 = performance.now();
  await search(Math.min(2, o.tokens));
  const compileMs = performance.now() - t0;
  const programs = runner.compiled.size;
  const times: number[] = [];
  let best: Awaited<ReturnType<typeof search>> = [];
  for (let r = 0; r < (o.repeats ?? 1); r++) {
    const t1 = performance.now();
    best = await search(o.tokens);
    times.push((performance.now() - t1) / 1000);
  }
  const compiledDuringRun = runner.compiled.size - programs;
  await runner.release();
  const h = best[0]!;
  const secs = Math.min(...times);
  return {
    ...modelShape(o),
    params: model.parameterCount(),
    beams: o.beams,
    tokens: o.tokens,
    prompt: o.prompt,
    generated: h.tokens.length,
    tokens_per_s: h.tokens.length / secs,
    beam_tokens_per_s: (o.beams * h.tokens.length) / secs,
    seconds: secs,
    seconds_median: median(times),
    runs: times,
    best_tokens: h.tokens,
    best_logprob: h.logprob,
    best_score: h.score,
    peak_rss_mb: peakRssMb(),
    cpu_s: cpuSeconds(),
    cpu: cpuModel(),
    threads: threadCount(),
    glibc_tunables: process.env.GLIBC_TUNABLES ?? null,
    compile_ms: Math.round(compileMs),
    ...(compiledDuringRun > 0 ? { warning: `${compiledDuringRun} program(s) compiled inside the timed run` } : {}),
  };
}
