// A minimal protocol-buffers writer (varints, length-delimited fields, packed repeats) used to emit ONNX ModelProto.
// Nested messages are kept as chunk lists so large weight buffers are referenced, not copied, until the final join.

export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private cur: number[] = [];
  private size = 0;

  get length(): number {
    return this.size + this.cur.length;
  }

  private flush(): void {
    if (this.cur.length > 0) {
      this.chunks.push(Uint8Array.from(this.cur));
      this.size += this.cur.length;
      this.cur = [];
    }
  }

  private varint(v: number | bigint): void {
    if (typeof v === 'number') {
      if (v >= 0 && v < 2 ** 31) {
        let x = v;
        while (x > 0x7f) {
          this.cur.push((x & 0x7f) | 0x80);
          x >>>= 7;
        }
        this.cur.push(x);
        return;
      }
      v = BigInt(Math.trunc(v));
    }
    let x = BigInt.asUintN(64, v);
    while (x > 0x7fn) {
      this.cur.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.cur.push(Number(x));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, v: number | bigint): this {
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.cur.push(...b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2);
    this.varint(data.length);
    if (data.length < 256) {
      for (const x of data) this.cur.push(x);
    } else {
      this.flush();
      this.chunks.push(data);
      this.size += data.length;
    }
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: ProtoWriter): this {
    this.tag(field, 2);
    this.varint(m.length);
    this.flush();
    m.flush();
    for (const c of m.chunks) this.chunks.push(c);
    this.size += m.size;
    return this;
  }

  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    this.tag(field, 2);
    this.varint(inner.length);
    inner.flush();
    for (const c of inner.chunks) for (const x of c) this.cur.push(x);
    return this;
  }

  packedFloats(field: number, values: readonly number[]): this {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}
