// The bundled emoji data set: Google's Noto emoji from the npm package emoji-datasource-google (emoji.json and the
// 64 px RGBA PNGs in img/google/64), composited over white and resized to `size` (area averaging; 64 → 32 is an
// exact 2×2 mean). Offline, deterministic: entries in the package's sort order, shuffled by `seed`, cut to `limit`,
// the last `heldOutFraction` of them held out.
//
// Caption: the emoji's name, lower-cased, curly quotes straightened and whitespace collapsed ("grinning face",
// "family: man, boy", "egypt flag"); an entry without a usable name falls back to its short names with "_"/"-" as
// spaces ("flag eg"). Entries without a Google image (has_img_google false) and PNGs that cannot be read are listed
// in `skipped` with the reason.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { mulberry32 } from '../../nn/init.js';
import { fitImage, readPng } from '../png.js';
import type { ImageCaption, ImageCaptionDataset } from '../types.js';

/** The fields of an emoji.json entry this loader reads. */
interface EmojiEntry {
  name?: string | null;
  short_name?: string;
  short_names?: string[];
  unified?: string;
  image?: string;
  category?: string;
  subcategory?: string;
  sort_order?: number;
  has_img_google?: boolean;
}

export interface EmojiDatasetOptions {
  /** Image side (default 32). */
  size?: number;
  /** Use at most this many emoji (after the seeded shuffle; default all). */
  limit?: number;
  /** Shuffle seed (default 0). */
  seed?: number;
  /** Fraction of the chosen emoji put in heldOut (default 0). */
  heldOutFraction?: number;
  /** Package folder (default: resolved from node_modules). */
  packageDir?: string;
}

/** Folder of the installed emoji-datasource-google package. */
export function emojiPackageDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve('emoji-datasource-google/emoji.json'));
  } catch (err) {
    throw new Error(`emoji: the npm package emoji-datasource-google is not installed (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Caption of an emoji entry (see the header). */
export function emojiCaption(entry: EmojiEntry): string {
  const clean = (s: string) =>
    s
      .toLowerCase()
      .replace(/[\u2018\u2019]/gu, "'")
      .replace(/[\u201c\u201d]/gu, '"')
      .replace(/\s+/gu, ' ')
      .trim();
  const name = typeof entry.name === 'string' ? clean(entry.name) : '';
  if (/\p{L}/u.test(name)) return name;
  const shorts = entry.short_names ?? (entry.short_name !== undefined ? [entry.short_name] : []);
  const fromShort = clean(shorts.map((s) => s.replace(/[_-]+/gu, ' ')).join(' '));
  return fromShort.length > 0 ? fromShort : name;
}

/** Seeded Fisher–Yates shuffle (in place). */
function shuffle<T>(items: T[], seed: number): T[] {
  const rand = mulberry32(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Load the emoji data set (see the header). */
export function emojiDataset(opts: EmojiDatasetOptions = {}): ImageCaptionDataset {
  const size = opts.size ?? 32;
  const seed = opts.seed ?? 0;
  const heldOutFraction = opts.heldOutFraction ?? 0;
  if (!Number.isInteger(size) || size < 1) throw new Error(`emoji: size must be a positive integer, got ${size}`);
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) {
    throw new Error(`emoji: limit must be a positive integer, got ${opts.limit}`);
  }
  if (!(heldOutFraction >= 0 && heldOutFraction < 1)) throw new Error(`emoji: heldOutFraction must be in [0, 1), got ${heldOutFraction}`);
  const dir = opts.packageDir ?? emojiPackageDir();
  const jsonPath = join(dir, 'emoji.json');
  let entries: EmojiEntry[];
  try {
    const parsed: unknown = JSON.parse(readFileSync(jsonPath, 'utf8'));
    if (!Array.isArray(parsed)) throw new Error('not a JSON array');
    entries = parsed as EmojiEntry[];
  } catch (err) {
    throw new Error(`emoji: cannot read ${jsonPath} (${(err as Error).message})`);
  }
  const skipped: { source: string; reason: string }[] = [];
  const usable: EmojiEntry[] = [];
  for (const e of entries) {
    const id = e.unified ?? e.image ?? String(e.name);
    if (e.has_img_google !== true) skipped.push({ source: `emoji/${id}`, reason: 'no Google image (has_img_google is false)' });
    else if (typeof e.image !== 'string' || e.image.length === 0) skipped.push({ source: `emoji/${id}`, reason: 'no image file name' });
    else usable.push(e);
  }
  usable.sort((a, b) => (a.sort_order ?? 0) - (b.sort_order ?? 0) || (a.image! < b.image! ? -1 : 1));
  shuffle(usable, seed);
  const examples: ImageCaption[] = [];
  const imageDir = join(dir, 'img', 'google', '64');
  for (const e of usable) {
    if (opts.limit !== undefined && examples.length >= opts.limit) break;
    const path = join(imageDir, e.image!);
    const source = `emoji/${e.image!.replace(/\.png$/u, '')}`;
    if (!existsSync(path)) {
      skipped.push({ source, reason: `image file missing: ${path}` });
      continue;
    }
    try {
      const image = fitImage(readPng(path), size, 'resize', path);
      examples.push({ image, caption: emojiCaption(e), source });
    } catch (err) {
      skipped.push({ source, reason: (err as Error).message });
    }
  }
  if (examples.length === 0) throw new Error(`emoji: no readable images in ${imageDir}`);
  const heldOutCount = Math.floor(examples.length * heldOutFraction);
  return {
    size,
    train: examples.slice(0, examples.length - heldOutCount),
    heldOut: examples.slice(examples.length - heldOutCount),
    skipped,
    description: { spec: 'emoji', size, seed, limit: opts.limit ?? null, heldOutFraction, images: examples.length, package: 'emoji-datasource-google' },
  };
}
