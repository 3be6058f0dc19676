// Canaries and exposure (src/audit/canaries.ts, exposure.ts, skew-normal.ts): insertion counts and determinism, the
// manifest's checks, the skew-normal against scipy.stats.skewnorm (values below printed by scipy 1.x:
// `skewnorm.cdf(x, a, loc, scale)`, `skewnorm.pdf(…)`, and `skewnorm.fit` of a seeded sample recovering its
// parameters), and exposure with a model whose preferences are known.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canariesFound, insertCanaries, readCanaryManifest, writeCanaryCorpus } from '../../src/audit/canaries.js';
import { exposureOf, measureExposure } from '../../src/audit/exposure.js';
import { prng } from '../../src/audit/generate.js';
import { fitSkewNormal, normCdf, skewNormCdf, skewNormPdf } from '../../src/audit/skew-normal.js';
import type { LanguageModel, LoglikelihoodRequest, LoglikelihoodResult } from '../../src/lm/language-model.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-canaries-'));
after(() => rmSync(root, { recursive: true, force: true }));

const count = (hay: string, needle: string) => hay.split(needle).length - 1;
const DOCS = Array.from({ length: 40 }, (_, i) => ({ id: `d${i}`, text: `line one of ${i}\nline two\nline three` }));

describe('canaries', () => {
  it('inserts each canary exactly k times into distinct documents, deterministically, leaving the rest intact', () => {
    const a = insertCanaries(DOCS, { repeats: [1, 2, 4, 8, 16, 32], seed: 5 });
    const b = insertCanaries(DOCS, { repeats: [1, 2, 4, 8, 16, 32], seed: 5 });
    assert.deepEqual(a, b);
    assert.equal(a.manifest.canaries.length, 18);
    const all = a.docs.map((d) => d.text).join('\n\u0000\n');
    for (const c of a.manifest.canaries) {
      assert.equal(count(all, c.text), c.repeats, c.id);
      assert.equal(new Set(c.docs).size, c.repeats, `${c.id}: distinct documents`);
      assert.ok(c.text.startsWith(c.prefix) && c.text.endsWith(c.secret));
    }
    a.docs.forEach((d, i) => {
      const kept = d.text.split('\n').filter((l) => !a.manifest.canaries.some((c) => c.text === l));
      assert.deepEqual(kept, DOCS[i]!.text.split('\n'));
      assert.equal(d.id, DOCS[i]!.id);
    });
    assert.match(a.manifest.canaries.find((c) => c.format === 'uuid')!.secret, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notDeepEqual(insertCanaries(DOCS, { repeats: [1], seed: 6 }).manifest.canaries[0]!.secret, a.manifest.canaries[0]!.secret);
  });

  it('writes corpus.jsonl + canaries.json, reads them back, refuses a bad manifest by field', () => {
    const src = join(root, 'src.jsonl');
    writeFileSync(src, DOCS.map((d) => JSON.stringify(d)).join('\n') + '\n');
    const out = join(root, 'canaried');
    const r = writeCanaryCorpus(src, out, { repeats: [1, 3], formats: ['key'] });
    assert.deepEqual(readCanaryManifest(out), r.manifest);
    const lines = readFileSync(r.corpus, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; text: string });
    assert.equal(lines.length, DOCS.length);
    assert.equal(count(lines.map((l) => l.text).join('\n'), r.manifest.canaries[1]!.text), 3);
    const bad = join(root, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...r.manifest, canaries: [{ ...r.manifest.canaries[0], repeats: 0 }] }));
    assert.throws(() => readCanaryManifest(bad), /canaries\[0\]\.repeats must be a positive integer/);
    assert.throws(() => insertCanaries(DOCS, { repeats: [1], formats: ['nope'] }), /unknown canary format 'nope'/);
    const found = canariesFound(r.manifest, ['nothing', `x ${r.manifest.canaries[0]!.secret} y`]);
    assert.deepEqual(found.get(r.manifest.canaries[0]!.id), [1]);
  });
});

describe('skew-normal', () => {
  // scipy.stats.skewnorm: (x, a, loc, scale) → cdf, pdf
  const SCIPY: [number, number, number, number, number, number][] = [
    [0.3, 2, 0, 1, 0.2927028103234078, 0.5535820359971714],
    [-2, 5, 0, 1, 1.5532682678674716e-26, 8.228064589257254e-25],
    [-1.5, -3, 1, 2, 0.21129721936847573, 0.1826329360527474],
    [4, 0.5, 2, 0.7, 0.995978221675603, 0.01776717637557941],
    [-3, 4, 0, 1, 3.048404170418618e-37, 1.5746198854495248e-35],
  ];
  it('matches scipy.stats.skewnorm cdf and pdf (tails to 1e-4 relative)', () => {
    for (const [x, a, loc, scale, cdf, pdf] of SCIPY) {
      const p = { a, loc, scale };
      assert.ok(Math.abs(skewNormCdf(x, p) / cdf - 1) < 1e-4, `cdf(${x}; ${a}) = ${skewNormCdf(x, p)}, scipy ${cdf}`);
      assert.ok(Math.abs(skewNormPdf(x, p) / pdf - 1) < 1e-5, `pdf(${x}; ${a})`);
    }
    for (const z of [-3, -0.5, 0, 1.2]) assert.ok(Math.abs(skewNormCdf(z, { a: 0, loc: 0, scale: 1 }) - normCdf(z)) < 1e-9);
  });

  it('recovers the parameters of a seeded sample by maximum likelihood', () => {
    const rand = prng(11);
    // skew-normal draws: loc + scale (δ|u0| + √(1−δ²) u1), δ = a/√(1+a²)
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    const a = 4;
    const d = a / Math.sqrt(1 + a * a);
    const xs = Array.from({ length: 4000 }, () => 10 + 2 * (d * Math.abs(gauss()) + Math.sqrt(1 - d * d) * gauss()));
    const fit = fitSkewNormal(xs);
    assert.ok(Math.abs(fit.loc - 10) < 0.1 && Math.abs(fit.scale - 2) < 0.1 && Math.abs(fit.a - 4) < 1.2, JSON.stringify(fit));
  });
});

/** A model with known preferences: log p(secret | prefix) = −(distance of the secret's first char code from 'a'). */
class Picky implements LanguageModel {
  readonly name = 'picky';
  constructor(private readonly favourite: string) {}
  async maxContext() {
    return 64;
  }
  async tokenize(t: string) {
    return [...t].map((c) => c.charCodeAt(0));
  }
  async detokenize(ids: number[]) {
    return String.fromCharCode(...ids);
  }
  async loglikelihood(reqs: LoglikelihoodRequest[]): Promise<LoglikelihoodResult[]> {
    return reqs.map((r) => ({ logprob: r.continuation === this.favourite ? -0.001 : -5 - (r.continuation.charCodeAt(0) % 17) - r.continuation.length / 10 - (r.continuation.charCodeAt(1) % 13) / 13, isGreedy: false }));
  }
  async loglikelihoodRolling(): Promise<never> {
    throw new Error('unused');
  }
  async score(): Promise<never> {
    throw new Error('unused');
  }
  async generate(): Promise<never> {
    throw new Error('unused');
  }
  async close() {}
}

describe('exposure', () => {
  it('ranks a canary the model prefers first: exposure = log2 |R|; a middling one ≈ 1 bit', async () => {
    const { manifest } = insertCanaries(DOCS, { repeats: [1, 2], formats: ['key'], seed: 2 });
    const rows = await measureExposure(new Picky(manifest.canaries[1]!.secret), manifest, { candidates: 255 });
    const fav = rows.find((r) => r.id === manifest.canaries[1]!.id)!;
    assert.equal(fav.rank, 1);
    assert.equal(fav.candidates, 256);
    assert.equal(fav.exposure, 8);
    assert.ok(fav.exposure_extrapolated > 8, `extrapolated ${fav.exposure_extrapolated}`);
    assert.ok(fav.exposure_extrapolated <= manifest.formats[0]!.space_log2 + 1e-9);
    const other = rows.find((r) => r.id === manifest.canaries[0]!.id)!;
    assert.ok(other.exposure < 4, `non-favourite exposure ${other.exposure}`);
    // exposureOf: the median of 2n+1 values has rank n+1 → log2((2n+1)/(n+1)) ≈ 1 bit
    const unused = Array.from({ length: 200 }, (_, i) => i + (i >= 100 ? 1 : 0));
    assert.ok(Math.abs(exposureOf(100, unused).exposure - Math.log2(201 / 101)) < 1e-12);
  });
});
