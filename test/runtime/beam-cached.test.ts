// Beam search over the KV cache (CachedBeamStepper) gives the beams and scores Hugging Face generate(num_beams=W,
// length_penalty=A) gave on the tiny GPT-2 fixture (test/fixtures/beam, made by scripts/make_beam_fixture.py), and the
// public CLI contract: `lm generate --num-beams W --length-penalty A --length-penalty-style gnmt|hf --max-tokens N
// --json PROMPT` prints `completions` best first with text, tokens and score; width 1 equals greedy decoding.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../src/lm/checkpoint.js';
import { beamSearch } from '../../src/runtime/beam-search.js';
import { CachedBeamStepper } from '../../src/runtime/beam-stepper.js';
import { CachedStepRunner } from '../../src/runtime/cached-step.js';
import { makeTinyModelDir } from '../server/tiny-model.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = JSON.parse(readFileSync(`${root}/test/fixtures/beam/hf_beams.json`, 'utf8')) as {
  cases: { name: string; prompt: number[]; numBeams: number; lengthPenalty: number; earlyStopping: boolean | 'never'; maxTokens: number; eotId: number; minTokens: number; logitScale?: number; beams: { tokens: number[]; score: number }[] }[];
};

describe('beam search over the KV cache', () => {
  it('equals Hugging Face generate(num_beams, length_penalty) on every fixture case', async () => {
    const { model } = loadModel(`${root}/test/fixtures/hf_gpt2_tiny`);
    const lnW = Float32Array.from(model.ln_f.weight.data);
    const lnB = Float32Array.from(model.ln_f.bias!.data);
    for (const c of fixture.cases) {
      // sharpened cases: ln_f's weight and bias scaled (logits × scale), as the fixture script does
      const scale = c.logitScale ?? 1;
      model.ln_f.weight.data = lnW.map((v) => v * scale);
      model.ln_f.bias!.data = lnB.map((v) => v * scale);
      const runner = new CachedStepRunner(model); // weights are baked per program: a fresh runner per scale
      const got = await beamSearch(new CachedBeamStepper(runner, c.maxTokens), c.prompt, {
        numBeams: c.numBeams,
        maxTokens: c.maxTokens,
        lengthPenalty: c.lengthPenalty,
        lengthPenaltyStyle: 'hf',
        earlyStopping: c.earlyStopping,
        eotId: c.eotId,
        minTokens: c.minTokens,
        numReturn: c.beams.length,
      });
      assert.equal(got.length, c.beams.length, c.name);
      c.beams.forEach((want, i) => {
        const tokens = [...got[i]!.tokens, ...(got[i]!.finish === 'eot' ? [c.eotId] : [])];
        assert.deepEqual(tokens, want.tokens, `${c.name} beam ${i}`);
        assert.ok(Math.abs(got[i]!.score - want.score) < 1e-4, `${c.name} beam ${i}: score ${got[i]!.score} vs ${want.score}`);
      });
      await runner.release();
    }
  });

  it('CLI: --num-beams prints completions best first; width 1 equals --greedy; bad widths are refused', () => {
    const dir = makeTinyModelDir();
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', `${root}/src/cli/main.ts`, 'lm', 'generate', '--model', dir, ...args], { encoding: 'utf8' });
    const beams = run('--num-beams', '4', '--length-penalty', '0.6', '--length-penalty-style', 'gnmt', '--max-tokens', '8', '--json', 'hello');
    assert.equal(beams.status, 0, beams.stderr);
    const j = JSON.parse(beams.stdout) as { completions: { text: string; tokens: number[]; score: number }[] };
    assert.equal(j.completions.length, 4);
    for (let i = 1; i < 4; i++) assert.ok(j.completions[i - 1]!.score >= j.completions[i]!.score);
    for (const c of j.completions) assert.equal(typeof c.text, 'string');
    const w1 = JSON.parse(run('--num-beams', '1', '--max-tokens', '8', '--json', 'hello').stdout) as { completions: { tokens: number[] }[] };
    const greedy = JSON.parse(run('--greedy', '--max-tokens', '8', '--json', 'hello').stdout) as { completions: { tokens: number[] }[] };
    assert.deepEqual(w1.completions[0]!.tokens, greedy.completions[0]!.tokens);
    const bad = run('--num-beams', '0', '--max-tokens', '8', 'hello');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--num-beams must be an integer in \[1, \d+\], got 0/);
  });
});
