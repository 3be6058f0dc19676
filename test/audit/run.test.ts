// The extraction attack end to end (src/audit/run.ts) on a corpus indexed with the bytes tokenizer:
// - a "parrot" model (LanguageModel only, the remote path) that emits verbatim corpus passages for some samples and
//   random letters for the others, and finds its parroted text likelier: verification finds exactly the parroted
//   samples with the right source documents and offsets, and perplexity ranks them first (Table 2 = all memorized);
// - a run killed mid-generation and resumed equals an uninterrupted run; a different configuration is refused;
// - a real local GPT (bytes+eot) through the token-level path, and an index built with another tokenizer refused.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAudit, type AuditRunOptions } from '../../src/audit/run.js';
import { prng } from '../../src/audit/generate.js';
import type { SampleRecord } from '../../src/audit/types.js';
import { buildIndex } from '../../src/corpus/index.js';
import type { Completion, GenerateRequestOptions, LanguageModel, ScoreResult } from '../../src/lm/language-model.js';
import { resolveConfig } from '../../src/lm/config.js';
import { LocalLanguageModel } from '../../src/lm/language-model.js';
import { GPT } from '../../src/lm/model.js';
import { BytesTokenizer } from '../../src/tokenizer/index.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-audit-run-'));
after(() => rmSync(root, { recursive: true, force: true }));

const tok = new BytesTokenizer({ eot: true });
const rand = prng(7);
const word = () => Array.from({ length: 3 + Math.floor(rand() * 6) }, () => String.fromCharCode(97 + Math.floor(rand() * 26))).join('');
const DOCS = Array.from({ length: 12 }, (_, i) => ({ id: `doc-${i}`, text: Array.from({ length: 120 }, word).join(' ') }));

let indexDir = '';
async function index(): Promise<string> {
  if (indexDir) return indexDir;
  indexDir = join(root, 'index');
  await buildIndex(DOCS.map((d) => ({ id: d.id, tokens: tok.encode(d.text) })), { out: indexDir, tokenizer: tok, jobs: 1 });
  return indexDir;
}

/** Emits a verbatim 90-character passage of doc (seed % 12) when (seed + row) is even, else random letters. */
class Parrot implements LanguageModel {
  readonly name = 'parrot';
  calls = 0;
  constructor(private readonly failAt = Infinity) {}
  async maxContext() {
    return 1024;
  }
  async tokenize(t: string) {
    return tok.encode(t);
  }
  async detokenize(ids: number[]) {
    return tok.decode(ids);
  }
  async loglikelihood(): Promise<never> {
    throw new Error('unused');
  }
  async loglikelihoodRolling(): Promise<never> {
    throw new Error('unused');
  }
  private memorized(text: string): boolean {
    return DOCS.some((d) => d.text.includes(text.slice(-60)));
  }
  async score(text: string): Promise<ScoreResult> {
    const tokens = tok.encode(text);
    const lp = this.memorized(text) || this.memorized(text.toUpperCase()) ? -0.2 : -2.5;
    // a small per-text variation so ranks are strict
    const jitter = (text.charCodeAt(1) % 7) / 100;
    return { tokens, logprobs: tokens.map((_, i) => (i === 0 ? null : lp - jitter)) };
  }
  async generate(prompts: string[], o: GenerateRequestOptions): Promise<Completion[][]> {
    if (++this.calls >= this.failAt) throw new Error('killed');
    return prompts.map((p, row) => {
      const r = prng((o.seed ?? 0) + row * 7919);
      let text: string;
      if (((o.seed ?? 0) + row) % 2 === 0) {
        const d = DOCS[((o.seed ?? 0) + row) % DOCS.length]!.text;
        const at = Math.floor(r() * (d.length - 100));
        text = d.slice(at, at + 90);
      } else text = Array.from({ length: 90 }, () => String.fromCharCode(65 + Math.floor(r() * 26))).join('');
      return [{ text: p === '<|endoftext|>' ? text : text, finishReason: 'length' as const }];
    });
  }
  async close() {}
}

function opts(o: Partial<AuditRunOptions> & { out: string }): AuditRunOptions {
  return {
    target: { name: 'parrot', lm: new Parrot() },
    references: [],
    corpusIndex: indexDir,
    indexTokenizer: tok,
    strategies: ['top-n', 'internet'],
    samples: 12,
    tokens: 90,
    promptCorpus: 'moby-dick',
    minTokens: 50,
    top: 5,
    resume: false,
    batch: 4,
    seed: 3,
    targetLogprobs: true,
    ...o,
  };
}

const readSamples = (dir: string): SampleRecord[] =>
  readFileSync(join(dir, 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as SampleRecord);

describe('audit run', () => {
  it('verifies parroted samples against the index and ranks them first', async () => {
    await index();
    const out = join(root, 'run1');
    const run = await runAudit(opts({ out }));
    const samples = readSamples(out);
    assert.equal(samples.length, 24);
    for (const s of samples) {
      for (const k of ['id', 'strategy', 'prompt', 'text', 'tokens', 'scores', 'memorized', 'longest_match']) assert.ok(k in s, `samples.jsonl lacks ${k}`);
      const parroted = DOCS.some((d) => d.text.includes(s.text.slice(s.prompt.length)));
      assert.equal(s.memorized, parroted, `sample ${s.id}: memorized=${s.memorized}, parroted=${parroted}`);
      if (parroted) {
        const lm = s.longest_match!;
        assert.ok(lm.tokens.length >= 90, `sample ${s.id}: longest run ${lm.tokens.length}`);
        const src = lm.sources[0]!;
        const doc = DOCS.find((d) => d.id === src.doc)!;
        assert.equal(tok.decode(tok.encode(doc.text).slice(src.offset, src.offset + lm.tokens.length)), lm.text);
        assert.equal(lm.docs, 1);
        assert.ok(s.spans.length >= 1);
        assert.equal(s.text.slice(s.spans[0]!.char_start, s.spans[0]!.char_end), tok.decode(s.tokens.slice(s.spans[0]!.start, s.spans[0]!.end)));
      }
    }
    const memTop = samples.filter((s) => s.strategy === 'top-n' && s.memorized).length;
    assert.ok(memTop >= 5, `top-n memorized ${memTop}`);
    assert.equal(run.results.table2['top-n']!.perplexity, 5);
    assert.deepEqual(run.results.precision['top-n']!.perplexity, [1, 1, 1, 1, 1]);
    assert.equal(run.results.memorized_total, samples.filter((s) => s.memorized).length);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    for (const k of ['table2', 'top_n', 'unique_memorized']) assert.ok(k in results);
    assert.equal(results.top_n, 5);
  });

  it('resumes a killed run to the same samples, refuses a rerun without --resume and a changed configuration', async () => {
    await index();
    const whole = join(root, 'whole');
    await runAudit(opts({ out: whole }));
    const cut = join(root, 'cut');
    await assert.rejects(runAudit(opts({ out: cut, target: { name: 'parrot', lm: new Parrot(3) } })), /killed/);
    await assert.rejects(runAudit(opts({ out: cut })), /already holds an audit run.*--resume/);
    await assert.rejects(runAudit(opts({ out: cut, resume: true, samples: 13 })), /different configuration: samples was 12, now 13/);
    await runAudit(opts({ out: cut, resume: true }));
    assert.equal(readFileSync(join(cut, 'samples.jsonl'), 'utf8'), readFileSync(join(whole, 'samples.jsonl'), 'utf8'));
  });

  it('runs without target log-probabilities: verifies, names the skipped metrics, ranks nothing', async () => {
    await index();
    const run = await runAudit(opts({ out: join(root, 'nolp'), targetLogprobs: false, strategies: ['top-n'] }));
    assert.deepEqual(run.results.metrics, []);
    assert.ok(run.results.skipped_metrics.perplexity!.includes('log-probabilities'));
    assert.ok(run.results.memorized_total > 0);
  });

  it('refuses an empty prompt corpus for the internet strategy', async () => {
    await index();
    const empty = join(root, 'empty.txt');
    writeFileSync(empty, '\n\n');
    await assert.rejects(runAudit(opts({ out: join(root, 'empty'), promptCorpus: empty, strategies: ['internet'] })), /empty|no (line|text)/);
  });

  it('runs a local GPT through the token-level path; refuses an index built with another tokenizer', async () => {
    await index();
    const model = new GPT(resolveConfig(undefined, { vocabSize: tok.vocabSize, blockSize: 64, nLayer: 1, nHead: 2, nEmbd: 16 })).initialize(3);
    const lm = new LocalLanguageModel(model, tok, { name: 'tiny', maxBatch: 4 });
    const ref = new LocalLanguageModel(new GPT(resolveConfig(undefined, { vocabSize: tok.vocabSize, blockSize: 64, nLayer: 1, nHead: 2, nEmbd: 8 })).initialize(4), tok, { name: 'ref' });
    try {
      const out = join(root, 'local');
      const run = await runAudit(opts({ out, target: { name: 'tiny', lm }, references: [{ name: 'ref', lm: ref }], strategies: ['top-n', 'temperature'], samples: 4, tokens: 20, minTokens: 4 }));
      const samples = readSamples(out);
      assert.equal(samples.length, 8);
      for (const s of samples) {
        assert.ok(s.text.length > 0);
        assert.ok(typeof s.scores['ratio:ref'] === 'number' && Number.isFinite(s.scores['ratio:ref']));
        assert.ok(s.ppl! > 1);
      }
      assert.deepEqual(run.results.metrics, ['perplexity', 'ratio:ref', 'zlib', 'lowercase', 'window']);
      const other = join(root, 'index-bytes');
      mkdirSync(other, { recursive: true });
      const plain = new BytesTokenizer();
      await buildIndex(DOCS.map((d) => ({ id: d.id, tokens: plain.encode(d.text) })), { out: join(other, 'ix'), tokenizer: plain, jobs: 1 });
      await assert.rejects(runAudit(opts({ out: join(root, 'local2'), target: { name: 'tiny', lm }, corpusIndex: join(other, 'ix'), samples: 2, tokens: 8 })), /built with tokenizer "bytes".*queried with "bytes\+eot"/);
    } finally {
      await lm.close();
      await ref.close();
    }
  });
});
