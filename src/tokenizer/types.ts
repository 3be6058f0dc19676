// The tokenizer contract every part of tessera codes against (LM training, scoring, the corpus index, the audit).

export interface Tokenizer {
  /** Stable identity stored in checkpoints and index headers, e.g. "gpt2", "char:<sha256 of vocab>", "bytes". */
  readonly id: string;
  /** Number of token ids (ids are 0 .. vocabSize-1). */
  readonly vocabSize: number;
  /** The end-of-text token id, if the tokenizer has one. */
  readonly eotId: number | undefined;
  encode(text: string, opts?: { allowedSpecial?: 'all' | 'none' }): number[];
  decode(ids: ArrayLike<number>): string;
  /** Write the tokenizer's files into a directory (so a checkpoint or index carries its tokenizer). */
  save(dir: string): void;
}
