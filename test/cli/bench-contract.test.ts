// Public contract of the runtime benchmarks: `tessera bench decode … --top-k K --json` samples with top-k and prints
// one JSON line with `tokens_per_s`; `bench score` and `bench beam` print theirs. Tiny shapes: this checks the
// commands and fields, not speed (benchmarks live in bench/, never as timed tests).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tiny = ['--layers', '1', '--heads', '1', '--embd', '16', '--vocab', '64'];

function bench(...args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${root}/src/cli/main.ts`, 'bench', ...args], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe('bench commands', () => {
  it('bench decode --top-k K --json prints tokens_per_s', () => {
    const j = bench('decode', ...tiny, '--block', '64', '--batch', '2', '--tokens', '6', '--top-k', '3', '--json');
    assert.equal(j.top_k, 3);
    assert.ok(typeof j.tokens_per_s === 'number' && j.tokens_per_s > 0);
    assert.equal(j.generated, 12);
  });
  it('bench score and bench beam print their rates', () => {
    const s = bench('score', ...tiny, '--block', '1024', '--batch', '4', '--questions', '2', '--json');
    assert.ok(typeof s.questions_per_s === 'number' && s.questions_per_s > 0);
    const b = bench('beam', ...tiny, '--block', '64', '--beams', '2', '--tokens', '4', '--prompt', '3', '--json');
    assert.ok(typeof b.tokens_per_s === 'number' && b.tokens_per_s > 0);
  });
});
