// Read a large file by offset through a small LRU page cache (no mmap in Node; files can exceed memory).
import { closeSync, openSync, readSync } from 'node:fs';

export class PagedFile {
  readonly path: string;
  /** Byte offset of the payload in the file (the header size). */
  readonly base: number;
  /** Payload length in bytes. */
  readonly length: number;
  readonly pageSize: number;
  private readonly pageShift: number;
  private readonly maxPages: number;
  private fd: number;
  private readonly cache = new Map<number, Buffer>();
  /** The whole payload, when preloaded. */
  private whole: Buffer | undefined;
  /** Page reads from the file (for tests and benchmarks). */
  reads = 0;
  private hits = 0;

  constructor(path: string, base: number, length: number, opts: { pageSize?: number; cacheBytes?: number; preload?: boolean } = {}) {
    this.path = path;
    this.base = base;
    this.length = length;
    const ps = opts.pageSize ?? 4096;
    if (ps < 64 || (ps & (ps - 1)) !== 0) throw new Error('pageSize must be a power of two >= 64');
    this.pageSize = ps;
    this.pageShift = Math.log2(ps);
    this.maxPages = Math.max(4, Math.floor((opts.cacheBytes ?? 32 << 20) / ps));
    this.fd = openSync(path, 'r');
    if (opts.preload) {
      const b = Buffer.allocUnsafeSlow(length);
      this.readAt(b, 0, length, base);
      this.whole = b;
    }
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
    this.cache.clear();
    this.whole = undefined;
  }

  private readAt(buf: Buffer, off: number, len: number, pos: number): void {
    let done = 0;
    while (done < len) {
      const n = readSync(this.fd, buf, off + done, len - done, pos + done);
      if (n === 0) throw new Error(`${this.path}: unexpected end of file at byte ${pos + done} (the file is truncated)`);
      done += n;
    }
  }

  /** The cached page holding payload byte `pn << pageShift`. */
  private page(pn: number): Buffer {
    const c = this.cache.get(pn);
    if (c !== undefined) {
      // Refresh LRU position only now and then: Map re-insertion is cheap but not free.
      if ((++this.hits & 7) === 0) {
        this.cache.delete(pn);
        this.cache.set(pn, c);
      }
      return c;
    }
    const start = pn << this.pageShift;
    const len = Math.min(this.pageSize, this.length - start);
    const b = Buffer.allocUnsafeSlow(len);
    this.readAt(b, 0, len, this.base + start);
    this.reads++;
    if (this.cache.size >= this.maxPages) {
      const oldest = this.cache.keys().next().value as number;
      this.cache.delete(oldest);
    }
    this.cache.set(pn, b);
    return b;
  }

  u8(off: number): number {
    if (this.whole) return this.whole[off]!;
    const pn = Math.floor(off / this.pageSize);
    return this.page(pn)[off - pn * this.pageSize]!;
  }

  /** Little-endian u16 at payload byte offset `off` (must be 2-aligned). */
  u16(off: number): number {
    if (this.whole) return this.whole.readUInt16LE(off);
    const pn = Math.floor(off / this.pageSize);
    return this.page(pn).readUInt16LE(off - pn * this.pageSize);
  }

  /** Little-endian u32 at payload byte offset `off` (must be 4-aligned). */
  u32(off: number): number {
    if (this.whole) return this.whole.readUInt32LE(off);
    const pn = Math.floor(off / this.pageSize);
    return this.page(pn).readUInt32LE(off - pn * this.pageSize);
  }

  /** Copy payload bytes [off, off+len) into dst (bypasses the cache for long reads). */
  read(off: number, len: number, dst: Buffer = Buffer.allocUnsafe(len)): Buffer {
    if (off < 0 || off + len > this.length) throw new RangeError(`${this.path}: read of ${len} bytes at ${off} is outside the payload (${this.length} bytes)`);
    if (this.whole) {
      this.whole.copy(dst, 0, off, off + len);
      return dst;
    }
    if (len > this.pageSize * 4) {
      this.readAt(dst, 0, len, this.base + off);
      return dst;
    }
    let done = 0;
    while (done < len) {
      const o = off + done;
      const pn = Math.floor(o / this.pageSize);
      const p = this.page(pn);
      const inPage = o - pn * this.pageSize;
      const n = Math.min(len - done, p.length - inPage);
      p.copy(dst, done, inPage, inPage + n);
      done += n;
    }
    return dst;
  }
}
