// Runtime benchmarks against PyTorch, run alternately on the same machine: top-k sampling with a KV cache (decode),
// few-shot multiple-choice scoring (score) and beam search (beam). Each pair runs `rounds` times, the order of the two
// engines alternating per round; before every run the driver waits for a quiet machine, and after every run it
// computes how busy the other processes were while it ran (CPU time of the whole machine minus the run's own CPU
// time, from /proc/stat and the run's `cpu_s`); a run during which others used more than --max-others cores is
// repeated (up to --retries times). Prints one JSON line per pair and a Markdown table per kind.
//
//   node --import tsx bench/runtime-compare.ts [decode,score,beam] [--rounds 3] [--rounds-large 2] \
//       [--python /work/venv/bin/python] [--max-load 0.7] [--max-others 0.3] [--wait-s 900] [--out DIR]
//       [--decode-small "1,8,32,64"] [--decode-large "1,8,32"] [--tokens 256] [--top-k 40]
//       [--score-small-n 64] [--score-large-n 16] [--score-batches 32] [--beam-tokens 64] [--only small|large]
//       [--rounds-decode N] [--rounds-decode-large N] [--rounds-score N] [--rounds-score-large N] [--rounds-beam N]
//
// "small" is the 4-layer 256-wide model with the GPT-2 vocabulary (block 1024); "large" is the GPT-2 small shape.
// The peer Python is --python, else $TESSERA_PEER_PYTHON, else python3 (it needs torch; score/beam also transformers
// and safetensors). tessera runs through its launcher (bin/tessera.js). Both use 2 threads unless
// TESSERA_THREADS / --threads say otherwise.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuJiffies, HZ, waitQuiet as waitQuietFor } from './machine.js';
import { median } from './stats.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const kinds = (argv[0] && !argv[0].startsWith('--') ? argv[0] : 'decode,score,beam').split(',');
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};
const rounds = Number(opt('rounds', '3'));
const roundsLarge = Number(opt('rounds-large', '2'));
const python = opt('python', process.env.TESSERA_PEER_PYTHON ?? 'python3');
const maxLoad = Number(opt('max-load', '0.7'));
const maxOthers = Number(opt('max-others', '0.3'));
const waitS = Number(opt('wait-s', '900'));
const retries = Number(opt('retries', '2'));
const threads = opt('threads', process.env.TESSERA_THREADS ?? '2');
const only = opt('only', '');
const outDir = opt('out', join(tmpdir(), 'tessera-runtime-compare'));
mkdirSync(outDir, { recursive: true });

type Json = Record<string, unknown>;

// ---- machine state: bench/machine.ts ------------------------------------------------------------------------

const waitQuiet = () => waitQuietFor({ maxOthers, maxLoad, waitS });

/** Run a benchmark process; returns its last JSON line plus how busy the other processes were meanwhile. */
async function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Json> {
  for (let attempt = 0; ; attempt++) {
    const quiet = await waitQuiet();
    const a = cpuJiffies();
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26, env });
    const wall = (performance.now() - t0) / 1000;
    const b = cpuJiffies();
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
    const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    if (!line) throw new Error(`${cmd} ${args.join(' ')} printed no JSON:\n${r.stdout}\n${r.stderr}`);
    const j = JSON.parse(line) as Json;
    const own = Number(j.cpu_s ?? 0);
    const others = Math.max(0, ((b.busy - a.busy) / HZ - own) / wall);
    j._machine = { load_before: quiet.load, busy_before: Number(quiet.busy.toFixed(2)), waited_s: Math.round(quiet.waited_s), others_cores: Number(others.toFixed(2)), wall_s: Number(wall.toFixed(1)), attempt };
    process.stderr.write(`  ${cmd.endsWith('tessera.js') ? 'tessera' : 'pytorch'} ${args.slice(0, 2).join(' ')} … → ${JSON.stringify(pick(j))} ${JSON.stringify(j._machine)}\n`);
    if (others <= maxOthers || attempt >= retries) {
      if (others > maxOthers) j._machine = { ...(j._machine as Json), noisy: true };
      return j;
    }
    process.stderr.write(`  others used ${others.toFixed(2)} cores during the run; repeating it\n`);
  }
}

function pick(j: Json): Json {
  const keys = ['tokens_per_s', 'questions_per_s', 'peak_rss_mb', 'seconds', 'warning'];
  return Object.fromEntries(keys.filter((k) => j[k] !== undefined).map((k) => [k, typeof j[k] === 'number' ? Number((j[k] as number).toFixed(2)) : j[k]]));
}

// ---- pairs ---------------------------------------------------------------------------------------------------

interface PairResult {
  label: Json;
  metric: string;
  tessera: Json[];
  pytorch: Json[];
}

const tesseraBin = join(root, 'bin/tessera.js');
const env = { ...process.env, TESSERA_THREADS: threads };

/** Alternate tessera and the peer for n rounds (tessera first in even rounds). `first` adds args to round 0 only. */
async function pair(label: Json, metric: string, n: number, ours: string[], peer: string[], first: { ours?: string[]; before?: () => void } = {}): Promise<PairResult> {
  const res: PairResult = { label, metric, tessera: [], pytorch: [] };
  process.stderr.write(`${JSON.stringify(label)}\n`);
  for (let r = 0; r < n; r++) {
    const runOurs = async () => res.tessera.push(await runJson(tesseraBin, r === 0 && first.ours ? [...ours, ...first.ours] : ours, env));
    const runPeer = async () => res.pytorch.push(await runJson(python, peer, env));
    if (r === 0) {
      await runOurs(); // writes the weights / requests the peer reads
      first.before?.();
      await runPeer();
    } else if (r % 2 === 0) {
      await runOurs();
      await runPeer();
    } else {
      await runPeer();
      await runOurs();
    }
  }
  return res;
}

function summarise(p: PairResult): Json {
  const a = p.tessera.map((j) => j[p.metric] as number);
  const b = p.pytorch.map((j) => j[p.metric] as number);
  const rss = (js: Json[]) => Math.max(...js.map((j) => j.peak_rss_mb as number));
  const s: Json = {
    ...p.label,
    metric: p.metric,
    tessera_best: Math.max(...a),
    tessera_median: median(a),
    pytorch_best: Math.max(...b),
    pytorch_median: median(b),
    ratio_best: Math.max(...a) / Math.max(...b),
    ratio_median: median(a) / median(b),
    tessera_peak_rss_mb: rss(p.tessera),
    pytorch_peak_rss_mb: rss(p.pytorch),
    runs: { tessera: a, pytorch: b },
    machine: { tessera: p.tessera.map((j) => j._machine), pytorch: p.pytorch.map((j) => j._machine) },
    cpu: p.tessera[0]?.cpu ?? cpus()[0]?.model,
    threads: { tessera: p.tessera[0]?.threads, pytorch: p.pytorch[0]?.threads },
    torch: p.pytorch[0]?.torch,
  };
  const warn = [...p.tessera, ...p.pytorch].map((j) => j.warning).filter(Boolean);
  if (warn.length) s.warnings = warn;
  return s;
}

const SMALL = { name: '4L/4H/256', layers: '4', heads: '4', embd: '256', block: '1024', vocab: '50257' };
const LARGE = { name: 'GPT-2 small 12L/12H/768', layers: '12', heads: '12', embd: '768', block: '1024', vocab: '50257' };
type Shape = typeof SMALL;
const shapeArgs = (s: Shape) => ['--layers', s.layers, '--heads', s.heads, '--embd', s.embd, '--block', s.block, '--vocab', s.vocab];
const shapes = (kind: string): [Shape, number][] =>
  ([
    [SMALL, Number(opt(`rounds-${kind}`, String(rounds)))],
    [LARGE, Number(opt(`rounds-${kind}-large`, String(roundsLarge)))],
  ] as [Shape, number][]).filter(([s]) => !only || (only === 'small' ? s === SMALL : s === LARGE));

const fmt = (x: unknown, d = 1) => (typeof x === 'number' ? x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '–');
const fmtX = (x: unknown) => (typeof x === 'number' ? `${x.toFixed(2)}×` : '–');
const tables: string[] = [];

async function decode() {
  const tokens = opt('tokens', '256');
  const k = opt('top-k', '40');
  const rows: string[] = [];
  for (const [s, n] of shapes('decode')) {
    const batches = opt(s === SMALL ? 'decode-small' : 'decode-large', s === SMALL ? '1,8,32,64' : '1,8,32').split(',');
    for (const b of batches) {
      const flags = [...shapeArgs(s), '--batch', b, '--tokens', tokens, '--top-k', k];
      const samples = opt('samples', '');
      if (samples) flags.push('--samples', samples);
      const p = await pair({ kind: 'decode', model: s.name, batch: Number(b), tokens: Number(tokens), top_k: Number(k) }, 'tokens_per_s', n, ['bench', 'decode', ...flags, '--json'], ['bench/pytorch_decode.py', ...flags, '--threads', threads]);
      const r = summarise(p);
      console.log(JSON.stringify(r));
      rows.push(`| ${s.name} | ${b} | ${fmt(r.tessera_best)} (${fmt(r.tessera_median)}) | ${fmt(r.pytorch_best)} (${fmt(r.pytorch_median)}) | **${fmtX(r.ratio_best)}** (${fmtX(r.ratio_median)}) | ${fmt(r.tessera_peak_rss_mb, 0)} | ${fmt(r.pytorch_peak_rss_mb, 0)} | ${p.tessera.length} |`);
    }
  }
  tables.push(`### Top-k sampling (k ${k}, ${tokens} new tokens, one start token per sequence), tokens/s: best (median)\n\n| model | batch | tessera | PyTorch | ratio best (median) | tessera peak RSS MB | PyTorch peak RSS MB | rounds |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}`);
}

function compareLls(a: Json, b: Json): number {
  const x = a.loglikelihoods as number[] | undefined;
  const y = b.loglikelihoods as number[] | undefined;
  if (!x || !y || x.length !== y.length) return NaN;
  return Math.max(...x.map((v, i) => Math.abs(v - y[i]!)));
}

async function score() {
  const rows: string[] = [];
  for (const [s, n] of shapes('score')) {
    const N = opt(s === SMALL ? 'score-small-n' : 'score-large-n', s === SMALL ? '64' : '16');
    const w = join(outDir, `score-${s.layers}L-${s.embd}.safetensors`);
    const req = join(outDir, `score-${s.layers}L-${s.embd}-${N}.json`);
    for (const b of opt('score-batches', '32').split(',')) {
      const flags = [...shapeArgs(s), '--batch', b];
      const p = await pair(
        { kind: 'score', model: s.name, questions: Number(N), batch: Number(b) },
        'questions_per_s',
        n,
        ['bench', 'score', ...flags, '--questions', N, '--dump-logprobs', '20', '--json'],
        ['bench/pytorch_score.py', ...flags, '--weights', w, '--requests', req, '--dump-logprobs', '20', '--threads', threads],
        { ours: existsSync(w) && existsSync(req) ? [] : ['--save-weights', w, '--dump-requests', req] },
      );
      const r = summarise(p);
      r.max_abs_loglikelihood_diff = compareLls(p.tessera[0]!, p.pytorch[0]!);
      r.tokens_computed = { tessera: p.tessera[0]!.tokens_computed, pytorch: p.pytorch[0]!.tokens_computed };
      console.log(JSON.stringify(r));
      rows.push(`| ${s.name} | ${N} | ${b} | ${fmt(r.tessera_best, 2)} (${fmt(r.tessera_median, 2)}) | ${fmt(r.pytorch_best, 2)} (${fmt(r.pytorch_median, 2)}) | **${fmtX(r.ratio_best)}** (${fmtX(r.ratio_median)}) | ${(r.max_abs_loglikelihood_diff as number).toExponential(1)} | ${fmt(r.tessera_peak_rss_mb, 0)} | ${fmt(r.pytorch_peak_rss_mb, 0)} | ${p.tessera.length} |`);
    }
  }
  tables.push(`### Few-shot scoring (400-token shared 5-shot block + ~20-token question + 4 choices of ~5 tokens), questions/s: best (median)\n\n| model | questions | batch | tessera | PyTorch (lm-eval HF style) | ratio best (median) | max abs Δ log-lik (first 20) | tessera peak RSS MB | PyTorch peak RSS MB | rounds |\n|---|---|---|---|---|---|---|---|---|---|\n${rows.join('\n')}`);
}

async function beam() {
  const tokens = opt('beam-tokens', '64');
  const W = opt('beams', '4');
  const rows: string[] = [];
  const shape = only === 'small' ? SMALL : LARGE;
  const n = Number(opt('rounds-beam', String(rounds)));
  const w = join(outDir, `beam-${shape.layers}L-${shape.embd}.safetensors`);
  const flags = [...shapeArgs(shape), '--beams', W, '--tokens', tokens, '--prompt', opt('beam-prompt', '32')];
  const p = await pair(
    { kind: 'beam', model: shape.name, beams: Number(W), tokens: Number(tokens) },
    'tokens_per_s',
    n,
    ['bench', 'beam', ...flags, '--json'],
    ['bench/pytorch_beam.py', ...flags, '--weights', w, '--threads', threads],
    { ours: existsSync(w) ? [] : ['--save-weights', w] },
  );
  const r = summarise(p);
  const same = JSON.stringify(p.tessera[0]!.best_tokens) === JSON.stringify(p.pytorch[0]!.best_tokens);
  r.same_best_hypothesis = same;
  console.log(JSON.stringify(r));
  rows.push(`| ${shape.name} | ${W} | ${tokens} | ${fmt(r.tessera_best, 1)} (${fmt(r.tessera_median, 1)}) | ${fmt(r.pytorch_best, 1)} (${fmt(r.pytorch_median, 1)}) | **${fmtX(r.ratio_best)}** (${fmtX(r.ratio_median)}) | ${same ? 'yes' : 'no'} | ${fmt(r.tessera_peak_rss_mb, 0)} | ${fmt(r.pytorch_peak_rss_mb, 0)} | ${p.tessera.length} |`);
  tables.push(`### Beam search, tokens/s of the returned hypothesis: best (median)\n\n| model | beams | new tokens | tessera | PyTorch (HF generate) | ratio best (median) | same best hypothesis | tessera peak RSS MB | PyTorch peak RSS MB | rounds |\n|---|---|---|---|---|---|---|---|---|---|\n${rows.join('\n')}`);
}

process.stderr.write(`cpu: ${cpus()[0]?.model} × ${cpus().length}; threads ${threads}; peer ${python}; out ${outDir}\n`);
for (const k of kinds) {
  if (k === 'decode') await decode();
  else if (k === 'score') await score();
  else if (k === 'beam') await beam();
  else throw new Error(`unknown kind '${k}' (decode | score | beam)`);
}
console.log(`\n${tables.join('\n\n')}`);
