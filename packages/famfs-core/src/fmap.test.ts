/**
 * The fmap resolver against a brute-force reference written from the spec:
 * SIMPLE extents are concatenated in order; for an interleaved extent,
 * `chunk = x / C; strip = chunk % N; stripe = chunk / N;
 *  device offset = strips[strip].offset + stripe × C + x % C`.
 * The reference resolves one byte at a time; the resolver's runs, expanded to
 * bytes, must give the same device address for every byte of the range.
 */
import { describe, expect, it } from 'vitest';
import { FamfsError } from './errors.js';
import type { FmapRecord, SimpleExtent } from './format/log.js';
import { type DeviceRun, fmapCapacity, forEachRun, resolveFmap, runAt } from './fmap.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Device address of file byte `x`, computed straight from the spec's formula. */
function refAddress(fmap: FmapRecord, x: number): { dev: number; off: number } {
  let base = 0;
  if (fmap.type === 'simple') {
    for (const e of fmap.extents) {
      if (x < base + e.len) return { dev: e.devIndex, off: e.offset + (x - base) };
      base += e.len;
    }
    throw new Error(`byte ${x} is past the map`);
  }
  for (const ie of fmap.extents) {
    const len = ie.nstrips * ie.strips[0]!.len;
    if (x < base + len) {
      const xi = x - base;
      const C = ie.chunkSize;
      const chunk = Math.floor(xi / C);
      const strip = ie.strips[chunk % ie.nstrips]!;
      const stripe = Math.floor(chunk / ie.nstrips);
      return { dev: strip.devIndex, off: strip.offset + stripe * C + (xi % C) };
    }
    base += len;
  }
  throw new Error(`byte ${x} is past the map`);
}

/** Check the resolver's runs for [offset, offset+length) byte by byte against the reference. */
function checkRange(fmap: FmapRecord, offset: number, length: number): DeviceRun[] {
  const runs = resolveFmap(fmap, offset, length);
  let pos = offset;
  for (const r of runs) {
    expect(r.fileOffset).toBe(pos);
    expect(r.len).toBeGreaterThan(0);
    for (let i = 0; i < r.len; i++) {
      const want = refAddress(fmap, pos + i);
      if (want.off !== r.offset + i || want.dev !== r.devIndex) {
        throw new Error(`file byte ${pos + i}: resolver says dev ${r.devIndex} @${r.offset + i}, the spec says dev ${want.dev} @${want.off}`);
      }
    }
    pos += r.len;
  }
  expect(pos).toBe(offset + length);
  return runs;
}

/** A small PRNG so "random" ranges are reproducible. */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const ext = (offset: number, len: number, devIndex = 0): SimpleExtent => ({ devIndex, offset, len });

// Small units keep byte-by-byte checks cheap; the resolver does not care about the alloc unit.
const simple3: FmapRecord = { type: 'simple', extents: [ext(0x10000, 3000), ext(0x4000, 1000), ext(0x90000, 4096)] };
const ilv: FmapRecord = {
  type: 'interleave',
  // 3 strips of 4 chunks of 256 bytes: 3 × 1024 bytes of file
  extents: [{ nstrips: 3, chunkSize: 256, strips: [ext(0x5000, 1024), ext(0x1000, 1024), ext(0x9000, 1024)] }],
};

describe('fmapCapacity', () => {
  it('is the sum of simple extents, and nstrips × strip length for interleave', () => {
    expect(fmapCapacity(simple3)).toBe(3000 + 1000 + 4096);
    expect(fmapCapacity(ilv)).toBe(3 * 1024);
  });
});

describe('resolveFmap: simple maps', () => {
  it('resolves a single extent to one run', () => {
    const m: FmapRecord = { type: 'simple', extents: [ext(6 * MiB, 2 * MiB)] };
    expect(resolveFmap(m, 100, 1000)).toEqual([{ devIndex: 0, offset: 6 * MiB + 100, len: 1000, fileOffset: 100 }]);
  });

  it('concatenates extents in order, not in device order', () => {
    // the second extent lies *below* the first on the device
    const runs = checkRange(simple3, 0, fmapCapacity(simple3));
    expect(runs).toEqual([
      { devIndex: 0, offset: 0x10000, len: 3000, fileOffset: 0 },
      { devIndex: 0, offset: 0x4000, len: 1000, fileOffset: 3000 },
      { devIndex: 0, offset: 0x90000, len: 4096, fileOffset: 4000 },
    ]);
  });

  it('splits a range that crosses extent boundaries at each boundary', () => {
    const runs = checkRange(simple3, 2999, 1002);
    expect(runs.map((r) => [r.offset, r.len])).toEqual([[0x10000 + 2999, 1], [0x4000, 1000], [0x90000, 1]]);
  });

  it('starts in a later extent when the offset is past the first', () => {
    expect(checkRange(simple3, 3500, 10)).toEqual([{ devIndex: 0, offset: 0x4000 + 500, len: 10, fileOffset: 3500 }]);
  });

  it('agrees with the reference on random ranges', () => {
    const r = rng(1);
    const cap = fmapCapacity(simple3);
    for (let i = 0; i < 200; i++) {
      const off = r(cap);
      checkRange(simple3, off, r(cap - off + 1));
    }
  });

  it('keeps the device index of each extent', () => {
    const m: FmapRecord = { type: 'simple', extents: [ext(0x2000, 100, 0), ext(0x2000, 100, 1)] };
    expect(checkRange(m, 50, 100).map((x) => x.devIndex)).toEqual([0, 1]);
  });
});

describe('resolveFmap: interleaved maps', () => {
  it('walks the strips round robin, one chunk at a time', () => {
    const runs = checkRange(ilv, 0, fmapCapacity(ilv));
    // chunk k lives in strip k % 3 at stripe floor(k / 3)
    expect(runs).toHaveLength(12);
    expect(runs.slice(0, 4).map((r) => r.offset)).toEqual([0x5000, 0x1000, 0x9000, 0x5000 + 256]);
    for (const run of runs) expect(run.len).toBe(256);
  });

  it('splits a range at every chunk boundary it crosses', () => {
    const runs = checkRange(ilv, 200, 400); // [200, 600): chunks 0, 1, 2
    expect(runs.map((r) => [r.offset, r.len])).toEqual([[0x5000 + 200, 56], [0x1000, 256], [0x9000, 88]]);
  });

  it('handles a range inside one chunk of a later stripe', () => {
    // file byte 7 * 256 + 10: chunk 7 → strip 1, stripe 2
    expect(checkRange(ilv, 7 * 256 + 10, 20)).toEqual([{ devIndex: 0, offset: 0x1000 + 2 * 256 + 10, len: 20, fileOffset: 7 * 256 + 10 }]);
  });

  it('agrees with the reference for the fixture geometry (4 strips, 2 MiB chunks) at chunk edges', () => {
    const m: FmapRecord = {
      type: 'interleave',
      extents: [{
        nstrips: 4,
        chunkSize: 2 * MiB,
        strips: [ext(0x180000000, 16 * MiB), ext(0x100000000, 16 * MiB), ext(0x1c0000000, 16 * MiB), ext(0x40000000, 16 * MiB)],
      }],
    };
    // byte-exact checks on short ranges straddling chunk, stripe and strip boundaries
    for (const edge of [2 * MiB, 4 * MiB, 8 * MiB, 8 * MiB + 2 * MiB, 62 * MiB]) checkRange(m, edge - 3, 7);
    const whole = resolveFmap(m, 0, 64 * MiB);
    expect(whole).toHaveLength(32);
    expect(whole[5]).toEqual({ devIndex: 0, offset: 0x100000000 + 2 * MiB, len: 2 * MiB, fileOffset: 10 * MiB });
  });

  it('agrees with the reference on random ranges, several geometries', () => {
    const r = rng(7);
    for (const [nstrips, chunk, stripeCount] of [[1, 64, 5], [2, 128, 3], [5, 32, 4], [16, 16, 2]] as const) {
      const strips = Array.from({ length: nstrips }, (_, i) => ext(0x100000 * (nstrips - i), chunk * stripeCount));
      const m: FmapRecord = { type: 'interleave', extents: [{ nstrips, chunkSize: chunk, strips }] };
      const cap = fmapCapacity(m);
      for (let i = 0; i < 60; i++) {
        const off = r(cap);
        const runs = checkRange(m, off, r(cap - off + 1));
        // no run crosses a chunk boundary
        for (const run of runs) expect(Math.floor(run.fileOffset / chunk)).toBe(Math.floor((run.fileOffset + run.len - 1) / chunk));
      }
    }
  });

  it('concatenates several interleaved extents (the format allows it)', () => {
    const m: FmapRecord = {
      type: 'interleave',
      extents: [
        { nstrips: 2, chunkSize: 64, strips: [ext(0x1000, 128), ext(0x2000, 128)] },
        { nstrips: 3, chunkSize: 32, strips: [ext(0x8000, 64), ext(0x7000, 64), ext(0x6000, 64)] },
      ],
    };
    expect(fmapCapacity(m)).toBe(256 + 192);
    checkRange(m, 0, 448);
    checkRange(m, 250, 40);
  });
});

describe('resolveFmap: ranges it must refuse', () => {
  const refuses = (fn: () => unknown, what: RegExp): void => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FamfsError);
    expect((err as FamfsError).code).toBe('EINVAL');
    expect((err as FamfsError).message).toMatch(what);
  };

  it('a range ending past the map is EINVAL (simple and interleaved)', () => {
    refuses(() => resolveFmap(simple3, 0, fmapCapacity(simple3) + 1), /past the end/);
    refuses(() => resolveFmap(simple3, fmapCapacity(simple3), 1), /past the end/);
    refuses(() => resolveFmap(ilv, 3 * 1024 - 1, 2), /past the end/);
  });

  it('a range ending exactly at the end is fine; length 0 yields no runs', () => {
    expect(checkRange(ilv, 3 * 1024 - 1, 1)).toHaveLength(1);
    expect(resolveFmap(simple3, fmapCapacity(simple3), 0)).toEqual([]);
  });

  it('negative or fractional offsets and lengths are EINVAL', () => {
    refuses(() => resolveFmap(simple3, -1, 1), /invalid range/);
    refuses(() => resolveFmap(simple3, 0, -1), /invalid range/);
    refuses(() => resolveFmap(simple3, 0.5, 1), /invalid range/);
  });

  it('a walk stops when the callback returns false', () => {
    const seen: number[] = [];
    forEachRun(ilv, 0, 3 * 1024, (r) => {
      seen.push(r.fileOffset);
      return seen.length < 2;
    });
    expect(seen).toEqual([0, 256]);
  });
});

describe('runAt: the whole run holding a byte', () => {
  /** the spec's view: the run is the maximal range around `pos` inside one extent or chunk, and its bytes follow the reference */
  const check = (fmap: FmapRecord, pos: number, start: number, len: number): void => {
    const r = runAt(fmap, pos);
    expect([r.fileOffset, r.len]).toEqual([start, len]);
    expect(pos).toBeGreaterThanOrEqual(r.fileOffset);
    expect(pos).toBeLessThan(r.fileOffset + r.len);
    for (let i = 0; i < r.len; i++) {
      const want = refAddress(fmap, r.fileOffset + i);
      if (want.off !== r.offset + i || want.dev !== r.devIndex) throw new Error(`run byte ${i}: dev ${r.devIndex} @${r.offset + i}, spec dev ${want.dev} @${want.off}`);
    }
  };

  it('a simple map: the whole extent, wherever pos falls in it', () => {
    check(simple3, 0, 0, 3000);
    check(simple3, 2999, 0, 3000);
    check(simple3, 3000, 3000, 1000);
    check(simple3, 4500, 4000, 4096);
    check(simple3, 8095, 4000, 4096);
  });

  it('an interleaved map: the whole chunk (its strip, its stripe)', () => {
    check(ilv, 0, 0, 256);
    check(ilv, 255, 0, 256);
    check(ilv, 7 * 256 + 10, 7 * 256, 256);
    check(ilv, 3 * 1024 - 1, 11 * 256, 256);
  });

  it('several interleaved extents, each with its own chunk size', () => {
    const m: FmapRecord = {
      type: 'interleave',
      extents: [
        { nstrips: 2, chunkSize: 64, strips: [ext(0x1000, 128), ext(0x2000, 128, 1)] },
        { nstrips: 3, chunkSize: 32, strips: [ext(0x8000, 64), ext(0x7000, 64, 2), ext(0x6000, 64)] },
      ],
    };
    check(m, 100, 64, 64);
    check(m, 256, 256, 32);
    check(m, 256 + 40, 256 + 32, 32);
    expect(runAt(m, 256 + 40).devIndex).toBe(2);
    expect(runAt(m, 100).devIndex).toBe(1);
  });

  it('agrees with forEachRun: the run is the union of the walk pieces of its range', () => {
    const r = rng(11);
    for (const m of [simple3, ilv]) {
      const cap = fmapCapacity(m);
      for (let i = 0; i < 100; i++) {
        const pos = r(cap);
        const run = runAt(m, pos);
        expect(resolveFmap(m, run.fileOffset, run.len)).toEqual([run]);
      }
    }
  });

  it('a byte outside the map is EINVAL', () => {
    for (const pos of [-1, 0.5, fmapCapacity(simple3), 1e20]) {
      let err: unknown;
      try {
        runAt(simple3, pos);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FamfsError);
      expect((err as FamfsError).code).toBe('EINVAL');
    }
  });
});
