// Secret Sharer canaries (Carlini et al. 2019): generated secrets in fixed formats ("my key is 3kq9x0za", "my number
// is 481516234", "my id is <uuid4>") inserted k times into a training corpus, each copy into a different document
// (distinct documents while there are enough), on a line of its own at a line boundary. The manifest records every
// canary (format, prefix, secret, repeats, the documents it went into) and each format's candidate space |R|, so
// exposure.ts can rank the canary among unused candidates of the same format. Everything is drawn from one seeded
// PRNG (mulberry32 from an FNV-1a hash of the seed), so the same corpus, options and seed give the same output.
// A secret that already occurs in the corpus is redrawn, so each canary's secret occurs exactly `repeats` times.

import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadCorpus } from '../data/corpora.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { hashSeed, prng } from './generate.js';

export interface CanaryFormat {
  name: string;
  /** Text before the secret (the secret follows directly). */
  prefix: string;
  /** Characters the secret is drawn from ('uuid': a random UUID v4). */
  alphabet: string;
  length: number;
  /** log2 |R|, the number of possible secrets. */
  space_log2: number;
}

export const CANARY_FORMATS: readonly CanaryFormat[] = [
  { name: 'key', prefix: 'my key is ', alphabet: 'abcdefghijklmnopqrstuvwxyz0123456789', length: 8, space_log2: 8 * Math.log2(36) },
  { name: 'digits', prefix: 'my number is ', alphabet: '0123456789', length: 9, space_log2: 9 * Math.log2(10) },
  { name: 'uuid', prefix: 'my id is ', alphabet: 'uuid', length: 36, space_log2: 122 },
];

export interface Canary {
  id: string;
  format: string;
  prefix: string;
  secret: string;
  /** prefix + secret: the line inserted. */
  text: string;
  repeats: number;
  /** Ids of the documents a copy went into (one entry per copy). */
  docs: string[];
}

export interface CanaryManifest {
  version: 1;
  seed: string;
  formats: CanaryFormat[];
  canaries: Canary[];
}

export function formatByName(name: string): CanaryFormat {
  const f = CANARY_FORMATS.find((x) => x.name === name);
  if (!f) throw new Error(`unknown canary format '${name}' (formats: ${CANARY_FORMATS.map((x) => x.name).join(', ')})`);
  return f;
}

/** A random secret of the format. */
export function randomSecret(f: CanaryFormat, rand: () => number): string {
  if (f.alphabet === 'uuid') {
    const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16));
    hex[12] = '4';
    hex[16] = '89ab'[Math.floor(rand() * 4)]!;
    const h = hex.join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  return Array.from({ length: f.length }, () => f.alphabet[Math.floor(rand() * f.alphabet.length)]!).join('');
}

export interface InsertOptions {
  repeats: number[];
  formats?: string[];
  seed?: string | number;
}

/** Inserts one canary per format × repeat count; returns the new documents (same ids and order) and the manifest. */
export function insertCanaries(docs: readonly { id: string; text: string }[], o: InsertOptions): { docs: { id: string; text: string }[]; manifest: CanaryManifest } {
  if (docs.length === 0) throw new Error('canaries: the corpus has no documents');
  for (const k of o.repeats) if (!Number.isInteger(k) || k < 1) throw new Error(`canaries: repeats must be positive integers, got ${k}`);
  const names = o.formats ?? CANARY_FORMATS.map((f) => f.name);
  if (names.length === 0) throw new Error('canaries: no formats given');
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`canaries: format '${dup}' given twice`);
  const formats = names.map(formatByName);
  const seed = String(o.seed ?? 1);
  const inCorpus = (s: string) => docs.some((d) => d.text.includes(s));
  const rand = prng(hashSeed('canaries', seed));
  const inserts = new Map<number, string[]>();
  const canaries: Canary[] = [];
  const used = new Set<string>();
  for (const f of formats) {
    for (const k of o.repeats) {
      let secret = randomSecret(f, rand);
      const clash = (x: string) => used.has(x) || inCorpus(x) || canaries.some((c) => c.text.includes(x) || (f.prefix + x).includes(c.secret));
      while (clash(secret)) secret = randomSecret(f, rand);
      used.add(secret);
      const text = f.prefix + secret;
      // distinct documents while there are enough (a partial Fisher–Yates draw), then any
      const order = docs.map((_, i) => i);
      const chosen: number[] = [];
      for (let c = 0; c < k; c++) {
        if (c < order.length) {
          const j = c + Math.floor(rand() * (order.length - c));
          [order[c], order[j]] = [order[j]!, order[c]!];
          chosen.push(order[c]!);
        } else chosen.push(Math.floor(rand() * docs.length));
      }
      for (const d of chosen) inserts.set(d, [...(inserts.get(d) ?? []), text]);
      const base = `${f.name}-k${k}`;
      const nth = canaries.filter((c) => c.id === base || c.id.startsWith(`${base}-`)).length;
      canaries.push({ id: nth === 0 ? base : `${base}-${nth + 1}`, format: f.name, prefix: f.prefix, secret, text, repeats: k, docs: chosen.map((d) => docs[d]!.id) });
    }
  }
  const out = docs.map((d, i) => {
    const lines = inserts.get(i);
    if (!lines) return { id: d.id, text: d.text };
    const parts = d.text.split('\n');
    for (const line of lines) parts.splice(Math.floor(rand() * (parts.length + 1)), 0, line);
    return { id: d.id, text: parts.join('\n') };
  });
  return { docs: out, manifest: { version: 1, seed, formats: [...formats], canaries } };
}

/** `audit canaries`: writes OUT/corpus.jsonl ({"id", "text"} per line) and OUT/canaries.json. */
export function writeCanaryCorpus(spec: string, outDir: string, o: InsertOptions): { manifest: CanaryManifest; corpus: string; manifestPath: string } {
  const { docs, manifest } = insertCanaries(loadCorpus(spec).documents, o);
  mkdirSync(outDir, { recursive: true });
  const corpus = join(outDir, 'corpus.jsonl');
  const manifestPath = join(outDir, 'canaries.json');
  writeFileAtomicSync(corpus, docs.map((d) => JSON.stringify({ id: d.id, text: d.text })).join('\n') + '\n');
  writeFileAtomicSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  return { manifest, corpus, manifestPath };
}

type Json = Record<string, unknown>;

/** Throws `${path}: ${where} …` unless v[k] has the type `check` accepts. */
function need(path: string, where: string, v: Json, k: string, what: string, check: (x: unknown) => boolean): void {
  if (!check(v[k])) throw new Error(`${path}: ${where}${where ? '.' : ''}${k} must be ${what}, got ${JSON.stringify(v[k]) ?? 'nothing'}`);
}
const isStr = (x: unknown) => typeof x === 'string';
const isObj = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Reads DIR/canaries.json (or a manifest file path), checking every field; errors name the file and the field. */
export function readCanaryManifest(dirOrFile: string): CanaryManifest {
  const isDir = existsSync(dirOrFile) && statSync(dirOrFile).isDirectory();
  const path = isDir ? join(dirOrFile, 'canaries.json') : dirOrFile;
  if (!existsSync(path)) throw new Error(`${path}: no canary manifest (make one with \`tessera audit canaries\`)`);
  let m: unknown;
  try {
    m = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not a JSON canary manifest (${(e as Error).message})`);
  }
  if (!isObj(m)) throw new Error(`${path}: expected a JSON object (a canary manifest)`);
  need(path, '', m, 'version', '1', (x) => x === 1);
  need(path, '', m, 'seed', 'a string', isStr);
  need(path, '', m, 'formats', 'an array', Array.isArray);
  need(path, '', m, 'canaries', 'an array', Array.isArray);
  const formats = m.formats as unknown[];
  formats.forEach((f, i) => {
    const at = `formats[${i}]`;
    if (!isObj(f)) throw new Error(`${path}: ${at} must be an object`);
    for (const k of ['name', 'prefix', 'alphabet']) need(path, at, f, k, 'a string', isStr);
    need(path, at, f, 'length', 'a positive integer', (x) => Number.isInteger(x) && (x as number) > 0);
    need(path, at, f, 'space_log2', 'a positive number', (x) => typeof x === 'number' && x > 0);
  });
  const byName = new Map((formats as CanaryFormat[]).map((f) => [f.name, f]));
  const ids = new Set<string>();
  (m.canaries as unknown[]).forEach((c, i) => {
    const at = `canaries[${i}]`;
    if (!isObj(c)) throw new Error(`${path}: ${at} must be an object`);
    for (const k of ['id', 'format', 'prefix', 'secret', 'text']) need(path, at, c, k, 'a string', isStr);
    need(path, at, c, 'repeats', 'a positive integer', (x) => Number.isInteger(x) && (x as number) > 0);
    need(path, at, c, 'docs', 'an array of document ids', (x) => Array.isArray(x) && x.every(isStr));
    if ((c.docs as string[]).length !== c.repeats) throw new Error(`${path}: ${at}.docs has ${(c.docs as string[]).length} entries, expected one per copy (repeats = ${c.repeats})`);
    const f = byName.get(c.format as string);
    if (!f) throw new Error(`${path}: ${at}.format '${c.format}' is not in "formats"`);
    if (c.prefix !== f.prefix) throw new Error(`${path}: ${at}.prefix ${JSON.stringify(c.prefix)} differs from format '${f.name}''s prefix ${JSON.stringify(f.prefix)}`);
    if (c.text !== `${c.prefix}${c.secret}`) throw new Error(`${path}: ${at}.text must be prefix + secret`);
    if ((c.secret as string).length === 0) throw new Error(`${path}: ${at}.secret is empty`);
    if (ids.has(c.id as string)) throw new Error(`${path}: ${at}.id '${c.id}' is used twice`);
    ids.add(c.id as string);
  });
  return m as unknown as CanaryManifest;
}

/** Canary id → indices of the texts that contain its secret. */
export function canariesFound(m: CanaryManifest, texts: readonly string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const c of m.canaries) {
    const hits: number[] = [];
    texts.forEach((t, i) => {
      if (t.includes(c.secret)) hits.push(i);
    });
    out.set(c.id, hits);
  }
  return out;
}
