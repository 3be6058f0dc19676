// `tessera bench …`: engine benchmarks that print one JSON line (train step throughput, matmul GFLOP/s).

import type { Command } from 'commander';
import { benchTrain } from '../../../bench/train.js';
import { benchMatmul } from '../../../bench/matmul.js';
import { benchDecode } from '../../../bench/decode.js';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got '${v}'`);
  return n;
};

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks (one JSON line per run)');
  bench
    .command('train')
    .description('GPT-2-style training step throughput on random tokens')
    .option('--layers <n>', 'transformer layers', int, 4)
    .option('--heads <n>', 'attention heads', int, 4)
    .option('--embd <n>', 'embedding width', int, 256)
    .option('--block <n>', 'context length', int, 128)
    .option('--vocab <n>', 'vocabulary size', int, 4096)
    .option('--batch <n>', 'batch size', int, 16)
    .option('--steps <n>', 'timed steps', int, 10)
    .option('--warmup <n>', 'untimed warm-up steps', int, 2)
    .option('--threads <n>', 'intra-op threads', int)
    .option('--steps-per-run <k>', 'optimizer steps unrolled into one session run', int, 1)
    .option('--json', 'print JSON (always on)')
    .action(async (o) => {
      const r = await benchTrain(o);
      process.stdout.write(`${JSON.stringify(r)}\n`);
    });
  bench
    .command('decode')
    .description('KV-cache decoding throughput of a random-weight GPT')
    .option('--layers <n>', 'transformer layers', int, 12)
    .option('--heads <n>', 'attention heads', int, 12)
    .option('--embd <n>', 'embedding width', int, 768)
    .option('--block <n>', 'context length', int, 1024)
    .option('--vocab <n>', 'vocabulary size', int, 50257)
    .option('--batch <n>', 'sequences decoded together', int, 1)
    .option('--tokens <n>', 'tokens generated per sequence', int, 64)
    .option('--prompt <n>', 'prompt tokens per sequence', int, 1)
    .option('--json', 'print JSON (always on)')
    .action(async (o) => {
      process.stdout.write(`${JSON.stringify(await benchDecode(o))}\n`);
    });
  bench
    .command('matmul')
    .description('square fp32 matmul GFLOP/s on ONNX Runtime')
    .option('--sizes <list>', 'comma-separated sizes', '512,1024,2048')
    .option('--repeats <n>', 'runs per size (median reported)', int, 5)
    .option('--json', 'print JSON (always on)')
    .action(async (o) => {
      for (const r of await benchMatmul(o.sizes.split(',').map(Number), o.repeats)) process.stdout.write(`${JSON.stringify(r)}\n`);
    });
}
