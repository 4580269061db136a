/**
 * The session as the kernel sees it: the test plays the kernel over a real
 * SOCK_SEQPACKET socket pair, the Session serves a real famfs (an 8 GiB
 * sparse image formatted by core's mkfs) on the same event loop. Requests
 * are built by hand and replies compared byte for byte with expected bytes
 * built by hand (test-kernel.testkit.ts) — never with this package's
 * encoders.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Famfs, type FileNode } from '@famfs/core';
import {
  DAXDEV_PATH, E, GiB, KiB, MiB, Op, type HandAttr, type Served, accessIn, attrOut, batchForgetIn, cname, concat,
  createIn, daxdevOut, dirent, direntplus, entryOut, errorReply, flushIn, fmapHeader, forgetIn, fsyncIn, getDaxdevIn,
  getattrIn, getxattrIn, iext, initIn, initOut, interruptIn, kstatfs, linkIn, lseekIn, mkdirIn, mknodIn, openIn, openOut,
  outHeaderOf, readIn, releaseIn, rename2In, renameIn, reply, request, serve, setattrIn, simpleExt, writeIn, writeOut,
} from './test-kernel.testkit.js';
import { famfsDaxdevs } from './session.js';
import { rng } from '../../../test/random.js';
import { formattedImage, sparseImage } from '../../../test/helpers.js';

const SYS = '0f0e0d0c-0b0a-4908-8706-050403020100';
const DEV_SIZE = 8 * GiB;
const LOG_OFF = 2 * MiB;
const LOG_LEN = 8 * MiB;
const AU = 2 * MiB;
const CHUNK = 2 * MiB;

// INIT flag bits (fuse.h)
const ASYNC_READ = 1 << 0;
const ATOMIC_O_TRUNC = 1 << 3;
const BIG_WRITES = 1 << 5;
const AUTO_INVAL_DATA = 1 << 12;
const DO_READDIRPLUS = 1 << 13;
const READDIRPLUS_AUTO = 1 << 14;
const ASYNC_DIO = 1 << 15;
const PARALLEL_DIROPS = 1 << 18;
const MAX_PAGES = 1 << 22;
const INIT_EXT = 1 << 30;
/** flags2 bit 4 = INIT bit 36 */
const DIRECT_IO_ALLOW_MMAP_2 = 1 << 4;
/** flags2 bit 11 = INIT bit 43, famfs DAX_FMAP in the kernel-v10 series */
const DAX_FMAP_2 = 1 << 11;

/** What a 6.18 kernel offers: bits 0–30 except FILE_OPS (2) … */
const OFFER = 0x7fff_fffb;
/** … and bits 32–42 (SECURITY_CTX … REQUEST_TIMEOUT) */
const OFFER2 = 0x7ff;
/** what the server wants of OFFER (session.ts WANTED_FLAGS) */
const WANTED_LOW = ASYNC_READ | ATOMIC_O_TRUNC | BIG_WRITES | AUTO_INVAL_DATA | DO_READDIRPLUS | READDIRPLUS_AUTO |
  ASYNC_DIO | PARALLEL_DIROPS | MAX_PAGES | INIT_EXT;

// mode bits, d_type, open flags
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const DT_DIR = 4;
const DT_REG = 8;
const O_RDWR = 2;
const O_TRUNC = 0o1000;

// inode numbers the file system promises
const ROOT = 1n;
const META = 2n;
const META_SB = 3n;
const META_LOG = 4n;
const DIR = 16n; // log index 0
const SIMPLE = 17n; // 1
const STRIPED = 18n; // 2
const INNER = 19n; // 3 (dir/inner.txt)
const ODD = 20n; // 4 (dir/odd.bin: interleaved, not a whole number of stripes)
const NEWDIR = 21n; // 5, made through the mount

const SIMPLE_SIZE = 4 * MiB;
const STRIPED_SIZE = 64 * MiB;
const INNER_SIZE = 5000;
/** 1 stripe of 4 × 2 MiB and a bit: 2 stripes, strips of 4 MiB, 16 MiB of map for 8 MiB + 4 KiB of file */
const ODD_SIZE = 8 * MiB + 4096;
const UID = 1000;
const GID = 1001;

let tmp: string;
let image: string;
let famfs: Famfs;
let striped: FileNode;
/** pseudo-random bytes written into striped.bin at these file offsets */
const PATTERNS: Array<{ at: number; bytes: Uint8Array }> = [];

function pseudoRandom(n: number, seed: number): Uint8Array {
  const next = rng(seed).next;
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  return b;
}

/** The bytes the test wrote into striped.bin over [at, at+len) (every byte asked for was written). */
function patternAt(at: number, len: number): Uint8Array {
  const p = PATTERNS.find((x) => at >= x.at && at + len <= x.at + x.bytes.length);
  if (p === undefined) throw new Error(`no pattern covers [${at}, ${at + len})`);
  return p.bytes.subarray(at - p.at, at - p.at + len);
}

function logBytes(): Uint8Array {
  return famfs.dev.view(LOG_OFF, LOG_LEN).slice();
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-session-'));
  image = path.join(tmp, 'famfs.img');
  const dev = formattedImage(image, DEV_SIZE, SYS);
  const next = rng(0x5eed).next;
  famfs = Famfs.fromDevice(dev, { systemUuid: SYS, random: (bound) => next() % bound });
  famfs.mkdir('dir', { mode: 0o755, uid: UID, gid: GID });
  famfs.createFile('simple.bin', SIMPLE_SIZE, { mode: 0o644, uid: UID, gid: GID });
  striped = famfs.createFile('striped.bin', STRIPED_SIZE, {
    mode: 0o640, uid: UID, gid: GID, interleave: { nstrips: 4, nbuckets: 8, chunkSize: CHUNK },
  }).file;
  famfs.createFile('dir/inner.txt', INNER_SIZE, { mode: 0o600, uid: UID, gid: GID });
  famfs.createFile('dir/odd.bin', ODD_SIZE, { mode: 0o644, uid: UID, gid: GID, interleave: { nstrips: 4, nbuckets: 8, chunkSize: CHUNK } });

  famfs.writeAt(famfs.statFile('simple.bin'), 0, pseudoRandom(64 * KiB, 1));
  famfs.writeAt(famfs.statFile('dir/inner.txt'), 0, pseudoRandom(INNER_SIZE, 2));
  // around the chunk 0→1 boundary (strip 0 → strip 1) and the chunk 3→4 one (strip 3 → strip 0, next stripe)
  for (const [at, len, seed] of [[CHUNK - 64 * KiB, 128 * KiB, 3], [4 * CHUNK - 8 * KiB, 16 * KiB, 4]] as const) {
    const bytes = pseudoRandom(len, seed);
    famfs.writeAt(striped, at, bytes);
    PATTERNS.push({ at, bytes });
  }
});

afterAll(() => {
  famfs?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// ------------------------------------------------------------------ expected attributes

function rootAttr(t: number, subdirs: number): HandAttr {
  // nlink: 2 + subdirectories + .meta
  return { ino: ROOT, size: 0, blocks: 0, time: t, mode: S_IFDIR | 0o755, nlink: 3 + subdirs, uid: 0, gid: 0, blksize: AU };
}
const metaAttr = (t: number): HandAttr => ({ ino: META, size: 0, blocks: 0, time: t, mode: S_IFDIR | 0o755, nlink: 2, uid: 0, gid: 0, blksize: AU });
const dirAttr = (t: number): HandAttr => ({ ino: DIR, size: 0, blocks: 0, time: t, mode: S_IFDIR | 0o755, nlink: 2, uid: UID, gid: GID, blksize: AU });
const simpleAttr = (t: number): HandAttr => ({
  ino: SIMPLE, size: SIMPLE_SIZE, blocks: SIMPLE_SIZE / 512, time: t, mode: S_IFREG | 0o644, nlink: 1, uid: UID, gid: GID, blksize: AU,
});
const stripedAttr = (t: number): HandAttr => ({
  ino: STRIPED, size: STRIPED_SIZE, blocks: STRIPED_SIZE / 512, time: t, mode: S_IFREG | 0o640, nlink: 1, uid: UID, gid: GID, blksize: AU,
});
const innerAttr = (t: number): HandAttr => ({
  ino: INNER, size: INNER_SIZE, blocks: 10, time: t, mode: S_IFREG | 0o600, nlink: 1, uid: UID, gid: GID, blksize: AU,
});
const sbAttr = (t: number): HandAttr => ({ ino: META_SB, size: 2 * MiB, blocks: 4096, time: t, mode: S_IFREG | 0o444, nlink: 1, uid: 0, gid: 0, blksize: AU });
const logAttr = (t: number): HandAttr => ({ ino: META_LOG, size: LOG_LEN, blocks: LOG_LEN / 512, time: t, mode: S_IFREG | 0o644, nlink: 1, uid: 0, gid: 0, blksize: AU });

/**
 * Where first fit put dir/inner.txt: the first 2 MiB unit from 14 MiB on
 * (after superblock, log and simple.bin) that no strip of striped.bin took.
 */
function innerOffset(): number {
  const strips = striped.fmap.type === 'interleave' ? striped.fmap.extents[0]!.strips : [];
  for (let off = 14 * MiB; ; off += AU) {
    if (!strips.some((x) => off >= x.offset && off < x.offset + x.len)) return off;
  }
}

/** INIT with the given offer; returns the reply. */
async function init(s: Served, minor: number, flags: number, flags2: number, major = 7): Promise<Uint8Array> {
  return s.kernel.call(request(Op.INIT, s.kernel.unique(), 0n, initIn(major, minor, 128 * KiB, flags, flags2)));
}

/** Run `fn` against a fresh session; always hang up afterwards. */
async function withSession(fn: (s: Served) => Promise<void>): Promise<void> {
  const s = serve(famfs);
  try {
    await fn(s);
    expect(s.logLines).toEqual([]);
  } finally {
    await s.stop();
  }
}

function initFields(m: Uint8Array): { minor: number; flags: number; flags2: number; maxWrite: number; maxPages: number } {
  const v = new DataView(m.buffer, m.byteOffset + 16);
  return { minor: v.getUint32(4, true), flags: v.getUint32(12, true), flags2: v.getUint32(32, true), maxWrite: v.getUint32(20, true), maxPages: v.getUint16(28, true) };
}

// ================================================================== INIT

describe('INIT negotiation', () => {
  it('7.45 without DAX_FMAP: minor 45, no famfs bit, and GET_FMAP (54) is ENOSYS', () =>
    withSession(async (s) => {
      const u = s.kernel.unique();
      const got = await s.kernel.call(request(Op.INIT, u, 0n, initIn(7, 45, 128 * KiB, OFFER, OFFER2)));
      expect(got).toEqual(reply(u, initOut({
        major: 7, minor: 45, maxReadahead: 128 * KiB, flags: WANTED_LOW, maxWrite: MiB, timeGran: 1, maxPages: 256,
        flags2: DIRECT_IO_ALLOW_MMAP_2,
      })));
      expect(s.session.daxFmap).toBe(false);
      const g = s.kernel.unique();
      expect(await s.kernel.call(request(Op.GET_FMAP, g, SIMPLE, getxattrIn(32768)))).toEqual(errorReply(g, E.ENOSYS));
      const d = s.kernel.unique();
      expect(await s.kernel.call(request(Op.GET_DAXDEV, d, 0n, getDaxdevIn(0)))).toEqual(errorReply(d, E.ENOSYS));
    }));

  it('7.45 with DAX_FMAP (bit 43 in flags2, INIT_EXT): the reply carries bit 43 in flags2', () =>
    withSession(async (s) => {
      const u = s.kernel.unique();
      const got = await s.kernel.call(request(Op.INIT, u, 0n, initIn(7, 45, 128 * KiB, OFFER, OFFER2 | DAX_FMAP_2)));
      expect(got).toEqual(reply(u, initOut({
        major: 7, minor: 45, maxReadahead: 128 * KiB, flags: WANTED_LOW, maxWrite: MiB, timeGran: 1, maxPages: 256,
        flags2: DIRECT_IO_ALLOW_MMAP_2 | DAX_FMAP_2,
      })));
      expect(s.session.daxFmap).toBe(true);
      const g = s.kernel.unique();
      const fmap = await s.kernel.call(request(Op.GET_FMAP, g, SIMPLE, getxattrIn(32768)));
      expect(outHeaderOf(fmap)).toEqual({ len: 16 + 32 + 24, error: 0, unique: g });
    }));

  it('bit 43 without INIT_EXT, or from a 7.44 kernel (where it is not famfs), is not DAX_FMAP', async () => {
    await withSession(async (s) => {
      const m = initFields(await init(s, 45, OFFER & ~INIT_EXT, DAX_FMAP_2));
      expect(m).toEqual({ minor: 45, flags: WANTED_LOW & ~INIT_EXT, flags2: 0, maxWrite: MiB, maxPages: 256 });
      const g = s.kernel.unique();
      expect(await s.kernel.call(request(Op.GET_FMAP, g, SIMPLE, getxattrIn(32768)))).toEqual(errorReply(g, E.ENOSYS));
    });
    await withSession(async (s) => {
      const m = initFields(await init(s, 44, OFFER, OFFER2 | DAX_FMAP_2));
      expect(m).toEqual({ minor: 44, flags: WANTED_LOW, flags2: DIRECT_IO_ALLOW_MMAP_2, maxWrite: MiB, maxPages: 256 });
      expect(s.session.daxFmap).toBe(false);
    });
    // the series proposes 7.46: still famfs, and we answer with our 45
    await withSession(async (s) => {
      const m = initFields(await init(s, 46, OFFER, DAX_FMAP_2));
      expect(m).toEqual({ minor: 45, flags: WANTED_LOW, flags2: DAX_FMAP_2, maxWrite: MiB, maxPages: 256 });
      expect(s.session.daxFmap).toBe(true);
    });
  });

  it('outside famfs mode (a file or block device, a dax device left in devdax mode) DAX_FMAP is not taken even when offered', async () => {
    const s = serve(famfs, 'error', false);
    try {
      const m = initFields(await init(s, 45, OFFER, OFFER2 | DAX_FMAP_2));
      expect(m.flags2 & DAX_FMAP_2).toBe(0);
      expect(s.session.daxFmap).toBe(false);
    } finally {
      await s.stop();
    }
  });

  it('never sets a bit the kernel did not offer (a sparse offer, then 40 random ones)', async () => {
    await withSession(async (s) => {
      const u = s.kernel.unique();
      const got = await s.kernel.call(request(Op.INIT, u, 0n, initIn(7, 45, 64 * KiB, ASYNC_READ | DO_READDIRPLUS | INIT_EXT, DAX_FMAP_2)));
      // no MAX_PAGES: max_write is the kernel's default 32 pages, max_pages 0
      expect(got).toEqual(reply(u, initOut({
        major: 7, minor: 45, maxReadahead: 64 * KiB, flags: ASYNC_READ | DO_READDIRPLUS | INIT_EXT, maxWrite: 128 * KiB,
        timeGran: 1, maxPages: 0, flags2: DAX_FMAP_2,
      })));
    });
    const next = rng(0x1417).next;
    for (let i = 0; i < 40; i++) {
      const flags = next();
      const flags2 = next();
      await withSession(async (s) => {
        const m = initFields(await init(s, 45, flags, flags2));
        expect(m.minor).toBe(45);
        expect((m.flags & ~flags) >>> 0).toBe(0);
        // flags2 counts only when the kernel sets INIT_EXT
        expect((m.flags2 & ~((flags & INIT_EXT) !== 0 ? flags2 : 0)) >>> 0).toBe(0);
        expect(m.maxWrite).toBe((flags & MAX_PAGES) !== 0 ? MiB : 128 * KiB);
        expect(m.maxPages).toBe((flags & MAX_PAGES) !== 0 ? 256 : 0);
      });
    }
  });

  it('a request before INIT is EIO (FORGET gets nothing); a second INIT is EIO', () =>
    withSession(async (s) => {
      const g = s.kernel.unique();
      expect(await s.kernel.call(request(Op.GETATTR, g, ROOT, getattrIn()))).toEqual(errorReply(g, E.EIO));
      s.kernel.send(request(Op.FORGET, s.kernel.unique(), SIMPLE, forgetIn(1)));
      const l = s.kernel.unique();
      expect(await s.kernel.call(request(Op.LOOKUP, l, ROOT, cname('simple.bin')))).toEqual(errorReply(l, E.EIO));
      expect(outHeaderOf(await init(s, 45, OFFER, OFFER2 | DAX_FMAP_2)).error).toBe(0);
      const again = s.kernel.unique();
      expect(await s.kernel.call(request(Op.INIT, again, 0n, initIn(7, 45, 128 * KiB, OFFER, OFFER2)))).toEqual(errorReply(again, E.EIO));
      // the first negotiation stands
      expect(s.session.daxFmap).toBe(true);
      const a = s.kernel.unique();
      expect(await s.kernel.call(request(Op.GETATTR, a, ROOT, getattrIn()))).toEqual(reply(a, attrOut(rootAttr(s.time, 1), 1)));
    }));

  it('a newer major gets our 7.45 and a second INIT; an older kernel gets EPROTO', async () => {
    await withSession(async (s) => {
      const u = s.kernel.unique();
      expect(await s.kernel.call(request(Op.INIT, u, 0n, initIn(8, 1, 128 * KiB, OFFER, 0)))).toEqual(
        reply(u, initOut({ major: 7, minor: 45, maxReadahead: 0, flags: 0, maxWrite: 0, timeGran: 0, maxPages: 0, flags2: 0 })),
      );
      expect(initFields(await init(s, 45, OFFER, OFFER2 | DAX_FMAP_2)).flags2).toBe(DIRECT_IO_ALLOW_MMAP_2 | DAX_FMAP_2);
    });
    await withSession(async (s) => {
      const reply30 = await init(s, 30, OFFER, 0);
      expect(outHeaderOf(reply30)).toMatchObject({ len: 16, error: -E.EPROTO });
      expect(s.session.initialized).toBe(false);
    });
  });
});

/**
 * OPEN, READ across interleave chunk boundaries, READ at EOF, RELEASE: run on
 * a session at the quiet log level and at debug (where every request is
 * logged), so the READ path is the same at both.
 */
async function openReadRelease(s: Served): Promise<void> {
  const call = (op: number, nodeid: bigint, body?: Uint8Array, o?: Parameters<typeof request>[4]) => {
  const u = s.kernel.unique();
  return { u, got: s.kernel.call(request(op, u, nodeid, body, o)) };
  };
  const open = call(Op.OPEN, STRIPED, openIn(0));
  const openReply = await open.got;
  const fh = new DataView(openReply.buffer).getBigUint64(16, true);
  expect(openReply).toEqual(reply(open.u, openOut(fh, 0))); // cache 'auto': no FOPEN flags
  expect(fh).toBeGreaterThan(0n);

  // the strips, as the interleave promises: chunk k lies in strip k % 4 at stripe floor(k / 4)
  const strips = striped.fmap.type === 'interleave' ? striped.fmap.extents[0]!.strips : [];
  expect(strips).toHaveLength(4);
  const dev = (off: number, len: number) => famfs.dev.view(off, len);
  expect(dev(strips[0]!.offset + CHUNK - 4096, 4096)).toEqual(patternAt(CHUNK - 4096, 4096));
  expect(dev(strips[1]!.offset, 4096)).toEqual(patternAt(CHUNK, 4096));
  expect(dev(strips[3]!.offset + CHUNK - 4096, 4096)).toEqual(patternAt(4 * CHUNK - 4096, 4096));
  expect(dev(strips[0]!.offset + CHUNK, 4096)).toEqual(patternAt(4 * CHUNK, 4096));

  for (const [at, len] of [[CHUNK - 32 * KiB, 64 * KiB], [4 * CHUNK - 4096, 8192], [CHUNK - 1, 2]] as const) {
    const r = call(Op.READ, STRIPED, readIn(fh, at, len));
    expect(await r.got, `read ${len} at ${at}`).toEqual(reply(r.u, patternAt(at, len)));
  }

  const dirOpen = call(Op.OPEN, DIR, openIn(0));
  expect(await dirOpen.got).toEqual(errorReply(dirOpen.u, E.EISDIR));

  // a short read at EOF, then nothing past it
  const fo = call(Op.OPEN, INNER, openIn(0));
  const fhInner = new DataView((await fo.got).buffer).getBigUint64(16, true);
  expect(fhInner).toBe(fh + 1n);
  const tail = call(Op.READ, INNER, readIn(fhInner, 4096, 4096));
  expect(await tail.got).toEqual(reply(tail.u, pseudoRandom(INNER_SIZE, 2).subarray(4096)));
  const eof = call(Op.READ, INNER, readIn(fhInner, INNER_SIZE, 4096));
  expect(await eof.got).toEqual(reply(eof.u));

  // a handle for another inode, then RELEASE twice
  const wrong = call(Op.READ, SIMPLE, readIn(fh, 0, 16));
  expect(await wrong.got).toEqual(errorReply(wrong.u, E.EBADF));
  for (const [id, h] of [[STRIPED, fh], [INNER, fhInner]] as const) {
    const rel = call(Op.RELEASE, id, releaseIn(h));
    expect(await rel.got).toEqual(reply(rel.u));
  }
  expect(s.session.openHandles).toBe(0);
  const again = call(Op.RELEASE, STRIPED, releaseIn(fh));
  expect(await again.got).toEqual(errorReply(again.u, E.EBADF));
  const after = call(Op.READ, STRIPED, readIn(fh, 0, 16));
  expect(await after.got).toEqual(errorReply(after.u, E.EBADF));
  }

// ================================================================== operations

describe('operations on a DAX_FMAP session', () => {
  let s: Served;
  let t: number;
  const call = (op: number, nodeid: bigint, body?: Uint8Array, o?: Parameters<typeof request>[4]) => {
    const u = s.kernel.unique();
    return { u, got: s.kernel.call(request(op, u, nodeid, body, o)) };
  };

  beforeAll(async () => {
    s = serve(famfs);
    t = s.time;
    expect(initFields(await init(s, 45, OFFER, OFFER2 | DAX_FMAP_2)).flags2 & DAX_FMAP_2).toBe(DAX_FMAP_2);
  });
  afterAll(async () => {
    await s.stop();
    expect(await s.running).toBeNull();
    expect(s.logLines).toEqual([]);
  });

  it('LOOKUP answers fuse_entry_out: nodeid, attributes, timeouts', async () => {
    for (const [parent, name, a] of [
      [ROOT, 'simple.bin', simpleAttr(t)], [ROOT, 'striped.bin', stripedAttr(t)], [ROOT, 'dir', dirAttr(t)],
      [DIR, 'inner.txt', innerAttr(t)], [ROOT, '.meta', metaAttr(t)], [META, '.superblock', sbAttr(t)], [META, '.log', logAttr(t)],
    ] as const) {
      const { u, got } = call(Op.LOOKUP, parent, cname(name));
      expect(await got, name).toEqual(reply(u, entryOut(a, 1)));
    }
    expect(s.fs.rememberedInodes).toBe(7);
    // the kernel gives every lookup back
    s.kernel.send(request(Op.BATCH_FORGET, s.kernel.unique(), 0n,
      batchForgetIn([SIMPLE, STRIPED, DIR, INNER, META, META_SB, META_LOG].map((id) => [id, 1] as [bigint, number]))));
    const missing = call(Op.LOOKUP, ROOT, cname('nope'));
    expect(await missing.got).toEqual(errorReply(missing.u, E.ENOENT));
    const inFile = call(Op.LOOKUP, SIMPLE, cname('x'));
    expect(await inFile.got).toEqual(errorReply(inFile.u, E.ENOTDIR));
    const inMeta = call(Op.LOOKUP, META, cname('other'));
    expect(await inMeta.got).toEqual(errorReply(inMeta.u, E.ENOENT));
    expect(s.fs.rememberedInodes).toBe(0);
  });

  it('GETATTR answers fuse_attr_out', async () => {
    for (const [id, a] of [
      [ROOT, rootAttr(t, 1)], [META, metaAttr(t)], [META_SB, sbAttr(t)], [META_LOG, logAttr(t)], [DIR, dirAttr(t)],
      [SIMPLE, simpleAttr(t)], [STRIPED, stripedAttr(t)], [INNER, innerAttr(t)],
    ] as const) {
      const { u, got } = call(Op.GETATTR, id, getattrIn());
      expect(await got, `nodeid ${id}`).toEqual(reply(u, attrOut(a, 1)));
    }
    const bad = call(Op.GETATTR, 5n, getattrIn());
    expect(await bad.got).toEqual(errorReply(bad.u, E.ENOENT));
  });

  it('OPEN, READ across interleave chunk boundaries, READ at EOF, RELEASE', () => openReadRelease(s));

  it('WRITE through a read-write handle lands on the device; never past the file size', async () => {
    const file = famfs.statFile('simple.bin');
    const before = famfs.read(file, 0, 64 * KiB);
    const ro = call(Op.OPEN, SIMPLE, openIn(0));
    const fhRo = new DataView((await ro.got).buffer).getBigUint64(16, true);
    const data = pseudoRandom(100, 9);
    const refused = call(Op.WRITE, SIMPLE, writeIn(fhRo, 0, data));
    expect(await refused.got).toEqual(errorReply(refused.u, E.EBADF));

    const rw = call(Op.OPEN, SIMPLE, openIn(O_RDWR));
    const fhRw = new DataView((await rw.got).buffer).getBigUint64(16, true);
    const w = call(Op.WRITE, SIMPLE, writeIn(fhRw, 1000, data));
    expect(await w.got).toEqual(reply(w.u, writeOut(100)));
    expect(famfs.read(file, 1000, 100)).toEqual(data);
    const short = call(Op.WRITE, SIMPLE, writeIn(fhRw, SIMPLE_SIZE - 10, data));
    expect(await short.got).toEqual(reply(short.u, writeOut(10)));
    const past = call(Op.WRITE, SIMPLE, writeIn(fhRw, SIMPLE_SIZE, data));
    expect(await past.got).toEqual(errorReply(past.u, E.EFBIG));
    // put the bytes back for the tests below
    famfs.writeAt(file, 0, before);
    famfs.writeAt(file, SIMPLE_SIZE - 10, new Uint8Array(10));
    for (const fh of [fhRo, fhRw]) {
      const rel = call(Op.RELEASE, SIMPLE, releaseIn(fh));
      expect(await rel.got).toEqual(reply(rel.u));
    }
    // the meta files are read-only through the mount
    const meta = call(Op.OPEN, META_LOG, openIn(O_RDWR));
    expect(await meta.got).toEqual(errorReply(meta.u, E.EPERM));
  });

  it('FORGET and BATCH_FORGET get no reply: the next message is the reply to the next request', async () => {
    const base = s.fs.rememberedInodes;
    for (let i = 0; i < 2; i++) {
      const l = call(Op.LOOKUP, ROOT, cname('simple.bin'));
      expect(outHeaderOf(await l.got).error).toBe(0);
    }
    const l2 = call(Op.LOOKUP, DIR, cname('inner.txt'));
    expect(outHeaderOf(await l2.got).error).toBe(0);
    expect(s.fs.rememberedInodes).toBe(base + 2);

    s.kernel.send(request(Op.FORGET, s.kernel.unique(), SIMPLE, forgetIn(1)));
    const g = call(Op.GETATTR, SIMPLE, getattrIn());
    expect(await g.got).toEqual(reply(g.u, attrOut(simpleAttr(t), 1)));
    expect(s.fs.rememberedInodes).toBe(base + 2); // one of two lookups left

    s.kernel.send(request(Op.BATCH_FORGET, s.kernel.unique(), 0n, batchForgetIn([[SIMPLE, 1], [INNER, 1]])));
    s.kernel.send(request(Op.INTERRUPT, s.kernel.unique(), 0n, interruptIn(12345n)));
    const g2 = call(Op.GETATTR, INNER, getattrIn());
    expect(await g2.got).toEqual(reply(g2.u, attrOut(innerAttr(t), 1)));
    expect(s.fs.rememberedInodes).toBe(base);
  });

  it('READDIR packs fuse_dirents with offsets, resumes from an offset, stops at the size', async () => {
    const od = call(Op.OPENDIR, ROOT, openIn(0o200000));
    const odReply = await od.got;
    const fh = new DataView(odReply.buffer).getBigUint64(16, true);
    // cache=auto: the kernel may cache listings (FOPEN_KEEP_CACHE 1<<1 | FOPEN_CACHE_DIR 1<<3)
    expect(odReply).toEqual(reply(od.u, openOut(fh, 0b1010)));
    const all = [
      dirent(ROOT, 1, DT_DIR, '.'), dirent(ROOT, 2, DT_DIR, '..'), dirent(META, 3, DT_DIR, '.meta'),
      dirent(DIR, 4, DT_DIR, 'dir'), dirent(SIMPLE, 5, DT_REG, 'simple.bin'), dirent(STRIPED, 6, DT_REG, 'striped.bin'),
    ];
    const r = call(Op.READDIR, ROOT, readIn(fh, 0, 4096));
    expect(await r.got).toEqual(reply(r.u, ...all));
    // from offset 3, room for exactly 32 + 40 bytes
    const part = call(Op.READDIR, ROOT, readIn(fh, 3, 72));
    expect(await part.got).toEqual(reply(part.u, all[3]!, all[4]!));
    const part2 = call(Op.READDIR, ROOT, readIn(fh, 3, 71));
    expect(await part2.got).toEqual(reply(part2.u, all[3]!));
    const rest = call(Op.READDIR, ROOT, readIn(fh, 5, 4096));
    expect(await rest.got).toEqual(reply(rest.u, all[5]!));
    const end = call(Op.READDIR, ROOT, readIn(fh, 6, 4096));
    expect(await end.got).toEqual(reply(end.u));

    const odSub = call(Op.OPENDIR, DIR, openIn(0o200000));
    const fhSub = new DataView((await odSub.got).buffer).getBigUint64(16, true);
    const sub = call(Op.READDIR, DIR, readIn(fhSub, 0, 4096));
    expect(await sub.got).toEqual(reply(sub.u,
      dirent(DIR, 1, DT_DIR, '.'), dirent(ROOT, 2, DT_DIR, '..'), dirent(INNER, 3, DT_REG, 'inner.txt'), dirent(ODD, 4, DT_REG, 'odd.bin')));

    const odMeta = call(Op.OPENDIR, META, openIn(0o200000));
    const fhMeta = new DataView((await odMeta.got).buffer).getBigUint64(16, true);
    const meta = call(Op.READDIR, META, readIn(fhMeta, 0, 4096));
    expect(await meta.got).toEqual(reply(meta.u,
      dirent(META, 1, DT_DIR, '.'), dirent(ROOT, 2, DT_DIR, '..'), dirent(META_SB, 3, DT_REG, '.superblock'), dirent(META_LOG, 4, DT_REG, '.log')));

    const notDir = call(Op.OPENDIR, SIMPLE, openIn(0o200000));
    expect(await notDir.got).toEqual(errorReply(notDir.u, E.ENOTDIR));
    for (const [id, h] of [[ROOT, fh], [DIR, fhSub], [META, fhMeta]] as const) {
      const rel = call(Op.RELEASEDIR, id, releaseIn(h));
      expect(await rel.got).toEqual(reply(rel.u));
    }
  });

  it('READDIRPLUS packs entry_out + dirent; . and .. carry no lookup; resumes from an offset', async () => {
    const base = s.fs.rememberedInodes;
    const od = call(Op.OPENDIR, ROOT, openIn(0o200000));
    const fh = new DataView((await od.got).buffer).getBigUint64(16, true);
    const all = [
      direntplus(null, 1, ROOT, 1, DT_DIR, '.'), direntplus(null, 1, ROOT, 2, DT_DIR, '..'),
      direntplus(metaAttr(t), 1, META, 3, DT_DIR, '.meta'), direntplus(dirAttr(t), 1, DIR, 4, DT_DIR, 'dir'),
      direntplus(simpleAttr(t), 1, SIMPLE, 5, DT_REG, 'simple.bin'), direntplus(stripedAttr(t), 1, STRIPED, 6, DT_REG, 'striped.bin'),
    ];
    expect(all.map((x) => x.length)).toEqual([160, 160, 160, 160, 168, 168]);
    const r = call(Op.READDIRPLUS, ROOT, readIn(fh, 0, 4096));
    expect(await r.got).toEqual(reply(r.u, ...all));
    expect(s.fs.rememberedInodes).toBe(base + 4); // .meta, dir, simple.bin, striped.bin
    // from offset 2 in 400 bytes: 160 + 160, the next 168 does not fit
    const part = call(Op.READDIRPLUS, ROOT, readIn(fh, 2, 400));
    expect(await part.got).toEqual(reply(part.u, all[2]!, all[3]!));
    const tiny = call(Op.READDIRPLUS, ROOT, readIn(fh, 4, 167));
    expect(await tiny.got).toEqual(reply(tiny.u));
    const rel = call(Op.RELEASEDIR, ROOT, releaseIn(fh));
    expect(await rel.got).toEqual(reply(rel.u));
    // give the lookups back, as the kernel would
    s.kernel.send(request(Op.BATCH_FORGET, s.kernel.unique(), 0n, batchForgetIn([[META, 2], [DIR, 2], [SIMPLE, 1], [STRIPED, 1]])));
    const g = call(Op.GETATTR, ROOT, getattrIn());
    expect(await g.got).toEqual(reply(g.u, attrOut(rootAttr(t, 1), 1)));
    expect(s.fs.rememberedInodes).toBe(base);
  });

  it('regression: an exhausted READDIR/READDIRPLUS reply was followed by a zero-length message', async () => {
    const od = call(Op.OPENDIR, DIR, openIn(0o200000));
    const fh = new DataView((await od.got).buffer).getBigUint64(16, true);
    for (const op of [Op.READDIR, Op.READDIRPLUS, Op.READDIR]) {
      const end = call(op, DIR, readIn(fh, 4, 4096));
      expect(await end.got).toEqual(reply(end.u));
      // the very next message must be this GETATTR's reply, not an empty one
      const g = call(Op.GETATTR, DIR, getattrIn());
      expect(await g.got).toEqual(reply(g.u, attrOut(dirAttr(t), 1)));
    }
    const rel = call(Op.RELEASEDIR, DIR, releaseIn(fh));
    expect(await rel.got).toEqual(reply(rel.u));
  });

  it('STATFS: blocks and free blocks from the allocation bitmap, files from the log', async () => {
    // 8 GiB in 4096 units of 2 MiB; in use: superblock 1, log 4, simple 2, striped 4 × 8, inner 1, odd 4 × 2
    const usedUnits = 1 + 4 + 2 + 32 + 1 + 8;
    const r = call(Op.STATFS, ROOT);
    expect(await r.got).toEqual(reply(r.u, kstatfs({
      blocks: DEV_SIZE / 4096, bfree: ((4096 - usedUnits) * AU) / 4096, bavail: ((4096 - usedUnits) * AU) / 4096,
      files: 15420, ffree: 15420 - 5, bsize: 4096, namelen: 79, frsize: 4096,
    })));
  });

  it('UNLINK, RMDIR, RENAME, RENAME2, LINK, CREATE, MKNOD, SYMLINK, SETATTR of size/mode, OPEN O_TRUNC: EPERM, the log unchanged', async () => {
    const log0 = logBytes();
    const used0 = famfs.logUsage().used;
    for (const [what, op, id, body] of [
      ['unlink', Op.UNLINK, ROOT, cname('simple.bin')],
      ['rmdir', Op.RMDIR, ROOT, cname('dir')],
      ['rename', Op.RENAME, ROOT, renameIn(ROOT, 'simple.bin', 'moved.bin')],
      ['rename2', Op.RENAME2, ROOT, rename2In(DIR, 0, 'simple.bin', 'moved.bin')],
      ['link', Op.LINK, ROOT, linkIn(SIMPLE, 'hard.bin')],
      ['create', Op.CREATE, ROOT, createIn(O_RDWR | 0o100, 0o100644, 0o022, cname('new.bin'))],
      ['mknod', Op.MKNOD, ROOT, mknodIn(S_IFREG | 0o644, cname('node.bin'))],
      ['symlink', Op.SYMLINK, ROOT, concat(cname('sym'), cname('simple.bin'))],
      ['setattr size', Op.SETATTR, SIMPLE, setattrIn(1 << 3, { size: 0 })],
      ['setattr mode', Op.SETATTR, SIMPLE, setattrIn(1 << 0, { mode: 0o777 })],
      ['open O_TRUNC', Op.OPEN, SIMPLE, openIn(O_RDWR | O_TRUNC)],
    ] as const) {
      const { u, got } = call(op, id, body);
      expect(await got, what).toEqual(errorReply(u, E.EPERM));
    }
    // touch (times only) is accepted and changes nothing
    const touch = call(Op.SETATTR, SIMPLE, setattrIn(1 << 4, { atime: 5 }));
    expect(await touch.got).toEqual(reply(touch.u, attrOut(simpleAttr(t), 1)));
    expect(famfs.logUsage().used).toBe(used0);
    expect(Buffer.compare(logBytes(), log0)).toBe(0);
    expect(famfs.statFile('simple.bin').size).toBe(SIMPLE_SIZE);
  });

  it('GET_FMAP: the simple file, byte for byte', async () => {
    const r = call(Op.GET_FMAP, SIMPLE, getxattrIn(32768));
    // the first free unit after the superblock (0–2 MiB) and the log (2–10 MiB)
    expect(await r.got).toEqual(reply(r.u, fmapHeader(0, 0, 1, SIMPLE_SIZE), simpleExt(0, 10 * MiB, SIMPLE_SIZE)));
    // the older series sent no body and gave the reply a page
    const legacy = call(Op.GET_FMAP, INNER);
    expect(await legacy.got).toEqual(reply(legacy.u, fmapHeader(0, 0, 1, INNER_SIZE), simpleExt(0, innerOffset(), AU)));
  });

  it('GET_FMAP: the interleaved file, byte for byte', async () => {
    const strips = striped.fmap.type === 'interleave' ? striped.fmap.extents[0]!.strips : [];
    // 64 MiB over 4 strips of 2 MiB chunks: 8 stripes, 16 MiB per strip, each strip in its own 1 GiB bucket
    expect(strips.map((x) => x.len)).toEqual([16 * MiB, 16 * MiB, 16 * MiB, 16 * MiB]);
    expect(new Set(strips.map((x) => Math.floor(x.offset / GiB))).size).toBe(4);
    for (const x of strips) expect(x.offset % AU).toBe(0);
    const r = call(Op.GET_FMAP, STRIPED, getxattrIn(32768));
    expect(await r.got).toEqual(reply(r.u,
      fmapHeader(0, 1, 1, STRIPED_SIZE), iext(4, CHUNK, STRIPED_SIZE),
      ...strips.map((x) => simpleExt(0, x.offset, 16 * MiB))));
    // ie_nbytes is the file bytes the extent covers, not the 16 MiB its strips hold
    const odd = famfs.statFile('dir/odd.bin');
    const oddStrips = odd.fmap.type === 'interleave' ? odd.fmap.extents[0]!.strips : [];
    expect(oddStrips.map((x) => x.len)).toEqual([4 * MiB, 4 * MiB, 4 * MiB, 4 * MiB]);
    const o = call(Op.GET_FMAP, ODD, getxattrIn(32768));
    expect(await o.got).toEqual(reply(o.u,
      fmapHeader(0, 1, 1, ODD_SIZE), iext(4, CHUNK, ODD_SIZE), ...oddStrips.map((x) => simpleExt(0, x.offset, 4 * MiB))));
    // 32 + 24 + 4 × 24 = 152 bytes do not fit in 151
    const small = call(Op.GET_FMAP, STRIPED, getxattrIn(151));
    expect(await small.got).toEqual(errorReply(small.u, E.ERANGE));
  });

  it('GET_FMAP: .meta/.superblock (type 1) and .meta/.log (type 2)', async () => {
    const sb = call(Op.GET_FMAP, META_SB, getxattrIn(32768));
    expect(await sb.got).toEqual(reply(sb.u, fmapHeader(1, 0, 1, 2 * MiB), simpleExt(0, 0, 2 * MiB)));
    const log = call(Op.GET_FMAP, META_LOG, getxattrIn(32768));
    expect(await log.got).toEqual(reply(log.u, fmapHeader(2, 0, 1, LOG_LEN), simpleExt(0, 2 * MiB, LOG_LEN)));
    const dir = call(Op.GET_FMAP, DIR, getxattrIn(32768));
    expect(await dir.got).toEqual(errorReply(dir.u, E.EISDIR));
  });

  it('GET_DAXDEV: index 0 is the 280-byte fuse_daxdev_out with the path; an unknown index is ENODEV', async () => {
    const body = call(Op.GET_DAXDEV, 0n, getDaxdevIn(0));
    const got = await body.got;
    expect(got.length).toBe(16 + 280);
    expect(got).toEqual(reply(body.u, daxdevOut(0, DAXDEV_PATH)));
    // the libfuse form: the index in the header's nodeid, no body
    const viaNodeid = call(Op.GET_DAXDEV, 0n);
    expect(await viaNodeid.got).toEqual(reply(viaNodeid.u, daxdevOut(0, DAXDEV_PATH)));
    for (const [id, b] of [[0n, getDaxdevIn(1)], [7n, undefined], [0n, getDaxdevIn(0xffff_ffff)]] as const) {
      const bad = call(Op.GET_DAXDEV, id, b);
      expect(await bad.got).toEqual(errorReply(bad.u, E.ENODEV));
    }
  });

  it('MKDIR is logged (mode less umask, the caller as owner); an existing name or .meta is refused', async () => {
    const used0 = famfs.logUsage().used;
    const m = call(Op.MKDIR, ROOT, mkdirIn(0o777, 0o022, cname('newdir')), { uid: 1234, gid: 5678 });
    expect(await m.got).toEqual(reply(m.u, entryOut(
      { ino: NEWDIR, size: 0, blocks: 0, time: t, mode: S_IFDIR | 0o755, nlink: 2, uid: 1234, gid: 5678, blksize: AU }, 1)));
    expect(famfs.logUsage().used).toBe(used0 + 1);
    // logged on the device: a fresh replay of the image sees it
    const other = Famfs.open(image, { systemUuid: SYS });
    try {
      expect(other.stat('newdir')).toMatchObject({ kind: 'dir', mode: 0o755, uid: 1234, gid: 5678, index: 5 });
    } finally {
      other.close();
    }
    const g = call(Op.GETATTR, ROOT, getattrIn());
    expect(await g.got).toEqual(reply(g.u, attrOut(rootAttr(t, 2), 1)));

    const log1 = logBytes();
    const dup = call(Op.MKDIR, ROOT, mkdirIn(0o755, 0, cname('dir')));
    expect(await dup.got).toEqual(errorReply(dup.u, 17)); // EEXIST
    for (const [parent, name] of [[ROOT, '.meta'], [META, 'x']] as const) {
      const bad = call(Op.MKDIR, parent, mkdirIn(0o755, 0, cname(name)));
      expect(await bad.got).toEqual(errorReply(bad.u, E.EPERM));
    }
    expect(Buffer.compare(logBytes(), log1)).toBe(0);
  });

  it('DESTROY is answered and the session stops', async () => {
    const d = call(Op.DESTROY, 0n);
    expect(await d.got).toEqual(reply(d.u));
    expect(s.session.initialized).toBe(false);
  });
});

// ================================================================== replies the channel refuses

describe('READ at the debug log level', () => {
  it('answers exactly as at the quiet level, and logs each READ', async () => {
    const s = serve(famfs, 'debug');
    try {
      expect(initFields(await init(s, 45, OFFER, OFFER2 | DAX_FMAP_2)).flags2 & DAX_FMAP_2).toBe(DAX_FMAP_2);
      await openReadRelease(s);
      expect(s.allLogLines.filter((l) => / debug READ unique=\d+ nodeid=\d+ fh=\d+ offset=\d+ size=\d+ -> ok \d+ bytes/.test(l)).length).toBe(3 + 2);
    } finally {
      await s.stop();
    }
    expect(await s.running).toBeNull();
    expect(s.logLines).toEqual([]);
  });
});

describe('regression: a reply the channel refused (EMSGSIZE) aborted the whole process', () => {
  it('a 1 MiB READ reply over the socket pair gets EIO (or its data, if the socket takes it), and serving goes on', async () => {
    const s = serve(famfs);
    try {
      expect(outHeaderOf(await init(s, 45, OFFER, OFFER2 | DAX_FMAP_2)).error).toBe(0);
      const o = s.kernel.unique();
      const fh = new DataView((await s.kernel.call(request(Op.OPEN, o, SIMPLE, openIn(0)))).buffer).getBigUint64(16, true);
      // max_write doubles as max_read: 1 MiB, more than a unix socket's default send buffer (208 KiB)
      const r = s.kernel.unique();
      const got = await s.kernel.call(request(Op.READ, r, SIMPLE, readIn(fh, 0, MiB)));
      if (got.length === 16) {
        expect(got).toEqual(errorReply(r, E.EIO));
        expect(s.logLines).toHaveLength(1);
        expect(s.logLines[0]).toContain(`unique=${r}`);
      } else {
        expect(got).toEqual(reply(r, pseudoRandom(64 * KiB, 1), new Uint8Array(MiB - 64 * KiB)));
      }
      const g = s.kernel.unique();
      expect(await s.kernel.call(request(Op.GETATTR, g, SIMPLE, getattrIn()))).toEqual(reply(g, attrOut(simpleAttr(s.time), 1)));
    } finally {
      await s.stop();
    }
    expect(await s.running).toBeNull();
  });
});

// ================================================================== robustness

type Case = { what: string; msg: Uint8Array; unique: bigint; errno: number | null };

describe('robustness: 1,000 malformed requests', () => {
  it('each gets exactly one error reply (FORGET/BATCH_FORGET/INTERRUPT none) and GETATTR keeps working', async () => {
    const s = serve(famfs);
    const t = s.time;
    try {
      expect(initFields(await init(s, 45, OFFER, OFFER2 | DAX_FMAP_2)).flags2 & DAX_FMAP_2).toBe(DAX_FMAP_2);
      const openFh = async (op: number, id: bigint, flags: number): Promise<bigint> => {
        const u = s.kernel.unique();
        const m = await s.kernel.call(request(op, u, id, openIn(flags)));
        expect(outHeaderOf(m)).toEqual({ len: 32, error: 0, unique: u });
        return new DataView(m.buffer).getBigUint64(16, true);
      };
      const fhRo = await openFh(Op.OPEN, SIMPLE, 0);
      const fhRw = await openFh(Op.OPEN, SIMPLE, O_RDWR);
      const fhDir = await openFh(Op.OPENDIR, ROOT, 0o200000);
      const issued = new Set([fhRo, fhRw, fhDir]);

      const log0 = logBytes();
      const simple = famfs.statFile('simple.bin');
      const data0 = famfs.read(simple, 0, 64 * KiB);
      const files0 = famfs.namespace.files;

      const next = rng(0xbad5eed).next;
      const pick = <T>(xs: readonly T[]): T => xs[next() % xs.length]!;
      const u64 = (): bigint => (BigInt(next()) << 32n) | BigInt(next());
      const uniq = (): bigint => (u64() & ((1n << 63n) - 1n)) || 1n;
      const bytes = (n: number, nonzero = false): Uint8Array => {
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i++) b[i] = nonzero ? 1 + (next() % 255) : next() & 0xff;
        return b;
      };
      const NO_REPLY = new Set<number>([Op.FORGET, Op.BATCH_FORGET, Op.INTERRUPT]);
      const KNOWN_IDS = new Set([ROOT, META, META_SB, META_LOG, DIR, SIMPLE, STRIPED, INNER, ODD, NEWDIR]);
      const unknownId = (): bigint => {
        for (;;) {
          const id = pick([0n, 5n, 15n, 21n, 1n << 63n, 0xffff_ffff_ffff_ffffn, BigInt(next() % 64), u64()]);
          if (!KNOWN_IDS.has(id)) return id;
        }
      };
      const unknownFh = (): bigint => {
        for (;;) {
          const fh = pick([0n, 999n, u64(), BigInt(next() % 16)]);
          if (!issued.has(fh)) return fh;
        }
      };

      /** well-formed requests to cut or lie about: [opcode, nodeid, body, shortest valid body] */
      const templates = (): Array<[number, bigint, Uint8Array, number]> => [
        [Op.LOOKUP, ROOT, cname('simple.bin'), 2],
        [Op.GETATTR, SIMPLE, getattrIn(), 16],
        [Op.SETATTR, SIMPLE, setattrIn(1 << 4), 88],
        [Op.OPEN, SIMPLE, openIn(0), 8],
        [Op.READ, SIMPLE, readIn(fhRo, 0, 4096), 40],
        [Op.WRITE, SIMPLE, writeIn(fhRw, 0, bytes(64)), 40 + 64],
        [Op.FLUSH, SIMPLE, flushIn(fhRo), 24],
        [Op.FSYNC, SIMPLE, fsyncIn(fhRw), 16],
        [Op.OPENDIR, ROOT, openIn(0), 8],
        [Op.READDIR, ROOT, readIn(fhDir, 0, 4096), 40],
        [Op.READDIRPLUS, ROOT, readIn(fhDir, 0, 4096), 40],
        [Op.ACCESS, SIMPLE, accessIn(4), 8],
        [Op.MKDIR, ROOT, mkdirIn(0o755, 0o022, cname('fuzzdir')), 10],
        [Op.CREATE, ROOT, createIn(O_RDWR, 0o644, 0, cname('fuzz.bin')), 18],
        [Op.RENAME, ROOT, renameIn(ROOT, 'simple.bin', 'x'), 12],
        [Op.GET_FMAP, SIMPLE, getxattrIn(32768), 1], // an empty body is the older series' form
        [Op.GET_DAXDEV, 0n, getDaxdevIn(0), 1], // so is this one's
        [Op.FORGET, SIMPLE, forgetIn(1), 8],
        [Op.BATCH_FORGET, 0n, batchForgetIn([[SIMPLE, 1]]), 24],
        [Op.INTERRUPT, 0n, interruptIn(77n), 8],
      ];

      const gens: Record<string, () => Case> = {
        truncated: () => {
          const [op, id, body, min] = pick(templates());
          const lo = min === 1 ? 1 : 0;
          const cut = lo + (next() % (body.length - lo));
          const unique = uniq();
          return { what: `truncated op ${op} to ${cut}`, msg: request(op, unique, id, body.subarray(0, cut)), unique, errno: NO_REPLY.has(op) ? null : E.EINVAL };
        },
        'lying len': () => {
          const [op, id, body] = pick(templates());
          const unique = uniq();
          const real = 40 + body.length;
          const len = pick([real + 1 + (next() % 100), real + MiB, 0xffff_ffff, real - 1 - (next() % (real - 40 + 1)), next() % 40, 0]);
          if (len === real) return gens['lying len']!();
          return { what: `op ${op} len ${len} of ${real}`, msg: request(op, unique, id, body, { len }), unique, errno: NO_REPLY.has(op) ? null : E.EINVAL };
        },
        'extlen past the end': () => {
          const [op, id, body] = pick(templates());
          const unique = uniq();
          const ext = Math.floor(body.length / 8) + 1 + (next() % 100);
          return { what: `op ${op} total_extlen ${ext}`, msg: request(op, unique, id, body, { totalExtlen: ext }), unique, errno: NO_REPLY.has(op) ? null : E.EINVAL };
        },
        'short header': () => {
          const [op, id, body] = pick(templates());
          const unique = uniq();
          const n = 16 + (next() % 24); // the unique is readable, the header is not whole
          return { what: `op ${op} header of ${n}`, msg: request(op, unique, id, body).subarray(0, n), unique, errno: NO_REPLY.has(op) ? null : E.EINVAL };
        },
        'unknown opcode': () => {
          const op = pick([0, 7, 19, Op.SETXATTR, Op.GETLK, 32, 33, Op.BMAP, Op.IOCTL, Op.POLL, Op.FALLOCATE, Op.COPY_FILE_RANGE,
            Op.TMPFILE, Op.STATX, Op.COPY_FILE_RANGE_64, 56, 57, 4089, 4094, 4095, 4096, 4097, 0x7fff_ffff, 0xffff_ffff, 56 + (next() % 4000)]);
          const unique = uniq();
          return { what: `opcode ${op}`, msg: request(op, unique, ROOT, bytes(next() % 64)), unique, errno: E.ENOSYS };
        },
        'not implemented': () => {
          const unique = uniq();
          const [op, body] = pick([
            [Op.READLINK, new Uint8Array(0)], [Op.LSEEK, lseekIn(fhRo, 0, 3)],
            [48, new Uint8Array(40)], [49, new Uint8Array(4)], // SETUPMAPPING, REMOVEMAPPING (count 0)
          ] as const);
          return { what: `op ${op} not implemented`, msg: request(op, unique, SIMPLE, body), unique, errno: E.ENOSYS };
        },
        'unknown nodeid': () => {
          const id = unknownId();
          const unique = uniq();
          const [op, body] = pick([
            [Op.GETATTR, getattrIn()], [Op.LOOKUP, cname('simple.bin')], [Op.OPEN, openIn(0)], [Op.OPENDIR, openIn(0)],
            [Op.GET_FMAP, getxattrIn(32768)], [Op.ACCESS, accessIn(4)], [Op.SETATTR, setattrIn(1 << 4)],
            [Op.MKDIR, mkdirIn(0o755, 0, cname('orphan'))],
          ] as const);
          return { what: `op ${op} nodeid ${id}`, msg: request(op, unique, id, body), unique, errno: E.ENOENT };
        },
        'unknown fh': () => {
          const unique = uniq();
          const fh = unknownFh();
          const [op, id, body] = pick([
            [Op.READ, SIMPLE, readIn(fh, 0, 4096)], [Op.WRITE, SIMPLE, writeIn(fh, 0, bytes(32))], [Op.FLUSH, SIMPLE, flushIn(fh)],
            [Op.FSYNC, SIMPLE, fsyncIn(fh)], [Op.RELEASE, SIMPLE, releaseIn(fh)], [Op.READDIR, ROOT, readIn(fh, 0, 4096)],
            [Op.READDIRPLUS, ROOT, readIn(fh, 0, 4096)], [Op.RELEASEDIR, ROOT, releaseIn(fh)], [Op.FSYNCDIR, ROOT, fsyncIn(fh)],
            // issued handles, but for another inode or of the other kind
            [Op.READ, STRIPED, readIn(fhRo, 0, 16)], [Op.WRITE, INNER, writeIn(fhRw, 0, bytes(8))], [Op.READ, ROOT, readIn(fhDir, 0, 16)],
            [Op.READDIR, SIMPLE, readIn(fhRo, 0, 4096)], [Op.RELEASE, ROOT, releaseIn(fhDir)], [Op.RELEASEDIR, SIMPLE, releaseIn(fhRo)],
            [Op.WRITE, SIMPLE, writeIn(fhRo, 0, bytes(8))], // read-only handle
          ] as const);
          return { what: `op ${op} fh ${fh}`, msg: request(op, unique, id, body), unique, errno: E.EBADF };
        },
        'bad name': () => {
          const unique = uniq();
          const kind = pick(['no NUL', 'slash', 'empty'] as const);
          const name = kind === 'no NUL' ? bytes(1 + (next() % 300), true)
            : kind === 'slash' ? cname(pick(['a/b', '/', 'simple.bin/']))
              : new Uint8Array(1);
          const [op, body] = pick([
            [Op.LOOKUP, name], [Op.MKDIR, concat(mkdirIn(0o755, 0, new Uint8Array(0)), name)], [Op.UNLINK, name], [Op.RMDIR, name],
            [Op.CREATE, concat(createIn(0, 0o644, 0, new Uint8Array(0)), name)], [Op.MKNOD, concat(mknodIn(S_IFREG, new Uint8Array(0)), name)],
            [Op.RENAME, concat(renameIn(ROOT, 'simple.bin', 'y').subarray(0, 8 + 11), name)], [Op.LINK, concat(linkIn(SIMPLE, 'z').subarray(0, 8), name)],
            [Op.SYMLINK, concat(name, cname('target'))], // the new entry's name first, then the target
          ] as const);
          return { what: `op ${op} name ${kind}`, msg: request(op, unique, ROOT, body), unique, errno: E.EINVAL };
        },
        'write size lies': () => {
          const unique = uniq();
          const data = bytes(1 + (next() % 512));
          const size = next() % 2 === 0 ? data.length + 1 + (next() % 4096) : next() % data.length;
          return { what: `write size ${size} of ${data.length}`, msg: request(Op.WRITE, unique, SIMPLE, writeIn(fhRw, 0, data, size)), unique, errno: E.EINVAL };
        },
        'bad daxdev': () => {
          const unique = uniq();
          return { what: 'daxdev', msg: request(Op.GET_DAXDEV, unique, 0n, getDaxdevIn(1 + (next() % 1000))), unique, errno: E.ENODEV };
        },
        'no reply': () => {
          const unique = uniq();
          const op = pick([Op.FORGET, Op.BATCH_FORGET, Op.INTERRUPT]);
          const body = op === Op.FORGET ? forgetIn(next() % 3)
            : op === Op.BATCH_FORGET ? batchForgetIn(Array.from({ length: next() % 5 }, () => [pick([SIMPLE, unknownId()]), next() % 3] as [bigint, number]))
              : interruptIn(u64());
          return { what: `op ${op}`, msg: request(op, unique, pick([SIMPLE, unknownId()]), body), unique, errno: null };
        },
      };
      const names = Object.keys(gens);
      const seen: Record<string, number> = {};
      let silent = 0;

      for (let i = 0; i < 1000; i++) {
        const kind = names[i % names.length]!;
        const c = gens[kind]!();
        seen[kind] = (seen[kind] ?? 0) + 1;
        s.kernel.send(c.msg);
        if (c.errno !== null) {
          expect(await s.kernel.recv(), `#${i} ${kind}: ${c.what}`).toEqual(errorReply(c.unique, c.errno));
        } else {
          silent++;
        }
        // the server keeps serving; a stray reply would show up here instead
        const [id, a] = i % 2 === 0 ? [SIMPLE, simpleAttr(t)] : [STRIPED, stripedAttr(t)];
        const g = s.kernel.unique();
        expect(await s.kernel.call(request(Op.GETATTR, g, id, getattrIn())), `GETATTR after #${i} ${kind}: ${c.what}`).toEqual(reply(g, attrOut(a, 1)));
      }

      for (const k of names) expect(seen[k], k).toBeGreaterThanOrEqual(70);
      expect(silent).toBeGreaterThan(100);
      // nothing changed, nothing was written, no internal errors, still serving
      expect(Buffer.compare(logBytes(), log0)).toBe(0);
      expect(famfs.namespace.files).toBe(files0);
      expect(famfs.read(simple, 0, 64 * KiB)).toEqual(data0);
      expect(s.logLines).toEqual([]);
      expect(s.session.openHandles).toBe(3);
      const r = s.kernel.unique();
      expect(await s.kernel.call(request(Op.READ, r, SIMPLE, readIn(fhRo, 0, 4096)))).toEqual(reply(r, data0.subarray(0, 4096)));
    } finally {
      await s.stop();
    }
    expect(await s.running).toBeNull();
  });
});

// ================================================================== several devices

describe('a file system on two devices, then three', () => {
  const SYS2 = '0f0e0d0c-0b0a-4908-8706-0504030201ff';
  let dir: string;
  let fs2: Famfs;
  let paths: string[];
  let savedState: string | undefined;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-session-multi-'));
    savedState = process.env.FAMFS_STATE_DIR;
    process.env.FAMFS_STATE_DIR = path.join(dir, 'state');
    paths = ['p.img', 's1.img', 's2.img'].map((n) => path.join(dir, n));
    formattedImage(paths[0]!, 256 * MiB, SYS2).close();
    for (const p of paths.slice(1)) sparseImage(p, 256 * MiB);
    fs2 = Famfs.open(paths[0]!, { writable: true, systemUuid: SYS2 });
    fs2.addDaxdev(paths[1]!);
    fs2.createFile('on1', 4 * MiB, { device: 1 });
    fs2.createFile('both', 8 * MiB, { interleave: { nstrips: 2, chunkSize: CHUNK } });
  });

  afterAll(() => {
    fs2?.close();
    if (savedState === undefined) delete process.env.FAMFS_STATE_DIR;
    else process.env.FAMFS_STATE_DIR = savedState;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('GET_DAXDEV answers every index with its path here; GET_FMAP refuses (EOPNOTSUPP) a map the V10 kernel would refuse; a device added later is answered at once', async () => {
    const s = serve(fs2, 'warn', true, { daxdevs: famfsDaxdevs(fs2, paths[0]!) });
    try {
      const call = (op: number, nodeid: bigint, body?: Uint8Array) => {
        const u = s.kernel.unique();
        return { u, got: s.kernel.call(request(op, u, nodeid, body)) };
      };
      expect(initFields(await init(s, 45, OFFER, OFFER2 | DAX_FMAP_2)).flags2 & DAX_FMAP_2).toBe(DAX_FMAP_2);
      const lookup = async (parent: bigint, name: string): Promise<bigint> => {
        const r = await call(Op.LOOKUP, parent, cname(name)).got;
        expect(outHeaderOf(r).error, name).toBe(0);
        return new DataView(r.buffer, r.byteOffset).getBigUint64(16, true);
      };
      for (const i of [0, 1]) {
        const d = call(Op.GET_DAXDEV, 0n, getDaxdevIn(i));
        expect(await d.got).toEqual(reply(d.u, daxdevOut(i, paths[i]!)));
      }
      const none = call(Op.GET_DAXDEV, 0n, getDaxdevIn(2));
      expect(await none.got).toEqual(errorReply(none.u, E.ENODEV));

      // the V10 kernel refuses an fmap with an extent off daxdev 0 (and fails the open with EINVAL):
      // GET_FMAP says EOPNOTSUPP instead, for a file on daxdev 1, one across both, and .meta/.superblock.1
      const on1 = fs2.statFile('on1');
      expect(on1.fmap.type === 'simple' ? on1.fmap.extents[0]!.devIndex : -1).toBe(1);
      const both = fs2.statFile('both');
      const strips = both.fmap.type === 'interleave' ? both.fmap.extents[0]!.strips : [];
      expect(new Set(strips.map((st) => st.devIndex))).toEqual(new Set([0, 1]));
      const meta = await lookup(ROOT, '.meta');
      for (const nodeid of [await lookup(ROOT, 'on1'), await lookup(ROOT, 'both'), await lookup(meta, '.superblock.1')]) {
        const g = call(Op.GET_FMAP, nodeid, getxattrIn(32768));
        expect(await g.got).toEqual(errorReply(g.u, E.EOPNOTSUPP));
      }
      expect(s.allLogLines.filter((l) => /warn GET_FMAP/.test(l))).toHaveLength(3);
      expect(s.allLogLines.find((l) => /warn GET_FMAP/.test(l))).toMatch(/has an extent on daxdev 1, and this famfs kernel maps daxdev 0\.\.0 only/);
      // a file on daxdev 0 of the same file system maps as ever
      fs2.createFile('on0', 2 * MiB, { device: 0 });
      const x0 = fs2.statFile('on0').fmap;
      const g0 = call(Op.GET_FMAP, await lookup(ROOT, 'on0'), getxattrIn(32768));
      expect(await g0.got).toEqual(reply(g0.u, fmapHeader(0, 0, 1, 2 * MiB), simpleExt(0, x0.type === 'simple' ? x0.extents[0]!.offset : -1, 2 * MiB)));

      // a kernel said to map two devices (famfs_daxdevs=2) gets the maps as they are, each extent with its index
      const s2 = serve(fs2, 'warn', true, { daxdevs: famfsDaxdevs(fs2, paths[0]!), fmapDaxdevs: 2 });
      try {
        expect(outHeaderOf(await init(s2, 45, OFFER, OFFER2 | DAX_FMAP_2)).error).toBe(0);
        const u0 = s2.kernel.unique();
        const lb = await s2.kernel.call(request(Op.LOOKUP, u0, ROOT, cname('both')));
        const nb = new DataView(lb.buffer, lb.byteOffset).getBigUint64(16, true);
        const u1 = s2.kernel.unique();
        expect(await s2.kernel.call(request(Op.GET_FMAP, u1, nb, getxattrIn(32768)))).toEqual(
          reply(u1, fmapHeader(0, 1, 1, 8 * MiB), iext(2, CHUNK, 8 * MiB), ...strips.map((st) => simpleExt(st.devIndex, st.offset, st.len))));
        const x1 = on1.fmap.type === 'simple' ? on1.fmap.extents[0]! : { offset: -1, len: -1 };
        const u2 = s2.kernel.unique();
        const l1 = await s2.kernel.call(request(Op.LOOKUP, u2, ROOT, cname('on1')));
        const u3 = s2.kernel.unique();
        expect(await s2.kernel.call(request(Op.GET_FMAP, u3, new DataView(l1.buffer, l1.byteOffset).getBigUint64(16, true), getxattrIn(32768)))).toEqual(
          reply(u3, fmapHeader(0, 0, 1, 4 * MiB), simpleExt(1, x1.offset, x1.len)));
        expect(s2.logLines).toEqual([]);
      } finally {
        await s2.stop();
      }

      // devadd while served: the next GET_DAXDEV sees the new device
      fs2.addDaxdev(paths[2]!);
      const d2 = call(Op.GET_DAXDEV, 0n, getDaxdevIn(2));
      expect(await d2.got).toEqual(reply(d2.u, daxdevOut(2, paths[2]!)));
      expect(s.logLines).toEqual([]);
    } finally {
      await s.stop();
    }
  });
});
