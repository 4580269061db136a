import { describe, expect, it } from 'vitest';
import { RandomStream, normalizeSeed, verifyStream } from './random-fill.js';

// ---------------------------------------------------------------------------
// Straightforward BigInt reference of the upstream algorithm (independent of the
// 32-bit-halves implementation under test).
// ---------------------------------------------------------------------------
const M64 = (1n << 64n) - 1n;

function refRotl(x: bigint, k: bigint): bigint {
  return ((x << k) | (x >> (64n - k))) & M64;
}

function refState(seed: bigint): [bigint, bigint] {
  let s = BigInt.asUintN(32, seed);
  const splitmix = (): bigint => {
    s = (s + 0x9e3779b97f4a7c15n) & M64;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    return z ^ (z >> 31n);
  };
  const a = splitmix();
  const b = splitmix();
  return [a, b];
}

/** Reference of upstream randomize_buffer(buf, len, seed). */
function refBytes(seed: number | bigint, len: number): Uint8Array {
  let [s0, s1] = refState(BigInt(seed));
  const next = (): bigint => {
    const r = (s0 + s1) & M64;
    s1 ^= s0;
    s0 = refRotl(s0, 55n) ^ s1 ^ ((s1 << 14n) & M64);
    s1 = refRotl(s1, 36n);
    return r;
  };
  const out = new Uint8Array(len);
  let p = 0;
  while (len - p >= 4) {
    const v = next() & 0xffffffffn;
    for (let i = 0; i < 4; i++) out[p + i] = Number((v >> BigInt(8 * i)) & 0xffn);
    p += 4;
  }
  if (p < len) {
    const v = next() & 0xffffffffn;
    for (let i = 0; p < len; i++, p++) out[p] = Number((v >> BigInt(8 * i)) & 0xffn);
  }
  return out;
}

const refCache = new Map<string, Uint8Array>();
function ref(seed: number | bigint, len: number): Uint8Array {
  const key = `${seed}:${len}`;
  let r = refCache.get(key);
  if (!r) {
    r = refBytes(seed, len);
    refCache.set(key, r);
  }
  return r;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function oneShot(seed: number | bigint, len: number): Uint8Array {
  const b = new Uint8Array(len);
  new RandomStream(seed).fill(b);
  return b;
}

/** Fill `total` bytes using the given chunk sizes cyclically (last chunk = the rest). */
function chunked(seed: number, total: number, sizes: number[], unaligned = false): Uint8Array {
  const out = new Uint8Array(total);
  const rs = new RandomStream(seed);
  let p = 0;
  let k = 0;
  while (p < total) {
    let n = sizes[k++ % sizes.length]!;
    if (total - p <= n) n = total - p;
    if (unaligned) {
      const tmp = new Uint8Array(n + 1).subarray(1);
      rs.fill(tmp);
      out.set(tmp, p);
    } else {
      rs.fill(out.subarray(p, p + n));
    }
    p += n;
  }
  return out;
}

const MiB = 1 << 20;

describe('BigInt reference', () => {
  it('reproduces the research-note vectors (first 16 bytes)', () => {
    expect(hex(refBytes(1, 16))).toBe('284991ee66b6fb343a87ca18de441778');
    expect(hex(refBytes(42, 16))).toBe('985f52e27afb0c3df88c822b402249e5');
  });
});

describe('RandomStream', () => {
  it('matches the test vectors', () => {
    expect(hex(oneShot(1, 16))).toBe('284991ee66b6fb343a87ca18de441778');
    expect(hex(oneShot(42, 16))).toBe('985f52e27afb0c3df88c822b402249e5');
  });

  it.each([1, 42, 7, 0xdeadbeef, 0xffffffff, 0x80000000])(
    'equals the BigInt reference over 1 MiB (seed %i)', (seed) => {
      expect(Buffer.from(oneShot(seed, MiB)).equals(Buffer.from(ref(seed, MiB)))).toBe(true);
    });

  it.each([1, 2, 3, 5, 6, 7, 4095, 4097])('handles a %i-byte length with a tail', (len) => {
    expect(hex(oneShot(42, len))).toBe(hex(ref(42, len)));
  });

  it('a tail consumes one output, like upstream (3-byte fill == first 3 bytes)', () => {
    expect(hex(oneShot(1, 3))).toBe('284991');
    expect(hex(oneShot(1, 6))).toBe('284991ee66b6');
  });

  const total = 3 * 4096 + 40;
  for (const tail of [0, 1, 2, 3]) {
    const len = total + tail;
    for (const sizes of [[4], [8], [12], [4096], [4, 8, 12, 4096]]) {
      it(`chunked fill ${JSON.stringify(sizes)} == one-shot, len ${len}`, () => {
        expect(hex(chunked(42, len, sizes))).toBe(hex(ref(42, len)));
      });
      it(`unaligned chunked fill ${JSON.stringify(sizes)} == one-shot, len ${len}`, () => {
        expect(hex(chunked(42, len, sizes, true))).toBe(hex(ref(42, len)));
      });
    }
  }

  it('fills an unaligned buffer larger than the scratch block', () => {
    const len = 300_001;
    const b = new Uint8Array(len + 1).subarray(1);
    new RandomStream(99).fill(b);
    expect(Buffer.from(b).equals(Buffer.from(ref(99, len)))).toBe(true);
  });

  it('different seeds give different data', () => {
    const a = hex(oneShot(1, 64));
    const b = hex(oneShot(2, 64));
    const c = hex(oneShot(42, 64));
    expect(a).not.toBe(b);
    expect(a).not.toBe(c);
    expect(b).not.toBe(c);
  });

  it('uses only the low 32 bits of the seed', () => {
    const one = hex(oneShot(1, 256));
    expect(hex(oneShot(2 ** 32 + 1, 256))).toBe(one);
    expect(hex(oneShot((1n << 32n) + 1n, 256))).toBe(one);
    expect(hex(oneShot(1n, 256))).toBe(one);
    expect(hex(oneShot(-1, 64))).toBe(hex(oneShot(0xffffffff, 64)));
    expect(normalizeSeed(2 ** 32 + 1)).toBe(1);
    expect(normalizeSeed(-1n)).toBe(0xffffffff);
  });

  it('rejects a seed that is 0 after truncation, and non-integers', () => {
    expect(() => new RandomStream(0)).toThrow(RangeError);
    expect(() => new RandomStream(0n)).toThrow(RangeError);
    expect(() => new RandomStream(2 ** 32)).toThrow(RangeError);
    expect(() => new RandomStream(1n << 40n)).toThrow(RangeError);
    expect(() => new RandomStream(1.5)).toThrow(RangeError);
    expect(() => new RandomStream(Number.NaN)).toThrow(RangeError);
    expect(() => verifyStream(0, [])).toThrow(RangeError);
  });

  it('throws when a chunk follows one whose length is not a multiple of 4', () => {
    for (const first of [1, 2, 3, 5, 4097]) {
      const rs = new RandomStream(1);
      rs.fill(new Uint8Array(first));
      expect(() => rs.fill(new Uint8Array(4))).toThrow(RangeError);
      expect(() => rs.fill(new Uint8Array(1))).toThrow(RangeError);
      rs.fill(new Uint8Array(0)); // empty is a no-op
      expect(rs.position).toBe(first);
    }
  });
});

describe('verifyStream', () => {
  const len = 64 * 1024 + 3;
  const data = ref(42, len);

  it('returns -1 for matching data, whole or chunked', () => {
    expect(verifyStream(42, [data])).toBe(-1);
    const chunks: Uint8Array[] = [];
    for (let p = 0; p < len; p += 4096) chunks.push(data.subarray(p, Math.min(len, p + 4096)));
    expect(verifyStream(42, chunks)).toBe(-1);
    expect(verifyStream(42, [])).toBe(-1);
    expect(verifyStream(42, [new Uint8Array(0)])).toBe(-1);
  });

  it('returns -1 for matching unaligned chunks', () => {
    const chunks: Uint8Array[] = [];
    for (let p = 0; p < len; p += 12) {
      const n = Math.min(12, len - p);
      const c = new Uint8Array(n + 1).subarray(1);
      c.set(data.subarray(p, p + n));
      chunks.push(c);
    }
    expect(verifyStream(42, chunks)).toBe(-1);
  });

  it('finds a flipped byte at its word offset (aligned and unaligned, chunked)', () => {
    for (const at of [0, 3, 4097, 5000, 40_000]) {
      const bad = data.slice();
      bad[at]! ^= 0x01;
      const word = at & ~3;
      expect(verifyStream(42, [bad])).toBe(word);
      const un = new Uint8Array(len + 1).subarray(1);
      un.set(bad);
      expect(verifyStream(42, [un])).toBe(word);
      expect(verifyStream(42, [bad.subarray(0, 4096), bad.subarray(4096, 8192),
        bad.subarray(8192)])).toBe(word);
    }
    const b = data.slice();
    b[4097]! ^= 0xff;
    expect(verifyStream(42, [b])).toBe(4096);
  });

  it('reports a tail mismatch at the start of the tail', () => {
    const bad = data.slice();
    bad[len - 1]! ^= 0x80;
    expect(verifyStream(42, [bad])).toBe(len - 3);
  });

  it('wrong seed mismatches at offset 0', () => {
    expect(verifyStream(43, [data])).toBe(0);
  });

  it('files made by RandomStream verify; seed 2^32+1 verifies seed-1 data', () => {
    const d = oneShot(1, 10_001);
    expect(verifyStream(1, [d])).toBe(-1);
    expect(verifyStream(2 ** 32 + 1, [d])).toBe(-1);
  });

  it('throws on bad chunk lengths', () => {
    expect(() => verifyStream(42, [data.subarray(0, 5), data.subarray(5, 9)])).toThrow(RangeError);
    expect(() => verifyStream(42, [data.subarray(0, 3), data.subarray(3, 4)])).toThrow(RangeError);
  });
});
