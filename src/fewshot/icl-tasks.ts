// The in-context-learning demo's task family: simple word rules (reverse, repeat, first letter, …) whose rule is
// stated by a description or shown by examples. Words are a bundled corpus's lowercase vocabulary, split once by a
// seeded shuffle into test words, few-shot-pool words and training words (disjoint). From them come
//   - training documents "Description\n\nInput: w\nOutput: f(w)\n\nInput: …\n" (description present or not at
//     random, 1–16 examples, training words only), and
//   - held-out evaluation tasks as lm-evaluation-harness YAML + JSONL (one task per rule; greedy generate_until
//     up to "\n", exact match after stripping whitespace; few-shot pool = the pool words, test = the test words).
// Everything is a deterministic function of the seed.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Scalar, stringify } from 'yaml';
import { loadCorpus } from '../data/corpora.js';
import { hashString, Rng } from '../nn/init.js';

export interface IclRule {
  /** Task-name suffix: icl_<name>. */
  name: string;
  /** The task description (GPT-3's natural-language instruction); zero-shot relies on it alone. */
  description: string;
  apply(word: string): string;
}

/** The rules, each readable from its description or inferable from a few examples. */
export const ICL_RULES: readonly IclRule[] = [
  { name: 'reverse', description: 'Write each word backwards.', apply: (w) => [...w].reverse().join('') },
  { name: 'repeat', description: 'Write each word twice.', apply: (w) => `${w} ${w}` },
  { name: 'first_letter', description: 'Write the first letter of each word.', apply: (w) => w.slice(0, 1) },
  { name: 'last_letter', description: 'Write the last letter of each word.', apply: (w) => w.slice(-1) },
  { name: 'last_two', description: 'Write the last two letters of each word.', apply: (w) => w.slice(-2) },
  { name: 'drop_first', description: 'Write each word without its first letter.', apply: (w) => w.slice(1) },
  { name: 'drop_last', description: 'Write each word without its last letter.', apply: (w) => w.slice(0, -1) },
  { name: 'uppercase', description: 'Write each word in capital letters.', apply: (w) => w.toUpperCase() },
];

export const DEFAULT_ICL_SEED = 'tessera-icl-v1';

/** The prompt format shared by training documents and the evaluation YAML. */
export const ICL_FORMAT = {
  /** Between the description and the first example (the YAML description ends with it). */
  afterDescription: '\n\n',
  /** doc_to_text with the harness's target delimiter " " before the output. */
  example: (input: string, output: string) => `Input: ${input}\nOutput: ${output}`,
  docToText: 'Input: {{input}}\nOutput:',
  targetDelimiter: ' ',
  fewshotDelimiter: '\n\n',
} as const;

/** A string-seeded PRNG stream (xoshiro128** of the engine, seeded by FNV-1a of `seed/stream`). */
export function rngFor(seed: string, stream: string): Rng {
  return new Rng(hashString(`${seed}/${stream}`));
}

function shuffle<T>(rng: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** Distinct all-lowercase a–z words of `minLen`..`maxLen` letters in `text` (not parts of longer or capitalised words), sorted. */
export function corpusWords(text: string, minLen = 3, maxLen = 7): string[] {
  const words = new Set<string>();
  for (const m of text.matchAll(/(?<![A-Za-z'’-])[a-z]+(?![A-Za-z'’-])/g)) {
    if (m[0].length >= minLen && m[0].length <= maxLen) words.add(m[0]);
  }
  return [...words].sort();
}

export interface WordSplit {
  /** Words of the training documents. */
  train: string[];
  /** Held out from training; the evaluation tasks' few-shot pool (their train split). */
  fewshot: string[];
  /** Held out from training; the evaluated instances (the tasks' test split). */
  test: string[];
}

export interface SplitSizes {
  fewshot: number;
  test: number;
}

/** A seeded shuffle of `words`: the first `test` are test words, the next `fewshot` the pool, the rest train. */
export function splitWords(words: readonly string[], seed: string, sizes: SplitSizes = { fewshot: 200, test: 400 }): WordSplit {
  const unique = [...new Set(words)].sort();
  if (unique.length < sizes.test + sizes.fewshot + 1) throw new Error(`icl tasks: ${unique.length} words, too few for ${sizes.test} test + ${sizes.fewshot} few-shot words and a training set`);
  const order = shuffle(rngFor(seed, 'word-split'), unique);
  return { test: order.slice(0, sizes.test), fewshot: order.slice(sizes.test, sizes.test + sizes.fewshot), train: order.slice(sizes.test + sizes.fewshot) };
}

/** The demo's word split of a bundled corpus's vocabulary. */
export function corpusWordSplit(corpus = 'moby-dick', seed = DEFAULT_ICL_SEED, sizes?: SplitSizes): WordSplit {
  return splitWords(corpusWords(loadCorpus(corpus).fullText()), seed, sizes);
}

export interface TrainingDocOptions {
  /** Probability that the document starts with its rule's description (default 0.5). */
  pDescription?: number;
  minExamples?: number;
  maxExamples?: number;
  rules?: readonly IclRule[];
}

/** One training document: a random rule, maybe its description, 1–16 examples on distinct random words. */
export function trainingDocument(rng: Rng, words: readonly string[], o: TrainingDocOptions = {}): { rule: string; described: boolean; text: string } {
  const rules = o.rules ?? ICL_RULES;
  const lo = o.minExamples ?? 1;
  const hi = o.maxExamples ?? 16;
  const rule = rules[rng.int(rules.length)]!;
  const described = rng.uniform() < (o.pDescription ?? 0.5);
  const n = lo + rng.int(hi - lo + 1);
  const picked = new Set<string>();
  while (picked.size < Math.min(n, words.length)) picked.add(words[rng.int(words.length)]!);
  const examples = [...picked].map((w) => ICL_FORMAT.example(w, rule.apply(w)));
  const text = (described ? rule.description + ICL_FORMAT.afterDescription : '') + examples.join(ICL_FORMAT.fewshotDelimiter) + '\n';
  return { rule: rule.name, described, text };
}

/** Training documents until their total length reaches `totalChars` (one PRNG stream for the seed). */
export function trainingDocuments(words: readonly string[], totalChars: number, seed = DEFAULT_ICL_SEED, o: TrainingDocOptions = {}): string[] {
  const rng = rngFor(seed, 'training-documents');
  const docs: string[] = [];
  let chars = 0;
  while (chars < totalChars) {
    const d = trainingDocument(rng, words, o);
    docs.push(d.text);
    chars += d.text.length;
  }
  return docs;
}

export interface IclTaskFiles {
  /** Task names, in rule order. */
  tasks: string[];
  /** The YAML files. */
  yamlPaths: string[];
}

export const taskName = (rule: IclRule) => `icl_${rule.name}`;

/** lm-evaluation-harness YAML (data_files relative to it, as tasks/README.md describes) for one rule. */
export function taskYaml(rule: IclRule, maxGenToks: number): string {
  const version = new Scalar(1);
  version.minFractionDigits = 1;
  const doc = {
    tag: ['icl_demo'],
    task: taskName(rule),
    dataset_path: 'json',
    dataset_kwargs: { data_files: { train: `data/${rule.name}.train.jsonl`, test: `data/${rule.name}.test.jsonl` } },
    training_split: 'train',
    test_split: 'test',
    fewshot_split: 'train',
    output_type: 'generate_until',
    description: rule.description + ICL_FORMAT.afterDescription,
    doc_to_text: ICL_FORMAT.docToText,
    doc_to_target: '{{output}}',
    target_delimiter: ICL_FORMAT.targetDelimiter,
    fewshot_delimiter: ICL_FORMAT.fewshotDelimiter,
    filter_list: [{ name: 'strip', filter: [{ function: 'remove_whitespace' }, { function: 'take_first' }] }],
    metric_list: [{ metric: 'exact_match', aggregation: 'mean', higher_is_better: true, ignore_case: false, ignore_punctuation: false }],
    generation_kwargs: { until: ['\n'], max_gen_toks: maxGenToks, do_sample: false, temperature: 0 },
    metadata: { version },
  };
  const header = [
    'Generated by tessera `eval icl-demo` (src/fewshot/icl-tasks.ts); regenerated on every run.',
    `Rule '${rule.name}': ${rule.description} Inputs are held-out words (never in the training documents).`,
  ];
  return `${header.map((l) => `# ${l}`).join('\n')}\n${stringify(doc, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0, doubleQuotedAsJSON: true })}`;
}

const jsonl = (rows: readonly Record<string, string>[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** Write one task per rule into `dir` (YAML) and `dir/data` (JSONL splits). */
export function writeIclTasks(dir: string, split: WordSplit, rules: readonly IclRule[] = ICL_RULES): IclTaskFiles {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const longest = Math.max(...[...split.fewshot, ...split.test].flatMap((w) => rules.map((r) => r.apply(w).length)));
  const maxGenToks = longest + 4; // bytes: the leading space, the answer, the stopping newline, slack
  const out: IclTaskFiles = { tasks: [], yamlPaths: [] };
  for (const rule of rules) {
    const rows = (words: readonly string[]) => words.map((w) => ({ input: w, output: rule.apply(w) }));
    writeFileSync(join(dir, 'data', `${rule.name}.train.jsonl`), jsonl(rows(split.fewshot)));
    writeFileSync(join(dir, 'data', `${rule.name}.test.jsonl`), jsonl(rows(split.test)));
    const path = join(dir, `${taskName(rule)}.yaml`);
    writeFileSync(path, taskYaml(rule, maxGenToks));
    out.tasks.push(taskName(rule));
    out.yamlPaths.push(path);
  }
  return out;
}
