#!/usr/bin/env python3
"""Reference values for src/fewshot/py-random.ts and src/fewshot/metrics.ts, from the real thing.

Random streams come from CPython 3.11's `random.Random`; metrics from lm-evaluation-harness 0.4.13
(`lm_eval.api.metrics`, and `lm_eval.evaluator_utils._compute_task_aggregations` for the aggregate +
stderr pair a task reports), sacrebleu 2.6 and transformers' SQuAD script. Every request is a small JSON
object run through `run_random` / `run_metric`; the fixtures store requests with their answers, so the
TypeScript tests replay them without Python.

    /work/venv/bin/python scripts/make_fewshot_fixtures.py            # writes test/fixtures/fewshot/*.json
    /work/venv/bin/python scripts/make_fewshot_fixtures.py --eval     # stdin {"random": [...], "metrics": [...]}
                                                                      # -> stdout, the same with results
The --eval mode is what test/fewshot/*.test.ts call for their live comparisons on fresh random inputs.
"""
import contextlib
import importlib.metadata
import json
import math
import os
import random
import sys

os.environ['DISABLE_MULTIPROC'] = '1'  # bootstrap_stderr's single-process path: same draws, no pool

import sacrebleu  # noqa: E402
from lm_eval.api import metrics as M  # noqa: E402
from lm_eval.evaluator_utils import _compute_task_aggregations  # noqa: E402


def squad():
    """transformers' SQuAD script, which the harness's QA tasks call; imported on demand (it is slow)."""
    import transformers.data.metrics.squad_metrics as squad_metrics
    return squad_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'fewshot')


def jsonable(x):
    """Floats that JSON cannot hold become strings; big ints become decimal strings."""
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if isinstance(x, bool):
        return x
    if isinstance(x, int) and abs(x) >= 2**53:
        return str(x)
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if hasattr(x, 'item'):  # numpy scalar
        return jsonable(x.item())
    return x


# ---------------------------------------------------------------------------------------------------------
# random.Random

def call_random(rnd, method, args):
    if method == 'random':
        return rnd.random()
    if method == 'getrandbits':
        return str(rnd.getrandbits(args[0]))
    if method == 'randbelow':
        return rnd._randbelow(args[0])
    if method == 'randrange':
        return rnd.randrange(*args)
    if method == 'randint':
        return rnd.randint(*args)
    if method == 'choice':
        return rnd.choice(args[0])
    if method == 'shuffle':
        xs = list(args[0])
        rnd.shuffle(xs)
        return xs
    if method == 'sample':
        return rnd.sample(args[0], args[1])
    if method == 'sample_range':  # sample(range(n), k): the population is not stored in the fixture
        return rnd.sample(range(args[0]), args[1])
    if method == 'choices':
        return rnd.choices(args[0], k=args[1])
    if method == 'choices_range':
        return rnd.choices(range(args[0]), k=args[1])
    raise ValueError(f'unknown method {method}')


def run_random(case):
    """case: {seed: str|int, calls: [{method, args}]} on one generator; errors are recorded as messages."""
    rnd = random.Random(int(case['seed']))
    results = []
    for call in case['calls']:
        try:
            results.append({'result': call_random(rnd, call['method'], call['args'])})
        except (ValueError, IndexError, TypeError) as e:
            results.append({'error': str(e)})
    return {**case, 'results': results}


# ---------------------------------------------------------------------------------------------------------
# metrics

class FakeTask:
    """Just enough of a Task for _compute_task_aggregations: one metric with a named aggregation."""

    def __init__(self, metric, agg):
        self.task_name = 'fixture'
        self._agg = {metric: M.__dict__[agg] if agg != 'chrf++' else M.chrfpp}

    def aggregation(self):
        return self._agg


AGG = {
    'mean': M.mean, 'median': M.median, 'nanmean': M.nanmean, 'perplexity': M.perplexity,
    'weighted_perplexity': M.weighted_perplexity, 'bits_per_byte': M.bits_per_byte, 'f1': M.f1_score,
    'matthews_corrcoef': M.matthews_corrcoef, 'bleu': M.bleu, 'acc_all': M.acc_all,
}


def tupled(items):
    return [tuple(it) for it in items]


def metric_value(fn, a):
    if fn == 'exact_match':
        o = a.get('opts', {})
        return M.exact_match_hf_evaluate(
            predictions=[a['prediction']], references=[a['reference']],
            regexes_to_ignore=o.get('regexesToIgnore'), ignore_case=o.get('ignoreCase', False),
            ignore_punctuation=o.get('ignorePunctuation', False), ignore_numbers=o.get('ignoreNumbers', False),
        )['exact_match']
    if fn == 'squad_normalize':
        return squad().normalize_answer(a['s'])
    if fn == 'squad_f1':
        return squad().compute_f1(a['reference'], a['prediction'])
    if fn == 'squad_exact':
        return squad().compute_exact(a['reference'], a['prediction'])
    if fn == 'squad_f1_max':
        return M.metric_max_over_ground_truths(
            lambda p, g: squad().compute_f1(g, p), a['prediction'], a['references'])
    if fn == 'tokenize_13a':
        from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
        return Tokenizer13a()(a['line'].rstrip())
    if fn == 'corpus_bleu':
        s = sacrebleu.corpus_bleu(a['hyps'], a['refs'])
        return {'score': s.score, 'counts': list(s.counts), 'totals': list(s.totals), 'bp': s.bp,
                'sysLen': s.sys_len, 'refLen': s.ref_len}
    if fn == 'sample_stddev':
        return M.sample_stddev(a['items'])
    if fn == 'pop_stddev':
        return M.pop_stddev(a['items'])
    if fn == 'mean_stderr':
        return M.mean_stderr(a['items'])
    if fn == 'weighted_mean':
        return M.weighted_mean(tupled(a['items']))
    if fn == 'acc_all_stderr':
        return M.acc_all_stderr(tupled(a['items']))
    if fn in AGG:
        items = a['items']
        if fn in ('weighted_perplexity', 'bits_per_byte', 'f1', 'matthews_corrcoef', 'bleu', 'acc_all'):
            items = tupled(items)
        if fn == 'nanmean':
            items = [float(x) for x in items]
        return AGG[fn](items)
    if fn == 'bootstrap_stderr':
        items = a['items'] if a['agg'] in ('mean', 'median', 'perplexity', 'nanmean') else tupled(a['items'])
        return M.bootstrap_stderr(AGG[a['agg']], items, a['iters'])
    if fn == 'bootstrap_chunk':  # the pool worker itself, for chunk i
        return M._bootstrap_internal(AGG[a['agg']], a['n'])((a['i'], a['items']))
    if fn == 'harness_stderr':  # what a task reports: {metric},none and {metric}_stderr,none
        items = a['items'] if a['agg'] in ('mean', 'median', 'perplexity', 'nanmean') else tupled(a['items'])
        out, _ = _compute_task_aggregations(FakeTask(a['metric'], a['agg']), {(a['metric'], 'none'): items},
                                            a['iters'])
        return {'value': out[f"{a['metric']},none"], 'stderr': out[f"{a['metric']}_stderr,none"]}
    raise ValueError(f'unknown metric {fn}')


def run_metric(req):
    with contextlib.redirect_stdout(sys.stderr):  # the bootstrap prints progress to stdout
        try:
            return {**req, 'result': jsonable(metric_value(req['fn'], req['args']))}
        except Exception as e:  # noqa: BLE001 - the error message is the reference
            return {**req, 'error': f'{type(e).__name__}: {e}'}


# ---------------------------------------------------------------------------------------------------------
# fixture contents

SEEDS = ['0', '1', '42', '1234', '-7', str(2**32 + 5), str(2**70 + 12345)]


def random_cases():
    cases = []
    dictish = [json.dumps({'q': f'question {i}', 'a': chr(97 + i % 26) * (i % 4 + 1)}) for i in range(30)]
    for seed in SEEDS:
        calls = [{'method': 'random', 'args': []} for _ in range(8)]
        cases.append({'seed': seed, 'name': 'random', 'calls': calls})
        calls = [{'method': 'getrandbits', 'args': [k]} for k in (1, 31, 32, 33, 64, 100, 0, 53, 54, 65, 1)]
        cases.append({'seed': seed, 'name': 'getrandbits', 'calls': calls})
        bounds = [1, 2, 3, 7, 10, 100, 1000, 2**31, 2**32, 2**32 + 1, 10**12, 2**53 - 1]
        cases.append({'seed': seed, 'name': 'randbelow', 'calls': [{'method': 'randbelow', 'args': [n]} for n in bounds]})
        ranges = [[10], [3, 17], [0, 100, 7], [100, 0, -3], [-5, 5], [5, 6], [0, 10, 3], [10, 0, -1], [0],
                  [5, 5], [0, 10, 0], [1, 2**40]]
        calls = [{'method': 'randrange', 'args': r} for r in ranges]
        calls += [{'method': 'randint', 'args': ab} for ab in ([1, 6], [-3, 3], [0, 0], [10, 20])]
        cases.append({'seed': seed, 'name': 'randrange', 'calls': calls})
        calls = [{'method': 'choice', 'args': [list('abcdefg')]}, {'method': 'choice', 'args': [[7]]},
                 {'method': 'choice', 'args': [list(range(1000))]}, {'method': 'choice', 'args': [[]]}]
        cases.append({'seed': seed, 'name': 'choice', 'calls': calls})
        calls = [{'method': 'shuffle', 'args': [list(range(20))]}, {'method': 'shuffle', 'args': [dictish[:7]]},
                 {'method': 'shuffle', 'args': [[]]}, {'method': 'shuffle', 'args': [['x']]}]
        cases.append({'seed': seed, 'name': 'shuffle', 'calls': calls})
        # (n, k): pool algorithm when n <= 21 (+ 4**ceil(log4(3k)) when k > 5), else the selected-set algorithm
        nks = [(10, 3), (100, 5), (1000, 16), (5, 5), (50, 40), (10**6, 10), (85, 6), (86, 6), (0, 0), (7, 0),
               (21, 5), (22, 5), (276, 60), (277, 60), (3, 4), (3, -1)]
        calls = [{'method': 'sample_range', 'args': [n, k]} for n, k in nks]
        cases.append({'seed': seed, 'name': 'sample', 'calls': calls})
        calls = [{'method': 'sample', 'args': [dictish, 5]}, {'method': 'sample', 'args': [dictish, 30]},
                 {'method': 'sample', 'args': [dictish[:8], 3]}]
        cases.append({'seed': seed, 'name': 'sample-strings', 'calls': calls})
        calls = [{'method': 'choices_range', 'args': [n, k]} for n, k in ((10, 15), (3, 5), (1000, 20), (1, 3), (5, 0))]
        calls.append({'method': 'choices', 'args': [dictish[:4], 6]})
        cases.append({'seed': seed, 'name': 'choices', 'calls': calls})
    return cases


BLEU_PAIRS = [
    # (hypothesis, [references...])
    ('The cat sat on the mat.', ['The cat sat on the mat.', 'A cat was sitting on the mat.']),
    ('the cat is on the mat', ['there is a cat on the mat', 'a cat is on the mat']),
    ('', ['An empty hypothesis still has a reference.', 'Another one.']),
    ('It costs $3.50, or 3,000 yen - roughly.', ['It costs $3.50 (about 3,000 yen).', 'The price: 3.50 dollars.']),
    ('Numbers like 1-2 and 10-20 dash.', ['Numbers like 1-2 and 10 - 20 dash.', 'numbers such as 1-2, 10-20']),
    ('Ünïcödé façade naïve café.', ['Unicode facade naive cafe.', 'Ünïcödé façade, naïve café!']),
    ('中文 句子 测试。', ['中文 句子 的 测试。', '这 是 中文。']),
    ('Emoji 😀 time!', ['Emoji 😀 time.', 'emoji time!']),
    ('&quot;Quoted&quot; &amp; escaped &lt;tags&gt;', ['"Quoted" & escaped <tags>', 'quoted and escaped tags']),
    ('Line one-\nline two\nthree', ['Line oneline two three', 'line one line two three']),
    ('<skipped> text here', ['text here', 'the text is here']),
    ('a b c d e f g h', ['a b c d e f g h', 'h g f e d c b a']),
    ('a a a a a a', ['a a', 'a']),
    ('Short.', ['This reference is much longer than the hypothesis.', 'Also long reference sentence here.']),
    ('This hypothesis is considerably longer than both of the references are.', ['Short ref.', 'Tiny.']),
    ('Mr. Smith went to Washington, D.C. in 2024.', ['Mr. Smith went to Washington D.C. in 2024.', 'Mr Smith visited DC.']),
    ("don't won't can't", ["do not will not cannot", "don't won't can't"]),
    ('trailing spaces   ', ['trailing spaces', 'trailing   spaces']),
    ('tabs\tand\u00a0nbsp\u2003em-space', ['tabs and nbsp em-space', 'tabs and nbsp']),
    ('{braces} [brackets] (parens) ~tilde~ `tick`', ['{braces} [brackets] (parens)', 'braces brackets parens']),
    ('x.y,z 1.5,2.5 a.1 1.a', ['x . y , z 1.5,2.5', 'a.1 1.a x.y,z']),
    ('The quick brown fox jumps over the lazy dog', ['The quick brown fox jumped over the lazy dog', 'A fast brown fox leaps over a lazy dog']),
    ('Completely unrelated words', ['Nothing in common here', 'zero overlap at all']),
    ('UPPER lower MiXeD', ['upper lower mixed', 'UPPER LOWER MIXED']),
    ('repeated repeated repeated words words', ['repeated words', 'words repeated repeated']),
    ('q: what? a: yes!', ['q : what ? a : yes !', 'Q: what? A: yes!']),
    ('100% sure @home #tag', ['100 % sure @ home # tag', '100% sure at home']),
    ('', ['', 'non-empty second reference']),
    ('Hello world', ['Hello world', 'Hello there world']),
    ('Final sentence of the corpus.', ['The final sentence of the corpus.', 'Last sentence in the corpus.']),
]


def bleu_streams(pairs, n_refs):
    return [[refs[j] for _, refs in pairs] for j in range(n_refs)]


def metric_requests():
    reqs = []
    em = [
        ('Hello, World!', 'hello world', {}),
        ('Hello, World!', 'hello world', {'ignoreCase': True}),
        ('Hello, World!', 'hello world', {'ignoreCase': True, 'ignorePunctuation': True}),
        ('Answer 42.', 'Answer', {'ignoreNumbers': True, 'ignorePunctuation': True}),
        ('Answer 42.', 'answer ', {'ignoreNumbers': True, 'ignorePunctuation': True, 'ignoreCase': True}),
        ('The answer is $1,234', '1234', {'regexesToIgnore': ['(?s).*The answer is ', ',', '\\$']}),
        ('Step 1\nStep 2\n#### 72', '72', {'regexesToIgnore': ['(?s).*#### ', ',', '\\$']}),
        ('Step 1\nStep 2\n#### 72', '72', {'regexesToIgnore': ['.*#### ']}),
        ('  spaced  ', 'spaced', {'regexesToIgnore': ['^\\s+', '\\s+$']}),
        ('value.\n', 'value', {'regexesToIgnore': ['\\.$', '\\n']}),
        ('value.\n', 'value\n', {'regexesToIgnore': ['\\.$']}),
        ('ÉCOLE', 'école', {'ignoreCase': True}),
        ('ΟΔΟΣ', 'οδος', {'ignoreCase': True}),
        ('straße', 'STRASSE', {'ignoreCase': True}),
        ('abc\x00', 'abc', {}),
        ('a_b-c', 'abc', {'ignorePunctuation': True}),
        ('٣ three', ' three', {'ignoreNumbers': True}),
        ('A1b2', 'ab', {'regexesToIgnore': ['\\d']}),
        ('x y', 'xy', {'regexesToIgnore': [' ']}),
        ('same', 'same', {}),
        ('', '', {}),
        ('The the', ' ', {'regexesToIgnore': ['(?i)the']}),
        ('word boundary wordy', ' boundary y', {'regexesToIgnore': ['\\bword']}),
    ]
    for p, r, o in em:
        reqs.append({'fn': 'exact_match', 'args': {'prediction': p, 'reference': r, 'opts': o}})
    sq = [
        ('the Eiffel Tower', 'Eiffel tower'), ('Paris, France', 'Paris'), ('an apple a day', 'apple day'),
        ('', ''), ('the', ''), ('', 'answer'), ('a', 'an'), ('blue blue red', 'blue red red'),
        ('1,000 dollars', '1000 dollars'), ('théthe the café', 'théthe café'), ('The_answer', 'the answer'),
        ('Über the top', 'über top'), ('x', 'y'), ('New   York\tCity', 'new york city'),
    ]
    for p, r in sq:
        reqs.append({'fn': 'squad_f1', 'args': {'prediction': p, 'reference': r}})
        reqs.append({'fn': 'squad_exact', 'args': {'prediction': p, 'reference': r}})
        reqs.append({'fn': 'squad_normalize', 'args': {'s': p}})
    reqs.append({'fn': 'squad_f1_max', 'args': {'prediction': 'the big apple', 'references': ['New York', 'big apple', 'apple']}})
    reqs.append({'fn': 'squad_f1_max', 'args': {'prediction': '', 'references': ['x', '']}})
    for h, refs in BLEU_PAIRS:
        for line in [h] + refs:
            reqs.append({'fn': 'tokenize_13a', 'args': {'line': line}})
    pairs = BLEU_PAIRS
    reqs.append({'fn': 'corpus_bleu', 'args': {'hyps': [h for h, _ in pairs], 'refs': bleu_streams(pairs, 2)}})
    reqs.append({'fn': 'corpus_bleu', 'args': {'hyps': [h for h, _ in pairs], 'refs': bleu_streams(pairs, 1)}})
    reqs.append({'fn': 'corpus_bleu', 'args': {'hyps': [h for h, _ in pairs[:5]], 'refs': bleu_streams(pairs[:5], 2)}})
    reqs.append({'fn': 'corpus_bleu', 'args': {'hyps': ['', ''], 'refs': [['a b', 'c']]}})
    reqs.append({'fn': 'corpus_bleu', 'args': {'hyps': ['a b c d'], 'refs': [['a b c d']]}})
    reqs.append({'fn': 'corpus_bleu', 'args': {'hyps': ['a b c'], 'refs': [['a b c']]}})  # no 4-grams at all
    reqs.append({'fn': 'corpus_bleu', 'args': {'hyps': ['a x b y'], 'refs': [['a b']]}})  # unigrams only match
    reqs.append({'fn': 'corpus_bleu', 'args': {'hyps': ['a b c', 'd e'], 'refs': [['a b c', None], ['x', 'd e']]}})
    for i, (h, refs) in enumerate(pairs[:8]):
        reqs.append({'fn': 'corpus_bleu', 'args': {'hyps': [h], 'refs': [[r] for r in refs]}})
    # the harness's bleu aggregation: items are [gold, prediction]
    items_str = [[refs[0], h] for h, refs in pairs]
    items_list = [[refs, h] for h, refs in pairs]
    ragged = [[refs if i % 3 else refs[:1], h] for i, (h, refs) in enumerate(pairs)]
    reqs.append({'fn': 'bleu', 'args': {'items': items_str}})
    reqs.append({'fn': 'bleu', 'args': {'items': items_list}})
    reqs.append({'fn': 'bleu', 'args': {'items': ragged}})
    reqs.append({'fn': 'bleu', 'args': {'items': [[refs, [h]] for h, refs in pairs[:6]]}})
    reqs.append({'fn': 'bleu', 'args': {'items': [[['a b c', 'x y'], 'a b c'], ['abc', 'a b']]}})  # str among lists
    # scalar aggregations
    rnd = random.Random(2024)
    vals = [round(rnd.uniform(-3, 1), 6) for _ in range(37)]
    acc = [rnd.randint(0, 1) for _ in range(41)]
    lls = [[round(-rnd.uniform(0.5, 40), 4), rnd.randint(1, 60)] for _ in range(25)]
    golds = [rnd.randint(0, 1) for _ in range(40)]
    preds = [g if rnd.random() < 0.7 else 1 - g for g in golds]
    mc = [[rnd.randint(0, 2), rnd.randint(0, 2)] for _ in range(30)]
    big = [rnd.random() for _ in range(300)]
    for fn, items in [('mean', vals), ('mean', acc), ('median', vals), ('median', acc), ('sample_stddev', vals),
                      ('pop_stddev', vals), ('mean_stderr', vals), ('mean_stderr', acc), ('perplexity', [v for v in vals]),
                      ('weighted_perplexity', lls), ('bits_per_byte', lls), ('weighted_mean', lls),
                      ('nanmean', vals[:10] + ['nan'] + vals[10:]), ('nanmean', ['nan', 'nan']), ('nanmean', big),
                      ('f1', [[g, p] for g, p in zip(golds, preds)]), ('f1', [[0, 0], [0, 0]]),
                      ('matthews_corrcoef', [[g, p] for g, p in zip(golds, preds)]), ('matthews_corrcoef', mc),
                      ('matthews_corrcoef', [[1, 1], [1, 1]])]:
        reqs.append({'fn': fn, 'args': {'items': items}})
    multirc = [[rnd.random() < 0.6, {'idx': {'paragraph': i // 6, 'question': i // 3 % 4, 'answer': i}, 'label': rnd.randint(0, 1)}]
               for i in range(36)]
    reqs.append({'fn': 'acc_all', 'args': {'items': multirc}})
    reqs.append({'fn': 'acc_all_stderr', 'args': {'items': multirc}})
    # bootstrap: the draws themselves (one pool chunk), then bootstrap_stderr, then what a task would report
    reqs.append({'fn': 'bootstrap_chunk', 'args': {'agg': 'mean', 'items': vals[:12], 'i': 3, 'n': 5}})
    reqs.append({'fn': 'bootstrap_stderr', 'args': {'agg': 'mean', 'items': vals, 'iters': 100}})
    reqs.append({'fn': 'bootstrap_stderr', 'args': {'agg': 'mean', 'items': acc, 'iters': 2500}})  # 2 chunks of 1000
    reqs.append({'fn': 'bootstrap_stderr', 'args': {'agg': 'median', 'items': vals, 'iters': 1000}})
    reqs.append({'fn': 'bootstrap_stderr', 'args': {'agg': 'perplexity', 'items': vals, 'iters': 300}})
    reqs.append({'fn': 'bootstrap_stderr', 'args': {'agg': 'bleu', 'items': items_list, 'iters': 100}})
    reqs.append({'fn': 'bootstrap_stderr', 'args': {'agg': 'bleu', 'items': ragged, 'iters': 100}})
    reqs.append({'fn': 'bootstrap_stderr', 'args': {'agg': 'matthews_corrcoef', 'items': [[g, p] for g, p in zip(golds, preds)], 'iters': 200}})
    reqs.append({'fn': 'bootstrap_stderr', 'args': {'agg': 'f1', 'items': [[g, p] for g, p in zip(golds, preds)], 'iters': 200}})
    for metric, agg, items, iters in [
        ('acc', 'mean', acc, 100000), ('exact_match', 'mean', acc, 0), ('acc', 'mean', acc[:1], 1000),
        ('bleu', 'bleu', items_str, 100000), ('perplexity', 'perplexity', vals[:8], 1500),
        ('word_perplexity', 'weighted_perplexity', lls, 1000), ('bits_per_byte', 'bits_per_byte', lls, 1000),
        ('median_metric', 'median', vals[:9], 2000), ('mcc', 'matthews_corrcoef', mc, 1000),
    ]:
        reqs.append({'fn': 'harness_stderr', 'args': {'metric': metric, 'agg': agg, 'items': items, 'iters': iters}})
    return reqs  # 'nan' in nanmean inputs stays a string in JSON; both sides read it as NaN


def write(name, obj):
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, name)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, ensure_ascii=True, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {path} ({os.path.getsize(path)} bytes)', file=sys.stderr)


def main():
    if '--eval' in sys.argv:
        req = json.load(sys.stdin)
        out = {'random': [run_random(c) for c in req.get('random', [])],
               'metrics': [run_metric(m) for m in req.get('metrics', [])]}
        json.dump(out, sys.stdout, ensure_ascii=True)
        return
    meta = {'python': sys.version.split()[0], 'lm_eval': importlib.metadata.version('lm_eval'),
            'sacrebleu': sacrebleu.__version__}
    write('py_random.json', {'meta': meta, 'cases': [run_random(c) for c in random_cases()]})
    write('metrics.json', {'meta': meta, 'cases': [run_metric(m) for m in metric_requests()]})


if __name__ == '__main__':
    main()
