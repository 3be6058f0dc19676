// The six membership metrics (src/audit/membership.ts) fed with tessera's per-token log-probabilities (Scorer on the
// tiny HF GPT-2 fixture, token ids directly) against transformers' GPT2LMHeadModel(labels=input_ids) on the same
// weights, to 1e-4 relative: the committed values below (printed by scripts/make_audit_fixtures.py) and, where the
// Python oracle is installed, fresh random sequences. Plus hand-checked window/perplexity cases.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { membershipScores, perplexityFromLogprobs, windowPerplexity, type MembershipResult } from '../../src/audit/membership.js';
import { loadModel } from '../../src/lm/checkpoint.js';
import { Scorer } from '../../src/lm/score.js';

interface Case {
  text: string;
  ids: number[];
  lowerIds: number[];
  refIds: Record<string, number[]>;
  window: number;
  expected?: Omit<MembershipResult, 'scores'> & { scores: Record<string, number> };
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODEL_DIR = `${ROOT}test/fixtures/hf_gpt2_tiny`;
const PYTHON = process.env.TESSERA_PYTHON ?? '/work/venv/bin/python';
const SCRIPT = `${ROOT}scripts/make_audit_fixtures.py`;

/** transformers' values (scripts/make_audit_fixtures.py, no arguments). */
const CASES: Case[] = [
  {"text": "jT sample 0", "ids": [41, 19], "lowerIds": [89, 67], "refIds": {"small": [83, 6, 9, 68, 12, 46, 74, 7, 64, 27, 4, 11, 55, 53], "same": [41, 19]}, "window": 50, "expected": {"ppl": 95.85299025101608, "ppl_lower": 98.51403188159009, "ppl_window": 95.85300429313799, "zlib": 19, "ref_ppl": {"small": 97.49764875006785, "same": 95.85299025101608}, "scores": {"perplexity": -4.5628156661987305, "zlib": 4.1640954599046625, "lowercase": 1.0060014099817765, "window": -4.562815812695161, "ratio:small": 1.0037285302267194, "ratio:same": 1.0}}},
  {"text": "I_LMw sample 1", "ids": [8, 30, 11, 70, 54], "lowerIds": [56, 78, 59, 70, 54], "refIds": {"small": [72, 15, 28], "same": [8, 30, 11, 70, 54]}, "window": 50, "expected": {"ppl": 90.15807357046755, "ppl_lower": 104.93101627216885, "ppl_window": 90.15807539198616, "zlib": 22, "ref_ppl": {"small": 104.60948459370387, "same": 90.15807357046755}, "scores": {"perplexity": -4.5015645027160645, "zlib": 4.887189772961396, "lowercase": 1.0337079794268609, "window": -4.501564522919675, "ratio:small": 1.033026233347616, "ratio:same": 1.0}}},
  {"text": "WWQHPQsG]FNR sample 2", "ids": [80, 80, 74, 7, 73, 74, 50, 6, 28, 5, 71, 17], "lowerIds": [80, 80, 74, 55, 73, 74, 50, 54, 76, 53, 71, 65], "refIds": {"small": [53, 18, 69, 15, 73, 39, 71, 87, 23, 13, 74], "same": [80, 80, 74, 7, 73, 74, 50, 6, 28, 5, 71, 17]}, "window": 4, "expected": {"ppl": 94.50422501881607, "ppl_lower": 91.85271995705291, "ppl_window": 91.19349731715324, "zlib": 29, "ref_ppl": {"small": 94.88238328693461, "same": 94.50422501881607}, "scores": {"perplexity": -4.548644542694092, "zlib": 6.375525659963693, "lowercase": 0.993743604677919, "window": -4.51298359319122, "ratio:small": 1.0008779563147807, "ratio:same": 1.0}}},
  {"text": "PXYpMMbIOHV[F^KwiBQA sample 3", "ids": [73, 81, 24, 47, 12, 70, 91, 8, 72, 7, 79, 26, 63, 87, 68, 54, 40, 59, 74, 58], "lowerIds": [73, 81, 72, 95, 60, 70, 91, 56, 72, 55, 79, 74, 63, 87, 68, 54, 88, 59, 74, 58], "refIds": {"small": [38, 31, 23, 89, 31, 10, 73, 38, 67, 63, 43, 93, 57], "same": [73, 81, 24, 47, 12, 70, 91, 8, 72, 7, 79, 26, 63, 87, 68, 54, 40, 59, 74, 58]}, "window": 8, "expected": {"ppl": 103.07437757353209, "ppl_lower": 99.38364663428939, "ppl_window": 97.12592807632116, "zlib": 37, "ref_ppl": {"small": 97.0887876517107, "same": 103.07437757353209}, "scores": {"perplexity": -4.635450839996338, "zlib": 7.98196362708686, "lowercase": 0.9921338264800444, "window": -4.576008364125516, "ratio:small": 0.9870940399094972, "ratio:same": 1.0}}},
  {"text": "eTJPHvVlTEvF\\JNPil_mSFQAILcC`\\IH sample 4", "ids": [36, 77, 9, 15, 65, 53, 21, 43, 19, 62, 53, 5, 85, 9, 71, 73, 40, 43, 88, 44, 76, 63, 74, 58, 8, 11, 34, 60, 89, 85, 8, 7], "lowerIds": [84, 77, 57, 63, 65, 53, 69, 91, 67, 62, 53, 53, 85, 57, 71, 73, 88, 91, 88, 92, 76, 63, 74, 58, 56, 59, 82, 60, 89, 85, 56, 55], "refIds": {"small": [89, 39, 82, 73, 87, 57, 36, 91, 49, 85, 44, 2, 59, 45, 21, 78, 14, 63, 7, 27, 36, 16, 94, 31, 50], "same": [36, 77, 9, 15, 65, 53, 21, 43, 19, 62, 53, 5, 85, 9, 71, 73, 40, 43, 88, 44, 76, 63, 74, 58, 8, 11, 34, 60, 89, 85, 8, 7]}, "window": 50, "expected": {"ppl": 95.81305129621269, "ppl_lower": 94.81205580488441, "ppl_window": 95.81313854553845, "zlib": 49, "ref_ppl": {"small": 99.44313865205626, "same": 95.81305129621269}, "scores": {"perplexity": -4.562398910522461, "zlib": 10.73996398845992, "lowercase": 0.997698066605881, "window": -4.562399821142516, "ratio:small": 1.0081507777347178, "ratio:same": 1.0}}},
  {"text": "sFKVztMdRxMdavn^q^TKWT^[^BERXbeA sample 5", "ids": [50, 63, 10, 21, 57, 51, 70, 35, 17, 55, 70, 35, 90, 53, 45, 87, 48, 29, 19, 10, 22, 19, 29, 84, 29, 1, 62, 75, 23, 33, 36, 0], "lowerIds": [50, 63, 58, 69, 57, 51, 70, 83, 65, 55, 70, 83, 90, 53, 93, 87, 48, 77, 67, 58, 70, 67, 77, 84, 77, 49, 62, 75, 71, 81, 84, 48], "refIds": {"small": [53, 68, 47, 78, 72, 40], "same": [50, 63, 10, 21, 57, 51, 70, 35, 17, 55, 70, 35, 90, 53, 45, 87, 48, 29, 19, 10, 22, 19, 29, 84, 29, 1, 62, 75, 23, 33, 36, 0]}, "window": 10, "expected": {"ppl": 101.47040595538108, "ppl_lower": 96.6350899296742, "ppl_window": 97.38134693171601, "zlib": 49, "ref_ppl": {"small": 93.75725220456017, "same": 101.47040595538108}, "scores": {"perplexity": -4.619767189025879, "zlib": 10.606595093449311, "lowercase": 0.9894312284625438, "window": -4.578634682366805, "ratio:small": 0.9828869795632984, "ratio:same": 1.0}}},
  {"text": "Q_HVZ]eGA^NsstsND sample 6", "ids": [16, 88, 65, 79, 83, 86, 94, 6, 58, 87, 71, 50, 50, 51, 50, 13, 61], "lowerIds": [64, 88, 65, 79, 83, 86, 94, 54, 58, 87, 71, 50, 50, 51, 50, 61, 61], "refIds": {"small": [51, 7, 24, 8, 26, 56, 20, 14, 43, 76, 6, 13, 0, 72, 19, 68, 12, 46, 78, 3, 9, 26], "same": [16, 88, 65, 79, 83, 86, 94, 6, 58, 87, 71, 50, 50, 51, 50, 13, 61]}, "window": 1, "expected": {"ppl": 91.71643173537419, "ppl_lower": 91.10941246574119, "ppl_window": 75.85784587807598, "zlib": 34, "ref_ppl": {"small": 98.05755476111008, "same": 91.71643173537419}, "scores": {"perplexity": -4.518701553344727, "zlib": 7.52428537238387, "lowercase": 0.9985304552233104, "window": -4.3288611398395975, "ratio:small": 1.0147947470369563, "ratio:same": 1.0}}},
  {"text": "UqTXamToCPOEBDDhKSNflebD_UIC[JoS sample 7", "ids": [78, 48, 19, 81, 32, 44, 77, 46, 60, 15, 14, 62, 59, 61, 61, 39, 10, 18, 13, 95, 43, 94, 33, 61, 88, 20, 66, 2, 26, 67, 46, 18], "lowerIds": [78, 48, 67, 81, 80, 92, 77, 94, 60, 63, 62, 62, 59, 61, 61, 87, 58, 66, 61, 95, 91, 94, 81, 61, 88, 68, 66, 50, 74, 67, 94, 66], "refIds": {"small": [69, 3, 67, 38, 82, 11, 89, 33, 66, 46, 21, 45, 28, 68, 69, 64, 42, 81, 28, 78, 24, 30, 51, 94], "same": [78, 48, 19, 81, 32, 44, 77, 46, 60, 15, 14, 62, 59, 61, 61, 39, 10, 18, 13, 95, 43, 94, 33, 61, 88, 20, 66, 2, 26, 67, 46, 18]}, "window": 31, "expected": {"ppl": 98.83336868660764, "ppl_lower": 97.854137194844, "ppl_window": 98.8334186775481, "zlib": 49, "ref_ppl": {"small": 98.8023165941679, "same": 98.83336868660764}, "scores": {"perplexity": -4.593435287475586, "zlib": 10.667397477788118, "lowercase": 0.9978322730343568, "window": -4.5934357932858045, "ratio:small": 0.999931590265762, "ratio:same": 1.0}}},
];

function close(got: number, want: number, what: string): void {
  assert.ok(Math.abs(got - want) <= 1e-4 * Math.abs(want) + 1e-9, `${what}: ${got} vs ${want}`);
}

function compare(got: MembershipResult, want: NonNullable<Case['expected']>, label: string): void {
  close(got.ppl, want.ppl, `${label} ppl`);
  close(got.ppl_lower, want.ppl_lower, `${label} ppl_lower`);
  close(got.ppl_window, want.ppl_window, `${label} ppl_window`);
  assert.equal(got.zlib, want.zlib, `${label} zlib`);
  assert.deepEqual(Object.keys(got.ref_ppl).sort(), Object.keys(want.ref_ppl).sort());
  for (const [k, v] of Object.entries(want.ref_ppl)) close(got.ref_ppl[k]!, v, `${label} ref_ppl ${k}`);
  assert.deepEqual(Object.keys(got.scores).sort(), Object.keys(want.scores).sort());
  const gotScores = new Map<string, number>(Object.entries(got.scores));
  for (const [k, v] of Object.entries(want.scores)) close(gotScores.get(k)!, v, `${label} ${k}`);
}

let scorer: Scorer;
before(() => {
  scorer = new Scorer(loadModel(MODEL_DIR).model);
});
after(async () => {
  await scorer.release();
});

async function tesseraScores(c: Case): Promise<MembershipResult> {
  const lp = async (ids: number[]) => (await scorer.tokenLogprobs(ids)).logprobs;
  const refLogprobs: Record<string, (number | null)[]> = {};
  for (const [k, ids] of Object.entries(c.refIds)) refLogprobs[k] = await lp(ids);
  return membershipScores({ text: c.text, logprobs: await lp(c.ids), lowerLogprobs: await lp(c.lowerIds), refLogprobs }, c.window);
}

describe('membership metrics', () => {
  it('perplexity and window by hand', () => {
    const lps = [null, -1, -2, -3, -0.5, -0.5];
    close(perplexityFromLogprobs(lps), Math.exp(7 / 5), 'ppl');
    close(windowPerplexity(lps, 2), Math.exp(0.5), 'window 2');
    close(windowPerplexity(lps, 3), Math.exp(4 / 3), 'window 3');
    close(windowPerplexity(lps), Math.exp(7 / 5), 'window longer than the sample');
    assert.ok(Number.isNaN(perplexityFromLogprobs([null])));
    assert.throws(() => perplexityFromLogprobs([null, null]), /logprobs\[1\] is null/);
    assert.throws(() => windowPerplexity(lps, 0), /positive integer/);
    const r = membershipScores({ text: 'abc', logprobs: lps, lowerLogprobs: [null, -2], refLogprobs: { small: [null, -2.8] } });
    close(r.scores.perplexity, -1.4, 'perplexity');
    close(r.scores.lowercase, 2 / 1.4, 'lowercase');
    close(r.scores['ratio:small'], 2, 'ratio');
    close(r.scores.zlib, 11 / 1.4, 'zlib');
  });

  it('matches transformers on the tiny GPT-2 (committed values)', async () => {
    assert.ok(CASES.length >= 8);
    for (const [i, c] of CASES.entries()) compare(await tesseraScores(c), c.expected!, `case ${i}`);
  });
});

const liveSkip = existsSync(PYTHON) ? false : `no Python at ${PYTHON} (set TESSERA_PYTHON)`;

describe('membership metrics match transformers live', { skip: liveSkip }, () => {
  it('fresh random sequences', { timeout: 120_000 }, async () => {
    let s = Date.now() >>> 0;
    const rand = (n: number): number => Math.floor(((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * n);
    const seq = (): number[] => Array.from({ length: 2 + rand(31) }, () => rand(96));
    const cases: Case[] = Array.from({ length: 12 }, (_, k) => {
      const ids = seq();
      return { text: `sample ${k} ${ids.join(',')}`, ids, lowerIds: seq(), refIds: { small: seq(), medium: seq() }, window: 1 + rand(40) };
    });
    const run = spawnSync(PYTHON, [SCRIPT, '--gpt2'], { input: JSON.stringify({ cases }), encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(run.status, 0, run.stderr);
    const { results } = JSON.parse(run.stdout) as { results: NonNullable<Case['expected']>[] };
    for (const [i, c] of cases.entries()) compare(await tesseraScores(c), results[i]!, `live case ${i}`);
  });
});
