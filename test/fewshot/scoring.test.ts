// The evaluator's per-document rules (the harness's process_results plus GPT-3's two normalisations), its filters and
// its SQLite request cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argmax, countWords, generationMetrics, metricsOf, multipleChoiceMetrics, rollingMetrics, aggregate } from '../../src/fewshot/scoring.js';
import { applyPipeline, pythonRegex } from '../../src/fewshot/filters.js';
import { RequestCache } from '../../src/fewshot/request-cache.js';

const ll = (xs: number[], tokens?: number[]) => xs.map((v, i) => ({ ll: v, greedy: false, tokens: tokens?.[i] }));

test('argmax: first maximum wins ties, as numpy', () => {
  assert.equal(argmax([1, 3, 3, 2]), 1);
  assert.equal(argmax([-5]), 0);
});

test('multiple choice: acc, acc_norm by characters, acc_bytes, per-token and unconditional normalisation, mutual info', () => {
  const metrics = ['acc', 'acc_norm', 'acc_bytes', 'acc_per_token', 'acc_unconditional', 'acc_mutual_info'].map((metric) => ({ metric }));
  // choice 0 short with a high total, choice 1 long with a better per-character score
  const choices = ['ab', 'abcdefghij'];
  const r = multipleChoiceMetrics(metrics, choices, 1, {
    conditional: ll([-2, -5], [1, 5]), // per token: -2 vs -1 -> choice 1
    mutualInfo: ll([-1, -6]), // ll - ll_u: -1 vs 1 -> choice 1
    unconditional: ll([-0.5, -1]), // -1.5 vs -4 -> choice 0
  }, () => {});
  assert.equal(r.acc, 0); // argmax ll = 0
  assert.equal(r.acc_norm, 1); // -1 vs -0.5 -> 1
  assert.equal(r.acc_bytes, 1);
  assert.equal(r.acc_per_token, 1);
  assert.equal(r.acc_mutual_info, 1);
  assert.equal(r.acc_unconditional, 0);
});

test('multiple choice: a string gold is looked up among the choices; an index outside them is wrong and warned about', () => {
  const warnings: string[] = [];
  const m = [{ metric: 'acc' }];
  assert.equal(multipleChoiceMetrics(m, ['yes', 'no'], 'no', { conditional: ll([-3, -1]) }, (w) => warnings.push(w)).acc, 1);
  assert.equal(multipleChoiceMetrics(m, ['yes', 'no'], 5, { conditional: ll([-3, -1]) }, (w) => warnings.push(w)).acc, 0);
  assert.match(warnings[0]!, /not within the 2 choices/);
  // multiple targets: any gold index counts
  assert.equal(multipleChoiceMetrics(m, ['a', 'b', 'c'], [0, 2], { conditional: ll([-3, -2, -1]) }, () => {}).acc, 1);
});

test('rolling metrics carry (ll, words) and (ll, bytes) as the harness', () => {
  const r = rollingMetrics([{ metric: 'word_perplexity' }, { metric: 'bits_per_byte' }], -10, 'héllo big  world');
  assert.deepEqual(r.word_perplexity, [-10, 3]);
  assert.deepEqual(r.bits_per_byte, [-10, 17]);
  assert.equal(countWords(' a b'), 3); // re.split keeps the empty first field
});

test('generation metrics: exact_match with options, any of several golds', () => {
  const m = [{ metric: 'exact_match', ignore_case: true }];
  assert.equal(generationMetrics(m, 'Paris', 'paris').exact_match, 1);
  assert.equal(generationMetrics([{ metric: 'exact_match' }], 'Paris', 'paris').exact_match, 0);
  assert.equal(generationMetrics([{ metric: 'exact_match' }], ['Rome', 'Paris'], 'Paris').exact_match, 1);
});

test('metricsOf: defaults per output type; metrics an output type cannot compute are refused by name', () => {
  assert.deepEqual(metricsOf('t', 'multiple_choice', undefined).map((m) => m.metric), ['acc', 'acc_norm']);
  assert.throws(() => metricsOf('t', 'generate_until', [{ metric: 'acc_norm' }]), /task 't': metric 'acc_norm' is not available for output_type generate_until/);
  assert.throws(() => metricsOf('t', 'multiple_choice', [{ metric: 'acc', aggregation: 'nope' }]), /aggregation 'nope'/);
});

test('aggregate: mean with the harness stderr (sample stddev / sqrt n); N/A for one item', () => {
  const a = aggregate({ metric: 'acc' }, [1, 0, 1, 1], 1000);
  assert.equal(a.value, 0.75);
  assert.ok(Math.abs((a.stderr as number) - Math.sqrt(0.25 / 4)) < 1e-12);
  assert.equal(aggregate({ metric: 'acc' }, [1], 1000).stderr, 'N/A');
  const p = aggregate({ metric: 'perplexity' }, [-1, -3], 0);
  assert.ok(Math.abs(p.value - Math.exp(2)) < 1e-12);
  assert.equal(p.stderr, 'N/A');
});

test('filters: regex findall with group_select and fallback, whitespace, take_first, lowercase', () => {
  const pipe = { name: 'num', filter: [{ function: 'regex', regex_pattern: '(-?\\d+)' }, { function: 'take_first' }] };
  assert.equal(applyPipeline(pipe, [' answer: 124 or 7']), '124');
  const last = { name: 'last', filter: [{ function: 'regex', regex_pattern: '(\\d+)', group_select: -1 }, { function: 'take_first' }] };
  assert.equal(applyPipeline(last, ['1 2 3']), '3');
  assert.equal(applyPipeline({ name: 'x', filter: [{ function: 'regex', regex_pattern: '#### (\\d+)' }, { function: 'take_first' }] }, ['none']), '[invalid]');
  assert.equal(applyPipeline({ name: 'w', filter: [{ function: 'remove_whitespace' }, { function: 'lowercase' }, { function: 'take_first' }] }, ['  HeLLo \n']), 'hello');
  assert.throws(() => applyPipeline({ name: 'bad', filter: [{ function: 'majority_vote' }] }, ['a']), /function 'majority_vote' is not supported/);
  assert.ok(pythonRegex('(?P<n>\\d+)').test('12'));
});

test('request cache: answers survive reopening (resume), keyed by model and request', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cache-'));
  try {
    const path = join(dir, 'c.sqlite');
    const c1 = new RequestCache(path);
    const req = { context: 'Q: 1+1?\nA:', continuation: ' 2' };
    assert.deepEqual(c1.getMany('m1', 'loglikelihood', [req]), [undefined]);
    c1.putMany('m1', 'loglikelihood', [[req, { ll: -0.5, greedy: true }]]);
    c1.close();
    const c2 = new RequestCache(path);
    assert.deepEqual(c2.getMany('m1', 'loglikelihood', [req]), [{ ll: -0.5, greedy: true }]);
    assert.deepEqual(c2.getMany('m2', 'loglikelihood', [req]), [undefined]);
    assert.deepEqual(c2.getMany('m1', 'generate_until', [req]), [undefined]);
    assert.equal(c2.count(), 1);
    c2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
