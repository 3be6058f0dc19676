// Tests of the deterministic attribute reader: exact on rendered scenes of every attribute combination at 16, 32
// and 64 px, with mild noise and (reported) blur; refuses captions with a wrong colour, shape, size, relation,
// position or object count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COLOR_NAMES,
  POSITIONS,
  RELATIONS,
  SHAPE_KINDS,
  SHAPE_SIZES,
  captionOf,
  placeScene,
  randomScene,
  renderScene,
  type Position,
  type Relation,
  type Scene,
  type ShapeAttributes,
} from '../../src/image/data/shapes.js';
import { captionAccuracy, captionFidelity, readScene } from '../../src/image/data/attribute-reader.js';
import { blankImage } from '../../src/image/png.js';
import { mulberry32 } from '../../src/nn/init.js';
import type { RgbImage } from '../../src/image/types.js';

const SIZES = [16, 32, 64] as const;
const ALL_ATTRIBUTES: ShapeAttributes[] = COLOR_NAMES.flatMap((color) =>
  SHAPE_KINDS.flatMap((shape) => SHAPE_SIZES.map((size) => ({ color, shape, size }))),
);

/** Gaussian noise of standard deviation `std` added to every value (clamped to [0, 1]), seeded. */
function withNoise(image: RgbImage, std: number, seed: number): RgbImage {
  const rand = mulberry32(seed);
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    data[i] = Math.min(1, Math.max(0, image.data[i]! + std * g));
  }
  return { ...image, data };
}

/** A 3×3 blur (centre weight 4, neighbours 1), as a soft stand-in for a generated image. */
function blurred(image: RgbImage): RgbImage {
  const { width: w, height: h, data } = image;
  const out = new Float32Array(data.length);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let sum = 0;
        let weight = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            const yy = y + dy;
            if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
            const wt = dx === 0 && dy === 0 ? 4 : 1;
            sum += wt * data[c * w * h + yy * w + xx]!;
            weight += wt;
          }
        }
        out[c * w * h + y * w + x] = sum / weight;
      }
    }
  }
  return { ...image, data: out };
}

/** Accuracy over scenes, with the first few failures for the assertion message. */
function accuracy(scenes: Scene[], size: number, transform: (im: RgbImage, i: number) => RgbImage = (im) => im) {
  let correct = 0;
  const failures: string[] = [];
  scenes.forEach((scene, i) => {
    const check = captionAccuracy(captionOf(scene), transform(renderScene(scene, size), i));
    if (check.correct) correct++;
    else if (failures.length < 5) failures.push(`${captionOf(scene)}: ${check.reasons.join('; ')}`);
  });
  return { rate: correct / scenes.length, failures };
}

/** Every attribute combination alone (anywhere and at each position), drawn from a fixed seed. */
function singleScenes(seed: number): Scene[] {
  const rand = mulberry32(seed);
  const layouts: { position?: Position }[] = [{}, ...POSITIONS.map((position) => ({ position }))];
  return ALL_ATTRIBUTES.flatMap((a) => layouts.map((layout) => placeScene([a], layout, rand)));
}

/** Every ordered pair of attribute combinations (36 × 36), the relation cycling through the four. */
function pairScenes(seed: number): Scene[] {
  const rand = mulberry32(seed);
  const scenes: Scene[] = [];
  let k = 0;
  for (const a of ALL_ATTRIBUTES) {
    for (const b of ALL_ATTRIBUTES) scenes.push(placeScene([a, b], { relation: RELATIONS[k++ % 4]! }, rand));
  }
  return scenes;
}

test('reader: 100% on every single-object combination and position at 16, 32 and 64 px', (t) => {
  const scenes = singleScenes(1);
  assert.equal(scenes.length, 36 * 5);
  for (const size of SIZES) {
    const { rate, failures } = accuracy(scenes, size);
    t.diagnostic(`single objects at ${size} px: ${(100 * rate).toFixed(1)}% of ${scenes.length}`);
    assert.equal(rate, 1, failures.join('\n'));
  }
});

test('reader: 100% on every ordered pair of combinations with every relation at 16, 32 and 64 px', (t) => {
  const scenes = pairScenes(2);
  assert.equal(scenes.length, 36 * 36);
  for (const size of SIZES) {
    const subset = size === 64 ? scenes.filter((_, i) => i % 3 === 0) : scenes;
    const { rate, failures } = accuracy(subset, size);
    t.diagnostic(`object pairs at ${size} px: ${(100 * rate).toFixed(1)}% of ${subset.length}`);
    assert.equal(rate, 1, failures.join('\n'));
  }
});

test('reader: 100% with mild noise (σ = 0.08) on 400 random scenes per size', (t) => {
  const rand = mulberry32(3);
  const scenes = Array.from({ length: 400 }, () => randomScene(rand, 'any'));
  for (const size of SIZES) {
    const { rate, failures } = accuracy(scenes, size, (im, i) => withNoise(im, 0.08, 1000 * size + i));
    t.diagnostic(`noise σ=0.08 at ${size} px: ${(100 * rate).toFixed(1)}%`);
    assert.equal(rate, 1, failures.join('\n'));
  }
});

test('reader: blurred scenes (3×3 blur + σ = 0.05 noise): exact at 32 and 64 px, ≥ 90% at 16 px', (t) => {
  const rand = mulberry32(4);
  const scenes = Array.from({ length: 300 }, () => randomScene(rand, 'any'));
  for (const size of SIZES) {
    const { rate, failures } = accuracy(scenes, size, (im, i) => withNoise(blurred(im), 0.05, 7 * size + i));
    t.diagnostic(`blur + noise at ${size} px: ${(100 * rate).toFixed(1)}%`);
    assert.ok(size === 16 ? rate >= 0.9 : rate === 1, `${rate}\n${failures.join('\n')}`);
  }
});

test('reader: what it reads from one known scene', () => {
  const scene: Scene = {
    objects: [
      { color: 'blue', shape: 'square', size: 'large', x: 0.3, y: 0.05, side: 0.4 },
      { color: 'yellow', shape: 'triangle', size: 'small', x: 0.35, y: 0.65, side: 0.25 },
    ],
    relation: 'above',
  };
  const read = readScene(renderScene(scene, 32));
  assert.equal(read.objects.length, 2);
  const [top, bottom] = read.objects;
  assert.deepEqual([top!.color, top!.shape, top!.size], ['blue', 'square', 'large']);
  assert.deepEqual([bottom!.color, bottom!.shape, bottom!.size], ['yellow', 'triangle', 'small']);
  assert.equal(read.relation, 'above');
  assert.deepEqual(top!.box, { x: 10, y: 2, width: 13, height: 13 });
  assert.equal(top!.fill, 1);
  assert.equal(top!.shapeScores.square, 1);
  assert.ok(bottom!.fill > 0.45 && bottom!.fill < 0.7, `triangle fill ${bottom!.fill}`);
  assert.equal(top!.colorShare, 1);
  assert.equal(read.speckPixels, 0);
  // A circle's fill is about π/4.
  const circle = readScene(renderScene({ objects: [{ color: 'red', shape: 'circle', size: 'large', x: 0.3, y: 0.3, side: 0.42 }] }, 64));
  assert.ok(Math.abs(circle.objects[0]!.fill - Math.PI / 4) < 0.03, `circle fill ${circle.objects[0]!.fill}`);
  assert.deepEqual(circle.positions, []);
  // Specks are dropped: a stray 2-pixel blob is not an object.
  const im = renderScene(scene, 32);
  for (const p of [0, 1]) {
    im.data[p] = 230 / 255;
    im.data[32 * 32 + p] = 25 / 255;
    im.data[2 * 32 * 32 + p] = 75 / 255;
  }
  const withSpeck = readScene(im);
  assert.equal(withSpeck.objects.length, 2);
  assert.equal(withSpeck.speckPixels, 2);
});

/** Captions of `scene` with exactly one thing wrong, each labelled with what is wrong. */
function wrongCaptions(scene: Scene, rand: () => number): [string, string][] {
  const out: [string, string][] = [];
  const other = <T>(items: readonly T[], not: T): T => {
    const rest = items.filter((x) => x !== not);
    return rest[Math.floor(rand() * rest.length)]!;
  };
  scene.objects.forEach((o, i) => {
    const swap = (patch: Partial<ShapeAttributes>) => ({ ...scene, objects: scene.objects.map((p, j) => (j === i ? { ...p, ...patch } : p)) });
    out.push(['colour', captionOf(swap({ color: other(COLOR_NAMES, o.color) }))]);
    out.push(['shape', captionOf(swap({ shape: other(SHAPE_KINDS, o.shape) }))]);
    out.push(['size', captionOf(swap({ size: other(SHAPE_SIZES, o.size) }))]);
  });
  if (scene.relation !== undefined) {
    const opposite: Record<Relation, Relation> = { above: 'below', below: 'above', 'left of': 'right of', 'right of': 'left of' };
    const [a, b] = [scene.objects[0]!, scene.objects[1]!];
    // "A above B" says "B below A": the opposite relation is only wrong when the two objects differ.
    if (a.color !== b.color || a.shape !== b.shape || a.size !== b.size) {
      out.push(['relation', captionOf({ ...scene, relation: opposite[scene.relation] })]);
    }
    const perpendicular = (scene.relation === 'above' || scene.relation === 'below' ? ['left of', 'right of'] : ['above', 'below']) as Relation[];
    out.push(['relation', captionOf({ ...scene, relation: perpendicular[Math.floor(rand() * 2)]! })]);
    out.push(['count', captionOf({ objects: [scene.objects[0]!] })]);
  } else {
    const extra = { color: 'red' as const, shape: 'circle' as const, size: 'small' as const, x: 0, y: 0, side: 0.25 };
    out.push(['count', captionOf({ objects: [scene.objects[0]!, extra], relation: 'above' })]);
    if (scene.position !== undefined) {
      const opposite: Record<Position, Position> = { 'on the left': 'on the right', 'on the right': 'on the left', 'at the top': 'at the bottom', 'at the bottom': 'at the top' };
      out.push(['position', captionOf({ ...scene, position: opposite[scene.position] })]);
    }
  }
  return out;
}

test('reader: refuses captions with a wrong colour, shape, size, relation, position or object count', (t) => {
  const rand = mulberry32(5);
  for (const size of SIZES) {
    let refused = 0;
    let total = 0;
    for (let i = 0; i < 150; i++) {
      const scene = randomScene(rand, 'any');
      const image = renderScene(scene, size);
      assert.ok(captionAccuracy(captionOf(scene), image).correct, captionOf(scene));
      for (const [what, caption] of wrongCaptions(scene, rand)) {
        const check = captionAccuracy(caption, image);
        total++;
        if (!check.correct) refused++;
        assert.equal(check.correct, false, `${size} px, wrong ${what}: "${caption}" accepted for "${captionOf(scene)}"`);
        assert.ok(check.reasons.length > 0);
        const expect = { colour: /is \w+, not \w+$/, shape: /is a \w+, not a/, size: /is (small|large), not/, relation: /the first object is .* the second, not/, position: /not (on|at) the/, count: /caption has \d object\(s\), the image shows \d/ }[what as 'colour'];
        assert.ok(check.reasons.some((r) => expect.test(r)), `${what}: ${check.reasons.join('; ')}`);
      }
    }
    t.diagnostic(`wrong captions refused at ${size} px: ${refused}/${total}`);
  }
});

test('captionAccuracy: pairings, partial captions, unparseable captions and blank images', () => {
  const scene: Scene = {
    objects: [
      { color: 'green', shape: 'circle', size: 'small', x: 0.05, y: 0.4, side: 0.25 },
      { color: 'purple', shape: 'triangle', size: 'large', x: 0.5, y: 0.3, side: 0.4 },
    ],
    relation: 'left of',
  };
  const image = renderScene(scene, 32);
  assert.ok(captionAccuracy('a small green circle left of a large purple triangle', image).correct);
  // The same scene said the other way round.
  assert.ok(captionAccuracy('a large purple triangle right of a small green circle', image).correct);
  assert.ok(captionAccuracy('a purple triangle to the right of a circle', image).correct);
  assert.ok(captionAccuracy({ objects: [{ shape: 'circle' }, {}], relation: 'left of' }, image).correct);
  const unknown = captionAccuracy('a dog left of a cat', image);
  assert.equal(unknown.correct, false);
  assert.equal(unknown.parsed, undefined);
  assert.match(unknown.reasons[0]!, /caption not understood/);
  const blank = captionAccuracy('a small red circle', blankImage(32, 32));
  assert.equal(blank.correct, false);
  assert.equal(blank.read.objects.length, 0);
  assert.match(blank.reasons[0]!, /caption has 1 object\(s\), the image shows 0/);
  const fidelity = captionFidelity([
    { caption: 'a small green circle left of a large purple triangle', image },
    { caption: 'a small green circle above a large purple triangle', image },
  ]);
  assert.deepEqual(fidelity, { total: 2, correct: 1, accuracy: 0.5 });
});
