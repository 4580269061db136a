/**
 * fuse-iomap as the kernel sees it: IOMAP_BEGIN/IOMAP_END over the test
 * transport (a SOCK_SEQPACKET pair, the test playing the kernel), against a
 * real famfs image — simple and interleaved files, master and client hosts,
 * EOF, REPORT, multi-device cookies. Requests and expected replies are built
 * by hand (test-kernel.testkit.ts); expected mappings are computed here from
 * the files' extents with the spec's formula (chunk k → strip k mod N,
 * stripe k div N), not with core's resolver.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Famfs, type FileNode, type FmapRecord } from '@famfs/core';
import { FamfsFuseFs } from './filesystem.js';
import {
  E, GiB, type HandIomap, KiB, MiB, Op, type Served, attrOut, cname, entryOut, errorReply, getattrIn, initIn, iomapBeginIn,
  iomapBeginOut, iomapEndIn, outHeaderOf, reply, request, serve,
} from './test-kernel.testkit.js';
import { seeded } from '../../../test/random.js';
import { formattedImage } from '../../../test/helpers.js';

const MASTER = '1f0e0d0c-0b0a-4908-8706-050403020100';
const CLIENT = '2f0e0d0c-0b0a-4908-8706-050403020100';
const CHUNK = 2 * MiB;
const AU = 2 * MiB;

// INIT, by hand: bit 43 = flags2 bit 11 (the offer 0x7fff_fffb carries INIT_EXT, bit 30)
const BIT43_2 = 1 << 11;
/** FUSE_ATTR_IOMAP in the iomap-2025 profile */
const ATTR_IOMAP = 1 << 2;

// opflags (seed 002)
const OP_WRITE = 1 << 0;
const OP_ZERO = 1 << 1;
const OP_REPORT = 1 << 2;
const OP_DIRECT = 1 << 4;
const OP_ATOMIC = 1 << 9;
// types and flags
const HOLE = 0;
const MAPPED = 2;
const PURE_OVERWRITE = 255;
const WANT_IOMAP_END = 1 << 7;
const NULL_ADDR = 0xffff_ffff_ffff_ffffn;

/** device cookies the "kernel" handed out for daxdev 0 (and 1, for the two-device file) */
const COOKIE0 = 7;
const COOKIE1 = 9;

// inodes (log index + 16)
const SIMPLE = 16n;
const STRIPED = 17n;
const SMALL = 18n;
const DIR = 19n;
const META_LOG = 4n;
/** a file on two devices with a chosen layout (chunk k on device k mod 2): a test double serves it, no second image needed */
const TWO_DEV = 999n;

const SIMPLE_SIZE = 4 * MiB;
const STRIPED_SIZE = 64 * MiB;
const SMALL_SIZE = 5000;

let tmp: string;
let image: string;
let master: Famfs;
let client: Famfs;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-iomap-'));
  image = path.join(tmp, 'famfs.img');
  const dev = formattedImage(image, 8 * GiB, MASTER);
  const next = seeded('iomap image').next;
  master = Famfs.fromDevice(dev, { systemUuid: MASTER, random: (bound) => next() % bound });
  master.createFile('simple.bin', SIMPLE_SIZE, { mode: 0o644 });
  master.createFile('striped.bin', STRIPED_SIZE, { mode: 0o644, interleave: { nstrips: 4, nbuckets: 8, chunkSize: CHUNK } });
  master.createFile('small.txt', SMALL_SIZE, { mode: 0o644 });
  master.mkdir('dir');
  const r = seeded('iomap contents');
  master.writeAt(master.statFile('striped.bin'), 0, r.bytes(STRIPED_SIZE));
  client = Famfs.open(image, { writable: false, systemUuid: CLIENT });
});

afterAll(() => {
  client?.close();
  master?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const extentOf = (f: FileNode): { offset: number; len: number } => {
  if (f.fmap.type !== 'simple') throw new Error('not simple');
  return f.fmap.extents[0]!;
};
const stripsOf = (f: FileNode): Array<{ offset: number; len: number }> => {
  if (f.fmap.type !== 'interleave') throw new Error('not interleaved');
  return f.fmap.extents[0]!.strips;
};

/** fuse-iomap's spec for a striped file: chunk k lives in strip k mod N at stripe k div N */
function chunkAddr(strips: Array<{ offset: number }>, k: number): number {
  return strips[k % strips.length]!.offset + Math.floor(k / strips.length) * CHUNK;
}

const mapped = (offset: number, length: number, addr: number, dev: number, flags = 0): HandIomap => ({ offset, length, addr, type: MAPPED, flags, dev });
const overwrite = (offset: number | bigint, length: number | bigint): HandIomap => ({ offset, length, addr: NULL_ADDR, type: PURE_OVERWRITE, flags: 0, dev: 0 });
const hole = (offset: number | bigint, length: number | bigint): HandIomap => ({ offset, length, addr: NULL_ADDR, type: HOLE, flags: 0, dev: 0 });

/** A FamfsFuseFs that also serves TWO_DEV: interleaved over daxdev 0 and 1 (chunk k on device k mod 2). */
class TwoDeviceFs extends FamfsFuseFs {
  static readonly fmap: FmapRecord = {
    type: 'interleave',
    extents: [{ nstrips: 2, chunkSize: CHUNK, strips: [{ devIndex: 0, offset: 4 * GiB, len: 4 * MiB }, { devIndex: 1, offset: 6 * GiB, len: 4 * MiB }] }],
  };

  override fileOf(id: bigint): FileNode {
    if (id !== TWO_DEV) return super.fileOf(id);
    return { kind: 'file', relpath: 'two-dev.bin', size: 8 * MiB, flags: 0, mode: 0o644, uid: 0, gid: 0, index: 983, fmap: TwoDeviceFs.fmap };
  }
}

async function withIomap(famfs: Famfs, fn: (s: Served, call: (op: number, id: bigint, body: Uint8Array) => Promise<{ u: bigint; got: Uint8Array }>) => Promise<void>, cookies = new Map([[0, COOKIE0], [1, COOKIE1]])): Promise<void> {
  const s = serve(famfs, 'error', false, {
    iomap: { profile: 'iomap-2025', cookies },
    makeFs: (f) => new TwoDeviceFs(f, { cache: 'auto' }),
  });
  try {
    const u = s.kernel.unique();
    const init = await s.kernel.call(request(Op.INIT, u, 0n, initIn(7, 99, 128 * KiB, 0x7fff_fffb, 0x7ff | BIT43_2)));
    expect(outHeaderOf(init).error).toBe(0);
    // flags2 @ body 32: bit 43 taken, minor @ body 4: ours (45)
    const v = new DataView(init.buffer, init.byteOffset + 16);
    expect(v.getUint32(32, true) & BIT43_2).toBe(BIT43_2);
    expect(v.getUint32(4, true)).toBe(45);
    expect(s.session.iomap).toBe(true);
    await fn(s, async (op, id, body) => {
      const uu = s.kernel.unique();
      return { u: uu, got: await s.kernel.call(request(op, uu, id, body)) };
    });
    expect(s.logLines).toEqual([]);
  } finally {
    await s.stop();
  }
}

describe('negotiation', () => {
  it('a 7.45 kernel (bit 43 is famfs there) or no iomap configured: no FUSE_IOMAP, and 4094/4095 are ENOSYS', async () => {
    for (const [minor, configured] of [[45, true], [99, false]] as const) {
      const s = serve(master, 'error', false, configured ? { iomap: { profile: 'iomap-2025', cookies: new Map([[0, COOKIE0]]) } } : {});
      try {
        const init = await s.kernel.call(request(Op.INIT, s.kernel.unique(), 0n, initIn(7, minor, 128 * KiB, 0x7fff_fffb, 0x7ff | BIT43_2)));
        expect(new DataView(init.buffer, init.byteOffset + 16).getUint32(32, true) & BIT43_2).toBe(0);
        for (const op of [Op.IOMAP_BEGIN, Op.IOMAP_END]) {
          const u = s.kernel.unique();
          expect(await s.kernel.call(request(op, u, SIMPLE, iomapBeginIn(0, SIMPLE, 0, 4096)))).toEqual(errorReply(u, E.ENOSYS));
        }
      } finally {
        await s.stop();
      }
    }
  });

  it('with iomap, regular files carry FUSE_ATTR_IOMAP in fuse_attr.flags; directories do not', () =>
    withIomap(master, async (s, call) => {
      const t = s.time;
      const l = await call(Op.LOOKUP, 1n, cname('simple.bin'));
      expect(l.got).toEqual(reply(l.u, entryOut({
        ino: SIMPLE, size: SIMPLE_SIZE, blocks: SIMPLE_SIZE / 512, time: t, mode: 0o100644, nlink: 1, uid: 0, gid: 0, blksize: AU, flags: ATTR_IOMAP,
      }, 1)));
      const d = await call(Op.GETATTR, DIR, getattrIn());
      expect(d.got).toEqual(reply(d.u, attrOut({ ino: DIR, size: 0, blocks: 0, time: t, mode: 0o040755, nlink: 2, uid: 0, gid: 0, blksize: AU }, 1)));
    }));
});

describe('IOMAP_BEGIN on a master', () => {
  it('a simple file: the whole extent from its start, clipped to pos+count rounded up to a block', () =>
    withIomap(master, async (_s, call) => {
      const x = extentOf(master.statFile('simple.bin'));
      const cases: Array<[number, number | bigint, number]> = [
        [0, 4096, 4096],
        [MiB + 100, 10_000, MiB + 12 * KiB], // ends at 1 MiB + 10100 → next 4 KiB
        [3 * MiB, 0x7fff_ffff_ffff_ffffn, SIMPLE_SIZE], // FIEMAP-sized counts stop at the file size
        [SIMPLE_SIZE - 1, 1, SIMPLE_SIZE],
      ];
      for (const [pos, count, end] of cases) {
        const r = await call(Op.IOMAP_BEGIN, SIMPLE, iomapBeginIn(OP_DIRECT, SIMPLE, pos, count));
        expect(r.got, `pos ${pos}`).toEqual(reply(r.u, iomapBeginOut(mapped(0, end, x.offset, COOKIE0), overwrite(0, end))));
      }
    }));

  it('an interleaved file: the chunk holding pos, at its strip and stripe', () =>
    withIomap(master, async (_s, call) => {
      const strips = stripsOf(master.statFile('striped.bin'));
      for (const k of [0, 1, 3, 4, 5, 17, 31]) {
        const pos = k * CHUNK + 300;
        const r = await call(Op.IOMAP_BEGIN, STRIPED, iomapBeginIn(0, STRIPED, pos, 3 * MiB));
        expect(r.got, `chunk ${k}`).toEqual(reply(r.u, iomapBeginOut(mapped(k * CHUNK, CHUNK, chunkAddr(strips, k), COOKIE0), overwrite(k * CHUNK, CHUNK))));
      }
      // a short read inside a chunk: from the chunk start to the block after pos+count
      const r = await call(Op.IOMAP_BEGIN, STRIPED, iomapBeginIn(0, STRIPED, 5 * CHUNK + 8192, 100));
      expect(r.got).toEqual(reply(r.u, iomapBeginOut(mapped(5 * CHUNK, 12 * KiB, chunkAddr(strips, 5), COOKIE0), overwrite(5 * CHUNK, 12 * KiB))));
    }));

  it('the device bytes at each answer are the file bytes (200 seeded positions)', () =>
    withIomap(master, async (_s, call) => {
      const f = master.statFile('striped.bin');
      const want = master.read(f, 0, STRIPED_SIZE);
      const r = seeded('iomap bytes');
      for (let i = 0; i < 200; i++) {
        const pos = r.int(STRIPED_SIZE);
        const a = await call(Op.IOMAP_BEGIN, STRIPED, iomapBeginIn(0, STRIPED, pos, 1 + r.int(4 * MiB)));
        const v = new DataView(a.got.buffer, a.got.byteOffset + 16);
        const off = Number(v.getBigUint64(0, true));
        const len = Number(v.getBigUint64(8, true));
        const addr = Number(v.getBigUint64(16, true));
        expect(pos >= off && pos < off + len).toBe(true);
        const n = Math.min(64, off + len - pos);
        expect(Buffer.from(master.dev.view(addr + (pos - off), n))).toEqual(Buffer.from(want.subarray(pos, pos + n)));
      }
    }));

  it('a file that is not a whole number of blocks: the last mapping rounds up to the block', () =>
    withIomap(master, async (_s, call) => {
      const x = extentOf(master.statFile('small.txt'));
      const r = await call(Op.IOMAP_BEGIN, SMALL, iomapBeginIn(0, SMALL, 4096, 904));
      expect(r.got).toEqual(reply(r.u, iomapBeginOut(mapped(0, 8192, x.offset, COOKIE0), overwrite(0, 8192))));
    }));

  it('writes: PURE_OVERWRITE, and the read mapping asks for IOMAP_END; ZERO is a write too', () =>
    withIomap(master, async (_s, call) => {
      const x = extentOf(master.statFile('simple.bin'));
      for (const op of [OP_WRITE, OP_ZERO, OP_WRITE | OP_DIRECT]) {
        const r = await call(Op.IOMAP_BEGIN, SIMPLE, iomapBeginIn(op, SIMPLE, 8192, 8192));
        expect(r.got).toEqual(reply(r.u, iomapBeginOut(mapped(0, 16 * KiB, x.offset, COOKIE0, WANT_IOMAP_END), overwrite(0, 16 * KiB))));
      }
    }));

  it('at and past EOF: a write is EFBIG, a read EINVAL, REPORT (FIEMAP) a HOLE from the block holding pos', () =>
    withIomap(master, async (_s, call) => {
      const w = await call(Op.IOMAP_BEGIN, SIMPLE, iomapBeginIn(OP_WRITE, SIMPLE, SIMPLE_SIZE, 4096));
      expect(w.got).toEqual(errorReply(w.u, E.EFBIG));
      const rd = await call(Op.IOMAP_BEGIN, SIMPLE, iomapBeginIn(0, SIMPLE, SIMPLE_SIZE + 4096, 4096));
      expect(rd.got).toEqual(errorReply(rd.u, E.EINVAL));
      const h = await call(Op.IOMAP_BEGIN, SIMPLE, iomapBeginIn(OP_REPORT, SIMPLE, SIMPLE_SIZE, MiB));
      expect(h.got).toEqual(reply(h.u, iomapBeginOut(hole(SIMPLE_SIZE, MiB), overwrite(SIMPLE_SIZE, MiB))));
      // inside the last partial block of small.txt (5000 bytes): the hole starts at that block
      const hs = await call(Op.IOMAP_BEGIN, SMALL, iomapBeginIn(OP_REPORT, SMALL, SMALL_SIZE, 100));
      expect(hs.got).toEqual(reply(hs.u, iomapBeginOut(hole(4096, 4096), overwrite(4096, 4096))));
      // FIEMAP's count runs to s_maxbytes: the hole stops at the last whole block below 2^63
      const big = await call(Op.IOMAP_BEGIN, SIMPLE, iomapBeginIn(OP_REPORT, SIMPLE, SIMPLE_SIZE, 0x7fff_ffff_ffff_ffffn));
      const end = (1n << 63n) - 4096n;
      expect(big.got).toEqual(reply(big.u, iomapBeginOut(hole(SIMPLE_SIZE, end - BigInt(SIMPLE_SIZE)), overwrite(SIMPLE_SIZE, end - BigInt(SIMPLE_SIZE)))));
      // REPORT inside the file: the mapping
      const x = extentOf(master.statFile('simple.bin'));
      const m = await call(Op.IOMAP_BEGIN, SIMPLE, iomapBeginIn(OP_REPORT, SIMPLE, 0, 0x7fff_ffff_ffff_ffffn));
      expect(m.got).toEqual(reply(m.u, iomapBeginOut(mapped(0, SIMPLE_SIZE, x.offset, COOKIE0), overwrite(0, SIMPLE_SIZE))));
    }));

  it('refusals: meta-file write EPERM, atomic write EOPNOTSUPP, directory EISDIR, unknown nodeid ENOENT, attr_ino of another inode EINVAL, reserved bits EINVAL', () =>
    withIomap(master, async (_s, call) => {
      const cases: Array<[bigint, Uint8Array, number]> = [
        [META_LOG, iomapBeginIn(OP_WRITE, META_LOG, 0, 4096), E.EPERM],
        [SIMPLE, iomapBeginIn(OP_WRITE | OP_ATOMIC, SIMPLE, 0, 4096), E.EOPNOTSUPP],
        [DIR, iomapBeginIn(0, DIR, 0, 4096), E.EISDIR],
        [123456n, iomapBeginIn(0, 123456n, 0, 4096), E.ENOENT],
        [SIMPLE, iomapBeginIn(0, STRIPED, 0, 4096), E.EINVAL],
        [SIMPLE, iomapBeginIn(0, SIMPLE, 0, 4096, 1), E.EINVAL],
      ];
      for (const [id, body, errno] of cases) {
        const r = await call(Op.IOMAP_BEGIN, id, body);
        expect(r.got).toEqual(errorReply(r.u, errno));
      }
      // reading the log is fine
      const r = await call(Op.IOMAP_BEGIN, META_LOG, iomapBeginIn(0, META_LOG, 0, 4096));
      expect(r.got).toEqual(reply(r.u, iomapBeginOut(mapped(0, 4096, 2 * MiB, COOKIE0), overwrite(0, 4096))));
    }));
});

describe('IOMAP_BEGIN on a client host', () => {
  it('reads map like on the master; every kind of write is EROFS', () =>
    withIomap(client, async (_s, call) => {
      const x = extentOf(client.statFile('simple.bin'));
      const r = await call(Op.IOMAP_BEGIN, SIMPLE, iomapBeginIn(0, SIMPLE, 0, 8192));
      expect(r.got).toEqual(reply(r.u, iomapBeginOut(mapped(0, 8192, x.offset, COOKIE0), overwrite(0, 8192))));
      for (const op of [OP_WRITE, OP_ZERO, 1 << 7, 0x8000_0000]) {
        const w = await call(Op.IOMAP_BEGIN, SIMPLE, iomapBeginIn(op, SIMPLE, 0, 4096));
        expect(w.got, `opflags ${op}`).toEqual(errorReply(w.u, E.EROFS));
      }
      const e = await call(Op.IOMAP_END, SIMPLE, iomapEndIn(OP_WRITE, SIMPLE, 0, 4096, 4096, mapped(0, 8192, x.offset, COOKIE0)));
      expect(e.got).toEqual(errorReply(e.u, E.EROFS));
    }));
});

describe('multi-device fmaps', () => {
  it('each run names its own device cookie; a device without a cookie is ENODEV', async () => {
    await withIomap(master, async (_s, call) => {
      for (const [k, dev, addr] of [[0, COOKIE0, 4 * GiB], [1, COOKIE1, 6 * GiB], [2, COOKIE0, 4 * GiB + CHUNK], [3, COOKIE1, 6 * GiB + CHUNK]] as const) {
        const r = await call(Op.IOMAP_BEGIN, TWO_DEV, iomapBeginIn(0, TWO_DEV, k * CHUNK + 5, 4096));
        expect(r.got, `chunk ${k}`).toEqual(reply(r.u, iomapBeginOut(mapped(k * CHUNK, 8192, addr, dev), overwrite(k * CHUNK, 8192))));
      }
    });
    await withIomap(master, async (_s, call) => {
      const ok = await call(Op.IOMAP_BEGIN, TWO_DEV, iomapBeginIn(0, TWO_DEV, 0, 4096));
      expect(outHeaderOf(ok.got).error).toBe(0);
      const r = await call(Op.IOMAP_BEGIN, TWO_DEV, iomapBeginIn(0, TWO_DEV, CHUNK, 4096));
      expect(r.got).toEqual(errorReply(r.u, E.ENODEV));
    }, new Map([[0, COOKIE0]]));
  });
});

describe('IOMAP_END', () => {
  it('acknowledges a write inside the file and counts its bytes; checks written and the mapping', () =>
    withIomap(master, async (s, call) => {
      const x = extentOf(master.statFile('simple.bin'));
      const before = s.session.stats.bytesWritten;
      const okEnd = await call(Op.IOMAP_END, SIMPLE, iomapEndIn(OP_WRITE, SIMPLE, 4096, 8192, 8192, mapped(0, 16 * KiB, x.offset, COOKIE0, WANT_IOMAP_END)));
      expect(okEnd.got).toEqual(reply(okEnd.u));
      expect(s.session.stats.bytesWritten - before).toBe(8192);
      const cases: Array<[bigint, Uint8Array, number, string]> = [
        [SIMPLE, iomapEndIn(OP_WRITE, SIMPLE, 0, 4096, 8192, mapped(0, 16 * KiB, x.offset, COOKIE0)), E.EINVAL, 'written > count'],
        [SIMPLE, iomapEndIn(OP_WRITE, SIMPLE, SIMPLE_SIZE - 4096, 8192, 8192, mapped(0, SIMPLE_SIZE, x.offset, COOKIE0)), E.EFBIG, 'past the size'],
        [SIMPLE, iomapEndIn(0, SIMPLE, 0, 4096, 4096, mapped(0, 4096, x.offset + 4096, COOKIE0)), E.EINVAL, 'another address'],
        [SIMPLE, iomapEndIn(0, SIMPLE, 0, 4096, 4096, mapped(0, 4096, x.offset, COOKIE1)), E.EINVAL, 'another device'],
        [SIMPLE, iomapEndIn(0, SIMPLE, 0, 4096, 4096, mapped(0, SIMPLE_SIZE + AU, x.offset, COOKIE0)), E.EINVAL, 'past the run'],
        [SIMPLE, iomapEndIn(0, SIMPLE, 0, 4096, 4096, { ...mapped(0, 4096, x.offset, COOKIE0), type: 3 }), E.EINVAL, 'UNWRITTEN'],
        [SIMPLE, iomapEndIn(0, SIMPLE, 0, 4096, 4096, { ...hole(0, 4096), dev: 1 }), E.EINVAL, 'a hole on a device'],
        [META_LOG, iomapEndIn(OP_WRITE, META_LOG, 0, 4096, 4096, mapped(0, 4096, 2 * MiB, COOKIE0)), E.EPERM, 'meta write'],
      ];
      for (const [id, body, errno, what] of cases) {
        const r = await call(Op.IOMAP_END, id, body);
        expect(r.got, what).toEqual(errorReply(r.u, errno));
      }
      // a failed operation (negative written: the kernel's errno) and a REPORT hole are acknowledged
      for (const body of [
        iomapEndIn(OP_WRITE, SIMPLE, 0, 4096, -5, mapped(0, 4096, x.offset, COOKIE0)),
        iomapEndIn(OP_REPORT, SIMPLE, SIMPLE_SIZE, 4096, 0, hole(SIMPLE_SIZE, 4096)),
        iomapEndIn(OP_WRITE, SIMPLE, 0, 4096, 4096, overwrite(0, 4096)),
      ]) {
        const r = await call(Op.IOMAP_END, SIMPLE, body);
        expect(r.got).toEqual(reply(r.u));
      }
      expect(s.session.stats.bytesWritten - before).toBe(8192 + 4096);
    }));
});

describe('device cookies registered after INIT (a real kernel: FUSE_DEV_IOC_BACKING_OPEN needs an iomap connection)', () => {
  it('a cookie function is called once, after the INIT reply, and its table is used', async () => {
    let calls = 0;
    const s = serve(master, 'error', false, { iomap: { profile: 'iomap-2025', cookies: () => (calls++, new Map([[0, 42]])) } });
    try {
      expect(calls).toBe(0);
      await s.kernel.call(request(Op.INIT, s.kernel.unique(), 0n, initIn(7, 99, 128 * KiB, 0x7fff_fffb, 0x7ff | BIT43_2)));
      expect(calls).toBe(1);
      const x = extentOf(master.statFile('simple.bin'));
      const u = s.kernel.unique();
      expect(await s.kernel.call(request(Op.IOMAP_BEGIN, u, SIMPLE, iomapBeginIn(0, SIMPLE, 0, 4096))))
        .toEqual(reply(u, iomapBeginOut(mapped(0, 4096, x.offset, 42), overwrite(0, 4096))));
      expect(calls).toBe(1);
      expect(s.logLines).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  it('a registration that fails is logged once; mappings are then ENODEV; no iomap, no call', async () => {
    const s = serve(master, 'error', false, { iomap: { profile: 'iomap-2025', cookies: () => { throw new Error('ENOTBLK: not a block device'); } } });
    try {
      await s.kernel.call(request(Op.INIT, s.kernel.unique(), 0n, initIn(7, 99, 128 * KiB, 0x7fff_fffb, 0x7ff | BIT43_2)));
      const u = s.kernel.unique();
      expect(await s.kernel.call(request(Op.IOMAP_BEGIN, u, SIMPLE, iomapBeginIn(0, SIMPLE, 0, 4096)))).toEqual(errorReply(u, E.ENODEV));
      expect(s.logLines).toHaveLength(1);
      expect(s.logLines[0]).toMatch(/registering the devices failed \(ENOTBLK/);
    } finally {
      await s.stop();
    }
    let called = false;
    const t = serve(master, 'error', false, { iomap: { profile: 'iomap-2025', cookies: () => ((called = true), new Map()) } });
    try {
      await t.kernel.call(request(Op.INIT, t.kernel.unique(), 0n, initIn(7, 45, 128 * KiB, 0x7fff_fffb, 0x7ff)));
      expect(called).toBe(false);
    } finally {
      await t.stop();
    }
  });
});

/**
 * The checks the fuse-iomap kernel makes of every BEGIN reply (a failure
 * there is EUCLEAN for the I/O), written from the series: a known type,
 * reply flags within bits 0–7, a non-zero length, offset and length whole
 * blocks, no overflow, offset below s_maxbytes, MAPPED with a device and an
 * address, HOLE with neither, PURE_OVERWRITE only in the write slot with no
 * flags, device or address; and both mappings contain `pos`.
 */
function kernelRejects(slot: 'read' | 'write', m: { offset: bigint; length: bigint; addr: bigint; type: number; flags: number; dev: number }, pos: bigint, block: bigint): string | null {
  const U64 = (1n << 64n) - 1n;
  const MAXBYTES = (1n << 63n) - 1n;
  if (![HOLE, 1, MAPPED, 3, 4, PURE_OVERWRITE].includes(m.type)) return 'type';
  if ((m.flags & ~0xff) !== 0) return 'flags';
  if (m.length === 0n) return 'length 0';
  if (m.offset % block !== 0n || m.length % block !== 0n) return 'not whole blocks';
  if (m.offset + m.length > U64) return 'offset overflow';
  if (m.offset >= MAXBYTES) return 'offset past s_maxbytes';
  if (m.type === MAPPED && (m.dev === 0 || m.addr === NULL_ADDR)) return 'mapped without device or address';
  if (m.type === HOLE && (m.dev !== 0 || m.addr !== NULL_ADDR)) return 'hole with device or address';
  if (m.type === PURE_OVERWRITE && (slot !== 'write' || m.flags !== 0 || m.dev !== 0 || m.addr !== NULL_ADDR)) return 'bad pure overwrite';
  if (m.addr !== NULL_ADDR && m.addr + m.length > U64) return 'addr overflow';
  if (!(m.offset <= pos && pos < m.offset + m.length)) return 'does not contain pos';
  return null;
}

describe('hostile IOMAP requests (2,000 seeded)', () => {
  it('each gets one reply: an errno, or mappings the kernel would accept', () =>
    withIomap(master, async (s, call) => {
      const r = seeded('iomap hostile');
      const ids = [SIMPLE, STRIPED, SMALL, DIR, META_LOG, TWO_DEV, 1n, 77777n];
      const sizes = new Map<bigint, number>([[SIMPLE, SIMPLE_SIZE], [STRIPED, STRIPED_SIZE], [SMALL, SMALL_SIZE], [TWO_DEV, 8 * MiB], [META_LOG, 8 * MiB]]);
      const u64 = (): bigint => (BigInt(r.next()) << 32n) | BigInt(r.next());
      let mappedReplies = 0;
      for (let i = 0; i < 2000; i++) {
        const id = r.pick(ids);
        const size = BigInt(sizes.get(id) ?? 0);
        const pos = r.pick([() => BigInt(r.int(Number(size) + 1)), () => size + BigInt(r.int(1 << 20)), u64, () => 0n, () => size - 1n])();
        const count = r.pick([() => BigInt(r.int(1 << 22)), u64, () => 0n, () => 0x7fff_ffff_ffff_ffffn])();
        const opflags = r.pick([0, OP_WRITE, OP_REPORT, OP_ZERO, OP_DIRECT, OP_WRITE | OP_ATOMIC, r.next()]);
        const attr = r.int(10) === 0 ? u64() : id;
        if (r.int(4) === 0) {
          const a = await call(Op.IOMAP_END, id, iomapEndIn(opflags >>> 0, attr, Number(pos & 0xffff_ffffn), Number(count & 0xffff_ffffn), BigInt.asIntN(64, u64()),
            { offset: u64(), length: u64(), addr: u64(), type: r.int(256), flags: r.int(1024), dev: r.pick([0, COOKIE0, COOKIE1, r.next()]) }));
          const h = outHeaderOf(a.got);
          expect(h.unique).toBe(a.u);
          expect(h.error <= 0 && h.error > -512).toBe(true);
          expect(a.got.length).toBe(16);
          continue;
        }
        const a = await call(Op.IOMAP_BEGIN, id, iomapBeginIn(opflags >>> 0, attr, pos, count));
        const h = outHeaderOf(a.got);
        expect(h.unique).toBe(a.u);
        if (h.error !== 0) {
          expect(h.error > -512 && a.got.length === 16, `#${i}`).toBe(true);
          continue;
        }
        expect(a.got.length).toBe(16 + 64);
        const v = new DataView(a.got.buffer, a.got.byteOffset + 16);
        for (const [slot, at] of [['read', 0], ['write', 32]] as const) {
          const m = { offset: v.getBigUint64(at, true), length: v.getBigUint64(at + 8, true), addr: v.getBigUint64(at + 16, true), type: v.getUint16(at + 24, true), flags: v.getUint16(at + 26, true), dev: v.getUint32(at + 28, true) };
          const why = kernelRejects(slot, m, pos, 4096n);
          if (why !== null) expect.fail(`#${i} nodeid ${id} pos ${pos} count ${count} opflags ${opflags}: the kernel would reject the ${slot} mapping (${why}): ${JSON.stringify(m, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x))}`);
        }
        mappedReplies++;
      }
      expect(mappedReplies).toBeGreaterThan(300);
      expect(s.session.initialized).toBe(true);
    }));
});
