// Generation for the extraction attack: the paper's three strategies (Carlini et al. 2021, §4.1, §6.1).
//   top-n        prompt = one end-of-text token; sample from the top n = 40 tokens (repo: top_k=40, top_p=1);
//   temperature  prompt = end-of-text; the full distribution at temperature t_i = 10 − 9·i/20 for generated token
//                i < 20, then 1 (linear: the paper gives only "10 decaying to 1 over the first 20 tokens");
//   internet     prompt = 5–10 tokens (uniform) from a random line of a prompt corpus the target was not trained
//                on; then top-n sampling.
// Samples are `tokens` (256) generated tokens; generation stops early only at end-of-text (as Hugging Face
// `generate` stops at eos). The sample's text is the prompt's text + the generated text (end-of-text dropped, as
// `skip_special_tokens`). Batches are fixed id ranges with a seed per batch, so a resumed run regenerates the same
// samples the killed one would have.

import type { LanguageModel, TokenLevelModel } from '../lm/language-model.js';
import type { Strategy } from './types.js';

export const TOP_N = 40;
export const TEMPERATURE_SCHEDULE = { start: 10, end: 1, over: 20 } as const;
export const TEMPERATURE_SCHEDULE_TEXT = 'linear: t_i = 10 − 9·i/20 for generated tokens i = 0..19, then t = 1 (full distribution, no top-n)';
export const PROMPT_TOKENS = { min: 5, max: 10 } as const;

/** A local model exposing token-level generation (LocalLanguageModel). */
export function isTokenLevel(lm: LanguageModel): lm is LanguageModel & TokenLevelModel {
  return typeof (lm as Partial<TokenLevelModel>).generateTokens === 'function' && (lm as Partial<TokenLevelModel>).tokenizer !== undefined;
}

/** Deterministic 32-bit PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string, for seeds derived from names. */
export function hashSeed(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const c of parts.join('\u0000')) {
    h ^= c.codePointAt(0)!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * `count` Internet-style prompts: each from a random non-empty line of a random document (weighted by length),
 * starting at the line, 5–10 tokens of the target's tokenizer, decoded back to text.
 */
export async function drawPrompts(lm: LanguageModel, texts: readonly string[], count: number, seed: number, specName = 'the prompt corpus'): Promise<string[]> {
  const lines: string[] = [];
  for (const t of texts) for (const l of t.split(/\r?\n/)) if (l.trim().split(/\s+/).length >= 3) lines.push(l.trim());
  if (lines.length === 0) throw new Error(`${specName} has no line of text with at least 3 words to take Internet-style prompts from (an empty prompt corpus)`);
  const rand = prng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const line = lines[Math.floor(rand() * lines.length)]!;
    const want = PROMPT_TOKENS.min + Math.floor(rand() * (PROMPT_TOKENS.max - PROMPT_TOKENS.min + 1));
    const ids = await lm.tokenize(line.slice(0, 400));
    out.push(await lm.detokenize(ids.slice(0, want)));
  }
  return out;
}

export interface GenerationSpec {
  strategy: Strategy;
  /** Prompt texts, one per sample ('' = start from end-of-text alone). */
  prompts: string[];
  tokens: number;
  seed: number;
}

export interface GeneratedText {
  prompt: string;
  text: string;
}

/** Generate one batch of samples for a strategy (one call, batched by the model). */
export async function generateBatch(lm: LanguageModel, spec: GenerationSpec): Promise<GeneratedText[]> {
  const sampling =
    spec.strategy === 'temperature'
      ? { temperatureSchedule: { ...TEMPERATURE_SCHEDULE } }
      : { temperature: 1, topK: TOP_N };
  if (isTokenLevel(lm)) {
    const eot = lm.tokenizer.eotId;
    const prompts = spec.prompts.map((p) => {
      if (p !== '') return lm.tokenizer.encode(p);
      if (eot === undefined) throw new Error(`the ${spec.strategy} strategy starts from an end-of-text token, and ${lm.name}'s tokenizer has none`);
      return [eot];
    });
    const { rows } = await lm.generateTokens(prompts, { maxTokens: spec.tokens, seed: spec.seed, ...sampling });
    return rows.map((r, i) => ({ prompt: spec.prompts[i]!, text: spec.prompts[i]! + r.text }));
  }
  // Remote (OpenAI-compatible): an empty prompt is sent as GPT-2's end-of-text text, which vLLM and tessera serve
  // read as the special token. The temperature schedule is tessera serve's extension (`temperature_schedule`).
  const texts = spec.prompts.map((p) => (p === '' ? '<|endoftext|>' : p));
  const res = await lm.generate(texts, { maxTokens: spec.tokens, seed: spec.seed, ...sampling });
  return res.map((c, i) => ({ prompt: spec.prompts[i]!, text: spec.prompts[i]! + c[0]!.text }));
}
