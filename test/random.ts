/**
 * The one PRNG of the test suite (mulberry32): every random choice a test
 * makes — corrupted bytes, file contents, kill delays, fuzz inputs — comes
 * from here, from a seed, so any failure reproduces. The suite seed is
 * FAMFS_TEST_SEED (default fixed); each use mixes in its own label, and
 * test/setup.ts prints the suite seed when a test fails. No vitest in here.
 */

export const DEFAULT_SUITE_SEED = 0x5eed_f00d;

/** The seed every labelled stream derives from: FAMFS_TEST_SEED, else the default. */
export function suiteSeed(): number {
  const s = process.env.FAMFS_TEST_SEED;
  if (s === undefined || s === '') return DEFAULT_SUITE_SEED;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new Error(`FAMFS_TEST_SEED must be an integer in 0..2^32-1, not '${s}'`);
  return n;
}

/** The stream's functions are plain closures: `const next = rng(1).next` is fine. */
export interface Rng {
  readonly seed: number;
  /** a uniform u32 */
  readonly next: () => number;
  /** a uniform float in [0, 1) */
  readonly float: () => number;
  /** a uniform integer in [0, n) */
  readonly int: (n: number) => number;
  /** a uniform integer in [lo, hi] */
  readonly range: (lo: number, hi: number) => number;
  readonly pick: <T>(xs: readonly T[]) => T;
  /** `n` random bytes (a Buffer, so it also serves as file contents) */
  readonly bytes: (n: number) => Buffer;
}

/** A stream from a numeric seed. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const float = (): number => next() / 4294967296;
  const int = (n: number): number => Math.floor(float() * n);
  return {
    seed: seed >>> 0,
    next,
    float,
    int,
    range: (lo, hi) => lo + int(hi - lo + 1),
    pick: <T>(xs: readonly T[]): T => {
      if (xs.length === 0) throw new Error('pick from an empty list');
      return xs[int(xs.length)] as T;
    },
    bytes: (n) => {
      const b = Buffer.allocUnsafe(n);
      const words = n >>> 2;
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i < words; i++) dv.setUint32(i * 4, next(), true);
      for (let i = words * 4; i < n; i++) b[i] = next() & 0xff;
      return b;
    },
  };
}

/** FNV-1a of a label: distinct streams for distinct uses of one suite seed. */
function labelHash(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The stream for one use, named by `label`: the suite seed mixed with the label. */
export function seeded(label: string): Rng {
  return rng((suiteSeed() ^ labelHash(label)) >>> 0);
}
