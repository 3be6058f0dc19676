// Corpus-index benchmark: build throughput, peak memory, index size, `count` and `trace` latency, against a naive
// indexOf scan, on a synthetic Zipfian corpus and on spam-assassin with the GPT-2 tokenizer.
//
//   node --import tsx bench/corpus-index.ts [--tokens 100000000] [--vocab 50257] [--zipf 1.0] [--jobs 2]
//        [--shard-tokens N] [--queries 2000] [--traces 100] [--naive-queries 20] [--skip-synthetic] [--skip-spam]
//        [--dir DIR] [--keep] [--json]
//
// Results are printed as a table and, with --json, as one JSON object.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIndex, CorpusIndex, NaiveCorpus, naiveTextCount, type TokenizedDocument } from '../src/corpus/index.js';
import { loadCorpus } from '../src/data/corpora.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { mulberry32 as rng } from '../src/nn/init.js';

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? 'true' : v;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

/** Walker alias table for a Zipf(s) distribution over 0..V-1. */
function zipfSampler(V: number, s: number, r: () => number): () => number {
  const p = new Float64Array(V);
  let z = 0;
  for (let i = 0; i < V; i++) z += p[i] = 1 / Math.pow(i + 1, s);
  const prob = new Float64Array(V);
  const alias = new Int32Array(V);
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < V; i++) {
    prob[i] = (p[i]! / z) * V;
    (prob[i]! < 1 ? small : large).push(i);
  }
  while (small.length && large.length) {
    const l = small.pop()!;
    const g = large.pop()!;
    alias[l] = g;
    prob[g] = prob[g]! + prob[l]! - 1;
    (prob[g]! < 1 ? small : large).push(g);
  }
  for (const i of [...small, ...large]) prob[i] = 1;
  return () => {
    const i = Math.floor(r() * V);
    return r() < prob[i]! ? i : alias[i]!;
  };
}

interface Synthetic {
  tokens: Uint16Array;
  docStarts: Uint32Array;
}

/** Zipfian tokens in documents of ~1000 tokens; 5% of documents also carry a copy of an earlier passage. */
function synthetic(N: number, V: number, s: number): Synthetic {
  const r = rng(42);
  const z = zipfSampler(V, s, r);
  const tokens = new Uint16Array(N);
  for (let i = 0; i < N; i++) tokens[i] = z();
  const starts: number[] = [0];
  let pos = 0;
  while (pos < N) {
    const len = Math.min(N - pos, 50 + Math.floor(-Math.log(1 - r()) * 950));
    if (r() < 0.05 && pos > 10_000 && len > 600) {
      const copyLen = 64 + Math.floor(r() * 448);
      const from = Math.floor(r() * (pos - copyLen));
      const at = pos + Math.floor(r() * (len - copyLen));
      tokens.copyWithin(at, from, from + copyLen);
    }
    pos += len;
    starts.push(pos);
  }
  return { tokens, docStarts: Uint32Array.from(starts) };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function ms(t: number): number {
  return +t.toFixed(3);
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((a, e) => a + (statSync(join(dir, e)).isFile() ? statSync(join(dir, e)).size : 0), 0);
}

/** Read every index file once so the OS page cache is warm. */
function warm(dir: string): void {
  for (const e of readdirSync(dir)) if (/^shard-/.test(e)) readFileSync(join(dir, e));
}

interface QuerySet {
  counts: number[][];
  traces: number[][];
}

function sampleQueries(docs: { tokens: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> } }[], nCount: number, nTrace: number, V: number, seed: number): QuerySet {
  const r = rng(seed);
  const pick = (len: number) => {
    for (;;) {
      const d = docs[Math.floor(r() * docs.length)]!.tokens;
      if (d.length < len) continue;
      const a = Math.floor(r() * (d.length - len + 1));
      return Array.from(d.subarray(a, a + len));
    }
  };
  const counts: number[][] = [];
  for (let i = 0; i < nCount; i++) counts.push(pick(1 + Math.floor(r() * 50)));
  const traces: number[][] = [];
  for (let i = 0; i < nTrace; i++) {
    // 256 tokens: pieces of corpus text (16..96 tokens) separated by a few random tokens.
    const t: number[] = [];
    while (t.length < 256) {
      t.push(...pick(16 + Math.floor(r() * 80)));
      for (let k = Math.floor(r() * 4); k > 0; k--) t.push(Math.floor(r() * V));
    }
    traces.push(t.slice(0, 256));
  }
  return { counts, traces };
}

interface QueryStats {
  countP50: number;
  countP99: number;
  countMean: number;
  countByLength: Record<string, { p50: number; p99: number }>;
  traceP50: number;
  traceP99: number;
  naiveP50: number;
  naiveMean: number;
  naiveQueries: number;
  speedup: number;
}

function timeQueries(idx: CorpusIndex, qs: QuerySet, naive: (q: number[]) => { count: number; docs: number }, nNaive: number): QueryStats {
  // Warm-up pass (page cache and JIT), then the timed pass.
  for (const q of qs.counts.slice(0, 200)) idx.count(q);
  const times: number[] = [];
  const byLen: Record<string, number[]> = { '1': [], '2-5': [], '6-20': [], '21-50': [] };
  const results: { count: number; docs: number }[] = [];
  for (const q of qs.counts) {
    const t0 = performance.now();
    results.push(idx.count(q));
    const dt = performance.now() - t0;
    times.push(dt);
    const L = q.length;
    byLen[L === 1 ? '1' : L <= 5 ? '2-5' : L <= 20 ? '6-20' : '21-50']!.push(dt);
  }
  const tt: number[] = [];
  for (const t of qs.traces.slice(0, 5)) idx.trace(t, { minTokens: 10 });
  for (const t of qs.traces) {
    const t0 = performance.now();
    idx.trace(t, { minTokens: 10 });
    tt.push(performance.now() - t0);
  }
  // Naive baseline on the first queries; the answers must agree.
  const nt: number[] = [];
  for (let i = 0; i < Math.min(nNaive, qs.counts.length); i++) {
    const t0 = performance.now();
    const want = naive(qs.counts[i]!);
    nt.push(performance.now() - t0);
    if (want.count !== results[i]!.count || want.docs !== results[i]!.docs) {
      throw new Error(`index and naive scan disagree on query ${i}: ${JSON.stringify(results[i])} vs ${JSON.stringify(want)}`);
    }
  }
  const countByLength: QueryStats['countByLength'] = {};
  for (const [k, v] of Object.entries(byLen)) if (v.length) countByLength[k] = { p50: ms(pct(v, 50)), p99: ms(pct(v, 99)) };
  const naiveP50 = pct(nt, 50);
  return {
    countP50: ms(pct(times, 50)),
    countP99: ms(pct(times, 99)),
    countMean: ms(times.reduce((a, b) => a + b, 0) / times.length),
    countByLength,
    traceP50: ms(pct(tt, 50)),
    traceP99: ms(pct(tt, 99)),
    naiveP50: ms(naiveP50),
    naiveMean: ms(nt.reduce((a, b) => a + b, 0) / nt.length),
    naiveQueries: nt.length,
    speedup: Math.round(naiveP50 / pct(times, 50)),
  };
}

const rssMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);

async function main() {
  const N = Number(arg('tokens', '100000000'));
  const V = Number(arg('vocab', '50257'));
  const zs = Number(arg('zipf', '1.0'));
  const jobs = Number(arg('jobs', '2'));
  const shardTokens = arg('shard-tokens') ? Number(arg('shard-tokens')) : undefined;
  const nQueries = Number(arg('queries', '2000'));
  const nTraces = Number(arg('traces', '100'));
  const nNaive = Number(arg('naive-queries', '20'));
  const base = arg('dir') ?? mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const out: Record<string, unknown> = { node: process.version, jobs, cpus: (await import('node:os')).availableParallelism() };
  try {
    if (!flag('skip-synthetic')) {
      const tg = performance.now();
      const syn = synthetic(N, V, zs);
      const genSeconds = (performance.now() - tg) / 1000;
      const D = syn.docStarts.length - 1;
      const docs = function* (): Generator<TokenizedDocument> {
        for (let d = 0; d < D; d++) yield { id: `syn-${d}`, tokens: syn.tokens.subarray(syn.docStarts[d]!, syn.docStarts[d + 1]!) };
      };
      const rssBefore = rssMiB();
      const dir = join(base, 'synthetic');
      const rep = await buildIndex(docs(), { out: dir, tokenizer: { id: `synthetic:zipf-${zs}-${V}`, vocabSize: V }, jobs, maxShardTokens: shardTokens, force: true });
      const peak = rssMiB();
      const bytes = dirBytes(dir);
      warm(dir);
      const idx = CorpusIndex.open(dir, { verify: 'quick' });
      const docArr = Array.from({ length: D }, (_, d) => ({ id: `syn-${d}`, tokens: syn.tokens.subarray(syn.docStarts[d]!, syn.docStarts[d + 1]!) }));
      const naive = new NaiveCorpus(docArr);
      const qs = sampleQueries(docArr, nQueries, nTraces, V, 7);
      const stats = timeQueries(idx, qs, (q) => naive.count(q), nNaive);
      idx.close();
      out.synthetic = {
        tokens: N,
        docs: D,
        vocab: V,
        zipf: zs,
        shards: rep.manifest.shards.length,
        generateSeconds: +genSeconds.toFixed(2),
        buildSeconds: +rep.seconds.toFixed(2),
        spoolSeconds: +rep.spoolSeconds.toFixed(2),
        shardSeconds: +rep.shardSeconds.toFixed(2),
        saSeconds: rep.shardResults.map((r) => +r.saSeconds.toFixed(2)),
        buildTokensPerSecond: Math.round(N / rep.seconds),
        peakRssMiB: peak,
        rssBeforeBuildMiB: rssBefore,
        indexBytes: bytes,
        bytesPerToken: +(bytes / N).toFixed(4),
        ...stats,
      };
      console.error(JSON.stringify(out.synthetic));
      if (!flag('keep')) rmSync(dir, { recursive: true, force: true });
    }
    if (!flag('skip-spam')) {
      const tok = loadTokenizer('gpt2');
      const corpus = loadCorpus('spam-assassin');
      const tt = performance.now();
      const docs = corpus.documents.map((d) => ({ id: d.id, tokens: Uint16Array.from(tok.encode(d.text, { allowedSpecial: 'none' })) }));
      const tokenizeSeconds = (performance.now() - tt) / 1000;
      const T = docs.reduce((a, d) => a + d.tokens.length, 0);
      const dir = join(base, 'spam');
      const rep = await buildIndex(docs, { out: dir, tokenizer: tok, jobs, maxShardTokens: shardTokens, force: true, corpus: 'spam-assassin' });
      const peak = rssMiB();
      const bytes = dirBytes(dir);
      warm(dir);
      const idx = CorpusIndex.open(dir, { tokenizer: tok, verify: 'quick' });
      const naive = new NaiveCorpus(docs);
      const qs = sampleQueries(docs, nQueries, nTraces, tok.vocabSize, 11);
      const stats = timeQueries(idx, qs, (q) => naive.count(q), nNaive);
      // Text-level naive baseline: String.indexOf over the e-mails for the decoded queries.
      const texts = corpus.documents.map((d) => d.text);
      const tq: number[] = [];
      for (const q of qs.counts.slice(0, nNaive)) {
        const s = tok.decode(q);
        const t0 = performance.now();
        naiveTextCount(texts, s);
        tq.push(performance.now() - t0);
      }
      idx.close();
      out.spamAssassin = {
        tokens: T,
        docs: docs.length,
        shards: rep.manifest.shards.length,
        tokenizeSeconds: +tokenizeSeconds.toFixed(2),
        tokenizeTokensPerSecond: Math.round(T / tokenizeSeconds),
        buildSeconds: +rep.seconds.toFixed(2),
        buildTokensPerSecond: Math.round(T / rep.seconds),
        endToEndTokensPerSecond: Math.round(T / (rep.seconds + tokenizeSeconds)),
        peakRssMiB: peak,
        indexBytes: bytes,
        bytesPerToken: +(bytes / T).toFixed(4),
        ...stats,
        naiveTextP50: ms(pct(tq, 50)),
      };
      console.error(JSON.stringify(out.spamAssassin));
      if (!flag('keep')) rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    if (!arg('dir') && !flag('keep')) rmSync(base, { recursive: true, force: true });
  }
  if (flag('json')) console.log(JSON.stringify(out));
  else {
    for (const [name, r] of Object.entries(out)) {
      if (typeof r !== 'object' || r === null) continue;
      console.log(`\n## ${name}`);
      for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(26)} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
    }
  }
}

await main();
