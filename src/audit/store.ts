// The audit's state on disk: one SQLite database (better-sqlite3, WAL) per run directory, `audit.sqlite`. Each stage
// writes its results a batch per transaction, so kill -9 loses at most the batch in flight and a resumed run
// continues from what is there:
//   meta      run configuration (JSON), checked on --resume: a resumed run must be the same run
//   samples   generated samples (id, strategy, prompt, text)          ← generation
//   scores    membership metrics per sample (JSON: ppl, ppl_lower, ppl_window, zlib, ref_ppl, scores)  ← scoring
//   verdicts  verification per sample (JSON: tokens, memorized, longest_match, spans, categories)   ← verification
// A full disk (SQLITE_FULL) aborts the transaction in flight and leaves every committed batch intact.

import Database from 'better-sqlite3';
import type { SampleRecord, Strategy } from './types.js';

export interface StoredSample {
  id: number;
  strategy: Strategy;
  prompt: string;
  text: string;
}

/** What scoring stores per sample: the metric fields of a samples.jsonl line. */
export type StoredScores = Pick<SampleRecord, 'ppl' | 'ppl_lower' | 'ppl_window' | 'zlib' | 'ref_ppl' | 'scores'>;

/** What verification stores per sample. */
export type StoredVerdict = Pick<SampleRecord, 'tokens' | 'memorized' | 'longest_match' | 'spans' | 'categories'>;

// JSON cannot hold NaN / ±Infinity: store them as strings and restore on read.
function encodeNumbers(_k: string, v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  return v;
}
function decodeNumbers(_k: string, v: unknown): unknown {
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return v;
}

export class AuditStore {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS samples (id INTEGER PRIMARY KEY, strategy TEXT NOT NULL, prompt TEXT NOT NULL, text TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS scores (id INTEGER PRIMARY KEY, json TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS verdicts (id INTEGER PRIMARY KEY, json TEXT NOT NULL);
    `);
  }

  getMeta<T>(key: string): T | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  setMeta(key: string, value: unknown): void {
    this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, JSON.stringify(value));
  }

  /** Ids present in `table` within [lo, hi). */
  presentIds(table: 'samples' | 'scores' | 'verdicts', lo: number, hi: number): Set<number> {
    const rows = this.db.prepare(`SELECT id FROM ${table} WHERE id >= ? AND id < ?`).all(lo, hi) as { id: number }[];
    return new Set(rows.map((r) => r.id));
  }

  count(table: 'samples' | 'scores' | 'verdicts'): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  }

  putSamples(rows: readonly StoredSample[]): void {
    const ins = this.db.prepare('INSERT OR REPLACE INTO samples (id, strategy, prompt, text) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => rows.forEach((r) => ins.run(r.id, r.strategy, r.prompt, r.text)))();
  }

  samples(): StoredSample[] {
    return this.db.prepare('SELECT id, strategy, prompt, text FROM samples ORDER BY id').all() as StoredSample[];
  }

  putScores(rows: readonly { id: number; scores: StoredScores }[]): void {
    const ins = this.db.prepare('INSERT OR REPLACE INTO scores (id, json) VALUES (?, ?)');
    this.db.transaction(() => rows.forEach((r) => ins.run(r.id, JSON.stringify(r.scores, encodeNumbers))))();
  }

  scores(): Map<number, StoredScores> {
    const rows = this.db.prepare('SELECT id, json FROM scores').all() as { id: number; json: string }[];
    return new Map(rows.map((r) => [r.id, JSON.parse(r.json, decodeNumbers) as StoredScores]));
  }

  putVerdicts(rows: readonly { id: number; verdict: StoredVerdict }[]): void {
    const ins = this.db.prepare('INSERT OR REPLACE INTO verdicts (id, json) VALUES (?, ?)');
    this.db.transaction(() => rows.forEach((r) => ins.run(r.id, JSON.stringify(r.verdict, encodeNumbers))))();
  }

  verdicts(): Map<number, StoredVerdict> {
    const rows = this.db.prepare('SELECT id, json FROM verdicts').all() as { id: number; json: string }[];
    return new Map(rows.map((r) => [r.id, JSON.parse(r.json, decodeNumbers) as StoredVerdict]));
  }

  close(): void {
    this.db.close();
  }
}
