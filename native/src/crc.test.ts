import { describe, it, expect } from 'vitest';
import * as zlib from 'node:zlib';
import * as native from './index.js';
import { seeded } from '../../test/random.js';

/** every random byte of this file: seeded (test/random.ts) */
const R = seeded('crc.test');
const randomBytes = (n: number): Buffer => R.bytes(n);

const zlibCrc32 = (b: Uint8Array): number => (zlib as unknown as { crc32(b: Uint8Array): number }).crc32(b) >>> 0;

/** `count` records of `stride` bytes, each with a correct CRC of [0, crcLen) stored at crcLen as a u64 LE. */
function records(count: number, stride: number, crcLen: number): Buffer {
  const b = randomBytes(count * stride);
  for (let r = 0; r < count; r++) {
    const rec = b.subarray(r * stride, (r + 1) * stride);
    rec.writeBigUInt64LE(BigInt(zlibCrc32(rec.subarray(0, crcLen))), crcLen);
  }
  return b;
}

/** b[i] ^= mask */
function flip(b: Uint8Array, i: number, mask: number): void {
  b[i] = (b[i] ?? 0) ^ mask;
}

describe('crc32', () => {
  it("is zlib's crc32 for every length 0..1100 and every alignment, with and without PCLMULQDQ", () => {
    const buf = randomBytes(1200);
    for (let len = 0; len <= 1100; len++) {
      for (const off of [0, 1, 7, 15]) {
        const v = buf.subarray(off, off + len);
        const want = zlibCrc32(v);
        expect(native.crc32(v)).toBe(want);
        expect(native.crc32(v, { fold: false })).toBe(want);
      }
    }
  });

  it('agrees with zlib on a large buffer', () => {
    const b = randomBytes(3 * 1024 * 1024 + 13);
    expect(native.crc32(b)).toBe(zlibCrc32(b));
  });

  it('reports whether the CPU folds with PCLMULQDQ', () => {
    expect(typeof native.crcFoldAvailable()).toBe('boolean');
  });
});

describe('crc32Records', () => {
  const STRIDE = 544;
  const CRC = 536;

  it('finds no bad record in good ones, and every bad one exactly (CRC word, high word, body bytes)', () => {
    const n = 2000;
    const b = records(n, STRIDE, CRC);
    expect([...native.crc32Records(b, n, STRIDE, CRC)]).toEqual([]);
    const bad = [0, 1, 17, 999, 1000, n - 1];
    flip(b, 0 * STRIDE + 3, 0x01); // a body byte
    flip(b, 1 * STRIDE + CRC, 0x80); // the stored CRC
    b[17 * STRIDE + CRC + 4] = 1; // the high word of the u64 must be 0
    flip(b, 999 * STRIDE + CRC - 1, 0xff); // the last covered byte
    flip(b, 1000 * STRIDE, 0x10); // the first byte
    flip(b, (n - 1) * STRIDE + 200, 0x04);
    for (const fold of [true, false]) expect([...native.crc32Records(b, n, STRIDE, CRC, { fold })]).toEqual(bad);
  });

  it('agrees with a JavaScript check of each record, for random corruption', () => {
    const n = 500;
    const b = records(n, STRIDE, CRC);
    for (let k = 0; k < 60; k++) flip(b, R.int(b.length), 1 << R.int(8));
    const want: number[] = [];
    for (let r = 0; r < n; r++) {
      const rec = b.subarray(r * STRIDE, (r + 1) * STRIDE);
      if (rec.readBigUInt64LE(CRC) !== BigInt(zlibCrc32(rec.subarray(0, CRC)))) want.push(r);
    }
    expect([...native.crc32Records(b, n, STRIDE, CRC)]).toEqual(want);
  });

  it('ignores the bytes of a record past its CRC field', () => {
    const b = records(3, 100, 40);
    flip(b, 100 + 48, 0xff);
    flip(b, 100 + 99, 0xff);
    expect([...native.crc32Records(b, 3, 100, 40)]).toEqual([]);
    flip(b, 100 + 47, 0xff); // the CRC field's last byte
    expect([...native.crc32Records(b, 3, 100, 40)]).toEqual([1]);
  });

  it('checks records from the view start, not the buffer start (a subarray)', () => {
    const b = records(10, STRIDE, CRC);
    const outer = Buffer.concat([Buffer.alloc(48, 0xaa), b]);
    const v = outer.subarray(48, 48 + 10 * STRIDE);
    expect([...native.crc32Records(v, 10, STRIDE, CRC)]).toEqual([]);
    expect([...native.crc32Records(v, 0, STRIDE, CRC)]).toEqual([]);
  });

  it('refuses records past the view, a CRC field past the stride, and non-integers', () => {
    const b = records(4, STRIDE, CRC);
    expect(() => native.crc32Records(b, 5, STRIDE, CRC)).toThrow(RangeError);
    expect(() => native.crc32Records(b.subarray(1), 4, STRIDE, CRC)).toThrow(RangeError);
    expect(() => native.crc32Records(b, 4, STRIDE, STRIDE - 7)).toThrow(RangeError);
    expect(() => native.crc32Records(b, 1.5, STRIDE, CRC)).toThrow(TypeError);
    expect(() => native.crc32Records(b, -1, STRIDE, CRC)).toThrow(RangeError);
    expect(() => native.crc32Records(new Uint8Array(new SharedArrayBuffer(STRIDE)), 1, STRIDE, CRC)).toThrow(TypeError);
  });
});
