// Engine behaviour: trace-time errors, compiled forward values, autodiff corner cases, jit caching, seeded random
// numbers, input validation and standalone ONNX export loaded by a bare ONNX Runtime session.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import * as T from '../../src/engine/index.js';

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol * (1 + Math.abs(b[i]!)), `index ${i}: ${a[i]} vs ${b[i]}`);
};

describe('tracing errors', () => {
  it('matmul mismatch names the op and both shapes', () => {
    const a = T.input('a', [2, 3]);
    const b = T.input('b', [4, 5]);
    assert.throws(() => T.matmul(a, b), /\[matmul\] inner dimensions differ: \[2, 3\] @ \[4, 5\]/);
  });
  it('broadcast mismatch names the op and both shapes', () => {
    assert.throws(() => T.add(T.input('a', [2, 3]), T.input('b', [4])), /\[add\] cannot broadcast shapes \[2, 3\] and \[4\]/);
  });
  it('dtype mismatch is caught at trace time', () => {
    assert.throws(() => T.mul(T.input('a', [2], 'float32'), T.input('b', [2], 'int64')), /\[mul\] dtype mismatch: float32 vs int64/);
  });
  it('reshape and concat errors', () => {
    assert.throws(() => T.reshape(T.input('a', [2, 3]), [4, -1]), /\[reshape\] cannot reshape \[2, 3\]/);
    assert.throws(() => T.concat([T.input('a', [2, 3]), T.input('b', [3, 3])], 1), /\[concat\] shapes \[2, 3\] and \[3, 3\] differ outside axis 1/);
    assert.throws(() => T.conv2d(T.input('x', [1, 3, 8, 8]), T.input('w', [4, 2, 3, 3])), /\[conv2d\] weight \[4, 2, 3, 3\] expects 2 input channels/);
  });
});

describe('compiled forward values', () => {
  it('elementwise, reductions and softmax match host math', async () => {
    const f = await T.compile(
      (x) => ({ e: T.exp(x), s: T.sum(x, 1), sm: T.softmax(x, -1), g: T.gelu(x, 'tanh'), ln: T.layerNorm(x) }),
      [{ shape: [2, 3] }],
    );
    const x = Float32Array.from([0.1, -0.5, 2, 1, 0, -1]);
    const r = await f(x);
    close(r.e as Float32Array, Array.from(x, Math.exp));
    close(r.s as Float32Array, [1.6, 0]);
    const row = (i: number) => { const v = [x[3 * i]!, x[3 * i + 1]!, x[3 * i + 2]!]; const m = Math.max(...v); const e = v.map((z) => Math.exp(z - m)); const s = e.reduce((p, q) => p + q); return e.map((z) => z / s); };
    close(r.sm as Float32Array, [...row(0), ...row(1)]);
    const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    close(r.g as Float32Array, Array.from(x, gelu), 1e-5);
    const lnRow = (i: number) => { const v = [x[3 * i]!, x[3 * i + 1]!, x[3 * i + 2]!]; const m = v.reduce((p, q) => p + q) / 3; const va = v.reduce((p, q) => p + (q - m) ** 2, 0) / 3; return v.map((z) => (z - m) / Math.sqrt(va + 1e-5)); };
    close(r.ln as Float32Array, [...lnRow(0), ...lnRow(1)], 1e-4);
  });

  it('topK returns the k largest values sorted, with their indices, along any axis', async () => {
    const f = await T.compile((x) => {
      const last = T.topK(x, 2);
      const first = T.topK(x, 1, 0);
      return { v: last.values, i: last.indices, v0: first.values, i0: first.indices };
    }, [{ name: 'x', shape: [2, 4] }]);
    const r = await f(Float32Array.of(0.5, -1, 3, 2, 7, 1, 1.5, -2));
    close(r.v as Float32Array, [3, 2, 7, 1.5]);
    assert.deepEqual([...(r.i as BigInt64Array)], [2n, 3n, 0n, 2n]);
    close(r.v0 as Float32Array, [7, 1, 3, 2]);
    assert.deepEqual([...(r.i0 as BigInt64Array)], [1n, 1n, 0n, 0n]);
    assert.throws(() => T.topK(T.input('x', [2, 4]), 5), /\[topK\] k must be an integer in \[1, 4\]/);
  });
  it('conv2d matches a direct loop', async () => {
    const f = await T.compile((x, w) => T.conv2d(x, w, undefined, { stride: 2, padding: 1 }), [{ shape: [1, 2, 5, 5] }, { shape: [3, 2, 3, 3] }]);
    const x = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const w = Float32Array.from({ length: 54 }, (_, i) => Math.cos(i));
    const y = (await f(x, w)) as Float32Array;
    const ref: number[] = [];
    for (let o = 0; o < 3; o++)
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) {
          let s = 0;
          for (let c = 0; c < 2; c++)
            for (let a = 0; a < 3; a++)
              for (let b = 0; b < 3; b++) {
                const yy = i * 2 - 1 + a;
                const xx = j * 2 - 1 + b;
                if (yy < 0 || yy >= 5 || xx < 0 || xx >= 5) continue;
                s += x[c * 25 + yy * 5 + xx]! * w[((o * 2 + c) * 3 + a) * 3 + b]!;
              }
          ref.push(s);
        }
    close(y, ref, 1e-4);
  });
});

describe('autodiff', () => {
  it('parameters the loss does not reach get zero gradients', async () => {
    const f = await T.compile((a, b) => T.grad(T.sum(T.mul(a, a)), [a, b]), [{ shape: [3] }, { shape: [2, 2] }]);
    const [ga, gb] = (await f(Float32Array.of(1, 2, 3), new Float32Array(4).fill(7))) as Float32Array[];
    close(ga!, [2, 4, 6]);
    close(gb!, [0, 0, 0, 0]);
  });
  it('stopGradient blocks the path', async () => {
    const f = await T.compile((x) => T.grad(T.sum(T.add(T.mul(x, x), T.mul(T.stopGradient(x), x))), [x])[0]!, [{ shape: [3] }]);
    // d/dx [x^2 + c·x] with c = x held constant = 2x + x = 3x
    close((await f(Float32Array.of(1, 2, 3))) as Float32Array, [3, 6, 9]);
  });
  it('broadcast gradients reduce to the input shape', async () => {
    const f = await T.compile((a, b) => T.grad(T.sum(T.mul(a, b)), [a, b]), [{ shape: [2, 3] }, { shape: [3] }]);
    const [ga, gb] = (await f(Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(1, 1, 2))) as Float32Array[];
    assert.equal(gb!.length, 3);
    close(gb!, [5, 7, 9]);
    close(ga!, [1, 1, 2, 1, 1, 2]);
  });
  it('a tied table\'s two cotangents are one scatter into the dense gradient, not zeros + scatter + add', async () => {
    const w = T.input('w', [6, 3]);
    const i = T.input('i', [4], 'int64');
    const loss = T.sum(T.matmulNT(T.gather(w, i), w));
    const [gw] = T.grad(loss, [w]);
    const ops = T.topoSort([gw!]).map((n) => n.op.name);
    assert.equal(ops.filter((o) => o === 'scatterAddRows').length, 1);
    assert.ok(!T.topoSort([gw!]).some((n) => n.op.name === 'add' && n.outputs[0]!.shape.join() === '6,3'), 'no table-sized add');
    // value check against the host: d/dw sum(w[i] @ wᵀ) = (Σ_rows w[i]) broadcast to every row + scatter of colsum(w) into rows i
    const f = await T.compile((wt, it) => T.grad(T.sum(T.matmulNT(T.gather(wt, it), wt)), [wt])[0]!, [{ shape: [6, 3] }, { shape: [4], dtype: 'int64' }]);
    const wv = Float32Array.from({ length: 18 }, (_, k) => Math.sin(k + 1));
    const iv = BigInt64Array.of(0n, 2n, 2n, 5n);
    const g = (await f(wv, iv)) as Float32Array;
    const rowSum = [0, 1, 2].map((c) => [0, 2, 2, 5].reduce((a, r) => a + wv[r * 3 + c]!, 0));
    const colSum = [0, 1, 2].map((c) => [0, 1, 2, 3, 4, 5].reduce((a, r) => a + wv[r * 3 + c]!, 0));
    const want = Array.from({ length: 18 }, (_, k) => rowSum[k % 3]!);
    for (const r of [0, 2, 2, 5]) for (let c = 0; c < 3; c++) want[r * 3 + c]! += colSum[c]!;
    close(g, want, 1e-5);
  });
  it('refuses to differentiate integer outputs', () => {
    assert.throws(() => T.grad(T.input('i', [2], 'int64'), []), /cannot differentiate a int64 output/);
  });
});

describe('jit and runtime', () => {
  it('jit compiles once per shape signature', async () => {
    const f = T.jit((x) => T.mul(x, 2));
    await f({ data: Float32Array.of(1, 2), shape: [2], dtype: 'float32' });
    await f({ data: Float32Array.of(3, 4), shape: [2], dtype: 'float32' });
    assert.equal(f.cacheSize(), 1);
    const r = await f({ data: Float32Array.of(1, 2, 3), shape: [3], dtype: 'float32' });
    close(r as Float32Array, [2, 4, 6]);
    assert.equal(f.cacheSize(), 2);
  });
  it('input validation names the input and expected vs actual', async () => {
    const f = await T.compile((x) => T.neg(x), [{ name: 'x', shape: [2, 2] }]);
    await assert.rejects(f(Float32Array.of(1, 2, 3)), /input 'x': expected 4 elements for shape \[2, 2\], got 3/);
    await assert.rejects(f(Int32Array.of(1, 2, 3, 4)), /input 'x': expected float32 data, got Int32Array/);
    await assert.rejects(f.program.run({}), /missing input 'x'/);
  });
  it('pre-allocated outputs are written in place', async () => {
    const f = await T.compile((x) => ({ y: T.mul(x, 3) }), [{ name: 'x', shape: [3] }]);
    const buf = new Float32Array(3);
    const r = await f.program.run({ x: Float32Array.of(1, 2, 3) }, { y: buf });
    assert.equal(r.y!.data, buf);
    close(buf, [3, 6, 9]);
  });
  it('session config entries reach ONNX Runtime (option or TESSERA_ORT_CONFIG)', async () => {
    const fn = (x: T.Tensor) => T.tanh(x);
    const spec = [{ shape: [2] }];
    // an affinity string ORT parses when it builds the session's thread pool: a bad one is refused, a good one runs
    await assert.rejects(T.compile(fn, spec, { sessionConfig: { 'session.intra_op_thread_affinities': 'bogus' } }), /ONNX Runtime rejected .*Processor id must consist of only digits/s);
    const f = await T.compile(fn, spec, { threads: 2, sessionConfig: { 'session.intra_op_thread_affinities': '1' } });
    close((await f(Float32Array.of(0.5, 1))) as Float32Array, [Math.tanh(0.5), Math.tanh(1)]);
    const saved = process.env.TESSERA_ORT_CONFIG;
    try {
      process.env.TESSERA_ORT_CONFIG = '{"session.intra_op_thread_affinities":"bogus"}';
      await assert.rejects(T.compile(fn, spec), /Processor id must consist of only digits/);
      process.env.TESSERA_ORT_CONFIG = '{not json';
      await assert.rejects(T.compile(fn, spec), /TESSERA_ORT_CONFIG is not valid JSON/);
      process.env.TESSERA_ORT_CONFIG = '{"session.disable_prepacking":1}';
      await assert.rejects(T.compile(fn, spec), /TESSERA_ORT_CONFIG\['session.disable_prepacking'\] must be a string/);
    } finally {
      if (saved === undefined) delete process.env.TESSERA_ORT_CONFIG;
      else process.env.TESSERA_ORT_CONFIG = saved;
    }
  });
});

describe('seeded random numbers', () => {
  it('same seed, same numbers; different seed or stream, different numbers; matches the host mirror', async () => {
    const f = await T.compile((s) => ({ a: T.randomUniform([1000], s, 7), b: T.randomUniform([1000], s, 8) }), [{ shape: [1], dtype: 'int64' }]);
    const r1 = await f(BigInt64Array.of(42n));
    const r2 = await f(BigInt64Array.of(42n));
    const r3 = await f(BigInt64Array.of(43n));
    assert.deepEqual(r1.a, r2.a);
    assert.notDeepEqual(r1.a, r3.a);
    assert.notDeepEqual(r1.a, r1.b);
    assert.deepEqual(Array.from(r1.a as Float32Array), Array.from(T.hashUniformRef(1000, 42, 7)));
    const u = r1.a as Float32Array;
    const mean = u.reduce((p, q) => p + q) / u.length;
    assert.ok(Math.abs(mean - 0.5) < 0.03, `uniform mean ${mean}`);
    assert.ok(u.every((v) => v > 0 && v < 1));
  });
  it('the top hash value stays below 1 (Gumbel noise stays finite)', async () => {
    // seed 42, stream 7: index 16,478,099 hashes to k = 2^24 − 1, where (k + 0.5) / 2^24 rounds to 1 in float32
    const at = 16_478_099;
    const f = await T.compile((s) => ({ u: T.slice(T.randomUniform([at + 1], s, 7), [[0, at, at + 1]]), g: T.slice(T.randomGumbel([at + 1], s, 7), [[0, at, at + 1]]) }), [{ shape: [1], dtype: 'int64' }]);
    const r = await f(BigInt64Array.of(42n));
    assert.equal((r.u as Float32Array)[0], 1 - 2 ** -24);
    assert.ok(Number.isFinite((r.g as Float32Array)[0]!), `gumbel ${(r.g as Float32Array)[0]}`);
  });
  it('normal and gumbel have the right moments', async () => {
    const f = await T.compile((s) => ({ n: T.randomNormal([20000], s, 1), g: T.randomGumbel([20000], s, 2) }), [{ shape: [1], dtype: 'int64' }]);
    const r = await f(BigInt64Array.of(5n));
    const stats = (a: Float32Array) => { const m = a.reduce((p, q) => p + q) / a.length; const v = a.reduce((p, q) => p + (q - m) ** 2, 0) / a.length; return [m, Math.sqrt(v)]; };
    const [nm, ns] = stats(r.n as Float32Array);
    assert.ok(Math.abs(nm!) < 0.03 && Math.abs(ns! - 1) < 0.03, `normal ${nm} ${ns}`);
    const [gm, gs] = stats(r.g as Float32Array);
    // Gumbel(0,1): mean = Euler–Mascheroni 0.5772, std = π/√6 ≈ 1.2825
    assert.ok(Math.abs(gm! - 0.5772) < 0.04 && Math.abs(gs! - 1.2825) < 0.04, `gumbel ${gm} ${gs}`);
  });
  it('dropout keeps about 1-p and rescales', async () => {
    const f = await T.compile((x, s) => T.dropout(x, 0.25, s, 3, true), [{ shape: [10000] }, { shape: [1], dtype: 'int64' }]);
    const y = (await f(new Float32Array(10000).fill(1), BigInt64Array.of(1n))) as Float32Array;
    const kept = y.filter((v) => v !== 0);
    assert.ok(Math.abs(kept.length / 10000 - 0.75) < 0.02);
    assert.ok(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6));
  });
});

describe('export', () => {
  it('a standalone .onnx with baked weights runs in a bare ONNX Runtime session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-export-'));
    try {
      const W = Float32Array.from({ length: 12 }, (_, i) => i / 10 - 0.5);
      const bvec = Float32Array.of(0.1, -0.2, 0.3);
      const fn = (ins: T.Tensor[], ws: Map<string, T.Tensor>) => T.softmax(T.add(T.matmul(ins[0]!, ws.get('w')!), ws.get('b')!), -1);
      const path = join(dir, 'model.onnx');
      T.exportOnnx(path, fn, [{ name: 'x', shape: [2, 4] }], [{ name: 'w', shape: [4, 3], data: W }, { name: 'b', shape: [3], data: bvec }]);
      const x = Float32Array.from({ length: 8 }, (_, i) => Math.cos(i));
      const session = await ort.InferenceSession.create(path);
      assert.deepEqual(session.inputNames, ['x']);
      const out = await session.run({ x: new ort.Tensor('float32', x, [2, 4]) });
      const ref = await T.compile((xx, w, b) => T.softmax(T.add(T.matmul(xx, w), b), -1), [{ shape: [2, 4] }, { shape: [4, 3] }, { shape: [3] }]);
      close(out.output!.data as Float32Array, (await ref(x, W, bvec)) as Float32Array, 1e-6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('float16', () => {
  it('float16 inputs and outputs round-trip through Cast (computation in float32)', async () => {
    const f = await T.compile((x) => ({ h: T.cast(T.mul(T.cast(x, 'float32'), 2), 'float16') }), [{ shape: [3], dtype: 'float16' }]);
    // 1.0 = 0x3c00, -2.5 = 0xc100, 0.5 = 0x3800 → doubled: 2.0 = 0x4000, -5.0 = 0xc500, 1.0 = 0x3c00
    const r = await f(Uint16Array.of(0x3c00, 0xc100, 0x3800));
    assert.deepEqual(Array.from(r.h as Uint16Array), [0x4000, 0xc500, 0x3c00]);
  });
});
