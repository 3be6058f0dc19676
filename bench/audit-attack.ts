// The whole extraction attack against a PyTorch 2.13 peer, and verification throughput (issue: audit benchmarks).
//
//   node --import tsx bench/audit-attack.ts [attack,verify] [--rounds 2] [--samples 32] [--batch 32] [--tokens 256]
//       [--shapes gpt2-small,demo] [--python /work/venv/bin/python] [--out DIR] [--max-others 0.3] [--wait-s 900]
//
// attack: tessera's `audit run` pipeline (src/audit/run.ts: top-n generation from end-of-text, the six metrics
//   under target + reference + lowercase, exact verification against the spam-assassin index, SQLite state, output
//   files) vs bench/pytorch_attack.py (transformers GPT2LMHeadModel.generate(top_k=40) and per-sample
//   perplexities under target, reference and the lowercased sample, as ftramer/LM_Memorization's extraction.py;
//   the peer does no verification). Random weights (GPT-2 init), same shapes, same sample counts; alternating
//   order per round, each run after the machine is quiet; samples/hour, best and median.
//   Shapes: gpt2-small = target 12L/12H/768, reference 6L/12H/768 (distilgpt2's shape), GPT-2 vocabulary, block
//   1024, index over all 6,046 spam-assassin e-mails (GPT-2 BPE); demo = the audit demo's target 4L/4H/128 and
//   reference 2L/4H/64 with its 1,024-token BPE and 256-token block (240-token samples), index over its 200 training e-mails.
// verify: samples/s of M = 50-token verification (longest match, sources, spans) against the spam-assassin index,
//   on 256-token texts half of which are e-mail passages (memorized: the full work) and half Moby-Dick (not).

import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runQuietJson, waitQuiet } from './machine.js';
import { median } from './stats.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};
const outDir = opt('out', join(tmpdir(), 'tessera-audit-bench'));
mkdirSync(outDir, { recursive: true });

interface Shape {
  name: string;
  layers: number;
  heads: number;
  embd: number;
  refLayers: number;
  refHeads: number;
  refEmbd: number;
  block: number;
  tokens: number;
}
const SHAPES: Record<string, Shape> = {
  'gpt2-small': { name: 'gpt2-small', layers: 12, heads: 12, embd: 768, refLayers: 6, refHeads: 12, refEmbd: 768, block: 1024, tokens: 256 },
  demo: { name: 'demo', layers: 4, heads: 4, embd: 128, refLayers: 2, refHeads: 4, refEmbd: 64, block: 256, tokens: 240 },
};

/** The index and tokenizer a shape verifies against (built once into outDir). */
async function prepare(shape: Shape): Promise<{ index: string; tokenizer: string; vocab: number }> {
  const { loadCorpus } = await import('../src/data/corpora.js');
  const { buildIndex } = await import('../src/corpus/index.js');
  const { loadTokenizer, trainBpe } = await import('../src/tokenizer/index.js');
  if (shape.name === 'gpt2-small') {
    const index = join(outDir, 'index-sa-gpt2');
    if (!existsSync(join(index, 'index.json'))) {
      const tok = loadTokenizer('gpt2');
      const docs = loadCorpus('spam-assassin').documents;
      await buildIndex(docs.map((d) => ({ id: d.id, tokens: tok.encode(d.text, { allowedSpecial: 'none' }) })), { out: index, tokenizer: tok, force: true });
    }
    return { index, tokenizer: 'gpt2', vocab: 50257 };
  }
  const { AUDIT_DEMO } = await import('../src/audit/demo.js');
  const tokDir = join(outDir, 'demo-tokenizer');
  const index = join(outDir, 'index-demo');
  const docs = loadCorpus('spam-assassin').documents.slice(0, AUDIT_DEMO.trainMails);
  if (!existsSync(join(index, 'index.json'))) {
    const tok = trainBpe(docs.map((d) => d.text), AUDIT_DEMO.vocab);
    mkdirSync(tokDir, { recursive: true });
    tok.save(tokDir);
    await buildIndex(docs.map((d) => ({ id: d.id, tokens: tok.encode(d.text, { allowedSpecial: 'none' }) })), { out: index, tokenizer: loadTokenizer(tokDir), force: true, jobs: 1 });
  }
  return { index, tokenizer: tokDir, vocab: loadTokenizer(tokDir).vocabSize };
}

// ---- worker: one tessera attack run in this process -----------------------------------------------------------

async function worker(): Promise<void> {
  const shape = SHAPES[opt('shape', 'demo')]!;
  const samples = Number(opt('samples', '32'));
  const batch = Number(opt('batch', '32'));
  const { loadTokenizer } = await import('../src/tokenizer/index.js');
  const { GPT } = await import('../src/lm/model.js');
  const { resolveConfig } = await import('../src/lm/config.js');
  const { LocalLanguageModel } = await import('../src/lm/language-model.js');
  const { runAudit } = await import('../src/audit/run.js');
  const tok = loadTokenizer(opt('tokenizer', 'gpt2'));
  const mk = (L: number, H: number, C: number, seed: number) => new GPT(resolveConfig(undefined, { vocabSize: tok.vocabSize, blockSize: shape.block, nLayer: L, nHead: H, nEmbd: C, dropout: 0 })).initialize(seed);
  const target = new LocalLanguageModel(mk(shape.layers, shape.heads, shape.embd, 1), tok, { name: 'target', maxBatch: batch, scoreBatch: Number(opt('score-batch', '16')) });
  const reference = new LocalLanguageModel(mk(shape.refLayers, shape.refHeads, shape.refEmbd, 2), tok, { name: 'reference', maxBatch: batch, scoreBatch: Number(opt('score-batch', '16')) });
  const out = join(outDir, `run-${shape.name}-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const run = await runAudit({
    target: { name: 'target', lm: target },
    references: [{ name: 'reference', lm: reference }],
    corpusIndex: opt('index', ''),
    indexTokenizer: tok,
    strategies: ['top-n'],
    samples,
    tokens: shape.tokens,
    promptCorpus: 'sotu',
    minTokens: 50,
    top: 100,
    out,
    resume: false,
    batch,
    seed: Number(opt('seed', '1')),
    targetLogprobs: true,
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const t = run.results.timings;
  console.log(
    JSON.stringify({
      engine: 'tessera',
      shape: shape.name,
      samples: run.samples.length,
      tokens: shape.tokens,
      mean_sample_tokens: run.samples.reduce((a, s) => a + s.tokens.length, 0) / run.samples.length,
      seconds,
      samples_per_hour: (run.samples.length / seconds) * 3600,
      gen_s: t.generate,
      score_s: t.score,
      verify_s: t.verify,
      cpu_s: (cpu.user + cpu.system) / 1e6,
      threads: process.env.TESSERA_THREADS ?? 'default',
      cpu: cpus()[0]?.model,
    }),
  );
  await target.close();
  await reference.close();
  rmSync(out, { recursive: true, force: true });
}

// ---- verify: samples/s against the spam-assassin index --------------------------------------------------------

async function verifyBench(): Promise<Record<string, unknown>> {
  const { index } = await prepare(SHAPES['gpt2-small']!);
  const { loadCorpus } = await import('../src/data/corpora.js');
  const { CorpusIndex } = await import('../src/corpus/index.js');
  const { loadTokenizer } = await import('../src/tokenizer/index.js');
  const { verifySample } = await import('../src/audit/verify.js');
  const { prng } = await import('../src/audit/generate.js');
  const tok = loadTokenizer('gpt2');
  const ix = CorpusIndex.open(index, { tokenizer: tok });
  const rand = prng(5);
  const n = Number(opt('verify-n', '200'));
  const mails = loadCorpus('spam-assassin').documents.map((d) => tok.encode(d.text, { allowedSpecial: 'none' })).filter((t) => t.length > 300);
  const moby = tok.encode(loadCorpus('moby-dick').documents.map((d) => d.text).join('\n'), { allowedSpecial: 'none' });
  const texts: number[][] = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      const m = mails[Math.floor(rand() * mails.length)]!;
      const at = Math.floor(rand() * (m.length - 256));
      texts.push(m.slice(at, at + 256));
    } else {
      const at = Math.floor(rand() * (moby.length - 256));
      texts.push(moby.slice(at, at + 256));
    }
  }
  await waitQuiet({ maxOthers: Number(opt('max-others', '0.3')), maxLoad: Number(opt('max-load', '0.7')), waitS: Number(opt('wait-s', '900')) });
  const rounds: number[] = [];
  let memorized = 0;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    memorized = 0;
    for (const t of texts) if (verifySample(ix, t, { minTokens: 50 }).memorized) memorized++;
    rounds.push(texts.length / ((performance.now() - t0) / 1000));
  }
  ix.close();
  return { kind: 'verify', index: 'spam-assassin GPT-2 (13.57M tokens)', texts: n, tokens: 256, memorized, samples_per_s_best: Math.max(...rounds), samples_per_s_median: median(rounds), runs: rounds, cpu: cpus()[0]?.model };
}

// ---- driver ----------------------------------------------------------------------------------------------------

async function runJson(cmd: string, args: string[]): Promise<Record<string, unknown>> {
  return runQuietJson(cmd, args, {
    cwd: root,
    maxOthers: Number(opt('max-others', '0.3')),
    maxLoad: Number(opt('max-load', '0.7')),
    waitS: Number(opt('wait-s', '900')),
    describe: (j) => `${Number(j.samples_per_hour).toFixed(0)} samples/h (${Number(j.seconds).toFixed(1)} s)`,
  });
}

async function attackBench(): Promise<Record<string, unknown>[]> {
  const python = opt('python', process.env.TESSERA_PEER_PYTHON ?? '/work/venv/bin/python');
  const rounds = Number(opt('rounds', '2'));
  const samples = opt('samples', '32');
  const batch = opt('batch', '32');
  const out: Record<string, unknown>[] = [];
  for (const name of opt('shapes', 'demo,gpt2-small').split(',')) {
    const shape = SHAPES[name]!;
    const prep = await prepare(shape);
    const ours = ['--import', 'tsx', 'bench/audit-attack.ts', '--worker', '--shape', name, '--samples', samples, '--batch', batch, '--index', prep.index, '--tokenizer', prep.tokenizer, '--out', outDir];
    const peer = (scoreBatch: string) => [
      'bench/pytorch_attack.py',
      ...['--layers', shape.layers, '--heads', shape.heads, '--embd', shape.embd, '--ref-layers', shape.refLayers, '--ref-heads', shape.refHeads, '--ref-embd', shape.refEmbd].map(String),
      ...['--block', String(shape.block), '--vocab', String(prep.vocab), '--samples', samples, '--batch', batch, '--tokens', String(shape.tokens), '--score-batch', scoreBatch],
    ];
    const res = { tessera: [] as Record<string, unknown>[], repo: [] as Record<string, unknown>[], batched: [] as Record<string, unknown>[] };
    process.stderr.write(`${name}: ${samples} samples of ${shape.tokens} tokens, batch ${batch}\n`);
    for (let r = 0; r < rounds; r++) {
      const steps: (() => Promise<void>)[] = [
        async () => void res.tessera.push(await runJson(process.execPath, ours)),
        async () => void res.repo.push(await runJson(python, peer('1'))),
        async () => void res.batched.push(await runJson(python, peer('16'))),
      ];
      for (const s of r % 2 === 0 ? steps : [...steps].reverse()) await s();
    }
    const sph = (js: Record<string, unknown>[]) => js.map((j) => j.samples_per_hour as number);
    const row = {
      kind: 'attack',
      shape: name,
      samples: Number(samples),
      tokens: shape.tokens,
      tessera_best: Math.max(...sph(res.tessera)),
      tessera_median: median(sph(res.tessera)),
      pytorch_repo_best: Math.max(...sph(res.repo)),
      pytorch_batched_best: Math.max(...sph(res.batched)),
      ratio_vs_repo_best: Math.max(...sph(res.tessera)) / Math.max(...sph(res.repo)),
      ratio_vs_batched_best: Math.max(...sph(res.tessera)) / Math.max(...sph(res.batched)),
      ratio_vs_repo_median: median(sph(res.tessera)) / median(sph(res.repo)),
      runs: res,
      cpu: cpus()[0]?.model,
      torch: res.repo[0]?.torch,
    };
    console.log(JSON.stringify(row));
    out.push(row);
  }
  return out;
}

if (argv.includes('--worker')) await worker();
else {
  const kinds = (argv[0] && !argv[0].startsWith('--') ? argv[0] : 'attack,verify').split(',');
  process.stderr.write(`cpu: ${cpus()[0]?.model} × ${cpus().length}; out ${outDir}\n`);
  if (kinds.includes('verify')) console.log(JSON.stringify(await verifyBench()));
  if (kinds.includes('attack')) await attackBench();
}
