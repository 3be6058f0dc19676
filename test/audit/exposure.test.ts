// Exposure (src/audit/exposure.ts) and the skew-normal behind its extrapolation (src/audit/skew-normal.ts).
// Reference values: moderate ones are scipy 1.17.1 (`/work/venv/bin/python -c "from scipy.stats import skewnorm;
// print(skewnorm.cdf(x, a, loc, scale), skewnorm.pdf(x, a, loc, scale))"`); deep left-tail ones are mpmath 1.3.0 at
// 50 digits, ∫_0^∞ 2φ(z−u)Φ(a(z−u)) du by mp.quad over mp.linspace(0, 0.5, 201) + [0.5, ∞] (scipy/boost lose
// relative accuracy there: e.g. it gives 2.023e-201 at z = −1.5, a = 20). The fit reference is skewnorm.fit of 60
// draws `np.round(skewnorm.rvs(3, loc=20, scale=4, size=60, random_state=np.random.default_rng(7)), 4)`.
// Exposure runs against fake LanguageModels whose log-likelihoods are set by the test.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { insertCanaries, type CanaryManifest } from '../../src/audit/canaries.js';
import { exposureOf, extrapolatedExposure, measureExposure } from '../../src/audit/exposure.js';
import { prng } from '../../src/audit/generate.js';
import { erfc, fitSkewNormal, normCdf, owensT, skewNormCdf, skewNormLogCdf, skewNormLogLik, skewNormPdf } from '../../src/audit/skew-normal.js';
import type { LanguageModel, LoglikelihoodRequest, LoglikelihoodResult } from '../../src/lm/language-model.js';

const close = (got: number, want: number, rel: number, what: string) => assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `${what}: got ${got}, want ${want}`);

describe('skew-normal', () => {
  it('normal CDF and erfc against exact values', () => {
    close(normCdf(-3), 0.0013498980316300945, 1e-12, 'Φ(−3)');
    close(normCdf(1), 0.84134474606854295, 1e-13, 'Φ(1)');
    close(normCdf(-20), 2.7536241186062337e-89, 1e-12, 'Φ(−20)');
    close(erfc(5), 1.5374597944280349e-12, 1e-13, 'erfc(5)');
    assert.equal(normCdf(0), 0.5);
  });

  it('Owen\'s T identities: T(0, a) = atan(a)/2π, T(h, 1) = Φ(h)(1 − Φ(h))/2, odd in a', () => {
    for (const a of [0.1, 1, 7, 50]) close(owensT(0, a), Math.atan(a) / (2 * Math.PI), 1e-13, `T(0, ${a})`);
    for (const h of [-2, 0.5, 3]) close(owensT(h, 1), (normCdf(h) * (1 - normCdf(h))) / 2, 1e-12, `T(${h}, 1)`);
    assert.equal(owensT(1.3, -2), -owensT(1.3, 2));
  });

  it('a = 0 is the normal distribution', () => {
    for (const z of [-8, -3, -0.5, 0, 1.2, 4]) {
      close(skewNormCdf(z, { a: 0, loc: 0, scale: 1 }), normCdf(z), 1e-12, `cdf(${z})`);
      close(skewNormPdf(z, { a: 0, loc: 0, scale: 1 }), Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI), 1e-13, `pdf(${z})`);
    }
    close(skewNormCdf(7, { a: 0, loc: 5, scale: 2 }), normCdf(1), 1e-12, 'loc/scale');
  });

  // scipy.stats.skewnorm: [x, a, loc, scale, cdf, pdf]
  const SCIPY: [number, number, number, number, number, number][] = [
    [0.3, 2, 0, 1, 0.2927028103234078, 0.5535820359971714],
    [-1.5, -3, 1, 2, 0.21129721936847573, 0.1826329360527474],
    [4, 0.5, 2, 0.7, 0.995978221675603, 0.01776717637557941],
    [25, 3, 20, 4, 0.7887027806315243, 0.0913164680263737],
    [12, -4, 20, 4, 0.045500263896358424, 0.026995483256594014],
  ];
  it('matches scipy.stats.skewnorm cdf and pdf', () => {
    for (const [x, a, loc, scale, cdf, pdf] of SCIPY) {
      close(skewNormCdf(x, { a, loc, scale }), cdf, 1e-9, `cdf(${x}; ${a}, ${loc}, ${scale})`);
      close(skewNormPdf(x, { a, loc, scale }), pdf, 1e-9, `pdf(${x}; ${a}, ${loc}, ${scale})`);
    }
  });

  // mpmath, 50 digits: [z, a, cdf, log cdf]
  const TAIL: [number, number, number, number][] = [
    [-1.5, 20, 2.1084117184285795e-201, -462.07366876784752],
    [-0.3, 50, 3.6995585720918746e-54, -123.03138151398571],
    [-6, 5, 3.8140073228246471e-208, -477.59901891559963],
    [-12, 2, 9.9202835085089812e-161, -368.42161847166617],
    [-40, 5, 0, -20813.390096315419],
    [-40, -3, 0, -803.91529483319413],
  ];
  it('keeps relative accuracy deep in the left tail (mpmath), in log space beyond underflow', () => {
    for (const [z, a, cdf, logCdf] of TAIL) {
      const p = { a, loc: 0, scale: 1 };
      close(skewNormLogCdf(z, p), logCdf, 1e-9, `log cdf(${z}; ${a})`);
      if (cdf > 0) close(skewNormCdf(z, p), cdf, 1e-7, `cdf(${z}; ${a})`);
    }
  });

  it('the CDF is the integral of the pdf', () => {
    const p = { a: -2.5, loc: 1, scale: 1.7 };
    const n = 4000;
    const [lo, hi] = [-2, 2.5];
    let s = 0;
    for (let i = 0; i < n; i++) s += skewNormPdf(lo + ((i + 0.5) * (hi - lo)) / n, p) * ((hi - lo) / n);
    close(skewNormCdf(hi, p) - skewNormCdf(lo, p), s, 1e-6, 'F(hi) − F(lo)');
  });

  it('the maximum-likelihood fit agrees with scipy.stats.skewnorm.fit', () => {
    const xs = [
      20.2616, 20.5476, 20.8793, 24.8813, 22.4581, 24.0112, 21.3651, 26.5344, 23.5419, 23.3597, 22.6771, 18.8341, 19.8142, 23.6539, 18.521, 23.5105, 25.5148, 22.2027, 27.5311, 22.9663, 27.5303, 21.2762,
      24.3636, 20.8766, 20.3453, 22.1185, 29.565, 22.6053, 18.709, 21.2561, 25.837, 20.9675, 24.1431, 21.7385, 24.019, 22.3265, 21.7563, 23.7945, 24.35, 22.9984, 20.034, 19.1037, 24.4412, 23.1283,
      24.1043, 26.6602, 23.5209, 21.0765, 22.6573, 27.3306, 23.7811, 23.8933, 18.9753, 22.0882, 20.6717, 21.2576, 19.9237, 21.4468, 26.6884, 22.3202,
    ];
    const scipy = { a: 2.356384641036832, loc: 20.147029032361964, scale: 3.573926937405216 };
    close(skewNormLogLik(xs, scipy), -136.7457950048101, 1e-10, 'log-likelihood at scipy\'s optimum');
    const fit = fitSkewNormal(xs);
    assert.ok(skewNormLogLik(xs, fit) >= -136.7457950048101 - 1e-6, `ours ${skewNormLogLik(xs, fit)} is no worse`);
    close(fit.a, scipy.a, 2e-3, 'a');
    close(fit.loc, scipy.loc, 2e-4, 'loc');
    close(fit.scale, scipy.scale, 2e-4, 'scale');
  });

  it('recovers the parameters of a large seeded sample, both skews', () => {
    const rand = prng(11);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    for (const [a, loc, scale] of [
      [4, 10, 2],
      [-3, -5, 0.5],
    ] as const) {
      // skew-normal draws: loc + scale (δ|u0| + √(1−δ²) u1), δ = a/√(1+a²)
      const d = a / Math.sqrt(1 + a * a);
      const xs = Array.from({ length: 4000 }, () => loc + scale * (d * Math.abs(gauss()) + Math.sqrt(1 - d * d) * gauss()));
      const fit = fitSkewNormal(xs);
      assert.ok(Math.abs(fit.loc - loc) < 0.05 * scale && Math.abs(fit.scale / scale - 1) < 0.05 && Math.abs(fit.a - a) < 1.2, `${a}: ${JSON.stringify(fit)}`);
    }
    assert.throws(() => fitSkewNormal([1, 2]), /at least 3 values/);
    assert.throws(() => fitSkewNormal([1, 1, 1]), /all values are equal/);
  });
});

/** A LanguageModel whose log-likelihood of a continuation is `fn(continuation, context)`; records its calls. */
class FakeModel implements LanguageModel {
  readonly name = 'fake';
  readonly calls: LoglikelihoodRequest[][] = [];
  constructor(private readonly fn: (continuation: string, context: string) => number) {}
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
    this.calls.push(reqs);
    return reqs.map((r) => ({ logprob: this.fn(r.continuation, r.context), isGreedy: false }));
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

/** A deterministic value in [0, 1) from a string (FNV-1a). */
function unit(s: string): number {
  let h = 0x811c9dc5;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  return (h >>> 0) / 2 ** 32;
}

const DOCS = Array.from({ length: 20 }, (_, i) => ({ id: `d${i}`, text: `doc ${i}\nmore text` }));

describe('measureExposure', () => {
  const { manifest } = insertCanaries(DOCS, { repeats: [1, 4, 16], formats: ['key', 'digits'], seed: 2 });
  const [favourite, middling] = [manifest.canaries[2]!, manifest.canaries[0]!];
  // log-perplexity: candidates uniform-ish in [10, 20); the favourite 0.001; the middling one at the median 15
  const score = (s: string) => (s === favourite.secret ? -0.001 : s === middling.secret ? -15 : -(10 + 10 * unit(s)));

  it('a canary the model prefers to every candidate has rank 1 and exposure log2 |R|; a median one ≈ 1 bit', async () => {
    const lm = new FakeModel(score);
    const progress: [number, number][] = [];
    const rows = await measureExposure(lm, manifest, { candidates: 1023, batch: 100, seed: 5, onProgress: (d, t) => progress.push([d, t]) });
    assert.deepEqual(
      rows.map((r) => r.id),
      manifest.canaries.map((c) => c.id),
    );
    const fav = rows.find((r) => r.id === favourite.id)!;
    assert.equal(fav.rank, 1);
    assert.equal(fav.candidates, 1024);
    assert.equal(fav.exposure, 10);
    assert.equal(fav.log_perplexity, 0.001);
    const space = manifest.formats.find((f) => f.name === favourite.format)!.space_log2;
    assert.ok(fav.exposure_extrapolated > fav.exposure && fav.exposure_extrapolated <= space, `extrapolated ${fav.exposure_extrapolated}`);
    const mid = rows.find((r) => r.id === middling.id)!;
    assert.ok(Math.abs(mid.exposure - 1) < 0.15, `median canary exposure ${mid.exposure}`);
    assert.ok(Math.abs(mid.exposure_extrapolated - 1) < 0.3, `median canary extrapolated ${mid.exposure_extrapolated}`);
    for (const r of rows) assert.equal(r.found_by_attack, undefined);
    // batching: every call within `batch`, every request conditioned on its format's prefix, progress to the total
    const total = 2 * 1023 + manifest.canaries.length;
    assert.ok(lm.calls.every((c) => c.length >= 1 && c.length <= 100));
    assert.equal(lm.calls.flat().length, total);
    assert.ok(lm.calls.flat().every((r) => manifest.formats.some((f) => f.prefix === r.context)));
    assert.deepEqual(progress.at(-1), [total, total]);
  });

  it('draws distinct candidates, never an inserted secret, the same ones for the same seed', async () => {
    const seen = (lm: FakeModel, prefix: string) => lm.calls.flat().filter((r) => r.context === prefix).map((r) => r.continuation);
    const inserted = new Set(manifest.canaries.map((c) => c.secret));
    const a = new FakeModel(score);
    const b = new FakeModel(score);
    const c = new FakeModel(score);
    await measureExposure(a, manifest, { candidates: 300, seed: 1 });
    await measureExposure(b, manifest, { candidates: 300, seed: 1 });
    await measureExposure(c, manifest, { candidates: 300, seed: 2 });
    const cand = (lm: FakeModel) => seen(lm, 'my key is ').filter((s) => !inserted.has(s));
    assert.equal(new Set(cand(a)).size, 300);
    assert.equal(seen(a, 'my key is ').length, 300 + 3, 'the canaries are scored once each');
    assert.deepEqual(cand(a), cand(b));
    assert.notDeepEqual(cand(a), cand(c));
    for (const s of cand(a)) assert.match(s, /^[a-z0-9]{8}$/);
  });

  it('counts ties half; with no spread in the candidates the extrapolation is a point mass', async () => {
    const one: CanaryManifest = { ...manifest, canaries: [favourite, middling] };
    const flat = await measureExposure(new FakeModel((s) => (s === favourite.secret ? -1 : -5)), one, { candidates: 99 });
    const fav = flat.find((r) => r.id === favourite.id)!;
    const tied = flat.find((r) => r.id === middling.id)!;
    assert.equal(fav.rank, 1);
    assert.equal(fav.exposure_extrapolated, manifest.formats[0]!.space_log2);
    assert.equal(tied.rank, 1 + 99 / 2);
    assert.ok(Math.abs(tied.exposure - Math.log2(100 / 50.5)) < 1e-12);
    assert.equal(tied.exposure_extrapolated, 0);
    // exposureOf directly: the median of 2n+1 values has rank n+1
    const unused = Array.from({ length: 200 }, (_, i) => i + (i >= 100 ? 1 : 0));
    const med = exposureOf(100, unused);
    assert.equal(med.rank, 101);
    assert.ok(Math.abs(med.exposure - Math.log2(201 / 101)) < 1e-12);
    assert.equal(extrapolatedExposure(-1e6, { a: 0, loc: 0, scale: 1 }, 0, 30), 30, 'capped at the space');
    assert.equal(extrapolatedExposure(1e6, { a: 0, loc: 0, scale: 1 }, 0, 30), 0, 'floored at 0');
  });

  it('refuses bad options and a model that cannot score', async () => {
    const lm = new FakeModel(score);
    await assert.rejects(measureExposure(lm, manifest, { candidates: 2 }), /candidates must be an integer ≥ 3/);
    await assert.rejects(measureExposure(lm, manifest, { batch: 0 }), /batch must be a positive integer/);
    const broken = new FakeModel(() => NaN);
    await assert.rejects(measureExposure(broken, manifest, { candidates: 10 }), /exposure: scoring 'my key is .*' failed/);
  });
});
