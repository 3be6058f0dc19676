// PNG input/output and the few image operations the DALL·E data needs, on planar RGB float32 images (types.ts).
//
// - readPng / decodePng: any PNG pngjs reads (grey, grey+alpha, palette, RGB, RGBA; 8 or 16 bit, which pngjs scales
//   to 8 bit), alpha composited over white. A file that is not a PNG, is truncated or corrupt, or declares an absurd
//   size is refused with an Error naming the file and the reason.
// - writePng / encodePng: 8-bit RGB PNG (values clamped to [0, 1] and rounded to the nearest of 256 levels, so a
//   write → read round trip is within 1/510 of the input); writePng replaces the file atomically.
// - resizeImage: separable linear resampling per axis — area averaging (box filter with fractional pixel coverage)
//   where the axis shrinks, bilinear (or nearest) interpolation on pixel centres where it grows. 64 → 32 is an exact
//   2×2 mean; the same size is the identity.
// - fitImage: an image of another size is resized or refused ("NAME is W×H, the model takes S×S (pass --resize …)").
// - imageGrid: images tiled into one image with padding and optional labels in a built-in 3×5 bitmap font.
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { writeFileAtomicSync } from '../io/atomic.js';
import type { RgbImage } from './types.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Largest side and pixel count readPng accepts (a 16k×16k image is already 3 GiB of float32). */
export const MAX_PNG_SIDE = 16384;
export const MAX_PNG_PIXELS = 64 * 1024 * 1024;

/** A blank image of the given size filled with one grey level (default white). */
export function blankImage(width: number, height: number, value = 1): RgbImage {
  const data = new Float32Array(3 * width * height);
  data.fill(value);
  return { width, height, data };
}

/** Read a PNG file into a planar RGB image (alpha over white). Throws an Error naming `path` on any failure. */
export function readPng(path: string): RgbImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return decodePng(bytes, path);
}

/** Read the width and height a PNG's IHDR declares, or a reason it cannot be a PNG. */
function pngHeader(bytes: Uint8Array): { width: number; height: number } | string {
  if (bytes.length < 8 || !PNG_SIGNATURE.equals(Buffer.from(bytes.subarray(0, 8)))) return 'not a PNG file (bad signature)';
  if (bytes.length < 33) return 'truncated PNG (no complete IHDR chunk)';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(bytes[12]!, bytes[13]!, bytes[14]!, bytes[15]!);
  if (type !== 'IHDR' || view.getUint32(8) !== 13) return 'corrupt PNG (first chunk is not a 13-byte IHDR)';
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** Decode PNG bytes into a planar RGB image (alpha composited over white); `name` is used in error messages. */
export function decodePng(bytes: Uint8Array, name: string): RgbImage {
  const header = pngHeader(bytes);
  if (typeof header === 'string') throw new Error(`${name}: ${header}`);
  const { width, height } = header;
  if (width === 0 || height === 0) throw new Error(`${name}: corrupt PNG (size ${width}×${height})`);
  if (width > MAX_PNG_SIDE || height > MAX_PNG_SIDE || width * height > MAX_PNG_PIXELS) {
    throw new Error(`${name}: PNG is ${width}×${height}, larger than the ${MAX_PNG_SIDE}-pixel side / ${MAX_PNG_PIXELS}-pixel limit`);
  }
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  } catch (err) {
    const message = (err as Error).message;
    // pngjs's words for image data that stops early.
    const reason = /read requests waiting|read requests waitng|unexpected end/iu.test(message) ? 'image data ends early (truncated file)' : message;
    throw new Error(`${name}: corrupt PNG (${reason})`);
  }
  if (png.width !== width || png.height !== height || png.data.length < 4 * width * height) {
    throw new Error(`${name}: corrupt PNG (decoded ${png.width}×${png.height}, ${png.data.length} bytes, header says ${width}×${height})`);
  }
  return rgbaToImage(png.data, width, height);
}

/** Planar RGB from interleaved 8-bit RGBA, composited over white: c' = (c·a + 255·(255 − a)) / 255². */
export function rgbaToImage(rgba: Uint8Array, width: number, height: number): RgbImage {
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    const a = rgba[4 * p + 3]! / 255;
    const white = 1 - a;
    data[p] = (rgba[4 * p]! / 255) * a + white;
    data[plane + p] = (rgba[4 * p + 1]! / 255) * a + white;
    data[2 * plane + p] = (rgba[4 * p + 2]! / 255) * a + white;
  }
  return { width, height, data };
}

function checkImage(image: RgbImage, what: string): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${what}: bad image size ${width}×${height}`);
  }
  if (data.length !== 3 * width * height) {
    throw new Error(`${what}: image is ${width}×${height} but holds ${data.length} values (expected ${3 * width * height})`);
  }
}

/** 8-bit level of a value in [0, 1] (clamped; NaN → 0). */
function toByte(v: number): number {
  if (!(v > 0)) return 0;
  if (v >= 1) return 255;
  return Math.round(v * 255);
}

/** Encode an image as an 8-bit RGB PNG. */
export function encodePng(image: RgbImage): Buffer {
  checkImage(image, 'encodePng');
  const { width, height, data } = image;
  const plane = width * height;
  const png = new PNG({ width, height, colorType: 2, inputColorType: 6, inputHasAlpha: true, bitDepth: 8 });
  for (let p = 0; p < plane; p++) {
    png.data[4 * p] = toByte(data[p]!);
    png.data[4 * p + 1] = toByte(data[plane + p]!);
    png.data[4 * p + 2] = toByte(data[2 * plane + p]!);
    png.data[4 * p + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: 2, inputColorType: 6, inputHasAlpha: true, bitDepth: 8 });
}

/** Write an image as an 8-bit RGB PNG (atomic replace). */
export function writePng(path: string, image: RgbImage): void {
  writeFileAtomicSync(path, encodePng(image));
}

/** How resizeImage fills in pixels along an axis that grows. */
export type UpscaleFilter = 'bilinear' | 'nearest';

/**
 * Resampling weights of one axis, `from` → `to` pixels, as a dense (to × from) row-major matrix.
 * Shrinking: output pixel i covers input interval [i·r, (i+1)·r) with r = from/to; each input pixel weighs by the
 * length of its overlap, normalised (area averaging). Growing: output pixel centre (i + ½)·r − ½ in input pixel
 * coordinates, linearly interpolated between its two neighbours (edges clamped), or the nearest pixel.
 */
function axisWeights(from: number, to: number, upscale: UpscaleFilter): Float64Array {
  const w = new Float64Array(to * from);
  const r = from / to;
  if (from === to) {
    for (let i = 0; i < to; i++) w[i * from + i] = 1;
  } else if (to < from) {
    for (let i = 0; i < to; i++) {
      const lo = i * r;
      const hi = (i + 1) * r;
      for (let j = Math.floor(lo); j < Math.min(from, Math.ceil(hi)); j++) {
        const overlap = Math.min(hi, j + 1) - Math.max(lo, j);
        if (overlap > 0) w[i * from + j] = overlap / r;
      }
    }
  } else {
    for (let i = 0; i < to; i++) {
      const c = (i + 0.5) * r - 0.5;
      if (upscale === 'nearest') {
        w[i * from + Math.min(from - 1, Math.max(0, Math.round(c)))] = 1;
        continue;
      }
      const j0 = Math.floor(c);
      const t = c - j0;
      const a = Math.min(from - 1, Math.max(0, j0));
      const b = Math.min(from - 1, Math.max(0, j0 + 1));
      w[i * from + a] += 1 - t;
      w[i * from + b] += t;
    }
  }
  return w;
}

/**
 * Resize to `size`×`size` (a number) or to {width, height}: area averaging along an axis that shrinks, bilinear
 * (default) or nearest-neighbour interpolation along one that grows. Each axis is resampled on its own, so a
 * non-square image is stretched (no cropping). Returns the input itself when the size already matches.
 */
export function resizeImage(
  image: RgbImage,
  size: number | { width: number; height: number },
  opts: { upscale?: UpscaleFilter } = {},
): RgbImage {
  checkImage(image, 'resizeImage');
  const outW = typeof size === 'number' ? size : size.width;
  const outH = typeof size === 'number' ? size : size.height;
  if (!Number.isInteger(outW) || !Number.isInteger(outH) || outW < 1 || outH < 1) {
    throw new Error(`resizeImage: bad target size ${outW}×${outH}`);
  }
  const { width: inW, height: inH, data } = image;
  if (outW === inW && outH === inH) return image;
  const upscale = opts.upscale ?? 'bilinear';
  const wx = axisWeights(inW, outW, upscale);
  const wy = axisWeights(inH, outH, upscale);
  // Non-zero span [xFrom, xTo) of each output column's weights (at most a few input pixels wide per output pixel).
  const xFrom = new Int32Array(outW);
  const xTo = new Int32Array(outW);
  for (let k = 0; k < outW; k++) {
    let lo = 0;
    while (lo < inW - 1 && wx[k * inW + lo] === 0) lo++;
    let hi = inW;
    while (hi > lo + 1 && wx[k * inW + hi - 1] === 0) hi--;
    xFrom[k] = lo;
    xTo[k] = hi;
  }
  const out = new Float32Array(3 * outW * outH);
  const rows = new Float64Array(outH * inW); // vertical pass of one channel
  for (let ch = 0; ch < 3; ch++) {
    const src = ch * inW * inH;
    rows.fill(0);
    for (let i = 0; i < outH; i++) {
      for (let j = 0; j < inH; j++) {
        const wt = wy[i * inH + j]!;
        if (wt === 0) continue;
        for (let x = 0; x < inW; x++) rows[i * inW + x]! += wt * data[src + j * inW + x]!;
      }
    }
    const dst = ch * outW * outH;
    for (let i = 0; i < outH; i++) {
      for (let k = 0; k < outW; k++) {
        let acc = 0;
        for (let x = xFrom[k]!; x < xTo[k]!; x++) acc += wx[k * inW + x]! * rows[i * inW + x]!;
        out[dst + i * outW + k] = Math.min(1, Math.max(0, acc));
      }
    }
  }
  return { width: outW, height: outH, data: out };
}

/** What to do with an image that is not the model's size. */
export type FitMode = 'resize' | 'refuse';

/**
 * Make `image` `size`×`size`: returned as is when it already is; resized with resizeImage under 'resize'; under
 * 'refuse' an Error "NAME is W×H, the model takes S×S (pass --resize to resize it)".
 */
export function fitImage(image: RgbImage, size: number, mode: FitMode, name: string): RgbImage {
  checkImage(image, name);
  if (image.width === size && image.height === size) return image;
  if (mode === 'refuse') {
    throw new Error(`${name} is ${image.width}×${image.height}, the model takes ${size}×${size} (pass --resize to resize it)`);
  }
  return resizeImage(image, size);
}

// ---------------------------------------------------------------------------------------------------------------
// Image grids with labels in a 3×5 bitmap font.

/** 3×5 glyphs, one string of 15 '#'/'.' cells per character, rows top to bottom. Lower case maps to these. */
const FONT: Record<string, string> = {
  a: '.#.#.#####.##.#', b: '##.#.###.#.###.', c: '.###..#..#...##',
  d: '##.#.##.##.###.', e: '####..##.#..###', f: '####..##.#..#..',
  g: '.###..#.##.#.##', h: '#.##.#####.##.#', i: '###.#..#..#.###',
  j: '..#..#..##.#.#.', k: '#.##.###.#.##.#', l: '#..#..#..#..###',
  m: '#.########.##.#', n: '##.#.##.##.##.#', o: '.#.#.##.##.#.#.',
  p: '##.#.###.#..#..', q: '.#.#.##.#.#...#', r: '##.#.###.#.##.#',
  s: '.###...#...###.', t: '###.#..#..#..#.', u: '#.##.##.##.####',
  v: '#.##.##.##.#.#.', w: '#.##.########.#', x: '#.##.#.#.#.##.#',
  y: '#.##.#.#..#..#.', z: '###..#.#.#..###', 0: '####.##.##.####',
  1: '.#.##..#..#.###', 2: '##...#.#.#..###', 3: '##...#.#...###.',
  4: '#.##.####..#..#', 5: '####..##...###.', 6: '.###..####.####',
  7: '###..#.#..#..#.', 8: '####.#####.####', 9: '####.####..###.',
  ' ': '...............', '.': '.............#.', ',': '..........#.#..',
  '-': '......###......', ':': '....#.....#....', "'": '.#..#..........',
  '?': '##...#.#.....#.', '!': '.#..#..#.....#.', '/': '..#..#.#.#..#..',
  '(': '.#.#..#..#...#.', ')': '.#...#..#..#.#.', '&': '.#.#.#.#.#.#.##',
  '+': '....#.###.#....', '#': '#.#####.#####.#', '*': '#.#.#.###.#.#.#',
  '=': '...###...###...', '_': '............###', '%': '#.#..#.#.#..#.#',
};
const GLYPH_W = 3;
const GLYPH_H = 5;
/** Missing glyphs (and the few malformed strings above, if any) render as a hollow box. */
const FALLBACK_GLYPH = '####.##.##.####';

function glyph(ch: string): string {
  const g = FONT[ch.toLowerCase()];
  return g !== undefined && g.length === GLYPH_W * GLYPH_H ? g : ch === ' ' ? '.'.repeat(15) : FALLBACK_GLYPH;
}

/** Greedy word wrap to lines of at most `maxChars` characters, at most `maxLines` lines (the last one cut). */
function wrapLabel(label: string, maxChars: number, maxLines: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of label.split(/\s+/).filter((w) => w.length > 0)) {
    const next = line.length === 0 ? word : `${line} ${word}`;
    if (next.length <= maxChars) {
      line = next;
      continue;
    }
    if (line.length > 0) lines.push(line);
    line = word.slice(0, maxChars);
  }
  if (line.length > 0) lines.push(line);
  return lines.slice(0, maxLines);
}

/** Draw `text` at (x, y) in the 3×5 font (4-pixel advance), clipped to the image. */
export function drawText(image: RgbImage, text: string, x: number, y: number, value = 0): void {
  const { width, height, data } = image;
  const plane = width * height;
  for (let c = 0; c < text.length; c++) {
    const g = glyph(text[c]!);
    for (let gy = 0; gy < GLYPH_H; gy++) {
      for (let gx = 0; gx < GLYPH_W; gx++) {
        if (g[gy * GLYPH_W + gx] !== '#') continue;
        const px = x + c * (GLYPH_W + 1) + gx;
        const py = y + gy;
        if (px < 0 || py < 0 || px >= width || py >= height) continue;
        const p = py * width + px;
        data[p] = value;
        data[plane + p] = value;
        data[2 * plane + p] = value;
      }
    }
  }
}

export interface GridOptions {
  /** Pixels between and around cells (default 2). */
  pad?: number;
  /** One label per image, drawn under it in a 3×5 font, wrapped to the cell width (omit for no labels). */
  labels?: readonly string[];
  /** Label lines per cell (default 2). */
  labelLines?: number;
  /** Grey level of the padding (default 0.75, so white-background images stay distinct). */
  background?: number;
}

/**
 * Tile images row by row into one image, `cols` per row; each cell is as large as the largest image (smaller ones
 * sit at the cell's top-left). With labels, each cell gets `labelLines` lines of text (5 px + 1 px each) under it.
 */
export function imageGrid(images: readonly RgbImage[], cols: number, opts: GridOptions = {}): RgbImage {
  if (images.length === 0) throw new Error('imageGrid: no images');
  if (!Number.isInteger(cols) || cols < 1) throw new Error(`imageGrid: bad column count ${cols}`);
  images.forEach((im, i) => checkImage(im, `imageGrid image ${i}`));
  const pad = opts.pad ?? 2;
  const labels = opts.labels;
  if (labels !== undefined && labels.length !== images.length) {
    throw new Error(`imageGrid: ${labels.length} labels for ${images.length} images`);
  }
  const labelLines = labels === undefined ? 0 : (opts.labelLines ?? 2);
  const cellW = Math.max(...images.map((im) => im.width));
  const cellH = Math.max(...images.map((im) => im.height));
  const labelH = labelLines === 0 ? 0 : 1 + labelLines * (GLYPH_H + 1);
  const rowsN = Math.ceil(images.length / cols);
  const colsN = Math.min(cols, images.length);
  const width = pad + colsN * (cellW + pad);
  const height = pad + rowsN * (cellH + labelH + pad);
  const grid = blankImage(width, height, opts.background ?? 0.75);
  const plane = width * height;
  images.forEach((im, i) => {
    const x0 = pad + (i % cols) * (cellW + pad);
    const y0 = pad + Math.floor(i / cols) * (cellH + labelH + pad);
    const srcPlane = im.width * im.height;
    for (let ch = 0; ch < 3; ch++) {
      for (let y = 0; y < im.height; y++) {
        const src = ch * srcPlane + y * im.width;
        grid.data.set(im.data.subarray(src, src + im.width), ch * plane + (y0 + y) * width + x0);
      }
    }
    if (labels !== undefined) {
      const maxChars = Math.max(1, Math.floor((cellW + 1) / (GLYPH_W + 1)));
      wrapLabel(labels[i]!, maxChars, labelLines).forEach((line, l) => {
        drawText(grid, line, x0, y0 + cellH + 1 + l * (GLYPH_H + 1), 0);
      });
    }
  });
  return grid;
}
