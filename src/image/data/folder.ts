// A captioned image folder: `captions.jsonl` in the folder, one JSON object per line, {"file": "relative.png",
// "caption": "…"} ("image" is accepted for "file"); blank lines are ignored. Images are PNG (readPng: any colour
// type, alpha over white), resized to `size` or refused per `mode` (fitImage). Nothing bad stops the load: a bad JSON
// line, a missing field, a path outside the folder, a missing file, a corrupt PNG, an image refused for its size
// — each is listed in `skipped` (line number, file and reason) and passed to `log`. Only an empty result (or a
// missing folder / captions.jsonl) is an error, and it says why. Captions are kept as written, trimmed.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { mulberry32 } from '../../nn/init.js';
import { fitImage, readPng, type FitMode } from '../png.js';
import type { ImageCaption, ImageCaptionDataset } from '../types.js';

export const CAPTIONS_FILE = 'captions.jsonl';

export interface FolderDatasetOptions {
  /** Image side (default 32). */
  size?: number;
  /** What to do with images of another size (default 'resize'). */
  mode?: FitMode;
  /** Fraction of the examples held out (a seeded choice; default 0). */
  heldOutFraction?: number;
  seed?: number;
  /** Called once per skipped entry with a one-line message. */
  log?: (message: string) => void;
}

/** Load a captioned image folder (see the header). */
export function folderDataset(folder: string, opts: FolderDatasetOptions = {}): ImageCaptionDataset {
  const size = opts.size ?? 32;
  const mode = opts.mode ?? 'resize';
  const heldOutFraction = opts.heldOutFraction ?? 0;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(size) || size < 1) throw new Error(`${folder}: size must be a positive integer, got ${size}`);
  if (!(heldOutFraction >= 0 && heldOutFraction < 1)) throw new Error(`${folder}: heldOutFraction must be in [0, 1), got ${heldOutFraction}`);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new Error(`${folder}: not a folder`);
  const root = resolve(folder);
  const captionsPath = join(folder, CAPTIONS_FILE);
  if (!existsSync(captionsPath)) {
    throw new Error(`${folder}: no ${CAPTIONS_FILE} (one {"file": "x.png", "caption": "…"} object per line)`);
  }
  const skipped: { source: string; reason: string }[] = [];
  const skip = (source: string, reason: string) => {
    skipped.push({ source, reason });
    opts.log?.(`skipped ${source}: ${reason}`);
  };
  const examples: ImageCaption[] = [];
  const lines = readFileSync(captionsPath, 'utf8').split(/\r?\n/u);
  lines.forEach((text, index) => {
    const where = `${captionsPath}:${index + 1}`;
    if (text.trim().length === 0) return;
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch (err) {
      skip(where, `bad JSON (${(err as Error).message})`);
      return;
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      skip(where, 'not a JSON object');
      return;
    }
    const record = row as Record<string, unknown>;
    const file = record.file ?? record.image;
    if (typeof file !== 'string' || file.length === 0) {
      skip(where, 'no "file" (or "image") string field');
      return;
    }
    const caption = typeof record.caption === 'string' ? record.caption.trim() : undefined;
    if (caption === undefined || caption.length === 0) {
      skip(`${where} (${file})`, 'no non-empty "caption" string field');
      return;
    }
    const path = resolve(root, file);
    const rel = relative(root, path);
    if (isAbsolute(file) || rel.startsWith('..') || isAbsolute(rel)) {
      skip(`${where} (${file})`, 'path is outside the folder');
      return;
    }
    if (!existsSync(path) || !statSync(path).isFile()) {
      skip(`${where} (${file})`, 'file not found');
      return;
    }
    try {
      const image = fitImage(readPng(path), size, mode, file);
      examples.push({ image, caption, source: rel });
    } catch (err) {
      skip(`${where} (${file})`, (err as Error).message);
    }
  });
  if (examples.length === 0) {
    const why = skipped.length === 0 ? `${CAPTIONS_FILE} has no entries` : `all ${skipped.length} entries were skipped; first: ${skipped[0]!.source}: ${skipped[0]!.reason}`;
    throw new Error(`${folder}: no usable images (${why})`);
  }
  const heldOutCount = Math.floor(examples.length * heldOutFraction);
  const heldOutIndex = new Set<number>();
  if (heldOutCount > 0) {
    const order = examples.map((_, i) => i);
    const rand = mulberry32(seed);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    order.slice(0, heldOutCount).forEach((i) => heldOutIndex.add(i));
  }
  return {
    size,
    train: examples.filter((_, i) => !heldOutIndex.has(i)),
    heldOut: examples.filter((_, i) => heldOutIndex.has(i)),
    skipped,
    description: { spec: 'folder', folder: root, size, mode, images: examples.length, skipped: skipped.length, heldOutFraction, seed },
  };
}
