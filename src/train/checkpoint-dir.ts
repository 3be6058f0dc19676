// Atomic checkpoint directories. A checkpoint is written completely into `<out>/.checkpoint-tmp`, its completion
// marker (trainer_state.json) last, and then swapped in with renames: checkpoint → .checkpoint-old, .checkpoint-tmp →
// checkpoint, remove .checkpoint-old. A crash at any point leaves at least one complete directory; recovery finishes
// an interrupted swap and discards half-written ones. A failed write (a full disk) leaves the previous checkpoint as
// it was.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const CHECKPOINT = 'checkpoint';
/** The file written last into a checkpoint: its presence (and parsing) marks the directory complete. */
export const STATE_FILE = 'trainer_state.json';

export interface CheckpointPaths {
  /** The current checkpoint. */
  cur: string;
  /** Being written. */
  tmp: string;
  /** The previous checkpoint during a swap. */
  old: string;
}

export function checkpointPaths(out: string, name = CHECKPOINT): CheckpointPaths {
  return { cur: join(out, name), tmp: join(out, `.${name}-tmp`), old: join(out, `.${name}-old`) };
}

/** Whether `dir` holds a complete checkpoint (its state file exists and parses). */
export function isCompleteCheckpoint(dir: string): boolean {
  const f = join(dir, STATE_FILE);
  if (!existsSync(f)) return false;
  try {
    JSON.parse(readFileSync(f, 'utf8'));
    return true;
  } catch {
    return false;
  }
}

/** Thrown when writing a checkpoint fails; the previous checkpoint (if any) is untouched. */
export class CheckpointWriteError extends Error {
  constructor(
    message: string,
    readonly previous: string | undefined,
    cause: unknown,
  ) {
    super(message, { cause });
    this.name = 'CheckpointWriteError';
  }
}

/**
 * Write a checkpoint: `fill(dir)` writes every file into a fresh temp dir (the state file last), then the temp dir
 * replaces `<out>/checkpoint` by renames. On failure the temp dir is removed (freeing the space it took) and a
 * CheckpointWriteError says so: "<label> failed (<why>); the previous checkpoint in <dir> is intact".
 */
export function writeCheckpointDir(out: string, fill: (dir: string) => void, opts: { label?: string; name?: string } = {}): string {
  const { cur, tmp, old } = checkpointPaths(out, opts.name);
  const label = opts.label ?? 'checkpoint';
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    fill(tmp);
    if (!existsSync(join(tmp, STATE_FILE))) throw new Error(`the checkpoint writer did not write ${STATE_FILE}`);
  } catch (err) {
    try {
      rmSync(tmp, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
    const prev = isCompleteCheckpoint(cur) ? cur : isCompleteCheckpoint(old) ? old : undefined;
    const outcome = prev ? `the previous checkpoint in ${prev} is intact` : 'there was no earlier checkpoint to keep';
    throw new CheckpointWriteError(`${label} failed (${(err as Error).message}); ${outcome}`, prev, err);
  }
  if (isCompleteCheckpoint(cur)) {
    rmSync(old, { recursive: true, force: true });
    renameSync(cur, old);
  } else {
    // a damaged current dir (should not happen) must not displace a complete .checkpoint-old
    rmSync(cur, { recursive: true, force: true });
  }
  renameSync(tmp, cur);
  syncDir(out);
  rmSync(old, { recursive: true, force: true });
  return cur;
}

/**
 * The usable checkpoint directory in `out` (normally `<out>/checkpoint`), or undefined when there is none. Finishes
 * a swap that a crash interrupted: a complete `.checkpoint-tmp` (written, not yet renamed) is newer than
 * `.checkpoint-old` and is promoted; otherwise `.checkpoint-old` is restored; half-written temp dirs are removed.
 * Where the directory cannot be changed (read-only), the complete directory is returned where it lies.
 */
export function recoverCheckpointDir(out: string, name = CHECKPOINT): string | undefined {
  const { cur, tmp, old } = checkpointPaths(out, name);
  if (isCompleteCheckpoint(cur)) {
    tryRm(tmp);
    tryRm(old);
    return cur;
  }
  // the swap renames checkpoint → .checkpoint-old before .checkpoint-tmp → checkpoint, so a complete temp dir (its
  // state file is written last) without a complete current one is the newest checkpoint
  const candidate = isCompleteCheckpoint(tmp) ? tmp : isCompleteCheckpoint(old) ? old : undefined;
  if (!candidate) {
    tryRm(tmp);
    return undefined;
  }
  try {
    rmSync(cur, { recursive: true, force: true });
    renameSync(candidate, cur);
    syncDir(out);
    tryRm(tmp);
    tryRm(old);
    return cur;
  } catch {
    return candidate;
  }
}

function tryRm(p: string): void {
  try {
    rmSync(p, { recursive: true, force: true });
  } catch {
    /* read-only: leave it */
  }
}

/** fsync a directory so renames in it survive a power loss (best effort: not every platform allows it). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* unsupported */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
