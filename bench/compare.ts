// Runs tessera and its PyTorch peer alternately (same machine, same script run) several times and prints medians and
// the tessera/PyTorch throughput ratio as JSON lines and a Markdown table.
//   node --import tsx bench/compare.ts train [--repeats 3] [--warmup 2] [--configs "4 4 256 128 4096 16 10;12 12 768 256 50304 4 3"]
//   node --import tsx bench/compare.ts decode [--repeats 3] [--batches 1,16] [--tokens 64]
// TESSERA_PEER_PYTHON picks the peer's interpreter (default /usr/bin/python3).
// tessera runs through its launcher (bin/tessera.js), which tunes glibc malloc (GLIBC_TUNABLES). The peer runs with
// its defaults; with --tuned-peer it also runs a second time per round with the same GLIBC_TUNABLES, so the table shows
// how much of the ratio the malloc settings account for.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { median } from './stats.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const mode = args[0] ?? 'train';
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const repeats = Number(opt('repeats', '3'));
/** The peer's interpreter: TESSERA_PEER_PYTHON (e.g. a venv with PyTorch 2.13), else Debian's python3 (PyTorch 1.13). */
const python = process.env.TESSERA_PEER_PYTHON ?? '/usr/bin/python3';
const tunedPeer = args.includes('--tuned-peer');

type Json = Record<string, unknown> & { tokens_per_s: number };

function runJson(cmd: string, argv: string[], env: NodeJS.ProcessEnv = process.env): Json {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24, env });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed:\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`${cmd} printed no JSON:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line) as Json;
}


/** Alternate tessera, the peer and (optionally) the peer with tessera's malloc settings; print one JSON line. */
function compare(label: Record<string, unknown>, tesseraArgs: string[], peerScript: string, peerArgs: string[]) {
  const ours: number[] = [];
  const peer: number[] = [];
  const peerTuned: number[] = [];
  let tunables: string | null = null;
  const { GLIBC_TUNABLES: _drop, ...plainEnv } = process.env;
  for (let r = 0; r < repeats; r++) {
    const t = runJson(join(root, 'bin/tessera.js'), tesseraArgs);
    ours.push(t.tokens_per_s);
    tunables = (t.glibc_tunables as string | null) ?? null;
    peer.push(runJson(python, [peerScript, ...peerArgs], plainEnv).tokens_per_s);
    if (tunedPeer && tunables) peerTuned.push(runJson(python, [peerScript, ...peerArgs], { ...plainEnv, GLIBC_TUNABLES: tunables }).tokens_per_s);
  }
  const res = {
    ...label,
    tessera_tokens_per_s: median(ours),
    pytorch_tokens_per_s: median(peer),
    ratio: median(ours) / median(peer),
    ...(peerTuned.length ? { pytorch_tuned_malloc_tokens_per_s: median(peerTuned), ratio_vs_tuned_malloc: median(ours) / median(peerTuned) } : {}),
    glibc_tunables: tunables,
    runs: { tessera: ours, pytorch: peer, ...(peerTuned.length ? { pytorch_tuned_malloc: peerTuned } : {}) },
  };
  console.log(JSON.stringify(res));
  return res;
}

const fmt = (x: number | undefined, d: number) => (x === undefined ? '–' : x.toFixed(d));
const fmtRatio = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)}×`);
const rows: string[] = [];
if (mode === 'train') {
  const configs = opt('configs', '4 4 256 128 4096 16 10;12 12 768 256 50304 4 3').split(';');
  for (const c of configs) {
    const [L, H, C, T, V, B, N] = c.trim().split(/\s+/);
    const flags = ['--layers', L!, '--heads', H!, '--embd', C!, '--block', T!, '--vocab', V!, '--batch', B!, '--steps', N!, '--warmup', opt('warmup', '2')];
    const r = compare({ config: c.trim() }, ['bench', 'train', ...flags, '--json'], 'bench/pytorch_train.py', flags);
    rows.push(`| ${L} ${H} ${C} ${T} ${V} ${B} | ${fmt(r.tessera_tokens_per_s, 0)} | ${fmt(r.pytorch_tokens_per_s, 0)} | ${fmtRatio(r.ratio)} | ${fmt(r.pytorch_tuned_malloc_tokens_per_s, 0)} | ${fmtRatio(r.ratio_vs_tuned_malloc)} |`);
  }
  console.log('\n| layers heads embd block vocab batch | tessera tok/s | PyTorch tok/s | ratio | PyTorch, tessera\'s malloc | ratio |\n|---|---|---|---|---|---|\n' + rows.join('\n'));
} else if (mode === 'decode') {
  const tokens = opt('tokens', '64');
  for (const b of opt('batches', '1,16').split(',')) {
    const flags = ['--layers', '12', '--heads', '12', '--embd', '768', '--block', '1024', '--vocab', '50257', '--batch', b, '--tokens', tokens];
    const r = compare({ batch: Number(b) }, ['bench', 'decode', ...flags, '--json'], 'bench/pytorch_decode.py', flags);
    rows.push(`| ${b} | ${fmt(r.tessera_tokens_per_s, 1)} | ${fmt(r.pytorch_tokens_per_s, 1)} | ${fmtRatio(r.ratio)} | ${fmt(r.pytorch_tuned_malloc_tokens_per_s, 1)} | ${fmtRatio(r.ratio_vs_tuned_malloc)} |`);
  }
  console.log('\n| batch | tessera tok/s | PyTorch tok/s | ratio | PyTorch, tessera\'s malloc | ratio |\n|---|---|---|---|---|---|\n' + rows.join('\n'));
} else {
  throw new Error(`unknown mode '${mode}' (train | decode)`);
}
