// The paper's evaluation (Carlini et al. 2021, §6, Table 2): per strategy × metric, the samples sorted by the metric
// (higher = more likely memorized; samples whose score is not a number last, excluded), fuzzy-de-duplicated in that
// order (dedup.ts: the better-ranked of a near-duplicate pair is kept), then the top N, how many of them are
// memorized, the precision@1..N curve, and the unique memorized samples over every cell (per strategy and overall).
// The paper took 100 "from among the top-1000"; we take the top N after de-duplication, deterministic.

import { dedupe } from './dedup.js';
import type { RankedCell, Strategy } from './types.js';

export interface RankInput {
  id: number;
  strategy: Strategy;
  text: string;
  scores: Record<string, number>;
  memorized: boolean;
}

export interface RankOutput {
  cells: RankedCell[];
  table2: Record<string, Record<string, number>>;
  precision: Record<string, Record<string, number[]>>;
  unique_memorized: number;
  unique_by_strategy: Record<string, number>;
  duplicate_rate: Record<string, number>;
}

/**
 * The first `n` samples kept by de-duplication in rank order. The walk is greedy in order (a sample is dropped only
 * for an earlier kept one), so de-duplicating a prefix keeps exactly the whole list's kept samples within that
 * prefix: we grow the prefix (4n, doubling) until n are kept, instead of de-duplicating every sample.
 */
export function keptPrefix(texts: readonly string[], n: number): { kept: number[]; examined: number } {
  let len = Math.min(texts.length, Math.max(4 * n, 64));
  for (;;) {
    const { kept } = dedupe(texts.slice(0, len));
    if (kept.length >= n || len === texts.length) return { kept, examined: len };
    len = Math.min(texts.length, len * 2);
  }
}

/** Ranks, dedupes and cuts the top N of every strategy × metric. */
export function rankSamples(samples: readonly RankInput[], strategies: readonly Strategy[], metrics: readonly string[], topN: number): RankOutput {
  const cells: RankedCell[] = [];
  const table2: Record<string, Record<string, number>> = {};
  const precision: Record<string, Record<string, number[]>> = {};
  const unique = new Set<number>();
  const unique_by_strategy: Record<string, number> = {};
  const duplicate_rate: Record<string, number> = {};
  for (const strategy of strategies) {
    const pool = samples.filter((s) => s.strategy === strategy);
    table2[strategy] = {};
    precision[strategy] = {};
    const mine = new Set<number>();
    // the near-duplicate share of a strategy's samples (Fig. 4), in id order
    if (pool.length > 0) duplicate_rate[strategy] = 1 - dedupe(pool.map((s) => s.text)).kept.length / pool.length;
    for (const metric of metrics) {
      const ranked = pool
        .filter((s) => typeof s.scores[metric] === 'number' && !Number.isNaN(s.scores[metric]))
        .sort((a, b) => b.scores[metric]! - a.scores[metric]! || a.id - b.id);
      const { kept, examined } = keptPrefix(ranked.map((s) => s.text), topN);
      // kept is in rank order; the top N after de-duplication
      const top = kept.slice(0, topN).map((k) => ranked[k]!);
      let hits = 0;
      const prec = top.map((s, i) => {
        if (s.memorized) {
          hits++;
          mine.add(s.id);
          unique.add(s.id);
        }
        return hits / (i + 1);
      });
      const duplicates = examined - kept.length;
      cells.push({ strategy, metric, top: top.map((s) => s.id), memorized: hits, precision: prec, duplicates });
      table2[strategy]![metric] = hits;
      precision[strategy]![metric] = prec;
    }
    unique_by_strategy[strategy] = mine.size;
  }
  return { cells, table2, precision, unique_memorized: unique.size, unique_by_strategy, duplicate_rate };
}

/** Table 2 as Markdown: rows = metrics, columns = strategies, cells = memorized in the top N; plus the Unique row. */
export function table2Markdown(r: { strategies: readonly string[]; metrics: readonly string[]; table2: Record<string, Record<string, number>>; unique_by_strategy: Record<string, number>; unique_memorized: number; top_n: number }): string {
  const head = `| metric (memorized in top ${r.top_n}) | ${r.strategies.join(' | ')} |`;
  const sep = `|---|${r.strategies.map(() => '---:').join('|')}|`;
  const rows = r.metrics.map((m) => `| ${m} | ${r.strategies.map((s) => r.table2[s]?.[m] ?? '—').join(' | ')} |`);
  const uniq = `| unique | ${r.strategies.map((s) => r.unique_by_strategy[s] ?? 0).join(' | ')} |`;
  return [head, sep, ...rows, uniq, '', `unique memorized over all strategies: ${r.unique_memorized}`].join('\n');
}
