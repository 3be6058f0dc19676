// Runs an evaluation's requests against a LanguageModel through the SQLite request cache: identical requests are
// asked once, cached answers are never asked again, and new answers are committed chunk by chunk (an interrupted run
// resumes where it stopped). A progress bar (requests/s, ETA) runs on a TTY; log lines otherwise.

import cliProgress from 'cli-progress';
import type { LanguageModel } from '../lm/language-model.js';
import type { RequestCache } from './request-cache.js';
import type { LlAnswer } from './scoring.js';

export interface LlRequest {
  context: string;
  continuation: string;
}

export interface GenRequest {
  context: string;
  until: string[];
  maxGenToks: number;
  /** 0 = greedy. */
  temperature: number;
  numBeams: number;
  lengthPenalty: number;
  lengthPenaltyStyle: 'gnmt' | 'hf';
  seed: number;
}

export interface RunOptions {
  cache?: RequestCache;
  /** Model identity for the cache key. */
  modelId: string;
  /** Requests per model call (default 64). */
  chunk?: number;
  progress?: boolean;
  label?: string;
  log?: (line: string) => void;
  /** Stop after a chunk with failed answers (default true). */
  failFast?: boolean;
}

class Progress {
  private bar?: cliProgress.SingleBar;
  private done = 0;
  private lastLog = 0;
  private readonly t0 = Date.now();
  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly o: RunOptions,
  ) {
    if (total === 0 || o.progress === false) return;
    if (process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {value}/{total} requests | {rate} req/s | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { rate: '0.0' });
    }
  }
  add(n: number): void {
    this.done += n;
    const s = (Date.now() - this.t0) / 1000;
    const rate = s > 0 ? this.done / s : 0;
    if (this.bar) this.bar.update(this.done, { rate: rate.toFixed(1) });
    else if (this.o.progress !== false && this.o.log && (Date.now() - this.lastLog > 10_000 || this.done === this.total)) {
      this.lastLog = Date.now();
      const eta = rate > 0 ? Math.round((this.total - this.done) / rate) : NaN;
      this.o.log(`${this.label}: ${this.done}/${this.total} requests, ${rate.toFixed(1)} req/s, ETA ${Number.isFinite(eta) ? `${eta} s` : '?'}`);
    }
  }
  stop(): void {
    this.bar?.stop();
  }
}

/** Unique requests (by JSON) and, for each input, its index among them. */
function dedupe<R>(reqs: readonly R[]): { unique: R[]; index: number[] } {
  const seen = new Map<string, number>();
  const unique: R[] = [];
  const index = reqs.map((r) => {
    const k = JSON.stringify(r);
    let i = seen.get(k);
    if (i === undefined) {
      i = unique.length;
      seen.set(k, i);
      unique.push(r);
    }
    return i;
  });
  return { unique, index };
}

async function cached<R, A>(
  kind: 'loglikelihood' | 'loglikelihood_rolling' | 'generate_until',
  reqs: readonly R[],
  o: RunOptions,
  ask: (batch: R[]) => Promise<A[]>,
  cacheable: (a: A) => boolean,
): Promise<A[]> {
  const { unique, index } = dedupe(reqs);
  const answers: (A | undefined)[] = o.cache ? o.cache.getMany<A>(o.modelId, kind, unique) : new Array(unique.length).fill(undefined);
  const todo = unique.map((_, i) => i).filter((i) => answers[i] === undefined);
  const progress = new Progress(todo.length, o.label ?? kind, o);
  const chunk = o.chunk ?? 64;
  try {
    for (let s = 0; s < todo.length; s += chunk) {
      const ids = todo.slice(s, s + chunk);
      const got = await ask(ids.map((i) => unique[i]!));
      ids.forEach((i, j) => (answers[i] = got[j]));
      o.cache?.putMany(
        o.modelId,
        kind,
        ids.filter((_, j) => cacheable(got[j]!)).map((i) => [unique[i], answers[i]] as const),
      );
      progress.add(ids.length);
      // stop at the first chunk with failed answers (a server that times out): what succeeded is cached, and a re-run
      // asks only for the rest
      const bad = ids.findIndex((_, j) => !cacheable(got[j]!));
      if (bad >= 0 && o.failFast !== false) {
        const err = (got[bad] as { error?: string }).error;
        throw new Error(`${o.label ?? kind}: ${err ?? 'a request failed'} (${ids.length - ids.filter((_, j) => !cacheable(got[j]!)).length} answers of this chunk and all earlier ones are in the cache; re-run to continue)`);
      }
    }
  } finally {
    progress.stop();
  }
  return index.map((i) => answers[i]!);
}

export interface LlResult extends LlAnswer {
  error?: string;
}

export function runLoglikelihood(lm: LanguageModel, reqs: readonly LlRequest[], o: RunOptions): Promise<LlResult[]> {
  return cached(
    'loglikelihood',
    reqs,
    o,
    async (batch) => (await lm.loglikelihood(batch)).map((r) => ({ ll: r.logprob, greedy: r.isGreedy, tokens: r.tokens, ...(r.error ? { error: r.error } : {}) })),
    (a) => a.error === undefined && Number.isFinite(a.ll),
  );
}

export function runRolling(lm: LanguageModel, texts: readonly string[], o: RunOptions): Promise<{ ll: number; tokens: number }[]> {
  return cached(
    'loglikelihood_rolling',
    texts.map((text) => ({ text })),
    o,
    async (batch) => (await lm.loglikelihoodRolling(batch.map((b) => b.text))).map((r) => ({ ll: r.logprob, tokens: r.tokens })),
    (a) => Number.isFinite(a.ll),
  );
}

/** Generations, grouped by their settings (greedy / sampled in one call per group; beam search per prompt). */
export function runGenerate(lm: LanguageModel, reqs: readonly GenRequest[], o: RunOptions): Promise<string[]> {
  return cached('generate_until', reqs, { ...o, chunk: o.chunk ?? 16 }, async (batch) => {
    const out: string[] = new Array(batch.length);
    const groups = new Map<string, number[]>();
    batch.forEach((r, i) => {
      const { context: _c, ...settings } = r;
      const k = JSON.stringify(settings);
      groups.set(k, [...(groups.get(k) ?? []), i]);
    });
    for (const ids of groups.values()) {
      const r0 = batch[ids[0]!]!;
      const prompts = ids.map((i) => batch[i]!.context);
      if (r0.numBeams > 1) {
        if (!lm.generateBeam) throw new Error(`model '${lm.name}' has no beam search (num_beams ${r0.numBeams}); OpenAI-compatible servers do not offer it — use num_beams: 1 or a local model`);
        const res = await lm.generateBeam(prompts, {
          numBeams: r0.numBeams,
          maxTokens: r0.maxGenToks,
          lengthPenalty: r0.lengthPenalty,
          lengthPenaltyStyle: r0.lengthPenaltyStyle,
          stop: r0.until,
        });
        ids.forEach((i, j) => (out[i] = res[j]!.text));
      } else {
        const res = await lm.generate(prompts, {
          maxTokens: r0.maxGenToks,
          temperature: r0.temperature,
          stop: r0.until.length > 0 ? r0.until : undefined,
          seed: r0.seed,
        });
        ids.forEach((i, j) => (out[i] = res[j]![0]!.text));
      }
    }
    return out;
  }, () => true);
}
