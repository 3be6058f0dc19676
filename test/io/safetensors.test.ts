// Tests for the safetensors reader/writer: round trips for every dtype, hand-built files, strict validation of
// malformed files (one message per problem), half-precision conversions, and typed-array helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DTYPE_BYTES,
  SAFE_DTYPES,
  bf16BitsToF32Bits,
  f16BitsToF32Bits,
  f16BitsToNumber,
  f32FromSafeTensor,
  f32ToBf16Bits,
  f32ToF16Bits,
  fromFloat32,
  fromTypedArray,
  parseSafetensors,
  readSafetensors,
  readSafetensorsSync,
  serializeSafetensors,
  toTypedArray,
  writeSafetensors,
  writeSafetensorsSync,
  type SafeDType,
  type SafeTensor,
} from '../../src/io/safetensors.js';

// ---- helpers ----------------------------------------------------------------------------------------------

/** Builds a file byte by byte: u64 LE header length, header text, data (independent of the writer). */
function buildFile(header: unknown, data: ArrayLike<number> = [], opts: { headerLength?: bigint; pad?: number } = {}): Uint8Array {
  const text = (typeof header === 'string' ? header : JSON.stringify(header)) + ' '.repeat(opts.pad ?? 0);
  const headerBytes = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + headerBytes.byteLength + data.length);
  new DataView(out.buffer).setBigUint64(0, opts.headerLength ?? BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.byteLength);
  return out;
}

/** Asserts parse fails with a message that starts with the label and matches `re`. */
function assertRejected(bytes: Uint8Array, re: RegExp, label = 'bad.safetensors'): void {
  assert.throws(
    () => parseSafetensors(bytes, label),
    (err: unknown) => {
      assert.ok(err instanceof Error, 'expected an Error');
      assert.ok(err.message.startsWith(`${label}: `), `message should start with the label: ${err.message}`);
      assert.match(err.message, re);
      return true;
    },
  );
}

function withTempDir(fn: (dir: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-st-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const f32Bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0]!;
const bitsF32 = (b: number): number => new Float32Array(new Uint32Array([b]).buffer)[0]!;

/** Independent F16 decode straight from the IEEE definition. */
function f16Reference(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** One sample tensor per dtype with distinctive values (shape [2,3]). */
function sampleTensors(): Record<string, SafeTensor> {
  return {
    f32: fromTypedArray(new Float32Array([1.5, -2, 0, Infinity, -0, 3.25e-5]), [2, 3]),
    f64: fromTypedArray(new Float64Array([Math.PI, -1e300, 5e-324, 0, 1, -1]), [2, 3]),
    f16: fromFloat32([1, -2.5, 65504, 2 ** -24, Infinity, 0.333251953125], [2, 3], 'F16'),
    bf16: fromFloat32([1, -2.5, 3.140625, 1e38, -Infinity, 0], [2, 3], 'BF16'),
    i32: fromTypedArray(new Int32Array([0, -1, 2147483647, -2147483648, 7, 42]), [2, 3]),
    i64: fromTypedArray(new BigInt64Array([0n, -1n, 9223372036854775807n, -9223372036854775808n, 7n, 42n]), [2, 3]),
    u8: fromTypedArray(new Uint8Array([0, 1, 127, 128, 254, 255]), [2, 3]),
    i8: fromTypedArray(new Int8Array([0, -1, 127, -128, 5, -5]), [2, 3]),
    i16: fromTypedArray(new Int16Array([0, -1, 32767, -32768, 5, -5]), [2, 3]),
    u16: fromTypedArray(new Uint16Array([0, 1, 65535, 32768, 5, 500]), [2, 3]),
    bool: fromTypedArray(new Uint8Array([1, 0, 0, 1, 1, 0]), [2, 3], 'BOOL'),
  };
}

// ---- round trips ------------------------------------------------------------------------------------------

test('safetensors: every dtype round-trips through a file with values, shapes and metadata intact', withTempDir(async (dir) => {
  const tensors = sampleTensors();
  assert.deepEqual(new Set(Object.values(tensors).map((t) => t.dtype)), new Set(SAFE_DTYPES));
  const metadata = { format: 'pt', note: 'ünïcode ✓', empty: '' };
  const path = join(dir, 'all.safetensors');
  await writeSafetensors(path, tensors, metadata);

  const back = await readSafetensors(path);
  assert.deepEqual(back.metadata, metadata);
  assert.deepEqual([...back.tensors.keys()].sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const r = back.tensors.get(name)!;
    assert.equal(r.dtype, t.dtype, name);
    assert.deepEqual(r.shape, t.shape, name);
    assert.deepEqual([...r.data], [...t.data], name);
    assert.deepEqual(toTypedArray(r), toTypedArray(t), name);
  }
  assert.deepEqual([...(toTypedArray(back.tensors.get('i64')!) as BigInt64Array)], [0n, -1n, 9223372036854775807n, -9223372036854775808n, 7n, 42n]);
  assert.deepEqual([...f32FromSafeTensor(back.tensors.get('f16')!)], [1, -2.5, 65504, 2 ** -24, Infinity, 0.333251953125]);
  assert.deepEqual([...f32FromSafeTensor(back.tensors.get('bf16')!)].slice(0, 3), [1, -2.5, 3.140625]);
  assert.deepEqual(readdirSync(dir), ['all.safetensors'], 'no temp files left behind');
}));

test('safetensors: sync read/write, Map input, empty tensors and scalars', withTempDir((dir) => {
  const path = join(dir, 'small.safetensors');
  const tensors = new Map<string, SafeTensor>([
    ['scalar', fromTypedArray(new Float32Array([7.5]), [])],
    ['empty', fromTypedArray(new Float32Array(0), [0, 3])],
    ['empty_i64', fromTypedArray(new BigInt64Array(0), [4, 0])],
    ['vec', fromTypedArray(new Int32Array([1, 2, 3]), [3])],
  ]);
  writeSafetensorsSync(path, tensors);
  const back = readSafetensorsSync(path);
  assert.deepEqual(back.metadata, {});
  assert.deepEqual(back.tensors.get('scalar')!.shape, []);
  assert.deepEqual([...(toTypedArray(back.tensors.get('scalar')!) as Float32Array)], [7.5]);
  assert.deepEqual(back.tensors.get('empty')!.shape, [0, 3]);
  assert.equal(back.tensors.get('empty')!.data.byteLength, 0);
  assert.deepEqual(back.tensors.get('empty_i64')!.shape, [4, 0]);
  assert.deepEqual([...(toTypedArray(back.tensors.get('vec')!) as Int32Array)], [1, 2, 3]);
}));

test('safetensors: an empty file set and awkward names round-trip', () => {
  const none = parseSafetensors(serializeSafetensors({}));
  assert.equal(none.tensors.size, 0);
  const names = ['0', '10', '2', '__proto__', 'a.b/c', 'naïve "quoted"', ''];
  const tensors: Record<string, SafeTensor> = {};
  names.forEach((n, i) => Object.defineProperty(tensors, n, { value: fromTypedArray(new Uint8Array([i]), [1]), enumerable: true }));
  const meta: Record<string, string> = {};
  Object.defineProperty(meta, '__proto__', { value: 'kept', enumerable: true });
  const back = parseSafetensors(serializeSafetensors(tensors, meta));
  assert.deepEqual([...back.tensors.keys()].sort(), [...names].sort());
  names.forEach((n, i) => assert.deepEqual([...back.tensors.get(n)!.data], [i]));
  assert.equal(Object.getOwnPropertyDescriptor(back.metadata, '__proto__')?.value, 'kept');
});

// ---- writer layout ----------------------------------------------------------------------------------------

test('safetensors: writer output matches the reference layout byte for byte', () => {
  // save({"test": np.zeros((2, 2), dtype=np.int32)}) in the reference implementation, with test[1,1] = 1.
  const data = new Int32Array([0, 0, 0, 1]);
  const out = serializeSafetensors({ test: fromTypedArray(data, [2, 2]) });
  const json = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}'; // 60 bytes, padded to 64
  const expected = new Uint8Array([0x40, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode(json + '    '), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual(out, expected);
});

test('safetensors: header is padded with spaces to 8 bytes and tensors are contiguous and naturally aligned', () => {
  for (let extra = 0; extra < 9; extra++) {
    const tensors: Record<string, SafeTensor> = {
      ['n'.repeat(extra + 1)]: fromTypedArray(new Uint8Array([1, 2, 3]), [3]),
      z16: fromFloat32([1, 2, 3], [3], 'F16'),
      a64: fromTypedArray(new Float64Array([1]), [1]),
      m32: fromTypedArray(new Int32Array([5, 6, 7]), [3]),
    };
    const bytes = serializeSafetensors(tensors, extra % 2 ? { k: 'v'.repeat(extra) } : undefined);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0, 'header length is a multiple of 8');
    assert.equal((8 + n) % 8, 0, 'data buffer starts 8-aligned');
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.match(headerText, /^\{.*\} *$/);
    const header = JSON.parse(headerText) as Record<string, { dtype: SafeDType; data_offsets: [number, number] }>;
    const infos = Object.entries(header).filter(([k]) => k !== '__metadata__').map(([, v]) => v);
    infos.sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
    let expectedBegin = 0;
    for (const info of infos) {
      assert.equal(info.data_offsets[0], expectedBegin, 'no gaps (the reference reader rejects them)');
      assert.equal(info.data_offsets[0] % DTYPE_BYTES[info.dtype], 0, 'tensor aligned to its element size');
      expectedBegin = info.data_offsets[1];
    }
    assert.equal(8 + n + expectedBegin, bytes.byteLength, 'data buffer ends exactly at the last tensor');
    const keys = Object.keys(header);
    if (extra % 2) assert.equal(keys[0], '__metadata__');
  }
});

test('safetensors: output is independent of insertion order', () => {
  const a = fromTypedArray(new Float32Array([1, 2]), [2]);
  const b = fromTypedArray(new Uint8Array([3]), [1]);
  assert.deepEqual(serializeSafetensors({ a, b }, { x: '1', y: '2' }), serializeSafetensors({ b, a }, { y: '2', x: '1' }));
});

test('safetensors: writer refuses inconsistent tensors', () => {
  assert.throws(() => serializeSafetensors({ x: { dtype: 'F32', shape: [2, 3], data: new Uint8Array(20) } }), {
    message: "tensor 'x': F32 [2,3] needs 24 bytes, data has 20",
  });
  assert.throws(() => serializeSafetensors({ x: { dtype: 'F8' as SafeDType, shape: [1], data: new Uint8Array(1) } }), /unknown dtype 'F8'/);
  assert.throws(() => serializeSafetensors({ x: { dtype: 'U8', shape: [-1], data: new Uint8Array(0) } }), /shape \[-1\]/);
  assert.throws(() => serializeSafetensors({ __metadata__: fromTypedArray(new Uint8Array(1), [1]) }), /reserved/);
  assert.throws(() => serializeSafetensors({}, { k: 1 as unknown as string }), /__metadata__ value for 'k' must be a string/);
});

test('safetensors: a failed write leaves the previous file readable', withTempDir(async (dir) => {
  const path = join(dir, 'm.safetensors');
  await writeSafetensors(path, { a: fromTypedArray(new Float32Array([1]), [1]) });
  const before = readFileSync(path);
  await assert.rejects(writeSafetensors(path, { a: { dtype: 'F32', shape: [2], data: new Uint8Array(4) } }), /needs 8 bytes/);
  assert.deepEqual(readFileSync(path), before);
  assert.deepEqual(readdirSync(dir), ['m.safetensors']);
}));

// ---- reading hand-built files -----------------------------------------------------------------------------

test('safetensors: parses a hand-built file (padding, gaps, metadata, order of entries)', () => {
  const data = [
    ...new Uint8Array(new Float32Array([1, -2]).buffer), // a: bytes 0..8
    0xaa, 0xbb, // unused gap 8..10
    0x00, 0x3c, 0x00, 0xc1, // h: F16 [1, -2.5] at 10..14
    7, // b: U8 at 14..15
  ];
  const header = {
    h: { dtype: 'F16', shape: [2], data_offsets: [10, 14] },
    __metadata__: { framework: 'numpy' },
    a: { dtype: 'F32', shape: [1, 2], data_offsets: [0, 8] },
    b: { dtype: 'U8', shape: [], data_offsets: [14, 15] },
    z: { dtype: 'I64', shape: [0], data_offsets: [15, 15] },
  };
  const file = buildFile(header, data, { pad: 5 });
  const { tensors, metadata } = parseSafetensors(file, 'hand.safetensors');
  assert.deepEqual(metadata, { framework: 'numpy' });
  assert.equal(tensors.size, 4);
  assert.deepEqual(tensors.get('a')!.shape, [1, 2]);
  assert.deepEqual([...f32FromSafeTensor(tensors.get('a')!)], [1, -2]);
  assert.deepEqual([...f32FromSafeTensor(tensors.get('h')!)], [1, -2.5]);
  assert.deepEqual([...tensors.get('b')!.data], [7]);
  assert.equal(tensors.get('z')!.data.byteLength, 0);
  // Data are views into the input, not copies.
  assert.equal(tensors.get('a')!.data.buffer, file.buffer);
  assert.equal(Object.getPrototypeOf(tensors.get('a')!.data), Uint8Array.prototype);
});

test('safetensors: parses the reference implementation\'s example file', () => {
  const json = '{"__metadata__":{"framework":"pt"},"test1":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}       ';
  const file = buildFile(json, new Uint8Array(new Int32Array([1, 2, 3, 4]).buffer));
  const { tensors, metadata } = parseSafetensors(file);
  assert.deepEqual(metadata, { framework: 'pt' });
  assert.deepEqual([...(toTypedArray(tensors.get('test1')!) as Int32Array)], [1, 2, 3, 4]);
});

test('safetensors: Buffer input (as from fs) yields plain Uint8Array views', () => {
  const buf = Buffer.from(serializeSafetensors({ x: fromTypedArray(new Uint8Array([1, 2]), [2]) }));
  const t = parseSafetensors(buf).tensors.get('x')!;
  assert.equal(Object.getPrototypeOf(t.data), Uint8Array.prototype);
  assert.deepEqual(t.data, new Uint8Array([1, 2]));
});

test('safetensors: readSafetensors labels errors with the path', withTempDir(async (dir) => {
  const path = join(dir, 'broken.safetensors');
  writeFileSync(path, new Uint8Array([1, 2, 3]));
  await assert.rejects(readSafetensors(path), (err: Error) => {
    assert.equal(err.message, `${path}: truncated: 3 bytes, need at least 8 for the header length`);
    return true;
  });
  assert.throws(() => readSafetensorsSync(path), (err: Error) => err.message.startsWith(`${path}: truncated`));
}));

// ---- malformed files: one distinct message per problem ----------------------------------------------------

const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
const eightBytes = new Array(8).fill(0);

test('safetensors: refuses a file shorter than 8 bytes', () => {
  assertRejected(new Uint8Array(0), /: truncated: 0 bytes, need at least 8 for the header length$/);
  assertRejected(new Uint8Array(7), /: truncated: 7 bytes, need at least 8 for the header length$/);
});

test('safetensors: refuses a header length beyond the file', () => {
  const file = buildFile({ x: ok }, eightBytes, { headerLength: 1000n });
  assertRejected(file, new RegExp(`: header length 1000 exceeds file size ${file.byteLength}`));
  assertRejected(buildFile('', [], { headerLength: 2n ** 64n - 1n }), /header length 18446744073709551615 exceeds the 100000000-byte limit/);
});

test('safetensors: refuses a header over 100 MB', () => {
  assertRejected(buildFile('{}', [], { headerLength: 100_000_001n }), /: header length 100000001 exceeds the 100000000-byte limit$/);
});

test('safetensors: refuses a header that is not valid UTF-8', () => {
  const file = buildFile('{"x":1}');
  file[10] = 0xff;
  assertRejected(file, /: header is not valid UTF-8$/);
});

test('safetensors: refuses a header that is not valid JSON', () => {
  assertRejected(buildFile('{"x": {'), /: header is not valid JSON: /);
  assertRejected(buildFile(''), /: header is not valid JSON: /);
  assertRejected(buildFile('{}\0\0\0'), /: header is not valid JSON: /);
});

test('safetensors: refuses a header that is not an object', () => {
  assertRejected(buildFile('[]'), /: header is not a JSON object \(got \[\]\)$/);
  assertRejected(buildFile('null'), /: header is not a JSON object \(got null\)$/);
  assertRejected(buildFile('"str"'), /: header is not a JSON object \(got "str"\)$/);
});

test('safetensors: refuses tensor entries with missing fields or wrong types', () => {
  assertRejected(buildFile({ x: 5 }), /: tensor 'x' entry must be an object \(got 5\)$/);
  assertRejected(buildFile({ x: { shape: [2], data_offsets: [0, 8] } }, eightBytes), /: tensor 'x' is missing 'dtype'$/);
  assertRejected(buildFile({ x: { dtype: 'F32', data_offsets: [0, 8] } }, eightBytes), /: tensor 'x' is missing 'shape'$/);
  assertRejected(buildFile({ x: { dtype: 'F32', shape: [2] } }, eightBytes), /: tensor 'x' is missing 'data_offsets'$/);
  assertRejected(buildFile({ x: { ...ok, dtype: 3 } }, eightBytes), /: tensor 'x' dtype must be a string \(got 3\)$/);
  assertRejected(buildFile({ x: { ...ok, shape: '2' } }, eightBytes), /: tensor 'x' shape must be an array \(got "2"\)$/);
});

test('safetensors: refuses an unknown dtype, naming tensor and dtype', () => {
  assertRejected(buildFile({ w: { ...ok, dtype: 'F8_E4M3' } }, eightBytes), /: tensor 'w' has unknown dtype 'F8_E4M3'/);
  assertRejected(buildFile({ w: { ...ok, dtype: 'float32' } }, eightBytes), /: tensor 'w' has unknown dtype 'float32'/);
});

test('safetensors: refuses negative or non-integer shape dimensions', () => {
  assertRejected(buildFile({ x: { ...ok, shape: [-2] } }, eightBytes), /: tensor 'x' shape \[-2\]: dimension -2 is not a non-negative integer$/);
  assertRejected(buildFile({ x: { ...ok, shape: [2.5] } }, eightBytes), /: tensor 'x' shape \[2\.5\]: dimension 2\.5 is not a non-negative integer$/);
  assertRejected(buildFile({ x: { ...ok, shape: ['2'] } }, eightBytes), /dimension "2" is not a non-negative integer$/);
});

test('safetensors: refuses malformed data_offsets', () => {
  const bad = (data_offsets: unknown) => buildFile({ x: { ...ok, data_offsets } }, eightBytes);
  const re = /: tensor 'x' data_offsets must be two non-negative integers \[begin, end\]/;
  assertRejected(bad([0]), /: tensor 'x' data_offsets must be two non-negative integers \[begin, end\] \(got \[0\]\)$/);
  assertRejected(bad([0, 8, 9]), re);
  assertRejected(bad([-1, 7]), re);
  assertRejected(bad([0, 7.5]), re);
  assertRejected(bad({ begin: 0, end: 8 }), re);
  assertRejected(bad([8, 0]), /: tensor 'x' data_offsets \[8,0\] have begin > end$/);
});

test('safetensors: refuses offsets beyond the data buffer', () => {
  assertRejected(buildFile({ x: { ...ok, data_offsets: [4, 12] } }, eightBytes), /: tensor 'x' data_offsets \[4,12\] out of range: data buffer is 8 bytes$/);
});

test('safetensors: refuses overlapping tensors but allows gaps and empty tensors anywhere', () => {
  const header = {
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
  };
  assertRejected(buildFile(header, new Array(12).fill(0)), /: tensors 'a' and 'b' overlap$/);
  const nested = {
    big: { dtype: 'U8', shape: [10], data_offsets: [0, 10] },
    inner: { dtype: 'U8', shape: [2], data_offsets: [8, 10] },
  };
  assertRejected(buildFile(nested, new Array(10).fill(0)), /: tensors 'big' and 'inner' overlap$/);
  const fine = {
    a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] },
    e: { dtype: 'F32', shape: [0], data_offsets: [1, 1] },
    b: { dtype: 'U8', shape: [2], data_offsets: [6, 8] },
  };
  assert.equal(parseSafetensors(buildFile(fine, new Array(10).fill(0))).tensors.size, 3);
});

test('safetensors: refuses a size mismatch between dtype x shape and the byte range', () => {
  const file = buildFile({ x: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Array(24).fill(0));
  assertRejected(file, /: tensor 'x': F32 \[2,3\] needs 24 bytes, data_offsets give 20$/);
  const huge = buildFile({ x: { dtype: 'F64', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, eightBytes);
  assertRejected(huge, /: tensor 'x': F64 \[1099511627776,1099511627776\] needs 9671406556917033397649408 bytes, data_offsets give 8$/);
});

test('safetensors: refuses __metadata__ that is not string to string', () => {
  assertRejected(buildFile({ __metadata__: { n: 1 } }), /: __metadata__ value for 'n' must be a string \(got 1\)$/);
  assertRejected(buildFile({ __metadata__: ['a'] }), /: __metadata__ must be an object of string values \(got \["a"\]\)$/);
  assertRejected(buildFile({ __metadata__: 'x' }), /: __metadata__ must be an object of string values/);
});

test('safetensors: each malformed-file problem has its own message', () => {
  const messages = [
    () => parseSafetensors(new Uint8Array(3)),
    () => parseSafetensors(buildFile('{}', [], { headerLength: 99n })),
    () => parseSafetensors(buildFile('{}', [], { headerLength: 200_000_000n })),
    () => parseSafetensors(buildFile('{')),
    () => parseSafetensors(buildFile('[]')),
    () => parseSafetensors(buildFile({ x: {} })),
    () => parseSafetensors(buildFile({ x: { ...ok, dtype: 'Q4' } }, eightBytes)),
    () => parseSafetensors(buildFile({ x: { ...ok, shape: [-1] } }, eightBytes)),
    () => parseSafetensors(buildFile({ x: { ...ok, data_offsets: [0] } }, eightBytes)),
    () => parseSafetensors(buildFile({ x: { ...ok, data_offsets: [0, 80] } }, eightBytes)),
    () => parseSafetensors(buildFile({ x: { ...ok, data_offsets: [0, 4] } }, eightBytes)),
    () => parseSafetensors(buildFile({ x: ok, y: ok }, eightBytes)),
    () => parseSafetensors(buildFile({ __metadata__: { a: null } })),
  ].map((fn) => {
    try {
      fn();
    } catch (err) {
      return (err as Error).message.replace(/[0-9]+/g, '#').replace(/'[^']*'/g, "'_'").split(/[:(]/).slice(0, 2).join(':');
    }
    return assert.fail('expected a rejection');
  });
  assert.equal(new Set(messages).size, messages.length, messages.join('\n'));
});

// ---- half precision ---------------------------------------------------------------------------------------

test('f16: known bit patterns decode and encode', () => {
  const known: Array<[number, number]> = [
    [0x3c00, 1],
    [0xc100, -2.5],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x0400, 2 ** -14],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
    [0x0000, 0],
    [0x3555, 0.333251953125],
  ];
  for (const [bits, value] of known) {
    assert.equal(f16BitsToNumber(bits), value, `decode 0x${bits.toString(16)}`);
    assert.equal(f32ToF16Bits(value), bits, `encode ${value}`);
  }
  assert.ok(Object.is(f16BitsToNumber(0x8000), -0));
  assert.equal(f32ToF16Bits(-0), 0x8000);
  assert.ok(Number.isNaN(f16BitsToNumber(0x7e00)));
  assert.ok(Number.isNaN(f16BitsToNumber(0xfc01)));
  const nanBits = f32ToF16Bits(NaN);
  assert.equal(nanBits & 0x7c00, 0x7c00);
  assert.notEqual(nanBits & 0x3ff, 0);
  assert.notEqual(f32ToF16Bits(bitsF32(0x7f800001)) & 0x3ff, 0, 'signalling NaN with low payload stays NaN');
});

test('f16: rounding is to nearest, ties to even', () => {
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00, 'tie between 1 and next: even (down)');
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02, 'tie: even (up)');
  assert.equal(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20), 0x3c01, 'just above the tie: up');
  assert.equal(f32ToF16Bits(65519), 0x7bff, 'below the overflow tie stays finite');
  assert.equal(f32ToF16Bits(65520), 0x7c00, 'overflow tie rounds to even: inf');
  assert.equal(f32ToF16Bits(1e6), 0x7c00);
  assert.equal(f32ToF16Bits(-1e6), 0xfc00);
  assert.equal(f32ToF16Bits(2 ** -25), 0x0000, 'half the smallest subnormal: tie to even (zero)');
  assert.equal(f32ToF16Bits(2 ** -25 * 1.0001), 0x0001);
  assert.equal(f32ToF16Bits(3 * 2 ** -25), 0x0002, 'subnormal tie 1.5 ulp: even (up)');
  assert.equal(f32ToF16Bits(5 * 2 ** -25), 0x0002, 'subnormal tie 2.5 ulp: even (down)');
  assert.equal(f32ToF16Bits(2 ** -14 - 2 ** -26), 0x0400, 'largest subnormal rounds up into the smallest normal');
  assert.equal(f32ToF16Bits(2 ** -30), 0x0000);
  assert.equal(f32ToF16Bits(bitsF32(1)), 0x0000, 'float32 subnormal underflows to zero');
  assert.equal(f32ToF16Bits(-(2 ** -30)), 0x8000);
});

test('f16: all 65536 bit patterns decode exactly and re-encode to themselves', () => {
  for (let h = 0; h < 0x10000; h++) {
    const ref = f16Reference(h);
    const got = bitsF32(f16BitsToF32Bits(h));
    if (Number.isNaN(ref)) {
      assert.ok(Number.isNaN(got), `0x${h.toString(16)}`);
      assert.equal(f32ToF16Bits(got), h | 0x200, 'NaN payload kept, quiet bit set');
    } else {
      if (!Object.is(got, ref)) assert.fail(`decode 0x${h.toString(16)}: ${got} != ${ref}`);
      if (f32ToF16Bits(got) !== h) assert.fail(`re-encode 0x${h.toString(16)}`);
    }
  }
});

test('f16: encoding picks the nearest half for midpoints and near-midpoints across the range', () => {
  for (let h = 0; h < 0x7bff; h += 7) {
    const lo = f16Reference(h);
    const hi = f16Reference(h + 1);
    const mid = (lo + hi) / 2; // exactly representable in float32
    const even = (h & 1) === 0 ? h : h + 1;
    assert.equal(f32ToF16Bits(mid), even, `tie between 0x${h.toString(16)} and next`);
    assert.equal(f32ToF16Bits(-mid), even | 0x8000);
    assert.equal(f32ToF16Bits(bitsF32(f32Bits(mid) - 1)), h, 'just below the tie');
    assert.equal(f32ToF16Bits(bitsF32(f32Bits(mid) + 1)), h + 1, 'just above the tie');
  }
});

test('bf16: known bit patterns and round to nearest even', () => {
  assert.equal(f32ToBf16Bits(1), 0x3f80);
  assert.equal(f32ToBf16Bits(-2.5), 0xc020);
  assert.equal(f32ToBf16Bits(Infinity), 0x7f80);
  assert.equal(f32ToBf16Bits(-Infinity), 0xff80);
  assert.equal(f32ToBf16Bits(-0), 0x8000);
  assert.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80, 'tie: even (down)');
  assert.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82, 'tie: even (up)');
  assert.equal(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81, 'above the tie: up');
  assert.equal(f32ToBf16Bits(bitsF32(0x7f7fffff)), 0x7f80, 'max float rounds to inf');
  assert.equal(f32ToBf16Bits(bitsF32(1)), 0x0000, 'tiny subnormal rounds to zero');
  const nan = f32ToBf16Bits(bitsF32(0x7f800001));
  assert.equal(nan & 0x7f80, 0x7f80);
  assert.notEqual(nan & 0x7f, 0, 'NaN with a low payload stays NaN');
  assert.equal(bitsF32(bf16BitsToF32Bits(0x4049)), 3.140625);
  for (let b = 0; b < 0x10000; b++) {
    const v = bitsF32(bf16BitsToF32Bits(b));
    if (Number.isNaN(v)) continue;
    if (f32ToBf16Bits(v) !== b) assert.fail(`bf16 0x${b.toString(16)} does not re-encode`);
  }
});

test('f32FromSafeTensor converts F16, BF16, F64 and F32; refuses integers', () => {
  const f16 = fromTypedArray(new Uint16Array([0x3c00, 0xc100, 0x0001, 0x7c00, 0x7e00]), [5], 'F16');
  const out = f32FromSafeTensor(f16);
  assert.deepEqual([...out].slice(0, 4), [1, -2.5, 2 ** -24, Infinity]);
  assert.ok(Number.isNaN(out[4]!));
  assert.deepEqual([...f32FromSafeTensor(fromFloat32([1, -2.5, 0.1], [3], 'BF16'))], [1, -2.5, bitsF32(0x3dcd0000)]);
  assert.deepEqual([...f32FromSafeTensor(fromTypedArray(new Float64Array([0.1, 1e300]), [2]))], [Math.fround(0.1), Infinity]);
  assert.throws(() => f32FromSafeTensor(fromTypedArray(new Int32Array([1]), [1])), /cannot convert a I32 tensor to float32/);
});

// ---- typed-array helpers ----------------------------------------------------------------------------------

test('fromTypedArray picks the dtype from the array type and checks the shape', () => {
  const cases: Array<[ReturnType<typeof toTypedArray>, SafeDType]> = [
    [new Float32Array(2), 'F32'],
    [new Float64Array(2), 'F64'],
    [new Int32Array(2), 'I32'],
    [new BigInt64Array(2), 'I64'],
    [new Uint8Array(2), 'U8'],
    [new Int8Array(2), 'I8'],
    [new Int16Array(2), 'I16'],
    [new Uint16Array(2), 'U16'],
  ];
  for (const [arr, dtype] of cases) {
    const t = fromTypedArray(arr, [2, 1]);
    assert.equal(t.dtype, dtype);
    assert.equal(t.data.byteLength, 2 * DTYPE_BYTES[dtype]);
  }
  assert.equal(fromTypedArray(Buffer.from([1]), [1]).dtype, 'U8');
  assert.throws(() => fromTypedArray(new Float32Array(3), [2]), /shape \[2\] has 2 elements, array has 3/);
  assert.throws(() => fromTypedArray(new Float32Array(3), [3], 'F16'), /Float32Array cannot hold F16 data \(use Uint16Array\)/);
  assert.throws(() => fromFloat32([1, 2], [3]), /shape \[3\] has 3 elements, array has 2/);
});

test('toTypedArray returns a view when aligned and a copy when misaligned', () => {
  const backing = new Uint8Array(13);
  new Float32Array(backing.buffer, 4, 2).set([1.5, -3]);
  const aligned: SafeTensor = { dtype: 'F32', shape: [2], data: backing.subarray(4, 12) };
  const view = toTypedArray(aligned) as Float32Array;
  assert.deepEqual([...view], [1.5, -3]);
  assert.equal(view.buffer, backing.buffer, 'aligned: shares memory');

  const shifted = new Uint8Array(13);
  shifted.set(backing.subarray(4, 12), 1);
  const misaligned: SafeTensor = { dtype: 'F32', shape: [2], data: shifted.subarray(1, 9) };
  const copy = toTypedArray(misaligned) as Float32Array;
  assert.deepEqual([...copy], [1.5, -3]);
  assert.notEqual(copy.buffer, shifted.buffer, 'misaligned: copied');

  assert.ok(toTypedArray(fromFloat32([1], [1], 'F16')) instanceof Uint16Array);
  assert.ok(toTypedArray(fromFloat32([1], [1], 'BF16')) instanceof Uint16Array);
  assert.ok(toTypedArray(fromTypedArray(new Uint8Array([1]), [1], 'BOOL')) instanceof Uint8Array);
});

test('fromFloat32 shares memory for F32 input and rounds for F16/BF16', () => {
  const values = new Float32Array([1, 2]);
  const t = fromFloat32(values, [2]);
  assert.equal(t.dtype, 'F32');
  assert.equal(t.data.buffer, values.buffer);
  assert.deepEqual([...(toTypedArray(fromFloat32([1 + 2 ** -11, 65520], [2], 'F16')) as Uint16Array)], [0x3c00, 0x7c00]);
  assert.deepEqual([...(toTypedArray(fromFloat32([1 + 3 * 2 ** -8], [1], 'BF16')) as Uint16Array)], [0x3f82]);
});
