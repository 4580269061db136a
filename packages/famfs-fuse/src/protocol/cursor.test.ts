import { describe, expect, it } from 'vitest';
import { EncodeError, ProtocolError, Reader, Writer, align8 } from './cursor.js';

function bytes(...b: number[]): Uint8Array {
  return Uint8Array.from(b);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('Reader', () => {
  it('reads explicit little-endian widths', () => {
    const r = new Reader(bytes(0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xfe, 0xff, 0xff, 0xff));
    expect(r.u8('a')).toBe(0x01);
    expect(r.u16('b')).toBe(0x0302);
    expect(r.u32('c')).toBe(0x07060504);
    expect(r.remaining).toBe(4);
    expect(r.i32('d')).toBe(-2);
    expect(r.remaining).toBe(0);
    expect(() => r.u8('e')).toThrow(ProtocolError);
  });

  it('i32 is signed', () => {
    expect(new Reader(bytes(0xfe, 0xff, 0xff, 0xff)).i32('e')).toBe(-2);
  });

  it('u64: bigint exact, number only up to 2^53-1', () => {
    const max = bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00);
    expect(new Reader(max).u64('x')).toBe(9007199254740991);
    const over = bytes(0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00);
    expect(new Reader(over).u64big('x')).toBe(9007199254740992n);
    const e = thrown(() => new Reader(over, { base: 40, opcode: 15 }).u64('offset')) as ProtocolError;
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e.offset).toBe(40);
    expect(e.opcode).toBe(15);
    expect(e.message).toContain('READ');
  });

  it('i64 is signed and bounded', () => {
    expect(new Reader(bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)).i64('t')).toBe(-1);
    expect(() => new Reader(bytes(0, 0, 0, 0, 0, 0, 0, 0x80)).i64('t')).toThrow(ProtocolError);
  });

  it('fails with field and absolute offset when short', () => {
    const r = new Reader(bytes(1, 2, 3), { base: 40, opcode: 1 });
    r.u16('first');
    const e = thrown(() => r.u32('second')) as ProtocolError;
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e.field).toBe('second');
    expect(e.offset).toBe(42);
    expect(e.opcode).toBe(1);
  });

  it('struct() names the struct and checks its size up front', () => {
    const r = new Reader(new Uint8Array(10), { base: 40 });
    const e = thrown(() => r.struct('fuse_read_in', 40, (s) => s.u64('fh'))) as ProtocolError;
    expect(e.field).toBe('fuse_read_in');
    expect(e.offset).toBe(40);
    expect(r.offset).toBe(0);
    // a decoder that consumes the wrong amount is a bug, not a protocol error
    expect(() => new Reader(new Uint8Array(8)).struct('x', 8, (s) => s.u32('a'))).toThrow(/decoder bug/);
    expect(() => new Reader(new Uint8Array(8)).struct('x', 8, (s) => s.u32('a'))).not.toThrow(ProtocolError);
  });

  it('field names inside struct() are qualified', () => {
    const r = new Reader(bytes(1, 2, 3, 4), { base: 40 });
    const e = thrown(() => r.struct('fuse_x', 4, (s) => (s.u16('a'), s.u32('b')))) as ProtocolError;
    expect(e.field).toBe('fuse_x.b');
    expect(e.offset).toBe(42);
  });

  it('cstring requires a NUL within the remaining bytes', () => {
    const r = new Reader(bytes(0x61, 0x62, 0x00, 0x63, 0x00));
    expect(r.cstring('a')).toBe('ab');
    expect(r.cstring('b')).toBe('c');
    expect(r.remaining).toBe(0);
    expect(() => new Reader(bytes(0x61, 0x62)).cstring('n')).toThrow(ProtocolError);
    expect(() => new Reader(new Uint8Array(0)).cstring('n')).toThrow(ProtocolError);
    // the NUL is found only in the remaining bytes, not earlier ones
    const r2 = new Reader(bytes(0x00, 0x61));
    r2.u8('skip');
    expect(() => r2.cstring('n')).toThrow(ProtocolError);
  });

  it('cstring rejects invalid UTF-8', () => {
    expect(() => new Reader(bytes(0xff, 0xfe, 0x00)).cstring('n')).toThrow(ProtocolError);
    expect(new Reader(bytes(0xc3, 0xa9, 0x00)).cstring('n')).toBe('é');
  });

  it('bytesView is zero-copy and bounds-checked', () => {
    const buf = bytes(1, 2, 3, 4);
    const r = new Reader(buf);
    r.u8('a');
    const v = r.bytesView('data', 2);
    expect(Array.from(v)).toEqual([2, 3]);
    expect(v.buffer).toBe(buf.buffer);
    expect(() => r.bytesView('data', 2)).toThrow(ProtocolError);
    expect(() => r.bytesView('data', -1)).toThrow(ProtocolError);
  });

  it('end() rejects trailing bytes', () => {
    const r = new Reader(bytes(1, 2));
    r.u8('a');
    expect(() => r.end('body')).toThrow(ProtocolError);
  });

  it('respects a subarray view', () => {
    const whole = bytes(9, 9, 0x34, 0x12, 9);
    expect(new Reader(whole.subarray(2, 4)).u16('x')).toBe(0x1234);
    expect(() => new Reader(whole.subarray(2, 4)).u32('x')).toThrow(ProtocolError);
  });
});

describe('Writer', () => {
  it('writes explicit little-endian widths and grows', () => {
    const w = new Writer({ capacity: 2 });
    w.u8('a', 0x01).u16('b', 0x0302).u32('c', 0x07060504).i32('d', -2).u64('e', 0x0f0e0d0c0b0a0908n).i64('f', -1);
    expect(Array.from(w.finish())).toEqual([
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xfe, 0xff, 0xff, 0xff, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
  });

  it('range-checks every width', () => {
    const w = new Writer();
    expect(() => w.u8('a', 256)).toThrow(EncodeError);
    expect(() => w.u16('a', -1)).toThrow(EncodeError);
    expect(() => w.u32('a', 2 ** 32)).toThrow(EncodeError);
    expect(() => w.u32('a', 1.5)).toThrow(EncodeError);
    expect(() => w.i32('a', 2 ** 31)).toThrow(EncodeError);
    expect(() => w.u64('a', -1)).toThrow(EncodeError);
    expect(() => w.u64('a', 2 ** 64)).toThrow(EncodeError);
    expect(() => w.u64('a', 1n << 64n)).toThrow(EncodeError);
    expect(() => w.i64('a', 1n << 63n)).toThrow(EncodeError);
    expect(w.offset).toBe(0);
  });

  it('a fixed writer refuses to pass its size', () => {
    const w = new Writer({ fixed: 4 });
    w.u16('a', 1);
    const e = thrown(() => w.u32('b', 1)) as EncodeError;
    expect(e).toBeInstanceOf(EncodeError);
    expect(e.field).toBe('b');
    expect(e.offset).toBe(2);
    expect(() => w.finish()).toThrow(/fixed writer/);
  });

  it('padTo8 and cstring', () => {
    const w = new Writer();
    w.u8('a', 7).padTo8();
    expect(w.offset).toBe(8);
    w.padTo8();
    expect(w.offset).toBe(8);
    w.cstring('s', Uint8Array.from([0x61, 0x62]));
    expect(Array.from(w.finish())).toEqual([7, 0, 0, 0, 0, 0, 0, 0, 0x61, 0x62, 0]);
    expect(() => new Writer().cstring('s', Uint8Array.from([0x61, 0]))).toThrow(EncodeError);
  });

  it('align8', () => {
    expect([0, 1, 7, 8, 9, 24, 25].map(align8)).toEqual([0, 8, 8, 8, 16, 24, 32]);
  });
});
