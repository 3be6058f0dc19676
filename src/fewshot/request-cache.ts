// The evaluation's request cache: every model answer (a log-likelihood, a rolling log-likelihood, a generation) is
// stored in SQLite keyed by (model identity, request kind, request), so an interrupted run resumes without asking the
// model again and a re-run is free. Writes go in one transaction per batch of answers (WAL journal): a kill -9 loses
// at most the batch in flight, never a committed one.

import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type RequestKind = 'loglikelihood' | 'loglikelihood_rolling' | 'generate_until';

const SCHEMA_VERSION = 1;

function keyOf(request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}

export class RequestCache {
  private db: Database.Database;
  private getStmt: Database.Statement<[string, string, string]>;
  private putStmt: Database.Statement<[string, string, string, string, string, number]>;
  hits = 0;
  misses = 0;

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new Database(path);
    } catch (err) {
      throw new Error(`request cache ${path}: cannot open it as SQLite (${(err as Error).message})`);
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS answers (
        model TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
        request TEXT NOT NULL, response TEXT NOT NULL, created REAL NOT NULL,
        PRIMARY KEY (model, kind, key));`);
    const v = this.db.prepare('SELECT value FROM meta WHERE key = ?').get('schema') as { value: string } | undefined;
    if (!v) this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema', String(SCHEMA_VERSION));
    else if (Number(v.value) !== SCHEMA_VERSION) throw new Error(`request cache ${path}: schema version ${v.value}, this tessera writes ${SCHEMA_VERSION}; use another --cache path`);
    this.getStmt = this.db.prepare('SELECT response FROM answers WHERE model = ? AND kind = ? AND key = ?');
    this.putStmt = this.db.prepare('INSERT OR REPLACE INTO answers (model, kind, key, request, response, created) VALUES (?, ?, ?, ?, ?, ?)');
  }

  /** Cached answers (undefined where none) for `requests`, in order. */
  getMany<R>(model: string, kind: RequestKind, requests: readonly unknown[]): (R | undefined)[] {
    return requests.map((r) => {
      const row = this.getStmt.get(model, kind, keyOf(r)) as { response: string } | undefined;
      if (row) this.hits++;
      else this.misses++;
      return row ? (JSON.parse(row.response) as R) : undefined;
    });
  }

  /** Store answers in one transaction. */
  putMany(model: string, kind: RequestKind, entries: readonly (readonly [unknown, unknown])[]): void {
    const now = Date.now() / 1000;
    const tx = this.db.transaction(() => {
      for (const [req, resp] of entries) this.putStmt.run(model, kind, keyOf(req), JSON.stringify(req), JSON.stringify(resp), now);
    });
    tx();
  }

  /** Number of stored answers (for a model, when given). */
  count(model?: string): number {
    const row = (model === undefined
      ? this.db.prepare('SELECT COUNT(*) AS n FROM answers').get()
      : this.db.prepare('SELECT COUNT(*) AS n FROM answers WHERE model = ?').get(model)) as { n: number };
    return row.n;
  }

  close(): void {
    this.db.close();
  }
}
