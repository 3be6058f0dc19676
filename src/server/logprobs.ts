// The `logprobs` object of OpenAI's legacy completions: {tokens, token_logprobs, top_logprobs, text_offset}, one entry
// per token. Tokens are shown as their text, or as "bytes:\xNN…" (lowercase hex) when their bytes alone are not
// complete UTF-8 (part of a multi-byte character); top_logprobs keys the same way. text_offset counts code points
// (Python's len) of the returned text.

import type { TopLogprob } from '../lm/language-model.js';
import type { ByteTokenizer } from '../tokenizer/index.js';

/** Number of Unicode code points (Python's len), the unit of text_offset. */
export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff || i === 0 || s.charCodeAt(i - 1) < 0xd800 || s.charCodeAt(i - 1) > 0xdbff) n++;
  }
  return n;
}

/** "bytes:\xNN…" for bytes that are not complete UTF-8 (OpenAI's convention). */
export function bytesString(bytes: Uint8Array): string {
  return `bytes:${Array.from(bytes, (b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}`;
}

/** The display strings of tokens: the token's text, or "bytes:\xNN…" when its bytes are not complete UTF-8. */
export class TokenStrings {
  private cache = new Map<number, string>();
  private fatal = new TextDecoder('utf-8', { fatal: true });
  constructor(readonly tok: ByteTokenizer) {}
  get(id: number): string {
    let s = this.cache.get(id);
    if (s === undefined) {
      const bytes = this.tok.decodeBytes([id]);
      try {
        s = this.fatal.decode(bytes);
      } catch {
        s = bytesString(bytes);
      }
      if (this.cache.size < 200_000) this.cache.set(id, s);
    }
    return s;
  }
}

/**
 * Character offsets (code points) of each token in the decoding of `ids`, starting at `base`: a token's offset is the
 * length of the complete characters decoded before it (the bytes of a character split over several tokens count
 * once, when it is complete). With `max`, offsets are capped there (the end of the returned text).
 */
export function textOffsets(tok: ByteTokenizer, ids: readonly number[], base: number, max = Infinity): number[] {
  const dec = new TextDecoder('utf-8');
  const out: number[] = [];
  let at = base;
  for (const id of ids) {
    out.push(Math.min(at, max));
    at += codePointLength(dec.decode(tok.decodeBytes([id]), { stream: true }));
  }
  return out;
}

export interface LogprobsBlock {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/**
 * One entry per id. top_logprobs[i] maps the display strings of the alternatives (ids past the tokenizer's vocabulary,
 * model padding, are left out) and always the chosen token; null where the log-probability is null (the first
 * prompt token).
 */
export function logprobsBlock(
  strings: TokenStrings,
  ids: readonly number[],
  lps: readonly (number | null | undefined)[],
  tops: readonly (readonly TopLogprob[] | null | undefined)[] | undefined,
  offsets: readonly number[],
): LogprobsBlock {
  const tokens = ids.map((id) => strings.get(id));
  const top_logprobs = ids.map((_, i) => {
    const lp = lps[i];
    if (lp === null || lp === undefined) return null;
    const d: Record<string, number> = {};
    for (const t of tops?.[i] ?? []) {
      if (t.id >= strings.tok.vocabSize) continue; // model vocabulary padding past the tokenizer's
      const s = strings.get(t.id);
      if (!(s in d)) d[s] = t.logprob;
    }
    if (!(tokens[i]! in d)) d[tokens[i]!] = lp;
    return d;
  });
  return { tokens, token_logprobs: ids.map((_, i) => lps[i] ?? null), top_logprobs, text_offset: [...offsets] };
}

export function concatBlocks(a: LogprobsBlock | undefined, b: LogprobsBlock): LogprobsBlock {
  if (!a) return b;
  return {
    tokens: [...a.tokens, ...b.tokens],
    token_logprobs: [...a.token_logprobs, ...b.token_logprobs],
    top_logprobs: [...a.top_logprobs, ...b.top_logprobs],
    text_offset: [...a.text_offset, ...b.text_offset],
  };
}
