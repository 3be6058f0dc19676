// lm-evaluation-harness against `tessera serve` (local-completions, tokenizer_backend=remote) and against its own
// Hugging Face backend on the same tiny GPT-2 and byte-level BPE: per-sample log-likelihoods within 1e-4, identical
// is_greedy, acc and generations (scripts/lm_eval_parity.py does the work; about 25 s). Skipped, with the reason, when
// the Python (TESSERA_LM_EVAL_PYTHON, default /work/venv/bin/python) cannot import lm_eval, torch and transformers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const python = process.env.TESSERA_LM_EVAL_PYTHON ?? '/work/venv/bin/python';

function skipReason(): string | undefined {
  if (!existsSync(python)) return `no Python at ${python} (set TESSERA_LM_EVAL_PYTHON to one with lm_eval installed)`;
  const r = spawnSync(python, ['-c', 'import lm_eval, torch, transformers, tokenizers, safetensors, requests'], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) return `${python} cannot import lm_eval / torch / transformers: ${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)}`;
  return undefined;
}

interface Summary {
  ok?: boolean;
  skipped?: string;
  error?: string;
  comparison?: { loglikelihoods: number; max_abs_diff: number; problems: string[] };
  acc?: { tessera: number; hf: number };
  is_greedy_true?: { tessera: number; hf: number };
  tokenizer?: { texts: number; mismatches: unknown[]; partial_char_tokens: number; tokenizer_info: Record<string, unknown> };
  generations?: { tessera: string[] };
  seconds?: Record<string, number>;
}

test('lm-eval local-completions on tessera serve matches lm-eval hf (log-likelihoods, acc, generations)', { timeout: 240_000 }, (t) => {
  const reason = skipReason();
  if (reason) {
    t.skip(reason);
    return;
  }
  const r = spawnSync(python, ['scripts/lm_eval_parity.py', '--node', process.execPath], { encoding: 'utf8', timeout: 230_000, maxBuffer: 64 << 20 });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  let s: Summary;
  try {
    s = JSON.parse(last) as Summary;
  } catch {
    assert.fail(`no JSON summary (exit ${r.status}); stderr: ${r.stderr.slice(-3000)}`);
  }
  if (r.status === 77) {
    t.skip(s.skipped ?? 'a dependency is missing');
    return;
  }
  assert.equal(s.error, undefined, `${s.error}\n${r.stderr.slice(-3000)}`);
  const c = s.comparison!;
  assert.deepEqual(c.problems, []);
  assert.equal(c.loglikelihoods, 66, '20 documents × 3 choices + 6 greedy choices');
  assert.ok(c.max_abs_diff < 1e-4, `max |Δ log-likelihood| ${c.max_abs_diff}`);
  assert.equal(s.acc!.tessera, s.acc!.hf);
  assert.ok(s.is_greedy_true!.tessera > 0, 'the greedy choices are greedy');
  assert.deepEqual(s.tokenizer!.mismatches, []);
  assert.ok(s.tokenizer!.partial_char_tokens > 0, 'tokens that are parts of characters occur');
  assert.equal(s.tokenizer!.tokenizer_info.eos_token, '<|endoftext|>');
  assert.equal(s.generations!.tessera.length, 6);
  assert.equal(s.ok, true);
  assert.equal(r.status, 0);
  t.diagnostic(`max |Δ ll| ${c.max_abs_diff.toExponential(2)} over ${c.loglikelihoods}; acc ${s.acc!.tessera}; ${JSON.stringify(s.seconds)}`);
});
