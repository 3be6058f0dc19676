// The caption tokenizer of the DALL·E system (paper §2.2: "lowercased BPE"): a byte-level BPE that tessera trains on
// the captions themselves (src/tokenizer/bpe-train.ts, no special tokens — DALL·E's padding and <bos> ids live in the
// transformer's own id range, not here), saved into a model dir as vocab.json + merges.txt + tokenizer_config.json.
// encodeCaption() lowercases, encodes and truncates to the text length (with a warning naming the caption), and
// fingerprint() is a stable hash of the vocabulary and merges, so a CLIP and a transformer whose tokenizers differ can
// be refused. Independent of the DALL·E model: CLIP uses the same class.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import { BpeTokenizer } from '../tokenizer/bpe.js';
import { loadVocabMerges } from '../tokenizer/bpe-files.js';
import { formatMergesTxt, formatVocabJson } from '../tokenizer/bpe-format.js';
import { trainBpe } from '../tokenizer/bpe-train.js';

export const CAPTION_TOKENIZER_CLASS = 'tessera-caption-bpe';
export const CAPTION_TOKENIZER_CONFIG = 'tokenizer_config.json';

export interface EncodedCaption {
  /** BPE ids (0 .. vocabSize-1), at most textLength of them. */
  ids: number[];
  truncated: boolean;
}

/** The caption normalisation applied before BPE: lowercase, whitespace runs folded to one space, trimmed. */
export function normalizeCaption(caption: string): string {
  return caption.toLowerCase().replace(/\s+/gu, ' ').trim();
}

export class CaptionTokenizer {
  private _fingerprint: string | undefined;

  constructor(readonly bpe: BpeTokenizer) {
    if (bpe.specialTokens.size > 0) throw new Error(`caption tokenizer: the BPE must have no special tokens, it has ${[...bpe.specialTokens.keys()].join(', ')}`);
  }

  /** Number of BPE ids (the transformer's text ids 0 .. vocabSize-1). */
  get vocabSize(): number {
    return this.bpe.vocabSize;
  }

  /**
   * Lowercase and encode a caption to at most `textLength` ids; longer captions are cut to their first textLength
   * ids and `warn` is told the caption and both lengths.
   */
  encodeCaption(caption: string, textLength: number, warn?: (msg: string) => void): EncodedCaption {
    if (!Number.isInteger(textLength) || textLength < 1) throw new Error(`textLength must be a positive integer, got ${textLength}`);
    const ids = this.bpe.encodeOrdinary(normalizeCaption(caption));
    if (ids.length <= textLength) return { ids, truncated: false };
    warn?.(`caption ${JSON.stringify(caption)} has ${ids.length} tokens, more than the text length ${textLength}; keeping the first ${textLength}`);
    return { ids: ids.slice(0, textLength), truncated: true };
  }

  decode(ids: ArrayLike<number>): string {
    return this.bpe.decode(ids);
  }

  /** "caption-bpe:<sha256 of vocab.json + merges.txt + normalisation>" (first 32 hex digits); stable across saves. */
  fingerprint(): string {
    if (!this._fingerprint) {
      const t = this.bpe.tables();
      const h = createHash('sha256').update(`${CAPTION_TOKENIZER_CLASS}\nlowercase\n`).update(formatVocabJson(t)).update('\n').update(formatMergesTxt(t));
      this._fingerprint = `caption-bpe:${h.digest('hex').slice(0, 32)}`;
    }
    return this._fingerprint;
  }

  /** The tokenizer's files by name: vocab.json, merges.txt and tokenizer_config.json. */
  files(): Record<string, string> {
    const t = this.bpe.tables();
    const cfg = { tokenizer_class: CAPTION_TOKENIZER_CLASS, do_lower_case: true, vocab_size: this.vocabSize, fingerprint: this.fingerprint() };
    return { 'vocab.json': formatVocabJson(t), 'merges.txt': formatMergesTxt(t), [CAPTION_TOKENIZER_CONFIG]: `${JSON.stringify(cfg, null, 2)}\n` };
  }

  /** Write files() into `dir`. */
  save(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(this.files())) writeFileAtomicSync(join(dir, name), text);
  }
}

/** Train the caption BPE on (lowercased) captions with at most `vocabSize` ids (≥ 256; fewer when merges run out). */
export function trainCaptionTokenizer(captions: Iterable<string>, vocabSize: number): CaptionTokenizer {
  if (!Number.isInteger(vocabSize) || vocabSize < 256) throw new Error(`caption vocabulary size must be an integer ≥ 256 (the byte tokens), got ${vocabSize}`);
  const docs = [...captions].map(normalizeCaption);
  return new CaptionTokenizer(trainBpe(docs, vocabSize, { specialTokens: [] }));
}

/** Read the caption tokenizer that CaptionTokenizer.save wrote into `dir`; checks its recorded fingerprint. */
export function loadCaptionTokenizer(dir: string): CaptionTokenizer {
  const cfgPath = join(dir, CAPTION_TOKENIZER_CONFIG);
  if (!existsSync(cfgPath)) throw new Error(`${dir}: no ${CAPTION_TOKENIZER_CONFIG} (not a directory with a caption tokenizer)`);
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (err) {
    throw new Error(`${cfgPath}: cannot read: ${(err as Error).message}`);
  }
  if (cfg.tokenizer_class !== CAPTION_TOKENIZER_CLASS) {
    throw new Error(`${cfgPath}: tokenizer_class ${JSON.stringify(cfg.tokenizer_class)} is not ${JSON.stringify(CAPTION_TOKENIZER_CLASS)}`);
  }
  const tok = new CaptionTokenizer(loadVocabMerges(join(dir, 'vocab.json'), join(dir, 'merges.txt')));
  if (typeof cfg.fingerprint === 'string' && cfg.fingerprint !== tok.fingerprint()) {
    throw new Error(`${dir}: vocab.json/merges.txt hash to ${tok.fingerprint()} but ${CAPTION_TOKENIZER_CONFIG} records ${cfg.fingerprint} (files changed?)`);
  }
  return tok;
}

/** The fingerprint of a caption tokenizer (see CaptionTokenizer.fingerprint). */
export function tokenizerFingerprint(tok: CaptionTokenizer): string {
  return tok.fingerprint();
}

/** Throw when two models' caption tokenizers differ (e.g. a CLIP reranking a transformer's samples). */
export function checkSameTokenizer(a: { name: string; fingerprint: string }, b: { name: string; fingerprint: string }): void {
  if (a.fingerprint !== b.fingerprint) {
    throw new Error(`${a.name} and ${b.name} use different caption tokenizers (${a.fingerprint} vs ${b.fingerprint}); train them on the same tokenizer`);
  }
}
