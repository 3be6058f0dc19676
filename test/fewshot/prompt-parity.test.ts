// Prompt parity with lm-evaluation-harness 0.4.13: every request argument (context, continuation, generation kwargs)
// that Task builds for the fixture tasks equals, byte for byte, what the harness built for them
// (test/fixtures/fewshot/lm_eval_prompts.json, from scripts/lm_eval_prompts.py); and, where a Python with lm_eval is
// available (TESSERA_LM_EVAL_PYTHON, else /work/venv/bin/python), the same against a fresh run of the oracle.
// Regenerate the fixture with:
//   HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 python scripts/lm_eval_prompts.py --include-path test/fixtures/fewshot/tasks \
//     --tasks fx_mc,fx_lambada,fx_gen,fx_bool,fx_rolling --num-fewshot 0,1,3 --extra fx_mc=8 --extra fx_gen=8 \
//     --extra fx_bool=7 --out test/fixtures/fewshot/lm_eval_prompts.json
// (the extra K reach sampler edges: fx_mc=8 draws both copies of a duplicated document and resamples, fx_gen=8 is
// first_n's whole pool less the evaluated document, fx_bool=7 is K + 1 = the whole pool.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PyRandom } from '../../src/fewshot/py-random.js';
import { findTasks } from '../../src/fewshot/task-config.js';
import { Task } from '../../src/fewshot/task.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TASKS = join(root, 'test', 'fixtures', 'fewshot', 'tasks');
const FIXTURE = join(root, 'test', 'fixtures', 'fewshot', 'lm_eval_prompts.json');
const TASK_NAMES = ['fx_mc', 'fx_lambada', 'fx_gen', 'fx_bool', 'fx_rolling'];
const SHOTS = [0, 1, 3];
const EXTRA = ['fx_mc=8', 'fx_gen=8', 'fx_bool=7'];

interface OracleRequest {
  request_type: string;
  idx: number;
  arguments: unknown[];
}
interface Oracle {
  lm_eval_version: string;
  seed: number;
  limit: number | null;
  tasks: Record<string, { yaml: string; num_fewshot: Record<string, { effective_num_fewshot: number; docs: { doc_id: number; requests: OracleRequest[] }[] }> }>;
}

/** Compare Task's requests with the oracle's, document by document (one PyRandom per task and K, as the harness). */
function compare(oracle: Oracle): number {
  let checked = 0;
  for (const name of TASK_NAMES) {
    const entry = oracle.tasks[name];
    assert.ok(entry, `the oracle has no task ${name}`);
    const { configs } = findTasks([name], [TASKS]);
    assert.equal(configs.length, 1);
    for (const [k, run] of Object.entries(entry.num_fewshot)) {
      const task = new Task(configs[0]!);
      const rnd = new PyRandom(oracle.seed);
      const docs = task.evalDocs();
      assert.equal(run.docs.length, oracle.limit === null ? docs.length : Math.min(oracle.limit, docs.length), `${name} ${k}-shot: document count`);
      for (const d of run.docs) {
        const doc = docs[d.doc_id]!;
        const context = task.fewshotContext(doc, run.effective_num_fewshot, rnd);
        const ours = task.requests(doc, context);
        const where = `${name}, ${k}-shot, doc ${d.doc_id}`;
        assert.equal(ours.length, d.requests.length, `${where}: number of requests`);
        d.requests.forEach((want, i) => {
          const got = ours[i]!;
          assert.equal(got.kind, want.request_type, `${where}: request ${i} type`);
          assert.equal(got.idx, want.idx, `${where}: request ${i} idx`);
          assert.equal(got.arguments.length, want.arguments.length, `${where}: request ${i} arity`);
          got.arguments.forEach((a, j) => {
            if (typeof want.arguments[j] === 'string') assert.equal(a, want.arguments[j], `${where}: request ${i} argument ${j}`);
            else assert.deepEqual(a, want.arguments[j], `${where}: request ${i} argument ${j} (generation kwargs)`);
          });
          checked++;
        });
      }
    }
  }
  return checked;
}

test('committed oracle fixture: every context and continuation matches the harness byte for byte', () => {
  const oracle = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Oracle;
  assert.equal(oracle.lm_eval_version, '0.4.13');
  assert.deepEqual(Object.keys(oracle.tasks).sort(), [...TASK_NAMES].sort());
  for (const t of Object.values(oracle.tasks)) assert.deepEqual(Object.keys(t.num_fewshot).slice(0, SHOTS.length), SHOTS.map(String));
  const n = compare(oracle);
  assert.ok(n > 300, `only ${n} requests compared`);
});

function oraclePython(): string | undefined {
  const candidates = [process.env.TESSERA_LM_EVAL_PYTHON, '/work/venv/bin/python'].filter((p): p is string => !!p);
  for (const py of candidates) {
    if (!existsSync(py)) continue;
    const r = spawnSync(py, ['-c', 'import lm_eval, sys; sys.stdout.write(lm_eval.__version__)'], { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' } });
    if (r.status === 0 && r.stdout === '0.4.13') return py;
  }
  return undefined;
}

const python = oraclePython();

test('live oracle: a fresh lm_eval run over the fixture tasks matches Task and the committed fixture', { skip: python ? false : 'no Python with lm_eval 0.4.13 (set TESSERA_LM_EVAL_PYTHON)', timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-lm-eval-'));
  try {
    const out = join(dir, 'prompts.json');
    const r = spawnSync('nice', [python!, join(root, 'scripts', 'lm_eval_prompts.py'), '--include-path', TASKS, '--tasks', TASK_NAMES.join(','), '--num-fewshot', SHOTS.join(','), ...EXTRA.flatMap((e) => ['--extra', e]), '--out', out], {
      encoding: 'utf8',
      env: { ...process.env, HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1', HF_DATASETS_CACHE: join(dir, 'hf-cache') },
    });
    assert.equal(r.status, 0, `lm_eval_prompts.py failed:\n${r.stderr}`);
    const live = JSON.parse(readFileSync(out, 'utf8')) as Oracle;
    compare(live);
    assert.deepEqual(live, JSON.parse(readFileSync(FIXTURE, 'utf8')), 'the committed fixture is stale: regenerate it with scripts/lm_eval_prompts.py');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
