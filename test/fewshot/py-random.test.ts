// PyRandom against CPython 3.11's random.Random: replays test/fixtures/fewshot/py_random.json (seeded call
// sequences with their results or error messages, made by scripts/make_fewshot_fixtures.py) value for value,
// and, where the harness's Python is installed, the same on freshly drawn seeds and arguments.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PyRandom } from '../../src/fewshot/py-random.js';

interface Call {
  method: string;
  args: unknown[];
}
interface RandomCase {
  seed: string | number;
  name?: string;
  calls: Call[];
  results?: ({ result: unknown } | { error: string })[];
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = JSON.parse(readFileSync(`${ROOT}test/fixtures/fewshot/py_random.json`, 'utf8')) as { cases: RandomCase[] };

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const num = (x: unknown): number => x as number;

function callPy(rnd: PyRandom, { method, args }: Call): unknown {
  switch (method) {
    case 'random': return rnd.random();
    case 'getrandbits': return rnd.getrandbits(num(args[0])).toString();
    case 'randbelow': return rnd.randbelow(num(args[0]));
    case 'randrange': return rnd.randrange(num(args[0]), args[1] as number | undefined, args[2] as number | undefined);
    case 'randint': return rnd.randint(num(args[0]), num(args[1]));
    case 'choice': return rnd.choice(args[0] as unknown[]);
    case 'shuffle': {
      const xs = [...(args[0] as unknown[])];
      rnd.shuffle(xs);
      return xs;
    }
    case 'sample': return rnd.sample(args[0] as unknown[], num(args[1]));
    case 'sample_range': return rnd.sample(range(Math.max(0, num(args[0]))), num(args[1]));
    case 'choices': return rnd.choices(args[0] as unknown[], num(args[1]));
    case 'choices_range': return rnd.choices(range(num(args[0])), num(args[1]));
    default: throw new Error(`unknown method ${method}`);
  }
}

function seedOf(s: string | number): bigint {
  return BigInt(s);
}

function replay(c: RandomCase): void {
  const rnd = new PyRandom(seedOf(c.seed));
  c.calls.forEach((call, i) => {
    const expected = c.results![i]!;
    const where = `seed ${c.seed} call ${i} ${call.method}(${JSON.stringify(call.args).slice(0, 60)})`;
    if ('error' in expected) assert.throws(() => callPy(rnd, call), { message: expected.error }, where);
    else assert.deepEqual(callPy(rnd, call), expected.result, where);
  });
}

describe('PyRandom matches CPython 3.11 random.Random (fixture)', () => {
  const names = [...new Set(FIXTURE.cases.map((c) => c.name!))];
  for (const name of names) {
    it(name, () => {
      for (const c of FIXTURE.cases.filter((x) => x.name === name)) replay(c);
    });
  }

  it('number and bigint seeds agree; negative seeds use |seed|', () => {
    assert.equal(new PyRandom(1234).random(), new PyRandom(1234n).random());
    assert.equal(new PyRandom(-1234).random(), new PyRandom(1234).random());
    assert.throws(() => new PyRandom(1.5), TypeError);
  });

  it('sample handles a million-element population quickly', () => {
    const pop = range(1_000_000);
    const t0 = performance.now();
    const s = new PyRandom(7).sample(pop, 1000);
    assert.equal(new Set(s).size, 1000);
    assert.ok(performance.now() - t0 < 1000);
  });
});

const PYTHON = process.env.TESSERA_LM_EVAL_PYTHON ?? '/work/venv/bin/python';
const SCRIPT = `${ROOT}scripts/make_fewshot_fixtures.py`;

/** Fresh seeds and arguments, drawn from a time-seeded PyRandom (printed on failure). */
function liveCases(metaSeed: number): RandomCase[] {
  const g = new PyRandom(metaSeed);
  const cases: RandomCase[] = [];
  for (let c = 0; c < 12; c++) {
    const seed = g.getrandbits(g.choice([8, 31, 32, 33, 64, 90])).toString();
    const calls: Call[] = [];
    for (let j = 0; j < 25; j++) {
      const m = g.choice(['random', 'getrandbits', 'randbelow', 'randrange', 'shuffle', 'sample_range', 'choices_range']);
      if (m === 'random') calls.push({ method: m, args: [] });
      else if (m === 'getrandbits') calls.push({ method: m, args: [g.randint(0, 140)] });
      else if (m === 'randbelow') calls.push({ method: m, args: [g.randint(1, 2 ** g.randint(1, 52))] });
      else if (m === 'randrange') calls.push({ method: m, args: [g.randint(-50, 50), g.randint(-50, 200), g.choice([1, 2, 3, -1, -4])] });
      else if (m === 'shuffle') calls.push({ method: m, args: [range(g.randint(0, 40))] });
      else if (m === 'sample_range') {
        const n = g.choice([g.randint(0, 30), g.randint(30, 400), g.randint(400, 200000)]);
        calls.push({ method: m, args: [n, g.randint(0, Math.min(n, g.choice([5, 20, 120])))] });
      } else calls.push({ method: m, args: [g.randint(1, 500), g.randint(0, 50)] });
    }
    cases.push({ seed, calls });
  }
  return cases;
}

// the oracle script needs lm_eval and sacrebleu: a Python without them skips (a partial environment is no oracle)
const liveSkip = !existsSync(PYTHON)
  ? `no Python at ${PYTHON} (set TESSERA_LM_EVAL_PYTHON)`
  : spawnSync(PYTHON, ['-c', 'import lm_eval, sacrebleu'], { encoding: 'utf8' }).status !== 0
    ? `${PYTHON} lacks lm_eval or sacrebleu`
    : false;

describe('PyRandom matches CPython live', { skip: liveSkip }, () => {
  it('fresh seeds and call sequences', { timeout: 180_000 }, () => {
    const metaSeed = Date.now();
    const cases = liveCases(metaSeed);
    const run = spawnSync(PYTHON, [SCRIPT, '--eval'], { input: JSON.stringify({ random: cases }), encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { random: RandomCase[] };
    for (const c of out.random) {
      try {
        replay(c);
      } catch (e) {
        throw new Error(`live case failed (meta seed ${metaSeed}): ${(e as Error).message}`);
      }
    }
  });
});
