// The skew-normal distribution (pdf, cdf, maximum-likelihood fit), for Secret Sharer's extrapolated exposure: the
// log-perplexities of a format's unused candidates are fitted with a skew-normal (as tensorflow/privacy does with
// scipy.stats.skewnorm.fit) and a canary's exposure is −log2 CDF(its log-perplexity). A canary the model has learnt
// sits far in the left tail, so the CDF must keep its *relative* accuracy there (values like 1e-50 are normal).
//   pdf(x) = 2/ω φ(z) Φ(αz), z = (x − ξ)/ω;   cdf(x) = Φ(z) − 2 T(z, α)   (Owen's T function)
// erfc is a positive-term series below 2.5 and a continued fraction above (≈1e-15 relative), so log Φ is exact far
// into the tail. T(h, a) = (1/2π) ∫_0^atan(a) exp(−h²/(2cos²θ)) dθ by composite Gauss–Legendre. Φ(z) − 2T cancels
// in the left tail, so below 1e-5 the CDF is the tail integral ∫_{−∞}^z 2φ(t)Φ(αt) dt summed in log space, over a
// window scaled to how fast the (log-concave) density falls off. Checked against mpmath to ~1e-9 (test/audit).
// The fit maximises the log-likelihood with Nelder–Mead over (α, ξ, log ω) from the moment estimates, α clamped to
// ±50 (the likelihood is flat in α beyond that).

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** erf(x) for 0 ≤ x < 2.5: 2/√π e^{−x²} Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)) (positive terms, no cancellation). */
function erfSmall(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
    term *= (2 * x * x) / (2 * n + 1);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
}

/** e^{x²} erfc(x) for x ≥ 2.5: 1/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated backwards. */
function erfcxLarge(x: number): number {
  let g = x;
  for (let n = 120; n >= 1; n--) g = x + n / 2 / g;
  return 1 / (Math.sqrt(Math.PI) * g);
}

/** erfc(x), relative error ≈ 1e-15 (0 only where it underflows, x > 26.5). */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) return 1 - erfSmall(x);
  return Math.exp(-x * x) * erfcxLarge(x);
}

/** log erfc(x), finite for every finite x. */
function logErfc(x: number): number {
  if (x < 2.5) return Math.log(erfc(x));
  return -x * x + Math.log(erfcxLarge(x));
}

/** Standard normal CDF. */
export function normCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** log Φ(z), accurate far into both tails. */
export function logNormCdf(z: number): number {
  if (z > 5) return Math.log1p(-normCdf(-z));
  return Math.log(0.5) + logErfc(-z / Math.SQRT2);
}

/** log φ(z). */
function logNormPdf(z: number): number {
  return -0.5 * z * z - LOG_SQRT_2PI;
}

// 20-point Gauss–Legendre nodes and weights on [−1, 1] (Newton on P_20 from Chebyshev guesses).
const GL: { x: number[]; w: number[] } = (() => {
  const n = 20;
  const x: number[] = [];
  const w: number[] = [];
  for (let i = 1; i <= n; i++) {
    let r = Math.cos((Math.PI * (i - 0.25)) / (n + 0.5));
    let dp = 0;
    for (let it = 0; it < 100; it++) {
      let p0 = 1;
      let p1 = r;
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * r * p1 - (k - 1) * p0) / k];
      dp = (n * (r * p1 - p0)) / (r * r - 1);
      const dr = p1 / dp;
      r -= dr;
      if (Math.abs(dr) < 1e-16) break;
    }
    x.push(r);
    w.push(2 / ((1 - r * r) * dp * dp));
  }
  return { x, w };
})();

/** Nodes and weights of composite Gauss–Legendre on [lo, hi] with `panels` equal panels. */
function glNodes(lo: number, hi: number, panels: number): { t: number[]; w: number[] } {
  const t: number[] = [];
  const w: number[] = [];
  const h = (hi - lo) / panels;
  for (let p = 0; p < panels; p++) {
    const mid = lo + (p + 0.5) * h;
    GL.x.forEach((xi, i) => {
      t.push(mid + 0.5 * h * xi);
      w.push(0.5 * h * GL.w[i]!);
    });
  }
  return { t, w };
}

/** Owen's T function T(h, a). */
export function owensT(h: number, a: number): number {
  if (a === 0) return 0;
  if (a < 0) return -owensT(h, -a);
  const { t, w } = glNodes(0, Math.atan(a), 8);
  let s = 0;
  t.forEach((th, i) => (s += w[i]! * Math.exp((-h * h) / (2 * Math.cos(th) ** 2))));
  return s / (2 * Math.PI);
}

export interface SkewNormal {
  /** Shape α. */
  a: number;
  /** Location ξ. */
  loc: number;
  /** Scale ω > 0. */
  scale: number;
}

/** log pdf of the standard skew-normal with shape a at z (without the −log ω). */
function logStdPdf(z: number, a: number): number {
  return Math.LN2 + logNormPdf(z) + logNormCdf(a * z);
}

export function skewNormLogPdf(x: number, p: SkewNormal): number {
  return logStdPdf((x - p.loc) / p.scale, p.a) - Math.log(p.scale);
}

export function skewNormPdf(x: number, p: SkewNormal): number {
  return Math.exp(skewNormLogPdf(x, p));
}

/** Below this the CDF comes from the tail integral, not Φ(z) − 2T(z, α) (whose absolute error is ~1e-15). */
const DIRECT_MIN = 1e-5;

/** Φ(z) − 2T(z, α), clamped to [0, 1]. */
function directCdf(z: number, a: number): number {
  return Math.min(1, Math.max(0, normCdf(z) - 2 * owensT(z, a)));
}

/**
 * log ∫_{−∞}^z 2φ(t)Φ(αt) dt for z in the left tail. The log-density is concave with slope d > 0 at z, so beyond
 * z − 40/d (or z − 40 when d < 1) the density is below e^{−40} of its value at z: the window [z − 40w, z], w =
 * 1/max(d, 1), split into 40 Gauss–Legendre panels of width w, is summed in log space.
 */
function logTailCdf(z: number, a: number): number {
  const d = -z + a * Math.exp(logNormPdf(a * z) - logNormCdf(a * z));
  const w = 1 / Math.max(d, 1);
  const { t, w: wt } = glNodes(z - 40 * w, z, 40);
  const ls = t.map((u) => logStdPdf(u, a));
  const m = Math.max(...ls);
  let s = 0;
  ls.forEach((v, i) => (s += wt[i]! * Math.exp(v - m)));
  return m + Math.log(s);
}

/** log CDF, keeping relative accuracy in the left tail (finite for any finite x). */
export function skewNormLogCdf(x: number, p: SkewNormal): number {
  const z = (x - p.loc) / p.scale;
  const direct = directCdf(z, p.a);
  if (direct > DIRECT_MIN) return Math.log(direct);
  return logTailCdf(z, p.a);
}

export function skewNormCdf(x: number, p: SkewNormal): number {
  const z = (x - p.loc) / p.scale;
  const direct = directCdf(z, p.a);
  return direct > DIRECT_MIN ? direct : Math.exp(logTailCdf(z, p.a));
}

/** Log-likelihood of xs under the skew-normal (a, loc, scale). */
export function skewNormLogLik(xs: readonly number[], p: SkewNormal): number {
  let s = 0;
  for (const x of xs) s += skewNormLogPdf(x, p);
  return s;
}

/** Nelder–Mead minimisation of f over R^n from x0 with initial steps `step`. */
export function nelderMead(f: (x: number[]) => number, x0: number[], step: number[], iters = 4000, tol = 1e-12): number[] {
  const n = x0.length;
  const point = (x: number[]) => ({ x, f: f(x) });
  let simplex = [x0, ...x0.map((_, i) => x0.map((v, j) => (i === j ? v + step[i]! : v)))].map(point);
  for (let it = 0; it < iters; it++) {
    simplex.sort((p, q) => p.f - q.f);
    if (Math.abs(simplex[n]!.f - simplex[0]!.f) < tol * (1 + Math.abs(simplex[0]!.f))) break;
    const c = x0.map((_, j) => simplex.slice(0, n).reduce((s, p) => s + p.x[j]!, 0) / n);
    const worst = simplex[n]!;
    const at = (t: number) => c.map((v, j) => v + t * (worst.x[j]! - v));
    const r = point(at(-1));
    if (r.f < simplex[0]!.f) {
      const e = point(at(-2));
      simplex[n] = e.f < r.f ? e : r;
    } else if (r.f < simplex[n - 1]!.f) simplex[n] = r;
    else {
      const k = point(at(r.f < worst.f ? -0.5 : 0.5));
      if (k.f < Math.min(worst.f, r.f)) simplex[n] = k;
      else {
        const best = simplex[0]!;
        simplex = simplex.map((p, i) => (i === 0 ? p : point(p.x.map((v, j) => best.x[j]! + 0.5 * (v - best.x[j]!)))));
      }
    }
  }
  simplex.sort((p, q) => p.f - q.f);
  return simplex[0]!.x;
}

/** |α| is clamped here: beyond it the skew-normal is a half-normal for every practical purpose. */
export const MAX_SHAPE = 50;
const clampA = (a: number) => Math.max(-MAX_SHAPE, Math.min(MAX_SHAPE, a));

/** Method-of-moments start (the sample skewness clipped below the skew-normal's maximum, 0.995). */
function momentStart(xs: readonly number[]): { a: number; loc: number; scale: number; sd: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  if (!(sd > 0)) throw new Error('skew-normal fit: all values are equal');
  const skew = xs.reduce((a, b) => a + ((b - mean) / sd) ** 3, 0) / n;
  const g = Math.min(0.99, Math.abs(skew));
  const r = Math.cbrt((2 * g) / (4 - Math.PI));
  const delta = Math.sign(skew) * Math.sqrt(((Math.PI / 2) * (r * r)) / (1 + r * r));
  const a = clampA(delta / Math.sqrt(Math.max(1e-6, 1 - delta * delta)));
  const scale = sd / Math.sqrt(Math.max(1e-6, 1 - (2 * delta * delta) / Math.PI));
  return { a, loc: mean - scale * delta * Math.sqrt(2 / Math.PI), scale, sd };
}

/** Maximum-likelihood skew-normal fit, like scipy.stats.skewnorm.fit (at least 3 finite values with some spread). */
export function fitSkewNormal(xs: readonly number[]): SkewNormal {
  if (xs.length < 3) throw new Error(`skew-normal fit needs at least 3 values, got ${xs.length}`);
  if (!xs.every(Number.isFinite)) throw new Error('skew-normal fit: the values must be finite numbers');
  const s = momentStart(xs);
  const nll = (p: number[]) => -skewNormLogLik(xs, { a: clampA(p[0]!), loc: p[1]!, scale: Math.exp(p[2]!) });
  // two rounds: a restart from the first optimum re-expands a simplex that collapsed early
  let best = nelderMead(nll, [s.a, s.loc, Math.log(s.scale)], [0.5, 0.2 * s.sd, 0.2]);
  best = nelderMead(nll, best, [0.2, 0.05 * s.sd, 0.05]);
  return { a: clampA(best[0]!), loc: best[1]!, scale: Math.exp(best[2]!) };
}
