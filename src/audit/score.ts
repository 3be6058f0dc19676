// Scoring samples with the six membership metrics (membership.ts): the target's per-token log-probabilities of the
// text and of the lowercased text, and each reference model's of the text. References may use another tokenizer
// than the target: every perplexity is per text under its own model's tokenizer, so the ratio is still defined
// (the paper's Small/Medium references share GPT-2's tokenizer; ours need not).
// A target that cannot return log-probabilities (a server without prompt logprobs) gets no perplexity-based
// metric: the caller passes `targetLogprobs: false` and only the zlib size is recorded.

import type { LanguageModel, ScoreResult } from '../lm/language-model.js';
import { membershipScores } from './membership.js';
import type { StoredScores } from './store.js';
import { zlibSize } from './zlib-size.js';

/** The metrics that need the target's log-probabilities (all six sort keys). */
export const TARGET_LOGPROB_METRICS = ['perplexity', 'zlib', 'lowercase', 'window', 'ratio:*'] as const;

export interface NamedModel {
  name: string;
  lm: LanguageModel;
}

/** score() of every text, batched where the model can. */
export async function scoreTexts(lm: LanguageModel, texts: string[]): Promise<ScoreResult[]> {
  if (lm.scoreMany) return lm.scoreMany(texts);
  return Promise.all(texts.map((t) => lm.score(t)));
}

/** One batch: the metrics of each text (NaN where a text has fewer than two tokens). */
export async function scoreBatch(target: NamedModel, references: readonly NamedModel[], texts: string[], o: { targetLogprobs: boolean; window?: number }): Promise<StoredScores[]> {
  if (!o.targetLogprobs) {
    return texts.map((text) => ({ ppl: null, ppl_lower: null, ppl_window: null, zlib: zlibSize(text), ref_ppl: {}, scores: {} }));
  }
  const main = await scoreTexts(target.lm, texts);
  const lower = await scoreTexts(target.lm, texts.map((t) => t.toLowerCase()));
  const refs: Record<string, ScoreResult[]> = {};
  for (const r of references) refs[r.name] = await scoreTexts(r.lm, texts);
  return texts.map((text, i) => {
    const m = membershipScores(
      {
        text,
        logprobs: main[i]!.logprobs,
        lowerLogprobs: lower[i]!.logprobs,
        refLogprobs: Object.fromEntries(Object.entries(refs).map(([n, rs]) => [n, rs[i]!.logprobs])),
      },
      o.window ?? 50,
    );
    return { ppl: m.ppl, ppl_lower: m.ppl_lower, ppl_window: m.ppl_window, zlib: m.zlib, ref_ppl: m.ref_ppl, scores: { ...m.scores } };
  });
}
