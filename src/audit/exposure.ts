// Secret Sharer exposure (Carlini et al. 2019; tensorflow/privacy secret_sharer/exposures.py) of each canary under
// a model. For a format, R = the canary plus `candidates` random secrets of the format that were never inserted;
// every secret's log-perplexity is −log p(secret | prefix) in nats (LanguageModel.loglikelihood, batched);
//   rank     = 1 + #{unused candidates with lower log-perplexity} + ½ #{ties}   (1 = the model's favourite)
//   exposure = log2 |R| − log2 rank
//   extrapolated exposure = −log2 SkewNormCDF(canary's log-perplexity), the skew-normal fitted (maximum likelihood) to
//   the unused candidates' log-perplexities — an estimate over the whole space of secrets. The CDF is computed in log
//   space (skew-normal.ts), so it never underflows to 0; the result is floored at 0 and capped at the format's
//   space_log2 (a CDF below 1/|space| would rank the canary above every possible secret, which says nothing more).
//   When the unused candidates all score the same (no spread to fit), the fit is a point mass: the extrapolated
//   exposure is space_log2 for a canary strictly likelier than them, else 0.
// Unused candidates are shared by the canaries of a format (the same distribution of non-members) and drawn from a
// seeded PRNG, so a rerun with the same seed scores the same candidates.

import type { LanguageModel } from '../lm/language-model.js';
import { formatByName, randomSecret, type CanaryFormat, type CanaryManifest } from './canaries.js';
import { hashSeed, prng } from './generate.js';
import { fitSkewNormal, skewNormLogCdf, type SkewNormal } from './skew-normal.js';
import type { ExposureRow } from './types.js';

export interface ExposureOptions {
  /** Unused candidates per format (default 1000, at least 3 for the fit). */
  candidates?: number;
  /** Seed of the unused candidates (default 1). */
  seed?: number | string;
  /** Requests per loglikelihood call (default 64). */
  batch?: number;
  /** Secrets scored so far, of `total` (every format's candidates and canaries). */
  onProgress?: (done: number, total: number) => void;
}

/** Log-perplexity (nats) of each secret after the prefix, `batch` requests per call. */
async function logPerplexities(lm: LanguageModel, prefix: string, secrets: readonly string[], batch: number, tick: (n: number) => void): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < secrets.length; i += batch) {
    const chunk = secrets.slice(i, i + batch);
    const res = await lm.loglikelihood(chunk.map((s) => ({ context: prefix, continuation: s })));
    if (res.length !== chunk.length) throw new Error(`exposure: ${lm.name} returned ${res.length} scores for ${chunk.length} requests`);
    res.forEach((r, j) => {
      if (r.error !== undefined || !Number.isFinite(r.logprob)) throw new Error(`exposure: scoring '${prefix}${chunk[j]}' failed: ${r.error ?? `log-probability ${r.logprob}`}`);
      out.push(-r.logprob);
    });
    tick(chunk.length);
  }
  return out;
}

/** Rank (1 = lowest log-perplexity; ties count half) and exposure of a canary among the unused candidates. */
export function exposureOf(canary: number, unused: readonly number[]): { rank: number; exposure: number } {
  let lower = 0;
  let ties = 0;
  for (const u of unused) {
    if (u < canary) lower++;
    else if (u === canary) ties++;
  }
  const rank = 1 + lower + ties / 2;
  return { rank, exposure: Math.log2(unused.length + 1) - Math.log2(rank) };
}

/** −log2 CDF(logPpl) under the fit (null fit: the point mass at `point`), in [0, spaceLog2]. */
export function extrapolatedExposure(logPpl: number, fit: SkewNormal | null, point: number, spaceLog2: number): number {
  const bits = fit ? -skewNormLogCdf(logPpl, fit) / Math.LN2 : logPpl < point ? Infinity : 0;
  return Math.min(spaceLog2, Math.max(0, Number.isNaN(bits) ? spaceLog2 : bits));
}

/** `count` distinct random secrets of the format, none of them inserted. */
function unusedSecrets(f: CanaryFormat, count: number, inserted: ReadonlySet<string>, seed: string): string[] {
  const rand = prng(hashSeed('exposure', seed, f.name));
  const pool = new Set<string>();
  for (let guard = 0; pool.size < count && guard < 100 * count; guard++) {
    const s = randomSecret(f, rand);
    if (!inserted.has(s)) pool.add(s);
  }
  if (pool.size < count) throw new Error(`exposure: format ${f.name} has fewer than ${count} unused secrets`);
  return [...pool];
}

/** Exposure of every canary of the manifest under the model, formats in manifest order. */
export async function measureExposure(lm: LanguageModel, manifest: CanaryManifest, o: ExposureOptions = {}): Promise<ExposureRow[]> {
  const C = o.candidates ?? 1000;
  if (!Number.isInteger(C) || C < 3) throw new Error(`exposure: candidates must be an integer ≥ 3, got ${C}`);
  const batch = o.batch ?? 64;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`exposure: batch must be a positive integer, got ${batch}`);
  const inserted = new Set(manifest.canaries.map((c) => c.secret));
  const formats = [...new Set(manifest.canaries.map((c) => c.format))];
  const total = formats.length * C + manifest.canaries.length;
  let done = 0;
  const tick = (n: number) => {
    done += n;
    o.onProgress?.(done, total);
  };
  const rows: ExposureRow[] = [];
  for (const name of formats) {
    const f = manifest.formats.find((x) => x.name === name) ?? formatByName(name);
    const canaries = manifest.canaries.filter((c) => c.format === name);
    const unused = await logPerplexities(lm, f.prefix, unusedSecrets(f, C, inserted, String(o.seed ?? 1)), batch, tick);
    const spread = unused.some((u) => u !== unused[0]);
    const fit = spread ? fitSkewNormal(unused) : null;
    const mine = await logPerplexities(lm, f.prefix, canaries.map((c) => c.secret), batch, tick);
    canaries.forEach((c, i) => {
      const lp = mine[i]!;
      const { rank, exposure } = exposureOf(lp, unused);
      rows.push({
        id: c.id,
        format: name,
        secret: c.secret,
        repeats: c.repeats,
        rank,
        candidates: C + 1,
        exposure,
        exposure_extrapolated: extrapolatedExposure(lp, fit, unused[0]!, f.space_log2),
        log_perplexity: lp,
      });
    });
  }
  return rows;
}
