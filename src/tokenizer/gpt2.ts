// The built-in GPT-2 tokenizer, offline: the 50,257-token vocabulary decoded from js-tiktoken's bundled gpt2 ranks.
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { BpeTokenizer } from './bpe.js';
import { GPT2_PATTERN } from './gpt2-pretokenize.js';

/**
 * Decode tiktoken's compact `bpe_ranks` text: lines of `<label> <first rank> <base64 token> <base64 token> ...`, the
 * tokens taking consecutive ranks from the first. Returns token bytes indexed by rank.
 */
export function parseTiktokenRanks(bpeRanks: string): Uint8Array[] {
  const tokens: Uint8Array[] = [];
  for (const line of bpeRanks.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const offset = Number.parseInt(fields[1], 10);
    if (!Number.isInteger(offset) || offset < 0) throw new Error(`tiktoken ranks: bad offset field ${JSON.stringify(fields[1])}`);
    for (let i = 2; i < fields.length; i++) tokens[offset + i - 2] = new Uint8Array(Buffer.from(fields[i], 'base64'));
  }
  for (let r = 0; r < tokens.length; r++) if (!tokens[r]) throw new Error(`tiktoken ranks: rank ${r} missing`);
  return tokens;
}

let builtin: BpeTokenizer | undefined;

/** The GPT-2 tokenizer (id "gpt2", vocab 50257, `<|endoftext|>` = 50256), built once per process. */
export function gpt2Tokenizer(): BpeTokenizer {
  if (builtin) return builtin;
  if (gpt2Ranks.pat_str !== GPT2_PATTERN) throw new Error('js-tiktoken gpt2 ranks use an unexpected split pattern');
  const ranked = parseTiktokenRanks(gpt2Ranks.bpe_ranks);
  const specials = new Map(Object.entries(gpt2Ranks.special_tokens));
  const size = Math.max(ranked.length, ...[...specials.values()].map((id) => id + 1));
  const tokens: Array<Uint8Array | null> = new Array(size).fill(null);
  ranked.forEach((b, r) => (tokens[r] = b));
  builtin = new BpeTokenizer({ tokens, specials, semantics: 'tiktoken', id: 'gpt2' });
  return builtin;
}
