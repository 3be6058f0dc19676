// `tessera bench …`: engine and runtime benchmarks that print one JSON line (train step throughput, matmul GFLOP/s,
// KV-cache decoding / sampling, few-shot multiple-choice scoring, beam search). Peers and the alternating driver:
// bench/compare.ts, bench/runtime-compare.ts.

import type { Command } from 'commander';
import { benchTrain } from '../../../bench/train.js';
import { benchMatmul } from '../../../bench/matmul.js';
import { benchDecode } from '../../../bench/decode.js';
import { benchScore } from '../../../bench/score.js';
import { benchBeam } from '../../../bench/beam.js';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got '${v}'`);
  return n;
};
const nonNegInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got '${v}'`);
  return n;
};
const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got '${v}'`);
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
    .description('KV-cache decoding / sampling throughput of a random-weight GPT (continuous batching when --samples > --batch)')
    .option('--layers <n>', 'transformer layers', int, 12)
    .option('--heads <n>', 'attention heads', int, 12)
    .option('--embd <n>', 'embedding width', int, 768)
    .option('--block <n>', 'context length', int, 1024)
    .option('--vocab <n>', 'vocabulary size', int, 50257)
    .option('--batch <n>', 'sequences decoded together', int, 1)
    .option('--tokens <n>', 'tokens generated per sequence', int, 64)
    .option('--prompt <n>', 'prompt tokens per sequence', int, 1)
    .option('--top-k <k>', 'sample among the k most likely tokens (0 = greedy)', nonNegInt, 0)
    .option('--temperature <t>', 'sampling temperature (with --top-k > 0)', positive, 1)
    .option('--samples <n>', 'sequences in total (default: --batch)', int)
    .option('--seed <n>', 'sampling seed', nonNegInt, 0)
    .option('--json', 'print JSON (always on)')
    .action(async (o) => {
      process.stdout.write(`${JSON.stringify(await benchDecode(o))}\n`);
    });
  bench
    .command('score')
    .description('few-shot multiple-choice scoring (shared 5-shot prompt + question + 4 choices) with BatchScorer.loglikelihood')
    .option('--layers <n>', 'transformer layers', int, 4)
    .option('--heads <n>', 'attention heads', int, 4)
    .option('--embd <n>', 'embedding width', int, 256)
    .option('--block <n>', 'context length', int, 1024)
    .option('--vocab <n>', 'vocabulary size', int, 50257)
    .option('--questions <n>', 'four-choice questions', int, 200)
    .option('--batch <n>', 'rows (pairs) per batch', int, 16)
    .option('--shots <n>', 'tokens of the shared few-shot block', int, 400)
    .option('--question <n>', 'tokens per question (±2)', int, 20)
    .option('--choice <n>', 'tokens per choice (±1)', int, 5)
    .option('--choices <n>', 'choices per question', int, 4)
    .option('--seed <n>', 'weights and data seed', nonNegInt, 1)
    .option('--save-weights <file>', 'write the weights as safetensors (HF GPT-2 names) for the PyTorch peer')
    .option('--dump-requests <file>', 'write the (context, continuation) requests as JSON for the PyTorch peer')
    .option('--dump-logprobs <n>', 'include the first n log-likelihoods (request order) in the JSON', nonNegInt, 0)
    .option('--json', 'print JSON (always on)')
    .action(async (o) => {
      process.stdout.write(`${JSON.stringify(await benchScore(o))}\n`);
    });
  bench
    .command('beam')
    .description('beam search (KV cache, CachedBeamStepper + beamSearch) throughput of a random-weight GPT')
    .option('--layers <n>', 'transformer layers', int, 12)
    .option('--heads <n>', 'attention heads', int, 12)
    .option('--embd <n>', 'embedding width', int, 768)
    .option('--block <n>', 'context length', int, 1024)
    .option('--vocab <n>', 'vocabulary size', int, 50257)
    .option('--beams <n>', 'beam width', int, 4)
    .option('--tokens <n>', 'new tokens (every hypothesis runs all of them: eot is masked until then)', int, 64)
    .option('--prompt <n>', 'prompt tokens', int, 32)
    .option('--repeats <n>', 'timed searches (the best and the median are reported)', int, 1)
    .option('--seed <n>', 'weights and prompt seed', nonNegInt, 1)
    .option('--save-weights <file>', 'write the weights as safetensors (HF GPT-2 names) for the PyTorch peer')
    .option('--json', 'print JSON (always on)')
    .action(async (o) => {
      process.stdout.write(`${JSON.stringify(await benchBeam(o))}\n`);
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
