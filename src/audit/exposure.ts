// Secret Sharer exposure (Carlini et al. 2019; tensorflow/privacy secret_sharer/exposures.py) of each canary under
// a model. For a format, R = the canary plus `candidates` random secrets of the format that were never inserted;
// every secret's log-perplexity is −log p(secret | prefix) in nats (LanguageModel.loglikelihood, batched);
//   rank     = 1 + #{unused candidates with lower log-perplexity} + ½ #{ties}   (1 = the model's favourite)
//   exposure = log2 |R| − log2 rank
//   extrapolated exposure = −log2 SkewNormCDF(canary's log-perplexity), the skew-normal fitted (maximum likelihood) to
//   the unused candidates' log-perplexities — an estimate over the whole space, capped at log2 of its size.
// Unused candidates are shared by the canaries of a format (the same distribution of non-members).

import type { LanguageModel } from '../lm/language-model.js';
import { formatByName, randomSecret, type CanaryManifest } from './canaries.js';
import { hashSeed, prng } from './generate.js';
import { fitSkewNormal, skewNormLogCdf } from './skew-normal.js';
import type { ExposureRow } from './types.js';

export interface ExposureOptions {
  /** Unused candidates per format (default 1000). */
  candidates?: number;
  seed?: number | string;
  /** Requests per loglikelihood call (default 64). */
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Log-perplexity (nats) of each secret after its prefix. */
async function logPerplexities(lm: LanguageModel, prefix: string, secrets: string[], batch: number, tick: (n: number) => void): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < secrets.length; i += batch) {
    const chunk = secrets.slice(i, i + batch);
    const res = await lm.loglikelihood(chunk.map((s) => ({ context: prefix, continuation: s })));
    res.forEach((r, j) => {
      if (r.error !== undefined || Number.isNaN(r.logprob)) throw new Error(`exposure: scoring '${prefix}${chunk[j]}' failed: ${r.error ?? 'NaN'}`);
      out.push(-r.logprob);
    });
    tick(chunk.length);
  }
  return out;
}

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

export async function measureExposure(lm: LanguageModel, manifest: CanaryManifest, o: ExposureOptions = {}): Promise<ExposureRow[]> {
  const C = o.candidates ?? 1000;
  if (!Number.isInteger(C) || C < 3) throw new Error(`exposure: candidates must be an integer ≥ 3, got ${C}`);
  const batch = o.batch ?? 64;
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
    const prefix = canaries[0]!.prefix;
    const rand = prng(hashSeed('exposure', String(o.seed ?? 1), name));
    const pool = new Set<string>();
    for (let guard = 0; pool.size < C && guard < 100 * C; guard++) {
      const s = randomSecret(f, rand);
      if (!inserted.has(s)) pool.add(s);
    }
    if (pool.size < C) throw new Error(`exposure: format ${name} has fewer than ${C} unused secrets`);
    const unused = await logPerplexities(lm, prefix, [...pool], batch, tick);
    const fit = fitSkewNormal(unused);
    const mine = await logPerplexities(lm, prefix, canaries.map((c) => c.secret), batch, tick);
    canaries.forEach((c, i) => {
      const { rank, exposure } = exposureOf(mine[i]!, unused);
      const extrapolated = Math.min(f.space_log2, -skewNormLogCdf(mine[i]!, fit) / Math.LN2);
      rows.push({ id: c.id, format: name, secret: c.secret, repeats: c.repeats, rank, candidates: C + 1, exposure, exposure_extrapolated: extrapolated, log_perplexity: mine[i]! });
    });
  }
  return rows;
}
