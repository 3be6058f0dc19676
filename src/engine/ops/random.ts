// Counter-based random numbers computed inside the graph from an explicit seed tensor: the same (seed, stream,
// shape) gives the same numbers on every run and in every process, with no hidden generator state in ONNX Runtime.
// Hash: x = (i + seed·K1 + stream·K2) mod 2^32, then two rounds of x ^= x>>16; x = (x·0x45d9f3b) mod 2^32; x ^= x>>16.
// All intermediate products stay below 2^63 so int64 arithmetic is exact. `hashUniformRef` mirrors it on the host.

import { numel } from '../dtype.js';
import { apply1, defineOp, fail, Tensor } from '../tensor.js';
import { add as addScalar, cos, log, mul, neg, sqrt } from './elementwise.js';

const M32 = 0xffffffff;
const K_SEED = 0x3c6ef35; // < 2^26
const K_STREAM = 0x1b873593; // < 2^29
const K_MIX = 0x45d9f3b; // < 2^27
/** The largest uniform value: the float32 just below 1. */
const U_MAX = 1 - 2 ** -24;

export const randomUniformOp = defineOp<{ shape: number[]; stream: number }>({
  name: 'randomUniform',
  infer: ([seed], a) => {
    if (seed!.dtype !== 'int64' || seed!.size !== 1) fail('randomUniform', `seed must be an int64 scalar, got ${seed!.dtype} [${seed!.shape}]`);
    if (!Number.isInteger(a.stream) || a.stream < 0 || a.stream > M32) fail('randomUniform', `stream must be a uint32, got ${a.stream}`);
    return [{ shape: a.shape, dtype: 'float32' }];
  },
  emit: (e, [seed], [out], a) => {
    const n = numel(a.shape);
    const mask = e.scalar(M32, 'int64');
    const band = (x: string) => e.op('BitwiseAnd', [x, mask]);
    const shr16 = (x: string) => e.op('Div', [x, e.scalar(65536, 'int64')]);
    const xor = (x: string, y: string) => e.op('BitwiseXor', [x, y]);
    const mulk = (x: string, k: number) => band(e.op('Mul', [x, e.scalar(k, 'int64')]));
    const i = e.op('Range', [e.scalar(0, 'int64'), e.scalar(n, 'int64'), e.scalar(1, 'int64')]);
    const s = e.op('Reshape', [band(seed!), e.i64([])]);
    const base = e.op('Add', [e.op('Mul', [s, e.scalar(K_SEED, 'int64')]), e.scalar((a.stream * K_STREAM) % 2 ** 32, 'int64')]);
    let x = band(e.op('Add', [i, base]));
    for (let r = 0; r < 2; r++) {
      x = xor(x, shr16(x));
      x = mulk(x, K_MIX);
    }
    x = xor(x, shr16(x));
    // top 24 bits → (k + 0.5) / 2^24, capped at 1 − 2^-24: in float32, k + 0.5 rounds to 2^24 for k = 2^24 − 1, and
    // u = 1 would make Gumbel noise −log(−log u) infinite; the cap keeps u in (0, 1) as documented
    const top = e.op('Cast', [e.op('Div', [x, e.scalar(256, 'int64')])], { to: { kind: 'int', value: 1 } });
    const u = e.op('Min', [e.op('Mul', [e.op('Add', [top, e.scalar(0.5, 'float32')]), e.scalar(2 ** -24, 'float32')]), e.scalar(U_MAX, 'float32')]);
    e.node('Reshape', [u, e.i64(a.shape)], [out!]);
  },
});

/** Uniform (0, 1) float32 noise of `shape`, from an int64 scalar `seed` tensor and a static `stream` id. */
export function randomUniform(shape: readonly number[], seed: Tensor, stream = 0): Tensor {
  return apply1(randomUniformOp, [seed], { shape: [...shape], stream });
}

/** Standard normal noise (Box–Muller over two uniform streams). */
export function randomNormal(shape: readonly number[], seed: Tensor, stream = 0, mean = 0, std = 1): Tensor {
  const u1 = randomUniform(shape, seed, (stream * 2) % 2 ** 32);
  const u2 = randomUniform(shape, seed, (stream * 2 + 1) % 2 ** 32);
  let z = mul(sqrt(mul(log(u1), -2)), cos(mul(u2, 2 * Math.PI)));
  if (std !== 1) z = mul(z, std);
  if (mean !== 0) z = addScalar(z, mean);
  return z;
}

/** Gumbel(0, 1) noise: -log(-log(u)). */
export function randomGumbel(shape: readonly number[], seed: Tensor, stream = 0): Tensor {
  return neg(log(neg(log(randomUniform(shape, seed, stream)))));
}

/** Host mirror of the in-graph hash (for tests and for host-side sampling that must match the graph). */
export function hashUniformRef(n: number, seed: number | bigint, stream = 0): Float32Array {
  const M = 0xffffffffn;
  const out = new Float32Array(n);
  const s = BigInt(seed) & M;
  const base = s * BigInt(K_SEED) + BigInt((stream * K_STREAM) % 2 ** 32);
  for (let i = 0; i < n; i++) {
    let x = (BigInt(i) + base) & M;
    for (let r = 0; r < 2; r++) {
      x ^= x >> 16n;
      x = (x * BigInt(K_MIX)) & M;
    }
    x ^= x >> 16n;
    out[i] = Math.min(Math.fround(Math.fround(Number(x >> 8n) + 0.5) * 2 ** -24), U_MAX);
  }
  return out;
}

/** A stable uint32 stream id from a string (e.g. a module's dotted name), FNV-1a. */
export function streamId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
