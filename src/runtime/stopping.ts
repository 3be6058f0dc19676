// Per-row stopping criteria, incremental: one token's bytes are decoded per step, never the whole text again.
//
// - IncrementalDetokenizer: a streaming UTF-8 decode of one row's tokens. push(id) returns the text completed by that
//   token ('' while a character is split across tokens); flush() ends the stream (U+FFFD for an incomplete tail). It
//   also remembers which token holds the first byte of every character, for tokenAt().
// - StopStringMatcher: finds stop strings across token boundaries by searching only held-back text + new text. It
//   holds back the longest suffix that is a proper prefix of some stop string, so no part of a stop string is ever
//   emitted. Generation ends at the first stop string to complete (the leftmost, when one push completes several);
//   the visible text is cut just before it and everything after is discarded. finish() releases the held-back text.
// - RowStopper: max new tokens, end-of-text id and stop strings together. Per pushed token, in this order: the eot id
//   ends the row with 'eot' (that token is not kept, its bytes are not decoded); a completed stop string ends it with
//   'stop'; reaching maxTokens ends it with 'length'. On 'eot' / 'length' the decoder is flushed and held-back text
//   released into that last result. tokensForText() is how many generated tokens to keep: on 'stop', the tokens
//   before the one holding the first byte of the stop string (that token and all later ones are dropped, so the kept
//   tokens decode to a prefix of the visible text); on 'eot', all but the eot token; otherwise all pushed tokens.

export type DecodeBytes = (ids: number[]) => Uint8Array;

export type FinishReason = 'stop' | 'length' | 'eot';

/** Streaming UTF-8 decode of one row's tokens, tracking which token owns each character's first byte. */
export class IncrementalDetokenizer {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private readonly utf8 = new Utf8Pending();
  private pushed = 0;
  private emitted = 0;
  private flushed = false;
  // one entry per non-empty piece of text: where it starts, where its first code point ends, who owns what
  private readonly segStart: number[] = [];
  private readonly segFirstEnd: number[] = [];
  private readonly segFirstOwner: number[] = [];
  private readonly segOwner: number[] = [];

  constructor(private readonly decodeBytes: DecodeBytes) {}

  /** Tokens pushed so far. */
  get tokens(): number {
    return this.pushed;
  }
  /** UTF-16 length of all text returned so far. */
  get textLength(): number {
    return this.emitted;
  }
  /** Bytes the decoder is holding back (an incomplete character). */
  get pendingBytes(): number {
    return this.utf8.pendingBytes;
  }

  /** Decode one more token; returns the newly completed text. */
  push(id: number): string {
    if (this.flushed) throw new Error('IncrementalDetokenizer.push after flush()');
    const bytes = this.decodeBytes([id]);
    const heldOwner = this.utf8.owner;
    const text = this.decoder.decode(bytes, { stream: true });
    this.utf8.feed(bytes, this.pushed);
    this.record(text, heldOwner >= 0 ? heldOwner : this.pushed, this.pushed);
    this.pushed++;
    return text;
  }

  /** End the stream: the remaining text (U+FFFD for an incomplete character), or ''. */
  flush(): string {
    if (this.flushed) return '';
    this.flushed = true;
    const owner = this.utf8.owner;
    const text = this.decoder.decode();
    this.record(text, owner, owner);
    return text;
  }

  /**
   * Index of the token holding the first byte of the code point at UTF-16 offset `at` of the decoded text
   * (`tokens` when `at` is at or past the end).
   */
  tokenAt(at: number): number {
    if (at >= this.emitted) return this.pushed;
    for (let s = this.segStart.length - 1; s >= 0; s--) {
      if (this.segStart[s]! <= at) return at < this.segFirstEnd[s]! ? this.segFirstOwner[s]! : this.segOwner[s]!;
    }
    return 0;
  }

  private record(text: string, firstOwner: number, owner: number): void {
    if (text.length === 0) return;
    const first = text.codePointAt(0)! > 0xffff ? 2 : 1;
    this.segStart.push(this.emitted);
    this.segFirstEnd.push(this.emitted + first);
    this.segFirstOwner.push(firstOwner);
    this.segOwner.push(owner);
    this.emitted += text.length;
  }
}

export interface StopMatch {
  /** Text safe to emit now. */
  visible: string;
  /** A stop string was found: generation is over, nothing more will be emitted. */
  hit: boolean;
}

/** Incremental stop-string search over a stream of text pieces. */
export class StopStringMatcher {
  private readonly stops: string[];
  private readonly longest: number;
  private held = '';
  private visibleText = '';
  private found: string | undefined;

  constructor(stops: readonly string[]) {
    stops.forEach((s, i) => {
      if (typeof s !== 'string' || s.length === 0) throw new Error(`stop strings must be non-empty strings, stop[${i}] is ${JSON.stringify(s)}`);
    });
    this.stops = [...stops];
    this.longest = Math.max(0, ...this.stops.map((s) => s.length));
  }

  /** All text emitted so far (cut before the stop string after a hit). */
  get text(): string {
    return this.visibleText;
  }
  /** The stop string that ended the stream, if any. */
  get matched(): string | undefined {
    return this.found;
  }
  /** Text held back because it may be the start of a stop string. */
  get pending(): string {
    return this.held;
  }

  push(newText: string): StopMatch {
    if (this.found !== undefined) return { visible: '', hit: true };
    const buf = this.held + newText;
    let at = -1;
    for (const stop of this.stops) {
      const j = buf.indexOf(stop);
      if (j >= 0 && (at < 0 || j < at)) {
        at = j;
        this.found = stop;
      }
    }
    if (at >= 0) return this.emit(buf.slice(0, at), '', true);
    const hold = this.heldSuffixLength(buf);
    return this.emit(buf.slice(0, buf.length - hold), buf.slice(buf.length - hold), false);
  }

  /** End of stream: release the held-back text (none after a hit). */
  finish(): string {
    const rest = this.held;
    this.held = '';
    this.visibleText += rest;
    return rest;
  }

  private emit(visible: string, held: string, hit: boolean): StopMatch {
    this.held = held;
    this.visibleText += visible;
    return { visible, hit };
  }

  /** Length of the longest suffix of buf that is a proper prefix of some stop string. */
  private heldSuffixLength(buf: string): number {
    for (let len = Math.min(buf.length, this.longest - 1); len > 0; len--) {
      const suffix = buf.slice(buf.length - len);
      for (const stop of this.stops) if (stop.length > len && stop.startsWith(suffix)) return len;
    }
    return 0;
  }
}

export interface RowStopperOptions {
  /** Integer >= 1: the row ends with 'length' after this many generated tokens. */
  maxTokens: number;
  eotId?: number;
  /** Stop strings; they need decodeBytes. */
  stop?: readonly string[];
  /** Token bytes (a ByteTokenizer's decodeBytes); without it no text is produced. */
  decodeBytes?: DecodeBytes;
}

export interface RowStep {
  done: boolean;
  finish?: FinishReason;
  /** Newly visible text. */
  text: string;
  /** False for the eot token. */
  keepToken: boolean;
}

/** All stopping criteria for one row; push each generated token until `done`. */
export class RowStopper {
  private readonly maxTokens: number;
  private readonly eotId: number | undefined;
  private readonly detok: IncrementalDetokenizer | undefined;
  private readonly matcher: StopStringMatcher;
  private pushed = 0;
  private reason: FinishReason | undefined;

  constructor(o: RowStopperOptions) {
    if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) throw new Error(`maxTokens must be an integer >= 1, got ${o.maxTokens}`);
    if (o.eotId !== undefined && (!Number.isInteger(o.eotId) || o.eotId < 0)) throw new Error(`eotId must be an integer >= 0, got ${o.eotId}`);
    const stop = o.stop ?? [];
    if (stop.length > 0 && !o.decodeBytes) throw new Error('stop strings need decodeBytes (the tokenizer) to see the text');
    this.maxTokens = o.maxTokens;
    this.eotId = o.eotId;
    this.detok = o.decodeBytes ? new IncrementalDetokenizer(o.decodeBytes) : undefined;
    this.matcher = new StopStringMatcher(stop);
  }

  get done(): boolean {
    return this.reason !== undefined;
  }
  get finish(): FinishReason | undefined {
    return this.reason;
  }
  /** All visible text so far. */
  get text(): string {
    return this.matcher.text;
  }
  /** Generated tokens pushed so far (the eot token included). */
  get generated(): number {
    return this.pushed;
  }
  /** The stop string that ended the row, if any. */
  get matchedStop(): string | undefined {
    return this.matcher.matched;
  }

  push(id: number): RowStep {
    if (this.reason !== undefined) throw new Error(`RowStopper.push after the row finished ('${this.reason}')`);
    this.pushed++;
    if (id === this.eotId) return this.end('eot', '', false);
    let text = '';
    if (this.detok) {
      const m = this.matcher.push(this.detok.push(id));
      text = m.visible;
      if (m.hit) return this.end('stop', text, true);
    }
    if (this.pushed >= this.maxTokens) return this.end('length', text, true);
    return { done: false, text, keepToken: true };
  }

  /** Generated tokens to keep (see the header): all of them unless a stop string or the eot token ended the row. */
  tokensForText(): number {
    if (this.reason === 'stop') return this.detok!.tokenAt(this.matcher.text.length);
    if (this.reason === 'eot') return this.pushed - 1;
    return this.pushed;
  }

  private end(reason: FinishReason, text: string, keepToken: boolean): RowStep {
    if (reason !== 'stop' && this.detok) {
      const m = this.matcher.push(this.detok.flush());
      text += m.visible;
      if (m.hit) reason = 'stop';
      else text += this.matcher.finish();
    }
    this.reason = reason;
    return { done: true, finish: reason, text, keepToken };
  }
}

/**
 * Which bytes a WHATWG UTF-8 decoder (TextDecoder) is holding back, and which token the first of them came from.
 * Mirrors the spec's decoder state: bytes needed / seen and the allowed range of the next continuation byte.
 */
class Utf8Pending {
  private needed = 0;
  private seen = 0;
  private lower = 0x80;
  private upper = 0xbf;
  /** Token of the lead byte being held, or -1. */
  owner = -1;

  get pendingBytes(): number {
    return this.needed > 0 ? this.seen + 1 : 0;
  }

  feed(bytes: Uint8Array, token: number): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (this.needed === 0) {
        if (b <= 0x7f) continue;
        if (b >= 0xc2 && b <= 0xdf) this.needed = 1;
        else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) this.lower = 0xa0;
          if (b === 0xed) this.upper = 0x9f;
          this.needed = 2;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) this.lower = 0x90;
          if (b === 0xf4) this.upper = 0x8f;
          this.needed = 3;
        } else continue; // invalid lead byte: one U+FFFD, nothing held
        this.seen = 0;
        this.owner = token;
        continue;
      }
      if (b < this.lower || b > this.upper) {
        this.reset(); // U+FFFD for the held bytes, then this byte starts over
        i--;
        continue;
      }
      this.lower = 0x80;
      this.upper = 0xbf;
      if (++this.seen === this.needed) this.reset();
    }
  }

  private reset(): void {
    this.needed = 0;
    this.seen = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
    this.owner = -1;
  }
}
