// Machine state for benchmarks on a shared, noisy machine: load, busy cores from /proc/stat, and waiting for quiet.

import { readFileSync } from 'node:fs';

export function loadAvg1(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Busy and total jiffies of all CPUs (the "cpu" line of /proc/stat). */
export function cpuJiffies(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + f[4]!;
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export const HZ = 100; // USER_HZ
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Cores busy over the next `ms` milliseconds (whole machine). */
export async function busyCores(ms: number): Promise<number> {
  const a = cpuJiffies();
  await sleep(ms);
  const b = cpuJiffies();
  return (b.busy - a.busy) / HZ / (ms / 1000);
}

/**
 * Wait until the machine is quiet: two consecutive 3-second samples with less than `maxOthers` cores busy, and the
 * 1-minute load below `maxLoad` or falling (our own previous run keeps the 1-minute average up for a minute after
 * it ends; a falling average with idle cores is that decay). Gives up after `waitS` seconds and says so.
 */
export async function waitQuiet(o: { maxOthers: number; maxLoad: number; waitS: number }): Promise<{ load: number; busy: number; waited_s: number }> {
  const t0 = Date.now();
  let quietSamples = 0;
  let prevLoad = Infinity;
  let lastNote = 0;
  for (;;) {
    const busy = await busyCores(3000);
    const load = loadAvg1();
    const waited = (Date.now() - t0) / 1000;
    quietSamples = busy < o.maxOthers && (load < o.maxLoad || load < prevLoad || (load === prevLoad && quietSamples > 0)) ? quietSamples + 1 : 0;
    prevLoad = load;
    if (quietSamples >= 2) return { load, busy, waited_s: waited };
    if (waited > o.waitS) {
      process.stderr.write(`warning: machine still busy after ${o.waitS}s (load ${load}, ${busy.toFixed(2)} cores busy); running anyway\n`);
      return { load, busy, waited_s: waited };
    }
    if (waited - lastNote >= 60) {
      lastNote = waited;
      process.stderr.write(`waiting for a quiet machine: load ${load}, ${busy.toFixed(2)} cores busy\n`);
    }
  }
}


/** The environment tessera runs with under its launcher (bin/tessera.js): its malloc settings, 2 threads by default. */
export const LAUNCHER_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GLIBC_TUNABLES: 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736',
  TESSERA_MALLOC_TUNED: '1',
  TESSERA_THREADS: process.env.TESSERA_THREADS ?? '2',
};

export interface QuietRunOptions {
  cwd: string;
  maxOthers: number;
  maxLoad: number;
  waitS: number;
  /** One progress line about the result (e.g. its throughput). */
  describe: (result: Record<string, unknown>) => string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Run `cmd args` once the machine is quiet and parse the last JSON line of its stdout. Afterwards, how many cores
 * other processes kept busy during the run (whole-machine CPU time minus the run's own `cpu_s`, else 2 × wall) is
 * added as `others_cores`; a run during which others used more than `maxOthers` cores is repeated (twice at most).
 */
export async function runQuietJson(cmd: string, args: string[], o: QuietRunOptions): Promise<Record<string, unknown>> {
  const { spawnSync } = await import('node:child_process');
  for (let attempt = 0; ; attempt++) {
    await waitQuiet(o);
    const a = cpuJiffies();
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { cwd: o.cwd, encoding: 'utf8', env: o.env ?? LAUNCHER_ENV, maxBuffer: 1 << 26 });
    const wall = (performance.now() - t0) / 1000;
    const b = cpuJiffies();
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
    const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    if (!line) throw new Error(`${cmd} ${args.join(' ')} printed no JSON line:\n${r.stdout}\n${r.stderr}`);
    const j = JSON.parse(line) as Record<string, unknown>;
    const own = Number(j.cpu_s ?? 2 * wall);
    const others = Math.max(0, ((b.busy - a.busy) / HZ - own) / wall);
    j.others_cores = Number(others.toFixed(2));
    process.stderr.write(`  ${String(j.engine)}: ${o.describe(j)} (others ${others.toFixed(2)} cores)\n`);
    if (others <= o.maxOthers || attempt >= 2) return j;
    process.stderr.write('  the machine was busy during the run; repeating it\n');
  }
}
