// The tessera launcher (bin/tessera.js) run as an executable: its shell preamble sets glibc malloc tunables and execs
// node in the same process; TESSERA_MALLOC=system opts out; the user's GLIBC_TUNABLES are appended (and win).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const TUNED = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736';

/** Run the launcher directly (through its #! line) and return the GLIBC_TUNABLES the process saw. */
function tunablesSeen(env: Record<string, string | undefined>): string | null {
  const clean: NodeJS.ProcessEnv = { ...process.env };
  delete clean.GLIBC_TUNABLES;
  delete clean.TESSERA_MALLOC;
  delete clean.TESSERA_MALLOC_TUNED;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  const r = spawnSync(bin, ['bench', 'matmul', '--sizes', '16', '--repeats', '1', '--json'], { encoding: 'utf8', env: clean });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!).glibc_tunables;
}

describe('launcher', () => {
  it('tunes malloc by default, in the same process', () => {
    assert.equal(tunablesSeen({}), TUNED);
  });
  it('appends the user\'s GLIBC_TUNABLES after its own', () => {
    assert.equal(tunablesSeen({ GLIBC_TUNABLES: 'glibc.malloc.mmap_max=4' }), `${TUNED}:glibc.malloc.mmap_max=4`);
  });
  it('TESSERA_MALLOC=system leaves the environment alone', () => {
    assert.equal(tunablesSeen({ TESSERA_MALLOC: 'system' }), null);
    assert.equal(tunablesSeen({ TESSERA_MALLOC: 'system', GLIBC_TUNABLES: 'glibc.malloc.mmap_max=4' }), 'glibc.malloc.mmap_max=4');
  });
  it('is plain JavaScript to node (node bin/tessera.js runs untuned)', () => {
    const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  });
});
