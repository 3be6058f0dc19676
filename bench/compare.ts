// Runs tessera and its PyTorch peer alternately (same machine, same script run) several times and prints medians and
// the tessera/PyTorch throughput ratio as JSON lines and a Markdown table.
//   node --import tsx bench/compare.ts train [--repeats 3] [--configs "4 4 256 128 4096 16 10;12 12 768 256 50304 4 3"]
//   node --import tsx bench/compare.ts decode [--repeats 3] [--batches 1,16] [--tokens 64]

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const mode = args[0] ?? 'train';
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const repeats = Number(opt('repeats', '3'));

function runJson(cmd: string, argv: string[]): Record<string, number> {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed:\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`${cmd} printed no JSON:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const rows: string[] = [];
if (mode === 'train') {
  const configs = opt('configs', '4 4 256 128 4096 16 10;12 12 768 256 50304 4 3').split(';');
  for (const c of configs) {
    const [L, H, C, T, V, B, N] = c.trim().split(/\s+/);
    const flags = ['--layers', L!, '--heads', H!, '--embd', C!, '--block', T!, '--vocab', V!, '--batch', B!, '--steps', N!];
    const ours: number[] = [];
    const peer: number[] = [];
    for (let r = 0; r < repeats; r++) {
      ours.push(runJson(join(root, 'bin/tessera.js'), ['bench', 'train', ...flags, '--json']).tokens_per_s!);
      peer.push(runJson('/usr/bin/python3', ['bench/pytorch_train.py', ...flags]).tokens_per_s!);
    }
    const res = { config: c.trim(), tessera_tokens_per_s: median(ours), pytorch_tokens_per_s: median(peer), ratio: median(ours) / median(peer), runs: { tessera: ours, pytorch: peer } };
    console.log(JSON.stringify(res));
    rows.push(`| ${L} ${H} ${C} ${T} ${V} ${B} | ${res.tessera_tokens_per_s.toFixed(0)} | ${res.pytorch_tokens_per_s.toFixed(0)} | ${res.ratio.toFixed(2)}× |`);
  }
  console.log('\n| layers heads embd block vocab batch | tessera tok/s | PyTorch tok/s | ratio |\n|---|---|---|---|\n' + rows.join('\n'));
} else if (mode === 'decode') {
  const tokens = opt('tokens', '64');
  for (const b of opt('batches', '1,16').split(',')) {
    const flags = ['--layers', '12', '--heads', '12', '--embd', '768', '--block', '1024', '--vocab', '50257', '--batch', b, '--tokens', tokens];
    const ours: number[] = [];
    const peer: number[] = [];
    for (let r = 0; r < repeats; r++) {
      ours.push(runJson(join(root, 'bin/tessera.js'), ['bench', 'decode', ...flags, '--json']).tokens_per_s!);
      peer.push(runJson('/usr/bin/python3', ['bench/pytorch_decode.py', ...flags]).tokens_per_s!);
    }
    const res = { batch: Number(b), tessera_tokens_per_s: median(ours), pytorch_tokens_per_s: median(peer), ratio: median(ours) / median(peer), runs: { tessera: ours, pytorch: peer } };
    console.log(JSON.stringify(res));
    rows.push(`| ${b} | ${res.tessera_tokens_per_s.toFixed(1)} | ${res.pytorch_tokens_per_s.toFixed(1)} | ${res.ratio.toFixed(2)}× |`);
  }
  console.log('\n| batch | tessera tok/s | PyTorch tok/s | ratio |\n|---|---|---|---|\n' + rows.join('\n'));
} else {
  throw new Error(`unknown mode '${mode}' (train | decode)`);
}
