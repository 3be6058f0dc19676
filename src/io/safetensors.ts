// The safetensors weight format (https://github.com/huggingface/safetensors): strict, bounds-checked reading,
// writing compatible with the reference implementation, and conversions between tensors and typed arrays.
//
// Layout: u64 little-endian header length N | N bytes of UTF-8 JSON header | data buffer.
// Header: { "<name>": { "dtype", "shape", "data_offsets": [begin, end] }, "__metadata__"?: { string: string } },
// offsets relative to the start of the data buffer.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { writeFileAtomic, writeFileAtomicSync } from './atomic.js';

export type SafeDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I32' | 'I64' | 'U8' | 'I8' | 'I16' | 'U16' | 'BOOL';

/** One tensor: raw little-endian element bytes (usually a view into the file's buffer) plus dtype and shape. */
export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** Typed array returned by toTypedArray (F16/BF16 come back as their raw Uint16 bits). */
export type SafeTypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array;

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<SafeDType, number>> = {
  F64: 8,
  I64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
  I16: 2,
  U16: 2,
  U8: 1,
  I8: 1,
  BOOL: 1,
};

export const SAFE_DTYPES = Object.keys(DTYPE_BYTES) as SafeDType[];

/** Same limit as the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

/** A malformed safetensors file (or an invalid tensor handed to the writer). */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

export function isSafeDType(value: unknown): value is SafeDType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, value);
}

// ---------------------------------------------------------------------------------------------------------
// Reading

/**
 * Parses a whole safetensors file held in memory. Tensor data are views into `bytes` (no copy).
 * Every malformed input is refused with a SafetensorsError whose message starts with `fileLabel`.
 */
export function parseSafetensors(bytes: Uint8Array, fileLabel = '<buffer>'): SafetensorsFile {
  const fail = (problem: string): never => {
    throw new SafetensorsError(`${fileLabel}: ${problem}`);
  };
  const plain = asPlainBytes(bytes);
  const headerLength = readHeaderLength(plain, fail);
  const header = decodeHeader(plain.subarray(8, 8 + headerLength), fail);
  const dataStart = 8 + headerLength;
  const dataLength = plain.byteLength - dataStart;

  const metadata = parseMetadata(header[METADATA_KEY], fail);
  const entries: Array<{ name: string; info: TensorInfo }> = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    entries.push({ name, info: parseTensorInfo(name, raw, dataLength, fail) });
  }
  checkNoOverlap(entries, fail);

  const tensors = new Map<string, SafeTensor>();
  for (const { name, info } of entries) {
    const [begin, end] = info.offsets;
    tensors.set(name, { dtype: info.dtype, shape: info.shape, data: plain.subarray(dataStart + begin, dataStart + end) });
  }
  return { tensors, metadata };
}

/** Reads and parses a safetensors file (files over 2 GiB are fine; the file is read in chunks). */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readWholeFile(path), path);
}

/** Synchronous twin of readSafetensors. */
export function readSafetensorsSync(path: string): SafetensorsFile {
  return parseSafetensors(readWholeFileSync(path), path);
}

type Fail = (problem: string) => never;

interface TensorInfo {
  dtype: SafeDType;
  shape: number[];
  offsets: [number, number];
}

function readHeaderLength(bytes: Uint8Array, fail: Fail): number {
  if (bytes.byteLength < 8) fail(`truncated: ${bytes.byteLength} bytes, need at least 8 for the header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const length = Number(n);
  if (8 + length > bytes.byteLength) {
    fail(`header length ${length} exceeds file size ${bytes.byteLength} (8 + ${length} bytes needed)`);
  }
  return length;
}

function decodeHeader(headerBytes: Uint8Array, fail: Fail): Record<string, unknown> {
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    fail('header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    fail(`header is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    fail(`header is not a JSON object (got ${describeJson(parsed)})`);
  }
  return parsed as Record<string, unknown>;
}

function parseMetadata(raw: unknown, fail: Fail): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(`__metadata__ must be an object of string values (got ${describeJson(raw)})`);
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  for (const [key, value] of entries) {
    if (typeof value !== 'string') fail(`__metadata__ value for '${key}' must be a string (got ${describeJson(value)})`);
  }
  // fromEntries defines own properties, so even a "__proto__" key stays plain data.
  return Object.fromEntries(entries) as Record<string, string>;
}

function parseTensorInfo(name: string, raw: unknown, dataLength: number, fail: Fail): TensorInfo {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(`tensor '${name}' entry must be an object (got ${describeJson(raw)})`);
  }
  const entry = raw as Record<string, unknown>;
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.prototype.hasOwnProperty.call(entry, field)) fail(`tensor '${name}' is missing '${field}'`);
  }
  const dtype = parseDType(name, entry.dtype, fail);
  const shape = parseShape(name, entry.shape, fail);
  const offsets = parseOffsets(name, entry.data_offsets, fail);

  const [begin, end] = offsets;
  if (end > dataLength) {
    fail(`tensor '${name}' data_offsets [${begin},${end}] out of range: data buffer is ${dataLength} bytes`);
  }
  const needed = byteSizeBig(dtype, shape);
  if (needed !== BigInt(end - begin)) {
    fail(`tensor '${name}': ${dtype} [${shape.join(',')}] needs ${needed} bytes, data_offsets give ${end - begin}`);
  }
  return { dtype, shape, offsets };
}

function parseDType(name: string, raw: unknown, fail: Fail): SafeDType {
  if (typeof raw !== 'string') fail(`tensor '${name}' dtype must be a string (got ${describeJson(raw)})`);
  if (!isSafeDType(raw)) {
    fail(`tensor '${name}' has unknown dtype '${String(raw)}' (supported: ${SAFE_DTYPES.join(', ')})`);
  }
  return raw as SafeDType;
}

function parseShape(name: string, raw: unknown, fail: Fail): number[] {
  if (!Array.isArray(raw)) fail(`tensor '${name}' shape must be an array (got ${describeJson(raw)})`);
  const shape = raw as unknown[];
  for (const dim of shape) {
    if (!isNonNegativeInteger(dim)) {
      fail(`tensor '${name}' shape ${JSON.stringify(shape)}: dimension ${JSON.stringify(dim)} is not a non-negative integer`);
    }
  }
  return shape as number[];
}

function parseOffsets(name: string, raw: unknown, fail: Fail): [number, number] {
  const ok = Array.isArray(raw) && raw.length === 2 && isNonNegativeInteger(raw[0]) && isNonNegativeInteger(raw[1]);
  if (!ok) fail(`tensor '${name}' data_offsets must be two non-negative integers [begin, end] (got ${describeJson(raw)})`);
  const [begin, end] = raw as [number, number];
  if (begin > end) fail(`tensor '${name}' data_offsets [${begin},${end}] have begin > end`);
  return [begin, end];
}

/** Gaps between tensors are allowed; two tensors sharing any byte are not. Empty tensors occupy no bytes. */
function checkNoOverlap(entries: Array<{ name: string; info: TensorInfo }>, fail: Fail): void {
  const occupied = entries
    .filter((e) => e.info.offsets[1] > e.info.offsets[0])
    .sort((a, b) => a.info.offsets[0] - b.info.offsets[0] || a.info.offsets[1] - b.info.offsets[1]);
  let furthest: { name: string; end: number } | undefined;
  for (const { name, info } of occupied) {
    if (furthest !== undefined && info.offsets[0] < furthest.end) {
      fail(`tensors '${furthest.name}' and '${name}' overlap`);
    }
    if (furthest === undefined || info.offsets[1] > furthest.end) furthest = { name, end: info.offsets[1] };
  }
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describeJson(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  const text = JSON.stringify(value);
  if (text.length <= 40) return text;
  return Array.isArray(value) ? `an array of ${value.length} items` : `a long ${typeof value}`;
}

/** A plain Uint8Array view of the same memory (a Buffer's subarray would otherwise be a Buffer). */
function asPlainBytes(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const READ_CHUNK_BYTES = 1 << 30;

async function readWholeFile(path: string): Promise<Uint8Array> {
  const handle = await fsp.open(path, 'r');
  try {
    const { size } = await handle.stat();
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(bytes, done, Math.min(READ_CHUNK_BYTES, size - done), done);
      if (bytesRead === 0) break; // file shrank while reading: parse what we have (the parser bounds-checks)
      done += bytesRead;
    }
    return done === size ? bytes : bytes.subarray(0, done);
  } finally {
    await handle.close();
  }
}

function readWholeFileSync(path: string): Uint8Array {
  const fd = fs.openSync(path, 'r');
  try {
    const { size } = fs.fstatSync(fd);
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const bytesRead = fs.readSync(fd, bytes, done, Math.min(READ_CHUNK_BYTES, size - done), done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === size ? bytes : bytes.subarray(0, done);
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Writing

export type SafeTensorSet = Record<string, SafeTensor> | ReadonlyMap<string, SafeTensor>;

/**
 * Serializes tensors to a safetensors file image. As in the reference writer, the header JSON is padded with
 * spaces so the data buffer starts 8-byte aligned, and tensors are laid out contiguously (no gaps, which the
 * reference reader requires) ordered by element size, largest first, then by name, so every tensor's data is
 * aligned to its element size. Header keys are sorted ("__metadata__" first).
 */
export function serializeSafetensors(tensors: SafeTensorSet, metadata?: Record<string, string>): Uint8Array {
  const chunks = layoutSafetensors(tensors, metadata);
  const total = chunks.reduce((sum, c) => sum + c.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Atomically writes a safetensors file (tensor data are streamed, not concatenated in memory). */
export async function writeSafetensors(path: string, tensors: SafeTensorSet, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomic(path, layoutSafetensors(tensors, metadata));
}

/** Synchronous twin of writeSafetensors. */
export function writeSafetensorsSync(path: string, tensors: SafeTensorSet, metadata?: Record<string, string>): void {
  writeFileAtomicSync(path, layoutSafetensors(tensors, metadata));
}

/** The file as a list of chunks: [length + header, tensor data...]. */
function layoutSafetensors(tensors: SafeTensorSet, metadata: Record<string, string> | undefined): Uint8Array[] {
  const named = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)) as Array<[string, SafeTensor]>;
  for (const [name, t] of named) checkTensorForWrite(name, t);
  checkMetadataForWrite(metadata);

  const dataOrder = [...named].sort(
    ([an, at], [bn, bt]) => DTYPE_BYTES[bt.dtype] - DTYPE_BYTES[at.dtype] || compareStrings(an, bn),
  );
  const entries = new Map<string, unknown>();
  let offset = 0;
  for (const [name, t] of dataOrder) {
    entries.set(name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] });
    offset += t.data.byteLength;
  }

  const headerEntries: Array<[string, unknown]> = [];
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    headerEntries.push([METADATA_KEY, Object.fromEntries(sortedEntries(Object.entries(metadata)))]);
  }
  headerEntries.push(...sortedEntries([...entries.entries()]));

  return [encodeHeader(headerEntries), ...dataOrder.map(([, t]) => t.data)];
}

/** Header JSON with keys in the given order (written by hand: JS objects reorder integer-like keys). */
function encodeHeader(entries: Array<[string, unknown]>): Uint8Array {
  const text = `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;
  const json = new TextEncoder().encode(text);
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded > MAX_HEADER_BYTES) throw new SafetensorsError(`header would be ${padded} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
  const out = new Uint8Array(8 + padded).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

function checkTensorForWrite(name: string, t: SafeTensor): void {
  if (name === METADATA_KEY) throw new SafetensorsError(`tensor name '${METADATA_KEY}' is reserved`);
  if (!isSafeDType(t.dtype)) throw new SafetensorsError(`tensor '${name}' has unknown dtype '${String(t.dtype)}'`);
  if (!Array.isArray(t.shape) || !t.shape.every(isNonNegativeInteger)) {
    throw new SafetensorsError(`tensor '${name}' shape ${JSON.stringify(t.shape)} must be non-negative integers`);
  }
  if (!(t.data instanceof Uint8Array)) throw new SafetensorsError(`tensor '${name}' data must be a Uint8Array`);
  const needed = byteSizeBig(t.dtype, t.shape);
  if (needed !== BigInt(t.data.byteLength)) {
    throw new SafetensorsError(`tensor '${name}': ${t.dtype} [${t.shape.join(',')}] needs ${needed} bytes, data has ${t.data.byteLength}`);
  }
}

function checkMetadataForWrite(metadata: Record<string, string> | undefined): void {
  if (metadata === undefined) return;
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new SafetensorsError(`__metadata__ value for '${key}' must be a string`);
  }
}

function sortedEntries<T>(entries: Array<[string, T]>): Array<[string, T]> {
  return entries.sort(([a], [b]) => compareStrings(a, b));
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------
// Sizes and typed-array conversions

/** Number of elements of a shape ([] is a scalar: 1 element). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Byte size of a tensor of this dtype and shape. */
export function byteSize(dtype: SafeDType, shape: readonly number[]): number {
  return elementCount(shape) * DTYPE_BYTES[dtype];
}

function byteSizeBig(dtype: SafeDType, shape: readonly number[]): bigint {
  return shape.reduce((n, d) => n * BigInt(d), BigInt(DTYPE_BYTES[dtype]));
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type TypedArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): SafeTypedArray; BYTES_PER_ELEMENT: number };

const TYPED_ARRAY_FOR: Record<SafeDType, TypedArrayCtor> = {
  F32: Float32Array,
  F64: Float64Array,
  I32: Int32Array,
  I64: BigInt64Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
  I8: Int8Array,
  I16: Int16Array,
  U16: Uint16Array,
  F16: Uint16Array,
  BF16: Uint16Array,
};

/**
 * The tensor's elements as a typed array of the matching type (F16/BF16: raw Uint16 bits; BOOL: Uint8Array).
 * A view sharing memory with `t.data` when its byte offset is aligned; a copy otherwise.
 */
export function toTypedArray(t: SafeTensor): SafeTypedArray {
  const Ctor = TYPED_ARRAY_FOR[t.dtype];
  if (Ctor === undefined) throw new SafetensorsError(`unknown dtype '${String(t.dtype)}'`);
  const width = Ctor.BYTES_PER_ELEMENT;
  if (t.data.byteLength % width !== 0) {
    throw new SafetensorsError(`${t.dtype} data of ${t.data.byteLength} bytes is not a whole number of elements`);
  }
  const aligned = t.data.byteOffset % width === 0;
  const bytes = aligned && (HOST_IS_LITTLE_ENDIAN || width === 1) ? t.data : t.data.slice();
  if (!HOST_IS_LITTLE_ENDIAN) swapBytesInPlace(bytes, width);
  return new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / width);
}

/** Float32 values of a floating-point tensor (F32: may be a view of t.data; F16/BF16/F64: converted copy). */
export function f32FromSafeTensor(t: SafeTensor): Float32Array {
  switch (t.dtype) {
    case 'F32':
      return toTypedArray(t) as Float32Array;
    case 'F64':
      return Float32Array.from(toTypedArray(t) as Float64Array);
    case 'F16':
      return f16BitsToFloat32(toTypedArray(t) as Uint16Array);
    case 'BF16':
      return bf16BitsToFloat32(toTypedArray(t) as Uint16Array);
    default:
      throw new SafetensorsError(`cannot convert a ${t.dtype} tensor to float32 (expected F32, F16, BF16 or F64)`);
  }
}

/**
 * A tensor from float values: F32 (a view of `values` when it is a Float32Array), or F16/BF16 rounded to nearest,
 * ties to even. Plain numbers are first rounded to float32.
 */
export function fromFloat32(values: Float32Array | ArrayLike<number>, shape: number[], dtype: 'F32' | 'F16' | 'BF16' = 'F32'): SafeTensor {
  const f32 = values instanceof Float32Array ? values : Float32Array.from(values);
  checkElementCount(f32.length, shape);
  switch (dtype) {
    case 'F32':
      return fromTypedArray(f32, shape);
    case 'F16':
      return fromTypedArray(float32ToF16Bits(f32), shape, 'F16');
    case 'BF16':
      return fromTypedArray(float32ToBf16Bits(f32), shape, 'BF16');
    default:
      throw new SafetensorsError(`fromFloat32 cannot produce dtype '${String(dtype)}'`);
  }
}

/**
 * A tensor whose dtype follows the array type (Float32Array→F32, Float64Array→F64, Int32Array→I32,
 * BigInt64Array→I64, Uint8Array→U8, Int8Array→I8, Int16Array→I16, Uint16Array→U16). `dtype` overrides it
 * where the same array type holds several dtypes: Uint16Array for F16/BF16 bits, Uint8Array for BOOL.
 * The tensor's data share memory with `arr` (on little-endian hosts).
 */
export function fromTypedArray(arr: SafeTypedArray, shape: number[], dtype?: SafeDType): SafeTensor {
  const chosen = dtype ?? defaultDType(arr);
  if (!(arr instanceof TYPED_ARRAY_FOR[chosen])) {
    throw new SafetensorsError(`a ${arr.constructor.name} cannot hold ${chosen} data (use ${TYPED_ARRAY_FOR[chosen].name})`);
  }
  checkElementCount(arr.length, shape);
  let data = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  if (!HOST_IS_LITTLE_ENDIAN && arr.BYTES_PER_ELEMENT > 1) {
    data = data.slice();
    swapBytesInPlace(data, arr.BYTES_PER_ELEMENT);
  }
  return { dtype: chosen, shape: [...shape], data };
}

function defaultDType(arr: SafeTypedArray): SafeDType {
  if (arr instanceof Float32Array) return 'F32';
  if (arr instanceof Float64Array) return 'F64';
  if (arr instanceof Int32Array) return 'I32';
  if (arr instanceof BigInt64Array) return 'I64';
  if (arr instanceof Uint8Array) return 'U8';
  if (arr instanceof Int8Array) return 'I8';
  if (arr instanceof Int16Array) return 'I16';
  if (arr instanceof Uint16Array) return 'U16';
  throw new SafetensorsError(`no safetensors dtype for ${(arr as object).constructor.name}`);
}

function checkElementCount(length: number, shape: readonly number[]): void {
  if (!shape.every(isNonNegativeInteger)) throw new SafetensorsError(`shape ${JSON.stringify(shape)} must be non-negative integers`);
  const count = elementCount(shape);
  if (count !== length) throw new SafetensorsError(`shape [${shape.join(',')}] has ${count} elements, array has ${length}`);
}

function swapBytesInPlace(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i < bytes.byteLength; i += width) bytes.subarray(i, i + width).reverse();
}

// ---------------------------------------------------------------------------------------------------------
// Half-precision bit conversions

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** IEEE binary16 bits → float32 bits (exact: every half value is a float). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / NaN (payload kept)
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // normal: rebias 15 → 127
  if (mant === 0) return sign >>> 0; // ±0
  // Subnormal: value = mant × 2^-24; normalize so the leading 1 becomes the implicit bit.
  let e = 113; // exponent field of 2^-14
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e -= 1;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

/** One half-precision bit pattern as a number. */
export function f16BitsToNumber(h: number): number {
  scratchU32[0] = f16BitsToF32Bits(h);
  return scratchF32[0]!;
}

/** float32 → IEEE binary16 bits, round to nearest, ties to even; overflow → ±inf; NaN stays NaN. */
export function f32ToF16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13); // inf / quiet NaN
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) return sign | roundSubnormal(mant | 0x800000, 14 - e);
  return sign | roundShift((e << 23) | mant, 13); // a mantissa carry rolls into the exponent (up to inf), as it should
}

/** (bits >> shift) rounded to nearest, ties to even. */
function roundShift(bits: number, shift: number): number {
  const kept = bits >>> shift;
  const rest = bits & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

function roundSubnormal(mantWithImplicit: number, shift: number): number {
  return shift > 24 ? 0 : roundShift(mantWithImplicit, shift);
}

/** bfloat16 bits → float32 bits. */
export function bf16BitsToF32Bits(b: number): number {
  return (b << 16) >>> 0;
}

/** float32 → bfloat16 bits, round to nearest, ties to even; NaN stays (quiet) NaN. */
export function f32ToBf16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function f16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = f16BitsToF32Bits(bits[i]!);
  return out;
}

function bf16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i]! << 16;
  return out;
}

function float32ToF16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]!);
  return out;
}

function float32ToBf16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToBf16Bits(values[i]!);
  return out;
}
