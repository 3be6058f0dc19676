// Procedural shape scenes for the DALL·E system: one or two flat-coloured objects on white, with captions that state
// every attribute, drawn deterministically from a seed and rendered without anti-aliasing (every pixel is white or
// exactly one palette colour), so attribute-reader.ts can check a generated image against its caption exactly.
//
// Caption grammar (lower case; training captions always state colour, shape and size):
//   caption  := object [" " position] | object " " relation " " object
//   object   := "a " size " " colour " " shape
//   size     := "small" | "large"
//   colour   := "red" | "green" | "blue" | "yellow" | "purple" | "orange"
//   shape    := "circle" | "square" | "triangle"
//   relation := "above" | "below" | "left of" | "right of"           (the first object relative to the second)
//   position := "on the left" | "on the right" | "at the top" | "at the bottom"
// e.g. "a large blue square above a small yellow triangle", "a small red circle", "a large green circle at the top".
// A single object without a position word may be anywhere; half of the single-object scenes carry one.
// parseShapesCaption also reads looser user input: articles "a"/"an"/"the" or none, "big"/"little"/"tiny" for the
// sizes, "to the left of"/"on the left of"/"under"/"beneath"/"over"/"on top of", size or colour left out, a trailing
// full stop; whatever it leaves out is unconstrained.
//
// Geometry (fractions of the image side, so one scene renders at any size): objects are axis-aligned; a small
// object's bounding box side is 0.22–0.28, a large one's 0.38–0.42; triangles point up (apex at the top centre of
// the box, base along its bottom). Two objects are separated by a gap of at least 0.14 along the relation's axis and
// their centres differ more along that axis than across it (at most half as much across). Positioned single objects
// have their centre in the outer 35% of the named side and within the middle 30% across it.
//
// Held-out compositions (heldOutCombos): purple triangle, orange circle, green square never appear in
// shapesDataset's training scenes; its heldOut scenes each contain at least one of them.
import { mulberry32 } from '../../nn/init.js';
import { blankImage } from '../png.js';
import type { ImageCaption, ImageCaptionDataset, RgbImage } from '../types.js';

/** The palette: name → 8-bit RGB. Scenes use these exact values (divided by 255). */
export const SHAPE_COLORS = {
  red: [230, 25, 75],
  green: [60, 180, 75],
  blue: [0, 130, 200],
  yellow: [255, 225, 25],
  purple: [145, 30, 180],
  orange: [245, 130, 48],
} as const satisfies Record<string, readonly [number, number, number]>;
export type ShapeColor = keyof typeof SHAPE_COLORS;
export const COLOR_NAMES = Object.keys(SHAPE_COLORS) as ShapeColor[];

export const SHAPE_KINDS = ['circle', 'square', 'triangle'] as const;
export type ShapeKind = (typeof SHAPE_KINDS)[number];

export const SHAPE_SIZES = ['small', 'large'] as const;
export type ShapeSize = (typeof SHAPE_SIZES)[number];

export const RELATIONS = ['above', 'below', 'left of', 'right of'] as const;
export type Relation = (typeof RELATIONS)[number];

export const POSITIONS = ['on the left', 'on the right', 'at the top', 'at the bottom'] as const;
export type Position = (typeof POSITIONS)[number];

/** Bounding-box side (fraction of the image side) of each size class: [min, max]. */
export const SIZE_RANGES: Record<ShapeSize, readonly [number, number]> = { small: [0.22, 0.28], large: [0.38, 0.42] };
/** Minimum gap between two objects along the relation's axis (fraction of the image side). */
export const MIN_GAP = 0.14;

/** The (colour, shape) pairs that never appear in training scenes. */
export const heldOutCombos: readonly { color: ShapeColor; shape: ShapeKind }[] = [
  { color: 'purple', shape: 'triangle' },
  { color: 'orange', shape: 'circle' },
  { color: 'green', shape: 'square' },
];

export function isHeldOutCombo(color: ShapeColor, shape: ShapeKind): boolean {
  return heldOutCombos.some((c) => c.color === color && c.shape === shape);
}

export interface ShapeAttributes {
  color: ShapeColor;
  shape: ShapeKind;
  size: ShapeSize;
}

/** An object placed in a scene: its attributes and its square bounding box (top-left x, y and side, in [0, 1]). */
export interface PlacedShape extends ShapeAttributes {
  x: number;
  y: number;
  side: number;
}

/** A scene: one object (optionally with a position word) or two objects with `relation` (objects[0] relative to objects[1]). */
export interface Scene {
  objects: PlacedShape[];
  relation?: Relation;
  position?: Position;
}

/** What a caption says about a scene; attributes it leaves out are undefined (unconstrained). */
export interface SceneDescription {
  objects: { color?: ShapeColor; shape?: ShapeKind; size?: ShapeSize }[];
  relation?: Relation;
  position?: Position;
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

/** Bounding box in pixels of a placed object at image side `size`: edges rounded independently, side ≥ 2. */
export function pixelBox(obj: Pick<PlacedShape, 'x' | 'y' | 'side'>, size: number): { left: number; top: number; side: number } {
  const side = Math.max(2, Math.round(obj.side * size));
  const left = Math.min(size - side, Math.max(0, Math.round(obj.x * size)));
  const top = Math.min(size - side, Math.max(0, Math.round(obj.y * size)));
  return { left, top, side };
}

/**
 * Whether pixel (px, py) belongs to `shape` drawn in the square box (left, top, side): the pixel's centre is tested.
 * Circle: inside the inscribed circle. Square: the whole box. Triangle: apex at the top centre, base the bottom edge.
 */
export function shapeCovers(shape: ShapeKind, left: number, top: number, side: number, px: number, py: number): boolean {
  const u = px + 0.5 - left; // position in the box, pixels
  const v = py + 0.5 - top;
  if (u < 0 || v < 0 || u > side || v > side) return false;
  switch (shape) {
    case 'square':
      return true;
    case 'circle': {
      const r = side / 2;
      return (u - r) * (u - r) + (v - r) * (v - r) <= r * r;
    }
    case 'triangle':
      return Math.abs(u - side / 2) <= (v / side) * (side / 2);
  }
}

/** Render a scene at `size`×`size`: white background, each object in its exact palette colour, no anti-aliasing. */
export function renderScene(scene: Scene, size: number): RgbImage {
  if (!Number.isInteger(size) || size < 8) throw new Error(`renderScene: size must be an integer ≥ 8, got ${size}`);
  const image = blankImage(size, size, 1);
  const plane = size * size;
  for (const obj of scene.objects) {
    const { left, top, side } = pixelBox(obj, size);
    const rgb = SHAPE_COLORS[obj.color];
    for (let py = top; py < top + side; py++) {
      for (let px = left; px < left + side; px++) {
        if (!shapeCovers(obj.shape, left, top, side, px, py)) continue;
        const p = py * size + px;
        image.data[p] = rgb[0] / 255;
        image.data[plane + p] = rgb[1] / 255;
        image.data[2 * plane + p] = rgb[2] / 255;
      }
    }
  }
  return image;
}

// ---------------------------------------------------------------------------------------------------------------
// Captions

function objectPhrase(o: { color?: ShapeColor; shape?: ShapeKind; size?: ShapeSize }): string {
  return ['a', o.size, o.color, o.shape ?? 'shape'].filter((w) => w !== undefined).join(' ');
}

/** The caption of a scene or description (canonical grammar above). */
export function captionOf(scene: Scene | SceneDescription): string {
  const [first, second] = scene.objects;
  if (first === undefined) throw new Error('captionOf: scene has no objects');
  if (second !== undefined) {
    if (scene.objects.length > 2) throw new Error('captionOf: scenes hold one or two objects');
    if (scene.relation === undefined) throw new Error('captionOf: a two-object scene needs a relation');
    return `${objectPhrase(first)} ${scene.relation} ${objectPhrase(second)}`;
  }
  return scene.position === undefined ? objectPhrase(first) : `${objectPhrase(first)} ${scene.position}`;
}

const SIZE_WORDS: Record<string, ShapeSize> = { small: 'small', little: 'small', tiny: 'small', large: 'large', big: 'large' };
const SHAPE_WORDS: Record<string, ShapeKind> = {
  circle: 'circle', circles: 'circle', disc: 'circle', disk: 'circle', dot: 'circle',
  square: 'square', squares: 'square', box: 'square',
  triangle: 'triangle', triangles: 'triangle',
};
const ARTICLES = new Set(['a', 'an', 'the', 'one']);
/** Relation phrases (as word lists), longest first so "to the left of" wins over "left of". */
const RELATION_PHRASES: [string[], Relation][] = (
  [
    [['to', 'the', 'left', 'of'], 'left of'], [['on', 'the', 'left', 'of'], 'left of'], [['left', 'of'], 'left of'],
    [['to', 'the', 'right', 'of'], 'right of'], [['on', 'the', 'right', 'of'], 'right of'], [['right', 'of'], 'right of'],
    [['on', 'top', 'of'], 'above'], [['above'], 'above'], [['over'], 'above'],
    [['below'], 'below'], [['under'], 'below'], [['underneath'], 'below'], [['beneath'], 'below'],
  ] as [string[], Relation][]
).sort((a, b) => b[0].length - a[0].length);
const POSITION_PHRASES: [string[], Position][] = [
  [['on', 'the', 'left'], 'on the left'], [['at', 'the', 'left'], 'on the left'], [['to', 'the', 'left'], 'on the left'],
  [['on', 'the', 'right'], 'on the right'], [['at', 'the', 'right'], 'on the right'], [['to', 'the', 'right'], 'on the right'],
  [['at', 'the', 'top'], 'at the top'], [['on', 'top'], 'at the top'], [['on', 'the', 'top'], 'at the top'],
  [['at', 'the', 'bottom'], 'at the bottom'], [['on', 'the', 'bottom'], 'at the bottom'],
];

/** Nouns that name an object without saying its shape. */
const GENERIC_NOUNS = new Set(['shape', 'object', 'thing']);

/**
 * Parse one object phrase: [article] then size and colour words in either order (each optional) then a noun — a
 * shape word, or "shape"/"object"/"thing" (shape unstated). Undefined if the words are not such a phrase.
 */
function parseObject(words: string[]): SceneDescription['objects'][number] | undefined {
  let i = 0;
  if (i < words.length && ARTICLES.has(words[i]!)) i++;
  const obj: SceneDescription['objects'][number] = {};
  for (; i < words.length - 1; i++) {
    const w = words[i]!;
    const size = SIZE_WORDS[w];
    if (size !== undefined && obj.size === undefined) obj.size = size;
    else if (w in SHAPE_COLORS && obj.color === undefined) obj.color = w as ShapeColor;
    else return undefined;
  }
  const noun = words[i];
  if (noun === undefined || i !== words.length - 1) return undefined;
  const shape = SHAPE_WORDS[noun];
  if (shape !== undefined) obj.shape = shape;
  else if (!GENERIC_NOUNS.has(noun)) return undefined;
  return obj;
}

function startsWith(words: string[], at: number, phrase: string[]): boolean {
  return phrase.every((p, k) => words[at + k] === p);
}

/**
 * Parse a caption typed by a user (or produced by captionOf) into what it says: one object with an optional
 * position, or two objects with a relation. Returns undefined when it does not follow the grammar.
 */
export function parseShapesCaption(caption: string): SceneDescription | undefined {
  const words = caption
    .toLowerCase()
    .replace(/[.!,;]+\s*$/u, '')
    .replace(/[^a-z\s]/gu, ' ')
    .split(/\s+/u)
    .filter((w) => w.length > 0);
  if (words.length === 0) return undefined;
  for (let at = 1; at < words.length; at++) {
    for (const [phrase, relation] of RELATION_PHRASES) {
      if (!startsWith(words, at, phrase)) continue;
      const first = parseObject(words.slice(0, at));
      const second = parseObject(words.slice(at + phrase.length));
      if (first !== undefined && second !== undefined) return { objects: [first, second], relation };
    }
  }
  for (const [phrase, position] of POSITION_PHRASES) {
    const at = words.length - phrase.length;
    if (at >= 1 && startsWith(words, at, phrase)) {
      const obj = parseObject(words.slice(0, at));
      if (obj !== undefined) return { objects: [obj], position };
    }
  }
  const obj = parseObject(words);
  return obj === undefined ? undefined : { objects: [obj] };
}

// ---------------------------------------------------------------------------------------------------------------
// Random scenes

/** A uniform float in [lo, hi) from `rand`. */
function between(rand: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * rand();
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.min(items.length - 1, Math.floor(rand() * items.length))]!;
}

function randomSide(rand: () => number, size: ShapeSize): number {
  const [lo, hi] = SIZE_RANGES[size];
  return between(rand, lo, hi);
}

/**
 * Place objects with the given attributes as a scene obeying `relation` (two objects) or `position` (one object,
 * optional), from the stream `rand`. Geometry as described in the header.
 */
export function placeScene(
  attrs: readonly ShapeAttributes[],
  layout: { relation?: Relation; position?: Position },
  rand: () => number,
): Scene {
  if (attrs.length === 1) {
    const a = attrs[0]!;
    const side = randomSide(rand, a.size);
    const half = side / 2;
    let cx = between(rand, half, 1 - half);
    let cy = between(rand, half, 1 - half);
    const across = () => between(rand, 0.35, 0.65);
    switch (layout.position) {
      case 'on the left': cx = between(rand, half, Math.max(half, 0.35)); cy = across(); break;
      case 'on the right': cx = between(rand, Math.min(1 - half, 0.65), 1 - half); cy = across(); break;
      case 'at the top': cy = between(rand, half, Math.max(half, 0.35)); cx = across(); break;
      case 'at the bottom': cy = between(rand, Math.min(1 - half, 0.65), 1 - half); cx = across(); break;
      case undefined: break;
    }
    const scene: Scene = { objects: [{ ...a, x: cx - half, y: cy - half, side }] };
    if (layout.position !== undefined) scene.position = layout.position;
    return scene;
  }
  if (attrs.length !== 2 || layout.relation === undefined) throw new Error('placeScene: one object, or two objects and a relation');
  const relation = layout.relation;
  const sides = [randomSide(rand, attrs[0]!.size), randomSide(rand, attrs[1]!.size)] as const;
  // Lay the pair out along the relation's axis: `lead` is the object nearer the origin (top or left).
  const vertical = relation === 'above' || relation === 'below';
  const leadIndex = relation === 'above' || relation === 'left of' ? 0 : 1;
  const sLead = sides[leadIndex]!;
  const sTrail = sides[1 - leadIndex]!;
  const slack = 1 - sLead - sTrail - MIN_GAP; // ≥ 1 − 0.84 − 0.14 = 0.02
  const extraGap = between(rand, 0, slack);
  const start = between(rand, 0, slack - extraGap);
  const leadPos = start;
  const trailPos = start + sLead + MIN_GAP + extraGap;
  const along = trailPos + sTrail / 2 - (leadPos + sLead / 2); // centre distance along the axis
  // Across the axis: centres within [half, 1 − half] of each side and at most along/2 apart.
  const leadCross = between(rand, sLead / 2, 1 - sLead / 2);
  const lo = Math.max(sTrail / 2, leadCross - along / 2);
  const hi = Math.min(1 - sTrail / 2, leadCross + along / 2);
  const trailCross = between(rand, lo, Math.max(lo, hi));
  const box = (pos: number, cross: number, side: number) =>
    vertical ? { x: cross - side / 2, y: pos, side } : { x: pos, y: cross - side / 2, side };
  const placed: PlacedShape[] = [];
  placed[leadIndex] = { ...attrs[leadIndex]!, ...box(leadPos, leadCross, sLead) };
  placed[1 - leadIndex] = { ...attrs[1 - leadIndex]!, ...box(trailPos, trailCross, sTrail) };
  return { objects: placed, relation };
}

/** Random attributes; with `heldOut` 'exclude' never a held-out combo, with 'only' always one. */
function randomAttributes(rand: () => number, heldOut: 'exclude' | 'only' | 'any'): ShapeAttributes {
  const size = pick(rand, SHAPE_SIZES);
  if (heldOut === 'only') {
    const combo = pick(rand, heldOutCombos);
    return { color: combo.color, shape: combo.shape, size };
  }
  for (;;) {
    const color = pick(rand, COLOR_NAMES);
    const shape = pick(rand, SHAPE_KINDS);
    if (heldOut === 'any' || !isHeldOutCombo(color, shape)) return { color, shape, size };
  }
}

/**
 * A random scene from `rand`: one object (half of them with a position word) or two objects with a relation, with
 * equal probability. `heldOut`: 'exclude' → no object is a held-out combo (training); 'only' → at least one is.
 */
export function randomScene(rand: () => number, heldOut: 'exclude' | 'only' | 'any' = 'exclude'): Scene {
  if (rand() < 0.5) {
    const attrs = randomAttributes(rand, heldOut);
    const position = rand() < 0.5 ? pick(rand, POSITIONS) : undefined;
    return placeScene([attrs], position === undefined ? {} : { position }, rand);
  }
  const relation = pick(rand, RELATIONS);
  let attrs: ShapeAttributes[];
  if (heldOut === 'only') {
    const special = Math.floor(rand() * 2);
    attrs = [0, 1].map((i) => randomAttributes(rand, i === special ? 'only' : 'any'));
  } else {
    attrs = [randomAttributes(rand, heldOut), randomAttributes(rand, heldOut)];
  }
  return placeScene(attrs, { relation }, rand);
}

/** Whether any object of the scene (or description) is a held-out combo. */
export function hasHeldOutCombo(scene: Scene | SceneDescription): boolean {
  return scene.objects.some((o) => o.color !== undefined && o.shape !== undefined && isHeldOutCombo(o.color, o.shape));
}

/**
 * A scene matching a (possibly partial) description, unstated attributes and the layout drawn from `seed` — e.g. a
 * reference rendering of a caption typed at generate time. Held-out combos are allowed here.
 */
export function sceneForDescription(description: SceneDescription, seed: number): Scene {
  const rand = mulberry32(seed);
  const attrs = description.objects.map((o) => ({
    color: o.color ?? pick(rand, COLOR_NAMES),
    shape: o.shape ?? pick(rand, SHAPE_KINDS),
    size: o.size ?? pick(rand, SHAPE_SIZES),
  }));
  const layout: { relation?: Relation; position?: Position } = {};
  if (attrs.length === 2) layout.relation = description.relation ?? pick(rand, RELATIONS);
  else if (description.position !== undefined) layout.position = description.position;
  return placeScene(attrs, layout, rand);
}

// ---------------------------------------------------------------------------------------------------------------
// The dataset

export interface ShapesDatasetOptions {
  /** Image side in pixels (default 32; 16, 32 and 64 are tested). */
  size?: number;
  /** Training scenes (default 4000). */
  count?: number;
  /** Held-out scenes, each with at least one held-out combo (default 200). */
  heldOutCount?: number;
  /** Seed of the scene stream (default 0). */
  seed?: number;
}

/** Scene `index` of a stream: its own generator, so every scene is reproducible from (seed, split, index). */
function sceneRandom(seed: number, split: number, index: number): () => number {
  return mulberry32((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(split + 1, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0);
}

/** Render the training and held-out scenes; the same options give the same dataset, byte for byte. */
export function shapesDataset(opts: ShapesDatasetOptions = {}): ImageCaptionDataset {
  const size = opts.size ?? 32;
  const count = opts.count ?? 4000;
  const heldOutCount = opts.heldOutCount ?? 200;
  const seed = opts.seed ?? 0;
  for (const [name, v, min] of [['size', size, 8], ['count', count, 0], ['heldOutCount', heldOutCount, 0]] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`shapes: ${name} must be an integer ≥ ${min}, got ${v}`);
  }
  if (!Number.isInteger(seed)) throw new Error(`shapes: seed must be an integer, got ${seed}`);
  const make = (split: number, i: number, heldOut: 'exclude' | 'only'): ImageCaption => {
    const scene = randomScene(sceneRandom(seed, split, i), heldOut);
    return { image: renderScene(scene, size), caption: captionOf(scene), source: `shapes/${split === 0 ? 'train' : 'held-out'}/${seed}/${i}` };
  };
  const train = Array.from({ length: count }, (_, i) => make(0, i, 'exclude'));
  const heldOut = Array.from({ length: heldOutCount }, (_, i) => make(1, i, 'only'));
  return {
    size,
    train,
    heldOut,
    skipped: [],
    description: {
      spec: 'shapes',
      size,
      count,
      heldOutCount,
      seed,
      heldOutCombos: heldOutCombos.map((c) => `${c.color} ${c.shape}`),
    },
  };
}
