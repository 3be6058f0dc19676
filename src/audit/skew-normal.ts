// The skew-normal distribution (pdf, cdf, maximum-likelihood fit), for Secret Sharer's extrapolated exposure: the
// log-perplexities of a format's unused candidates are fitted with a skew-normal (as tensorflow/privacy does with
// scipy.stats.skewnorm.fit) and a canary's exposure is −log2 CDF(its log-perplexity).
//   pdf(x) = 2/ω φ(z) Φ(αz), z = (x − ξ)/ω;   cdf(x) = Φ(z) − 2 T(z, α)   (Owen's T function)
// Φ comes from erfc (Numerical Recipes' Chebyshev erfcc, relative error < 1.2e-7 everywhere, so tails keep their
// relative accuracy); T(h, a) = (1/2π) ∫_0^atan(a) exp(−h²/(2cos²θ)) dθ by composite Simpson (400 panels).
// The fit maximises the log-likelihood with Nelder–Mead over (α, ξ, log ω) from the moment estimates, α clamped to
// ±50 (the likelihood is flat in α beyond that).

/** erfc(x), fractional error < 1.2e-7. */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Standard normal CDF. */
export function normCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** log Φ(z), accurate far into the left tail. */
export function logNormCdf(z: number): number {
  if (z > -30) return Math.log(normCdf(z));
  // Mills ratio asymptotics: Φ(z) ≈ φ(z)/|z| (1 − 1/z² + 3/z⁴)
  return -0.5 * z * z - Math.log(-z) - 0.5 * Math.log(2 * Math.PI) + Math.log(1 - 1 / (z * z) + 3 / z ** 4);
}

/** Owen's T function T(h, a). */
export function owensT(h: number, a: number): number {
  if (a === 0) return 0;
  if (a < 0) return -owensT(h, -a);
  const end = Math.atan(a);
  const n = 400;
  const dx = end / n;
  const f = (th: number) => Math.exp((-h * h) / (2 * Math.cos(th) ** 2));
  let s = f(0) + f(end);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(i * dx);
  return (s * dx) / 3 / (2 * Math.PI);
}

export interface SkewNormal {
  /** Shape α. */
  a: number;
  /** Location ξ. */
  loc: number;
  /** Scale ω > 0. */
  scale: number;
}

export function skewNormPdf(x: number, p: SkewNormal): number {
  const z = (x - p.loc) / p.scale;
  return (2 / p.scale) * (Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI)) * normCdf(p.a * z);
}

export function skewNormCdf(x: number, p: SkewNormal): number {
  return Math.exp(skewNormLogCdf(x, p));
}

/**
 * log CDF. Φ(z) − 2T(z, α) cancels in the left tail (where a canary likelier than every candidate lands), so below
 * 1e-6 the tail integral ∫_{z−12}^{z} 2φ(t)Φ(αt) dt is summed in log space (Simpson, 2,400 panels).
 */
export function skewNormLogCdf(x: number, p: SkewNormal): number {
  const z = (x - p.loc) / p.scale;
  const direct = normCdf(z) - 2 * owensT(z, p.a);
  if (direct > 1e-6) return Math.log(Math.min(1, direct));
  const n = 2400;
  const lo = z - 12;
  const h = (z - lo) / n;
  const logf = (t: number) => Math.LN2 - 0.5 * t * t - 0.5 * Math.log(2 * Math.PI) + logNormCdf(p.a * t);
  let m = -Infinity;
  const ls: number[] = [];
  for (let i = 0; i <= n; i++) {
    const v = logf(lo + i * h);
    ls.push(v);
    if (v > m) m = v;
  }
  let s = 0;
  ls.forEach((v, i) => (s += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * Math.exp(v - m)));
  return m + Math.log((s * h) / 3);
}

function logLik(xs: readonly number[], a: number, loc: number, scale: number): number {
  let s = 0;
  for (const x of xs) {
    const z = (x - loc) / scale;
    s += Math.LN2 - 0.5 * z * z - 0.5 * Math.log(2 * Math.PI) - Math.log(scale) + logNormCdf(a * z);
  }
  return s;
}

/** Nelder–Mead minimisation of f over R^n from x0 with initial steps `step`. */
export function nelderMead(f: (x: number[]) => number, x0: number[], step: number[], iters = 2000, tol = 1e-10): number[] {
  const n = x0.length;
  let simplex = [x0, ...x0.map((_, i) => x0.map((v, j) => (i === j ? v + step[i]! : v)))].map((x) => ({ x, f: f(x) }));
  for (let it = 0; it < iters; it++) {
    simplex.sort((p, q) => p.f - q.f);
    if (Math.abs(simplex[n]!.f - simplex[0]!.f) < tol * (1 + Math.abs(simplex[0]!.f))) break;
    const c = x0.map((_, j) => simplex.slice(0, n).reduce((s, p) => s + p.x[j]!, 0) / n);
    const worst = simplex[n]!;
    const at = (t: number) => c.map((v, j) => v + t * (worst.x[j]! - v));
    const r = { x: at(-1), f: 0 };
    r.f = f(r.x);
    if (r.f < simplex[0]!.f) {
      const e = { x: at(-2), f: 0 };
      e.f = f(e.x);
      simplex[n] = e.f < r.f ? e : r;
    } else if (r.f < simplex[n - 1]!.f) simplex[n] = r;
    else {
      const k = { x: at(r.f < worst.f ? -0.5 : 0.5), f: 0 };
      k.f = f(k.x);
      if (k.f < Math.min(worst.f, r.f)) simplex[n] = k;
      else simplex = simplex.map((p, i) => (i === 0 ? p : { x: p.x.map((v, j) => simplex[0]!.x[j]! + 0.5 * (v - simplex[0]!.x[j]!)), f: 0 })).map((p, i) => (i === 0 ? p : { x: p.x, f: f(p.x) }));
    }
  }
  simplex.sort((p, q) => p.f - q.f);
  return simplex[0]!.x;
}

/** Maximum-likelihood skew-normal fit (at least 3 values with some spread). */
export function fitSkewNormal(xs: readonly number[]): SkewNormal {
  if (xs.length < 3) throw new Error(`skew-normal fit needs at least 3 values, got ${xs.length}`);
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  if (!(sd > 0)) throw new Error('skew-normal fit: all values are equal');
  const skew = xs.reduce((a, b) => a + ((b - mean) / sd) ** 3, 0) / n;
  // method of moments: |γ| < 0.995 maps to δ, α = δ/√(1−δ²)
  const g = Math.min(0.99, Math.abs(skew));
  const r = Math.cbrt((2 * g) / (4 - Math.PI));
  const delta = Math.sign(skew) * Math.sqrt((Math.PI / 2) * (r * r) / (1 + r * r));
  const a0 = Math.max(-50, Math.min(50, delta / Math.sqrt(Math.max(1e-6, 1 - delta * delta))));
  const scale0 = sd / Math.sqrt(Math.max(1e-6, 1 - (2 * delta * delta) / Math.PI));
  const loc0 = mean - scale0 * delta * Math.sqrt(2 / Math.PI);
  const clampA = (a: number) => Math.max(-50, Math.min(50, a));
  const best = nelderMead((p) => -logLik(xs, clampA(p[0]!), p[1]!, Math.exp(p[2]!)), [a0, loc0, Math.log(scale0)], [0.5, 0.2 * sd, 0.2]);
  return { a: clampA(best[0]!), loc: best[1]!, scale: Math.exp(best[2]!) };
}
