// `tessera eval` backends and bad input, on a tiny random byte-level GPT (context 128) and the fixture tasks in
// test/fixtures/fewshot/eval/: through `tessera serve` (startServer on port 0) and the OpenAI-compatible client, with
// and without a local tokenizer, runEval at K = 0, 2 and max gives the local model's per-document log-likelihoods (within 1e-4),
// generations and metrics on a multiple_choice and a generate_until task; a fake llama.cpp-like server (logprobs of
// generated tokens only, echo ignored) is refused up front for a multiple_choice task, with a message saying every
// choice would score 0 / chance, before any task prompt is sent, while a generate_until-only run against it works;
// bad input (unknown task with near matches, bad --num-fewshot, a doc_to_target index outside the choices, --limit 0)
// through runEval and `node bin/tessera.js eval`.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SampleRecord, TaskResult } from '../../src/fewshot/evaluator.js';
import { runEval, type EvalCommandOptions, type EvalRun } from '../../src/fewshot/run-eval.js';
import { saveModel } from '../../src/lm/checkpoint.js';
import { resolveConfig } from '../../src/lm/config.js';
import { LocalLanguageModel } from '../../src/lm/language-model.js';
import { GPT } from '../../src/lm/model.js';
import { startServer, type RunningServer } from '../../src/server/completions-server.js';
import { BytesTokenizer } from '../../src/tokenizer/index.js';

const REPO = join(import.meta.dirname, '..', '..');
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'fewshot', 'eval');
const root = mkdtempSync(join(tmpdir(), 'tessera-eval-backends-'));
const modelDir = join(root, 'model');
const NAME = 'tiny-eval';

before(() => {
  const tok = new BytesTokenizer({ eot: true });
  const model = new GPT(resolveConfig(undefined, { vocabSize: tok.vocabSize, blockSize: 128, nLayer: 2, nHead: 2, nEmbd: 32 })).initialize(5);
  // sharper predictions than at initialization: generations vary between prompts and argmax ties do not occur
  for (const p of model.parameters()) if (p.shape.length === 2) p.data = p.data.map((v) => v * 8);
  mkdirSync(modelDir);
  saveModel(modelDir, model, tok);
});

after(() => rmSync(root, { recursive: true, force: true }));

const evalOpts = (o: Partial<EvalCommandOptions>): EvalCommandOptions => ({ model: modelDir, tasks: ['ev_mc', 'ev_gen'], includePaths: [FIXTURES], bootstrapIters: 0, progress: false, cache: false, ...o });
const byKey = (run: EvalRun) => new Map(run.entries.map((e) => [e.key, e.r]));
/** Each document's log-likelihoods (multiple_choice: one per choice), as numbers. */
const lls = (r: TaskResult) => r.samples.map((s) => (s.resps as string[][][]).map((x) => Number(x[0]![0])));
const contexts = (r: TaskResult) => r.samples.map((s: SampleRecord) => String(s.arguments.gen_args_0!.arg_0));

describe('tessera serve + the OpenAI-compatible client = the local model', () => {
  let lm: LocalLanguageModel;
  let srv: RunningServer;
  let local: EvalRun;
  before(async () => {
    lm = LocalLanguageModel.load(modelDir, { name: NAME });
    srv = await startServer({ model: lm, port: 0 });
    local = await runEval(evalOpts({ numFewshot: [0, 2, 'max'] }));
  });
  after(async () => {
    await srv?.close();
    await lm?.close();
  });

  for (const tokenizer of ['bytes+eot', undefined]) {
    test(`--model ${'http://127.0.0.1:PORT/v1'} --model-name ${NAME}${tokenizer ? ` --tokenizer ${tokenizer}` : ' (no tokenizer)'}`, async () => {
      const remote = await runEval(evalOpts({ model: `${srv.url}/v1`, modelName: NAME, tokenizer, numFewshot: [0, 2, 'max'] }));
      const L = byKey(local);
      const R = byKey(remote);
      assert.deepEqual([...R.keys()].sort(), ['ev_gen@0shot', 'ev_gen@2shot', 'ev_gen@maxshot', 'ev_mc@0shot', 'ev_mc@2shot', 'ev_mc@maxshot']);
      for (const [key, r] of R) {
        const l = L.get(key)!;
        // K = max packs by the server's token counts (its /tokenize without a local tokenizer): the same prompts
        assert.deepEqual(contexts(r), contexts(l), `${key}: prompts`);
        assert.equal(r.meanShots, l.meanShots);
        if (r.task === 'ev_mc') {
          const a = lls(r);
          const b = lls(l);
          assert.equal(a.length, 8);
          a.forEach((doc, d) =>
            doc.forEach((x, c) => {
              assert.ok(Number.isFinite(x) && x < 0, `${key} doc ${d} choice ${c}: ${x}`);
              assert.ok(Math.abs(x - b[d]![c]!) <= 1e-4, `${key} doc ${d} choice ${c}: remote ${x} vs local ${b[d]![c]}`);
            }),
          );
          // is_greedy too
          assert.deepEqual(r.samples.map((s) => (s.resps as string[][][]).map((x) => x[0]![1])), l.samples.map((s) => (s.resps as string[][][]).map((x) => x[0]![1])));
        } else {
          assert.deepEqual(r.samples.map((s) => s.resps), l.samples.map((s) => s.resps), `${key}: generations`);
          assert.ok(r.samples.some((s) => String((s.resps as string[][])[0]![0]).length > 0), `${key}: something was generated`);
        }
        assert.deepEqual(r.metrics, l.metrics, `${key}: metrics`);
        assert.deepEqual(r.samples.map((s) => s.metrics), l.samples.map((s) => s.metrics));
      }
    });
  }
});

/** A llama.cpp-like /v1/completions: ignores echo, returns logprobs for the generated token only; answers sums. */
async function fakeLlamaCpp(): Promise<{ url: string; bodies: Record<string, unknown>[]; close: () => Promise<void> }> {
  const bodies: Record<string, unknown>[] = [];
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (c: Buffer) => (s += c.toString('utf8')));
      req.on('end', () => resolve(s));
    });
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, j: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(j));
    };
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path === '/v1/models') return send(200, { object: 'list', data: [{ id: 'fake', object: 'model', meta: { n_ctx_train: 128 } }] });
    if (req.method !== 'POST' || path !== '/v1/completions') return send(404, { error: { message: `no route ${path}` } });
    const body = JSON.parse(await read(req)) as Record<string, unknown>;
    // token-id prompts (a client with the bytes+eot tokenizer) as text, for the checks
    const prompt = typeof body.prompt === 'string' ? body.prompt : Buffer.from((body.prompt as number[]).filter((t) => t < 256)).toString('utf8');
    bodies.push({ ...body, promptText: prompt });
    const promptTokens = Array.isArray(body.prompt) ? body.prompt.length : Buffer.byteLength(prompt);
    // the last line "a+b=" gets a+b, except when a is 0 (then a wrong answer)
    const m = /(\d+)\+(\d+)=$/.exec(prompt.split('\n').at(-1) ?? '');
    const text = m ? (m[1] === '0' ? '99' : String(Number(m[1]) + Number(m[2]))) : 'x';
    send(200, {
      object: 'text_completion',
      model: 'fake',
      choices: [{ index: 0, text, finish_reason: 'stop', logprobs: { tokens: [text], token_logprobs: [-0.25], top_logprobs: [{ [text]: -0.25 }], text_offset: [0] } }],
      usage: { prompt_tokens: promptTokens, completion_tokens: 1, total_tokens: promptTokens + 1 },
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, bodies, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('a server without prompt log-probabilities (llama.cpp: echo ignored)', () => {
  let fake: Awaited<ReturnType<typeof fakeLlamaCpp>>;
  before(async () => {
    fake = await fakeLlamaCpp();
  });
  after(async () => {
    await fake?.close();
  });
  const taskPrompts = () => fake.bodies.filter((b) => /\d[<+]\d/.test(String(b.promptText)));

  for (const tokenizer of [undefined, 'bytes+eot']) {
    test(`a multiple_choice task is refused up front${tokenizer ? ' (with a tokenizer)' : ''}: every choice would score 0 (chance)`, async () => {
      fake.bodies.length = 0;
      // ev_gen first: nothing of it may run either, the check comes before any task
      await assert.rejects(runEval(evalOpts({ model: `${fake.url}/v1`, modelName: 'fake', tokenizer, tasks: ['ev_gen', 'ev_mc'] })), (e: Error) => {
        assert.match(e.message, /log-probabilities for \d+ of the prompt's \d+ scorable tokens/);
        assert.match(e.message, /every choice would score 0 and the result would be chance/);
        assert.match(e.message, /run only generate_until tasks/);
        return true;
      });
      assert.ok(fake.bodies.length >= 1 && fake.bodies.length <= 2, `${fake.bodies.length} probe requests`);
      assert.ok(fake.bodies.every((b) => b.echo === true && String(b.promptText).startsWith('The quick brown fox')), 'only the echo probe was sent');
      assert.deepEqual(taskPrompts(), [], 'no task prompt was sent');
    });
  }

  test('a generate_until-only run against it is allowed and scored', async () => {
    fake.bodies.length = 0;
    const run = await runEval(evalOpts({ model: `${fake.url}/v1`, modelName: 'fake', tokenizer: 'bytes+eot', tasks: ['ev_gen'] }));
    const r = run.entries[0]!.r;
    assert.equal(r.samples.length, 6);
    assert.deepEqual(
      r.samples.map((s) => (s.resps as string[][])[0]![0]),
      r.samples.map((s) => ((s.doc as { q: string }).q.startsWith('0+') ? '99' : s.target)),
    );
    // one of the six documents starts with 0 and got a wrong answer
    assert.equal(r.metrics['exact_match,none'], 5 / 6);
    assert.equal(taskPrompts().length, 6);
    assert.ok(fake.bodies.every((b) => b.echo === undefined), 'no scoring request');
  });
});

describe('bad input', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/tessera.js', 'eval', ...args], { cwd: REPO, encoding: 'utf8', timeout: 50_000 });

  test('an unknown task name is an error listing near matches (runEval and the CLI)', async () => {
    await assert.rejects(runEval(evalOpts({ tasks: ['ev_mcc'] })), /unknown task 'ev_mcc'.*did you mean 'ev_mc'/s);
    const r = cli('--model', modelDir, '--tasks', 'tessera_truefalsee', '--limit', '2');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /tessera: unknown task 'tessera_truefalsee'.*did you mean 'tessera_truefalse'/);
    assert.equal(r.stdout, '');
  });

  test('--num-fewshot with a bad value is refused, naming it', async () => {
    for (const bad of ['two', '1.5', '-1', '0,,x']) {
      const r = cli('--model', modelDir, '--tasks', 'ev_mc', '--include-path', FIXTURES, `--num-fewshot=${bad}`);
      assert.equal(r.status, 1, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--num-fewshot expects integers ≥ 0 or 'max'/, bad);
      assert.equal(r.stdout, '');
    }
    // runEval itself: a fractional K
    await assert.rejects(runEval(evalOpts({ tasks: ['ev_mc'], numFewshot: [1.5] })), /num_fewshot must be an integer ≥ 0 or 'max', got 1\.5/);
  });

  test('runEval refuses a negative K', async () => {
    await assert.rejects(runEval(evalOpts({ tasks: ['ev_mc'], numFewshot: [-1] })), /-1/);
  });

  test('a doc_to_target index outside the choices: a warning naming the document, and the document counts as wrong', async () => {
    const lines: string[] = [];
    for (const k of [0, 2]) {
      lines.length = 0;
      const run = await runEval(evalOpts({ tasks: ['ev_badtarget'], numFewshot: [k], log: (l) => lines.push(l) }));
      const r = run.entries[0]!.r;
      const want = "document 1: label 3 is not within the 2 choices";
      assert.ok(r.warnings.some((w) => w.includes(want)), JSON.stringify(r.warnings));
      assert.ok(run.warnings.some((w) => w.includes(want)));
      assert.ok(lines.some((l) => l.startsWith("warning: task 'ev_badtarget'") && l.includes(want)), JSON.stringify(lines));
      assert.equal(r.warnings.filter((w) => /document [02]/.test(w)).length, 0, 'only document 1 is named');
      assert.equal(r.samples[1]!.acc, 0);
      // the other two documents are scored by their log-likelihoods: acc = argmax == label
      const right = [0, 2].map((d) => {
        const [yes, no] = lls(r)[d]!;
        return (yes! > no! ? 0 : 1) === (r.samples[d]!.doc as { label: number }).label ? 1 : 0;
      });
      assert.deepEqual([r.samples[0]!.acc, r.samples[2]!.acc], right);
      assert.equal(r.metrics['acc,none'], (right[0]! + right[1]!) / 3);
    }
  });

  test('--limit 0 is refused (CLI and runEval)', async () => {
    const r = cli('--model', modelDir, '--tasks', 'ev_mc', '--include-path', FIXTURES, '--limit', '0');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /--limit expects a positive number.*got '0'/);
    await assert.rejects(runEval(evalOpts({ tasks: ['ev_mc'], limit: 0 })), /--limit must be positive, got 0/);
  });
});
