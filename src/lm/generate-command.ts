// CLI actions for `lm generate` and `lm score`.

import { readFileSync } from 'node:fs';
import { loadModel } from './checkpoint.js';
import { Generator } from './generate.js';
import { parseTemperatureSchedule } from './sampling.js';
import { Scorer } from './score.js';

function needTokenizer<T>(t: T | undefined, dir: string): T {
  if (!t) throw new Error(`${dir}: no tokenizer files in the model directory; pass --tokenizer gpt2|PATH`);
  return t;
}

export async function runGenerateCommand(prompt: string, o: Record<string, any>): Promise<void> {
  const { model, tokenizer, dir } = loadModel(o.model, { tokenizer: o.tokenizer });
  const tok = needTokenizer(tokenizer, dir);
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
