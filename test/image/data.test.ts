// Tests of the DALL·E image data: PNG read/write/resize/fit/grid, the procedural shape scenes (exact palette,
// determinism, caption grammar, held-out compositions), the bundled emoji loader, the captioned-folder loader and the
// openImageData spec entry point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import {
  blankImage,
  decodePng,
  encodePng,
  fitImage,
  imageGrid,
  readPng,
  resizeImage,
  writePng,
} from '../../src/image/png.js';
import {
  COLOR_NAMES,
  POSITIONS,
  RELATIONS,
  SHAPE_COLORS,
  SHAPE_KINDS,
  SHAPE_SIZES,
  captionOf,
  hasHeldOutCombo,
  heldOutCombos,
  isHeldOutCombo,
  parseShapesCaption,
  randomScene,
  renderScene,
  sceneForDescription,
  shapesDataset,
  type Scene,
} from '../../src/image/data/shapes.js';
import { emojiCaption, emojiDataset } from '../../src/image/data/emoji.js';
import { folderDataset } from '../../src/image/data/folder.js';
import { openImageData } from '../../src/image/data/index.js';
import { mulberry32 } from '../../src/nn/init.js';
import type { RgbImage } from '../../src/image/types.js';

const messageMatches = (re: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof Error);
  assert.match(err.message, re);
  return true;
};

function withTempDir(fn: (dir: string) => void): () => void {
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-image-data-'));
    try {
      fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function randomImage(width: number, height: number, seed: number): RgbImage {
  const rand = mulberry32(seed);
  const data = new Float32Array(3 * width * height);
  for (let i = 0; i < data.length; i++) data[i] = rand();
  return { width, height, data };
}

function pixel(im: RgbImage, x: number, y: number): [number, number, number] {
  const plane = im.width * im.height;
  const p = y * im.width + x;
  return [im.data[p]!, im.data[plane + p]!, im.data[2 * plane + p]!];
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** An RGBA PNG (colorType 6) from a pixel function. */
function rgbaPng(width: number, height: number, f: (x: number, y: number) => [number, number, number, number]): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b, a] = f(x, y);
      png.data.set([r, g, b, a], 4 * (y * width + x));
    }
  }
  return PNG.sync.write(png);
}

// ---------------------------------------------------------------------------------------------------------------
// PNG

test('PNG: write → read round trip is within 1/255, and encode/decode agree', withTempDir((dir) => {
  const image = randomImage(13, 7, 1);
  const path = join(dir, 'round.png');
  writePng(path, image);
  const back = readPng(path);
  assert.equal(back.width, 13);
  assert.equal(back.height, 7);
  assert.ok(maxAbsDiff(back.data, image.data) <= 0.5 / 255 + 1e-6);
  assert.deepEqual(decodePng(encodePng(image), 'mem').data, back.data);
  // A second round trip is exact (values are already on the 8-bit grid).
  assert.deepEqual(decodePng(encodePng(back), 'mem').data, back.data);
  // Out-of-range values are clamped.
  const wild = { width: 2, height: 1, data: Float32Array.from([-1, 2, Number.NaN, 0.5, 1, 0]) };
  assert.deepEqual([...decodePng(encodePng(wild), 'wild').data], [0, 1, 0, Math.fround(128 / 255), 1, 0]);
}));

test('PNG: RGBA is composited over white; grey PNGs read as equal channels', () => {
  const bytes = rgbaPng(3, 1, (x) => [[255, 0, 0, 255], [255, 0, 0, 128], [0, 0, 0, 0]][x] as [number, number, number, number]);
  const im = decodePng(bytes, 'alpha.png');
  assert.deepEqual(pixel(im, 0, 0), [1, 0, 0]);
  const a = 128 / 255;
  const [r, g, b] = pixel(im, 1, 0);
  assert.ok(Math.abs(r - 1) < 1e-6 && Math.abs(g - (1 - a)) < 1e-6 && Math.abs(b - (1 - a)) < 1e-6);
  assert.deepEqual(pixel(im, 2, 0), [1, 1, 1]);

  const grey = new PNG({ width: 2, height: 1, colorType: 0, inputColorType: 6, inputHasAlpha: true });
  grey.data.set([51, 51, 51, 255, 204, 204, 204, 255]);
  const greyBytes = PNG.sync.write(grey, { colorType: 0, inputColorType: 6, inputHasAlpha: true });
  const gi = decodePng(greyBytes, 'grey.png');
  assert.deepEqual(pixel(gi, 0, 0).map((v) => Math.round(v * 255)), [51, 51, 51]);
  assert.deepEqual(pixel(gi, 1, 0).map((v) => Math.round(v * 255)), [204, 204, 204]);
});

/** A PNG assembled chunk by chunk: IHDR fields, extra chunks before IDAT, and the raw (filtered) scanlines. */
function handMadePng(width: number, height: number, bitDepth: number, colorType: number, extra: [string, Buffer][], scanlines: Buffer): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bitDepth, colorType, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...extra.map(([t, d]) => chunk(t, d)),
    chunk('IDAT', deflateSync(scanlines)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('PNG: palette (with tRNS transparency) and 16-bit RGB PNGs decode', () => {
  // 3×1 palette image: opaque green, half-transparent blue, fully transparent red.
  const palette = handMadePng(3, 1, 8, 3, [
    ['PLTE', Buffer.from([0, 255, 0, 0, 0, 255, 255, 0, 0])],
    ['tRNS', Buffer.from([255, 128, 0])],
  ], Buffer.from([0, 0, 1, 2]));
  const pi = decodePng(palette, 'palette.png');
  assert.deepEqual(pixel(pi, 0, 0), [0, 1, 0]);
  const a = 128 / 255;
  assert.ok(maxAbsDiff(Float32Array.from(pixel(pi, 1, 0)), Float32Array.from([1 - a, 1 - a, 1])) < 1e-6);
  assert.deepEqual(pixel(pi, 2, 0), [1, 1, 1]);
  // 1×1 16-bit RGB (0xffff, 0x8000, 0x0000) → 8-bit levels 255, 128, 0.
  const deep = handMadePng(1, 1, 16, 2, [], Buffer.from([0, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00]));
  assert.deepEqual(pixel(decodePng(deep, 'deep.png'), 0, 0).map((v) => Math.round(v * 255)), [255, 128, 0]);
});

test('PNG: corrupt, truncated, non-PNG and oversized files are refused with the file name and the reason', withTempDir((dir) => {
  const good = encodePng(randomImage(8, 8, 2));
  const cases: [string, Buffer, RegExp][] = [
    ['text.png', Buffer.from('hello, I am not an image'), /text\.png: not a PNG file/],
    ['empty.png', Buffer.alloc(0), /empty\.png: not a PNG file/],
    ['short.png', good.subarray(0, 20), /short\.png: truncated PNG/],
    ['cut.png', good.subarray(0, good.length - 30), /cut\.png: corrupt PNG \(image data ends early/],
  ];
  const badCrc = Buffer.from(good);
  badCrc[40] = badCrc[40]! ^ 0xff; // inside the IDAT data (the IHDR chunk ends at byte 33)
  cases.push(['crc.png', badCrc, /crc\.png: corrupt PNG/]);
  const huge = Buffer.from(good);
  huge.writeUInt32BE(100000, 16);
  huge.writeUInt32BE(100000, 20);
  cases.push(['huge.png', huge, /huge\.png: PNG is 100000×100000, larger than/]);
  for (const [name, bytes, re] of cases) {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    assert.throws(() => readPng(path), messageMatches(re), name);
  }
  assert.throws(() => readPng(join(dir, 'absent.png')), messageMatches(/absent\.png: cannot read \(ENOENT\)/));
}));

test('resizeImage: area average down (64 → 32 is the 2×2 mean), bilinear / nearest up, identity at the same size', () => {
  const big = randomImage(64, 64, 3);
  const small = resizeImage(big, 32);
  assert.equal(small.width, 32);
  for (const [x, y, ch] of [[0, 0, 0], [5, 17, 1], [31, 31, 2]] as const) {
    const at = (xx: number, yy: number) => big.data[ch * 64 * 64 + yy * 64 + xx]!;
    const mean = (at(2 * x, 2 * y) + at(2 * x + 1, 2 * y) + at(2 * x, 2 * y + 1) + at(2 * x + 1, 2 * y + 1)) / 4;
    assert.ok(Math.abs(small.data[ch * 32 * 32 + y * 32 + x]! - mean) < 1e-6);
  }
  assert.equal(resizeImage(big, 64), big);
  // Non-integer ratio: a constant image stays constant and the mean is preserved.
  const flat = blankImage(10, 10, 0.3);
  assert.ok(maxAbsDiff(resizeImage(flat, 7).data, blankImage(7, 7, 0.3).data) < 1e-6);
  const r = randomImage(9, 9, 4);
  const r3 = resizeImage(r, 3);
  const mean = (d: Float32Array) => d.reduce((s, v) => s + v, 0) / d.length;
  assert.ok(Math.abs(mean(r.data) - mean(r3.data)) < 1e-5);
  // Upscale 2 → 4 of a ramp: bilinear interpolates on pixel centres, nearest repeats.
  const ramp: RgbImage = { width: 2, height: 1, data: Float32Array.from([0, 1, 0, 1, 0, 1]) };
  const bil = resizeImage(ramp, { width: 4, height: 1 });
  assert.deepEqual([...bil.data.subarray(0, 4)], [0, 0.25, 0.75, 1]);
  const near = resizeImage(ramp, { width: 4, height: 1 }, { upscale: 'nearest' });
  assert.deepEqual([...near.data.subarray(0, 4)], [0, 0, 1, 1]);
  // Non-square input is stretched to a square.
  assert.equal(resizeImage(randomImage(20, 10, 5), 8).height, 8);
});

test('fitImage: same size passes, resize resizes, refuse names the image and the sizes', () => {
  const exact = randomImage(32, 32, 1);
  assert.equal(fitImage(exact, 32, 'refuse', 'a.png'), exact);
  const im = randomImage(48, 40, 6);
  const fitted = fitImage(im, 32, 'resize', 'b.png');
  assert.equal(fitted.width, 32);
  assert.equal(fitted.height, 32);
  assert.throws(
    () => fitImage(im, 32, 'refuse', 'photos/b.png'),
    messageMatches(/^photos\/b\.png is 48×40, the model takes 32×32 \(pass --resize/),
  );
});

test('imageGrid: cells, padding and labels', () => {
  const a = blankImage(4, 4, 0);
  const b = blankImage(6, 3, 0.5);
  const grid = imageGrid([a, b, a], 2, { pad: 1 });
  assert.equal(grid.width, 1 + 2 * (6 + 1));
  assert.equal(grid.height, 1 + 2 * (4 + 1));
  assert.deepEqual(pixel(grid, 0, 0), [0.75, 0.75, 0.75]); // padding
  assert.deepEqual(pixel(grid, 1, 1), [0, 0, 0]); // first image
  assert.deepEqual(pixel(grid, 8, 1), [0.5, 0.5, 0.5]); // second image
  assert.deepEqual(pixel(grid, 1, 6), [0, 0, 0]); // third image, second row
  const white = blankImage(16, 16, 1);
  const labelled = imageGrid([white, white], 2, { pad: 2, labels: ['red circle', 'b'] });
  assert.equal(labelled.height, 2 + 16 + (1 + 2 * 6) + 2);
  // The label area under the first cell has dark (text) pixels; the image area stays white.
  let dark = 0;
  for (let y = 2 + 16; y < labelled.height - 2; y++) for (let x = 2; x < 18; x++) if (pixel(labelled, x, y)[0] === 0) dark++;
  assert.ok(dark > 10, `label pixels: ${dark}`);
  assert.throws(() => imageGrid([white], 2, { labels: [] }), messageMatches(/1 images/));
  assert.throws(() => imageGrid([], 2), messageMatches(/no images/));
});

// ---------------------------------------------------------------------------------------------------------------
// Shapes

test('shapes: palette values are exactly the specified ones', () => {
  assert.deepEqual(SHAPE_COLORS, {
    red: [230, 25, 75],
    green: [60, 180, 75],
    blue: [0, 130, 200],
    yellow: [255, 225, 25],
    purple: [145, 30, 180],
    orange: [245, 130, 48],
  });
  assert.deepEqual([...SHAPE_KINDS], ['circle', 'square', 'triangle']);
  assert.deepEqual([...SHAPE_SIZES], ['small', 'large']);
});

test('shapes: every pixel is white or exactly one of the caption\'s palette colours, at 16, 32 and 64 px', () => {
  const rand = mulberry32(11);
  for (const size of [16, 32, 64]) {
    for (let i = 0; i < 60; i++) {
      const scene = randomScene(rand, 'any');
      const im = renderScene(scene, size);
      assert.equal(im.width, size);
      const allowed = new Map<string, number>([['1,1,1', 0]]);
      for (const o of scene.objects) allowed.set(SHAPE_COLORS[o.color].map((v) => v / 255).map((v) => Math.fround(v)).join(','), 0);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const key = pixel(im, x, y).join(',');
          assert.ok(allowed.has(key), `${captionOf(scene)} at ${size}: pixel (${x}, ${y}) is ${key}`);
          allowed.set(key, allowed.get(key)! + 1);
        }
      }
      for (const [key, n] of allowed) assert.ok(n > 0, `${captionOf(scene)} at ${size}: colour ${key} never drawn`);
    }
  }
});

test('shapes: the dataset is deterministic from its seed', () => {
  const a = shapesDataset({ size: 16, count: 40, heldOutCount: 10, seed: 5 });
  const b = shapesDataset({ size: 16, count: 40, heldOutCount: 10, seed: 5 });
  const c = shapesDataset({ size: 16, count: 40, heldOutCount: 10, seed: 6 });
  assert.deepEqual(a.train.map((e) => e.caption), b.train.map((e) => e.caption));
  assert.deepEqual(a.heldOut.map((e) => e.caption), b.heldOut.map((e) => e.caption));
  a.train.forEach((e, i) => assert.deepEqual(e.image.data, b.train[i]!.image.data));
  assert.notDeepEqual(a.train.map((e) => e.caption), c.train.map((e) => e.caption));
  // A longer dataset extends a shorter one with the same seed (scenes are drawn per index).
  const longer = shapesDataset({ size: 16, count: 60, heldOutCount: 0, seed: 5 });
  assert.deepEqual(longer.train.slice(0, 40).map((e) => e.caption), a.train.map((e) => e.caption));
  assert.equal(a.size, 16);
  assert.deepEqual(a.description.heldOutCombos, ['purple triangle', 'orange circle', 'green square']);
});

const OBJECT = '(?:a (?:small|large) (?:red|green|blue|yellow|purple|orange) (?:circle|square|triangle))';
const CAPTION = new RegExp(`^${OBJECT}(?: (?:on the left|on the right|at the top|at the bottom)| (?:above|below|left of|right of) ${OBJECT})?$`);

test('shapes: held-out compositions never appear in training and every held-out scene has one', () => {
  const data = shapesDataset({ size: 16, count: 2000, heldOutCount: 300, seed: 0 });
  assert.equal(data.train.length, 2000);
  assert.equal(data.heldOut.length, 300);
  const combosIn = (caption: string) =>
    parseShapesCaption(caption)!.objects.map((o) => `${o.color} ${o.shape}`);
  const heldNames = heldOutCombos.map((c) => `${c.color} ${c.shape}`);
  const trainCombos = new Set(data.train.flatMap((e) => combosIn(e.caption)));
  for (const name of heldNames) {
    assert.ok(!trainCombos.has(name), `${name} in training`);
    for (const e of data.train) assert.ok(!e.caption.includes(name), e.caption);
  }
  // Every other combination (18 − 3 = 15) does appear in training.
  assert.equal(trainCombos.size, COLOR_NAMES.length * SHAPE_KINDS.length - heldOutCombos.length);
  const heldSeen = new Set<string>();
  for (const e of data.heldOut) {
    const combos = combosIn(e.caption);
    assert.ok(combos.some((c) => heldNames.includes(c)), e.caption);
    combos.filter((c) => heldNames.includes(c)).forEach((c) => heldSeen.add(c));
    assert.ok(hasHeldOutCombo(parseShapesCaption(e.caption)!));
  }
  assert.deepEqual([...heldSeen].sort(), [...heldNames].sort());
  assert.ok(isHeldOutCombo('purple', 'triangle') && !isHeldOutCombo('purple', 'circle'));
});

test('shapes: captions follow the grammar, are lower case, and cover every relation and position', () => {
  const data = shapesDataset({ size: 16, count: 1000, heldOutCount: 50, seed: 1 });
  const relations = new Set<string>();
  const positions = new Set<string>();
  let single = 0;
  for (const e of [...data.train, ...data.heldOut]) {
    assert.match(e.caption, CAPTION);
    assert.equal(e.caption, e.caption.toLowerCase());
    const d = parseShapesCaption(e.caption)!;
    assert.equal(captionOf(d), e.caption, 'parse → caption round trip');
    if (d.relation !== undefined) relations.add(d.relation);
    if (d.position !== undefined) positions.add(d.position);
    if (d.objects.length === 1) single++;
  }
  assert.deepEqual([...relations].sort(), [...RELATIONS].sort());
  assert.deepEqual([...positions].sort(), [...POSITIONS].sort());
  assert.ok(single > 400 && single < 650, `single-object scenes: ${single}`);
  assert.equal(
    captionOf({ objects: [{ color: 'blue', shape: 'square', size: 'large', x: 0, y: 0, side: 0.4 }, { color: 'yellow', shape: 'triangle', size: 'small', x: 0, y: 0.6, side: 0.25 }], relation: 'above' }),
    'a large blue square above a small yellow triangle',
  );
});

test('parseShapesCaption: user captions, partial and loose forms; nonsense is undefined', () => {
  assert.deepEqual(parseShapesCaption('a small red circle'), { objects: [{ size: 'small', color: 'red', shape: 'circle' }] });
  assert.deepEqual(parseShapesCaption('  A Big RED circle. '), { objects: [{ size: 'large', color: 'red', shape: 'circle' }] });
  assert.deepEqual(parseShapesCaption('a large blue square above a small yellow triangle'), {
    objects: [{ size: 'large', color: 'blue', shape: 'square' }, { size: 'small', color: 'yellow', shape: 'triangle' }],
    relation: 'above',
  });
  assert.deepEqual(parseShapesCaption('the blue square to the left of a yellow triangle'), {
    objects: [{ color: 'blue', shape: 'square' }, { color: 'yellow', shape: 'triangle' }],
    relation: 'left of',
  });
  assert.deepEqual(parseShapesCaption('green triangle under a circle'), {
    objects: [{ color: 'green', shape: 'triangle' }, { shape: 'circle' }],
    relation: 'below',
  });
  assert.deepEqual(parseShapesCaption('an orange circle on the right'), { objects: [{ color: 'orange', shape: 'circle' }], position: 'on the right' });
  assert.deepEqual(parseShapesCaption('a purple shape at the top'), { objects: [{ color: 'purple' }], position: 'at the top' });
  for (const bad of ['', 'a cat', 'a red', 'a red circle near a blue square', 'a red red circle', 'circle red', 'a small circle square']) {
    assert.equal(parseShapesCaption(bad), undefined, bad);
  }
});

test('sceneForDescription: fills the unstated attributes, keeps the stated ones and the relation', () => {
  const d = parseShapesCaption('a purple triangle below a big circle')!;
  const scene: Scene = sceneForDescription(d, 3);
  assert.equal(scene.objects[0]!.color, 'purple');
  assert.equal(scene.objects[0]!.shape, 'triangle');
  assert.equal(scene.objects[1]!.size, 'large');
  assert.equal(scene.relation, 'below');
  assert.deepEqual(sceneForDescription(d, 3), scene);
  assert.match(captionOf(scene), CAPTION);
});

// ---------------------------------------------------------------------------------------------------------------
// Emoji

test('emoji: 50 bundled emoji as 32×32 images over white with lower-case name captions; deterministic', () => {
  const data = emojiDataset({ limit: 50, seed: 0, heldOutFraction: 0.2 });
  assert.equal(data.size, 32);
  assert.equal(data.train.length, 40);
  assert.equal(data.heldOut.length, 10);
  for (const e of [...data.train, ...data.heldOut]) {
    assert.equal(e.image.width, 32);
    assert.equal(e.image.height, 32);
    assert.equal(e.image.data.length, 3 * 32 * 32);
    assert.ok(e.caption.length > 0 && e.caption === e.caption.toLowerCase(), e.caption);
    assert.match(e.caption, /\p{Ll}/u);
    assert.match(e.source, /^emoji\/[0-9a-f-]+$/);
    for (const v of e.image.data) assert.ok(v >= 0 && v <= 1);
  }
  // Transparent corners composite to white; the middle is drawn.
  const whiteCorners = data.train.filter((e) => pixel(e.image, 0, 0).every((v) => v === 1)).length;
  assert.ok(whiteCorners >= 30, `white corners: ${whiteCorners}/40`);
  const again = emojiDataset({ limit: 50, seed: 0, heldOutFraction: 0.2 });
  assert.deepEqual(again.train.map((e) => e.caption), data.train.map((e) => e.caption));
  assert.deepEqual(again.train[0]!.image.data, data.train[0]!.image.data);
  const other = emojiDataset({ limit: 50, seed: 1 });
  assert.notDeepEqual(other.train.map((e) => e.caption), data.train.map((e) => e.caption));
  const at16 = emojiDataset({ limit: 3, size: 16 });
  assert.equal(at16.train[0]!.image.width, 16);
});

test('emoji: captions from names and short names; entries without a Google image are skipped', withTempDir((dir) => {
  assert.equal(emojiCaption({ name: 'GRINNING FACE', short_names: ['grinning'] }), 'grinning face');
  assert.equal(emojiCaption({ name: 'Côte d’Ivoire Flag' }), "côte d'ivoire flag");
  assert.equal(emojiCaption({ name: null, short_names: ['flag-eg', 'egypt_flag'] }), 'flag eg egypt flag');
  // A tiny fake package: one good image, one without a Google image, one corrupt PNG, one missing file.
  mkdirSync(join(dir, 'img', 'google', '64'), { recursive: true });
  writeFileSync(join(dir, 'img', 'google', '64', 'good.png'), rgbaPng(64, 64, () => [0, 0, 255, 255]));
  writeFileSync(join(dir, 'img', 'google', '64', 'bad.png'), Buffer.from('junk'));
  writeFileSync(join(dir, 'emoji.json'), JSON.stringify([
    { name: 'BLUE THING', unified: 'A', image: 'good.png', has_img_google: true, sort_order: 1 },
    { name: 'NO IMAGE', unified: 'B', image: 'none.png', has_img_google: false, sort_order: 2 },
    { name: 'BROKEN', unified: 'C', image: 'bad.png', has_img_google: true, sort_order: 3 },
    { name: 'GONE', unified: 'D', image: 'gone.png', has_img_google: true, sort_order: 4 },
  ]));
  const data = emojiDataset({ packageDir: dir });
  assert.deepEqual(data.train.map((e) => e.caption), ['blue thing']);
  assert.deepEqual(pixel(data.train[0]!.image, 5, 5), [0, 0, 1]);
  const reasons = data.skipped.map((s) => `${s.source}: ${s.reason}`).sort();
  assert.equal(reasons.length, 3);
  assert.match(reasons[0]!, /emoji\/B: no Google image/);
  assert.match(reasons[1]!, /emoji\/bad: .*bad\.png: not a PNG file/);
  assert.match(reasons[2]!, /emoji\/gone: image file missing/);
}));

// ---------------------------------------------------------------------------------------------------------------
// Folders and openImageData

function makeFolder(dir: string): void {
  writePng(join(dir, 'a.png'), renderScene(randomScene(mulberry32(1)), 32));
  writeFileSync(join(dir, 'big.png'), rgbaPng(64, 48, () => [255, 0, 0, 255]));
  writeFileSync(join(dir, 'corrupt.png'), encodePng(blankImage(32, 32)).subarray(0, 45));
  mkdirSync(join(dir, 'sub'));
  writePng(join(dir, 'sub', 'b.png'), blankImage(32, 32, 0));
  writeFileSync(join(dir, 'captions.jsonl'), [
    JSON.stringify({ file: 'a.png', caption: 'A shape scene ' }),
    JSON.stringify({ file: 'big.png', caption: 'red' }),
    '',
    '{"file": "corrupt.png", "caption": "broken"}',
    '{not json',
    JSON.stringify({ caption: 'no file' }),
    JSON.stringify({ file: 'missing.png', caption: 'gone' }),
    JSON.stringify({ image: 'sub/b.png', caption: 'black' }),
    JSON.stringify({ file: 'a.png' }),
    JSON.stringify({ file: '../outside.png', caption: 'escape' }),
    '[1, 2]',
  ].join('\n') + '\n');
}

test('folder: loads captions.jsonl, resizes, skips and reports every bad entry by line and name', withTempDir((dir) => {
  makeFolder(dir);
  const logged: string[] = [];
  const data = folderDataset(dir, { size: 32, mode: 'resize', log: (m) => logged.push(m) });
  assert.deepEqual(data.train.map((e) => [e.source, e.caption]), [['a.png', 'A shape scene'], ['big.png', 'red'], [join('sub', 'b.png'), 'black']]);
  assert.equal(data.train[1]!.image.width, 32);
  assert.deepEqual(pixel(data.train[1]!.image, 3, 3), [1, 0, 0]);
  const skipped = data.skipped.map((s) => `${s.source} ${s.reason}`);
  const lineOf = (n: number) => `captions.jsonl:${n}`;
  assert.equal(skipped.length, 7, skipped.join('\n'));
  assert.match(skipped[0]!, new RegExp(`${lineOf(4)} \\(corrupt\\.png\\) .*corrupt\\.png: corrupt PNG \\(image data ends early`));
  assert.match(skipped[1]!, new RegExp(`${lineOf(5)} bad JSON`));
  assert.match(skipped[2]!, new RegExp(`${lineOf(6)} no "file"`));
  assert.match(skipped[3]!, new RegExp(`${lineOf(7)} \\(missing\\.png\\) file not found`));
  assert.match(skipped[4]!, new RegExp(`${lineOf(9)} \\(a\\.png\\) no non-empty "caption"`));
  assert.match(skipped[5]!, new RegExp(`${lineOf(10)} \\(\\.\\./outside\\.png\\) path is outside the folder`));
  assert.match(skipped[6]!, new RegExp(`${lineOf(11)} not a JSON object`));
  assert.equal(logged.length, 7);
  assert.match(logged[0]!, /^skipped .*corrupt\.png/);
}));

test('folder: refuse mode skips other sizes with the fitImage message; empty and missing folders are errors', withTempDir((dir) => {
  makeFolder(dir);
  const data = folderDataset(dir, { size: 32, mode: 'refuse' });
  assert.deepEqual(data.train.map((e) => e.source), ['a.png', join('sub', 'b.png')]);
  assert.ok(data.skipped.some((s) => /big\.png is 64×48, the model takes 32×32 \(pass --resize/.test(s.reason)));
  const held = folderDataset(dir, { size: 32, heldOutFraction: 0.34, seed: 2 });
  assert.equal(held.train.length + held.heldOut.length, 3);
  assert.equal(held.heldOut.length, 1);

  const empty = join(dir, 'empty');
  mkdirSync(empty);
  assert.throws(() => folderDataset(empty), messageMatches(/no captions\.jsonl/));
  writeFileSync(join(empty, 'captions.jsonl'), '\n\n');
  assert.throws(() => folderDataset(empty), messageMatches(/no usable images \(captions\.jsonl has no entries\)/));
  writeFileSync(join(empty, 'captions.jsonl'), '{"file": "x.png", "caption": "x"}\n');
  assert.throws(() => folderDataset(empty), messageMatches(/no usable images \(all 1 entries were skipped; first: .*captions\.jsonl:1 \(x\.png\): file not found\)/));
  assert.throws(() => folderDataset(join(dir, 'nope')), messageMatches(/nope: not a folder/));
}));

test('openImageData: shapes, emoji, a folder or its captions.jsonl; bad specs are named', withTempDir((dir) => {
  const shapes = openImageData('shapes', { size: 16, count: 10, seed: 1 });
  assert.equal(shapes.train.length, 10);
  assert.equal(shapes.train[0]!.image.width, 16);
  assert.equal(shapes.heldOut.length, 200);
  const emoji = openImageData('emoji', { size: 32, count: 5 });
  assert.equal(emoji.train.length, 5);
  makeFolder(dir);
  const logged: string[] = [];
  const folder = openImageData(dir, { size: 32, resize: 'refuse', log: (m) => logged.push(m) });
  assert.equal(folder.train.length, 2);
  assert.equal(folder.description.spec, dir);
  assert.ok(logged.length > 0);
  assert.equal(openImageData(join(dir, 'captions.jsonl'), { size: 32 }).train.length, 3);
  assert.throws(() => openImageData('shapez', { size: 32 }), messageMatches(/^image data 'shapez': not 'shapes', 'emoji' or a folder with captions\.jsonl/));
  assert.throws(() => openImageData('shapes', { size: 7 }), messageMatches(/^image data 'shapes': size must be an integer/));
  assert.throws(() => openImageData('shapes', { size: 16, count: -1 }), messageMatches(/^image data 'shapes': shapes: count must be/));
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  assert.throws(() => openImageData(empty, { size: 32 }), messageMatches(new RegExp(`^image data '${empty}': .*no captions\\.jsonl`)));
  void readFileSync;
}));
