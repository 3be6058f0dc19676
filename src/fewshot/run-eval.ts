// `tessera eval` end to end: open the model (a local directory, or an OpenAI-compatible server URL), find the tasks
// (bundled tasks/ plus --include-path), evaluate every task at every K and seed through the request cache, write
// results.json / samples / results.md / the accuracy-vs-K plot, and return the results.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LanguageModel } from '../lm/language-model.js';
import { evaluateTask, type NumFewshot, type TaskResult } from './evaluator.js';
import { RequestCache } from './request-cache.js';
import { runKey, writeResults, type RunInfo } from './results.js';
import { writeSweepPlots } from './sweep-plot.js';
import { findTasks } from './task-config.js';
import { Task } from './task.js';

export const BUNDLED_TASKS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tasks');

export interface EvalCommandOptions {
  model: string;
  modelName?: string;
  tokenizer?: string;
  tasks: string[];
  includePaths: string[];
  numFewshot?: NumFewshot[];
  limit?: number;
  seeds?: number[];
  batchSize?: number;
  outputPath?: string;
  /** SQLite request cache (default: OUTPUT/cache.sqlite, else none); false = no cache. */
  cache?: string | false;
  bootstrapIters?: number;
  maxContext?: number;
  progress?: boolean;
  log?: (line: string) => void;
}

export interface EvalRun {
  entries: { key: string; r: TaskResult }[];
  written: string[];
  warnings: string[];
  cache?: { path: string; hits: number; misses: number };
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

/** A cache identity for a model: a local directory's config + weights (size, mtime), or the server URL + model id. */
function modelIdentity(spec: string, name: string | undefined, tokenizer: string | undefined): string {
  if (isUrl(spec)) return `openai:${spec.replace(/\/+$/, '')}|${name ?? ''}|${tokenizer ?? ''}`;
  const dir = existsSync(join(spec, 'config.json')) ? spec : join(spec, 'checkpoint');
  const h = createHash('sha256');
  h.update(readFileSync(join(dir, 'config.json')));
  const w = join(dir, 'model.safetensors');
  if (existsSync(w)) {
    const st = statSync(w);
    h.update(`${st.size}:${st.mtimeMs}`);
  }
  h.update(`|${tokenizer ?? ''}`);
  return `local:${resolve(dir)}|${h.digest('hex').slice(0, 16)}`;
}

export async function openModel(o: Pick<EvalCommandOptions, 'model' | 'modelName' | 'tokenizer' | 'batchSize' | 'maxContext'>): Promise<LanguageModel> {
  if (isUrl(o.model)) {
    const { OpenAICompletionsModel } = await import('../lm/openai-client.js');
    const { loadTokenizer } = await import('../tokenizer/index.js');
    if (!o.modelName) throw new Error('--model URL needs --model-name (the model id the server serves)');
    return new OpenAICompletionsModel({
      baseUrl: o.model.replace(/\/v1\/?(completions\/?)?$/, ''),
      model: o.modelName,
      tokenizer: o.tokenizer ? loadTokenizer(o.tokenizer) : undefined,
      maxContext: o.maxContext,
      concurrency: o.batchSize,
    });
  }
  const { LocalLanguageModel } = await import('../lm/language-model.js');
  return LocalLanguageModel.load(o.model, { tokenizer: o.tokenizer, scoreBatch: o.batchSize, name: o.modelName });
}

export async function runEval(o: EvalCommandOptions): Promise<EvalRun> {
  const startedAt = Date.now();
  const log = o.log ?? (() => {});
  // later include paths override earlier ones (the harness's order): the user's tasks win over bundled ones
  const { configs, warnings } = findTasks(o.tasks, [BUNDLED_TASKS, ...o.includePaths]);
  warnings.forEach((w) => log(`warning: ${w}`));
  const tasks = configs.map((c) => new Task(c));
  const lm = await openModel(o);
  const allWarnings = [...warnings];
  let cache: RequestCache | undefined;
  const cachePath = o.cache === false ? undefined : (o.cache ?? (o.outputPath ? join(o.outputPath, 'cache.sqlite') : undefined));
  try {
    if (isUrl(o.model) && tasks.some((t) => t.config.output_type !== 'generate_until')) {
      const check = (lm as { checkPromptLogprobs?: () => Promise<void> }).checkPromptLogprobs;
      if (check) await check.call(lm);
    }
    if (cachePath) cache = new RequestCache(cachePath);
    const modelId = modelIdentity(o.model, o.modelName, o.tokenizer);
    const ks = o.numFewshot ?? [undefined];
    const seeds = o.seeds ?? [1234];
    const sweep = ks.length > 1 || seeds.length > 1;
    const entries: { key: string; r: TaskResult }[] = [];
    for (const seed of seeds) {
      for (const k of ks) {
        for (const task of tasks) {
          const r = await evaluateTask(task, lm, {
            numFewshot: k,
            limit: o.limit,
            seed,
            bootstrapIters: o.bootstrapIters,
            batchSize: o.batchSize,
            cache,
            modelId,
            progress: o.progress,
            log,
          });
          allWarnings.push(...r.warnings);
          entries.push({ key: sweep ? runKey(r.task, r.numFewshot, seed, seeds.length > 1) : r.task, r });
        }
      }
    }
    const info: RunInfo = {
      model: isUrl(o.model) ? 'openai-completions' : 'tessera',
      modelArgs: { model: o.model, ...(o.modelName ? { model_name: o.modelName } : {}), ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}) },
      batchSize: o.batchSize,
      limit: o.limit,
      bootstrapIters: o.bootstrapIters ?? 100000,
      startedAt,
      tesseraVersion: packageVersion(),
    };
    const written = o.outputPath ? writeResults(o.outputPath, entries, info, sweep) : [];
    if (o.outputPath && ks.length > 1) written.push(...writeSweepPlots(o.outputPath, [{ model: lm.name, entries }]));
    return { entries, written, warnings: allWarnings, cache: cache && cachePath ? { path: cachePath, hits: cache.hits, misses: cache.misses } : undefined };
  } finally {
    cache?.close();
    await lm.close();
  }
}

function packageVersion(): string {
  try {
    const p = JSON.parse(readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8')) as { version?: string };
    return p.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
