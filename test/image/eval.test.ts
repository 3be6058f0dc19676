// The pipeline's evaluation arithmetic: accuracy at N by disjoint CLIP-reranked groups, nearest neighbours by pixels
// and by embedding, distance summaries and PSNR, on hand-made cases.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accuracyAtN, nearestByEmbedding, nearestByPixels, psnr, summarizeDistances } from '../../src/image/eval.js';
import type { RgbImage } from '../../src/image/types.js';

const flat = (v: number, size = 2): RgbImage => ({ width: size, height: size, data: new Float32Array(3 * size * size).fill(v) });

describe('image evaluation', () => {
  it('accuracy at N keeps the CLIP-best sample of each disjoint group', () => {
    const caps = [
      // 4 samples: only the 2nd is correct and CLIP ranks it highest
      { caption: 'a', heldOut: false, clipScores: [0.1, 0.9, 0.2, 0.3], correct: [false, true, false, false] },
      // held out: CLIP prefers a wrong sample
      { caption: 'b', heldOut: true, clipScores: [0.5, 0.1, 0.1, 0.1], correct: [false, true, true, true] },
    ];
    const r = accuracyAtN(caps, [1, 2, 4, 8]);
    assert.deepEqual(r.map((x) => x.n), [1, 2, 4, 8]);
    assert.equal(r[0]!.held_in, 0.25);
    assert.equal(r[0]!.held_out, 0.75);
    assert.equal(r[1]!.held_in, 0.5); // groups [0,1] → 1 ✓, [2,3] → 3 ✗
    assert.equal(r[1]!.held_out, 0.5); // [0,1] → 0 ✗, [2,3] → 2 ✓ (tie: the earlier)
    assert.equal(r[2]!.held_in, 1);
    assert.equal(r[2]!.held_out, 0);
    assert.ok(Number.isNaN(r[3]!.held_in));
    assert.equal(r[3]!.groups_in, 0);
    assert.throws(() => accuracyAtN([{ caption: 'x', heldOut: false, clipScores: [1], correct: [] }], [1]), /caption 'x': 1 CLIP scores but 0 verdicts/);
  });

  it('nearest neighbours by pixels and by embedding', () => {
    const refs = [flat(0), flat(0.5), flat(1)];
    const nn = nearestByPixels([flat(0.45), flat(0.9)], refs);
    assert.deepEqual(nn.map((n) => n.index), [1, 2]);
    assert.ok(Math.abs(nn[0]!.distance - 0.0025) < 1e-7);
    const q = Float32Array.from([1, 0, 0, 1]);
    const r = Float32Array.from([0.6, 0.8, 1, 0, 0, 1]);
    const ne = nearestByEmbedding(q, r, 2);
    assert.deepEqual(ne.map((n) => n.index), [1, 2]);
    assert.equal(ne[0]!.distance, 0);
    assert.throws(() => nearestByPixels([flat(0)], []), /training set is empty/);
    assert.throws(() => nearestByPixels([flat(0, 2)], [flat(0, 3)]), /2×2 and a 3×3/);
  });

  it('distance summaries and PSNR', () => {
    const s = summarizeDistances([4, 1, 3, 2], 2.5);
    assert.equal(s.count, 4);
    assert.equal(s.median, 2.5);
    assert.equal(s.below, 0.5);
    assert.ok(Math.abs(psnr(flat(0), flat(0.1)) - 20) < 1e-4);
    assert.equal(psnr(flat(0.3), flat(0.3)), Infinity);
  });
});
