// `tessera serve` through the real CLI launcher: prints its URL, answers /v1/models and /v1/completions on loopback,
// and exits cleanly on SIGTERM; a model directory without a tokenizer is refused with a clear message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeTinyModelDir } from './tiny-model.js';

test('tessera serve --model DIR --port 0 serves until SIGTERM', async () => {
  const dir = makeTinyModelDir();
  const child = spawn(process.execPath, ['bin/tessera.js', 'serve', '--model', dir, '--port', '0', '--name', 'tiny-cli'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // 'close' comes after the process exits and its output streams end
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const base = await new Promise<string>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`no URL printed within 30 s; stderr: ${stderr}`)), 30_000);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code} before printing a URL; stderr: ${stderr}`)));
    });
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: { id: string; max_model_len: number }[] };
    assert.equal(models.data[0]!.id, 'tiny-cli');
    assert.equal(models.data[0]!.max_model_len, 32);
    const r = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt: 'hello', max_tokens: 4, temperature: 0 }) });
    assert.equal(r.status, 200);
    const bad = await fetch(`${base}/v1/completions`, { method: 'POST', body: '{"prompt": "a", "n": -3}' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { param: string } }).error.param, 'n');
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /POST \/v1\/completions 400/);
    assert.match(stderr, /SIGTERM, shutting down/);
  } finally {
    clearTimeout(kill);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('tessera serve refuses a model directory without a tokenizer', () => {
  const dir = makeTinyModelDir();
  rmSync(join(dir, 'tokenizer.json'));
  const r = spawnSync(process.execPath, ['bin/tessera.js', 'serve', '--model', dir, '--port', '0'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no tokenizer files in the model directory/);
});
