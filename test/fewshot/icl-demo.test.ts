// The in-context-learning demo: the word-rule generator (deterministic, rules right, held-out words never in the
// training documents, YAML that the task loader reads and renders in the training documents' format) and a very
// small end-to-end run (two tiny models, a few steps, K = 0 and 1, two documents per task) that leaves its files and
// prints a size × K table; a second run reuses the trained models and the cached answers.
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { PyRandom } from '../../src/fewshot/py-random.js';
import { corpusWords, ICL_RULES, splitWords, trainingDocument, trainingDocuments, rngFor, writeIclTasks, type WordSplit } from '../../src/fewshot/icl-tasks.js';
import { pairedGain, runIclDemo } from '../../src/fewshot/icl-demo.js';
import type { TaskResult } from '../../src/fewshot/evaluator.js';
import { loadTaskConfig } from '../../src/fewshot/task-config.js';
import { Task } from '../../src/fewshot/task.js';

const TEXT =
  'The whale, the whale! said Ahab; call all hands. Captain Ahab ordered the harpoons; sailors rowed toward the spout ' +
  'while the ship drifted over ocean and sea, past mast and deck, rope, sail, wind, wave, foam, salt, fish, boat, oar, ' +
  'hull, keel, tide, storm, cloud and rain; night fell on the quiet water.';

const fixtureSplit = (): WordSplit => splitWords(corpusWords(TEXT), 'test-seed', { fewshot: 8, test: 10 });

test('rules compute what their descriptions say', () => {
  const by = Object.fromEntries(ICL_RULES.map((r) => [r.name, r.apply('whale')]));
  assert.deepEqual(by, {
    reverse: 'elahw',
    repeat: 'whale whale',
    first_letter: 'w',
    last_letter: 'e',
    last_two: 'le',
    drop_first: 'hale',
    drop_last: 'whal',
    uppercase: 'WHALE',
  });
  assert.equal(new Set(ICL_RULES.map((r) => r.description)).size, ICL_RULES.length);
});

test('corpus words are lowercase, 3–7 letters, not pieces of capitalised or hyphenated words', () => {
  const w = corpusWords("Ahab's whale-ship sailed; the sea is calm, don't go Starbuck ocean");
  assert.deepEqual(w, ['calm', 'ocean', 'sailed', 'sea', 'the']);
});

test('word split is deterministic and disjoint', () => {
  const a = fixtureSplit();
  const b = fixtureSplit();
  assert.deepEqual(a, b);
  assert.equal(a.test.length, 10);
  assert.equal(a.fewshot.length, 8);
  const all = [...a.train, ...a.fewshot, ...a.test];
  assert.equal(new Set(all).size, all.length);
  assert.deepEqual([...all].sort(), corpusWords(TEXT));
  assert.notDeepEqual(splitWords(corpusWords(TEXT), 'other-seed', { fewshot: 8, test: 10 }).test, a.test);
});

test('training documents: format, deterministic, only training words, rules applied, description sometimes', () => {
  const split = fixtureSplit();
  const docs = trainingDocuments(split.train, 20_000, 'test-seed');
  assert.deepEqual(docs, trainingDocuments(split.train, 20_000, 'test-seed'));
  const held = new Set([...split.fewshot, ...split.test]);
  const rules = new Map(ICL_RULES.map((r) => [r.description, r]));
  let described = 0;
  const counts: number[] = [];
  for (const d of docs) {
    assert.ok(d.endsWith('\n') && !d.endsWith('\n\n'), JSON.stringify(d));
    const blocks = d.slice(0, -1).split('\n\n');
    const rule = rules.get(blocks[0]!);
    if (rule) {
      described++;
      blocks.shift();
    }
    counts.push(blocks.length);
    const pairs = blocks.map((b) => {
      const m = /^Input: ([a-z]+)\nOutput: (.+)$/.exec(b);
      assert.ok(m, `bad example block ${JSON.stringify(b)}`);
      assert.ok(!held.has(m[1]!), `held-out word '${m[1]}' in a training document`);
      assert.ok(split.train.includes(m[1]!));
      return [m[1]!, m[2]!] as const;
    });
    // some rule (the described one, when there is a description) maps every input to its output
    const fits = (r: (typeof ICL_RULES)[number]) => pairs.every(([i, o]) => r.apply(i) === o);
    assert.ok(rule ? fits(rule) : ICL_RULES.some(fits), JSON.stringify(d));
  }
  assert.ok(described > docs.length * 0.35 && described < docs.length * 0.65, `${described} of ${docs.length} described`);
  assert.equal(Math.min(...counts), 1);
  assert.equal(Math.max(...counts), 16);
  const one = trainingDocument(rngFor('s', 'x'), ['whale'], { pDescription: 1, minExamples: 1, maxExamples: 1 });
  assert.equal(one.text, `${ICL_RULES.find((r) => r.name === one.rule)!.description}\n\nInput: whale\nOutput: ${ICL_RULES.find((r) => r.name === one.rule)!.apply('whale')}\n`);
});

test('evaluation tasks: YAML + JSONL that the task loader reads; contexts in the training format', () => {
  const dir = mkdtempSync(join(tmpdir(), 'icl-tasks-'));
  try {
    const split = fixtureSplit();
    const files = writeIclTasks(dir, split);
    assert.equal(files.tasks.length, ICL_RULES.length);
    for (const [i, rule] of ICL_RULES.entries()) {
      const raw = parse(readFileSync(files.yamlPaths[i]!, 'utf8')) as Record<string, any>;
      assert.equal(raw.output_type, 'generate_until');
      assert.deepEqual(raw.generation_kwargs.until, ['\n']);
      const rows = (s: string) => readFileSync(join(dir, raw.dataset_kwargs.data_files[s]), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { input: string; output: string });
      assert.deepEqual(rows('test').map((r) => r.input), split.test);
      assert.deepEqual(rows('train').map((r) => r.input), split.fewshot);
      for (const r of [...rows('test'), ...rows('train')]) assert.equal(r.output, rule.apply(r.input));

      const task = new Task(loadTaskConfig(files.yamlPaths[i]!).config);
      assert.equal(task.config.task, `icl_${rule.name}`);
      const doc = task.evalDocs()[0]!;
      assert.equal(task.fewshotContext(doc, 0, new PyRandom(1234)), `${rule.description}\n\nInput: ${split.test[0]}\nOutput:`);
      const two = task.fewshotContext(doc, 2, new PyRandom(1234));
      const m = /^(.*)\n\nInput: (\w+)\nOutput: (.+)\n\nInput: (\w+)\nOutput: (.+)\n\nInput: (\w+)\nOutput:$/.exec(two);
      assert.ok(m, JSON.stringify(two));
      assert.equal(m[1], rule.description);
      assert.ok(split.fewshot.includes(m[2]!) && split.fewshot.includes(m[4]!));
      assert.equal(m[3], rule.apply(m[2]!));
      assert.equal(m[6], split.test[0]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('paired gain: per-document differences over the documents both K share', () => {
  const result = (task: string, scores: number[]) => ({ task, samples: scores.map((v, i) => ({ doc_id: i, filter: 'strip', exact_match: v })) }) as unknown as TaskResult;
  const g = pairedGain([result('t', [0, 0, 1, 0])], [result('t', [1, 0, 1, 1]), result('u', [1])]);
  assert.equal(g.docs, 4);
  assert.equal(g.mean, 0.5);
  assert.ok(Math.abs(g.stderr - Math.sqrt(1 / 3) / 2) < 1e-12);
});

test('end to end: two tiny models, a few steps, K = 0 and 1; a re-run reuses models and answers', { timeout: 120_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'icl-demo-'));
  try {
    const shapes = { a: { nLayer: 1, nEmbd: 16, nHead: 2, lr: 3e-3 }, b: { nLayer: 1, nEmbd: 32, nHead: 2, lr: 3e-3 } };
    const lines: string[] = [];
    let printed = '';
    const opts = { outputPath: out, steps: 3, json: false, shapes, batch: 2, blockSize: 128, shots: [0, 1], limit: 2, textChars: 20_000, bootstrapIters: 10, log: (l: string) => lines.push(l), write: (t: string) => (printed += t) };
    const r = await runIclDemo(opts);
    for (const f of ['results.json', 'icl.md', 'icl.png', 'cache.sqlite', 'tasks/icl_reverse.yaml', 'models/a/model.safetensors', 'models/b/config.json', 'results/a/results.json']) assert.ok(existsSync(join(out, f)), `${f} is missing`);
    assert.deepEqual(r.shots, [0, 1]);
    assert.equal(r.cells.length, 4);
    for (const c of r.cells) assert.ok(c.accuracy >= 0 && c.accuracy <= 1 && Object.keys(c.perTask).length === ICL_RULES.length);
    const rows = printed.split('\n').filter((l) => l.startsWith('|'));
    assert.equal(rows.length, 4, printed); // header, rule, one row per model
    assert.match(rows[0]!, /^\| model \| params \| K=0 \| K=1 \| K=1 − K=0 \|$/);
    assert.match(rows[2]!, /^\| a \| \d+k \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \| [+-][\d.]+ ± ([\d.]+|NaN) \|$/);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    assert.ok(results.results['a/icl_reverse@0shot']);
    assert.equal(results.results['b/icl_uppercase@1shot'].sample_len, 2);
    assert.equal(results.icl_demo.models.length, 2);
    assert.ok(readFileSync(join(out, 'icl.png')).subarray(1, 4).toString() === 'PNG');

    lines.length = 0;
    printed = '';
    const again = await runIclDemo({ ...opts, json: true });
    assert.ok(lines.some((l) => /a: already trained/.test(l)) && lines.some((l) => /b: already trained/.test(l)), lines.join('\n'));
    assert.deepEqual(JSON.parse(printed).table.map((c: { accuracy: number }) => c.accuracy), r.cells.map((c) => c.accuracy));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
