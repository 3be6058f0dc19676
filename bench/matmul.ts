// Square fp32 matmul GFLOP/s through the engine (one compiled MatMul graph per size), median of several runs.

import { compile } from '../src/engine/compile.js';
import { matmul } from '../src/engine/ops/matmul.js';

export async function benchMatmul(sizes: number[], repeats: number) {
  const out = [];
  for (const n of sizes) {
    const f = await compile((a, b) => matmul(a!, b!), [{ shape: [n, n] }, { shape: [n, n] }]);
    const a = Float32Array.from({ length: n * n }, (_, i) => ((i * 7) % 13) / 13);
    const b = Float32Array.from({ length: n * n }, (_, i) => ((i * 5) % 11) / 11);
    await f(a, b);
    const times: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      await f(a, b);
      times.push(performance.now() - t0);
    }
    times.sort((x, y) => x - y);
    const ms = times[times.length >> 1]!;
    out.push({ engine: 'tessera-ort', n, gflops: (2 * n ** 3) / (ms / 1000) / 1e9, ms, glibc_tunables: process.env.GLIBC_TUNABLES ?? null });
    await f.program.release();
  }
  return out;
}
