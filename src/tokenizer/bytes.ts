// The raw-bytes tokenizer: ids 0..255 are UTF-8 bytes, plus an optional end-of-text id 256 (used by the corpus index).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from './types.js';

const EOT_TEXT = '<|endoftext|>';

export class BytesTokenizer implements Tokenizer {
  /** "bytes", or "bytes+eot" with the end-of-text token. */
  readonly id: string;
  readonly vocabSize: number;
  readonly eotId: number | undefined;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder('utf-8');

  constructor(opts: { eot?: boolean } = {}) {
    this.eotId = opts.eot ? 256 : undefined;
    this.vocabSize = opts.eot ? 257 : 256;
    this.id = opts.eot ? 'bytes+eot' : 'bytes';
  }

  encode(text: string, opts?: { allowedSpecial?: 'all' | 'none' }): number[] {
    if (this.eotId === undefined || (opts?.allowedSpecial ?? 'all') === 'none' || !text.includes(EOT_TEXT)) {
      return Array.from(this.encoder.encode(text));
    }
    const out: number[] = [];
    text.split(EOT_TEXT).forEach((part, i) => {
      if (i > 0) out.push(this.eotId!);
      for (const b of this.encoder.encode(part)) out.push(b);
    });
    return out;
  }

  /** Bytes of the ids; the end-of-text id becomes the UTF-8 of `<|endoftext|>`. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const eot = this.encoder.encode(EOT_TEXT);
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === this.eotId) n += eot.length;
      else if (Number.isInteger(id) && id >= 0 && id < 256) n++;
      else throw new RangeError(`decode: token id ${id} is outside 0..${this.vocabSize - 1}`);
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === this.eotId) {
        out.set(eot, o);
        o += eot.length;
      } else out[o++] = id;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    return this.decoder.decode(this.decodeBytes(ids));
  }

  save(dir: string): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer.json'), `${JSON.stringify({ type: 'bytes', eot: this.eotId !== undefined })}\n`);
  }
}
