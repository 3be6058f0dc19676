// GPT-2's reversible byte <-> printable-unicode mapping (bytes_to_unicode), used to spell byte-level BPE tokens in vocab.json/merges.txt.

/**
 * The 256 bytes in GPT-2's canonical order: the "printable" bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') first, then the rest
 * ascending. Index i of this array is the byte whose token id is i in GPT-2 (and in every BPE this project trains).
 */
export const BYTE_ORDER: readonly number[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const printable = new Set(bs);
  for (let b = 0; b < 256; b++) if (!printable.has(b)) bs.push(b);
  return bs;
})();

/** BYTE_TO_UNICODE[b] is the one-character string that stands for byte b. */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const out: string[] = new Array(256);
  let n = 0;
  for (let i = 0; i < 256; i++) {
    const b = BYTE_ORDER[i];
    // Printable bytes (the first 188 in BYTE_ORDER) stand for themselves; the others map to U+0100 + n.
    out[b] = i < 188 ? String.fromCharCode(b) : String.fromCharCode(256 + n++);
  }
  return out;
})();

const UNICODE_TO_BYTE: ReadonlyMap<number, number> = new Map(BYTE_TO_UNICODE.map((ch, b) => [ch.charCodeAt(0), b]));

/** Spell a byte string as a byte-level BPE token string. */
export function bytesToToken(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_UNICODE[bytes[i]];
  return s;
}

/** Inverse of bytesToToken; returns undefined when a character is outside the 256-symbol alphabet. */
export function tokenToBytes(token: string): Uint8Array | undefined {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = UNICODE_TO_BYTE.get(token.charCodeAt(i));
    if (b === undefined) return undefined;
    out[i] = b;
  }
  return out;
}
