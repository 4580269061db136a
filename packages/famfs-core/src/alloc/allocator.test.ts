/**
 * The allocator on a bare bitmap: contiguous first fit, the interleave rules
 * (each one rejected on its own), the fallback below one chunk, the strip
 * geometry, and all-or-nothing strided allocation.
 */
import { describe, expect, it } from 'vitest';
import { FamfsError } from '../errors.js';
import type { FmapRecord, SimpleExtent } from '../format/log.js';
import { AllocBitmap } from './bitmap.js';
import { Allocator, type InterleaveParams, type RandomInt, checkInterleave } from './allocator.js';
import { thrown } from '../../../../test/thrown.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const AU = 2 * MiB;
/** superblock (2 MiB) + default log (8 MiB) */
const META = 10 * MiB;

/** A bitmap as replay starts it: the superblock and log claimed. */
function fsBitmap(deviceSize: number): AllocBitmap {
  const bm = new AllocBitmap(deviceSize, AU);
  bm.claim(0, META);
  return bm;
}

/** Deterministic "random" bucket order for tests. */
function seeded(seed: number): RandomInt {
  let a = seed >>> 0;
  return (bound) => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a % bound;
  };
}

function snapshot(bm: AllocBitmap): string {
  let s = '';
  for (let u = 0; u < bm.nunits; u++) s += bm.isFree(u) ? '.' : 'x';
  return s;
}

const famfsError = (fn: () => unknown): FamfsError => thrown(fn, FamfsError);

function stripsOf(m: FmapRecord): { nstrips: number; chunkSize: number; strips: SimpleExtent[] } {
  if (m.type !== 'interleave') throw new Error(`expected an interleaved map, got ${m.type}`);
  expect(m.extents).toHaveLength(1);
  return m.extents[0]!;
}

describe('contiguous allocation', () => {
  it('is first fit, right after the log, rounded up to the alloc unit', () => {
    const a = new Allocator(fsBitmap(1 * GiB));
    expect(a.contiguous(1)).toEqual({ devIndex: 0, offset: META, len: AU });
    expect(a.contiguous(AU + 1)).toEqual({ devIndex: 0, offset: META + AU, len: 2 * AU });
    expect(a.contiguous(AU)).toEqual({ devIndex: 0, offset: META + 3 * AU, len: AU });
  });

  it('fills a hole from the start after resetCursor (first fit, not next fit across sessions)', () => {
    const bm = fsBitmap(1 * GiB);
    const a = new Allocator(bm);
    const x = a.contiguous(3 * AU);
    a.contiguous(AU);
    bm.release(x.offset, x.len); // a 3-unit hole at the front
    a.resetCursor();
    expect(a.contiguous(2 * AU).offset).toBe(x.offset);
    // a request bigger than the remaining 1-unit hole goes past it
    const big = a.contiguous(2 * AU);
    expect(big.offset).toBeGreaterThan(x.offset + 3 * AU);
  });

  it('skips holes that are too small', () => {
    const bm = fsBitmap(1 * GiB);
    bm.claim(META + AU, AU); // one free unit at META, then a claimed one
    const a = new Allocator(bm);
    expect(a.contiguous(2 * AU).offset).toBe(META + 2 * AU);
    a.resetCursor();
    expect(a.contiguous(AU).offset).toBe(META);
  });

  it('wraps to the start when the cursor is past the only free run', () => {
    const bm = fsBitmap(64 * MiB);
    const a = new Allocator(bm);
    const first = a.contiguous(AU);
    a.contiguous(64 * MiB - META - 2 * AU); // fill all but the last unit
    bm.release(first.offset, first.len);
    a.contiguous(AU); // the last unit (cursor reaches the end)
    expect(a.contiguous(AU).offset).toBe(first.offset);
  });

  it('never returns offset 0: a bitmap that leaves unit 0 free is a bug (EIO), not an extent', () => {
    const bm = new AllocBitmap(64 * MiB, AU); // nothing claimed, not even the superblock
    const e = famfsError(() => new Allocator(bm).contiguous(AU));
    expect(e.code).toBe('EIO');
    expect(e.message).toMatch(/offset 0/);
  });

  it('never allocates offset 0 on a real bitmap, however full', () => {
    const bm = fsBitmap(64 * MiB);
    const a = new Allocator(bm);
    const got: number[] = [];
    for (;;) {
      try {
        got.push(a.contiguous(AU).offset);
      } catch {
        break;
      }
    }
    expect(got).toHaveLength(64 / 2 - 5);
    expect(Math.min(...got)).toBe(META);
  });

  it('ENOSPC with a clear message when no run is big enough, bitmap unchanged', () => {
    const bm = fsBitmap(64 * MiB);
    const a = new Allocator(bm);
    const before = snapshot(bm);
    const e = famfsError(() => a.contiguous(64 * MiB - META + 1));
    expect(e.code).toBe('ENOSPC');
    expect(e.message).toMatch(/out of space/i);
    expect(e.message).toContain(String(64 * MiB - META + 1));
    expect(snapshot(bm)).toBe(before);
  });

  it('refuses size 0 and non-integer sizes (EINVAL)', () => {
    const a = new Allocator(fsBitmap(64 * MiB));
    expect(famfsError(() => a.contiguous(0)).code).toBe('EINVAL');
    expect(famfsError(() => a.contiguous(1.5)).code).toBe('EINVAL');
  });
});

describe('interleave rules', () => {
  const ok: InterleaveParams = { nstrips: 4, nbuckets: 8, chunkSize: 2 * MiB };
  const dev = 8 * GiB;

  it('accepts the fixture geometry (N 4, B 8, C 2m on 8 GiB)', () => {
    expect(() => checkInterleave(ok, dev, AU)).not.toThrow();
  });

  // each case breaks exactly one rule; everything else is valid
  const cases: Array<[string, InterleaveParams, number, RegExp]> = [
    ['a chunk that is not a power of two', { ...ok, chunkSize: 6 * MiB }, dev, /power of two/],
    ['a chunk that is a power of two but not a multiple of 2 MiB', { ...ok, chunkSize: 1 * MiB }, dev, /multiple of the alloc unit/],
    ['nstrips > nbuckets', { nstrips: 5, nbuckets: 4, chunkSize: 2 * MiB }, dev, /nstrips 5 > nbuckets 4/],
    ['nbuckets > 64 (buckets still >= 1 GiB)', { nstrips: 4, nbuckets: 65, chunkSize: 2 * MiB }, 65 * GiB, /nbuckets 65 > 64/],
    ['nstrips > 16 (with enough buckets)', { nstrips: 17, nbuckets: 32, chunkSize: 2 * MiB }, 32 * GiB, /nstrips 17 > 16/],
    ['buckets smaller than 1 GiB', { nstrips: 4, nbuckets: 9, chunkSize: 2 * MiB }, dev, /smaller than 1 GiB/],
    ['nstrips 0', { nstrips: 0, nbuckets: 8, chunkSize: 2 * MiB }, dev, /nstrips 0/],
  ];
  for (const [what, p, size, msg] of cases) {
    it(`rejects ${what} (EINVAL), and allocate() claims nothing`, () => {
      const e = famfsError(() => checkInterleave(p, size, AU));
      expect(e.code).toBe('EINVAL');
      expect(e.message).toMatch(msg);
      const bm = fsBitmap(size);
      const before = snapshot(bm);
      expect(famfsError(() => new Allocator(bm, seeded(1)).allocate(64 * MiB, p)).code).toBe('EINVAL');
      expect(snapshot(bm)).toBe(before);
    });
  }

  it('the same rule at its limit is accepted (64 buckets, 16 strips, exactly 1 GiB buckets)', () => {
    expect(() => checkInterleave({ nstrips: 16, nbuckets: 64, chunkSize: 2 * MiB }, 64 * GiB, AU)).not.toThrow();
    expect(() => checkInterleave({ nstrips: 8, nbuckets: 8, chunkSize: 4 * MiB }, dev, AU)).not.toThrow();
  });
});

describe('strided allocation', () => {
  const p: InterleaveParams = { nstrips: 4, nbuckets: 8, chunkSize: 2 * MiB };

  it('falls back to one contiguous extent for a file smaller than one chunk', () => {
    const a = new Allocator(fsBitmap(8 * GiB), seeded(3));
    const m = a.allocate(2 * MiB - 1, { ...p, chunkSize: 2 * MiB });
    expect(m).toEqual({ type: 'simple', extents: [{ devIndex: 0, offset: META, len: AU }] });
    const m2 = a.allocate(4 * MiB - 1, { nstrips: 2, nbuckets: 8, chunkSize: 4 * MiB });
    expect(m2.type).toBe('simple');
  });

  it('a file of exactly one chunk is interleaved', () => {
    const a = new Allocator(fsBitmap(8 * GiB), seeded(3));
    expect(a.allocate(2 * MiB, p).type).toBe('interleave');
  });

  it('puts each strip, nstripes × chunk long, in a different bucket', () => {
    const devSize = 8 * GiB + 6 * MiB; // the remainder (3 units) is wasted
    const bm = fsBitmap(devSize);
    const bucketUnits = Math.floor(bm.nunits / 8);
    for (const [size, nstripes] of [[64 * MiB, 8], [64 * MiB + 1, 9], [3 * MiB, 1], [8 * MiB, 1]] as const) {
      for (let seed = 1; seed <= 5; seed++) {
        const a = new Allocator(bm, seeded(seed));
        const ie = stripsOf(a.allocate(size, p));
        expect(ie.nstrips).toBe(4);
        expect(ie.chunkSize).toBe(2 * MiB);
        expect(ie.strips).toHaveLength(4);
        const buckets = new Set<number>();
        for (const s of ie.strips) {
          expect(s.len).toBe(nstripes * 2 * MiB);
          expect(s.offset % AU).toBe(0);
          expect(s.offset).toBeGreaterThanOrEqual(META);
          const first = Math.floor(s.offset / AU / bucketUnits);
          const last = Math.floor((s.offset + s.len - 1) / AU / bucketUnits);
          expect(last).toBe(first); // a strip never crosses into the next bucket
          expect(first).toBeLessThan(8); // nor into the wasted remainder
          buckets.add(first);
        }
        expect(buckets.size).toBe(4);
        // covers the file
        expect(ie.strips.length * ie.strips[0]!.len).toBeGreaterThanOrEqual(size);
      }
    }
  });

  it('varies the bucket order with the random source', () => {
    const orders = new Set<string>();
    for (let seed = 1; seed <= 8; seed++) {
      const ie = stripsOf(new Allocator(fsBitmap(8 * GiB), seeded(seed)).allocate(8 * MiB, p));
      orders.add(ie.strips.map((s) => Math.floor(s.offset / GiB)).join(','));
    }
    expect(orders.size).toBeGreaterThan(1);
  });

  it('claims exactly the strips in the bitmap', () => {
    const bm = fsBitmap(8 * GiB);
    const before = bm.allocatedBytes;
    const ie = stripsOf(new Allocator(bm, seeded(2)).allocate(24 * MiB, p));
    expect(bm.allocatedBytes - before).toBe(4 * ie.strips[0]!.len);
    for (const s of ie.strips) for (let o = s.offset; o < s.offset + s.len; o += AU) expect(bm.isFree(o / AU)).toBe(false);
  });

  it('all or nothing: when too few buckets have room, the bitmap is unchanged and the error is ENOSPC', () => {
    const bm = fsBitmap(8 * GiB);
    const bucket = GiB;
    // fill 5 of the 8 buckets completely: only 3 can take a strip, 4 are needed
    for (const b of [0, 2, 3, 5, 6]) {
      const from = Math.max(b * bucket, META);
      bm.claim(from, (b + 1) * bucket - from);
    }
    const before = snapshot(bm);
    const allocated = bm.allocatedBytes;
    for (let seed = 1; seed <= 6; seed++) {
      const e = famfsError(() => new Allocator(bm, seeded(seed)).allocate(64 * MiB, p));
      expect(e.code).toBe('ENOSPC');
      expect(e.message).toMatch(/found 3 of 4 strips/);
      expect(snapshot(bm)).toBe(before);
      expect(bm.allocatedBytes).toBe(allocated);
    }
    // with 3 strips asked for, it fits, in exactly the free buckets
    const ie = stripsOf(new Allocator(bm, seeded(9)).allocate(64 * MiB, { nstrips: 3, nbuckets: 8, chunkSize: 2 * MiB }));
    expect(ie.strips.map((s) => Math.floor(s.offset / bucket)).sort()).toEqual([1, 4, 7]);
  });

  it('all or nothing when buckets have free units but no run long enough', () => {
    const bm = fsBitmap(8 * GiB);
    // every bucket: free runs of 3 units only (a claimed unit every 4th)
    for (let u = 5; u < bm.nunits; u += 4) bm.claim(u * AU, AU);
    const before = snapshot(bm);
    const e = famfsError(() => new Allocator(bm, seeded(4)).allocate(32 * MiB, p)); // strips of 8 MiB = 4 units
    expect(e.code).toBe('ENOSPC');
    expect(snapshot(bm)).toBe(before);
  });
});
