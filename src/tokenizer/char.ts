// Character-level tokenizer for small experiments (nanoGPT shakespeare_char style): ids = sorted unique code points.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from './types.js';

export const EOT_TEXT = '<|endoftext|>';

/** The on-disk form, saved as tokenizer.json. */
export interface CharTokenizerJson {
  type: 'char';
  chars: string[];
  /** Present when the tokenizer has an end-of-text token (id = chars.length). */
  eot?: string;
}

export class CharTokenizer implements Tokenizer {
  readonly id: string;
  readonly vocabSize: number;
  readonly eotId: number | undefined;
  readonly chars: readonly string[];
  private readonly bmp = new Int32Array(0x10000).fill(-1);
  private readonly astral = new Map<number, number>();

  /** `chars`: one code point each, distinct; id i is chars[i]. `eot`: add `<|endoftext|>` as id chars.length. */
  constructor(chars: readonly string[], opts: { eot?: boolean } = {}) {
    chars.forEach((ch, i) => {
      const cp = typeof ch === 'string' ? ch.codePointAt(0) : undefined;
      if (cp === undefined || String.fromCodePoint(cp) !== ch) throw new Error(`char tokenizer: chars[${i}] = ${JSON.stringify(ch)} is not a single code point`);
      if (this.lookup(cp) >= 0) throw new Error(`char tokenizer: chars[${i}] = ${JSON.stringify(ch)} is a duplicate`);
      if (cp < 0x10000) this.bmp[cp] = i;
      else this.astral.set(cp, i);
    });
    this.chars = [...chars];
    this.eotId = opts.eot ? chars.length : undefined;
    this.vocabSize = chars.length + (opts.eot ? 1 : 0);
    const hashInput = JSON.stringify(this.chars) + (opts.eot ? `\n${EOT_TEXT}` : '');
    this.id = `char:${createHash('sha256').update(hashInput).digest('hex').slice(0, 16)}`;
  }

  private lookup(cp: number): number {
    return cp < 0x10000 ? this.bmp[cp] : (this.astral.get(cp) ?? -1);
  }

  /** Unknown characters throw, naming the character and its position (code-point index). */
  encode(text: string, opts?: { allowedSpecial?: 'all' | 'none' }): number[] {
    const out: number[] = [];
    const specials = this.eotId !== undefined && (opts?.allowedSpecial ?? 'all') === 'all';
    let pos = 0;
    for (let i = 0; i < text.length; pos++) {
      if (specials && text.startsWith(EOT_TEXT, i)) {
        out.push(this.eotId!);
        i += EOT_TEXT.length;
        pos += EOT_TEXT.length - 1;
        continue;
      }
      const cp = text.codePointAt(i)!;
      const id = this.lookup(cp);
      if (id < 0) {
        const ch = String.fromCodePoint(cp);
        throw new Error(`char tokenizer: unknown character ${JSON.stringify(ch)} (U+${cp.toString(16).toUpperCase().padStart(4, '0')}) at position ${pos}; it does not occur in the training text`);
      }
      out.push(id);
      i += cp > 0xffff ? 2 : 1;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === this.eotId) s += EOT_TEXT;
      else if (Number.isInteger(id) && id >= 0 && id < this.chars.length) s += this.chars[id];
      else throw new RangeError(`decode: token id ${id} is outside 0..${this.vocabSize - 1}`);
    }
    return s;
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    return new TextEncoder().encode(this.decode(ids));
  }

  toJSON(): CharTokenizerJson {
    return this.eotId === undefined ? { type: 'char', chars: [...this.chars] } : { type: 'char', chars: [...this.chars], eot: EOT_TEXT };
  }

  save(dir: string): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer.json'), `${JSON.stringify(this.toJSON())}\n`);
  }
}

/** Vocabulary = the sorted (by code point) distinct characters of `text`. */
export function trainCharTokenizer(text: string, opts: { eot?: boolean } = {}): CharTokenizer {
  const seen = new Set<number>();
  for (const ch of text) seen.add(ch.codePointAt(0)!);
  const chars = [...seen].sort((a, b) => a - b).map((cp) => String.fromCodePoint(cp));
  return new CharTokenizer(chars, opts);
}

/** Check and build from parsed tokenizer.json content of type "char"; `path` labels errors. */
export function charTokenizerFromJson(j: unknown, path: string): CharTokenizer {
  const o = j as Partial<CharTokenizerJson> | null;
  if (typeof o !== 'object' || o === null || o.type !== 'char') throw new Error(`${path}: expected {"type": "char", "chars": [...]}`);
  if (!Array.isArray(o.chars) || o.chars.some((c) => typeof c !== 'string')) throw new Error(`${path}: "chars" must be an array of one-character strings`);
  if (o.eot !== undefined && o.eot !== EOT_TEXT) throw new Error(`${path}: "eot" must be ${JSON.stringify(EOT_TEXT)} when present, got ${JSON.stringify(o.eot)}`);
  try {
    return new CharTokenizer(o.chars, { eot: o.eot !== undefined });
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}
