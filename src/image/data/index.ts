// One entry point for the DALL·E system's image data: a spec names the built-in shape scenes ("shapes"), the bundled
// emoji ("emoji"), or a folder with captions.jsonl (a path to the folder or to its captions.jsonl). Errors name the
// spec.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { FitMode } from '../png.js';
import type { ImageCaptionDataset } from '../types.js';
import { emojiDataset } from './emoji.js';
import { CAPTIONS_FILE, folderDataset } from './folder.js';
import { shapesDataset } from './shapes.js';

export interface OpenImageDataOptions {
  /** Image side. */
  size: number;
  /** shapes: training scenes (default 4000); emoji: at most this many emoji (default all); folders: ignored. */
  count?: number;
  /** shapes: held-out scenes (default 200). */
  heldOutCount?: number;
  /** emoji and folders: fraction held out (default 0). */
  heldOutFraction?: number;
  seed?: number;
  /** Folders: images of another size are resized (default) or refused (skipped with the reason). */
  resize?: FitMode;
  log?: (message: string) => void;
}

/** The data a spec names (see the header). */
export function openImageData(spec: 'shapes' | 'emoji' | (string & {}), opts: OpenImageDataOptions): ImageCaptionDataset {
  const { size } = opts;
  if (!Number.isInteger(size) || size < 8 || size > 4096) {
    throw new Error(`image data '${spec}': size must be an integer in [8, 4096], got ${size}`);
  }
  try {
    if (spec === 'shapes') {
      return shapesDataset({ size, count: opts.count, heldOutCount: opts.heldOutCount, seed: opts.seed });
    }
    if (spec === 'emoji') {
      return emojiDataset({ size, limit: opts.count, seed: opts.seed, heldOutFraction: opts.heldOutFraction });
    }
    let folder = spec;
    if (existsSync(spec) && statSync(spec).isFile() && basename(spec) === CAPTIONS_FILE) folder = dirname(spec);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      throw new Error(`not 'shapes', 'emoji' or a folder with ${CAPTIONS_FILE}`);
    }
    const data = folderDataset(folder, { size, mode: opts.resize ?? 'resize', heldOutFraction: opts.heldOutFraction, seed: opts.seed, log: opts.log });
    return { ...data, description: { ...data.description, spec } };
  } catch (err) {
    const message = (err as Error).message;
    if (message.startsWith(`image data '${spec}'`)) throw err;
    throw new Error(`image data '${spec}': ${message}`, { cause: err });
  }
}

export { shapesDataset } from './shapes.js';
export { emojiDataset } from './emoji.js';
export { folderDataset } from './folder.js';
