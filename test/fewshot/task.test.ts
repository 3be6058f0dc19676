// Unit tests of the few-shot task pieces: task-config (defaults, include, !function, unknown fields, hub datasets,
// finding tasks), templates (Jinja2 semantics, Python str/repr, literal_eval, undefined variables), dataset (the json
// builder's rows and types) and Task (targets, samplers, errors).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset, loadSplits } from '../../src/fewshot/dataset.js';
import { PyRandom } from '../../src/fewshot/py-random.js';
import { findTasks, listTasks, loadTaskConfig } from '../../src/fewshot/task-config.js';
import { Task } from '../../src/fewshot/task.js';
import { pyFloatRepr, pyLiteralEval, pyRepr, renderTemplate, TemplateError } from '../../src/fewshot/templates.js';

const FIXTURE_TASKS = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'fewshot', 'tasks');

/** A temp dir with files (path → content); returns the dir and a cleanup. */
function files(spec: Record<string, string>): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-fewshot-'));
  for (const [p, text] of Object.entries(spec)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const QA = jsonl([
  { q: 'one', a: 'uno' },
  { q: 'two', a: 'dos' },
  { q: 'three', a: 'tres' },
]);
const BASIC = 'task: t\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: test.jsonl\ntest_split: test\ndoc_to_text: "Q: {{q}}"\ndoc_to_target: "{{a}}"\n';

// ---------------------------------------------------------------------------------------------------------------
// task-config

test('defaults: generate_until, delimiters, greedy generation kwargs with until = [fewshot_delimiter], sampler default', () => {
  const f = files({ 't.yaml': BASIC, 'test.jsonl': QA });
  try {
    const { config, warnings } = loadTaskConfig(join(f.dir, 't.yaml'));
    assert.deepEqual(warnings, []);
    assert.equal(config.output_type, 'generate_until');
    assert.equal(config.target_delimiter, ' ');
    assert.equal(config.fewshot_delimiter, '\n\n');
    assert.equal(config.description, '');
    assert.equal(config.repeats, 1);
    assert.equal(config.should_decontaminate, false);
    assert.deepEqual(config.generation_kwargs, { temperature: 0, do_sample: false, max_gen_toks: 256, until: ['\n\n'] });
    assert.deepEqual(config.fewshot_config, { sampler: 'default', split: undefined, samples: undefined, fewshot_indices: undefined, process_docs: undefined, doc_to_text: 'Q: {{q}}', doc_to_target: '{{a}}', doc_to_choice: undefined, gen_prefix: undefined, target_delimiter: ' ', fewshot_delimiter: '\n\n' });
    assert.deepEqual(config.data_files, { test: [join(f.dir, 'test.jsonl')] });
    assert.equal(config.doc_to_choice, undefined);
  } finally {
    f.cleanup();
  }
});

test('generation_kwargs: temperature becomes a number, until defaults to the fewshot delimiter; fewshot_config overrides', () => {
  const f = files({
    't.yaml': BASIC + 'fewshot_delimiter: "\\n"\ngeneration_kwargs:\n  max_gen_toks: 5\n  temperature: "0.5"\nfewshot_config:\n  sampler: first_n\n  target_delimiter: ": "\n',
    'test.jsonl': QA,
  });
  try {
    const { config } = loadTaskConfig(join(f.dir, 't.yaml'));
    assert.deepEqual(config.generation_kwargs, { max_gen_toks: 5, temperature: 0.5, until: ['\n'] });
    assert.equal(config.fewshot_config.sampler, 'first_n');
    assert.equal(config.fewshot_config.target_delimiter, ': ');
    assert.equal(config.fewshot_config.fewshot_delimiter, '\n');
  } finally {
    f.cleanup();
  }
});

test('include: included files in order, then the file’s own keys win; relative to the including file', () => {
  const f = files({
    'sub/_base_yaml': 'dataset_path: json\noutput_type: multiple_choice\ndoc_to_choice: ["x", "y"]\ntarget_delimiter: "|"\ntask_list: [ignored]\n',
    'sub/_more_yaml': 'target_delimiter: "#"\ndescription: "D\\n"\n',
    'sub/t.yaml': 'include: [_base_yaml, _more_yaml]\n' + BASIC.replace('dataset_path: json\n', '') + 'description: "Mine\\n"\n',
    'sub/test.jsonl': QA,
  });
  try {
    const { config } = loadTaskConfig(join(f.dir, 'sub', 't.yaml'));
    assert.equal(config.output_type, 'multiple_choice');
    assert.deepEqual(config.doc_to_choice, ['x', 'y']);
    assert.equal(config.target_delimiter, '#');
    assert.equal(config.description, 'Mine\n');
    assert.equal('task_list' in config.raw, false);
    assert.equal('include' in config.raw, false);
  } finally {
    f.cleanup();
  }
});

test('!function is kept as a marker; Task refuses it naming the task, the field and the function', () => {
  const f = files({ 't.yaml': BASIC.replace('doc_to_text: "Q: {{q}}"', 'doc_to_text: !function utils.doc_to_text'), 'test.jsonl': QA });
  try {
    const loaded = loadTaskConfig(join(f.dir, 't.yaml'));
    assert.deepEqual(loaded.config.doc_to_text, { kind: 'function', name: 'utils.doc_to_text' });
    assert.deepEqual(loaded.config.functions, [{ field: 'doc_to_text', name: 'utils.doc_to_text' }]);
    assert.throws(() => new Task(loaded), /task 't'.*doc_to_text is the Python function 'utils\.doc_to_text' \(!function\)/);
    // listing still works
    assert.deepEqual(
      listTasks([f.dir]).map((t) => t.task),
      ['t'],
    );
  } finally {
    f.cleanup();
  }
});

test('unknown fields are warnings naming the file and the field; PyYAML booleans (y stays a string)', () => {
  const f = files({ 't.yaml': BASIC + 'doc_to_choise: "{{x}}"\nfewshot_config:\n  smapler: first_n\nmetadata:\n  flag: yes\n  letter: y\n', 'test.jsonl': QA });
  try {
    const { config, warnings } = loadTaskConfig(join(f.dir, 't.yaml'));
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /t\.yaml: unknown field 'doc_to_choise'/);
    assert.match(warnings[1]!, /t\.yaml: unknown field 'fewshot_config\.smapler'/);
    assert.deepEqual(config.metadata, { flag: true, letter: 'y' });
  } finally {
    f.cleanup();
  }
});

test('YAML as PyYAML reads it: a quoted value wrapped at column 0, "02:00" a string but 1:20 sexagesimal 80', () => {
  const f = files({ 't.yaml': BASIC + "description: 'first line\ncontinued at column 0'\nmetadata:\n  a: 02:00\n  b: 1:20\n", 'test.jsonl': QA });
  try {
    const { config } = loadTaskConfig(join(f.dir, 't.yaml'));
    assert.equal(config.description, 'first line continued at column 0');
    assert.deepEqual(config.metadata, { a: '02:00', b: 80 });
  } finally {
    f.cleanup();
  }
});

test('a hub dataset is an error saying it is unreachable offline and how to use dataset_path: json', () => {
  const f = files({ 't.yaml': 'task: hs\ndataset_path: Rowan/hellaswag\ntest_split: validation\n' });
  try {
    assert.throws(() => loadTaskConfig(join(f.dir, 't.yaml')), /task 'hs': dataset_path 'Rowan\/hellaswag' is a Hugging Face Hub dataset.*unreachable offline.*dataset_path: json.*data_files/s);
  } finally {
    f.cleanup();
  }
});

test('findTasks: task names, tags (sorted), globs, .yaml paths, later include paths override; unknown names list near matches', () => {
  const f = files({
    'a/t1.yaml': BASIC.replace('task: t', 'task: alpha_one\ntag: [grp]'),
    'a/t2.yaml': BASIC.replace('task: t', 'task: alpha_two\ntag: grp'),
    'a/test.jsonl': QA,
    'b/t1.yaml': BASIC.replace('task: t', 'task: alpha_one\ndescription: "from b\\n"'),
    'b/test.jsonl': QA,
  });
  try {
    const both = [join(f.dir, 'a'), join(f.dir, 'b')];
    assert.deepEqual(
      findTasks(['grp'], [join(f.dir, 'a')]).configs.map((c) => c.task),
      ['alpha_one', 'alpha_two'],
    );
    assert.deepEqual(
      findTasks(['alpha_*'], both).configs.map((c) => c.task),
      ['alpha_one', 'alpha_two'],
    );
    const over = findTasks(['alpha_one'], both);
    assert.equal(over.configs[0]!.description, 'from b\n');
    assert.ok(over.warnings.some((w) => /alpha_one.*overrides/.test(w)));
    assert.equal(findTasks([join(f.dir, 'a', 't2.yaml')], []).configs[0]!.task, 'alpha_two');
    assert.throws(() => findTasks(['alpha_on'], both), /unknown task 'alpha_on'.*did you mean 'alpha_one'/);
    const listing = listTasks(both);
    assert.deepEqual(
      listing.map((t) => [t.task, t.kind]),
      [
        ['alpha_one', 'task'],
        ['alpha_two', 'task'],
        ['grp', 'tag'],
      ],
    );
  } finally {
    f.cleanup();
  }
});

test('the committed fixture tasks are found through their tag', () => {
  const { configs } = findTasks(['fx_fixture'], [FIXTURE_TASKS]);
  assert.deepEqual(
    configs.map((c) => c.task),
    ['fx_gen', 'fx_lambada', 'fx_mc', 'fx_rolling'],
  );
});

// ---------------------------------------------------------------------------------------------------------------
// templates

const site = { task: 'tt', field: 'doc_to_text' };

test('templates: Python str() of values, slicing, str methods, filters, loops, trailing newline kept', () => {
  const doc = { text: 'The quick brown fox', xs: ['a', "b'c", 'd"e'], n: 3, f: 2.5, none: null, yes: true, d: { text: ['x', 'y'], label: ['A', 'B'] } };
  const r = (t: string) => renderTemplate(t, doc, site);
  assert.equal(r("{{text.split(' ')[:-1]|join(' ')}}"), 'The quick brown');
  assert.equal(r("{{' '+text.split(' ')[-1]}}"), ' fox');
  assert.equal(r('{{xs}}'), `['a', "b'c", 'd"e']`);
  assert.equal(r('{{none}} {{yes}} {{n / 2}} {{n // 2}} {{ -7 % 3 }} {{f}} {{(1, 2)}}'), 'None True 1.5 1 2 2.5 (1, 2)');
  assert.equal(r('{{ "  pad  ".strip() }}|{{ "xxhixx".strip("x") }}|{{ "a b  c".split() }}|{{ "hello world".capitalize() }}'), "pad|hi|['a', 'b', 'c']|Hello world");
  assert.equal(r("{{ ', '.join(xs) }}"), `a, b'c, d"e`);
  assert.equal(r('{% for t in d.text %}{{ "AB"[loop.index0] }}. {{ t }}\n{% endfor %}Answer:\n'), 'A. x\nB. y\nAnswer:\n');
  assert.equal(r('{{ text | lower | replace("quick", "slow") }} {{ xs | length }} {{ "3.7" | int }} {{ text | wordcount }}'), 'the slow brown fox 3 3 4');
  assert.equal(r('{{ x if x is defined else "none" }} {{ (y | default("dflt")) }}'), 'none dflt');
  // in a Jinja2 string literal "\\2" is a backreference, "\2" the octal escape chr(2), as in Python
  assert.equal(r('{{ text | regex_replace("(\\w+) (\\w+)", "\\\\2 \\\\1") }}'), 'quick The fox brown');
  assert.equal(r('{{ text | regex_replace("(\\w+) (\\w+)", "\\2 \\1", 1) }}'), '\x02 \x01 brown fox');
  assert.equal(r("{{ choices['text'][1] if choices is defined else d['text'][1] }}"), 'y');
  assert.equal(r('{{ 1 == 1.0 }} {{ "1" == 1 }} {{ [1, 2] == [1, 2] }}'), 'True False True');
});

test('templates: an undefined variable is an error naming the task, the field, the template and the variable', () => {
  assert.throws(
    () => renderTemplate('Q: {{question}} A: {{answer}}', { question: 'q' }, site),
    (err: unknown) => {
      assert.ok(err instanceof TemplateError);
      assert.equal(err.missing, 'answer');
      assert.match(err.message, /task 'tt': doc_to_text template "Q: \{\{question\}\} A: \{\{answer\}\}": undefined variable: 'answer' is undefined \(the document has 'question'\)/);
      return true;
    },
  );
  assert.throws(() => renderTemplate('{{ d.missing }}', { d: { a: 1 } }, site), /'dict object' has no attribute 'missing'/);
  assert.throws(() => renderTemplate('{{ xs[5] }}', { xs: [1] }, site), /list object has no element 5/);
  assert.throws(() => renderTemplate('{% if flag %}x{% endif %}', {}, site), /'flag' is undefined/);
  assert.throws(() => renderTemplate('{% for c in cs %}{{c}}{% endfor %}', {}, site), /'cs' is undefined/);
});

test('Python repr/float repr and ast.literal_eval', () => {
  assert.equal(pyRepr(["it's", 'say "hi"', 'both \' "', 'tab\t', 'é', '\u200b']), `["it's", 'say "hi"', 'both \\' "', 'tab\\t', 'é', '\\u200b']`);
  assert.deepEqual([1.0, 0.1, 1e16, 1e-5, 0.0001, 123456789012345680, -0, 2.5e-7].map(pyFloatRepr), ['1.0', '0.1', '1e+16', '1e-05', '0.0001', '1.2345678901234568e+17', '-0.0', '2.5e-07']);
  assert.deepEqual(pyLiteralEval(`['a', "b'c", 'x\\ny', 1, -2.5, True, None, (1,), {'k': [1]}]`), ['a', "b'c", 'x\ny', 1, -2.5, true, null, [1], { k: [1] }]);
  assert.deepEqual(pyLiteralEval("'a' 'b'"), 'ab');
  assert.throws(() => pyLiteralEval('[1, 2'), /invalid literal/);
  assert.throws(() => pyLiteralEval('007'), /leading zeros/);
  assert.throws(() => pyLiteralEval('foo'), /name 'foo'/);
});

// ---------------------------------------------------------------------------------------------------------------
// dataset

test('dataset: JSONL rows get every column (missing → null), int columns with a float render as floats; JSON lists; field', () => {
  const f = files({
    'a.jsonl': '{"x": 1, "y": "p"}\n\n{"x": 2.5, "z": {"k": 1}}\n',
    'b.json': '[{"x": 3, "y": "q"}]',
    'c.json': JSON.stringify({ version: 1, data: [{ x: 4, y: 'r' }] }),
    'd.json': '["just", "strings"]',
  });
  try {
    const cfg = { task: 'd', data_files: { train: [join(f.dir, 'a.jsonl')], test: [join(f.dir, 'b.json')] } };
    const ds = loadDataset(cfg);
    assert.deepEqual(ds.columns, ['x', 'y', 'z']);
    assert.deepEqual(ds.splits.train, [
      { x: 1, y: 'p', z: null },
      { x: 2.5, y: null, z: { k: 1 } },
    ]);
    assert.deepEqual(ds.splits.test, [{ x: 3, y: 'q', z: null }]);
    assert.equal(renderTemplate('{{x}}', ds.splits.test![0]!, site, ds.schema), '3.0');
    assert.deepEqual(loadSplits({ task: 'd', data_files: { train: [join(f.dir, 'c.json')] }, field: 'data' }).train, [{ x: 4, y: 'r' }]);
    assert.deepEqual(loadSplits({ task: 'd', data_files: { train: [join(f.dir, 'd.json')] } }).train, [{ text: 'just' }, { text: 'strings' }]);
  } finally {
    f.cleanup();
  }
});

test('dataset: a bad line is an error naming the file and the line; a column only a later split has is an error', () => {
  const f = files({ 'bad.jsonl': '{"x": 1}\n{"x": 2,}\n', 'a.jsonl': '{"x": 1}\n', 'b.jsonl': '{"x": 1, "extra": 2}\n' });
  try {
    assert.throws(() => loadSplits({ task: 'd', data_files: { test: [join(f.dir, 'bad.jsonl')] } }), /bad\.jsonl: line 2, column 9: invalid JSON/);
    assert.throws(() => loadSplits({ task: 'd', data_files: { test: [join(f.dir, 'a.jsonl')], train: [join(f.dir, 'b.jsonl')] } }), /column 'extra' that .*a\.jsonl lacks/);
  } finally {
    f.cleanup();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Task

function mcTask(extra: string, data: object[], more: Record<string, string> = {}): { task: Task; cleanup: () => void } {
  const f = files({
    't.yaml': 'task: mc\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: test.jsonl\n    train: train.jsonl\ntest_split: test\ntraining_split: train\noutput_type: multiple_choice\ndoc_to_text: "{{q}}"\ndoc_to_choice: ["no", "yes"]\ndoc_to_target: "{{label}}"\n' + extra,
    'test.jsonl': jsonl(data),
    'train.jsonl': jsonl(data),
    ...more,
  });
  return { task: new Task(loadTaskConfig(join(f.dir, 't.yaml'))), cleanup: f.cleanup };
}

test('Task: an all-digit target becomes an int choice index; multiple_choice requests; acc_mutual_info adds unconditional ones', () => {
  const { task, cleanup } = mcTask('metric_list:\n  - metric: acc_mutual_info\n', [
    { q: 'Is it?', label: 1 },
    { q: 'Or not?', label: 0 },
  ]);
  try {
    const doc = task.evalDocs()[0]!;
    assert.equal(task.docToTarget(doc), 1);
    assert.deepEqual(task.docToChoice(doc), ['no', 'yes']);
    const ctx = task.fewshotContext(doc, 1, new PyRandom(1234));
    assert.match(ctx, /^(Is it\? yes|Or not\? no)\n\nIs it\?$/);
    assert.deepEqual(
      task.requests(doc, ctx).map((r) => [r.idx, r.arguments]),
      [
        [0, [ctx, ' no']],
        [1, [ctx, ' yes']],
        [2, ['', ' no']],
        [3, ['', ' yes']],
      ],
    );
  } finally {
    cleanup();
  }
});

test('Task: doc_to_target out of range for the choices is an error naming the task, the index and the choices', () => {
  const { task, cleanup } = mcTask('', [
    { q: 'a', label: 5 },
    { q: 'b', label: 5 },
  ]);
  try {
    const doc = task.evalDocs()[0]!;
    assert.throws(() => task.fewshotContext(doc, 1, new PyRandom(1234)), /task 'mc': doc_to_target is 5, out of range for the 2 choices \['no', 'yes'\]/);
  } finally {
    cleanup();
  }
});

test('Task: an empty evaluation split is an error naming the split and its file', () => {
  const f = files({ 't.yaml': BASIC, 'test.jsonl': '\n' });
  try {
    const task = new Task(loadTaskConfig(join(f.dir, 't.yaml')));
    assert.throws(() => task.evalDocs(), /task 't': the evaluation split 'test' \(.*test\.jsonl\) has no documents/);
  } finally {
    f.cleanup();
  }
});

test('Task: a few-shot split smaller than K is an error naming the task, K and the split size', () => {
  const f = files({ 't.yaml': BASIC.replace('test_split: test\n', 'test_split: test\nfewshot_split: test\n'), 'test.jsonl': QA });
  try {
    const task = new Task(loadTaskConfig(join(f.dir, 't.yaml')));
    const doc = task.evalDocs()[0]!;
    assert.equal(task.fewshotPoolSize(doc), 2);
    // the few-shot split is the test split: the default sampler draws K + 1 and drops the evaluated document
    assert.ok(task.fewshotContext(doc, 2, new PyRandom(1234)).endsWith('Q: one'));
    assert.throws(() => task.fewshotContext(doc, 3, new PyRandom(1234)), /task 't': 3-shot needs 4 documents .* the few-shot split 'test' has 3 documents/);
  } finally {
    f.cleanup();
  }
});

test('Task: first_n takes the pool in order (without the evaluated document when the pool is the test split)', () => {
  const f = files({ 't.yaml': BASIC + 'fewshot_config:\n  sampler: first_n\n  split: test\n', 'test.jsonl': QA });
  try {
    const task = new Task(loadTaskConfig(join(f.dir, 't.yaml')));
    const [one, two] = task.evalDocs();
    const rnd = new PyRandom(1234);
    assert.equal(task.fewshotContext(one!, 2, rnd), 'Q: two dos\n\nQ: three tres\n\nQ: one');
    assert.equal(task.fewshotContext(two!, 2, rnd), 'Q: one uno\n\nQ: three tres\n\nQ: two');
    assert.throws(() => task.fewshotContext(one!, 3, rnd), /3-shot needs 3 examples \(first_n, without the evaluated document\).*has 2 documents/);
  } finally {
    f.cleanup();
  }
});

test('Task: generate_until requests carry the generation kwargs; loglikelihood adds no delimiter; description templated', () => {
  const f = files({ 't.yaml': BASIC + 'description: "About {{q}}:\\n"\n', 'l.yaml': BASIC.replace('task: t', 'task: l\noutput_type: loglikelihood'), 'test.jsonl': QA });
  try {
    const task = new Task(loadTaskConfig(join(f.dir, 't.yaml')));
    const doc = task.evalDocs()[0]!;
    const ctx = task.fewshotContext(doc, 0, new PyRandom(1234));
    assert.equal(ctx, 'About one:\nQ: one');
    assert.deepEqual(task.requests(doc, ctx), [{ kind: 'generate_until', idx: 0, arguments: [ctx, { temperature: 0, do_sample: false, max_gen_toks: 256, until: ['\n\n'] }] }]);
    const ll = new Task(loadTaskConfig(join(f.dir, 'l.yaml')));
    assert.deepEqual(ll.requests(doc, 'C'), [{ kind: 'loglikelihood', idx: 0, arguments: ['C', 'uno'] }]);
  } finally {
    f.cleanup();
  }
});
