// Read an array of little-endian integers (1, 2 or 4 bytes wide) from a large file by offset, through a small
// direct-mapped page cache: no mmap in Node, and index files may be larger than memory. Pages are kept as typed
// arrays, so elements are read without copying.
import { closeSync, openSync, readSync } from 'node:fs';

export type ElemArray = Uint8Array | Uint16Array | Uint32Array;

function makeArray(width: 1 | 2 | 4, buf: ArrayBuffer, count: number): ElemArray {
  return width === 1 ? new Uint8Array(buf, 0, count) : width === 2 ? new Uint16Array(buf, 0, count) : new Uint32Array(buf, 0, count);
}

export class PagedFile {
  readonly path: string;
  /** Byte offset of the payload in the file (the header size). */
  readonly base: number;
  /** Number of elements in the payload. */
  readonly count: number;
  readonly width: 1 | 2 | 4;
  /** Elements per page (a power of two). */
  readonly pageElems: number;
  private readonly shift: number;
  private readonly mask: number;
  private readonly slotMask: number;
  private fd: number;
  /** Direct-mapped cache: page pn lives in slot pn & slotMask when tags[slot] === pn. */
  private readonly tags: Float64Array;
  private readonly slots: (ElemArray | undefined)[];
  private readonly bufs: (ElemArray | undefined)[];
  private lastPn = -1;
  private lastPage: ElemArray | undefined;
  /** The whole payload, when preloaded. */
  private whole: ElemArray | undefined;
  /** Pages read from the file (for tests and benchmarks). */
  reads = 0;

  constructor(path: string, base: number, count: number, width: 1 | 2 | 4, opts: { pageSize?: number; cacheBytes?: number; preload?: boolean } = {}) {
    this.path = path;
    this.base = base;
    this.count = count;
    this.width = width;
    const ps = opts.pageSize ?? 4096;
    if (ps < 64 || (ps & (ps - 1)) !== 0) throw new Error('pageSize must be a power of two >= 64');
    this.pageElems = ps / width;
    this.shift = Math.log2(this.pageElems);
    this.mask = this.pageElems - 1;
    // Slot count: the largest power of two within the budget (at least 16), and no more than the file needs.
    const budget = Math.max(16, Math.floor((opts.cacheBytes ?? 32 << 20) / ps));
    const need = Math.max(1, Math.ceil(count / this.pageElems));
    let nSlots = 16;
    while (nSlots * 2 <= budget && nSlots < need) nSlots *= 2;
    this.slotMask = nSlots - 1;
    this.tags = new Float64Array(nSlots).fill(-1);
    this.slots = new Array<ElemArray | undefined>(nSlots).fill(undefined);
    this.bufs = new Array<ElemArray | undefined>(nSlots).fill(undefined);
    this.fd = openSync(path, 'r');
    if (opts.preload) {
      const ab = new ArrayBuffer(count * width);
      this.readBytes(new Uint8Array(ab), base);
      this.whole = makeArray(width, ab, count);
    }
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
    this.tags.fill(-1);
    this.slots.fill(undefined);
    this.bufs.fill(undefined);
    this.lastPage = undefined;
    this.lastPn = -1;
    this.whole = undefined;
  }

  private readBytes(dst: Uint8Array, pos: number): void {
    let done = 0;
    while (done < dst.length) {
      const n = readSync(this.fd, dst, done, dst.length - done, pos + done);
      if (n === 0) throw new Error(`${this.path}: unexpected end of file at byte ${pos + done} (the file is truncated)`);
      done += n;
    }
  }

  /**
   * The page holding element `pn * pageElems`. Each cache slot owns one buffer that is overwritten when another
   * page maps to it (no allocation per read), so a returned page is valid until the next read of this file.
   */
  page(pn: number): ElemArray {
    if (pn === this.lastPn) return this.lastPage!;
    const slot = pn & this.slotMask;
    let p = this.slots[slot];
    if (p === undefined || this.tags[slot] !== pn) {
      const first = pn * this.pageElems;
      const n = Math.min(this.pageElems, this.count - first);
      if (n <= 0) throw new RangeError(`${this.path}: element ${first} is past the end (${this.count} elements)`);
      let buf = this.bufs[slot];
      if (buf === undefined) buf = this.bufs[slot] = makeArray(this.width, new ArrayBuffer(this.pageElems * this.width), this.pageElems);
      this.readBytes(new Uint8Array(buf.buffer, 0, n * this.width), this.base + first * this.width);
      p = n === this.pageElems ? buf : buf.subarray(0, n);
      this.reads++;
      this.slots[slot] = p;
      this.tags[slot] = pn;
    }
    this.lastPn = pn;
    this.lastPage = p;
    return p;
  }

  /** Index of the element in the array last returned by `locate`. */
  off = 0;

  /** The page (or preloaded array) holding element i; `off` is set to i's index in it. */
  locate(i: number): ElemArray {
    if (this.whole) {
      this.off = i;
      return this.whole;
    }
    this.off = i & this.mask;
    return this.page(i >>> this.shift);
  }

  /** Element i. */
  at(i: number): number {
    if (this.whole) return this.whole[i]!;
    return this.page(i >>> this.shift)[i & this.mask]!;
  }

  /**
   * Calls `f(page, start, end)` over the pages covering elements [i, i+k): page[start..end) are the elements, in
   * order. Stops early when f returns false.
   */
  scan(i: number, k: number, f: (page: ElemArray, start: number, end: number) => boolean): void {
    if (this.whole) {
      f(this.whole, i, i + k);
      return;
    }
    let at = i;
    const stop = i + k;
    while (at < stop) {
      const pn = at >>> this.shift;
      const p = this.page(pn);
      const off = at & this.mask;
      const end = Math.min(p.length, off + (stop - at));
      if (!f(p, off, end)) return;
      at += end - off;
    }
  }

  /** Copy elements [i, i+k) into dst[0..k) (a big read bypasses the cache). */
  readInto(i: number, k: number, dst: ElemArray): void {
    if (i < 0 || i + k > this.count) throw new RangeError(`${this.path}: elements [${i}, ${i + k}) are outside 0..${this.count}`);
    if (this.whole) {
      dst.set(this.whole.subarray(i, i + k));
      return;
    }
    if (k > this.pageElems * 4) {
      this.readBytes(new Uint8Array(dst.buffer, dst.byteOffset, k * this.width), this.base + i * this.width);
      return;
    }
    let o = 0;
    this.scan(i, k, (p, s, e) => {
      dst.set(p.subarray(s, e), o);
      o += e - s;
      return true;
    });
  }
}
