// Atomic file replacement: write to a temp file in the target's directory, fsync it, rename it over the
// target, fsync the directory. Readers see either the old file or the complete new one, never a torn write;
// on failure the temp file is removed and the error names the target path.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** What writeFileAtomic accepts: bytes, a UTF-8 string, or a list of byte chunks written back to back. */
export type AtomicData = Uint8Array | string | readonly Uint8Array[];

/** Error thrown by a failed atomic write; `code` is the underlying errno code when there is one. */
export class AtomicWriteError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined, cause: unknown) {
    super(message, { cause });
    this.name = 'AtomicWriteError';
    this.code = code;
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a parent of the path is not a directory',
  EISDIR: 'the target is a directory',
  ENOTEMPTY: 'the target is a non-empty directory',
  EEXIST: 'the target already exists',
  EXDEV: 'cross-device rename',
  EIO: 'I/O error',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  EFBIG: 'file too large',
};

/** Temp file name used for `target`: `.<base>.<pid>.<random>.tmp` in the same directory. */
export function tempPathFor(target: string): string {
  const random = randomBytes(6).toString('hex');
  return join(dirname(target), `.${basename(target)}.${process.pid}.${random}.tmp`);
}

/**
 * Builds the error reported for a failed write of `target`, e.g.
 * "cannot write /x/model.safetensors: no space left on device (ENOSPC); the previous file is unchanged".
 */
export function describeWriteError(target: string, err: unknown, targetExists: boolean): AtomicWriteError {
  const code = errnoCode(err);
  const reason = code !== undefined ? `${ERRNO_TEXT[code] ?? errnoMessage(err)} (${code})` : errnoMessage(err);
  const outcome = targetExists ? 'the previous file is unchanged' : 'no file was written';
  return new AtomicWriteError(`cannot write ${target}: ${reason}; ${outcome}`, code, err);
}

/** Atomically replaces `path` with `data` (async). */
export async function writeFileAtomic(path: string, data: AtomicData): Promise<void> {
  const target = resolve(path);
  const temp = tempPathFor(target);
  let handle: fsp.FileHandle | undefined;
  try {
    const mode = await existingMode(target);
    handle = await fsp.open(temp, 'wx', mode ?? 0o666);
    for (const chunk of toChunks(data)) await writeAllAsync(handle, chunk);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(temp, target);
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => {});
    await fsp.rm(temp, { force: true }).catch(() => {});
    throw describeWriteError(path, err, await pathExists(target));
  }
  await syncDirAsync(dirname(target));
}

/** Atomically replaces `path` with `data` (synchronous twin of writeFileAtomic). */
export function writeFileAtomicSync(path: string, data: AtomicData): void {
  const target = resolve(path);
  const temp = tempPathFor(target);
  let fd: number | undefined;
  try {
    const mode = existingModeSync(target);
    fd = fs.openSync(temp, 'wx', mode ?? 0o666);
    for (const chunk of toChunks(data)) writeAllSync(fd, chunk);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, target);
  } catch (err) {
    if (fd !== undefined) ignoreErrors(() => fs.closeSync(fd!));
    ignoreErrors(() => fs.rmSync(temp, { force: true }));
    throw describeWriteError(path, err, fs.existsSync(target));
  }
  syncDirSync(dirname(target));
}

function toChunks(data: AtomicData): readonly Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  if (data instanceof Uint8Array) return [data];
  return data;
}

async function writeAllAsync(handle: fsp.FileHandle, chunk: Uint8Array): Promise<void> {
  let done = 0;
  while (done < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done);
    done += bytesWritten;
  }
}

function writeAllSync(fd: number, chunk: Uint8Array): void {
  let done = 0;
  while (done < chunk.byteLength) done += fs.writeSync(fd, chunk, done, chunk.byteLength - done);
}

/** Permission bits of the file being replaced, so replacing keeps them; undefined when there is none. */
async function existingMode(target: string): Promise<number | undefined> {
  try {
    const st = await fsp.stat(target);
    return st.isFile() ? st.mode & 0o7777 : undefined;
  } catch {
    return undefined;
  }
}

function existingModeSync(target: string): number | undefined {
  try {
    const st = fs.statSync(target);
    return st.isFile() ? st.mode & 0o7777 : undefined;
  } catch {
    return undefined;
  }
}

async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Best-effort fsync of a directory so the rename itself is durable (not supported on every platform). */
async function syncDirAsync(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch {
    // Directory fsync is unsupported on some platforms (e.g. Windows); the rename has already happened.
  } finally {
    await handle?.close().catch(() => {});
  }
}

function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // See syncDirAsync.
  } finally {
    if (fd !== undefined) ignoreErrors(() => fs.closeSync(fd!));
  }
}

function ignoreErrors(fn: () => void): void {
  try {
    fn();
  } catch {
    // intentionally ignored: cleanup after a failure that is already being reported
  }
}

function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function errnoMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
