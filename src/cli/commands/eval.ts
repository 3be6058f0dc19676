// `tessera eval`: few-shot evaluation over lm-evaluation-harness task files (bundled tasks/ and --include-path), on a
// local model directory or an OpenAI-compatible server (--model http://…/v1), with the harness's output files.
// `tessera eval icl-demo`: the in-context-learning experiment (src/fewshot/icl-demo.ts).

import type { Command } from 'commander';

/** Commander option parser: an integer ≥ min, or an error naming the option. */
export const int = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} expects an integer ≥ ${min}, got '${v}'`);
  return n;
};

/** "--num-fewshot 0,1,4,16,max" → [0, 1, 4, 16, 'max']. */
export function parseShots(v: string): (number | 'max')[] {
  const out = v.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    if (s === 'max') return 'max' as const;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--num-fewshot expects integers ≥ 0 or 'max', comma-separated; got '${s}'`);
    return n;
  });
  if (out.length === 0) throw new Error('--num-fewshot is empty');
  return out;
}

function parseSeeds(v: string): number[] {
  return v.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0) throw new Error(`--seed expects non-negative integers, comma-separated; got '${s}'`);
    return n;
  });
}

function parseLimit(v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw new Error(`--limit expects a positive number (a count, or a fraction below 1), got '${v}'`);
  return n;
}

export function registerEval(program: Command): void {
  const ev = program
    .command('eval')
    .description('few-shot evaluation on lm-evaluation-harness YAML tasks (GPT-3 protocol), local model or OpenAI-compatible server')
    .option('--model <dir|url>', 'model directory, or an OpenAI-compatible server (http://HOST:PORT/v1)')
    .option('--tasks <names>', 'task names or YAML paths, comma-separated (see --list-tasks)')
    .option('--include-path <dir>', 'more task YAML directories (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--num-fewshot <k>', "examples in context: K, or a sweep such as 0,1,4,16,max ('max' = as many as fit)")
    .option('--limit <n>', 'evaluate the first N documents of each task (a fraction when < 1)', parseLimit)
    .option('--seed <s>', 'few-shot sampler seed(s), comma-separated (default 1234, the harness’s)', parseSeeds)
    .option('--batch-size <b>', 'rows scored together (local) / requests in flight (server)', int('--batch-size', 1))
    .option('--output-path <dir>', 'write results.json, samples_<task>.jsonl, results.md (and plots for a sweep) here')
    .option('--cache <path>', 'SQLite request cache (default OUTPUT/cache.sqlite when --output-path is set)')
    .option('--no-cache', 'do not cache model answers')
    .option('--bootstrap-iters <n>', 'bootstrap iterations for standard errors (0 = none; default 100000)', int('--bootstrap-iters', 0))
    .option('--model-name <id>', 'the model id to request from a server (and the name in results)')
    .option('--tokenizer <spec>', 'tokenizer (gpt2 | bytes | PATH); for a server, makes log-likelihoods token-exact')
    .option('--max-context <n>', "a server's context length when /v1/models does not report it", int('--max-context', 2))
    .option('--list-tasks', 'list the tasks found (bundled and --include-path) and exit')
    .option('--json', 'print the results as one JSON object')
    .option('--quiet', 'no progress output')
    .action(async (o: Record<string, any>) => {
      const { runEval, BUNDLED_TASKS } = await import('../../fewshot/run-eval.js');
      if (o.listTasks) {
        const { listTasks } = await import('../../fewshot/task-config.js');
        const list = listTasks([BUNDLED_TASKS, ...(o.includePath as string[])]);
        if (o.json) process.stdout.write(`${JSON.stringify(list)}\n`);
        else for (const t of list) process.stdout.write(`${t.task}\t${t.kind}${t.output_type ? `\t${t.output_type}` : ''}\t${t.path ?? (t.tasks ?? []).join(',')}\n`);
        return;
      }
      if (!o.model) throw new Error('eval: --model DIR|URL is required');
      if (!o.tasks) throw new Error('eval: --tasks NAME[,NAME…] is required (see --list-tasks)');
      const log = o.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
      const run = await runEval({
        model: o.model,
        modelName: o.modelName,
        tokenizer: o.tokenizer,
        tasks: String(o.tasks).split(',').map((s) => s.trim()).filter(Boolean),
        includePaths: o.includePath,
        numFewshot: o.numFewshot !== undefined ? parseShots(String(o.numFewshot)) : undefined,
        limit: o.limit,
        seeds: o.seed,
        batchSize: o.batchSize,
        outputPath: o.outputPath,
        cache: o.cache === false ? false : o.cache,
        bootstrapIters: o.bootstrapIters,
        maxContext: o.maxContext,
        progress: !o.quiet && !o.json,
        log,
      });
      const { markdownTable, resultsJson } = await import('../../fewshot/results.js');
      if (o.json) {
        const sweep = run.entries.some((e) => e.key !== e.r.task);
        const j = resultsJson(run.entries, { model: o.model, modelArgs: {}, bootstrapIters: o.bootstrapIters ?? 100000, startedAt: Date.now(), tesseraVersion: '' }, sweep);
        process.stdout.write(`${JSON.stringify({ results: j.results, 'n-shot': j['n-shot'], versions: j.versions, written: run.written, cache: run.cache, warnings: run.warnings })}\n`);
      } else {
        process.stdout.write(markdownTable(run.entries));
        if (run.written.length) process.stdout.write(`\nwrote ${run.written.join(', ')}\n`);
        if (run.cache) process.stdout.write(`request cache ${run.cache.path}: ${run.cache.hits} answers reused, ${run.cache.misses} asked\n`);
      }
    });
  ev.command('icl-demo')
    .description('the in-context-learning experiment: train three model sizes on text + generated task text, then zero-/one-/few-shot accuracy')
    .option('--output-path <dir>', 'where models, results and the plot go (default runs/icl-demo)')
    .option('--steps <n>', 'training steps per model', int('--steps', 1))
    .option('--sizes <list>', 'model sizes to train (comma-separated names: tiny,small,medium)')
    .option('--json', 'print the results as JSON')
    .action(async (_o: Record<string, any>, cmd: Command) => {
      // the parent `eval` defines --output-path and --json too and commander hands them to it: read both levels
      const o = cmd.optsWithGlobals() as Record<string, any>;
      const { runIclDemo } = await import('../../fewshot/icl-demo.js');
      await runIclDemo({ outputPath: o.outputPath ?? 'runs/icl-demo', steps: o.steps, sizes: o.sizes?.split(','), json: !!o.json, log: (l: string) => process.stderr.write(`${l}\n`) });
    });
}
