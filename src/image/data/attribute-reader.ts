// A deterministic attribute reader for shape scenes (shapes.ts), using no trained model: it says which objects an
// image shows — colour, shape, size class, position — and whether a caption's every stated attribute holds, to score
// the DALL·E system's samples for caption fidelity (including the held-out colour/shape compositions).
//
// How it reads an image:
// 1. every pixel is classified to the nearest (Euclidean RGB) of white and the six palette colours;
// 2. the non-white pixels are grouped into 4-connected components; components smaller than `speckFraction` of the
//    image (default 0.007 — under a third of the smallest object the renderer draws; at least 3 pixels) are dropped
//    as specks;
// 3. per object: colour = the palette colour nearest the mean of its half of pixels farthest from white (so blurred,
//    whitened edges do not decide it); shape = the best intersection-over-union match of its
//    pixel mask against the renderer's own circle / square / triangle drawn in boxes around its bounding box (sides
//    L−1…L+1, L the box's longer side, shifted by up to a pixel), which is the bounding-box fill ratio test
//    (square 1, circle π/4, upright triangle ½) made exact at small sizes; the fill ratio and aspect are reported;
//    the best template's box stands for the object from here on (a triangle's apex row can vanish at 16 px, so its
//    pixels' bounding box is shorter than the box it was drawn in); size = "large" when that box's side exceeds 0.33
//    of the image (the renderer draws small objects at 0.22–0.28, large ones at 0.38–0.42);
// 4. two objects: the relation of the first to the second along the axis their box centres differ more;
//    one object: every position word that holds ("on the left" when its centre is left of 0.4, "on the right" right
//    of 0.6, "at the top" above 0.4, "at the bottom" below 0.6).
// captionAccuracy parses the caption (parseShapesCaption) and is correct when the object count matches and, under
// the better of the two object pairings, every attribute the caption states matches what was read.
import type { RgbImage } from '../types.js';
import {
  COLOR_NAMES,
  SHAPE_COLORS,
  SHAPE_KINDS,
  parseShapesCaption,
  shapeCovers,
  type Position,
  type Relation,
  type SceneDescription,
  type ShapeColor,
  type ShapeKind,
  type ShapeSize,
} from './shapes.js';

/** Longer bounding-box side (fraction of the image side) above which an object reads as large. */
export const LARGE_SIDE_THRESHOLD = 0.33;
/** Default minimum object area as a fraction of the image area. */
export const DEFAULT_SPECK_FRACTION = 0.007;

export interface ReadObject {
  color: ShapeColor;
  shape: ShapeKind;
  size: ShapeSize;
  /** Pixels in the component. */
  area: number;
  /** Share of the component's pixels classified as `color`. */
  colorShare: number;
  /** Bounding box in pixels. */
  box: { x: number; y: number; width: number; height: number };
  /** The square box of the best-matching template (pixels): where the renderer would have drawn this object. */
  matchBox: { x: number; y: number; side: number };
  /** Centre of matchBox and pixel centroid, as fractions of the image side. */
  center: { x: number; y: number };
  centroid: { x: number; y: number };
  /** area / bounding-box area, and width / height. */
  fill: number;
  aspect: number;
  /** Best template IoU per shape. */
  shapeScores: Record<ShapeKind, number>;
}

export interface ReadScene {
  /** Objects in reading order (top to bottom by centre, then left to right). */
  objects: ReadObject[];
  /** With exactly two objects: objects[0] relative to objects[1]. */
  relation?: Relation;
  /** With exactly one object: every position word that holds for it. */
  positions?: Position[];
  /** Foreground pixels dropped as specks. */
  speckPixels: number;
}

export interface ReadOptions {
  /** Minimum component area as a fraction of the image area (default 0.007). */
  speckFraction?: number;
}

/** Class 0 is white, class k ≥ 1 is COLOR_NAMES[k − 1]. */
const CLASS_RGB: readonly (readonly [number, number, number])[] = [
  [1, 1, 1],
  ...COLOR_NAMES.map((c) => SHAPE_COLORS[c].map((v) => v / 255) as unknown as readonly [number, number, number]),
];

/** Nearest class (white or a palette colour) of every pixel. */
export function classifyPixels(image: RgbImage): Uint8Array {
  const { width, height, data } = image;
  const plane = width * height;
  if (data.length !== 3 * plane) throw new Error(`readScene: image is ${width}×${height} but holds ${data.length} values`);
  const classes = new Uint8Array(plane);
  for (let p = 0; p < plane; p++) {
    const r = data[p]!;
    const g = data[plane + p]!;
    const b = data[2 * plane + p]!;
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < CLASS_RGB.length; k++) {
      const c = CLASS_RGB[k]!;
      const d = (r - c[0]) ** 2 + (g - c[1]) ** 2 + (b - c[2]) ** 2;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    classes[p] = best;
  }
  return classes;
}

/** 4-connected components of the non-white pixels: a label per pixel (0 = background) and the pixel lists. */
function components(classes: Uint8Array, width: number, height: number): number[][] {
  const label = new Int32Array(classes.length);
  const out: number[][] = [];
  const stack: number[] = [];
  for (let start = 0; start < classes.length; start++) {
    if (classes[start] === 0 || label[start] !== 0) continue;
    const id = out.length + 1;
    const pixels: number[] = [];
    label[start] = id;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop()!;
      pixels.push(p);
      const x = p % width;
      const y = (p - x) / width;
      const next = [x > 0 ? p - 1 : -1, x < width - 1 ? p + 1 : -1, y > 0 ? p - width : -1, y < height - 1 ? p + width : -1];
      for (const q of next) {
        if (q >= 0 && classes[q] !== 0 && label[q] === 0) {
          label[q] = id;
          stack.push(q);
        }
      }
    }
    out.push(pixels);
  }
  return out;
}

/** Best IoU of the component mask against `shape` drawn in square boxes around its bounding box, and that box. */
function templateScore(
  shape: ShapeKind,
  mask: Uint8Array,
  box: { x: number; y: number; width: number; height: number },
  area: number,
  imageWidth: number,
  imageHeight: number,
): { iou: number; left: number; top: number; side: number } {
  const longer = Math.max(box.width, box.height);
  let best = { iou: 0, left: box.x, top: box.y, side: longer };
  for (let side = Math.max(2, longer - 1); side <= longer + 1; side++) {
    // Box positions whose square overlaps the bounding box; shifted up to a pixel beyond it.
    for (let top = box.y + box.height - side - 1; top <= box.y + 1; top++) {
      for (let left = box.x + box.width - side - 1; left <= box.x + 1; left++) {
        let inter = 0;
        let templateArea = 0;
        for (let py = Math.max(0, top); py < Math.min(imageHeight, top + side); py++) {
          for (let px = Math.max(0, left); px < Math.min(imageWidth, left + side); px++) {
            if (!shapeCovers(shape, left, top, side, px, py)) continue;
            templateArea++;
            if (mask[py * imageWidth + px] === 1) inter++;
          }
        }
        const union = area + templateArea - inter;
        if (union > 0 && inter / union > best.iou) best = { iou: inter / union, left, top, side };
      }
    }
  }
  return best;
}

/**
 * Colour class of a component: the palette colour nearest the mean RGB of its "core" — the half of its pixels
 * farthest from white. Blurred edges (palette colour mixed with white, which can land nearer another colour: red
 * edges read orange) then do not outvote the interior, and noise averages out.
 */
function coreColorClass(pixels: number[], image: RgbImage): number {
  const { data } = image;
  const plane = image.width * image.height;
  const whiteness = pixels.map((p) => (1 - data[p]!) ** 2 + (1 - data[plane + p]!) ** 2 + (1 - data[2 * plane + p]!) ** 2);
  const sorted = [...whiteness].sort((a, b) => a - b);
  const cut = sorted[Math.floor(sorted.length / 2)]!;
  let r = 0;
  let g = 0;
  let b = 0;
  let n = 0;
  pixels.forEach((p, i) => {
    if (whiteness[i]! < cut) return;
    r += data[p]!;
    g += data[plane + p]!;
    b += data[2 * plane + p]!;
    n++;
  });
  let best = 1;
  let bestD = Infinity;
  for (let k = 1; k < CLASS_RGB.length; k++) {
    const c = CLASS_RGB[k]!;
    const d = (r / n - c[0]) ** 2 + (g / n - c[1]) ** 2 + (b / n - c[2]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

function readObject(pixels: number[], classes: Uint8Array, image: RgbImage): ReadObject {
  const { width, height } = image;
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  let sumX = 0;
  let sumY = 0;
  const votes = new Array<number>(CLASS_RGB.length).fill(0);
  for (const p of pixels) {
    const x = p % width;
    const y = (p - x) / width;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
    sumX += x + 0.5;
    sumY += y + 0.5;
    votes[classes[p]!]!++;
  }
  const colorClass = coreColorClass(pixels, image);
  const box = { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
  const mask = new Uint8Array(width * height);
  for (const p of pixels) mask[p] = 1;
  const matches = SHAPE_KINDS.map((s) => templateScore(s, mask, box, pixels.length, width, height));
  const shapeScores = Object.fromEntries(SHAPE_KINDS.map((s, k) => [s, matches[k]!.iou])) as Record<ShapeKind, number>;
  let bestK = 0;
  for (let k = 1; k < SHAPE_KINDS.length; k++) if (matches[k]!.iou > matches[bestK]!.iou) bestK = k;
  const match = matches[bestK]!;
  return {
    color: COLOR_NAMES[colorClass - 1]!,
    shape: SHAPE_KINDS[bestK]!,
    size: match.side / Math.max(width, height) > LARGE_SIDE_THRESHOLD ? 'large' : 'small',
    area: pixels.length,
    colorShare: votes[colorClass]! / pixels.length,
    box,
    matchBox: { x: match.left, y: match.top, side: match.side },
    center: { x: (match.left + match.side / 2) / width, y: (match.top + match.side / 2) / height },
    centroid: { x: sumX / pixels.length / width, y: sumY / pixels.length / height },
    fill: pixels.length / (box.width * box.height),
    aspect: box.width / box.height,
    shapeScores,
  };
}

/** Relation of `a` to `b` along the axis their box centres differ more (ties go to the vertical axis). */
export function relationBetween(a: ReadObject, b: ReadObject): Relation {
  const dx = a.center.x - b.center.x;
  const dy = a.center.y - b.center.y;
  if (Math.abs(dy) >= Math.abs(dx)) return dy < 0 ? 'above' : 'below';
  return dx < 0 ? 'left of' : 'right of';
}

/** Every position word that holds for an object. */
export function positionsOf(o: ReadObject): Position[] {
  const out: Position[] = [];
  if (o.center.x < 0.4) out.push('on the left');
  if (o.center.x > 0.6) out.push('on the right');
  if (o.center.y < 0.4) out.push('at the top');
  if (o.center.y > 0.6) out.push('at the bottom');
  return out;
}

/** Read the objects of a shape-scene image (see the header for how). */
export function readScene(image: RgbImage, opts: ReadOptions = {}): ReadScene {
  const { width, height } = image;
  const classes = classifyPixels(image);
  const minArea = Math.max(3, (opts.speckFraction ?? DEFAULT_SPECK_FRACTION) * width * height);
  let speckPixels = 0;
  const objects: ReadObject[] = [];
  for (const pixels of components(classes, width, height)) {
    if (pixels.length < minArea) speckPixels += pixels.length;
    else objects.push(readObject(pixels, classes, image));
  }
  objects.sort((a, b) => a.center.y - b.center.y || a.center.x - b.center.x);
  const scene: ReadScene = { objects, speckPixels };
  if (objects.length === 2) scene.relation = relationBetween(objects[0]!, objects[1]!);
  if (objects.length === 1) scene.positions = positionsOf(objects[0]!);
  return scene;
}

export interface CaptionCheck {
  /** Every attribute the caption states holds in the image. */
  correct: boolean;
  /** What the caption says (undefined: not understood). */
  parsed: SceneDescription | undefined;
  read: ReadScene;
  /** Why it is not correct (empty when correct). */
  reasons: string[];
}

function objectMismatches(said: SceneDescription['objects'][number], seen: ReadObject, which: string): string[] {
  const out: string[] = [];
  if (said.color !== undefined && said.color !== seen.color) out.push(`${which} object is ${seen.color}, not ${said.color}`);
  if (said.shape !== undefined && said.shape !== seen.shape) out.push(`${which} object is a ${seen.shape}, not a ${said.shape}`);
  if (said.size !== undefined && said.size !== seen.size) out.push(`${which} object is ${seen.size}, not ${said.size}`);
  return out;
}

/** Check an image against a caption (or an already parsed description): correct when every stated attribute holds. */
export function captionAccuracy(caption: string | SceneDescription, image: RgbImage, opts: ReadOptions = {}): CaptionCheck {
  const parsed = typeof caption === 'string' ? parseShapesCaption(caption) : caption;
  const read = readScene(image, opts);
  if (parsed === undefined) return { correct: false, parsed, read, reasons: [`caption not understood: ${JSON.stringify(caption)}`] };
  const said = parsed.objects;
  if (said.length !== read.objects.length) {
    const n = read.objects.length;
    return { correct: false, parsed, read, reasons: [`caption has ${said.length} object(s), the image shows ${n}`] };
  }
  let reasons: string[];
  if (said.length === 1) {
    const seen = read.objects[0]!;
    reasons = objectMismatches(said[0]!, seen, 'the');
    if (parsed.position !== undefined && !read.positions!.includes(parsed.position)) {
      const where = read.positions!.length > 0 ? read.positions!.join(', ') : 'in the middle';
      reasons.push(`the object is ${where}, not ${parsed.position}`);
    }
  } else {
    const tryPairing = (first: ReadObject, second: ReadObject): string[] => {
      const r = [...objectMismatches(said[0]!, first, 'first'), ...objectMismatches(said[1]!, second, 'second')];
      if (parsed.relation !== undefined) {
        const actual = relationBetween(first, second);
        if (actual !== parsed.relation) r.push(`the first object is ${actual} the second, not ${parsed.relation}`);
      }
      return r;
    };
    const [a, b] = read.objects as [ReadObject, ReadObject];
    const forward = tryPairing(a, b);
    const backward = tryPairing(b, a);
    reasons = backward.length < forward.length ? backward : forward;
  }
  return { correct: reasons.length === 0, parsed, read, reasons };
}

/** Share of (caption, image) pairs whose image satisfies its caption. */
export function captionFidelity(
  pairs: readonly { caption: string; image: RgbImage }[],
  opts: ReadOptions = {},
): { total: number; correct: number; accuracy: number } {
  let correct = 0;
  for (const { caption, image } of pairs) if (captionAccuracy(caption, image, opts).correct) correct++;
  return { total: pairs.length, correct, accuracy: pairs.length === 0 ? 0 : correct / pairs.length };
}
