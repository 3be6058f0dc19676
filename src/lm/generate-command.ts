// CLI actions for `lm generate` and `lm score`.

import { readFileSync } from 'node:fs';
import { loadModel } from './checkpoint.js';
import { Generator } from './generate.js';
import { parseTemperatureSchedule } from './sampling.js';
import { Scorer } from './score.js';
import { beamSearch } from '../runtime/beam-search.js';
import { CachedBeamStepper } from '../runtime/beam-stepper.js';
import { CachedStepRunner } from '../runtime/cached-step.js';
import type { ByteTokenizer } from '../tokenizer/index.js';
import type { GPT } from './model.js';

function needTokenizer<T>(t: T | undefined, dir: string): T {
  if (!t) throw new Error(`${dir}: no tokenizer files in the model directory; pass --tokenizer gpt2|PATH`);
  return t;
}

export async function runGenerateCommand(prompt: string, o: Record<string, any>): Promise<void> {
  const { model, tokenizer, dir } = loadModel(o.model, { tokenizer: o.tokenizer });
  const tok = needTokenizer(tokenizer, dir);
  if (o.numBeams !== undefined) return runBeamCommand(prompt, o, model, tok);
  const n = o.n as number;
  if (n < 1) throw new Error('--n must be at least 1');
  const gen = new Generator(model, n, tok);
  const stream = !o.json && n === 1 && process.stdout.isTTY !== undefined;
  if (stream) process.stdout.write(prompt);
  const res = await gen.generate(Array.from({ length: n }, () => tok.encode(prompt)), {
    maxTokens: o.maxTokens,
    temperature: o.temperature,
    temperatureSchedule: o.temperatureSchedule ? parseTemperatureSchedule(o.temperatureSchedule) : undefined,
    topK: o.topK,
    topP: o.topP,
    greedy: Boolean(o.greedy) || o.temperature === 0,
    stop: o.stop,
    seed: o.seed,
    repetitionPenalty: o.repetitionPenalty,
    onText: stream ? (_row, text) => process.stdout.write(text) : undefined,
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
  });
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ prompt, completions: res.texts.map((text, i) => ({ text, tokens: res.tokens[i], finish_reason: res.finish[i] })) })}\n`);
  } else if (stream) process.stdout.write('\n');
  else res.texts.forEach((t, i) => process.stdout.write(`--- sample ${i + 1} ---\n${prompt}${t}\n`));
  await gen.release();
}

export async function runScoreCommand(o: Record<string, any>): Promise<void> {
  if ((o.text === undefined) === (o.file === undefined)) throw new Error('give exactly one of --text or --file');
  const text: string = o.text ?? readFileSync(o.file, 'utf8');
  const { model, tokenizer, dir } = loadModel(o.model, { tokenizer: o.tokenizer });
  const tok = needTokenizer(tokenizer, dir);
  const ids = tok.encode(text);
  const scorer = new Scorer(model);
  const { logprobs } = await scorer.tokenLogprobs(ids);
  await scorer.release();
  if (o.json) process.stdout.write(`${JSON.stringify({ tokens: ids, logprobs })}\n`);
  else {
    const total = logprobs.reduce<number>((a, b) => a + (b ?? 0), 0);
    const n = Math.max(1, logprobs.length - 1);
    ids.forEach((id, i) => process.stdout.write(`${JSON.stringify(tok.decode([id])).padEnd(16)} ${logprobs[i] === null ? '' : logprobs[i]!.toFixed(4)}\n`));
    process.stdout.write(`total log-prob ${total.toFixed(4)}, perplexity ${Math.exp(-total / n).toFixed(3)} over ${n} predicted tokens\n`);
  }
}

/** `lm generate --num-beams W`: beam search over the KV cache; prints completions best first. */
async function runBeamCommand(prompt: string, o: Record<string, any>, model: GPT, tok: ByteTokenizer): Promise<void> {
  const W = o.numBeams as number;
  const V = model.config.vocabSize;
  if (!Number.isInteger(W) || W < 1 || W > V) throw new Error(`--num-beams must be an integer in [1, ${V}], got ${W}`);
  const ids = tok.encode(prompt);
  const promptIds = ids.length > 0 ? ids : tok.eotId !== undefined ? [tok.eotId] : [];
  if (promptIds.length === 0) throw new Error('beam search needs a non-empty prompt (the tokenizer has no end-of-text token)');
  const runner = new CachedStepRunner(model);
  try {
    const maxTokens = Math.min(o.maxTokens as number, model.config.blockSize - promptIds.length);
    if (maxTokens < 1) throw new Error(`the prompt (${promptIds.length} tokens) leaves no room in the context (${model.config.blockSize})`);
    const hyps = await beamSearch(new CachedBeamStepper(runner, maxTokens), promptIds, {
      numBeams: W,
      maxTokens,
      lengthPenalty: o.lengthPenalty,
      lengthPenaltyStyle: o.lengthPenaltyStyle,
      eotId: tok.eotId,
      numReturn: o.numReturn ?? W,
      stop: o.stop,
      decode: (t) => tok.decode(t),
    });
    const completions = hyps.map((h) => ({ text: h.text ?? tok.decode(h.tokens), tokens: h.tokens, score: h.score, logprob: h.logprob, finish_reason: h.finish }));
    if (o.json) process.stdout.write(`${JSON.stringify({ prompt, num_beams: W, length_penalty: o.lengthPenalty, length_penalty_style: o.lengthPenaltyStyle, completions })}\n`);
    else completions.forEach((c, i) => process.stdout.write(`--- beam ${i + 1} (score ${c.score.toFixed(4)}) ---\n${prompt}${c.text}\n`));
  } finally {
    await runner.release();
  }
}
