import { describe, expect, it } from 'vitest';
import { FamfsProfiles, InitFlag, IomapProfiles } from './constants.js';
import { EncodeError } from './cursor.js';
import { encodeInitOut, negotiateInit, type InitConfig, type InitNegotiation, type InitOut } from './init.js';
import type { InitIn } from './requests.js';

// Bits written as literals, independent of InitFlag.
const ASYNC_READ = 1n << 0n;
const WRITEBACK_CACHE = 1n << 16n;
const MAX_PAGES = 1n << 22n;
const MAP_ALIGNMENT = 1n << 26n;
const INIT_EXT = 1n << 30n;
const PASSTHROUGH = 1n << 37n;
const OVER_IO_URING = 1n << 41n;
const BIT42 = 1n << 42n; // REQUEST_TIMEOUT upstream; DAX_FMAP in the libfuse-famfs profile
const BIT43 = 1n << 43n; // DAX_FMAP in kernel-v10; fuse-iomap's too

function kernel(minor: number, flags: bigint, major = 7): InitIn {
  return { major, minor, maxReadahead: 131072, flags };
}

function ok(n: InitNegotiation): Extract<InitNegotiation, { kind: 'ok' }> {
  if (n.kind !== 'ok') throw new Error(`negotiation: ${n.kind}`);
  return n;
}

const kv10 = FamfsProfiles['kernel-v10'];
const lff = FamfsProfiles['libfuse-famfs'];

describe('fuse_init_out encoding', () => {
  it('every field at its offset (hand-built), flags split into flags@12 and flags2@32', () => {
    const out: InitOut = {
      major: 7,
      minor: 45,
      maxReadahead: 131072,
      flags: INIT_EXT | MAX_PAGES | ASYNC_READ | BIT43 | PASSTHROUGH,
      maxBackground: 64,
      congestionThreshold: 48,
      maxWrite: 1048576,
      timeGran: 1,
      maxPages: 256,
      mapAlignment: 21,
      maxStackDepth: 2,
      requestTimeout: 30,
    };
    const b = new Uint8Array(64);
    const v = new DataView(b.buffer);
    v.setUint32(0, 7, true);
    v.setUint32(4, 45, true);
    v.setUint32(8, 131072, true);
    v.setUint32(12, 0x4040_0001, true);
    v.setUint16(16, 64, true);
    v.setUint16(18, 48, true);
    v.setUint32(20, 1048576, true);
    v.setUint32(24, 1, true);
    v.setUint16(28, 256, true);
    v.setUint16(30, 21, true);
    v.setUint32(32, 0x820, true);
    v.setUint32(36, 2, true);
    v.setUint16(40, 30, true);
    expect(encodeInitOut(out)).toEqual(b);
  });

  it('high bits without INIT_EXT cannot be encoded', () => {
    const out = ok(negotiateInit(kernel(45, ASYNC_READ), { wanted: ASYNC_READ })).out;
    expect(() => encodeInitOut({ ...out, flags: ASYNC_READ | PASSTHROUGH })).toThrow(EncodeError);
  });
});

describe('INIT negotiation', () => {
  it('flags = offered ∩ wanted ∩ supported; the kernel-offered-only and wanted-only bits stay off', () => {
    const n = ok(negotiateInit(kernel(45, ASYNC_READ | MAX_PAGES | INIT_EXT | OVER_IO_URING | PASSTHROUGH), {
      wanted: ASYNC_READ | MAX_PAGES | WRITEBACK_CACHE | OVER_IO_URING,
    }));
    // WRITEBACK_CACHE: not offered; PASSTHROUGH: not wanted; OVER_IO_URING: not supported
    expect(n.flags).toBe(ASYNC_READ | MAX_PAGES | INIT_EXT);
    expect(n.out.flags).toBe(n.flags);
    expect(n.famfs).toBeNull();
  });

  it('minor = min(kernel, 45)', () => {
    expect(ok(negotiateInit(kernel(40, 0n), { wanted: 0n })).minor).toBe(40);
    expect(ok(negotiateInit(kernel(45, 0n), { wanted: 0n })).out.minor).toBe(45);
    expect(ok(negotiateInit(kernel(46, 0n), { wanted: 0n })).out.minor).toBe(45);
    expect(ok(negotiateInit(kernel(99, 0n), { wanted: 0n })).out.minor).toBe(45);
  });

  it('a newer major: answer 7.45 and wait for another INIT; an older major or minor: refuse', () => {
    const r = negotiateInit(kernel(0, ASYNC_READ, 8), { wanted: ASYNC_READ });
    expect(r.kind).toBe('retry-major');
    if (r.kind === 'retry-major') {
      expect([r.out.major, r.out.minor, r.out.flags]).toEqual([7, 45, 0n]);
    }
    expect(negotiateInit(kernel(45, 0n, 6), { wanted: 0n }).kind).toBe('unsupported');
    expect(negotiateInit(kernel(30, 0n), { wanted: 0n }).kind).toBe('unsupported');
    expect(negotiateInit(kernel(31, 0n), { wanted: 0n }).kind).toBe('ok');
  });

  it('DAX_FMAP offered (kernel-v10, bit 43) and a profile configured: famfs on, bit in flags2', () => {
    const n = ok(negotiateInit(kernel(45, INIT_EXT | ASYNC_READ | BIT43), { wanted: ASYNC_READ, famfs: kv10 }));
    expect(n.famfs).toBe(kv10);
    expect(n.flags).toBe(INIT_EXT | ASYNC_READ | BIT43);
    const bytes = encodeInitOut(n.out);
    expect(new DataView(bytes.buffer).getUint32(32, true)).toBe(0x800);
    expect(new DataView(bytes.buffer).getUint32(12, true)).toBe(0x4000_0001);
  });

  it('DAX_FMAP not offered: no famfs, and the bit is never set', () => {
    const n = ok(negotiateInit(kernel(45, INIT_EXT | ASYNC_READ), { wanted: ASYNC_READ | BIT43, famfs: kv10 }));
    expect(n.famfs).toBeNull();
    expect(n.flags & BIT43).toBe(0n);
  });

  it('DAX_FMAP offered but no profile configured: the bit is unknown and stays off', () => {
    const n = ok(negotiateInit(kernel(45, INIT_EXT | BIT43), { wanted: BIT43 }));
    expect(n.famfs).toBeNull();
    expect(n.flags).toBe(INIT_EXT);
  });

  it('bit 43 from a fuse-iomap kernel (minor 99) is not famfs', () => {
    const n = ok(negotiateInit(kernel(99, INIT_EXT | BIT43), { wanted: 0n, famfs: kv10 }));
    expect(n.famfs).toBeNull();
    expect(n.flags & BIT43).toBe(0n);
  });

  it('libfuse-famfs (bit 42) on a 7.42 kernel is famfs, and never REQUEST_TIMEOUT', () => {
    const n = ok(
      negotiateInit(kernel(42, INIT_EXT | BIT42), { wanted: InitFlag.REQUEST_TIMEOUT, famfs: lff, requestTimeout: 30 }),
    );
    expect(n.famfs).toBe(lff);
    expect(n.flags).toBe(INIT_EXT | BIT42);
    expect(n.out.requestTimeout).toBe(0);
  });

  it('libfuse-famfs configured, but a 7.45 kernel: bit 42 is REQUEST_TIMEOUT', () => {
    const n = ok(
      negotiateInit(kernel(45, INIT_EXT | BIT42), { wanted: InitFlag.REQUEST_TIMEOUT, famfs: lff, requestTimeout: 30 }),
    );
    expect(n.famfs).toBeNull();
    expect(n.flags).toBe(INIT_EXT | BIT42);
    expect(n.out.requestTimeout).toBe(30);
  });

  it('without INIT_EXT from the kernel: no INIT_EXT, no high bits, flags2 zero', () => {
    // the decoder would already have dropped flags2; a caller passing high bits anyway gets none back
    const n = ok(negotiateInit(kernel(35, ASYNC_READ | PASSTHROUGH | BIT43), { wanted: ASYNC_READ | PASSTHROUGH, famfs: kv10 }));
    expect(n.flags).toBe(ASYNC_READ);
    expect(new DataView(encodeInitOut(n.out).buffer).getUint32(32, true)).toBe(0);
  });

  it('max_pages and max_write', () => {
    const full = ok(negotiateInit(kernel(45, MAX_PAGES), { wanted: MAX_PAGES })).out;
    expect([full.maxPages, full.maxWrite]).toEqual([256, 1048576]);
    const some = ok(negotiateInit(kernel(45, MAX_PAGES), { wanted: MAX_PAGES, maxPages: 64 })).out;
    expect([some.maxPages, some.maxWrite]).toEqual([64, 262144]);
    const capped = ok(negotiateInit(kernel(45, MAX_PAGES), { wanted: MAX_PAGES, maxPages: 16, maxWrite: 1 << 20 })).out;
    expect(capped.maxWrite).toBe(65536);
    const none = ok(negotiateInit(kernel(45, 0n), { wanted: MAX_PAGES })).out;
    expect([none.maxPages, none.maxWrite]).toEqual([0, 131072]);
    expect(() => negotiateInit(kernel(45, MAX_PAGES), { wanted: MAX_PAGES, maxPages: 257 })).toThrow(EncodeError);
  });

  it('map_alignment only with MAP_ALIGNMENT, at most 21', () => {
    expect(ok(negotiateInit(kernel(45, MAP_ALIGNMENT), { wanted: MAP_ALIGNMENT, mapAlignment: 21 })).out.mapAlignment).toBe(21);
    expect(ok(negotiateInit(kernel(45, 0n), { wanted: MAP_ALIGNMENT, mapAlignment: 21 })).out.mapAlignment).toBe(0);
    expect(() => negotiateInit(kernel(45, MAP_ALIGNMENT), { wanted: MAP_ALIGNMENT, mapAlignment: 22 })).toThrow(EncodeError);
  });

  it('max_readahead never exceeds the kernel’s', () => {
    expect(ok(negotiateInit(kernel(45, 0n), { wanted: 0n, maxReadahead: 1 << 30 })).out.maxReadahead).toBe(131072);
    expect(ok(negotiateInit(kernel(45, 0n), { wanted: 0n, maxReadahead: 4096 })).out.maxReadahead).toBe(4096);
  });

  it('property: never a flag the kernel did not offer (1,000 random offers)', () => {
    let seed = 12345;
    const rnd32 = (): bigint => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return BigInt(seed);
    };
    for (let i = 0; i < 1000; i++) {
      const offered = (rnd32() << 32n) | rnd32();
      const cfg: InitConfig = { wanted: (rnd32() << 32n) | rnd32(), famfs: i % 3 === 0 ? kv10 : i % 3 === 1 ? lff : null };
      const minor = 31 + (i % 70);
      const n = ok(negotiateInit(kernel(minor, offered), cfg));
      expect(n.flags & ~offered).toBe(0n);
      if ((offered & INIT_EXT) === 0n) expect(n.flags >> 31n).toBe(0n);
      expect(() => encodeInitOut(n.out)).not.toThrow();
    }
  });
});

describe('fuse-iomap negotiation (bit 43 shared with famfs kernel-v10)', () => {
  const iomap = IomapProfiles['iomap-2025'];
  const wanted = ASYNC_READ | MAX_PAGES | INIT_EXT;

  it('a minor-99 kernel offering bit 43: FUSE_IOMAP with the iomap profile, never famfs', () => {
    const n = ok(negotiateInit(kernel(99, INIT_EXT | BIT43 | ASYNC_READ), { wanted, famfs: kv10, iomap }));
    expect(n.iomap).toBe(iomap);
    expect(n.famfs).toBeNull();
    expect(n.flags & BIT43).toBe(BIT43);
    expect(n.out.minor).toBe(45);
  });

  it('a minor-45 kernel offering bit 43 is famfs (kernel-v10), not iomap', () => {
    const n = ok(negotiateInit(kernel(45, INIT_EXT | BIT43), { wanted, famfs: kv10, iomap }));
    expect(n.famfs).toBe(kv10);
    expect(n.iomap).toBeNull();
  });

  it('not offered, not configured, or without INIT_EXT: no iomap and no bit 43', () => {
    for (const [k, cfg] of [
      [kernel(99, INIT_EXT), { wanted, iomap }],
      [kernel(99, INIT_EXT | BIT43), { wanted }],
      [kernel(99, BIT43), { wanted, iomap }],
      [kernel(45, INIT_EXT | BIT43), { wanted, iomap }],
    ] as const) {
      const n = ok(negotiateInit(k, cfg));
      expect(n.iomap).toBeNull();
      expect(n.flags & BIT43).toBe(0n);
    }
  });

  it('both profiles claiming bit 43 for one minor is refused', () => {
    const clash = { ...iomap, minKernelMinor: 45, maxKernelMinor: 45 };
    expect(() => negotiateInit(kernel(45, INIT_EXT | BIT43), { wanted, famfs: kv10, iomap: clash })).toThrow(EncodeError);
  });
});

describe('MAP_ALIGNMENT', () => {
  it('only when wanted and offered: the log2 alignment at offset 30', () => {
    const n = ok(negotiateInit(kernel(45, MAP_ALIGNMENT | INIT_EXT), { wanted: MAP_ALIGNMENT, mapAlignment: 21 }));
    expect(n.flags & MAP_ALIGNMENT).toBe(MAP_ALIGNMENT);
    expect(new DataView(encodeInitOut(n.out).buffer).getUint16(30, true)).toBe(21);
    const not = ok(negotiateInit(kernel(45, INIT_EXT), { wanted: MAP_ALIGNMENT, mapAlignment: 21 }));
    expect(not.flags & MAP_ALIGNMENT).toBe(0n);
    expect(not.out.mapAlignment).toBe(0);
    expect(() => negotiateInit(kernel(45, MAP_ALIGNMENT), { wanted: MAP_ALIGNMENT, mapAlignment: 22 })).toThrow(EncodeError);
  });
});
