/**
 * Bounds-checked little-endian cursor primitives for the FUSE wire protocol.
 *
 * Every request the kernel writes into /dev/fuse is decoded through a
 * `Reader`, every reply through a `Writer`. Widths are explicit (u8 … u64),
 * and a short buffer or an out-of-range value fails with the field name and
 * the absolute byte offset in the message — never with a silent wrap, a
 * `RangeError` from DataView or a partially filled object.
 *
 * Two error kinds, kept apart as virtiofsd keeps them apart:
 *  - `ProtocolError`: the kernel (or whoever wrote the request) sent bytes that
 *    do not form a valid request. The dispatcher answers with an errno
 *    (EINVAL, or EIO where the kernel expects it), logs, and keeps serving.
 *  - `EncodeError`: the server asked to encode a reply that cannot be encoded
 *    (a name too long, a value out of range, a fmap bigger than the kernel's
 *    buffer). It names the errno the dispatcher should answer with instead.
 * File system errors (ENOENT, EACCES …) are neither; they live in @famfs/core.
 */

import { opcodeName } from './constants.js';

/** The kernel sent a request this layer cannot accept. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    /** struct.field that failed, e.g. `fuse_write_in.size` */
    readonly field: string,
    /** absolute byte offset in the request (0 = start of fuse_in_header) */
    readonly offset: number,
    readonly detail: string,
    /** the request's opcode, when the header was readable */
    readonly opcode?: number,
  ) {
    super(`${opcode === undefined ? '' : `${opcodeName(opcode)}: `}${field} @${offset}: ${detail}`);
  }
}

/** errnos an `EncodeError` may suggest (names as in @famfs/core's Errno table). */
export type EncodeErrno = 'EINVAL' | 'ERANGE' | 'E2BIG' | 'ENAMETOOLONG' | 'EOVERFLOW';

/** The server asked for a reply that cannot be put on the wire. */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  constructor(
    readonly field: string,
    readonly offset: number,
    readonly detail: string,
    /** what the dispatcher should answer instead of the impossible reply */
    readonly errno: EncodeErrno = 'EINVAL',
  ) {
    super(`${field} @${offset}: ${detail}`);
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Encode a string as UTF-8 (names and paths on the wire are bytes). */
export function utf8Bytes(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** Round up to the next multiple of 8 (FUSE_REC_ALIGN). */
export function align8(n: number): number {
  return (n + 7) & ~7;
}

export interface ReaderOptions {
  /** opcode to name in errors */
  opcode?: number;
  /** absolute offset of `bytes[0]` within the request, for error messages */
  base?: number;
}

/**
 * Sequential reader over a request (or part of one). Reads advance the
 * cursor; every read checks that its bytes are present first.
 */
export class Reader {
  private readonly view: DataView;
  private pos = 0;
  private structName = '';
  readonly opcode: number | undefined;
  readonly base: number;

  constructor(
    readonly bytes: Uint8Array,
    opts: ReaderOptions = {},
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.opcode = opts.opcode;
    this.base = opts.base ?? 0;
  }

  /** bytes consumed so far (relative to this reader) */
  get offset(): number {
    return this.pos;
  }

  /** bytes not yet consumed */
  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** A ProtocolError at the cursor (or at `rel`), naming the current struct. */
  fail(field: string, detail: string, rel: number = this.pos): ProtocolError {
    const name = this.structName === '' ? field : `${this.structName}.${field}`;
    return new ProtocolError(name, this.base + rel, detail, this.opcode);
  }

  private need(field: string, width: number): void {
    if (width > this.remaining) {
      throw this.fail(field, `needs ${width} bytes, only ${this.remaining} remain`);
    }
  }

  /**
   * Decode one fixed-size struct: fails up front (naming the struct) when
   * fewer than `size` bytes remain, and checks afterwards that `fn` consumed
   * exactly `size` bytes — a mismatch is a bug in the decoder, not in the
   * request, so it throws a plain Error.
   */
  struct<T>(name: string, size: number, fn: (r: Reader) => T): T {
    if (size > this.remaining) {
      throw this.fail(name, `needs ${size} bytes, only ${this.remaining} remain`);
    }
    const start = this.pos;
    const outer = this.structName;
    // nested structs qualify their fields: fuse_entry_out.fuse_attr.uid
    this.structName = outer === '' ? name : `${outer}.${name}`;
    try {
      const v = fn(this);
      if (this.pos - start !== size) {
        throw new Error(`decoder bug: ${name} consumed ${this.pos - start} bytes, layout says ${size}`);
      }
      return v;
    } finally {
      this.structName = outer;
    }
  }

  u8(field: string): number {
    this.need(field, 1);
    const v = this.view.getUint8(this.pos);
    this.pos += 1;
    return v;
  }

  u16(field: string): number {
    this.need(field, 2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(field, 4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32(field: string): number {
    this.need(field, 4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** An opaque 64-bit value (nodeid, fh, unique, lock_owner): exact, as a bigint. */
  u64big(field: string): bigint {
    this.need(field, 8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 that must fit a JS number exactly (offsets, sizes, counters); > 2^53-1 fails. */
  u64(field: string): number {
    const at = this.pos;
    const v = this.u64big(field);
    if (v > MAX_SAFE) throw this.fail(field, `value ${v} exceeds 2^53-1`, at);
    return Number(v);
  }

  /** A signed 64-bit value kept exact, as a bigint (fuse-iomap's `written`: bytes or a negative errno). */
  i64big(field: string): bigint {
    this.need(field, 8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A signed 64-bit value that must fit a JS number exactly (times, lseek offsets). */
  i64(field: string): number {
    this.need(field, 8);
    const at = this.pos;
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    if (v > MAX_SAFE || v < -MAX_SAFE) throw this.fail(field, `value ${v} is outside ±(2^53-1)`, at);
    return Number(v);
  }

  /** `n` bytes as a zero-copy view of the underlying buffer. */
  bytesView(field: string, n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0) throw this.fail(field, `invalid length ${n}`);
    this.need(field, n);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Skip `n` bytes (padding, reserved fields). */
  skip(field: string, n: number): void {
    this.need(field, n);
    this.pos += n;
  }

  /**
   * A NUL-terminated byte string: the NUL must lie within the remaining bytes.
   * Returns the bytes before the NUL (zero-copy) and consumes the NUL too.
   */
  cstringBytes(field: string): Uint8Array {
    const start = this.pos;
    const nul = this.bytes.indexOf(0, start);
    if (nul < 0) throw this.fail(field, `no NUL terminator within the remaining ${this.remaining} bytes`);
    this.pos = nul + 1;
    return this.bytes.subarray(start, nul);
  }

  /**
   * A NUL-terminated UTF-8 string. Names that are not valid UTF-8 fail: famfs
   * stores names as UTF-8, so such a name can name nothing on this file
   * system (the dispatcher answers EINVAL).
   */
  cstring(field: string): string {
    const start = this.pos;
    const raw = this.cstringBytes(field);
    try {
      return utf8.decode(raw);
    } catch {
      throw this.fail(field, 'name is not valid UTF-8', start);
    }
  }

  /** Fail unless every byte has been consumed (fixed-size and name-terminated bodies). */
  end(what: string): void {
    if (this.remaining !== 0) {
      throw this.fail(what, `${this.remaining} unexpected trailing bytes`);
    }
  }
}

export interface WriterOptions {
  /** a fixed-size writer: writing past `size` bytes is a bug (EncodeError) */
  fixed?: number;
  /** initial capacity of a growable writer */
  capacity?: number;
}

/**
 * Sequential little-endian writer. Growable by default; `{ fixed: n }` makes a
 * writer that refuses to write past n bytes. Values are range-checked for
 * their width — nothing wraps. Buffers start zeroed, so padding and reserved
 * fields written with `zeros()` / `padTo8()` are zero.
 */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  private structName = '';
  private readonly fixed: number | undefined;

  constructor(opts: WriterOptions = {}) {
    this.fixed = opts.fixed;
    const cap = opts.fixed ?? opts.capacity ?? 256;
    this.buf = new Uint8Array(cap);
    this.view = new DataView(this.buf.buffer);
  }

  /** bytes written so far */
  get offset(): number {
    return this.pos;
  }

  fail(field: string, detail: string, errno: EncodeErrno = 'EINVAL', at: number = this.pos): EncodeError {
    const name = this.structName === '' ? field : `${this.structName}.${field}`;
    return new EncodeError(name, at, detail, errno);
  }

  private reserve(field: string, n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    if (this.fixed !== undefined) {
      throw this.fail(field, `writing ${n} bytes would pass the fixed size ${this.fixed}`);
    }
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Encode one fixed-size struct; checks that `fn` wrote exactly `size` bytes (a bug otherwise). */
  struct(name: string, size: number, fn: (w: Writer) => void): void {
    const start = this.pos;
    const outer = this.structName;
    // nested structs qualify their fields: fuse_entry_out.fuse_attr.uid
    this.structName = outer === '' ? name : `${outer}.${name}`;
    try {
      fn(this);
      if (this.pos - start !== size) {
        throw new Error(`encoder bug: ${name} wrote ${this.pos - start} bytes, layout says ${size}`);
      }
    } finally {
      this.structName = outer;
    }
  }

  private int(field: string, v: number, min: number, max: number): void {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw this.fail(field, `value ${v} is not an integer in [${min}, ${max}]`, 'EOVERFLOW');
    }
  }

  u8(field: string, v: number): this {
    this.int(field, v, 0, 0xff);
    this.reserve(field, 1);
    this.view.setUint8(this.pos, v);
    this.pos += 1;
    return this;
  }

  u16(field: string, v: number): this {
    this.int(field, v, 0, 0xffff);
    this.reserve(field, 2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
    return this;
  }

  u32(field: string, v: number): this {
    this.int(field, v, 0, 0xffff_ffff);
    this.reserve(field, 4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  i32(field: string, v: number): this {
    this.int(field, v, -0x8000_0000, 0x7fff_ffff);
    this.reserve(field, 4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  /** u64 from a bigint, or from a non-negative safe integer. */
  u64(field: string, v: bigint | number): this {
    let b: bigint;
    if (typeof v === 'bigint') {
      b = v;
    } else {
      if (!Number.isSafeInteger(v)) throw this.fail(field, `value ${v} is not a safe integer`, 'EOVERFLOW');
      b = BigInt(v);
    }
    if (b < 0n || b > U64_MAX) throw this.fail(field, `value ${b} is outside [0, 2^64-1]`, 'EOVERFLOW');
    this.reserve(field, 8);
    this.view.setBigUint64(this.pos, b, true);
    this.pos += 8;
    return this;
  }

  /** i64 from a bigint, or from a safe integer (may be negative). */
  i64(field: string, v: bigint | number): this {
    let b: bigint;
    if (typeof v === 'bigint') {
      b = v;
    } else {
      if (!Number.isSafeInteger(v)) throw this.fail(field, `value ${v} is not a safe integer`, 'EOVERFLOW');
      b = BigInt(v);
    }
    if (b < I64_MIN || b > I64_MAX) throw this.fail(field, `value ${b} is outside the i64 range`, 'EOVERFLOW');
    this.reserve(field, 8);
    this.view.setBigInt64(this.pos, b, true);
    this.pos += 8;
    return this;
  }

  bytes(field: string, b: Uint8Array): this {
    this.reserve(field, b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** `n` zero bytes (padding, reserved fields). */
  zeros(field: string, n: number): this {
    this.reserve(field, n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  /** `b` followed by one NUL. */
  cstring(field: string, b: Uint8Array): this {
    if (b.includes(0)) throw this.fail(field, 'string contains a NUL byte');
    this.bytes(field, b);
    return this.zeros(field, 1);
  }

  /** Zero-pad to the next multiple of 8 (FUSE_REC_ALIGN). */
  padTo8(field = 'padding'): this {
    return this.zeros(field, align8(this.pos) - this.pos);
  }

  /** The bytes written (a view; for a fixed writer, all `fixed` bytes must have been written). */
  finish(): Uint8Array {
    if (this.fixed !== undefined && this.pos !== this.fixed) {
      throw new Error(`encoder bug: fixed writer of ${this.fixed} bytes finished at ${this.pos}`);
    }
    return this.buf.subarray(0, this.pos);
  }
}
