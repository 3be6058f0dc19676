// Loaders for byte-level BPE files: GPT-2 vocab.json + merges.txt, and Hugging Face tokenizer.json (model.type BPE).
// Every shape is checked; errors name the file and what is missing or malformed.
import { readFileSync } from 'node:fs';
import { BpeTokenizer } from './bpe.js';
import { bpeContentHash, type BpeTables } from './bpe-format.js';
import { tokenToBytes } from './bytes-unicode.js';
import { gpt2Tokenizer } from './gpt2.js';

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read ${what}: ${(err as Error).message}`);
  }
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: invalid JSON: ${(err as Error).message}`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const s = JSON.stringify(v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${s && s.length > 40 ? `${s.slice(0, 40)}…` : s}`;
}

/** Check a token -> id object; returns it as a Map. */
function readVocabObject(v: unknown, where: string): Map<string, number> {
  if (!isPlainObject(v)) throw new Error(`${where}: expected a JSON object mapping token strings to integer ids, got ${describe(v)}`);
  const vocab = new Map<string, number>();
  for (const [tok, id] of Object.entries(v)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new Error(`${where}: token ${JSON.stringify(tok)} has id ${describe(id)}; ids must be non-negative integers`);
    }
    vocab.set(tok, id);
  }
  return vocab;
}

/** Check "a b" strings or [a, b] pairs. */
function readMergesArray(v: unknown, where: string): Array<[string, string]> {
  if (!Array.isArray(v)) throw new Error(`${where}: expected an array of merges, got ${describe(v)}`);
  return v.map((m, i) => {
    if (typeof m === 'string') return splitMergeLine(m, `${where}[${i}]`);
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    throw new Error(`${where}[${i}]: expected "left right" or ["left", "right"], got ${describe(m)}`);
  });
}

function splitMergeLine(line: string, where: string): [string, string] {
  const parts = line.split(' ');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new Error(`${where}: expected two tokens separated by one space, got ${JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line)}`);
  }
  return [parts[0], parts[1]];
}

/** Parse merges.txt: optional "#version" header, one "left right" per line, blank lines ignored. */
export function parseMergesTxt(text: string, path: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
    out.push(splitMergeLine(line, `${path}:${i + 1}`));
  }
  return out;
}

interface StringModel {
  vocab: Map<string, number>;
  merges: Array<[string, string]>;
  /** Explicit special tokens (Hugging Face added_tokens); undefined = infer (GPT-2 layout). */
  specials?: Map<string, number>;
  ignoreMerges?: boolean;
}

let gpt2HashMemo: string | undefined;
function gpt2Hash(): string {
  gpt2HashMemo ??= bpeContentHash(gpt2Tokenizer().tables());
  return gpt2HashMemo;
}

/**
 * Build a tokenizer from token strings. In the GPT-2 layout (no explicit specials) a vocabulary entry that is neither
 * one of the 256 byte symbols nor the result of a merge is a special token (GPT-2's `<|endoftext|>`).
 */
function buildFromStrings(m: StringModel, where: string): BpeTokenizer {
  const { vocab, merges } = m;
  const size = vocab.size;
  const byId: string[] = new Array(size);
  for (const [tok, id] of vocab) {
    if (id >= size) throw new Error(`${where}: id ${id} of ${JSON.stringify(tok)} is out of range; ids must be 0..${size - 1} (one per entry)`);
    if (byId[id] !== undefined) throw new Error(`${where}: id ${id} is used by both ${JSON.stringify(byId[id])} and ${JSON.stringify(tok)}`);
    byId[id] = tok;
  }
  const mergeIds: Array<[number, number]> = [];
  const mergeResults = new Set<string>();
  for (let i = 0; i < merges.length; i++) {
    const [a, b] = merges[i];
    const ia = vocab.get(a);
    const ib = vocab.get(b);
    const missing = ia === undefined ? a : ib === undefined ? b : vocab.has(a + b) ? undefined : a + b;
    if (missing !== undefined) throw new Error(`${where}: merge #${i + 1} (${JSON.stringify(a)} ${JSON.stringify(b)}) refers to ${JSON.stringify(missing)}, which is not in the vocabulary`);
    mergeIds.push([ia!, ib!]);
    mergeResults.add(a + b);
  }
  const specials = new Map<string, number>();
  const tokens: Array<Uint8Array | null> = new Array(size).fill(null);
  for (let id = 0; id < size; id++) {
    const tok = byId[id];
    const isSpecial = m.specials ? m.specials.has(tok) : tok.length !== 1 && !mergeResults.has(tok);
    if (isSpecial) {
      specials.set(tok, id);
      continue;
    }
    const bytes = tokenToBytes(tok);
    if (!bytes) throw new Error(`${where}: token ${JSON.stringify(tok)} (id ${id}) is not spelled in the byte-level alphabet; not a byte-level BPE`);
    tokens[id] = bytes;
  }
  for (const [i, [a, b]] of mergeIds.entries()) {
    if (!tokens[a] || !tokens[b]) throw new Error(`${where}: merge #${i + 1} uses the special token ${JSON.stringify(byId[tokens[a] ? b : a])}`);
  }
  const tables: BpeTables = { tokens, specialsById: new Map([...specials].map(([t, i]) => [i, t])), merges: mergeIds };
  const hash = bpeContentHash(tables);
  const id = size === 50257 && hash === gpt2Hash() ? 'gpt2' : `bpe:${hash}`;
  try {
    return new BpeTokenizer({ tokens, specials, semantics: 'merges', merges: mergeIds, ignoreMerges: m.ignoreMerges, id });
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

/** Load a GPT-2-layout BPE: vocab.json ({token: id}) and merges.txt. */
export function loadVocabMerges(vocabPath: string, mergesPath: string): BpeTokenizer {
  const vocab = readVocabObject(parseJson(readText(vocabPath, 'vocab.json'), vocabPath), vocabPath);
  const merges = parseMergesTxt(readText(mergesPath, 'merges.txt'), mergesPath);
  return buildFromStrings({ vocab, merges }, `${vocabPath} + ${mergesPath}`);
}

/** Load a Hugging Face tokenizer.json whose model is a byte-level BPE with GPT-2 pre-tokenization. */
export function loadHfTokenizerJson(path: string, parsed?: unknown): BpeTokenizer {
  const j = parsed ?? parseJson(readText(path, 'tokenizer.json'), path);
  return parseHfTokenizerJson(j, path);
}

/** As loadHfTokenizerJson, from the parsed JSON; `path` only labels errors. */
export function parseHfTokenizerJson(j: unknown, path: string): BpeTokenizer {
  if (!isPlainObject(j)) throw new Error(`${path}: expected a JSON object, got ${describe(j)}`);
  const model = j.model;
  if (!isPlainObject(model)) throw new Error(`${path}: missing "model" object (not a Hugging Face tokenizer.json?)`);
  if (model.type !== undefined && model.type !== 'BPE') throw new Error(`${path}: model.type is ${JSON.stringify(model.type)}; only byte-level "BPE" is supported`);
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (model[key] !== undefined && model[key] !== null && model[key] !== '') throw new Error(`${path}: model.${key} = ${JSON.stringify(model[key])} is not supported (GPT-2-style byte-level BPE only)`);
  }
  if (model.byte_fallback === true) throw new Error(`${path}: model.byte_fallback is not supported (GPT-2-style byte-level BPE only)`);
  if (j.normalizer !== undefined && j.normalizer !== null) {
    const type = isPlainObject(j.normalizer) ? JSON.stringify(j.normalizer.type) : describe(j.normalizer);
    throw new Error(`${path}: normalizer ${type} is not supported; expected null`);
  }
  checkPreTokenizer(j.pre_tokenizer, path);

  const vocab = readVocabObject(model.vocab, `${path}: model.vocab`);
  const merges = readMergesArray(model.merges ?? [], `${path}: model.merges`);
  const specials = new Map<string, number>();
  const added = j.added_tokens ?? [];
  if (!Array.isArray(added)) throw new Error(`${path}: added_tokens must be an array, got ${describe(added)}`);
  added.forEach((t: unknown, i) => {
    if (!isPlainObject(t) || typeof t.content !== 'string' || typeof t.id !== 'number' || !Number.isInteger(t.id) || t.id < 0) {
      throw new Error(`${path}: added_tokens[${i}] must be {"id": integer >= 0, "content": string, ...}, got ${describe(t)}`);
    }
    const existing = vocab.get(t.content);
    if (existing !== undefined && existing !== t.id) throw new Error(`${path}: added token ${JSON.stringify(t.content)} has id ${t.id} but model.vocab gives it ${existing}`);
    vocab.set(t.content, t.id);
    specials.set(t.content, t.id);
  });
  return buildFromStrings({ vocab, merges, specials, ignoreMerges: model.ignore_merges === true }, path);
}

function checkPreTokenizer(p: unknown, path: string): void {
  const ok = (x: unknown): boolean =>
    isPlainObject(x) && x.type === 'ByteLevel' && x.use_regex !== false && x.add_prefix_space !== true;
  if (ok(p)) return;
  if (isPlainObject(p) && p.type === 'Sequence' && Array.isArray(p.pretokenizers) && p.pretokenizers.length === 1 && ok(p.pretokenizers[0])) return;
  const what = isPlainObject(p) ? `${JSON.stringify(p.type)}${p.type === 'ByteLevel' ? ' with use_regex=false or add_prefix_space=true' : ''}` : describe(p);
  throw new Error(`${path}: pre_tokenizer ${what} is not supported; expected ByteLevel (GPT-2 regex, add_prefix_space false)`);
}
