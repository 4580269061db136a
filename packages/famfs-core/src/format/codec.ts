/**
 * Bounds-checked little-endian cursor primitives. Every on-media struct is
 * encoded and decoded through these, so a short buffer or an out-of-range
 * value fails with the struct, field and byte offset named — never with a
 * silent wrap or an `undefined`.
 */

export class FormatError extends Error {
  override readonly name = 'FormatError';
  constructor(
    readonly struct: string,
    readonly field: string,
    readonly offset: number,
    message: string,
  ) {
    super(`${struct}.${field} @${offset}: ${message}`);
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Reads fields at absolute offsets within a struct that starts at `base` of `bytes`. */
export class StructReader {
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly struct: string,
    readonly base: number,
    readonly size: number,
  ) {
    if (base < 0 || base + size > bytes.length) {
      throw new FormatError(struct, '(struct)', base, `needs ${size} bytes, only ${Math.max(0, bytes.length - base)} available`);
    }
    this.view = new DataView(bytes.buffer, bytes.byteOffset + base, size);
  }

  private check(field: string, off: number, width: number): void {
    if (off < 0 || off + width > this.size) {
      throw new FormatError(this.struct, field, off, `field of ${width} bytes lies outside the ${this.size}-byte struct`);
    }
  }

  u8(field: string, off: number): number {
    this.check(field, off, 1);
    return this.view.getUint8(off);
  }

  u16(field: string, off: number): number {
    this.check(field, off, 2);
    return this.view.getUint16(off, true);
  }

  u32(field: string, off: number): number {
    this.check(field, off, 4);
    return this.view.getUint32(off, true);
  }

  /** A u64 that must fit a JS number exactly (sizes, offsets, counters). */
  u64(field: string, off: number): number {
    const v = this.u64big(field, off);
    if (v > MAX_SAFE) {
      throw new FormatError(this.struct, field, off, `value ${v} exceeds 2^53`);
    }
    return Number(v);
  }

  /**
   * A u64 as a number, NaN when past 2^53: for decoding possibly corrupt
   * structs that must still be reported rather than rejected mid-decode.
   */
  u64OrNaN(field: string, off: number): number {
    const v = this.u64big(field, off);
    return v > MAX_SAFE ? Number.NaN : Number(v);
  }

  u64big(field: string, off: number): bigint {
    this.check(field, off, 8);
    return this.view.getBigUint64(off, true);
  }

  bytesAt(field: string, off: number, len: number): Uint8Array {
    this.check(field, off, len);
    return this.bytes.subarray(this.base + off, this.base + off + len);
  }
}

/** Writes fields at absolute offsets into a zero-initialised struct buffer. */
export class StructWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(
    readonly struct: string,
    readonly size: number,
  ) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  private check(field: string, off: number, width: number): void {
    if (off < 0 || off + width > this.size) {
      throw new FormatError(this.struct, field, off, `field of ${width} bytes lies outside the ${this.size}-byte struct`);
    }
  }

  private checkInt(field: string, off: number, v: number, max: number): void {
    if (!Number.isInteger(v) || v < 0 || v > max) {
      throw new FormatError(this.struct, field, off, `value ${v} is not an integer in [0, ${max}]`);
    }
  }

  u8(field: string, off: number, v: number): void {
    this.check(field, off, 1);
    this.checkInt(field, off, v, 0xff);
    this.view.setUint8(off, v);
  }

  u16(field: string, off: number, v: number): void {
    this.check(field, off, 2);
    this.checkInt(field, off, v, 0xffff);
    this.view.setUint16(off, v, true);
  }

  u32(field: string, off: number, v: number): void {
    this.check(field, off, 4);
    this.checkInt(field, off, v, 0xffffffff);
    this.view.setUint32(off, v, true);
  }

  u64(field: string, off: number, v: number | bigint): void {
    this.check(field, off, 8);
    if (typeof v === 'number') {
      this.checkInt(field, off, v, Number.MAX_SAFE_INTEGER);
      v = BigInt(v);
    } else if (v < 0n || v > 0xffff_ffff_ffff_ffffn) {
      throw new FormatError(this.struct, field, off, `value ${v} does not fit a u64`);
    }
    this.view.setBigUint64(off, v, true);
  }

  bytesAt(field: string, off: number, src: Uint8Array, fieldLen: number = src.length): void {
    this.check(field, off, fieldLen);
    if (src.length > fieldLen) {
      throw new FormatError(this.struct, field, off, `${src.length} bytes do not fit a ${fieldLen}-byte field`);
    }
    this.bytes.set(src, off);
  }
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Decode a NUL-terminated string field. Returns undefined when the field holds
 * no NUL (an overlong name) or is not valid UTF-8: the caller decides whether
 * that makes the record bad.
 */
export function decodeCString(field: Uint8Array): string | undefined {
  const nul = field.indexOf(0);
  if (nul < 0) return undefined;
  try {
    return utf8Strict.decode(field.subarray(0, nul));
  } catch {
    return undefined;
  }
}

/** Encode a string for a NUL-terminated field of `fieldLen` bytes; undefined if it does not fit. */
export function encodeCString(s: string, fieldLen: number): Uint8Array | undefined {
  const b = utf8.encode(s);
  if (b.length >= fieldLen || b.includes(0)) return undefined;
  return b;
}
