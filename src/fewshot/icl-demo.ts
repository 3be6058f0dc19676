// `tessera eval icl-demo`: GPT-3's in-context-learning experiment in miniature. Three GPT sizes are trained, with the
// shared trainer and the same steps, on one mixture of bundled text (Moby-Dick) and generated word-rule documents
// ("Description\n\nInput: w\nOutput: f(w)\n\n…", src/fewshot/icl-tasks.ts); then each model is evaluated at K = 0, 1,
// 4 (and 8 when it fits the context) examples on the held-out rule tasks, written as lm-evaluation-harness YAML, through
// the evaluator and the request cache. Outputs under OUT: tasks/, models/<size>/, cache.sqlite, results.json (harness
// shape, keys "<size>/<task>@<K>shot"), results/<size>/ (per-model harness files and samples), icl.md (size × K mean
// accuracy table), icl.png (accuracy vs K, one line per size) and plots/ (the same per task).
// Resumable: a finished model is skipped, an interrupted one resumes from its checkpoint, answers come from the cache.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCorpus } from '../data/corpora.js';
import { splitTokens, tokenizeCorpus, type Document } from '../data/tokens.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { countParams, resolveConfig, type GptConfig } from '../lm/config.js';
import { LocalLanguageModel } from '../lm/language-model.js';
import { recoverCheckpointDir, trainLm, type TrainOptions } from '../lm/train.js';
import { renderLinePlot } from '../report/line-plot.js';
import { BytesTokenizer } from '../tokenizer/bytes.js';
import { readTrainerState } from '../train/index.js';
import { evaluateTask, type TaskResult } from './evaluator.js';
import { corpusWords, DEFAULT_ICL_SEED, ICL_FORMAT, ICL_RULES, rngFor, splitWords, trainingDocuments, writeIclTasks, type WordSplit } from './icl-tasks.js';
import { RequestCache } from './request-cache.js';
import { resultsJson, runKey, writeResults, type RunInfo } from './results.js';
import { writeSweepPlots } from './sweep-plot.js';
import { loadTaskConfig } from './task-config.js';
import { Task } from './task.js';

/** A model size: transformer shape and its peak learning rate. */
export interface IclModelShape {
  nLayer: number;
  nEmbd: number;
  nHead: number;
  lr: number;
}

/** ~0.13M, ~0.5M and ~1.9M parameters with the byte vocabulary (257) and a 256-byte context. */
export const ICL_SIZES: Record<string, IclModelShape> = {
  tiny: { nLayer: 2, nEmbd: 64, nHead: 4, lr: 3e-3 },
  small: { nLayer: 4, nEmbd: 96, nHead: 4, lr: 3e-3 },
  medium: { nLayer: 4, nEmbd: 192, nHead: 6, lr: 2e-3 },
};

export const ICL_DEFAULTS = {
  /**
   * Measured: 1,709 s for the whole demo on the shared 2-core machine (load ≈ 4: training tiny 235 s, small 480 s,
   * medium 879 s; evaluation 106 s); about 20 minutes expected on quiet cores (~30k, 8k, 2.3k tokens/s).
   */
  steps: 900,
  batch: 8,
  blockSize: 256,
  shots: [0, 1, 4, 8],
  /** Evaluated test documents per task (of 400). */
  limit: 100,
  /** Share of the mixture's characters that is generated task text (the rest: Moby-Dick). */
  taskShare: 0.8,
  corpus: 'moby-dick',
  seed: 1,
};

export interface IclDemoOptions {
  outputPath: string;
  /** Training steps per model (default ICL_DEFAULTS.steps). */
  steps?: number;
  /** Which sizes (names of ICL_SIZES, or of `shapes`); default all. */
  sizes?: string[];
  json: boolean;
  log: (line: string) => void;
  /** Overrides, mostly for tests. */
  shapes?: Record<string, IclModelShape>;
  batch?: number;
  blockSize?: number;
  shots?: number[];
  limit?: number;
  taskShare?: number;
  /** Use at most this many characters of the bundled text (default: all of it). */
  textChars?: number;
  bootstrapIters?: number;
  /** Where the table goes (default stdout). */
  write?: (text: string) => void;
}

export interface IclCell {
  model: string;
  params: number;
  k: number;
  /** Mean exact match over the tasks. */
  accuracy: number;
  /** Standard error of that mean: sqrt(Σ stderr_task²) / tasks. */
  stderr: number;
  perTask: Record<string, number>;
  /** K > 0: exact match minus the zero-shot one, paired over the same documents, with its standard error. */
  gain?: { mean: number; stderr: number; docs: number };
}

export interface IclDemoResult {
  cells: IclCell[];
  shots: number[];
  models: { name: string; params: number; steps: number; trainSeconds: number; valLoss: number; config: GptConfig }[];
  written: string[];
  seconds: number;
}

const sha256File = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The mixture: bundled-text documents and task documents at a fixed character ratio, shuffled together. */
export function buildMixture(split: WordSplit, o: { corpus: string; taskShare: number; textChars?: number; seed: string }): { docs: Document[]; textChars: number; taskChars: number } {
  const text: Document[] = [];
  let textChars = 0;
  for (const d of loadCorpus(o.corpus).documents) {
    if (o.textChars !== undefined && textChars >= o.textChars) break;
    const t = o.textChars !== undefined ? d.text.slice(0, o.textChars - textChars) : d.text;
    text.push({ id: d.id, text: t });
    textChars += t.length;
  }
  if (!(o.taskShare > 0 && o.taskShare < 1)) throw new Error(`icl-demo: taskShare must be in (0, 1), got ${o.taskShare}`);
  const taskDocs = trainingDocuments(split.train, (textChars * o.taskShare) / (1 - o.taskShare), o.seed).map((t, i) => ({ id: `icl/${i}`, text: t }));
  const docs = [...text, ...taskDocs];
  const rng = rngFor(o.seed, 'mixture-order');
  for (let i = docs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [docs[i], docs[j]] = [docs[j]!, docs[i]!];
  }
  return { docs, textChars, taskChars: taskDocs.reduce((n, d) => n + d.text.length, 0) };
}

/** Longest possible K-shot prompt plus the generation budget, in bytes (= tokens of the byte tokenizer). */
export function worstCaseTokens(split: WordSplit, k: number, maxGenToks: number): number {
  const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
  let worst = 0;
  for (const rule of ICL_RULES) {
    const pool = split.fewshot.map((w) => bytes(ICL_FORMAT.example(w, rule.apply(w)) + ICL_FORMAT.fewshotDelimiter)).sort((a, b) => b - a);
    const query = Math.max(...split.test.map((w) => bytes(`Input: ${w}\nOutput:`)));
    const total = bytes(rule.description + ICL_FORMAT.afterDescription) + pool.slice(0, k).reduce((a, b) => a + b, 0) + query + maxGenToks;
    worst = Math.max(worst, total);
  }
  return worst;
}

interface TrainedModel {
  name: string;
  dir: string;
  params: number;
  steps: number;
  trainSeconds: number;
  valLoss: number;
  config: GptConfig;
}

interface TrainSummary {
  steps: number;
  params: number;
  seconds: number;
  val_loss: number;
  train_loss: number;
  tokens: number;
  mixture: string;
}

/** Train one size, or reuse it: finished (summary with the same steps and mixture) → skip; checkpoint → resume. */
async function trainSize(name: string, cfg: GptConfig, shape: IclModelShape, dir: string, steps: number, batch: number, mixture: { key: string; splits: ReturnType<typeof splitTokens> }, log: (l: string) => void): Promise<TrainedModel> {
  const summaryPath = join(dir, 'icl-train.json');
  const params = countParams(cfg);
  if (existsSync(summaryPath) && existsSync(join(dir, 'model.safetensors'))) {
    const s = JSON.parse(readFileSync(summaryPath, 'utf8')) as TrainSummary;
    if (s.steps === steps && s.mixture === mixture.key) {
      log(`${name}: already trained (${steps} steps, val loss ${s.val_loss.toFixed(4)}); skipping`);
      return { name, dir, params, steps, trainSeconds: s.seconds, valLoss: s.val_loss, config: cfg };
    }
    log(`${name}: ${summaryPath} is for ${s.steps} steps / mixture ${s.mixture}; retraining`);
  }
  let resume = false;
  const ck = recoverCheckpointDir(dir);
  if (ck) {
    const st = readTrainerState(ck);
    const meta = st.meta as { corpus?: string } | null;
    resume = st.options.steps === steps && meta?.corpus === mixture.key;
    if (!resume) log(`${name}: the checkpoint in ${dir} is for another run (${st.options.steps} steps); starting over`);
  }
  log(`${name}: ${resume ? 'resuming' : 'training'} ${params.toLocaleString('en-US')} parameters (${cfg.nLayer} layers × ${cfg.nEmbd}, ${cfg.nHead} heads), ${steps} steps of ${batch} × ${cfg.blockSize} tokens`);
  const interval = Math.max(1, Math.min(100, Math.ceil(steps / 4)));
  const opts: TrainOptions = {
    out: dir,
    batch,
    steps,
    lr: shape.lr,
    minLr: shape.lr / 10,
    warmup: Math.min(50, Math.floor(steps / 10)),
    beta1: 0.9,
    beta2: 0.95,
    weightDecay: 0.1,
    clip: 1,
    gradAccum: 1,
    evalInterval: interval,
    evalIters: 2,
    checkpointInterval: interval,
    seed: ICL_DEFAULTS.seed,
    trainFraction: 0.95,
    progress: true,
    log: (l) => log(`${name}: ${l}`),
  };
  const r = await trainLm(cfg, new BytesTokenizer({ eot: true }), mixture.splits, opts, { corpus: mixture.key, resume });
  if (r.stopped) throw new Error(`${name}: training stopped early: ${r.stopped}`);
  const seconds = r.history.length ? r.history[r.history.length - 1]!.seconds : r.seconds;
  const summary: TrainSummary = { steps, params, seconds, val_loss: r.val_loss, train_loss: r.train_loss, tokens: steps * batch * cfg.blockSize, mixture: mixture.key };
  writeFileAtomicSync(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  log(`${name}: done in ${seconds.toFixed(0)} s of training, train loss ${r.train_loss.toFixed(4)}, val loss ${r.val_loss.toFixed(4)}`);
  return { name, dir, params, steps, trainSeconds: seconds, valLoss: r.val_loss, config: cfg };
}

/** Per-document exact match (filter "strip"), keyed "task\u0000doc_id". */
function docScores(r: TaskResult): Map<string, number> {
  return new Map(r.samples.filter((s) => s.filter === 'strip').map((s) => [`${r.task}\u0000${s.doc_id}`, Number(s.exact_match)]));
}

/** Mean and standard error of the paired per-document differences hi − lo. */
export function pairedGain(lo: TaskResult[], hi: TaskResult[]): { mean: number; stderr: number; docs: number } {
  const base = new Map<string, number>();
  for (const r of lo) for (const [k, v] of docScores(r)) base.set(k, v);
  const d: number[] = [];
  for (const r of hi) for (const [k, v] of docScores(r)) if (base.has(k)) d.push(v - base.get(k)!);
  const n = d.length;
  const mean = n ? d.reduce((a, b) => a + b, 0) / n : NaN;
  const sd = n > 1 ? Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : NaN;
  return { mean, stderr: sd / Math.sqrt(n), docs: n };
}

/** Mean exact match over tasks per (model, K), with the stderr of the mean, and the paired gain over K = 0. */
export function summarize(model: string, params: number, results: TaskResult[]): IclCell[] {
  const byK = new Map<number, TaskResult[]>();
  for (const r of results) {
    const k = r.numFewshot as number;
    byK.set(k, [...(byK.get(k) ?? []), r]);
  }
  const zero = byK.get(0);
  return [...byK].sort((a, b) => a[0] - b[0]).map(([k, rs]) => {
    const acc = rs.map((r) => Number(r.metrics['exact_match,strip'] ?? NaN));
    const se = rs.map((r) => {
      const v = r.metrics['exact_match_stderr,strip'];
      return typeof v === 'number' ? v : 0;
    });
    return {
      model,
      params,
      k,
      accuracy: acc.reduce((a, b) => a + b, 0) / rs.length,
      stderr: Math.sqrt(se.reduce((a, b) => a + b * b, 0)) / rs.length,
      perTask: Object.fromEntries(rs.map((r, i) => [r.task, acc[i]!])),
      ...(k > 0 && zero ? { gain: pairedGain(zero, rs) } : {}),
    };
  });
}

const pct = (x: number) => (100 * x).toFixed(1);
const paramsText = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(0)}k`);

/** The size × K table (mean exact match over the tasks, %, ± stderr) and the largest K's paired gain over K = 0. */
export function iclTable(cells: IclCell[], shots: number[]): string {
  const models = [...new Set(cells.map((c) => c.model))];
  const top = shots[shots.length - 1]!;
  const gainCol = top > 0 && shots.includes(0);
  const lines = [
    `| model | params | ${shots.map((k) => `K=${k}`).join(' | ')} |${gainCol ? ` K=${top} − K=0 |` : ''}`,
    `|---|---:|${shots.map(() => '---:').join('|')}|${gainCol ? '---:|' : ''}`,
  ];
  for (const m of models) {
    const row = cells.filter((c) => c.model === m);
    const cellsText = shots.map((k) => {
      const c = row.find((x) => x.k === k);
      return c ? `${pct(c.accuracy)} ± ${pct(c.stderr)}` : '';
    });
    const g = row.find((x) => x.k === top)?.gain;
    const gainText = gainCol ? ` ${g ? `${g.mean >= 0 ? '+' : ''}${pct(g.mean)} ± ${pct(g.stderr)}` : ''} |` : '';
    lines.push(`| ${m} | ${paramsText(row[0]!.params)} | ${cellsText.join(' | ')} |${gainText}`);
  }
  return lines.join('\n') + '\n';
}

/** Per-task accuracies (%), one row per task × model. */
function perTaskTable(cells: IclCell[], shots: number[], tasks: string[]): string {
  const models = [...new Set(cells.map((c) => c.model))];
  const lines = [`| task | model | ${shots.map((k) => `K=${k}`).join(' | ')} |`, `|---|---|${shots.map(() => '---:').join('|')}|`];
  for (const t of tasks) {
    for (const m of models) {
      lines.push(`| ${t} | ${m} | ${shots.map((k) => {
        const v = cells.find((c) => c.model === m && c.k === k)?.perTask[t];
        return v === undefined ? '' : pct(v);
      }).join(' | ')} |`);
    }
  }
  return lines.join('\n') + '\n';
}

export async function runIclDemo(o: IclDemoOptions): Promise<IclDemoResult> {
  const t0 = Date.now();
  const log = o.log;
  const out = o.outputPath;
  const shapes = o.shapes ?? ICL_SIZES;
  const sizes = o.sizes ?? Object.keys(shapes);
  for (const s of sizes) if (!shapes[s]) throw new Error(`icl-demo: unknown size '${s}' (sizes: ${Object.keys(shapes).join(', ')})`);
  const steps = o.steps ?? ICL_DEFAULTS.steps;
  const batch = o.batch ?? ICL_DEFAULTS.batch;
  const blockSize = o.blockSize ?? ICL_DEFAULTS.blockSize;
  const limit = o.limit ?? ICL_DEFAULTS.limit;
  const taskShare = o.taskShare ?? ICL_DEFAULTS.taskShare;
  const seed = DEFAULT_ICL_SEED;
  mkdirSync(out, { recursive: true });

  // ---- tasks: the word split and one held-out evaluation task per rule
  const corpusText = loadCorpus(ICL_DEFAULTS.corpus).fullText();
  const split = splitWords(corpusWords(corpusText), seed);
  const taskFiles = writeIclTasks(join(out, 'tasks'), split);
  const tasks = taskFiles.yamlPaths.map((p) => new Task(loadTaskConfig(p).config));
  const maxGenToks = Number((tasks[0]!.config.generation_kwargs as { max_gen_toks?: number } | undefined)?.max_gen_toks ?? 20);
  const wanted = o.shots ?? ICL_DEFAULTS.shots;
  const shots = wanted.filter((k) => {
    const need = worstCaseTokens(split, k, maxGenToks);
    if (need > blockSize) log(`K=${k} left out: its longest prompt plus the answer is ${need} tokens, more than the ${blockSize}-token context`);
    return need <= blockSize;
  });
  log(`${tasks.length} tasks (${taskFiles.tasks.join(', ')}); words: ${split.train.length} train, ${split.fewshot.length} few-shot pool, ${split.test.length} test; K = ${shots.join(', ')}`);

  // ---- the training mixture, tokenized by bytes with an end-of-text token between documents
  const tok = new BytesTokenizer({ eot: true });
  const mix = buildMixture(split, { corpus: ICL_DEFAULTS.corpus, taskShare, textChars: o.textChars, seed });
  const mixtureKey = `icl-mixture:${seed}:${ICL_DEFAULTS.corpus}:${mix.textChars}:${taskShare.toFixed(4)}`;
  const all = tokenizeCorpus(mix.docs, tok, mixtureKey, { cache: false });
  const splits = splitTokens(all, 0.95);
  log(`mixture: ${mix.docs.length} documents, ${mix.textChars.toLocaleString('en-US')} characters of ${ICL_DEFAULTS.corpus} + ${mix.taskChars.toLocaleString('en-US')} of task text (${(100 * taskShare).toFixed(0)}%), ${all.length.toLocaleString('en-US')} tokens`);

  // ---- train every size (or reuse / resume it)
  const trained: TrainedModel[] = [];
  for (const name of sizes) {
    const shape = shapes[name]!;
    const cfg = resolveConfig(undefined, { vocabSize: tok.vocabSize, blockSize, nLayer: shape.nLayer, nEmbd: shape.nEmbd, nHead: shape.nHead, dropout: 0, bias: true });
    trained.push(await trainSize(name, cfg, shape, join(out, 'models', name), steps, batch, { key: mixtureKey, splits }, log));
  }

  // ---- evaluate every model at every K on every task, through the request cache
  const cache = new RequestCache(join(out, 'cache.sqlite'));
  const cells: IclCell[] = [];
  const combined: { key: string; r: TaskResult }[] = [];
  const series: { model: string; entries: { key: string; r: TaskResult }[] }[] = [];
  const written: string[] = [];
  const evalStart = Date.now();
  try {
    for (const m of trained) {
      const lm = LocalLanguageModel.load(m.dir, { name: m.name, maxBatch: 16, scoreBatch: 16 });
      const modelId = `icl-demo:${m.name}:${sha256File(join(m.dir, 'model.safetensors')).slice(0, 16)}`;
      const results: TaskResult[] = [];
      try {
        for (const k of shots) {
          for (const task of tasks) {
            const r = await evaluateTask(task, lm, { numFewshot: k, limit, cache, modelId, bootstrapIters: o.bootstrapIters ?? 1000, batchSize: 16, progress: false, log });
            results.push(r);
          }
          const c = summarize(m.name, m.params, results.filter((r) => r.numFewshot === k))[0]!;
          log(`${m.name} K=${k}: mean exact match ${pct(c.accuracy)}% ± ${pct(c.stderr)} over ${tasks.length} tasks`);
        }
      } finally {
        await lm.close();
      }
      cells.push(...summarize(m.name, m.params, results));
      const entries = results.map((r) => ({ key: runKey(r.task, r.numFewshot, r.seed, false), r }));
      series.push({ model: `${m.name} (${paramsText(m.params)})`, entries });
      combined.push(...entries.map((e) => ({ key: `${m.name}/${e.key}`, r: e.r })));
      const info: RunInfo = { model: 'tessera', modelArgs: { model: m.dir }, batchSize: 16, limit, bootstrapIters: o.bootstrapIters ?? 1000, startedAt: evalStart, tesseraVersion: 'icl-demo' };
      written.push(...writeResults(join(out, 'results', m.name), entries, info, true));
    }
  } finally {
    cache.close();
  }
  const evalSeconds = (Date.now() - evalStart) / 1000;

  // ---- results.json, icl.md, icl.png, per-task plots
  const seconds = (Date.now() - t0) / 1000;
  const models = trained.map((m) => ({ name: m.name, params: m.params, steps: m.steps, trainSeconds: m.trainSeconds, valLoss: m.valLoss, config: m.config }));
  const design = {
    rules: ICL_RULES.map((r) => ({ task: `icl_${r.name}`, description: r.description })),
    words: { train: split.train.length, fewshot_pool: split.fewshot.length, test: split.test.length, evaluated_per_task: limit },
    mixture: { corpus: ICL_DEFAULTS.corpus, text_chars: mix.textChars, task_chars: mix.taskChars, task_share: taskShare, tokens: all.length, tokenizer: tok.id },
    training: { steps, batch, block_size: blockSize, tokens_per_model: steps * batch * blockSize },
    models: models.map((m) => ({ name: m.name, params: m.params, layers: m.config.nLayer, n_embd: m.config.nEmbd, heads: m.config.nHead, train_seconds: m.trainSeconds, val_loss: m.valLoss })),
    shots,
    eval_seconds: evalSeconds,
    total_seconds_this_run: seconds,
  };
  const table = iclTable(cells, shots);
  const info: RunInfo = { model: 'tessera', modelArgs: { models: trained.map((m) => m.dir) }, batchSize: 16, limit, bootstrapIters: o.bootstrapIters ?? 1000, startedAt: evalStart, tesseraVersion: 'icl-demo' };
  const put = (path: string, text: string | Buffer) => {
    writeFileAtomicSync(path, text);
    written.push(path);
  };
  put(join(out, 'results.json'), `${JSON.stringify({ ...resultsJson(combined, info, true), icl_demo: { ...design, table: cells } }, null, 2)}\n`);
  put(
    join(out, 'icl.md'),
    [
      '# In-context learning: mean exact match (%) over the word-rule tasks',
      '',
      `Held-out words, ${limit} per task, ${tasks.length} tasks; ± is the standard error of the mean over tasks. K = examples in context (K = 0: the description alone).`,
      'The last column is the few-shot gain over zero-shot, paired over the same documents (percentage points ± its standard error).',
      `Training: ${steps} steps of ${batch} × ${blockSize} byte tokens per model on ${ICL_DEFAULTS.corpus} + task text (${(100 * taskShare).toFixed(0)}% of characters).`,
      '',
      table,
      '## Per task',
      '',
      perTaskTable(cells, shots, taskFiles.tasks),
      '## Models',
      '',
      '| model | params | layers × width, heads | training s | val loss |',
      '|---|---:|---|---:|---:|',
      ...models.map((m) => `| ${m.name} | ${paramsText(m.params)} | ${m.config.nLayer} × ${m.config.nEmbd}, ${m.config.nHead} | ${m.trainSeconds.toFixed(0)} | ${m.valLoss.toFixed(4)} |`),
      '',
      `Evaluation took ${evalSeconds.toFixed(0)} s; this run ${seconds.toFixed(0)} s in all.`,
      '',
    ].join('\n'),
  );
  const xOf = (k: number) => Math.log2(1 + k);
  put(
    join(out, 'icl.png'),
    renderLinePlot({
      title: 'In-context learning: word-rule tasks (held-out words)',
      xLabel: 'examples in context (K)',
      yLabel: 'mean exact match',
      series: trained.map((m) => ({ name: `${m.name} (${paramsText(m.params)})`, points: cells.filter((c) => c.model === m.name).map((c) => ({ x: xOf(c.k), y: c.accuracy })) })),
      xTicks: shots.map((k) => ({ value: xOf(k), label: String(k) })),
      yRange: [0, Math.min(1, Math.max(0.1, Math.ceil(10 * Math.max(...cells.map((c) => c.accuracy)) + 0.5) / 10))],
    }),
  );
  mkdirSync(join(out, 'plots'), { recursive: true });
  written.push(...writeSweepPlots(join(out, 'plots'), series));

  const write = o.write ?? ((t: string) => process.stdout.write(t));
  if (o.json) write(`${JSON.stringify({ table: cells, shots, models: design.models, written, seconds })}\n`);
  else write(`${table}\nwrote ${join(out, 'icl.md')}, ${join(out, 'icl.png')}, ${join(out, 'results.json')}\n`);
  log(`icl-demo: ${seconds.toFixed(0)} s (evaluation ${evalSeconds.toFixed(0)} s)`);
  return { cells, shots, models, written, seconds };
}
