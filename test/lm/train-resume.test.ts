// `lm train` end to end through the CLI: a run killed with SIGKILL mid-training and resumed with --resume follows
// the same loss curve as an uninterrupted run; bad input gets clear messages.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
let dir: string;
let corpus: string;

const text = Array.from({ length: 400 }, (_, i) => `Line ${i}: the whale ${i % 7 === 0 ? 'spouts' : 'dives'} near ship ${i % 13}.`).join('\n');
const common = (out: string) => [
  'lm', 'train', '--corpus', corpus, '--tokenizer', 'char', '--out', out, '--layers', '1', '--heads', '2', '--embd', '16',
  '--block', '16', '--batch', '4', '--steps', '24', '--lr', '3e-3', '--warmup', '2', '--eval-interval', '4', '--eval-iters', '2',
  '--checkpoint-interval', '4', '--dropout', '0.1', '--json', '--no-progress',
];

function run(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, TESSERA_CACHE: join(dir, 'cache') } });
}

describe('lm train', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-train-'));
    corpus = join(dir, 'corpus.txt');
    writeFileSync(corpus, text);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('kill -9 then --resume reproduces the uninterrupted loss curve', async () => {
    const full = run(common(join(dir, 'full')));
    assert.equal(full.status, 0, full.stderr);
    const summary = JSON.parse(full.stdout.trim().split('\n').pop()!);
    assert.equal(summary.steps, 24);
    for (const k of ['val_loss', 'train_loss', 'steps', 'tokens_per_s', 'seconds']) assert.equal(typeof summary[k], 'number', k);
    const fullHist = JSON.parse(readFileSync(join(dir, 'full', 'checkpoint', 'trainer_state.json'), 'utf8')).history;

    const out = join(dir, 'killed');
    const child = spawn(process.execPath, [bin, ...common(out)], { env: { ...process.env, TESSERA_CACHE: join(dir, 'cache') }, stdio: 'ignore' });
    const state = join(out, 'checkpoint', 'trainer_state.json');
    await new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error('timeout waiting for a checkpoint')), 60000);
      const done = () => {
        clearInterval(t);
        clearTimeout(timeout);
        resolve();
      };
      const t = setInterval(() => {
        try {
          if (existsSync(state) && JSON.parse(readFileSync(state, 'utf8')).step >= 8) {
            child.kill('SIGKILL');
            done();
          }
        } catch {
          /* being replaced; poll again */
        }
      }, 20);
      child.on('exit', done);
    });
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    const killedAt = JSON.parse(readFileSync(state, 'utf8')).step;
    assert.ok(killedAt < 24, `the run finished before it could be killed (step ${killedAt})`);
    const resumed = run(['lm', 'train', '--resume', out, '--json', '--no-progress']);
    assert.equal(resumed.status, 0, resumed.stderr);
    const hist = JSON.parse(readFileSync(state, 'utf8')).history;
    assert.equal(hist.length, 24);
    for (let i = 0; i < 24; i++) {
      assert.ok(Math.abs(hist[i].train_loss - fullHist[i].train_loss) < 1e-4, `step ${i + 1}: ${hist[i].train_loss} vs ${fullHist[i].train_loss}`);
      if (fullHist[i].val_loss !== undefined) assert.ok(Math.abs(hist[i].val_loss - fullHist[i].val_loss) < 1e-4);
    }
    // the finished run's model directory loads and generates
    const gen = run(['lm', 'generate', '--model', out, '--max-tokens', '20', '--seed', '1', '--json', 'Line 1']);
    assert.equal(gen.status, 0, gen.stderr);
    assert.equal(JSON.parse(gen.stdout).completions.length, 1);
    const score = run(['lm', 'score', '--model', out, '--text', 'the whale dives', '--json']);
    const s = JSON.parse(score.stdout);
    assert.equal(s.logprobs[0], null);
    assert.equal(s.tokens.length, 15);
    assert.ok(s.logprobs.slice(1).every((x: number) => x < 0));
  });

  it('bad input: unknown corpus, tiny corpus, unknown preset, missing checkpoint', () => {
    let r = run(['lm', 'train', '--corpus', 'no-such-corpus', '--out', join(dir, 'x')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no-such-corpus/);
    const tiny = join(dir, 'tiny.txt');
    writeFileSync(tiny, 'abc');
    r = run(['lm', 'train', '--corpus', tiny, '--tokenizer', 'char', '--out', join(dir, 'y'), '--block', '64']);
    assert.match(r.stderr, /too few for a context of 64|fewer than one context/);
    r = run(['lm', 'train', '--corpus', corpus, '--tokenizer', 'char', '--preset', 'gpt5', '--out', join(dir, 'z')]);
    assert.match(r.stderr, /unknown preset 'gpt5'/);
    r = run(['lm', 'train', '--resume', join(dir, 'nothing-here')]);
    assert.match(r.stderr, /no checkpoint found/);
  });
});

describe('lm train NaN guard', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-nan-'));
    corpus = join(dir, 'corpus.txt');
    writeFileSync(corpus, text);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a diverging run stops with a clear message and keeps the last good checkpoint', () => {
    const out = join(dir, 'nan');
    const args = [...common(out)];
    args[args.indexOf('--lr') + 1] = '1e30';
    args[args.indexOf('--warmup') + 1] = '0';
    const r = run(args);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /training diverged at step \d+ \(loss .*, gradient norm .*\); stopped, the last good checkpoint in .* is kept/);
    const m = /at step (\d+)/.exec(r.stderr)!;
    const failedAt = Number(m[1]);
    if (failedAt > 4) {
      const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'trainer_state.json'), 'utf8'));
      assert.ok(state.step < failedAt && state.history.every((h: { train_loss: number }) => Number.isFinite(h.train_loss)));
    }
  });
});
