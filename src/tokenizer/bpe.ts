// Byte-level BPE tokenizer (GPT-2 scheme): GPT-2 pre-tokenization, byte symbols, ranked pair merges, special tokens.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from './types.js';
import { GPT2_PATTERN, gpt2Regex, scanAsciiPretoken } from './gpt2-pretokenize.js';
import { ASCII_CACHE_MAX_WORD, AsciiWordCache } from './ascii-cache.js';
import { BpeMerger, PairTable } from './bpe-merge.js';
import { bpeContentHash, formatMergesTxt, formatVocabJson, type BpeTables } from './bpe-format.js';

/**
 * A BPE model in ids.
 * - `semantics: 'merges'`: GPT-2 / Hugging Face rule; pair (merges[i][0], merges[i][1]) has rank i and produces the
 *   token whose bytes are the concatenation.
 * - `semantics: 'tiktoken'`: tiktoken's rule; any two adjacent parts whose concatenated bytes form a token may merge,
 *   with that token's id as the rank. `merges` may then be omitted (derived on demand for saving).
 */
export interface BpeModel {
  /** Bytes of each ordinary token; null at the ids of special tokens. Length = vocabulary size. */
  tokens: ReadonlyArray<Uint8Array | null>;
  /** Special tokens (matched literally in text when allowedSpecial is 'all'), text -> id. */
  specials: ReadonlyMap<string, number>;
  semantics: 'merges' | 'tiktoken';
  merges?: ReadonlyArray<readonly [number, number]>;
  /** Hugging Face `ignore_merges`: a pre-token that is itself in the vocabulary becomes that token directly. */
  ignoreMerges?: boolean;
  /** Identity; defaults to "bpe:<content hash>". */
  id?: string;
}

export interface EncodeOptions {
  /** 'all' (default): special-token text becomes the special id. 'none': it is encoded as ordinary text. */
  allowedSpecial?: 'all' | 'none';
}

const CACHE_LIMIT = 200_000;
const CACHE_MAX_WORD = 64;

export class BpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eotId: number | undefined;
  private _id: string | undefined;
  private readonly tokens: ReadonlyArray<Uint8Array | null>;
  private readonly specials: ReadonlyMap<string, number>;
  private readonly specialsById: Map<number, string>;
  private readonly specialRegex: RegExp | undefined;
  /** Which merge rule the model follows (see BpeModel). */
  readonly semantics: 'merges' | 'tiktoken';
  private mergesList: ReadonlyArray<readonly [number, number]> | undefined;
  private readonly table: PairTable;
  private readonly merger: BpeMerger;
  private readonly byteToId = new Int32Array(256);
  private readonly wholeWord: Map<string, number> | undefined;
  private readonly re = gpt2Regex();
  private readonly sticky = new RegExp(GPT2_PATTERN, 'uy');
  private readonly asciiCache = new AsciiWordCache();
  private readonly cache = new Map<string, number | Int32Array>();
  private ids = new Int32Array(256);
  private utf8 = new Uint8Array(768);
  // Decode tables: all token bytes back to back.
  private readonly flat: Uint8Array;
  private readonly offsets: Int32Array;
  private readonly textDecoder = new TextDecoder('utf-8');

  constructor(model: BpeModel) {
    const { tokens, specials } = model;
    this.tokens = tokens;
    this.vocabSize = tokens.length;
    this.specials = specials;
    this.semantics = model.semantics;
    this.mergesList = model.merges;
    this._id = model.id;
    this.specialsById = new Map();
    for (const [text, id] of specials) {
      if (text === '') throw new Error(`BPE: special token ${id} has empty text`);
      if (!Number.isInteger(id) || id < 0 || id >= tokens.length) throw new Error(`BPE: special token ${JSON.stringify(text)} has id ${id} outside 0..${tokens.length - 1}`);
      this.specialsById.set(id, text);
    }
    this.eotId = specials.get('<|endoftext|>');

    // Byte-string index of ordinary tokens (latin1 key).
    const byBytes = new Map<string, number>();
    for (let id = 0; id < tokens.length; id++) {
      const b = tokens[id];
      if (b) {
        if (b.length === 0) throw new Error(`BPE: token id ${id} is empty`);
        byBytes.set(latin1(b), id);
      } else if (!this.specialsById.has(id)) throw new Error(`BPE: token id ${id} has neither bytes nor a special text`);
    }
    for (let b = 0; b < 256; b++) {
      const id = byBytes.get(String.fromCharCode(b));
      if (id === undefined) throw new Error(`BPE: vocabulary lacks the single-byte token for byte 0x${b.toString(16).padStart(2, '0')}; not a byte-level BPE`);
      this.byteToId[b] = id;
    }
    this.wholeWord = model.ignoreMerges ? byBytes : undefined;

    if (model.semantics === 'merges') {
      const merges = model.merges;
      if (!merges) throw new Error('BPE: merges semantics needs a merges list');
      this.table = new PairTable(merges.length);
      for (let r = 0; r < merges.length; r++) {
        const [a, b] = merges[r];
        const ta = tokens[a];
        const tb = tokens[b];
        if (!ta || !tb) throw new Error(`BPE: merge #${r + 1} (${a}, ${b}) uses a special or missing token`);
        const merged = byBytes.get(latin1(ta) + latin1(tb));
        if (merged === undefined) throw new Error(`BPE: merge #${r + 1} (${a}, ${b}) produces a token that is not in the vocabulary`);
        this.table.set(a, b, r, merged);
      }
    } else {
      // tiktoken: every split of every token into two tokens is a mergeable pair ranked by the token's id.
      this.table = new PairTable(tokens.length * 4);
      for (let id = 0; id < tokens.length; id++) {
        const t = tokens[id];
        if (!t || t.length < 2) continue;
        const key = latin1(t);
        for (let s = 1; s < key.length; s++) {
          const a = byBytes.get(key.slice(0, s));
          if (a === undefined) continue;
          const b = byBytes.get(key.slice(s));
          if (b !== undefined) this.table.set(a, b, id, id);
        }
      }
    }
    this.merger = new BpeMerger(this.table);

    if (specials.size > 0) {
      const alts = [...specials.keys()].sort((x, y) => y.length - x.length).map(escapeRegex);
      this.specialRegex = new RegExp(alts.join('|'), 'gu');
    }

    let total = 0;
    for (let id = 0; id < tokens.length; id++) total += tokens[id]?.length ?? Buffer.byteLength(this.specialsById.get(id)!);
    this.flat = new Uint8Array(total);
    this.offsets = new Int32Array(tokens.length + 1);
    let off = 0;
    const enc = new TextEncoder();
    for (let id = 0; id < tokens.length; id++) {
      const b = tokens[id] ?? enc.encode(this.specialsById.get(id)!);
      this.flat.set(b, off);
      off += b.length;
      this.offsets[id + 1] = off;
    }
  }

  get id(): string {
    if (this._id === undefined) this._id = `bpe:${bpeContentHash(this.tables())}`;
    return this._id;
  }

  /** Special token texts and ids. */
  get specialTokens(): ReadonlyMap<string, number> {
    return this.specials;
  }

  /** The merge list in rank order (derived from the ranks for tiktoken-style models). */
  get merges(): ReadonlyArray<readonly [number, number]> {
    if (!this.mergesList) this.mergesList = this.deriveMerges();
    return this.mergesList;
  }

  /** Bytes of an ordinary token, or the UTF-8 of a special token. */
  tokenBytes(id: number): Uint8Array {
    this.checkId(id);
    return this.flat.slice(this.offsets[id], this.offsets[id + 1]);
  }

  encode(text: string, opts?: EncodeOptions): number[] {
    const out: number[] = [];
    const allowed = opts?.allowedSpecial ?? 'all';
    if (allowed !== 'all' && allowed !== 'none') throw new Error(`encode: allowedSpecial must be 'all' or 'none', got ${String(allowed)}`);
    const sre = this.specialRegex;
    if (allowed === 'none' || sre === undefined) {
      this.encodeOrdinary(text, out);
      return out;
    }
    let start = 0;
    sre.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = sre.exec(text)) !== null) {
      if (m.index > start) this.encodeOrdinary(text.slice(start, m.index), out);
      out.push(this.specials.get(m[0])!);
      start = m.index + m[0].length;
    }
    if (start < text.length) this.encodeOrdinary(start === 0 ? text : text.slice(start), out);
    return out;
  }

  /** Encode with no special-token recognition (tiktoken's encode_ordinary). */
  encodeOrdinary(text: string, out: number[] = []): number[] {
    if (this.wholeWord) return this.encodeOrdinaryRegex(text, out);
    const n = text.length;
    const sticky = this.sticky;
    const acache = this.asciiCache;
    let i = 0;
    while (i < n) {
      const j = scanAsciiPretoken(text, i, n);
      if (j < 0) {
        // Non-ASCII involved: let the regex decide this one pre-token.
        sticky.lastIndex = i;
        const w = sticky.exec(text)![0];
        this.encodeString(w, out);
        i += w.length;
        continue;
      }
      if (j - i === 1) {
        out.push(this.byteToId[text.charCodeAt(i)]);
      } else if (j - i <= ASCII_CACHE_MAX_WORD) {
        const h = AsciiWordCache.hashRange(text, i, j);
        if (!acache.emit(text, i, j, h, out)) {
          const len = this.mergeAscii(text, i, j);
          acache.insert(text, i, j, h, this.ids, len);
          for (let k = 0; k < len; k++) out.push(this.ids[k]);
        }
      } else {
        const len = this.mergeAscii(text, i, j);
        for (let k = 0; k < len; k++) out.push(this.ids[k]);
      }
      i = j;
    }
    return out;
  }

  /** The plain regex loop (used when the model looks whole words up first, i.e. Hugging Face ignore_merges). */
  private encodeOrdinaryRegex(text: string, out: number[]): number[] {
    const re = this.re;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) this.encodeString(m[0], out);
    return out;
  }

  /** BPE of ASCII text[i, j) into this.ids; returns the token count. */
  private mergeAscii(text: string, i: number, j: number): number {
    const n = j - i;
    if (this.ids.length < n) this.ids = new Int32Array(n * 2);
    const ids = this.ids;
    const b2i = this.byteToId;
    for (let k = 0; k < n; k++) ids[k] = b2i[text.charCodeAt(i + k)];
    return this.merger.merge(ids, n);
  }

  /** Encode one pre-token given as a string, through the string-keyed cache. */
  private encodeString(w: string, out: number[]): void {
    const cache = this.cache;
    let r = cache.get(w);
    if (r === undefined) {
      r = this.encodeWord(w);
      if (w.length <= CACHE_MAX_WORD) {
        if (cache.size >= CACHE_LIMIT) cache.clear();
        cache.set(w, r);
      }
    }
    if (typeof r === 'number') out.push(r);
    else for (let i = 0; i < r.length; i++) out.push(r[i]);
  }

  decode(ids: ArrayLike<number>): string {
    return this.textDecoder.decode(this.decodeBytes(ids));
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const { flat, offsets } = this;
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      this.checkId(id);
      total += offsets[id + 1] - offsets[id];
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const end = offsets[id + 1];
      for (let j = offsets[id]; j < end; j++) out[o++] = flat[j];
    }
    return out;
  }

  save(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const t = this.tables();
    writeFileSync(join(dir, 'vocab.json'), formatVocabJson(t));
    writeFileSync(join(dir, 'merges.txt'), formatMergesTxt(t));
  }

  /** The tables the text formats are written from. */
  tables(): BpeTables {
    return { tokens: this.tokens, specialsById: this.specialsById, merges: this.merges };
  }

  private checkId(id: number): void {
    if (!(id >= 0 && id < this.vocabSize && Number.isInteger(id))) throw new RangeError(`decode: token id ${id} is outside 0..${this.vocabSize - 1}`);
  }

  /** BPE of one pre-token: a single id (number) or several (Int32Array). */
  private encodeWord(w: string): number | Int32Array {
    const n = this.toUtf8(w);
    const bytes = this.utf8;
    if (n === 1) return this.byteToId[bytes[0]];
    if (this.wholeWord) {
      const whole = this.wholeWord.get(latin1(bytes.subarray(0, n)));
      if (whole !== undefined) return whole;
    }
    if (this.ids.length < n) this.ids = new Int32Array(n * 2);
    const ids = this.ids;
    const b2i = this.byteToId;
    for (let i = 0; i < n; i++) ids[i] = b2i[bytes[i]];
    const len = this.merger.merge(ids, n);
    return len === 1 ? ids[0] : ids.slice(0, len);
  }

  /** UTF-8 encode s into this.utf8 (lone surrogates become U+FFFD, as TextEncoder does); returns the byte count. */
  private toUtf8(s: string): number {
    const len = s.length;
    if (this.utf8.length < len * 3) this.utf8 = new Uint8Array(len * 3);
    const buf = this.utf8;
    let n = 0;
    for (let i = 0; i < len; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        buf[n++] = c;
      } else if (c < 0x800) {
        buf[n++] = 0xc0 | (c >> 6);
        buf[n++] = 0x80 | (c & 0x3f);
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < len ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          buf[n++] = 0xf0 | (c >> 18);
          buf[n++] = 0x80 | ((c >> 12) & 0x3f);
          buf[n++] = 0x80 | ((c >> 6) & 0x3f);
          buf[n++] = 0x80 | (c & 0x3f);
        } else {
          buf[n++] = 0xef;
          buf[n++] = 0xbf;
          buf[n++] = 0xbd;
        }
      } else {
        buf[n++] = 0xe0 | (c >> 12);
        buf[n++] = 0x80 | ((c >> 6) & 0x3f);
        buf[n++] = 0x80 | (c & 0x3f);
      }
    }
    return n;
  }

  /**
   * For tiktoken-style ranks: one merge per multi-byte token, in id order. The pair is what BPE with only the
   * lower-ranked tokens makes of the token's bytes (two parts for a consistent vocabulary, as GPT-2's is); otherwise
   * the first split into two lower-ranked tokens.
   */
  private deriveMerges(): Array<[number, number]> {
    const merges: Array<[number, number]> = [];
    const byBytes = new Map<string, number>();
    for (let id = 0; id < this.tokens.length; id++) {
      const t = this.tokens[id];
      if (t) byBytes.set(latin1(t), id);
    }
    for (let id = 0; id < this.tokens.length; id++) {
      const t = this.tokens[id];
      if (!t || t.length < 2) continue;
      const ids = new Int32Array(t.length);
      for (let i = 0; i < t.length; i++) ids[i] = this.byteToId[t[i]];
      const len = this.merger.merge(ids, t.length, id);
      if (len === 2) {
        merges.push([ids[0], ids[1]]);
        continue;
      }
      const key = latin1(t);
      let found = false;
      for (let s = 1; s < key.length && !found; s++) {
        const a = byBytes.get(key.slice(0, s));
        const b = byBytes.get(key.slice(s));
        if (a !== undefined && b !== undefined && a < id && b < id) {
          merges.push([a, b]);
          found = true;
        }
      }
      if (!found) throw new Error(`BPE: token id ${id} cannot be written as a merge of two lower-ranked tokens`);
    }
    return merges;
  }
}

/** One char per byte: a cheap, exact Map key for a byte string. */
export function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

