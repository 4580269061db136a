import { RELPATH_FIELD_LEN } from '../format/constants.js';

/**
 * Paths as a log stores them — NUL-terminated UTF-8 in an 80-byte field of
 * an entry — hashed and compared as bytes, so that a check-only replay can
 * tell two paths apart without making a string of each (for valid UTF-8,
 * equal strings are equal bytes). native/src/log_check.cc hashes, probes and
 * adds to these tables too: the hash (FNV-1a, 32-bit) and the slot layout
 * are shared with it.
 */

/** FNV-1a (32-bit) of nothing: the hash of the root's path ''. */
export const PATH_HASH_SEED = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** One more byte into an FNV-1a hash. */
function hashByte(h: number, b: number): number {
  return Math.imul(h ^ b, FNV_PRIME);
}

/** Length of the NUL-terminated field at `off` (80 when there is no NUL in it). */
export function cstringLength(bytes: Uint8Array, off: number): number {
  const lim = Math.min(RELPATH_FIELD_LEN, bytes.length - off);
  let n = 0;
  while (n < lim && bytes[off + n] !== 0) n++;
  return n;
}

/** FNV-1a of the `len` bytes at `off`. */
export function hashBytes(bytes: Uint8Array, off: number, len: number): number {
  let h = PATH_HASH_SEED;
  for (let k = 0; k < len; k++) h = hashByte(h, bytes[off + k]!);
  return h;
}

/**
 * A set of paths that live in a log, each known by the byte offset of its
 * NUL-terminated field in the log (-1: the root's empty path): open
 * addressing over one typed array (hash and offset side by side: one cache
 * line per probe). Half a million files cost one typed array, not half a
 * million strings and objects for the garbage collector to copy.
 */
export class LogPathTable {
  /** [hash, offset + 2] per slot; 0: free */
  private slots: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected = 512) {
    let cap = 1024;
    while (cap < 2 * expected) cap *= 2;
    this.slots = new Int32Array(2 * cap);
    this.mask = cap - 1;
  }

  /** Is the path of `len` bytes at `off` of `log` (hash `h`) in the table? */
  has(log: Uint8Array, h: number, off: number, len: number): boolean {
    const slots = this.slots;
    const mask = this.mask;
    // (the probe steps first, so that its arithmetic runs on every call: a
    // collision late in a replay must not meet code that never ran)
    for (let s = (h - 1) & mask; ; ) {
      s = (s + 1) & mask;
      const v = slots[2 * s + 1]!;
      if (v === 0) return false;
      if (slots[2 * s] === h && this.samePath(log, v - 2, off, len)) return true;
    }
  }

  /** Are the bytes of the field at `q` (-1: the root's empty path) the `len` bytes at `off`, then a NUL? */
  private samePath(log: Uint8Array, q: number, off: number, len: number): boolean {
    if (q < 0) return len === 0;
    let k = 0;
    while (k < len && log[q + k] === log[off + k]) k++;
    return k === len && log[q + len] === 0;
  }

  /** Grow, if need be, so that `extra` more paths keep the table at most half full. */
  reserve(extra: number): void {
    while (2 * (this.size + extra) > this.mask + 1) this.grow();
  }

  /** Paths that can be added before the table is more than half full. */
  get room(): number {
    return Math.max(0, (this.mask + 1) / 2 - this.size);
  }

  /** The slots themselves, for native code that probes and adds as `has` and `add` do (then: added()). */
  get slotArray(): Int32Array {
    return this.slots;
  }

  /** `n` paths were added to slotArray directly. */
  added(n: number): void {
    this.size += n;
  }

  /** Add the path at offset `off` of the log (-1: the root's), hash `h`, known not to be in the table. */
  add(off: number, h: number): void {
    if (2 * (this.size + 1) > this.mask + 1) this.grow();
    const slots = this.slots;
    const mask = this.mask;
    let s = (h - 1) & mask;
    do s = (s + 1) & mask;
    while (slots[2 * s + 1] !== 0);
    slots[2 * s] = h;
    slots[2 * s + 1] = off + 2;
    this.size++;
  }

  private grow(): void {
    const old = this.slots;
    const cap = 2 * (this.mask + 1);
    this.slots = new Int32Array(2 * cap);
    this.mask = cap - 1;
    for (let i = 0; i < old.length; i += 2) {
      const v = old[i + 1]!;
      if (v === 0) continue;
      let s = old[i]! & this.mask;
      while (this.slots[2 * s + 1] !== 0) s = (s + 1) & this.mask;
      this.slots[2 * s] = old[i]!;
      this.slots[2 * s + 1] = v;
    }
  }
}
