// An RGBA pixel canvas for the report plots: rectangles, thick lines, marker shapes and bitmap-font text (horizontal
// or rotated to read bottom-to-top), with an optional clip rectangle, encoded to PNG with pngjs.

import pngjs from 'pngjs';
import { GLYPH_HEIGHT, GLYPH_SPACING, GLYPH_WIDTH, glyphPixel } from './bitmap-font.js';

export type Rgb = readonly [number, number, number];
export type MarkerShape = 'circle' | 'square' | 'diamond' | 'triangle';

export interface Rect {
  left: number;
  top: number;
  /** Inclusive. */
  right: number;
  /** Inclusive. */
  bottom: number;
}

/** "#rrggbb" → [r, g, b]. */
export function hexColour(hex: string): Rgb {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`not a #rrggbb colour: ${JSON.stringify(hex)}`);
  return [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
}

export class Raster {
  readonly data: Buffer;
  /** Drawing outside this rectangle is dropped; undefined = the whole canvas. */
  clip: Rect | undefined;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new Error(`raster size must be positive integers, got ${width}×${height}`);
    }
    this.data = Buffer.alloc(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      this.data[i * 4] = background[0];
      this.data[i * 4 + 1] = background[1];
      this.data[i * 4 + 2] = background[2];
      this.data[i * 4 + 3] = 255;
    }
  }

  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const k = this.clip;
    if (k && (x < k.left || x > k.right || y < k.top || y > k.bottom)) return;
    const i = (y * this.width + x) * 4;
    this.data[i] = c[0];
    this.data[i + 1] = c[1];
    this.data[i + 2] = c[2];
  }

  get(x: number, y: number): Rgb {
    const i = (y * this.width + x) * 4;
    return [this.data[i]!, this.data[i + 1]!, this.data[i + 2]!];
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, c);
  }

  /** Outline of a rectangle, 1 px, corners inclusive. */
  strokeRect(r: Rect, c: Rgb): void {
    for (let x = r.left; x <= r.right; x++) {
      this.set(x, r.top, c);
      this.set(x, r.bottom, c);
    }
    for (let y = r.top; y <= r.bottom; y++) {
      this.set(r.left, y, c);
      this.set(r.right, y, c);
    }
  }

  /** A straight line of the given thickness (a square brush stamped along Bresenham's path). */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    let x = Math.round(x0);
    let y = Math.round(y0);
    const xe = Math.round(x1);
    const ye = Math.round(y1);
    const dx = Math.abs(xe - x);
    const dy = -Math.abs(ye - y);
    const sx = x < xe ? 1 : -1;
    const sy = y < ye ? 1 : -1;
    const lo = -Math.floor((thickness - 1) / 2);
    const hi = lo + thickness - 1;
    let err = dx + dy;
    for (;;) {
      for (let j = lo; j <= hi; j++) for (let i = lo; i <= hi; i++) this.set(x + i, y + j, c);
      if (x === xe && y === ye) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y += sy;
      }
    }
  }

  /** A filled marker of "radius" r centred on (cx, cy). */
  marker(shape: MarkerShape, cx: number, cy: number, r: number, c: Rgb): void {
    cx = Math.round(cx);
    cy = Math.round(cy);
    for (let j = -r; j <= r; j++) {
      for (let i = -r; i <= r; i++) {
        const inside =
          shape === 'circle'
            ? i * i + j * j <= r * r + r
            : shape === 'square'
              ? true
              : shape === 'diamond'
                ? Math.abs(i) + Math.abs(j) <= r
                : j >= -r && Math.abs(i) <= (j + r) / 2; // triangle, apex up
        if (inside) this.set(cx + i, cy + j, c);
      }
    }
  }

  /** Text with its top-left corner at (x, y), each font pixel a scale×scale block. */
  text(s: string, x: number, y: number, c: Rgb, scale = 1): void {
    this.glyphs(s, scale, (u, v) => this.set(x + u, y + v, c));
  }

  /** Text rotated 90° counter-clockwise (reading bottom to top), the glyph tops facing left; (x, y) is its bottom-left. */
  textUp(s: string, x: number, y: number, c: Rgb, scale = 1): void {
    this.glyphs(s, scale, (u, v) => this.set(x + v, y - u, c));
  }

  private glyphs(s: string, scale: number, plot: (u: number, v: number) => void): void {
    let pen = 0;
    for (const ch of s) {
      for (let row = 0; row < GLYPH_HEIGHT; row++) {
        for (let col = 0; col < GLYPH_WIDTH; col++) {
          if (!glyphPixel(ch, col, row)) continue;
          for (let j = 0; j < scale; j++) for (let i = 0; i < scale; i++) plot(pen + col * scale + i, row * scale + j);
        }
      }
      pen += (GLYPH_WIDTH + GLYPH_SPACING) * scale;
    }
  }

  toPng(): Buffer {
    const png = new pngjs.PNG({ width: this.width, height: this.height });
    this.data.copy(png.data);
    return pngjs.PNG.sync.write(png);
  }
}
