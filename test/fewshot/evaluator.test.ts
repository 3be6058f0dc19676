// The few-shot evaluator on a tiny random byte-level GPT (context 128) over the fixture tasks in
// test/fixtures/fewshot/eval/: K = 'max' packs as many of each document's drawn examples as fit (context + longest
// continuation or generation budget ≤ 128 tokens, and one more example would not fit; meanShots reported); a
// runEval sweep over K = 0, 1, max and two seeds writes results.json keyed <task>@<K>shot_seed<S>, harness-shaped
// per-run folders, results.md and a non-blank plot per task; the request cache (an identical re-run asks the model
// nothing; a run interrupted by a failing model resumes, asks only what is missing and equals an uninterrupted run);
// beam search in generate_until tasks (num_beams 4 = generateBeam, num_beams 1 = greedy, refused for an
// OpenAI-compatible backend).
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { evaluateTask, type SampleRecord, type TaskResult } from '../../src/fewshot/evaluator.js';
import { PyRandom } from '../../src/fewshot/py-random.js';
import { RequestCache } from '../../src/fewshot/request-cache.js';
import { runEval, type EvalRun } from '../../src/fewshot/run-eval.js';
import { loadTaskConfig } from '../../src/fewshot/task-config.js';
import { Task } from '../../src/fewshot/task.js';
import { saveModel } from '../../src/lm/checkpoint.js';
import { resolveConfig } from '../../src/lm/config.js';
import { LocalLanguageModel, type LanguageModel, type LoglikelihoodRequest } from '../../src/lm/language-model.js';
import { GPT } from '../../src/lm/model.js';
import { OpenAICompletionsModel } from '../../src/lm/openai-client.js';
import { BytesTokenizer } from '../../src/tokenizer/index.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'fewshot', 'eval');
const BLOCK = 128;
const root = mkdtempSync(join(tmpdir(), 'tessera-evaluator-'));
const modelDir = join(root, 'model');
let lm: LocalLanguageModel;

const task = (name: string) => new Task(loadTaskConfig(join(FIXTURES, `${name}.yaml`)));
/** The context of a sample (first request's first argument). */
const contextOf = (s: SampleRecord) => String(s.arguments.gen_args_0!.arg_0);
/** What a result is, without its timing. */
const comparable = (r: TaskResult) => ({ ...r, seconds: 0 });

before(() => {
  const tok = new BytesTokenizer({ eot: true });
  const model = new GPT(resolveConfig(undefined, { vocabSize: tok.vocabSize, blockSize: BLOCK, nLayer: 2, nHead: 2, nEmbd: 32 })).initialize(5);
  // sharper predictions than at initialization: generations vary between prompts and argmax ties do not occur
  for (const p of model.parameters()) if (p.shape.length === 2) p.data = p.data.map((v) => v * 8);
  mkdirSync(modelDir);
  saveModel(modelDir, model, tok);
  lm = LocalLanguageModel.load(modelDir);
});

after(async () => {
  await lm?.close();
  rmSync(root, { recursive: true, force: true });
});

/**
 * Rebuild K = max's packing: one PyRandom(seed) per task, each document (in order) draws min(64, pool) examples
 * once; the sample's context must be that document's context with its first num_fewshot examples, the context plus
 * `tail(doc)` tokens must fit, and with one more example it must not.
 */
async function checkMax(t: Task, r: TaskResult, tail: (doc: Record<string, unknown>) => Promise<number>, seed = 1234): Promise<void> {
  const rnd = new PyRandom(seed);
  const docs = t.evalDocs();
  assert.equal(r.samples.length, docs.length);
  let sum = 0;
  for (const [d, doc] of docs.entries()) {
    const s = r.samples[d]!;
    const shots = s.num_fewshot;
    sum += shots;
    const examples = t.drawExamples(doc, Math.min(64, t.fewshotPoolSize(doc)), rnd);
    assert.ok(shots > 0, `document ${d}: no example fits`);
    assert.ok(shots < examples.length, `document ${d}: all ${examples.length} drawn examples fit (the test needs a tighter context)`);
    const context = contextOf(s);
    assert.equal(context, t.contextFromExamples(doc, examples.slice(0, shots)), `document ${d}: context is the first ${shots} drawn examples`);
    const need = async (ctx: string) => (await lm.tokenize(ctx)).length + (await tail(doc));
    assert.ok((await need(context)) <= BLOCK, `document ${d}: context + continuation = ${await need(context)} tokens > ${BLOCK}`);
    const more = t.contextFromExamples(doc, examples.slice(0, shots + 1));
    assert.ok((await need(more)) > BLOCK, `document ${d}: ${shots + 1} examples (${await need(more)} tokens) would still fit`);
  }
  assert.equal(r.numFewshot, 'max');
  assert.ok(Math.abs(r.meanShots - sum / docs.length) < 1e-12, `meanShots ${r.meanShots} = mean num_fewshot ${sum / docs.length}`);
}

describe("K = 'max'", () => {
  test('multiple_choice: each context plus its longest choice fits the context, with as many drawn examples as fit', async () => {
    const t = task('ev_mc');
    const r = await evaluateTask(t, lm, { numFewshot: 'max', modelId: 'tiny', bootstrapIters: 0 });
    await checkMax(t, r, async (doc) => Math.max(...(await Promise.all(t.docToChoice(doc).map(async (c) => (await lm.tokenize(t.targetDelimiter + c)).length)))));
    assert.ok(r.meanShots > 5, `meanShots ${r.meanShots}`);
    // a different seed draws other examples
    const r7 = await evaluateTask(t, lm, { numFewshot: 'max', seed: 7, modelId: 'tiny', bootstrapIters: 0 });
    await checkMax(t, r7, async (doc) => Math.max(...(await Promise.all(t.docToChoice(doc).map(async (c) => (await lm.tokenize(t.targetDelimiter + c)).length)))), 7);
    assert.notEqual(contextOf(r7.samples[0]!), contextOf(r.samples[0]!));
  });

  test('generate_until: each context plus max_gen_toks fits', async () => {
    const t = task('ev_gen');
    const r = await evaluateTask(t, lm, { numFewshot: 'max', modelId: 'tiny', bootstrapIters: 0 });
    await checkMax(t, r, async () => 6);
  });

  test(
    'loglikelihood: each context plus its target fits',
    async () => {
      const t = task('ev_ll');
      const r = await evaluateTask(t, lm, { numFewshot: 'max', modelId: 'tiny', bootstrapIters: 0 });
      await checkMax(t, r, async (doc) => (await lm.tokenize(String(t.docToTarget(doc)))).length);
    },
  );
});

describe('sweep through runEval: K = 0, 1, max × seeds 1234, 7', () => {
  const out = join(root, 'sweep');
  const TASKS = ['ev_mc', 'ev_gen'];
  const KS = [0, 1, 'max'] as const;
  const SEEDS = [1234, 7];
  const DOCS: Record<string, number> = { ev_mc: 8, ev_gen: 6 };
  let run: EvalRun;
  before(async () => {
    run = await runEval({ model: modelDir, tasks: TASKS, includePaths: [FIXTURES], numFewshot: [...KS], seeds: SEEDS, outputPath: out, bootstrapIters: 0, progress: false });
  });

  test('results.json has every <task>@<K>shot_seed<S> run with its K, seed and metrics', () => {
    const j = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const keys = SEEDS.flatMap((s) => KS.flatMap((k) => TASKS.map((t) => `${t}@${k}shot_seed${s}`)));
    assert.deepEqual(Object.keys(j.results).sort(), [...keys].sort());
    assert.deepEqual(run.entries.map((e) => e.key).sort(), [...keys].sort());
    for (const s of SEEDS) {
      for (const k of KS) {
        for (const t of TASKS) {
          const key = `${t}@${k}shot_seed${s}`;
          const e = j.results[key];
          assert.equal(e.task, t);
          assert.equal(e.num_fewshot, k);
          assert.equal(e.fewshot_seed, s);
          assert.equal(e.sample_len, DOCS[t]);
          const metric = t === 'ev_mc' ? 'acc,none' : 'exact_match,none';
          const r = run.entries.find((x) => x.key === key)!.r;
          assert.equal(e[metric], r.metrics[metric]);
          assert.ok(typeof e[metric] === 'number' && e[metric] >= 0 && e[metric] <= 1);
          if (k === 'max') {
            assert.equal(e.mean_num_fewshot, r.meanShots);
            assert.ok(e.mean_num_fewshot > 1);
          } else assert.equal(e.mean_num_fewshot, undefined);
          assert.equal(j['n-shot'][key], k);
        }
      }
    }
    assert.deepEqual(j.config.fewshot_seed, SEEDS);
  });

  test('each (K, seed) folder holds a harness-shaped results.json and samples_<task>.jsonl', async () => {
    for (const s of SEEDS) {
      for (const k of KS) {
        const dir = join(out, `${k}shot_seed${s}`);
        assert.deepEqual(readdirSync(dir).sort(), ['results.json', ...TASKS.map((t) => `samples_${t}.jsonl`)].sort());
        const j = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
        assert.deepEqual(Object.keys(j.results).sort(), [...TASKS].sort());
        for (const t of TASKS) {
          assert.equal(j.results[t].alias, t);
          assert.equal(j['n-shot'][t], k);
          assert.deepEqual(j['n-samples'][t], { original: DOCS[t], effective: DOCS[t] });
          assert.equal(j.versions[t], 1);
          assert.equal(j.configs[t].task, t);
          assert.equal(j.config.fewshot_seed, s);
          const lines = readFileSync(join(dir, `samples_${t}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SampleRecord);
          assert.deepEqual(lines.map((x) => x.doc_id), [...Array(DOCS[t]).keys()]);
          for (const x of lines) {
            for (const f of ['doc', 'target', 'arguments', 'resps', 'filtered_resps', 'filter', 'metrics', 'doc_hash', 'prompt_hash', 'target_hash']) assert.ok(f in x, `${t} ${k}-shot: ${f}`);
            assert.equal(x.filter, 'none');
            if (k !== 'max') assert.equal(x.num_fewshot, k);
            // K examples separated by fewshot_delimiter "\n" precede the document
            if (k !== 'max') assert.equal(contextOf(x).split('\n').length, k + 1);
          }
          // the per-run samples are the run's records, and the same run evaluated directly gives the same metrics
          const direct = await evaluateTask(task(t), lm, { numFewshot: k, seed: s, modelId: 'direct', bootstrapIters: 0 });
          assert.deepEqual(j.results[t][t === 'ev_mc' ? 'acc,none' : 'exact_match,none'], direct.metrics[t === 'ev_mc' ? 'acc,none' : 'exact_match,none']);
          assert.deepEqual(lines.map(contextOf), direct.samples.map(contextOf));
          assert.deepEqual(lines.map((x) => x.resps), direct.samples.map((x) => x.resps));
        }
      }
    }
    // seeds draw different examples (at K ≥ 1), the same nothing at K = 0
    const ctx = (k: number | string, s: number) => readFileSync(join(out, `${k}shot_seed${s}`, 'samples_ev_mc.jsonl'), 'utf8').trim().split('\n').map((l) => contextOf(JSON.parse(l)));
    assert.deepEqual(ctx(0, 1234), ctx(0, 7));
    assert.notDeepEqual(ctx(1, 1234), ctx(1, 7));
  });

  test('results.md lists every run; plot_<task>.png is a 720×450 picture with lines', () => {
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    for (const t of TASKS) {
      const rows = md.split('\n').filter((l) => l.startsWith(`| ${t} |`));
      assert.equal(rows.length, (t === 'ev_mc' ? 2 : 1) * KS.length * SEEDS.length, `${t} rows`);
      assert.ok(rows.some((l) => / max \(\d+\.\d\) \(seed 7\) /.test(l)), `${t}: a K = max row with its mean`);
    }
    for (const t of TASKS) {
      const png = PNG.sync.read(readFileSync(join(out, `plot_${t}.png`)));
      assert.equal(png.width, 720);
      assert.equal(png.height, 450);
      const colours = new Set<number>();
      let coloured = 0;
      let nonWhite = 0;
      for (let i = 0; i < png.data.length; i += 4) {
        const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
        colours.add((r << 16) | (g << 8) | b);
        if (r !== 255 || g !== 255 || b !== 255) nonWhite++;
        if (r !== g || g !== b) coloured++;
      }
      assert.ok(colours.size >= 3, `${t}: ${colours.size} colours`);
      assert.ok(nonWhite > 2000, `${t}: ${nonWhite} non-white pixels`);
      assert.ok(coloured > 100, `${t}: ${coloured} coloured (series) pixels`);
    }
    assert.ok(run.written.includes(join(out, 'plot_ev_mc.png')));
  });
});

/** A LanguageModel over `inner` that counts what it is asked, and whose loglikelihood throws after `failAfter` calls. */
class CountingModel implements LanguageModel {
  llCalls = 0;
  llRequests: LoglikelihoodRequest[] = [];
  genPrompts: string[] = [];
  constructor(
    private readonly inner: LocalLanguageModel,
    private readonly failAfter = Infinity,
  ) {}
  get name() {
    return this.inner.name;
  }
  maxContext() {
    return this.inner.maxContext();
  }
  tokenize(t: string) {
    return this.inner.tokenize(t);
  }
  detokenize(ids: number[]) {
    return this.inner.detokenize(ids);
  }
  async loglikelihood(reqs: LoglikelihoodRequest[]) {
    if (this.llCalls >= this.failAfter) throw new Error('simulated server timeout: no answer within 60000 ms');
    this.llCalls++;
    this.llRequests.push(...reqs);
    return this.inner.loglikelihood(reqs);
  }
  loglikelihoodRolling(texts: string[]) {
    return this.inner.loglikelihoodRolling(texts);
  }
  score(t: string) {
    return this.inner.score(t);
  }
  generate(prompts: string[], o: Parameters<LanguageModel['generate']>[1]) {
    this.genPrompts.push(...prompts);
    return this.inner.generate(prompts, o);
  }
  close() {
    return this.inner.close();
  }
}

describe('request cache', () => {
  const origLoad = LocalLanguageModel.load;
  let wrap: (inner: LocalLanguageModel) => CountingModel = (m) => new CountingModel(m);
  let last: CountingModel | undefined;
  before(() => {
    // runEval opens the model directory through LocalLanguageModel.load: hand it the counting wrapper instead
    LocalLanguageModel.load = ((dir: string, o?: Parameters<typeof origLoad>[1]) => (last = wrap(origLoad.call(LocalLanguageModel, dir, o)))) as unknown as typeof origLoad;
  });
  after(() => {
    LocalLanguageModel.load = origLoad;
  });
  const evalRun = (outputPath: string, tasks = ['ev_mc', 'ev_gen'], numFewshot: (number | 'max')[] = [1], batchSize?: number) =>
    runEval({ model: modelDir, tasks, includePaths: [FIXTURES], numFewshot, outputPath, bootstrapIters: 0, progress: false, batchSize });

  test('a second identical run asks the model nothing and gives identical results', async () => {
    const out = join(root, 'cache-rerun');
    wrap = (m) => new CountingModel(m);
    const first = await evalRun(out);
    const asked = last!;
    // ev_mc: 8 documents × 2 choices; ev_gen: 6 generations
    assert.equal(asked.llRequests.length, 16);
    assert.equal(asked.genPrompts.length, 6);
    assert.deepEqual(first.cache && { hits: first.cache.hits, misses: first.cache.misses }, { hits: 0, misses: 22 });
    const resultsBefore = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const second = await evalRun(out);
    assert.equal(last!.llCalls, 0, 'no log-likelihood asked');
    assert.equal(last!.genPrompts.length, 0, 'no generation asked');
    assert.deepEqual(second.cache && { hits: second.cache.hits, misses: second.cache.misses }, { hits: 22, misses: 0 });
    assert.deepEqual(second.entries.map((e) => [e.key, comparable(e.r)]), first.entries.map((e) => [e.key, comparable(e.r)]));
    const resultsAfter = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    for (const j of [resultsBefore, resultsAfter]) {
      delete j.date;
      delete j.total_evaluation_time_seconds;
    }
    assert.deepEqual(resultsAfter, resultsBefore);
  });

  test('an interrupted run resumes: only the missing requests are asked, and the results equal an uninterrupted run', async () => {
    // batch size 1: log-likelihood requests go to the model 4 per call (chunks of 4 × batch size), 16 in all (1-shot ev_mc)
    const out = join(root, 'cache-resume');
    wrap = (m) => new CountingModel(m, 2);
    await assert.rejects(evalRun(out, ['ev_mc'], [1], 1), /simulated server timeout/);
    assert.equal(last!.llCalls, 2);
    const cache = new RequestCache(join(out, 'cache.sqlite'));
    try {
      assert.equal(cache.count(), 8, 'the two completed chunks are in the cache');
    } finally {
      cache.close();
    }
    const answered = last!.llRequests.map((r) => JSON.stringify(r));
    wrap = (m) => new CountingModel(m);
    const resumed = await evalRun(out, ['ev_mc'], [1], 1);
    const asked = last!.llRequests.map((r) => JSON.stringify(r));
    assert.equal(asked.length, 8, 'only the 8 missing requests are asked');
    assert.equal(asked.filter((r) => answered.includes(r)).length, 0, 'none of the answered ones again');
    assert.deepEqual(resumed.cache && { hits: resumed.cache.hits, misses: resumed.cache.misses }, { hits: 8, misses: 8 });
    const whole = await evalRun(join(root, 'cache-whole'), ['ev_mc'], [1], 1);
    assert.equal(last!.llRequests.length, 16);
    assert.deepEqual(resumed.entries.map((e) => comparable(e.r)), whole.entries.map((e) => comparable(e.r)));
    assert.deepEqual(readFileSync(join(out, 'samples_ev_mc.jsonl'), 'utf8'), readFileSync(join(root, 'cache-whole', 'samples_ev_mc.jsonl'), 'utf8'));
  });
});

describe('beam search in generate_until tasks', () => {
  test('num_beams 4, length_penalty 0.6: each generation is generateBeam’s best beam with the same settings (Hugging Face’s |y|^α, the default)', async () => {
    for (const k of [0, 1]) {
      const r = await evaluateTask(task('ev_beam'), lm, { numFewshot: k, modelId: 'tiny', bootstrapIters: 0 });
      assert.equal(r.samples.length, 6);
      const contexts = r.samples.map(contextOf);
      const beams = await lm.generateBeam(contexts, { numBeams: 4, maxTokens: 8, lengthPenalty: 0.6, lengthPenaltyStyle: 'hf', stop: ['\n'] });
      assert.deepEqual(r.samples.map((s) => s.resps[0]), beams.map((b) => [b.text]));
      for (const s of r.samples) assert.ok(!String((s.resps[0] as string[])[0]).includes('\n'), 'stopped at the newline');
      const args = r.samples[0]!.arguments.gen_args_0!.arg_1 as Record<string, unknown>;
      assert.equal(args.num_beams, 4);
      assert.equal(args.length_penalty, 0.6);
      if (k === 0) {
        // beam search finds something else than greedy decoding somewhere (else this test could not tell them apart)
        const greedy = await lm.generate(contexts, { maxTokens: 8, temperature: 0, stop: ['\n'] });
        assert.notDeepEqual(beams.map((b) => b.text), greedy.map((g) => g[0]!.text));
      }
    }
  });

  test('num_beams 1 is greedy decoding', async () => {
    const r = await evaluateTask(task('ev_beam1'), lm, { numFewshot: 1, modelId: 'tiny', bootstrapIters: 0 });
    const greedy = await lm.generate(r.samples.map(contextOf), { maxTokens: 8, temperature: 0, stop: ['\n'] });
    assert.deepEqual(r.samples.map((s) => s.resps[0]), greedy.map((g) => [g[0]!.text]));
  });

  test('an OpenAI-compatible backend is refused for num_beams 4, before any request', async () => {
    // with a local tokenizer and a given context length the client needs no server until it generates; the port is
    // one nothing can be reached on, so any request would fail with a network error instead
    const remote = new OpenAICompletionsModel({ baseUrl: 'http://127.0.0.1:9', model: 'remote', tokenizer: new BytesTokenizer({ eot: true }), maxContext: BLOCK, maxRetries: 0 });
    await assert.rejects(evaluateTask(task('ev_beam'), remote, { numFewshot: 0, modelId: 'remote', bootstrapIters: 0 }), (e: Error) => {
      assert.match(e.message, /no beam search \(num_beams 4\)/);
      assert.match(e.message, /OpenAI-compatible servers do not offer it/);
      assert.match(e.message, /num_beams: 1 or a local model/);
      return true;
    });
  });
});

describe('contexts longer than the model', () => {
  test('are cut from the left with a warning naming the task, K and how many; scores stay those of the kept tokens', async () => {
    // 40 examples of ~10 bytes each cannot fit 128 tokens
    const t = task('ev_mc');
    const r = await evaluateTask(t, lm, { numFewshot: 20, modelId: 'tiny', bootstrapIters: 0 });
    const w = r.warnings.find((m) => m.includes('truncated from the left'));
    assert.ok(w, `a truncation warning among ${JSON.stringify(r.warnings)}`);
    assert.match(w!, /\d+ of 8 contexts \(20-shot\) are longer than the model's 128 tokens/);
    // the kept window: the last 129 tokens of context + continuation, as the harness's models keep them
    const s = r.samples[0]!;
    const [ctx, cont] = [String(s.arguments.gen_args_0!.arg_0), String(s.arguments.gen_args_0!.arg_1)];
    const ids = await lm.tokenize(ctx);
    assert.ok(ids.length > BLOCK);
    const [direct] = await lm.loglikelihood([{ context: ctx.slice(-200), continuation: cont }]);
    assert.ok(Math.abs(Number((s.filtered_resps[0] as string[])[0]) - direct!.logprob) < 1e-4, 'only the last tokens count');
  });
});
