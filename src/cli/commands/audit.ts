// `tessera audit`: training-data extraction and memorization audits (Carlini et al. 2021 and follow-ups).
//   audit run       the attack end to end (src/audit/run.ts): generate, score, verify against the corpus index, rank
//   audit score     the six membership metrics of texts in a JSONL file, one JSON line per text
//   audit canaries  a copy of a corpus with generated secrets inserted k times, and their manifest
//   audit exposure  the Secret Sharer exposure of each canary under a trained target
//   audit discoverable  discoverable memorization (Carlini et al. 2022) of training sequences by duplicate count
//   audit demo      the whole study on the bundled spam-assassin e-mails (src/audit/demo.ts)

import { readFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { finite } from '../../audit/types.js';
import { int } from './eval.js';
import type { NamedModel } from '../../audit/score.js';
import type { Strategy } from '../../audit/types.js';
import type { LanguageModel } from '../../lm/language-model.js';

const isUrl = (s: string) => /^https?:\/\//.test(s);

/** "--reference NAME=DIR|URL" (repeatable). */
export function parseReference(v: string, acc: { name: string; spec: string }[]): { name: string; spec: string }[] {
  const m = /^([^=]+)=(.+)$/.exec(v);
  if (!m) throw new Error(`--reference expects NAME=DIR or NAME=URL, got '${v}'`);
  const name = m[1]!.trim();
  if (!/^[\w.-]+$/.test(name)) throw new Error(`--reference name '${name}' must be letters, digits, '_', '-' or '.'`);
  if (acc.some((r) => r.name === name)) throw new Error(`--reference ${name} given twice`);
  return [...acc, { name, spec: m[2]! }];
}

export function parseStrategies(v: string): Strategy[] {
  const all: Strategy[] = ['top-n', 'temperature', 'internet'];
  const out = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of out) if (!all.includes(s as Strategy)) throw new Error(`--strategies: unknown strategy '${s}' (expected top-n, temperature, internet)`);
  return [...new Set(out)] as Strategy[];
}

/** Open a model directory or an OpenAI-compatible server (URL; `modelId` is the model the server serves). */
export async function openAuditModel(spec: string, o: { name?: string; tokenizer?: string; batch?: number }): Promise<LanguageModel> {
  if (isUrl(spec)) {
    const { OpenAICompletionsModel } = await import('../../lm/openai-client.js');
    const { loadTokenizer } = await import('../../tokenizer/index.js');
    if (!o.name) throw new Error(`${spec}: a server target needs the model id it serves (--target-name, or the NAME of --reference NAME=URL)`);
    return new OpenAICompletionsModel({ baseUrl: spec.replace(/\/v1\/?(completions\/?)?$/, ''), model: o.name, tokenizer: o.tokenizer ? loadTokenizer(o.tokenizer) : undefined, concurrency: o.batch });
  }
  const { LocalLanguageModel } = await import('../../lm/language-model.js');
  return LocalLanguageModel.load(spec, { name: o.name, maxBatch: o.batch, scoreBatch: o.batch, tokenizer: o.tokenizer });
}

/** Whether a model scores a text's own tokens (a server may not: llama.cpp's returns generated-token logprobs only). */
export async function hasPromptLogprobs(lm: LanguageModel, log: (m: string) => void): Promise<boolean> {
  const check = (lm as { checkPromptLogprobs?: () => Promise<void> }).checkPromptLogprobs;
  if (!check) return true;
  try {
    await check.call(lm);
    return true;
  } catch (e) {
    log(`warning: ${(e as Error).message}`);
    return false;
  }
}

async function openReferences(refs: { name: string; spec: string }[], batch?: number): Promise<NamedModel[]> {
  const out: NamedModel[] = [];
  for (const r of refs) out.push({ name: r.name, lm: await openAuditModel(r.spec, { name: r.name, batch }) });
  return out;
}

function progressBars(enabled: boolean): { update: (stage: string, done: number, total: number) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | undefined;
  let current = '';
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    update: (stage, done, total) => {
      if (!enabled) return;
      if (stage !== current) {
        stop();
        current = stage;
        bar = new cliProgress.SingleBar({ format: `${stage.padEnd(8)} [{bar}] {value}/{total} | {eta_formatted} left`, stream: process.stderr, hideCursor: false }, cliProgress.Presets.shades_classic);
        bar.start(total, done);
      } else bar?.update(done);
    },
    stop,
  };
}

function jsonLine(v: unknown): string {
  return JSON.stringify(v, finite);
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('training-data extraction and memorization audits (Carlini et al. 2021): attack, membership metrics, canaries, exposure');

  audit
    .command('run')
    .description('the extraction attack end to end: generate (top-n, temperature, internet), score, verify against the corpus index, Table 2')
    .requiredOption('--target <dir|url>', 'target model directory, or an OpenAI-compatible server (http://HOST:PORT/v1)')
    .option('--target-name <id>', "the model id a server target serves (and the target's name in results)")
    .option('--reference <name=dir|url>', 'reference model for the ratio metric (repeatable)', parseReference, [] as { name: string; spec: string }[])
    .requiredOption('--corpus-index <dir>', "suffix-array index of the target's training corpus (tessera corpus index)")
    .option('--strategies <list>', 'comma-separated: top-n, temperature, internet', parseStrategies, ['top-n', 'temperature', 'internet'] as Strategy[])
    .option('--samples <n>', 'samples per strategy', int('--samples', 1), 1000)
    .option('--tokens <n>', 'generated tokens per sample', int('--tokens', 1), 256)
    .option('--prompt-corpus <spec>', 'corpus the Internet-style prompts come from (builtin name, file, folder or FILE.jsonl)', 'sotu')
    .option('--min-tokens <n>', 'memorized = contains a verbatim run of at least N corpus tokens', int('--min-tokens', 1), 50)
    .option('--top <n>', 'candidates per strategy × metric (Table 2)', int('--top', 1), 100)
    .option('--batch <n>', 'samples generated / scored together', int('--batch', 1), 16)
    .option('--seed <n>', 'sampling seed', int('--seed', 0), 1)
    .requiredOption('--out <dir>', 'run directory: audit.sqlite, samples.jsonl, results.json')
    .option('--resume', 'continue the run in --out')
    .option('--report <dir>', 'write the self-contained HTML report (index.html) here')
    .option('--canaries <dir>', 'a canary directory (audit canaries): record which canaries the attack found')
    .option('--json', 'print results.json to stdout')
    .option('--no-progress', 'no progress bars')
    .action(async (o: Record<string, any>) => {
      const { runAudit } = await import('../../audit/run.js');
      const { queryTokenizer } = await import('./corpus.js');
      const { isTokenLevel } = await import('../../audit/generate.js');
      const log = (m: string) => process.stderr.write(m + '\n');
      const target = await openAuditModel(o.target, { name: o.targetName, batch: o.batch });
      const references = await openReferences(o.reference, o.batch);
      const bars = progressBars(o.progress !== false && !o.json);
      try {
        const targetLogprobs = await hasPromptLogprobs(target, log);
        const indexTokenizer = isTokenLevel(target) ? target.tokenizer : queryTokenizer(o.corpusIndex, undefined);
        let categorize: ((t: string) => string[]) | undefined;
        let renderReport: Parameters<typeof runAudit>[0]['renderReport'];
        try {
          categorize = (await import('../../audit/categories.js')).categorize;
        } catch {
          /* categories not available */
        }
        if (o.report) renderReport = (await import('../../audit/report.js')).writeAuditReport;
        const run = await runAudit({
          target: { name: target.name, lm: target },
          references,
          corpusIndex: o.corpusIndex,
          indexTokenizer,
          strategies: o.strategies,
          samples: o.samples,
          tokens: o.tokens,
          promptCorpus: o.promptCorpus,
          minTokens: o.minTokens,
          top: o.top,
          out: o.out,
          resume: Boolean(o.resume),
          batch: o.batch,
          seed: o.seed,
          targetLogprobs,
          categorize,
          report: o.report,
          renderReport,
          canaries: o.canaries,
          log: o.json ? () => {} : log,
          progress: bars.update,
        });
        bars.stop();
        if (o.json) process.stdout.write(jsonLine(run.results) + '\n');
        else {
          const { table2Markdown } = await import('../../audit/rank.js');
          process.stdout.write(table2Markdown(run.results) + '\n');
          process.stdout.write(`wrote ${run.files.samples}, ${run.files.results}${run.files.report ? `, ${run.files.report}` : ''}\n`);
        }
      } finally {
        bars.stop();
        await target.close();
        for (const r of references) await r.lm.close();
      }
    });

  audit
    .command('score')
    .description('the six membership metrics of each {"text": …} line of a JSONL file (one JSON line per sample)')
    .requiredOption('--target <dir|url>', 'target model directory or OpenAI-compatible server')
    .option('--target-name <id>', 'the model id a server target serves')
    .option('--reference <name=dir|url>', 'reference model (repeatable)', parseReference, [] as { name: string; spec: string }[])
    .requiredOption('--samples <file>', 'JSONL file, one {"text": …} object per line')
    .option('--batch <n>', 'texts scored together', int('--batch', 1), 16)
    .option('--json', 'one JSON line per sample (the default output)')
    .action(async (o: Record<string, any>) => {
      const { scoreBatch } = await import('../../audit/score.js');
      const lines = readFileSync(o.samples, 'utf8').split('\n');
      const texts: string[] = [];
      lines.forEach((l, i) => {
        if (l.trim() === '') return;
        let v: unknown;
        try {
          v = JSON.parse(l);
        } catch (e) {
          throw new Error(`${o.samples}:${i + 1}: not JSON (${(e as Error).message})`);
        }
        const t = (v as { text?: unknown })?.text;
        if (typeof t !== 'string') throw new Error(`${o.samples}:${i + 1}: expected an object with a string "text" field`);
        texts.push(t);
      });
      const target = await openAuditModel(o.target, { name: o.targetName, batch: o.batch });
      const references = await openReferences(o.reference, o.batch);
      try {
        const log = (m: string) => process.stderr.write(m + '\n');
        if (!(await hasPromptLogprobs(target, log))) throw new Error(`${o.target}: every membership metric needs the target's log-probabilities of the sample's tokens, which this server does not return`);
        for (let i = 0; i < texts.length; i += o.batch) {
          const chunk = texts.slice(i, i + o.batch);
          const res = await scoreBatch({ name: target.name, lm: target }, references, chunk, { targetLogprobs: true });
          for (const r of res) process.stdout.write(jsonLine(r) + '\n');
        }
      } finally {
        await target.close();
        for (const r of references) await r.lm.close();
      }
    });

  audit
    .command('canaries')
    .description('a copy of a corpus with generated secrets inserted 1, 2, 4, … times (Secret Sharer canaries) and their manifest')
    .requiredOption('--corpus <spec>', 'corpus: builtin name, text file, folder or FILE.jsonl')
    .option('--repeats <list>', 'insertions per canary, comma-separated', '1,2,4,8,16,32')
    .option('--formats <list>', 'canary formats, comma-separated (default: all)')
    .option('--seed <s>', 'seed of the secrets and where they go', '1')
    .requiredOption('--out <dir>', 'writes DIR/corpus.jsonl and DIR/canaries.json')
    .option('--json', 'print the manifest')
    .action(async (o: Record<string, any>) => {
      const { writeCanaryCorpus } = await import('../../audit/canaries.js');
      const repeats = String(o.repeats).split(',').map((x) => {
        const n = Number(x.trim());
        if (!Number.isInteger(n) || n < 1) throw new Error(`--repeats expects positive integers, comma-separated; got '${x}'`);
        return n;
      });
      const r = writeCanaryCorpus(o.corpus, o.out, { repeats, formats: o.formats ? String(o.formats).split(',') : undefined, seed: o.seed });
      if (o.json) process.stdout.write(jsonLine(r.manifest) + '\n');
      else process.stdout.write(`${r.manifest.canaries.length} canaries inserted; wrote ${r.corpus} and ${r.manifestPath}\n`);
    });

  audit
    .command('exposure')
    .description('exposure of each canary under a target (log2 |R| − log2 rank, and the skew-normal extrapolation)')
    .requiredOption('--target <dir|url>', 'the model trained on the canaried corpus')
    .option('--target-name <id>', 'the model id a server target serves')
    .requiredOption('--canaries <dir>', 'the directory `audit canaries` wrote')
    .option('--candidates <n>', 'unused candidates scored per format', int('--candidates', 1), 1000)
    .option('--attack <dir>', 'an `audit run` output directory: also say whether its samples contain each canary')
    .option('--batch <n>', 'requests scored together', int('--batch', 1), 16)
    .option('--seed <s>', 'seed of the candidates', int('--seed', 0), 1)
    .option('--json', 'one JSON line per canary')
    .action(async (o: Record<string, any>) => {
      const { readCanaryManifest, canariesFound } = await import('../../audit/canaries.js');
      const { measureExposure } = await import('../../audit/exposure.js');
      const manifest = readCanaryManifest(o.canaries);
      const target = await openAuditModel(o.target, { name: o.targetName, batch: o.batch });
      try {
        const rows = await measureExposure(target, manifest, { candidates: o.candidates, seed: o.seed, batch: o.batch });
        let found: Map<string, number[]> | undefined;
        if (o.attack) {
          const { join } = await import('node:path');
          const texts = readFileSync(join(o.attack, 'samples.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text);
          found = canariesFound(manifest, texts);
        }
        for (const r of rows) {
          const row = found ? { ...r, found_by_attack: (found.get(r.id)?.length ?? 0) > 0 } : r;
          if (o.json) process.stdout.write(jsonLine(row) + '\n');
          else process.stdout.write(`${r.format.padEnd(8)} k=${String(r.repeats).padStart(3)}  rank ${String(r.rank).padStart(5)}/${r.candidates}  exposure ${r.exposure.toFixed(2)}  extrapolated ${r.exposure_extrapolated.toFixed(2)}${found ? `  found by attack: ${(row as { found_by_attack: boolean }).found_by_attack}` : ''}\n`);
        }
      } finally {
        await target.close();
      }
    });

  audit
    .command('discoverable')
    .description('discoverable memorization (Carlini et al. 2022): prompt with the first L − 50 tokens of training sequences, greedy 50, exact match; by duplicate count')
    .requiredOption('--model <name=dir|url>', 'model to test (repeatable)', parseReference, [] as { name: string; spec: string }[])
    .requiredOption('--corpus-index <dir>', "index of the models' training corpus")
    .option('--lengths <list>', 'sequence lengths L, comma-separated', '100,150,200')
    .option('--per-bucket <n>', 'sequences per duplicate-count bucket', int('--per-bucket', 1), 50)
    .option('--seed <s>', 'sampling seed', int('--seed', 0), 1)
    .option('--json', 'one JSON line per row')
    .action(async (o: Record<string, any>) => {
      const { sampleTrainingSequences, discoverableMemorization } = await import('../../audit/discoverable.js');
      const { CorpusIndex } = await import('../../corpus/index.js');
      const { queryTokenizer } = await import('./corpus.js');
      const lengths = String(o.lengths).split(',').map((x) => Number(x.trim()));
      const models = await openReferences(o.model);
      const { isTokenLevel } = await import('../../audit/generate.js');
      const first = models[0]!.lm;
      const index = CorpusIndex.open(o.corpusIndex, { tokenizer: isTokenLevel(first) ? first.tokenizer : queryTokenizer(o.corpusIndex, undefined) });
      try {
        const seqs = sampleTrainingSequences(index, { lengths, perBucket: o.perBucket, seed: o.seed });
        const res = await discoverableMemorization(models.map((m) => ({ name: m.name, model: m.lm })), seqs, { lengths });
        const rows = Array.isArray(res) ? res : res.rows;
        for (const r of rows) {
          if (o.json) process.stdout.write(jsonLine(r) + '\n');
          else process.stdout.write(`${r.model.padEnd(12)} L=${String(r.length).padStart(4)}  dup ${r.dup_lo}–${r.dup_hi}  ${r.extracted}/${r.sequences} = ${(100 * r.rate).toFixed(1)}%\n`);
        }
      } finally {
        index.close();
        for (const m of models) await m.lm.close();
      }
    });

  audit
    .command('demo')
    .description('the study on the bundled spam-assassin e-mails: canaries, a target and a smaller reference, the attack, exposure, discoverable memorization, report')
    .requiredOption('--out <dir>', 'output directory (resumable: finished steps are skipped)')
    .option('--steps <n>', 'training steps per model', int('--steps', 1))
    .option('--samples <n>', 'samples per strategy', int('--samples', 1))
    .option('--max-train-seconds <s>', 'stop each model after this many seconds of training (resume later)', int('--max-train-seconds', 1))
    .option('--json', 'print results.json')
    .option('--no-progress', 'no progress bars')
    .action(async (o: Record<string, any>) => {
      const { runAuditDemo } = await import('../../audit/demo.js');
      const bars = progressBars(o.progress !== false && !o.json);
      try {
        const r = await runAuditDemo({ out: o.out, steps: o.steps, samples: o.samples, maxTrainSeconds: o.maxTrainSeconds, log: (m) => process.stderr.write(m + '\n'), progress: bars.update });
        bars.stop();
        if (o.json) process.stdout.write(jsonLine(r.results) + '\n');
        else {
          const { table2Markdown } = await import('../../audit/rank.js');
          process.stdout.write(table2Markdown(r.results) + '\n\n' + r.findings.map((f) => `- ${f}`).join('\n') + `\n\nreport: ${r.report}\n`);
        }
      } finally {
        bars.stop();
      }
    });
}
