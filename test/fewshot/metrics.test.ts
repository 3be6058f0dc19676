// The harness metrics port against lm-evaluation-harness 0.4.13 / sacrebleu 2.6 / transformers' SQuAD script:
// replays test/fixtures/fewshot/metrics.json (requests with the oracle's answers, made by
// scripts/make_fewshot_fixtures.py) to 1e-9, and, where the harness's Python is installed, compares on fresh
// random inputs (exact_match options, SQuAD F1, a random BLEU corpus, bootstraps).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PyRandom } from '../../src/fewshot/py-random.js';
import {
  AGGREGATIONS,
  accAllStderr,
  bootstrapStderr,
  corpusBleuScore,
  exactMatch,
  harnessStderr,
  meanStderr,
  popStddev,
  pyRegExp,
  pyRstrip,
  sampleStddev,
  squadExact,
  squadF1,
  squadF1Max,
  squadNormalize,
  stderrForAggregation,
  tokenize13a,
  weightedMean,
  type Aggregation,
  type ExactMatchOptions,
} from '../../src/fewshot/metrics.js';

interface Args {
  prediction?: string;
  reference?: string;
  references?: string[];
  opts?: ExactMatchOptions;
  s?: string;
  line?: string;
  hyps?: string[];
  refs?: (string | null)[][];
  items?: unknown[];
  agg?: string;
  metric?: string;
  iters?: number;
  i?: number;
  n?: number;
}
interface MetricCase {
  fn: string;
  args: Args;
  result?: unknown;
  error?: string;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = JSON.parse(readFileSync(`${ROOT}test/fixtures/fewshot/metrics.json`, 'utf8')) as { cases: MetricCase[] };

/** JSON carries NaN as the string 'nan'. */
const nums = (xs: unknown[]): number[] => xs.map((x) => (x === 'nan' ? NaN : (x as number)));

function aggregation(name: string): Aggregation<unknown> {
  const f = AGGREGATIONS[name] as Aggregation<unknown> | undefined;
  if (!f) throw new Error(`no aggregation ${name}`);
  return f;
}

function itemsFor(agg: string, items: unknown[]): unknown[] {
  return agg === 'nanmean' ? nums(items) : items;
}

function compute(fn: string, a: Args): unknown {
  switch (fn) {
    case 'exact_match': return exactMatch(a.prediction!, a.reference!, a.opts);
    case 'squad_normalize': return squadNormalize(a.s!);
    case 'squad_f1': return squadF1(a.prediction!, a.reference!);
    case 'squad_exact': return squadExact(a.prediction!, a.reference!);
    case 'squad_f1_max': return squadF1Max(a.prediction!, a.references!);
    case 'tokenize_13a': return tokenize13a(pyRstrip(a.line!));
    case 'corpus_bleu': {
      const s = corpusBleuScore(a.hyps!, a.refs!);
      return { score: s.score, counts: s.counts, totals: s.totals, bp: s.bp, sysLen: s.sysLen, refLen: s.refLen };
    }
    case 'sample_stddev': return sampleStddev(nums(a.items!));
    case 'pop_stddev': return popStddev(nums(a.items!));
    case 'mean_stderr': return meanStderr(nums(a.items!));
    case 'weighted_mean': return weightedMean(a.items as [number, number][]);
    case 'acc_all_stderr': return accAllStderr(a.items as Parameters<typeof accAllStderr>[0]);
    case 'bootstrap_stderr': return bootstrapStderr(aggregation(a.agg!), itemsFor(a.agg!, a.items!), a.iters!);
    case 'bootstrap_chunk': {
      const rnd = new PyRandom(a.i!);
      const f = aggregation(a.agg!);
      return Array.from({ length: a.n! }, () => f(rnd.choices(a.items!, a.items!.length)));
    }
    case 'harness_stderr': {
      const items = itemsFor(a.agg!, a.items!);
      return { value: aggregation(a.agg!)(items), stderr: harnessStderr(a.metric!, a.agg!, items, a.iters!) };
    }
    default: return aggregation(fn)(itemsFor(fn, a.items!));
  }
}

/** Deep comparison with numbers to 1e-9 (relative above 1) and 'nan' matching NaN. */
function close(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', where);
    const tol = 1e-9 * Math.max(1, Math.abs(expected));
    assert.ok(Math.abs((actual as number) - expected) <= tol, `${where}: ${actual} vs ${expected}`);
  } else if (expected === 'nan') {
    assert.ok(Number.isNaN(actual), `${where}: ${actual} vs NaN`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual) && actual.length === expected.length, `${where}: ${JSON.stringify(actual)}`);
    expected.forEach((e, i) => close((actual as unknown[])[i], e, `${where}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    for (const [k, e] of Object.entries(expected)) close((actual as Record<string, unknown>)[k], e, `${where}.${k}`);
  } else assert.deepEqual(actual, expected, where);
}

function check(c: MetricCase, tag = ''): void {
  const where = `${tag}${c.fn}(${JSON.stringify(c.args).slice(0, 120)})`;
  if (c.error !== undefined) assert.throws(() => compute(c.fn, c.args), `${where} should fail: ${c.error}`);
  else close(compute(c.fn, c.args), c.result, where);
}

describe('metrics match lm-evaluation-harness (fixture)', () => {
  const groups = new Map<string, MetricCase[]>();
  for (const c of FIXTURE.cases) groups.set(c.fn, [...(groups.get(c.fn) ?? []), c]);
  for (const [fn, cases] of groups) {
    it(`${fn} (${cases.length})`, () => {
      for (const c of cases) check(c);
    });
  }

  it('bootstrapped BLEU over 100 items with 100 iterations is fast', () => {
    const rnd = new PyRandom(5);
    const words = 'the a cat dog sat on mat . , ran quickly 3.5 big small red'.split(' ');
    const sent = (): string => Array.from({ length: rnd.randint(3, 25) }, () => rnd.choice(words)).join(' ');
    const items = Array.from({ length: 100 }, () => [[sent(), sent()], sent()] as const);
    const t0 = performance.now();
    const se = stderrForAggregation('bleu', 100)!(items);
    assert.ok(Number.isFinite(se) && se > 0);
    assert.ok(performance.now() - t0 < 5000, `took ${performance.now() - t0} ms`);
  });

  it('stderrForAggregation mirrors stderr_for_metric', () => {
    assert.equal(stderrForAggregation('mean', 0), null);
    assert.equal(stderrForAggregation('mean', 10), meanStderr);
    assert.equal(stderrForAggregation('weighted_perplexity', 1000), null);
    assert.equal(stderrForAggregation('bits_per_byte', 1000), null);
    assert.equal(stderrForAggregation('brier_score', 1000), null);
    assert.notEqual(stderrForAggregation('perplexity', 1000), null);
    assert.throws(() => stderrForAggregation('chrf', 100), /chrf/);
    assert.notEqual(stderrForAggregation('chrf', 100, () => 1), null);
  });

  it('pyRegExp translates Python re syntax', () => {
    const sub = (p: string, s: string): string => s.replace(pyRegExp(p), '');
    assert.equal(sub('(?s).*#### ', 'a\nb #### 7'), '7');
    assert.equal(sub('.*#### ', 'a\nb #### 7'), 'a\n7');
    assert.equal(sub('\\.$', 'x.\n'), 'x\n');
    assert.equal(sub('\\d+', 'a١٢b3'), 'ab');
    assert.equal(sub('(?P<x>a)(?P=x)', 'aab'), 'b');
    assert.equal(sub('a{,2}', 'aaab'), 'b');
    assert.equal(sub('\\bthe\\b', 'éthe the'), 'éthe ');
    assert.equal(sub('[\\]x]', 'a]x'), 'a');
    assert.equal(sub('\\-\\:', 'a-:b'), 'ab');
  });
});

const PYTHON = process.env.TESSERA_LM_EVAL_PYTHON ?? '/work/venv/bin/python';
const SCRIPT = `${ROOT}scripts/make_fewshot_fixtures.py`;

/** Random requests of every kind, drawn from a time-seeded PyRandom (printed on failure). */
function liveRequests(metaSeed: number): MetricCase[] {
  const g = new PyRandom(metaSeed);
  const alphabet = ['a', 'B', 'c', 'É', 'the', ' ', ' ', ',', '.', '$', '1', '42', '-', '!', '\n', '"', 'an', 'ß', '_'];
  const str = (max: number): string => Array.from({ length: g.randint(0, max) }, () => g.choice(alphabet)).join('');
  const vocab = 'the cat dog a an sat ran on mat . , 3.5 10-20 $5 ( ) " & &amp; big red über 😀 - ! ?'.split(' ');
  const sent = (): string => Array.from({ length: g.randint(0, 18) }, () => g.choice(vocab)).join(g.choice([' ', ' ', '']));
  const reqs: MetricCase[] = [];
  for (let i = 0; i < 40; i++) {
    const opts: ExactMatchOptions = {
      ignoreCase: g.random() < 0.5,
      ignorePunctuation: g.random() < 0.5,
      ignoreNumbers: g.random() < 0.5,
      ...(g.random() < 0.4 ? { regexesToIgnore: g.sample(['(?s).*#### ', ',', '\\$', '\\s+$', '^\\s+', '\\d', '\\bthe\\b'], 2) } : {}),
    };
    const p = str(8);
    reqs.push({ fn: 'exact_match', args: { prediction: p, reference: g.random() < 0.5 ? p.toUpperCase() : str(8), opts } });
    reqs.push({ fn: 'squad_f1', args: { prediction: str(10), reference: str(10) } });
  }
  const n = g.randint(20, 40);
  const items = Array.from({ length: n }, () => [[sent(), sent()], sent()]);
  reqs.push({ fn: 'corpus_bleu', args: { hyps: items.map((it) => it[1] as string), refs: [0, 1].map((j) => items.map((it) => (it[0] as string[])[j]!)) } });
  reqs.push({ fn: 'bleu', args: { items } });
  reqs.push({ fn: 'bootstrap_stderr', args: { agg: 'bleu', items, iters: 100 } });
  const vals = Array.from({ length: g.randint(5, 60) }, () => g.random() * 4 - 3);
  reqs.push({ fn: 'bootstrap_stderr', args: { agg: 'mean', items: vals, iters: g.choice([100, 1000, 2000]) } });
  reqs.push({ fn: 'harness_stderr', args: { metric: 'perplexity', agg: 'perplexity', items: vals, iters: 1000 } });
  return reqs;
}

// the oracle script needs lm_eval and sacrebleu: a Python without them skips (a partial environment is no oracle)
const liveSkip = !existsSync(PYTHON)
  ? `no Python at ${PYTHON} (set TESSERA_LM_EVAL_PYTHON)`
  : spawnSync(PYTHON, ['-c', 'import lm_eval, sacrebleu'], { encoding: 'utf8' }).status !== 0
    ? `${PYTHON} lacks lm_eval or sacrebleu`
    : false;

describe('metrics match lm-evaluation-harness live', { skip: liveSkip }, () => {
  it('fresh random inputs', { timeout: 240_000 }, () => {
    const metaSeed = Date.now();
    const run = spawnSync(PYTHON, [SCRIPT, '--eval'], {
      input: JSON.stringify({ metrics: liveRequests(metaSeed) }),
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { metrics: MetricCase[] };
    for (const c of out.metrics) check(c, `[live, meta seed ${metaSeed}] `);
  });
});
