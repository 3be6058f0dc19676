// `tessera eval` against lm-evaluation-harness's own evaluation (hf backend) on the same tiny GPT-2 and the same YAML
// tasks, zero- and few-shot: every request's prompt byte for byte, log-likelihoods within 1e-4, is_greedy, generations,
// per-document metrics and every aggregated metric and stderr in results.json (scripts/fewshot_parity.py does the
// work). Covers the five fixture tasks (multiple_choice with acc_mutual_info, loglikelihood lambada-style, rolling,
// generate_until with a regex filter, a boolean task) and bundled tasks (True/False, arithmetic, unscrambling,
// cloze). Skipped, with the reason, when the Python (TESSERA_LM_EVAL_PYTHON, default /work/venv/bin/python) cannot
// import lm_eval, torch and transformers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const python = process.env.TESSERA_LM_EVAL_PYTHON ?? '/work/venv/bin/python';

function skipReason(): string | undefined {
  if (!existsSync(python)) return `no Python at ${python} (set TESSERA_LM_EVAL_PYTHON to one with lm_eval installed)`;
  const r = spawnSync(python, ['-c', 'import lm_eval, torch, transformers, tokenizers, safetensors'], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) return `${python} cannot import lm_eval / torch / transformers: ${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)}`;
  return undefined;
}

interface Summary {
  ok?: boolean;
  error?: string;
  skipped?: string;
  problems?: string[];
  runs?: { num_fewshot: number; documents: Record<string, number>; results: Record<string, Record<string, number | string>> }[];
}

function parity(t: { skip: (m: string) => void }, args: string[]): Summary | undefined {
  const r = spawnSync(python, ['scripts/fewshot_parity.py', '--node', process.execPath, ...args], { encoding: 'utf8', timeout: 280_000, maxBuffer: 64 << 20 });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  let s: Summary;
  try {
    s = JSON.parse(last) as Summary;
  } catch {
    assert.fail(`no JSON summary (exit ${r.status}); stderr: ${r.stderr.slice(-3000)}`);
  }
  if (r.status === 77) {
    t.skip(s.skipped ?? 'a dependency is missing');
    return undefined;
  }
  assert.equal(s.error, undefined, `${s.error}\n${r.stderr.slice(-3000)}`);
  assert.deepEqual(s.problems, []);
  assert.equal(s.ok, true);
  return s;
}

test('tessera eval = lm-eval hf on the fixture tasks, 0- and 3-shot (prompts, log-likelihoods, generations, metrics, stderr)', { timeout: 300_000 }, (t) => {
  const reason = skipReason();
  if (reason) return t.skip(reason);
  const s = parity(t, ['--tasks-dir', 'test/fixtures/fewshot/tasks', '--tasks', 'fx_gen,fx_lambada,fx_bool,fx_mc,fx_rolling', '--num-fewshot', '0,3']);
  if (!s) return;
  assert.equal(s.runs!.length, 2);
  for (const run of s.runs!) {
    for (const n of Object.values(run.documents)) assert.ok(n >= 4, 'every task evaluated documents');
    assert.ok('acc_mutual_info,none' in run.results.fx_mc!, 'acc_mutual_info compared');
    assert.ok('bits_per_byte,none' in run.results.fx_rolling!, 'rolling metrics compared');
  }
});

test('tessera eval = lm-eval hf on bundled tasks, 0- and 2-shot (first 8 documents)', { timeout: 300_000 }, (t) => {
  const reason = skipReason();
  if (reason) return t.skip(reason);
  const s = parity(t, ['--tasks-dir', 'tasks', '--tasks', 'tessera_truefalse,tessera_arithmetic_2da,tessera_unscramble_a1,tessera_cloze', '--num-fewshot', '0,2', '--limit', '8']);
  if (!s) return;
  for (const run of s.runs!) assert.deepEqual(Object.values(run.documents), [8, 8, 8, 8]);
});
