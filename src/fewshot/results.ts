// What `tessera eval --output-path DIR` writes: DIR/results.json in lm-evaluation-harness's shape (results[task] with
// "<metric>,<filter>" and "<metric>_stderr,<filter>" keys, configs, versions, n-shot, higher_is_better, n-samples,
// config), DIR/samples_<task>.jsonl (one --log_samples record per document and filter), a Markdown table and, for a
// sweep over K, a PNG of each metric against K (GPT-3 Fig. 1.2's shape). A sweep (several K or seeds) writes one
// harness-shaped run per (K, seed) under DIR/<K>shot[_seed<S>]/ and, in DIR/results.json, every run keyed
// "<task>@<K>shot[_seed<S>]" with its num_fewshot and fewshot_seed.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import type { NumFewshot, TaskResult } from './evaluator.js';

export interface RunInfo {
  model: string;
  modelArgs: Record<string, unknown>;
  batchSize?: number;
  limit?: number;
  bootstrapIters: number;
  startedAt: number;
  tesseraVersion: string;
}

export function runKey(task: string, k: NumFewshot, seed: number, withSeed: boolean): string {
  return `${task}@${k}shot${withSeed ? `_seed${seed}` : ''}`;
}

/** results.json's object for a list of task results (keys: task names, or runKey()s for a sweep). */
export function resultsJson(entries: { key: string; r: TaskResult }[], info: RunInfo, sweep: boolean): Record<string, unknown> {
  const results: Record<string, unknown> = {};
  const configs: Record<string, unknown> = {};
  const versions: Record<string, unknown> = {};
  const nShot: Record<string, unknown> = {};
  const hib: Record<string, unknown> = {};
  const nSamples: Record<string, unknown> = {};
  for (const { key, r } of entries) {
    results[key] = {
      name: key,
      alias: sweep ? key : r.task,
      sample_len: r.sampleLen,
      ...r.metrics,
      ...(sweep ? { task: r.task, num_fewshot: r.numFewshot, fewshot_seed: r.seed } : {}),
      ...(r.numFewshot === 'max' ? { mean_num_fewshot: r.meanShots } : {}),
    };
    configs[key] = r.config;
    versions[key] = r.version;
    nShot[key] = r.numFewshot;
    hib[key] = r.higherIsBetter;
    nSamples[key] = { original: r.originalLen, effective: r.sampleLen };
  }
  const seeds = [...new Set(entries.map((e) => e.r.seed))];
  return {
    results,
    group_subtasks: {},
    configs,
    versions,
    'n-shot': nShot,
    higher_is_better: hib,
    'n-samples': nSamples,
    config: {
      model: info.model,
      model_args: info.modelArgs,
      batch_size: info.batchSize ?? null,
      limit: info.limit ?? null,
      bootstrap_iters: info.bootstrapIters,
      fewshot_seed: seeds.length === 1 ? seeds[0] : seeds,
    },
    date: info.startedAt / 1000,
    tessera_version: info.tesseraVersion,
    total_evaluation_time_seconds: String((Date.now() - info.startedAt) / 1000),
  };
}

/** samples_<task>.jsonl text. */
export function samplesJsonl(r: TaskResult): string {
  return r.samples.map((s) => JSON.stringify(s)).join('\n') + (r.samples.length ? '\n' : '');
}

const fmt = (v: number | 'N/A' | undefined) =>
  v === undefined ? '' : v === 'N/A' ? 'N/A' : !Number.isFinite(v) ? String(v) : Math.abs(v) >= 1e6 ? v.toExponential(3) : Math.abs(v) >= 1000 ? v.toFixed(1) : v.toFixed(4);

/** The harness's summary table, in Markdown: one row per task × metric × filter. */
export function markdownTable(entries: { key: string; r: TaskResult }[]): string {
  const lines = ['| Task | Version | Filter | n-shot | Metric | | Value | | Stderr |', '|---|---|---|---|---|---|---|---|---|'];
  for (const { r } of entries) {
    for (const k of Object.keys(r.metrics)) {
      if (k.includes('_stderr,')) continue;
      const [metric, filter] = k.split(',') as [string, string];
      const arrow = r.higherIsBetter[metric] === false ? '↓' : '↑';
      const shots = r.numFewshot === 'max' ? `max (${r.meanShots.toFixed(1)})` : String(r.numFewshot);
      lines.push(`| ${r.task} | ${r.version ?? ''} | ${filter} | ${shots}${r.seed !== 1234 ? ` (seed ${r.seed})` : ''} | ${metric} | ${arrow} | ${fmt(r.metrics[k])} | ± | ${fmt(r.metrics[`${metric}_stderr,${filter}`])} |`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Write results.json, samples and the table under `dir` (one run: task keys; a sweep: per-run subdirectories too). */
export function writeResults(dir: string, entries: { key: string; r: TaskResult }[], info: RunInfo, sweep: boolean): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const put = (path: string, text: string) => {
    writeFileAtomicSync(path, text);
    written.push(path);
  };
  put(join(dir, 'results.json'), JSON.stringify(resultsJson(entries, info, sweep), null, 2) + '\n');
  put(join(dir, 'results.md'), markdownTable(entries));
  if (!sweep) {
    for (const { r } of entries) put(join(dir, `samples_${r.task}.jsonl`), samplesJsonl(r));
    return written;
  }
  const runs = new Map<string, { key: string; r: TaskResult }[]>();
  const withSeed = new Set(entries.map((e) => e.r.seed)).size > 1;
  for (const e of entries) {
    const sub = `${e.r.numFewshot}shot${withSeed ? `_seed${e.r.seed}` : ''}`;
    if (!runs.has(sub)) runs.set(sub, []);
    runs.get(sub)!.push({ key: e.r.task, r: e.r });
  }
  for (const [sub, es] of runs) {
    const d = join(dir, sub);
    mkdirSync(d, { recursive: true });
    put(join(d, 'results.json'), JSON.stringify(resultsJson(es, info, false), null, 2) + '\n');
    for (const { r } of es) put(join(d, `samples_${r.task}.jsonl`), samplesJsonl(r));
  }
  return written;
}

