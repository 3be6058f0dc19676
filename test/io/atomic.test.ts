// Tests for atomic file replacement: content, chunked data, failure leaves the old file and no temp files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWriteError, tempPathFor, writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic.js';

function withTempDir(fn: (dir: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-atomic-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** Asserts the thrown error's message (assert.throws with a RegExp would test `Name: message`). */
const messageMatches = (re: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof Error);
  assert.match(err.message, re);
  return true;
};

const tempFilesIn = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.tmp'));

/** Chunk list whose second element blows up when the writer touches it. */
function explodingChunks(): Uint8Array[] {
  const bomb = new Proxy(new Uint8Array(4), {
    get(target, prop) {
      if (prop === 'byteLength' || prop === 'length' || prop === 'buffer') throw new Error('simulated write failure');
      return Reflect.get(target, prop, target);
    },
  });
  return [new Uint8Array([1, 2, 3]), bomb];
}

test('atomic: writes bytes, strings and chunk lists', withTempDir(async (dir) => {
  const p = join(dir, 'a.bin');
  await writeFileAtomic(p, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...readFileSync(p)], [1, 2, 3]);
  await writeFileAtomic(p, 'héllo');
  assert.equal(readFileSync(p, 'utf8'), 'héllo');
  await writeFileAtomic(p, [new Uint8Array([9]), new Uint8Array(0), new Uint8Array([8, 7])]);
  assert.deepEqual([...readFileSync(p)], [9, 8, 7]);
  writeFileAtomicSync(p, [new Uint8Array([5]), new Uint8Array([6])]);
  assert.deepEqual([...readFileSync(p)], [5, 6]);
  writeFileAtomicSync(p, '');
  assert.equal(statSync(p).size, 0);
  assert.deepEqual(tempFilesIn(dir), []);
}));

test('atomic: large multi-chunk write is complete', withTempDir(async (dir) => {
  const p = join(dir, 'big.bin');
  const chunk = new Uint8Array(3 << 20).map((_, i) => i & 0xff);
  await writeFileAtomic(p, [chunk, chunk, chunk]);
  const back = readFileSync(p);
  assert.equal(back.byteLength, 3 * chunk.byteLength);
  assert.equal(back[chunk.byteLength * 2 + 1000], 1000 & 0xff);
}));

test('atomic: temp file name is hidden, in the same directory, and unique', () => {
  const a = tempPathFor('/x/y/model.safetensors');
  const b = tempPathFor('/x/y/model.safetensors');
  assert.match(a, new RegExp(`^/x/y/\\.model\\.safetensors\\.${process.pid}\\.[0-9a-f]{12}\\.tmp$`));
  assert.notEqual(a, b);
});

test('atomic: keeps the permission bits of the file it replaces', withTempDir(async (dir) => {
  const p = join(dir, 'keep-mode');
  writeFileSync(p, 'old');
  chmodSync(p, 0o640);
  await writeFileAtomic(p, 'new');
  assert.equal(statSync(p).mode & 0o777, 0o640);
}));

test('atomic: failing write (async) leaves the old file intact and no temp file', withTempDir(async (dir) => {
  const p = join(dir, 'model.safetensors');
  writeFileSync(p, 'previous contents');
  await assert.rejects(writeFileAtomic(p, explodingChunks()), (err: Error) => {
    assert.match(err.message, /^cannot write .*model\.safetensors: simulated write failure; the previous file is unchanged$/);
    return true;
  });
  assert.equal(readFileSync(p, 'utf8'), 'previous contents');
  assert.deepEqual(tempFilesIn(dir), []);
}));

test('atomic: failing write (sync) leaves the old file intact and no temp file', withTempDir((dir) => {
  const p = join(dir, 'model.safetensors');
  writeFileSync(p, 'previous contents');
  assert.throws(() => writeFileAtomicSync(p, explodingChunks()), messageMatches(/^cannot write .*model\.safetensors: simulated write failure; the previous file is unchanged$/));
  assert.equal(readFileSync(p, 'utf8'), 'previous contents');
  assert.deepEqual(tempFilesIn(dir), []);
}));

test('atomic: a rename that fails (target is a non-empty directory) removes the temp file', withTempDir(async (dir) => {
  const target = join(dir, 'occupied');
  mkdirSync(target);
  writeFileSync(join(target, 'inside'), 'x');
  await assert.rejects(writeFileAtomic(target, 'data'), messageMatches(/^cannot write .*occupied: .*\((EISDIR|ENOTEMPTY|EEXIST|EPERM)\); the previous file is unchanged$/));
  assert.throws(() => writeFileAtomicSync(target, 'data'), messageMatches(/^cannot write .*occupied: .*\((EISDIR|ENOTEMPTY|EEXIST|EPERM)\)/));
  assert.deepEqual(tempFilesIn(dir), []);
  assert.equal(readFileSync(join(target, 'inside'), 'utf8'), 'x');
}));

test('atomic: missing directory is reported with the target path', withTempDir(async (dir) => {
  const p = join(dir, 'no', 'such', 'dir', 'f.bin');
  await assert.rejects(writeFileAtomic(p, 'x'), (err: Error & { code?: string }) => {
    assert.equal(err.message, `cannot write ${p}: no such file or directory (ENOENT); no file was written`);
    assert.equal(err.code, 'ENOENT');
    return true;
  });
}));

test('atomic: ENOSPC is described in words', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const err = describeWriteError('/x/model.safetensors', enospc, true);
  assert.equal(err.message, 'cannot write /x/model.safetensors: no space left on device (ENOSPC); the previous file is unchanged');
  assert.equal(err.cause, enospc);
  assert.equal(err.code, 'ENOSPC');
});
