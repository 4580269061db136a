/**
 * The JavaScript slicing-by-8 CRC-32 (crc32Js: what runs on a Node without
 * zlib.crc32) against node:zlib's crc32 (zlib's own C code, an independent
 * implementation of the same function famfs uses), and the production entry
 * point `crc32` against fixed values computed outside this project.
 */
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Js } from './crc32.js';
import { seeded } from '../../../../test/random.js';

const zcrc = (b: Uint8Array, seed = 0): number => zlib.crc32(b, seed) >>> 0;
const R = seeded('crc32.test');

describe('crc32 (the production entry point)', () => {
  it('gives the standard check values', () => {
    const enc = (t: string) => new TextEncoder().encode(t);
    expect(crc32(enc('123456789'))).toBe(0xcbf43926);
    expect(crc32(enc('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(new Uint8Array(32))).toBe(0x190a55ad);
    expect(crc32(new Uint8Array(32).fill(0xff))).toBe(0xff6cab0b);
    // continuing from a partial CRC
    expect(crc32(enc('56789'), crc32(enc('1234')))).toBe(0xcbf43926);
  });

  it('is zlib on both sides of the size where it switches from JavaScript to zlib, continuing or not', () => {
    for (const n of [536, 4095, 4096, 4097, 100_000]) {
      const b = R.bytes(n);
      expect(crc32(b)).toBe(zcrc(b));
      expect(crc32(b, 0x12345678)).toBe(zcrc(b, 0x12345678));
    }
  });
});

describe('crc32Js (the JavaScript fallback) against zlib', () => {
  const crc32 = crc32Js;

  it('the CRC-32 check value: crc32("123456789") = 0xCBF43926', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('the empty buffer has CRC 0, and continuing with nothing keeps the CRC', () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(new Uint8Array(0), 0xdeadbeef)).toBe(0xdeadbeef);
  });

  it('returns an unsigned 32-bit value', () => {
    // 0xff bytes give a CRC with the top bit set: it must not come back negative
    const c = crc32(new Uint8Array(4).fill(0xff));
    expect(c).toBe(zcrc(new Uint8Array(4).fill(0xff)));
    expect(c).toBeGreaterThanOrEqual(0);
    expect(c).toBeLessThanOrEqual(0xffffffff);
  });

  it('equals zlib crc32 on random buffers of every length 0..2000', () => {
    const pool = R.bytes(2000 + 16);
    for (let n = 0; n <= 2000; n++) {
      const b = new Uint8Array(pool.buffer, pool.byteOffset, n);
      const ours = crc32(b);
      if (ours !== zcrc(b)) expect.fail(`length ${n}: ours 0x${ours.toString(16)}, zlib 0x${zcrc(b).toString(16)}`);
    }
  });

  it('equals zlib crc32 on unaligned views (every start offset mod 8)', () => {
    const pool = R.bytes(4096);
    for (let start = 0; start < 8; start++) {
      for (const n of [1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 536, 1000]) {
        const b = new Uint8Array(pool.buffer, pool.byteOffset + start, n);
        expect(crc32(b), `start ${start} length ${n}`).toBe(zcrc(b));
      }
    }
  });

  it('continues a CRC across a split at every position (and matches zlib continuing too)', () => {
    for (const total of [0, 1, 9, 100, 544, 1031]) {
      const b = new Uint8Array(R.bytes(total));
      const whole = zcrc(b);
      for (let cut = 0; cut <= total; cut++) {
        const a = b.subarray(0, cut);
        const rest = b.subarray(cut);
        const ours = crc32(rest, crc32(a));
        if (ours !== whole) expect.fail(`length ${total} split at ${cut}: 0x${ours.toString(16)} != 0x${whole.toString(16)}`);
        // seeds are interchangeable: our partial CRC continues in zlib and vice versa
        if (zcrc(rest, crc32(a)) !== whole || crc32(rest, zcrc(a)) !== whole) expect.fail(`length ${total} split at ${cut}: seed mismatch`);
      }
    }
  });

  it('continues across many random pieces', () => {
    const b = new Uint8Array(R.bytes(5000));
    let c = 0;
    let i = 0;
    while (i < b.length) {
      const n = Math.min(b.length - i, 1 + R.int(97));
      c = crc32(b.subarray(i, i + n), c);
      i += n;
    }
    expect(c).toBe(zcrc(b));
  });

  it('detects every single-bit flip of a 544-byte log entry', () => {
    const b = new Uint8Array(R.bytes(544));
    const base = crc32(b);
    for (let bit = 0; bit < 544 * 8; bit++) {
      b[bit >> 3]! ^= 1 << (bit & 7);
      const c = crc32(b);
      b[bit >> 3]! ^= 1 << (bit & 7);
      if (c === base) expect.fail(`bit ${bit} flip not detected`);
    }
  });
});
