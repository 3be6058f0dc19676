// GPT-2's pre-tokenization: the regex that splits text into "words" before byte-level BPE runs on each one.

/** The GPT-2 split pattern, exactly as in OpenAI's encoder.py / tiktoken's gpt2 `pat_str`. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** A fresh global, unicode-aware regex for the GPT-2 pattern (fresh because `lastIndex` is per-object state). */
export function gpt2Regex(): RegExp {
  return new RegExp(GPT2_PATTERN, 'gu');
}

/** Split text into GPT-2 pre-tokens; their concatenation is the input. */
export function pretokenize(text: string): string[] {
  return text.match(gpt2Regex()) ?? [];
}

/** Call fn for each GPT-2 pre-token of text, in order. */
export function forEachPretoken(text: string, fn: (word: string) => void): void {
  const re = gpt2Regex();
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) fn(m[0]);
}

// ---- ASCII fast path: the same split as GPT2_PATTERN, computed from char codes without the regex. ----

const LETTER = 1;
const DIGIT = 2;
const SPACE = 3;
const OTHER = 4;
/** Class of each ASCII code under the pattern's own \p{L}, \p{N}, \s (derived from the regex engine, not hand-listed). */
const ASCII_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c);
    t[c] = /\p{L}/u.test(ch) ? LETTER : /\p{N}/u.test(ch) ? DIGIT : /\s/u.test(ch) ? SPACE : OTHER;
  }
  return t;
})();

/**
 * End index of the GPT-2 pre-token that starts at `i` in `text` (length `n`), when it can be decided from ASCII
 * characters alone; -1 when a non-ASCII character is involved (the caller then runs the regex at `i`).
 */
export function scanAsciiPretoken(text: string, i: number, n: number): number {
  const c = text.charCodeAt(i);
  if (c >= 128) return -1;
  let cls = ASCII_CLASS[c];
  let start = i;
  if (c === 39 && i + 1 < n) {
    // 's|'t|'re|'ve|'m|'ll|'d
    const c1 = text.charCodeAt(i + 1);
    if (c1 === 115 || c1 === 116 || c1 === 109 || c1 === 100) return i + 2; // s t m d
    if (i + 2 < n) {
      const c2 = text.charCodeAt(i + 2);
      if ((c1 === 114 || c1 === 118) && c2 === 101) return i + 3; // re ve
      if (c1 === 108 && c2 === 108) return i + 3; // ll
    }
  } else if (c === 32 && i + 1 < n) {
    // " ?" before a letter / digit / other run
    const c1 = text.charCodeAt(i + 1);
    if (c1 >= 128) return -1;
    const cls1 = ASCII_CLASS[c1];
    if (cls1 !== SPACE) {
      cls = cls1;
      start = i + 1;
    }
  }
  if (cls === SPACE) {
    // \s+(?!\S) | \s+
    let j = i + 1;
    while (j < n) {
      const cj = text.charCodeAt(j);
      if (cj >= 128) return -1;
      if (ASCII_CLASS[cj] !== SPACE) break;
      j++;
    }
    if (j === n || j - i === 1) return j;
    return j - 1;
  }
  let j = start + 1;
  while (j < n) {
    const cj = text.charCodeAt(j);
    if (cj >= 128) return -1;
    if (ASCII_CLASS[cj] !== cls) break;
    j++;
  }
  return j;
}
