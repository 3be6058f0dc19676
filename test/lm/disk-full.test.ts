// A disk that fills up during a checkpoint: the run stops with a clear message and the previous checkpoint stays
// intact and loadable. Uses a small tmpfs (needs root, as CI has); skipped with a note where mounting is refused.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../src/lm/checkpoint.js';

const bin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

function diskUsage(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    n += st.isDirectory() ? diskUsage(p) : Math.ceil(st.size / 4096) * 4096;
  }
  return n;
}

describe('checkpoint on a full disk', () => {
  it('keeps the previous checkpoint intact and says why it stopped', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-full-'));
    const mnt = join(dir, 'mnt');
    try {
      const corpus = join(dir, 'c.txt');
      writeFileSync(corpus, 'the whale dives and the ship sails on. '.repeat(200));
      const args = (out: string, steps: number) => [
        bin, 'lm', 'train', '--corpus', corpus, '--tokenizer', 'char', '--out', out, '--layers', '1', '--heads', '1', '--embd', '8',
        '--block', '8', '--batch', '2', '--steps', String(steps), '--eval-interval', '4', '--eval-iters', '1', '--no-progress',
      ];
      const env = { ...process.env, TESSERA_CACHE: join(dir, 'cache') };
      const probe = spawnSync(process.execPath, args(join(dir, 'probe'), 4), { encoding: 'utf8', env });
      assert.equal(probe.status, 0, probe.stderr);
      const one = diskUsage(join(dir, 'probe', 'checkpoint'));
      spawnSync('mkdir', ['-p', mnt]);
      const size = Math.ceil((one * 1.5) / 4096) * 4096;
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt], { encoding: 'utf8' });
      if (m.status !== 0) {
        t.skip(`cannot mount a tmpfs here (${m.stderr.trim()})`);
        return;
      }
      try {
        const out = join(mnt, 'run');
        const r = spawnSync(process.execPath, args(out, 12), { encoding: 'utf8', env });
        assert.notEqual(r.status, 0, 'the run should stop when the disk is full');
        assert.match(r.stderr, /checkpoint at step 8 failed .*no space left on device.*the previous checkpoint in .* is intact/s);
        const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'trainer_state.json'), 'utf8'));
        assert.equal(state.step, 4);
        const loaded = loadModel(out);
        assert.equal(loaded.config.nEmbd, 8);
      } finally {
        spawnSync('umount', [mnt]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
