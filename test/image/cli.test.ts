// The `tessera image` command line as a public contract, on tiny models trained for a few steps: train-vae, encode
// ({"tokens": [[…]]}, rows first), reconstruct (a PNG), train (transformer), train-clip on the transformer's
// tokenizer, generate (--json samples in generation order with clip_score and kept, --out-dir PNGs, -o grid), and
// the bad-input messages: a corrupt PNG, an image of the wrong size, a dVAE with another K, a CLIP with another
// tokenizer, a rerank without CLIP.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPng, writePng } from '../../src/image/png.js';
import { renderScene, randomScene } from '../../src/image/data/shapes.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let dir: string;

function tessera(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'image', ...args], { encoding: 'utf8', timeout: 300_000 });
}
function ok(r: ReturnType<typeof tessera>) {
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stderr}`);
  return r;
}

const tiny = ['--data', 'shapes', '--size', '16', '--count', '64', '--held-out', '16'];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-image-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('tessera image CLI', () => {
  it('train-vae, encode, reconstruct, train, train-clip, generate', () => {
    const vae = join(dir, 'vae');
    const r = ok(tessera('train-vae', ...tiny, '--out', vae, '--steps', '4', '--batch', '4', '--vocab', '16', '--n-hid', '8', '--json'));
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(res.steps, 4);
    assert.ok(Number.isFinite(res.metrics.psnr));
    const img = join(dir, 'scene.png');
    let s = 1;
    writePng(img, renderScene(randomScene(() => ((s = (s * 16807) % 2147483647) / 2147483647)), 16));
    const enc = JSON.parse(ok(tessera('encode', '--vae', vae, '--json', img)).stdout);
    assert.equal(enc.tokens.length, 4); // 16 px through 3 groups (2 pools) → 4×4
    assert.ok(enc.tokens.every((row: number[]) => row.length === 4 && row.every((t) => Number.isInteger(t) && t >= 0 && t < 16)));
    const rec = join(dir, 'rec.png');
    ok(tessera('reconstruct', '--vae', vae, '-o', rec, img));
    const im = readPng(rec);
    assert.equal(im.width, 16);

    const tr = join(dir, 'transformer');
    const t = JSON.parse(ok(tessera('train', ...tiny, '--vae', vae, '--out', tr, '--steps', '3', '--batch', '4', '--layers', '2', '--heads', '2', '--embd', '16', '--conv-kernel', '3', '--text-vocab', '260', '--json')).stdout.trim().split('\n').pop()!);
    assert.equal(t.steps, 3);
    const clip = join(dir, 'clip');
    const c = JSON.parse(ok(tessera('train-clip', ...tiny, '--tokenizer', tr, '--out', clip, '--steps', '3', '--batch', '4', '--json')).stdout.trim().split('\n').pop()!);
    assert.equal(c.steps, 3);

    const outDir = join(dir, 'samples');
    const grid = join(dir, 'grid.png');
    const g = JSON.parse(ok(tessera('generate', '--model', tr, '--vae', vae, '--clip', clip, '--n', '4', '--rerank', '2', '--seed', '3', '--out-dir', outDir, '-o', grid, '--json', 'a small red circle')).stdout);
    assert.equal(g.caption, 'a small red circle');
    assert.equal(g.samples.length, 4);
    assert.equal(g.samples.filter((x: { kept: boolean }) => x.kept).length, 2);
    for (const x of g.samples) {
      assert.ok(existsSync(x.file));
      assert.equal(typeof x.clip_score, 'number');
    }
    const keptScores = g.samples.filter((x: { kept: boolean }) => x.kept).map((x: { clip_score: number }) => x.clip_score);
    const dropped = g.samples.filter((x: { kept: boolean }) => !x.kept).map((x: { clip_score: number }) => x.clip_score);
    assert.ok(Math.min(...keptScores) >= Math.max(...dropped));
    assert.equal(readdirSync(outDir).length, 4);
    assert.ok(existsSync(grid));
    // same seed, same samples
    const g2 = JSON.parse(ok(tessera('generate', '--model', tr, '--vae', vae, '--clip', clip, '--n', '4', '--rerank', '2', '--seed', '3', '--json', 'a small red circle')).stdout);
    assert.deepEqual(g2.samples.map((x: { clip_score: number }) => x.clip_score), g.samples.map((x: { clip_score: number }) => x.clip_score));

    // bad input
    const bad = join(dir, 'bad.png');
    writeFileSync(bad, 'not a png at all');
    let e = tessera('encode', '--vae', vae, bad);
    assert.notEqual(e.status, 0);
    assert.match(e.stderr, /bad\.png: not a PNG file/);
    const big = join(dir, 'big.png');
    writePng(big, renderScene(randomScene(() => 0.5), 24));
    e = tessera('encode', '--vae', vae, big);
    assert.match(e.stderr, /big\.png is 24×24, the model takes 16×16/);
    assert.equal(tessera('encode', '--vae', vae, '--resize', '--json', big).status, 0);
    const vae2 = join(dir, 'vae2');
    ok(tessera('train-vae', ...tiny, '--out', vae2, '--steps', '1', '--batch', '4', '--vocab', '32', '--n-hid', '8'));
    e = tessera('generate', '--model', tr, '--vae', vae2, 'a small red circle');
    assert.match(e.stderr, /K = 16 codes on a 4×4 grid, but the dVAE .*vae2 has K = 32 codes/);
    const clip2 = join(dir, 'clip2');
    ok(tessera('train-clip', ...tiny, '--text-vocab', '300', '--out', clip2, '--steps', '1', '--batch', '4'));
    e = tessera('generate', '--model', tr, '--vae', vae, '--clip', clip2, 'a small red circle');
    assert.match(e.stderr, /use different caption tokenizers/);
    e = tessera('generate', '--model', tr, '--vae', vae, '--n', '4', '--rerank', '2', 'a small red circle');
    assert.match(e.stderr, /--rerank 2 needs a CLIP model/);
  });
});
