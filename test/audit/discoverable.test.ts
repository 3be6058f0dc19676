// Discoverable memorization (src/audit/discoverable.ts) on a synthetic corpus with blocks repeated 12, 5 and 2 times:
// CorpusIndex.documentLength / documentTokens / documentId, bucket assignment against brute-force counts,
// determinism with the seed, and rates from fake models that "memorize" exactly the sequences seen ≥ 4 times (one
// token-level, one remote through detokenize / generate); and a tiny random GPT (LocalLanguageModel) over a corpus
// holding some of its own greedy continuations.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildIndex, CorpusIndex } from '../../src/corpus/index.js';
import { discoverableMemorization, hasTokenGeneration, sampleTrainingSequences, type SampledSequences } from '../../src/audit/discoverable.js';
import type { Completion, GenerateRequestOptions, LanguageModel, TokenGenerateOptions, TokenGeneration } from '../../src/lm/language-model.js';
import { LocalLanguageModel } from '../../src/lm/language-model.js';
import { ident, randInt, rng, tempDir } from '../corpus/helpers.js';
import { makeTinyBytesModelDir } from '../server/tiny-model.js';

/** Corpus tokens are 0..61; 62 is the fake models' garbage token. */
const ALPHABET = 62;
const GARBAGE = 62;
const V = 64;

function makeDocs(): { id: string; tokens: number[] }[] {
  const r = rng(7);
  const rand = (n: number) => Array.from({ length: n }, () => randInt(r, ALPHABET));
  const docs: { id: string; tokens: number[] }[] = [];
  for (const [name, copies] of [['A', 12], ['B', 5], ['C', 2]] as const) {
    const block = rand(260);
    for (let c = 0; c < copies; c++) docs.push({ id: `${name}-${c}`, tokens: [...rand(5 + randInt(r, 25)), ...block, ...rand(5 + randInt(r, 25))] });
  }
  for (let d = 0; d < 20; d++) docs.push({ id: `u-${d}`, tokens: rand(250 + randInt(r, 100)) });
  docs.push({ id: 'short', tokens: rand(40) }); // too short for any L: never drawn
  // interleave so the repeated blocks are spread over shards
  return docs.map((d, i) => ({ d, k: (i * 7919) % 97 })).sort((a, b) => a.k - b.k).map((x) => x.d);
}

/** Occurrences and distinct documents of `q` in `docs`, by brute force. */
function bruteCount(docs: { tokens: number[] }[], q: number[]): { count: number; docs: number } {
  let count = 0;
  let nd = 0;
  for (const { tokens } of docs) {
    let here = 0;
    for (let i = 0; i + q.length <= tokens.length; i++) {
      let j = 0;
      while (j < q.length && tokens[i + j] === q[j]) j++;
      if (j === q.length) here++;
    }
    count += here;
    if (here) nd++;
  }
  return { count, docs: nd };
}

/** Greedy continuation of a fake model that memorized every sequence occurring ≥ 4 times; garbage otherwise. */
function memorizedContinuation(index: CorpusIndex, prompt: number[], n: number): number[] {
  const garbage = new Array<number>(n).fill(GARBAGE);
  const hit = index.locate(prompt, { limit: 1 }).hits[0];
  if (!hit) return garbage;
  const start = hit.offset + prompt.length;
  const len = Math.min(n, index.documentLength(hit.docIndex) - start);
  const cont = index.documentTokens(hit.docIndex, start, len);
  return len === n && index.count([...prompt, ...cont]).count >= 4 ? cont : garbage;
}

class FakeModel implements LanguageModel {
  calls = 0;
  constructor(
    readonly name: string,
    protected readonly index: CorpusIndex,
  ) {}
  async maxContext() {
    return 1024;
  }
  // text = one character per token
  async tokenize(text: string) {
    return [...text].map((c) => c.charCodeAt(0) - 0x100);
  }
  async detokenize(ids: number[]) {
    return ids.map((t) => String.fromCharCode(0x100 + t)).join('');
  }
  async loglikelihood(): Promise<never> {
    throw new Error('unused');
  }
  async loglikelihoodRolling(): Promise<never> {
    throw new Error('unused');
  }
  async score(): Promise<never> {
    throw new Error('unused');
  }
  async generate(prompts: string[], o: GenerateRequestOptions): Promise<Completion[][]> {
    assert.equal(o.temperature, 0);
    this.calls++;
    const out: Completion[][] = [];
    for (const p of prompts) out.push([{ text: await this.detokenize(memorizedContinuation(this.index, await this.tokenize(p), o.maxTokens)), finishReason: 'length' }]);
    return out;
  }
  async close() {}
}

class FakeLocalModel extends FakeModel {
  batches: number[] = [];
  override async generate(): Promise<never> {
    throw new Error('a token-level model must be driven through generateTokens');
  }
  async generateTokens(prompts: number[][], o: TokenGenerateOptions): Promise<{ rows: TokenGeneration[]; warnings: string[] }> {
    assert.equal(o.temperature, 0);
    this.batches.push(prompts.length);
    return { rows: prompts.map((p) => ({ tokens: memorizedContinuation(this.index, p, o.maxTokens), text: '', finishReason: 'length' as const })), warnings: [] };
  }
}

describe('discoverable memorization', () => {
  const docs = makeDocs();
  let tmp: { dir: string; cleanup: () => void };
  let index: CorpusIndex;
  let sample: SampledSequences;

  before(async () => {
    tmp = tempDir('tessera-discoverable-');
    await buildIndex(docs, { out: `${tmp.dir}/idx`, tokenizer: ident(V), jobs: 1, maxShardTokens: 2000 });
    index = CorpusIndex.open(`${tmp.dir}/idx`);
    sample = sampleTrainingSequences(index, { lengths: [100, 150, 200], perBucket: 6, uniform: 20, seed: 3 });
  });
  after(() => {
    index.close();
    tmp.cleanup();
  });

  it('documentLength / documentTokens / documentId across shards; RangeError out of range', () => {
    assert.ok(index.shardCount >= 3, `${index.shardCount} shards`);
    assert.equal(index.totalDocs, docs.length);
    docs.forEach((d, i) => {
      assert.equal(index.documentLength(i), d.tokens.length);
      assert.equal(index.documentId(i), d.id);
      assert.deepEqual(index.documentTokens(i, 0, d.tokens.length), d.tokens);
      assert.deepEqual(index.documentTokens(i, 3, 10), d.tokens.slice(3, 13));
    });
    assert.deepEqual(index.documentTokens(0, docs[0]!.tokens.length, 0), []);
    assert.throws(() => index.documentLength(docs.length), RangeError);
    assert.throws(() => index.documentLength(-1), RangeError);
    assert.throws(() => index.documentId(1.5), RangeError);
    assert.throws(() => index.documentTokens(0, docs[0]!.tokens.length - 5, 6), RangeError);
    assert.throws(() => index.documentTokens(0, -1, 2), RangeError);
  });

  it('sequences come from the corpus; counts equal brute force; buckets hold their counts; content distinct', () => {
    assert.deepEqual(sample.lengths, [100, 150, 200]);
    const seen = new Set<string>();
    for (const s of [...sample.sequences, ...sample.uniform]) {
      assert.equal(s.tokens.length, 200);
      const d = docs[s.docIndex]!;
      assert.equal(s.doc, d.id);
      assert.notEqual(d.id, 'short');
      assert.deepEqual(s.tokens, d.tokens.slice(s.offset, s.offset + 200));
      const bf = bruteCount(docs, s.tokens);
      assert.equal(s.count, bf.count);
      assert.equal(s.docs, bf.docs);
      const [lo, hi] = sample.buckets[s.bucket]!;
      assert.ok(s.count >= lo && s.count <= hi, `count ${s.count} in [${lo}, ${hi}]`);
    }
    for (const s of sample.sequences) {
      const k = s.tokens.join(',');
      assert.ok(!seen.has(k), 'stratified sequences are distinct');
      seen.add(k);
    }
    // the corpus has counts 1, 2, 5 and 12 only
    assert.deepEqual(sample.bucketFill, [6, 6, 6, 6, 0, 0]);
    assert.equal(sample.sequences.length, 24);
    assert.equal(sample.uniform.length, 20);
    assert.ok(sample.drawn <= sample.population);
    // buckets in order
    const b = sample.sequences.map((s) => s.bucket);
    assert.deepEqual(b, [...b].sort((x, y) => x - y));
  });

  it('deterministic with the seed; another seed draws other positions', () => {
    const again = sampleTrainingSequences(index, { lengths: [100, 150, 200], perBucket: 6, uniform: 20, seed: 3 });
    assert.deepEqual(again, sample);
    const other = sampleTrainingSequences(index, { lengths: [100, 150, 200], perBucket: 6, uniform: 20, seed: 4 });
    assert.notDeepEqual(other.uniform.map((s) => [s.docIndex, s.offset]), sample.uniform.map((s) => [s.docIndex, s.offset]));
  });

  it('lengths are clipped to the longest document; maxDraws bounds the draws; bad options throw', () => {
    const s = sampleTrainingSequences(index, { lengths: [100, 400, 500], perBucket: 2, seed: 1 });
    assert.deepEqual(s.lengths, [100]);
    assert.equal(s.sequences[0]!.tokens.length, 100);
    const t = sampleTrainingSequences(index, { lengths: [1000], perBucket: 2, seed: 1 });
    assert.deepEqual(t.lengths, [Math.max(...docs.map((d) => d.tokens.length))]);
    const m = sampleTrainingSequences(index, { perBucket: 1000, maxDraws: 30, seed: 1 });
    assert.equal(m.drawn, 30);
    assert.throws(() => sampleTrainingSequences(index, { lengths: [40] }), RangeError);
    assert.throws(() => sampleTrainingSequences(index, { perBucket: -1 }), RangeError);
  });

  it('token-level model: rate 1 in the buckets with count ≥ 4, 0 below; batches of `batch`; progress', async () => {
    const lm = new FakeLocalModel('local', index);
    assert.ok(hasTokenGeneration(lm));
    const progress: number[] = [];
    const res = await discoverableMemorization([{ name: 'local', model: lm }], sample, { batch: 5, onProgress: (p) => progress.push(p.done) });
    assert.ok(lm.batches.every((n) => n <= 5));
    assert.ok(progress.length > 0);
    assert.deepEqual(res.skipped, []);
    assert.equal(res.rows.length, 3 * 4); // 3 lengths × 4 non-empty buckets
    for (const r of res.rows) {
      assert.equal(r.model, 'local');
      assert.equal(r.sequences, 6);
      assert.equal(r.rate, r.extracted / r.sequences);
      if (r.dup_lo >= 4) assert.equal(r.rate, 1, `L ${r.length} [${r.dup_lo}, ${r.dup_hi}]`);
      // at L = Lmax the whole sequence has the bucket's count; a shorter L's window can occur more often
      else if (r.length === 200) assert.equal(r.rate, 0, `L ${r.length} [${r.dup_lo}, ${r.dup_hi}]`);
    }
    assert.equal(res.uniformRows.length, 3);
    const want = sample.uniform.filter((s) => s.count >= 4).length;
    assert.ok(want > 0 && want < 20, `${want} of the uniform set occur ≥ 4 times`);
    const u200 = res.uniformRows.find((r) => r.length === 200)!;
    assert.deepEqual([u200.dup_lo, u200.dup_hi, u200.sequences, u200.extracted], [1, Infinity, 20, want]);
  });

  it('remote model (no generateTokens) through detokenize / generate gives the same rows', async () => {
    const remote = new FakeModel('remote', index);
    assert.ok(!hasTokenGeneration(remote));
    const local = new FakeLocalModel('local', index);
    const res = await discoverableMemorization(
      [
        { name: 'remote', model: remote },
        { name: 'local', model: local },
      ],
      sample,
      { batch: 16 },
    );
    assert.ok(remote.calls > 0);
    const strip = (rows: typeof res.rows) => rows.map(({ model: _m, ...r }) => r);
    assert.deepEqual(strip(res.rows.filter((r) => r.model === 'remote')), strip(res.rows.filter((r) => r.model === 'local')));
    assert.deepEqual(strip(res.uniformRows.filter((r) => r.model === 'remote')), strip(res.uniformRows.filter((r) => r.model === 'local')));
  });

  it('plain sequence arrays; L beyond the context is skipped; L longer than the sequences throws', async () => {
    const lm = new FakeLocalModel('local', index);
    lm.maxContext = async () => 160;
    const res = await discoverableMemorization([{ name: 'local', model: lm }], sample.sequences, { lengths: [100, 200] });
    assert.deepEqual(res.uniformRows, []);
    assert.equal(res.skipped.length, 1);
    assert.match(res.skipped[0]!, /L = 200/);
    assert.ok(res.rows.every((r) => r.length === 100));
    await assert.rejects(discoverableMemorization([{ name: 'local', model: lm }], sample.sequences, { lengths: [300] }), RangeError);
  });
});

describe('discoverable memorization with a LocalLanguageModel', () => {
  let tmp: { dir: string; cleanup: () => void };
  let lm: LocalLanguageModel;
  before(() => {
    tmp = tempDir('tessera-discoverable-lm-');
    lm = LocalLanguageModel.load(makeTinyBytesModelDir(), { name: 'tiny' });
  });
  after(async () => {
    await lm.close();
    tmp.cleanup();
  });

  it("documents made of a prompt and the model's own greedy continuation are extracted, random ones are not", async () => {
    // 24-token documents (blockSize 32): 16 prompt tokens + 8 suffix tokens; "memorized" ones repeated 4 times
    const r = rng(5);
    const docs: { id: string; tokens: number[] }[] = [];
    const memorized = new Set<string>();
    for (let k = 0; memorized.size < 4 && k < 50; k++) {
      const prompt = Array.from({ length: 16 }, () => 97 + randInt(r, 26));
      const cont = (await lm.generateTokens([prompt], { maxTokens: 8, temperature: 0 })).rows[0]!.tokens;
      if (cont.length !== 8 || cont.some((t) => t > 255)) continue; // stopped at end-of-text
      const tokens = [...prompt, ...cont];
      memorized.add(tokens.join(','));
      for (let c = 0; c < 4; c++) docs.push({ id: `m${k}-${c}`, tokens });
    }
    assert.equal(memorized.size, 4);
    for (let d = 0; d < 8; d++) docs.push({ id: `u${d}`, tokens: Array.from({ length: 24 }, () => 97 + randInt(r, 26)) });
    await buildIndex(docs, { out: `${tmp.dir}/idx`, tokenizer: ident(257), jobs: 1 });
    const index = CorpusIndex.open(`${tmp.dir}/idx`);
    try {
      const sample = sampleTrainingSequences(index, { lengths: [24], suffix: 8, perBucket: 10, uniform: 0, seed: 2 });
      assert.deepEqual(sample.lengths, [24]);
      assert.equal(sample.bucketFill[0], 8); // the random documents
      assert.equal(sample.bucketFill[2], 4); // the memorized ones, once each
      const res = await discoverableMemorization([{ name: 'tiny', model: lm }], sample, { batch: 3 });
      const row = (lo: number) => res.rows.find((x) => x.dup_lo === lo)!;
      assert.deepEqual([row(4).sequences, row(4).extracted], [4, 4]);
      assert.deepEqual([row(1).sequences, row(1).extracted], [8, 0]);
    } finally {
      index.close();
    }
  });
});
