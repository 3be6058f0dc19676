// A bounded cache of BPE results for ASCII pre-tokens, keyed directly by the characters of the input string
// (no substring allocation or string hashing on the hot path).

const SLOTS = 1 << 17;
const MAX_ENTRIES = SLOTS >> 1;
/** Pre-tokens longer than this are not cached. */
export const ASCII_CACHE_MAX_WORD = 48;

export class AsciiWordCache {
  private readonly hash = new Int32Array(SLOTS);
  private readonly keyOff = new Int32Array(SLOTS);
  private readonly keyLen = new Int32Array(SLOTS); // 0 = empty slot
  private readonly valOff = new Int32Array(SLOTS);
  private readonly valLen = new Int32Array(SLOTS);
  private keys = new Uint8Array(MAX_ENTRIES * 8);
  private vals = new Int32Array(MAX_ENTRIES * 4);
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
    let s = h & (SLOTS - 1);
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
      s = (s + 1) & (SLOTS - 1);
    }
    return false;
  }

  insert(text: string, i: number, j: number, h: number, ids: Int32Array, n: number): void {
    const len = j - i;
    if (this.entries >= MAX_ENTRIES || this.keyTop + len > this.keys.length || this.valTop + n > this.vals.length) this.clear();
    let s = h & (SLOTS - 1);
    while (this.keyLen[s] !== 0) s = (s + 1) & (SLOTS - 1);
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
}
