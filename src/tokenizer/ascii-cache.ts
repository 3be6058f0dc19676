// A bounded cache of BPE results for ASCII pre-tokens, keyed directly by the characters of the input string
// (no substring allocation or string hashing on the hot path). Grows from 16K to 1M slots (512K words), then starts over.

const MIN_SLOTS = 1 << 14;
const MAX_SLOTS = 1 << 20;
/** Pre-tokens longer than this are not cached. */
export const ASCII_CACHE_MAX_WORD = 48;

export class AsciiWordCache {
  private slots = MIN_SLOTS;
  private hash = new Int32Array(MIN_SLOTS);
  private keyOff = new Int32Array(MIN_SLOTS);
  private keyLen = new Int32Array(MIN_SLOTS); // 0 = empty slot
  private valOff = new Int32Array(MIN_SLOTS);
  private valLen = new Int32Array(MIN_SLOTS);
  private keys: Uint8Array = new Uint8Array(MIN_SLOTS * 4);
  private vals: Int32Array = new Int32Array(MIN_SLOTS * 2);
  private keyTop = 0;
  private valTop = 0;
  private entries = 0;

  static hashRange(text: string, i: number, j: number): number {
    let h = 0x811c9dc5 | 0;
    for (let k = i; k < j; k++) h = Math.imul(h ^ text.charCodeAt(k), 16777619);
    return h ^ (h >>> 15);
  }

  /** Append the cached ids for text[i, j) to out and return true, or return false on a miss. */
  emit(text: string, i: number, j: number, h: number, out: number[]): boolean {
    const len = j - i;
    const { hash, keyLen, keyOff, keys } = this;
    const mask = this.slots - 1;
    let s = h & mask;
    let kl: number;
    while ((kl = keyLen[s]) !== 0) {
      if (hash[s] === h && kl === len) {
        const o = keyOff[s];
        let k = 0;
        while (k < len && keys[o + k] === text.charCodeAt(i + k)) k++;
        if (k === len) {
          const vo = this.valOff[s];
          const vl = this.valLen[s];
          const vals = this.vals;
          if (vl === 1) out.push(vals[vo]);
          else for (let v = vo; v < vo + vl; v++) out.push(vals[v]);
          return true;
        }
      }
      s = (s + 1) & mask;
    }
    return false;
  }

  insert(text: string, i: number, j: number, h: number, ids: Int32Array, n: number): void {
    const len = j - i;
    if ((this.entries + 1) * 2 > this.slots) {
      if (this.slots < MAX_SLOTS) this.rehash(this.slots * 2);
      else this.clear();
    }
    if (this.keyTop + len > this.keys.length) this.keys = grow8(this.keys, this.keyTop + len);
    if (this.valTop + n > this.vals.length) this.vals = grow32(this.vals, this.valTop + n);
    const mask = this.slots - 1;
    let s = h & mask;
    while (this.keyLen[s] !== 0) s = (s + 1) & mask;
    this.hash[s] = h;
    this.keyLen[s] = len;
    this.keyOff[s] = this.keyTop;
    for (let k = 0; k < len; k++) this.keys[this.keyTop + k] = text.charCodeAt(i + k);
    this.keyTop += len;
    this.valOff[s] = this.valTop;
    this.valLen[s] = n;
    this.vals.set(ids.subarray(0, n), this.valTop);
    this.valTop += n;
    this.entries++;
  }

  clear(): void {
    this.keyLen.fill(0);
    this.keyTop = 0;
    this.valTop = 0;
    this.entries = 0;
  }

  private rehash(slots: number): void {
    const { hash, keyOff, keyLen, valOff, valLen } = this;
    this.slots = slots;
    this.hash = new Int32Array(slots);
    this.keyOff = new Int32Array(slots);
    this.keyLen = new Int32Array(slots);
    this.valOff = new Int32Array(slots);
    this.valLen = new Int32Array(slots);
    const mask = slots - 1;
    for (let old = 0; old < hash.length; old++) {
      if (keyLen[old] === 0) continue;
      let s = hash[old] & mask;
      while (this.keyLen[s] !== 0) s = (s + 1) & mask;
      this.hash[s] = hash[old];
      this.keyOff[s] = keyOff[old];
      this.keyLen[s] = keyLen[old];
      this.valOff[s] = valOff[old];
      this.valLen[s] = valLen[old];
    }
  }
}

function grow8(a: Uint8Array, need: number): Uint8Array {
  const b = new Uint8Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

function grow32(a: Int32Array, need: number): Int32Array {
  const b = new Int32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}
